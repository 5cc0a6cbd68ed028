//! StepStartTunnel: with `use_iap`, reaches the instance through an IAP TCP tunnel run by the
//! local `gcloud compute start-iap-tunnel` (Packer's step_start_tunnel.go): a script (with
//! `iap_hashbang`) runs gcloud in the background, journaled, with the build's own access token
//! (`--access-token-file`), and the communicator connects to `localhost:<local port>` once the
//! port answers. Cleanup stops the tunnel and removes the script and the token file.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use forge_core::local::{self, Background, LocalCommand, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepStartTunnel {
    pub tunnel: Option<Background>,
    pub files: Vec<TempPath>,
}

/// `prog` on `PATH`.
pub fn find_in_path(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(prog))
            .find(|f| f.is_file())
    })
}

/// A free local port between 8000 and 9000 (Packer's range), or `wanted` when not 0.
fn local_port(wanted: u16) -> Result<u16> {
    if wanted != 0 {
        return Ok(wanted);
    }
    let start = 8000 + (std::process::id() % 1000) as u16;
    (0..1000u16)
        .map(|i| 8000 + (start - 8000 + i) % 1000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| Error::msg("use_iap: no free local port between 8000 and 9000"))
}

#[async_trait]
impl Step<State> for StepStartTunnel {
    fn name(&self) -> &'static str {
        "StepStartTunnel"
    }

    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if !c.iap.use_iap {
            return Ok(());
        }
        let gcloud = find_in_path("gcloud").ok_or_else(|| {
            Error::msg("use_iap: gcloud is not installed (no gcloud on PATH): install the Google Cloud CLI to open the IAP tunnel, or set use_iap = false")
        })?;
        let Some(tokens) = st.tokens.clone() else {
            return Err(Error::msg("use_iap: no credentials for gcloud"));
        };
        ctx.ui.say("Step Launch IAP Tunnel...");
        let port = local_port(c.iap.localhost_port)?;
        let remote = c.comm.port().unwrap_or(22);
        let token = tokens.token().await.map_err(Error::msg)?;
        let token_file = local::temp_file(ctx, "forge-gce-token-", token.as_bytes(), false)?;
        let script = format!(
            "#!{}\nexec '{}' compute start-iap-tunnel '{}' {remote} --local-host-port=localhost:{port} --zone='{}' --project='{}' --access-token-file='{}'\n",
            c.iap.hashbang,
            gcloud.display(),
            c.instance_name,
            c.zone,
            c.project_id,
            token_file.path().display()
        );
        let script = local::temp_file(ctx, "packer-iap-", script.as_bytes(), true)?;
        let cmd = LocalCommand {
            argv: vec![script.path().display().to_string()],
            ..LocalCommand::default()
        };
        self.files = vec![token_file, script];
        let mut tunnel = local::spawn_background(ctx, &cmd)?;
        // Up once the local port answers; gone if gcloud ends first.
        let start = tokio::time::Instant::now();
        loop {
            if let Some(code) = tunnel.exited() {
                return Err(Error::msg(format!(
                    "Error launching IAP tunnel: gcloud exited with status {code}:\n{}",
                    tunnel.tail()
                )));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if start.elapsed() >= c.iap.launch_wait {
                self.tunnel = Some(tunnel);
                return Err(Error::msg(format!(
                    "Error launching IAP tunnel: localhost:{port} did not answer within {} seconds (iap_tunnel_launch_wait)",
                    c.iap.launch_wait.as_secs()
                )));
            }
            ctx.sleep(Duration::from_millis(200)).await?;
        }
        self.tunnel = Some(tunnel);
        ctx.ui
            .message(&format!("IAP tunnel open on localhost:{port}"));
        st.tunnel_port = Some(port);
        Ok(())
    }

    async fn cleanup(&mut self, _ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        if let Some(mut t) = self.tunnel.take() {
            t.stop().await;
        }
        self.files.clear();
        st.tunnel_port = None;
        Ok(())
    }
}
