//! StepCreateFloppy, StepCreateCD and StepHTTPServer: the floppy and CD images, made
//! in-process by forge-commonsteps into journaled temporary files (removed at cleanup), and
//! the build's HTTP server.

use async_trait::async_trait;
use forge_commonsteps::httpserver::{start_with_cancel, HttpConfig, HttpServer};
use forge_commonsteps::media::{create_cd, create_floppy, CdConfig, FloppyConfig};
use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::{fail, State};

/// Makes an image at a journaled temporary path with `make`, off the async threads.
async fn make_image(
    ctx: &BuildCtx,
    ext: &str,
    make: impl FnOnce(&std::path::Path) -> std::result::Result<(), String> + Send + 'static,
) -> Result<TempPath> {
    let p = std::env::temp_dir().join(format!("packer{}.{ext}", uuid::Uuid::new_v4().simple()));
    let guard = track(ctx, &p, false)?;
    tokio::task::spawn_blocking(move || make(&p))
        .await
        .map_err(|e| Error::msg(e.to_string()))?
        .map_err(Error::msg)?;
    Ok(guard)
}

/// The floppy image of `floppy_files`, `floppy_dirs` and `floppy_content`.
pub struct StepCreateFloppy {
    /// What goes on it.
    pub config: FloppyConfig,
    /// The image, removed at cleanup.
    pub file: Option<TempPath>,
}

#[async_trait]
impl Step<State> for StepCreateFloppy {
    fn name(&self) -> &'static str {
        "StepCreateFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.config.is_empty() {
            return Ok(());
        }
        ctx.ui.say("Creating floppy disk...");
        let cfg = self.config.clone();
        let f = make_image(ctx, "vfd", move |p| create_floppy(&cfg, p).map_err(|e| e.0))
            .await
            .map_err(|e| fail(ctx, format!("Error creating floppy: {e}")))?;
        st.floppy_path = Some(f.path().to_string_lossy().into_owned());
        self.file = Some(f);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut State, _: Outcome) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

/// The CD image of `cd_files` and `cd_content`.
pub struct StepCreateCd {
    /// What goes on it.
    pub config: CdConfig,
    /// The image, removed at cleanup.
    pub file: Option<TempPath>,
}

#[async_trait]
impl Step<State> for StepCreateCd {
    fn name(&self) -> &'static str {
        "StepCreateCD"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.config.is_empty() {
            return Ok(());
        }
        ctx.ui.say("Creating CD disk...");
        let cfg = self.config.clone();
        let f = make_image(ctx, "iso", move |p| create_cd(&cfg, p).map_err(|e| e.0))
            .await
            .map_err(|e| fail(ctx, format!("Error creating CD: {e}")))?;
        st.cd_path = Some(f.path().to_string_lossy().into_owned());
        self.file = Some(f);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut State, _: Outcome) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

/// The HTTP server for `http_directory`/`http_content`, stopped at cleanup.
pub struct StepHttpServer {
    /// Its configuration.
    pub config: HttpConfig,
    /// The running server.
    pub server: Option<HttpServer>,
}

#[async_trait]
impl Step<State> for StepHttpServer {
    fn name(&self) -> &'static str {
        "StepHTTPServer"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.config.directory.is_empty() && self.config.content.is_empty() {
            return Ok(());
        }
        let server = start_with_cancel(&self.config, &ctx.cancel)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::state;

    #[tokio::test]
    async fn floppy_made_and_removed_nothing_without_files() {
        let (mut st, f, ctx) = state("vm");
        let mut empty = StepCreateFloppy {
            config: FloppyConfig::default(),
            file: None,
        };
        empty.run(&ctx, &mut st).await.unwrap();
        assert!(st.floppy_path.is_none());
        let mut cfg = FloppyConfig {
            label: "packer".into(),
            ..Default::default()
        };
        cfg.content.insert("a.txt".into(), "hello".into());
        let mut s = StepCreateFloppy {
            config: cfg,
            file: None,
        };
        s.run(&ctx, &mut st).await.unwrap();
        let p = st.floppy_path.clone().unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 0);
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(std::fs::metadata(&p).is_err());
        assert!(f.calls().is_empty());
    }

    #[tokio::test]
    async fn http_server_serves_until_cleanup() {
        let (mut st, _, ctx) = state("vm");
        let mut cfg = HttpConfig {
            port_min: 8000,
            port_max: 9000,
            bind_address: "127.0.0.1".into(),
            ..Default::default()
        };
        cfg.content.insert("/ks.cfg".into(), "x".into());
        let mut s = StepHttpServer {
            config: cfg,
            server: None,
        };
        s.run(&ctx, &mut st).await.unwrap();
        let port = st.http_port.unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
