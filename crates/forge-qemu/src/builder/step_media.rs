//! StepCreateFloppy, StepCreateCD and StepHTTPServer: the floppy and CD images (made
//! in-process, removed at cleanup) and the HTTP server for `http_directory`/`http_content`.

use async_trait::async_trait;
use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use forge_commonsteps::httpserver::{start_with_cancel, HttpConfig, HttpServer};
use forge_commonsteps::media::{create_cd, create_floppy, CdConfig, FloppyConfig};

fn fail(ctx: &BuildCtx, m: String) -> Error {
    ctx.ui.error(&m);
    Error::msg(m)
}

/// A journaled image file in TMPDIR.
fn image_path(ctx: &BuildCtx, prefix: &str, ext: &str) -> Result<TempPath> {
    let p = std::env::temp_dir().join(format!("{prefix}{}.{ext}", uuid::Uuid::new_v4().simple()));
    track(ctx, &p, false)
}

pub(super) struct StepCreateFloppy {
    pub(super) file: Option<TempPath>,
}

#[async_trait]
impl Step<State> for StepCreateFloppy {
    fn name(&self) -> &'static str {
        "StepCreateFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let f = &st.config.args.floppy_config;
        let cfg = FloppyConfig {
            files: f.floppy_files.clone().unwrap_or_default(),
            dirs: f.floppy_dirs.clone().unwrap_or_default(),
            content: f.floppy_content.clone().unwrap_or_default(),
            label: f
                .floppy_label
                .clone()
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "packer".into()),
        };
        if cfg.is_empty() {
            return Ok(());
        }
        ctx.ui.say("Creating floppy disk...");
        let path = image_path(ctx, "packer", "vfd")?;
        let p = path.path().to_path_buf();
        tokio::task::spawn_blocking(move || create_floppy(&cfg, &p))
            .await
            .map_err(|e| Error::msg(e.to_string()))?
            .map_err(|e| fail(ctx, format!("Error creating floppy: {}", e.0)))?;
        st.floppy_path = Some(path.path().to_string_lossy().into_owned());
        self.file = Some(path);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut State, _: Outcome) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

pub(super) struct StepCreateCd {
    pub(super) file: Option<TempPath>,
}

#[async_trait]
impl Step<State> for StepCreateCd {
    fn name(&self) -> &'static str {
        "StepCreateCD"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = &st.config.args.cd_config;
        let mut cfg = CdConfig {
            files: c.cd_files.clone().unwrap_or_default(),
            content: c.cd_content.clone().unwrap_or_default(),
            label: c.cd_label.clone().unwrap_or_default(),
        };
        if cfg.is_empty() {
            return Ok(());
        }
        if let Some(e) = cfg.prepare().into_iter().next() {
            return Err(fail(ctx, e.0));
        }
        ctx.ui.say("Creating CD disk...");
        let path = image_path(ctx, "packer", "iso")?;
        let p = path.path().to_path_buf();
        tokio::task::spawn_blocking(move || create_cd(&cfg, &p))
            .await
            .map_err(|e| Error::msg(e.to_string()))?
            .map_err(|e| fail(ctx, format!("Error creating CD: {}", e.0)))?;
        st.cd_path = Some(path.path().to_string_lossy().into_owned());
        self.file = Some(path);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut State, _: Outcome) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

pub(super) struct StepHttpServer {
    pub(super) server: Option<HttpServer>,
}

#[async_trait]
impl Step<State> for StepHttpServer {
    fn name(&self) -> &'static str {
        "StepHTTPServer"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let h = &st.config.args.http_config;
        let cfg = HttpConfig {
            directory: h.http_directory.clone().unwrap_or_default(),
            content: h.http_content.clone().unwrap_or_default(),
            port_min: st.config.http_ports.0,
            port_max: st.config.http_ports.1,
            bind_address: h
                .http_bind_address
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into()),
        };
        if cfg.directory.is_empty() && cfg.content.is_empty() {
            return Ok(());
        }
        let server = start_with_cancel(&cfg, &ctx.cancel)
            .await
            .map_err(|e| fail(ctx, e.0))?;
        ctx.ui
            .say(&format!("Starting HTTP server on port {}", server.port()));
        st.http_port = Some(server.port());
        self.server = Some(server);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut State, _: Outcome) -> Result<()> {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        Ok(())
    }
}
