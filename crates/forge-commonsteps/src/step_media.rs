//! StepCreateFloppy, StepCreateCD and StepHTTPServer for any builder: the floppy and CD
//! images (made in-process into journaled temporary files, removed at cleanup) and the build's
//! HTTP server. The builder's state learns where they are through [`MediaState`].

use async_trait::async_trait;
use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use crate::httpserver::{start_with_cancel, HttpConfig, HttpServer};
use crate::media::{create_cd, create_floppy, CdConfig, FloppyConfig};

/// What the media and HTTP server steps made.
#[derive(Debug, Clone, Default)]
pub struct Media {
    /// The floppy image.
    pub floppy_path: Option<String>,
    /// The cd_files image.
    pub cd_path: Option<String>,
    /// The HTTP server's port.
    pub http_port: Option<u16>,
}

/// A builder state the media and HTTP server steps report to.
pub trait MediaState: Send {
    /// Where the state keeps what they made.
    fn media(&mut self) -> &mut Media;
}

/// Reports `m` on the UI and returns it as the step's error.
fn fail(ctx: &BuildCtx, m: String) -> Error {
    ctx.ui.error(&m);
    Error::msg(m)
}

/// Makes an image at a journaled temporary path (`packer<uuid>.<ext>` in TMPDIR) with `make`,
/// off the async threads; `what` names it in the error (`floppy`, `CD`).
async fn make_image(
    ctx: &BuildCtx,
    ext: &str,
    what: &str,
    make: impl FnOnce(&std::path::Path) -> std::result::Result<(), String> + Send + 'static,
) -> Result<TempPath> {
    let p = std::env::temp_dir().join(format!("packer{}.{ext}", uuid::Uuid::new_v4().simple()));
    let guard = track(ctx, &p, false)?;
    tokio::task::spawn_blocking(move || make(&p))
        .await
        .map_err(|e| Error::msg(e.to_string()))?
        .map_err(|e| fail(ctx, format!("Error creating {what}: {e}")))?;
    Ok(guard)
}

/// The floppy image of `floppy_files`, `floppy_dirs` and `floppy_content`; nothing without
/// them.
pub struct StepCreateFloppy {
    /// What goes on it.
    pub config: FloppyConfig,
    /// The image, removed at cleanup.
    pub file: Option<TempPath>,
}

impl StepCreateFloppy {
    /// The step for `config`.
    pub fn new(config: FloppyConfig) -> Self {
        StepCreateFloppy { config, file: None }
    }
}

#[async_trait]
impl<S: MediaState> Step<S> for StepCreateFloppy {
    fn name(&self) -> &'static str {
        "StepCreateFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        if self.config.is_empty() {
            return Ok(());
        }
        ctx.ui.say("Creating floppy disk...");
        let cfg = self.config.clone();
        let f = make_image(ctx, "vfd", "floppy", move |p| {
            create_floppy(&cfg, p).map_err(|e| e.0)
        })
        .await?;
        st.media().floppy_path = Some(f.path().to_string_lossy().into_owned());
        self.file = Some(f);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut S, _: Outcome) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

/// The CD image of `cd_files` and `cd_content`; nothing without them. Its files are checked
/// (and globs expanded) again before it is made.
pub struct StepCreateCd {
    /// What goes on it.
    pub config: CdConfig,
    /// The image, removed at cleanup.
    pub file: Option<TempPath>,
}

impl StepCreateCd {
    /// The step for `config`.
    pub fn new(config: CdConfig) -> Self {
        StepCreateCd { config, file: None }
    }
}

#[async_trait]
impl<S: MediaState> Step<S> for StepCreateCd {
    fn name(&self) -> &'static str {
        "StepCreateCD"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        if self.config.is_empty() {
            return Ok(());
        }
        let mut cfg = self.config.clone();
        if let Some(e) = cfg.prepare().into_iter().next() {
            return Err(fail(ctx, e.0));
        }
        ctx.ui.say("Creating CD disk...");
        let f = make_image(ctx, "iso", "CD", move |p| {
            create_cd(&cfg, p).map_err(|e| e.0)
        })
        .await?;
        st.media().cd_path = Some(f.path().to_string_lossy().into_owned());
        self.file = Some(f);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut S, _: Outcome) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

/// The HTTP server for `http_directory`/`http_content` (nothing without them), stopped at
/// cleanup.
pub struct StepHttpServer {
    /// Its configuration.
    pub config: HttpConfig,
    /// The running server.
    pub server: Option<HttpServer>,
}

impl StepHttpServer {
    /// The step for `config`.
    pub fn new(config: HttpConfig) -> Self {
        StepHttpServer {
            config,
            server: None,
        }
    }
}

#[async_trait]
impl<S: MediaState> Step<S> for StepHttpServer {
    fn name(&self) -> &'static str {
        "StepHTTPServer"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        if self.config.directory.is_empty() && self.config.content.is_empty() {
            return Ok(());
        }
        let server = start_with_cancel(&self.config, &ctx.cancel)
            .await
            .map_err(|e| fail(ctx, e.0))?;
        ctx.ui
            .say(&format!("Starting HTTP server on port {}", server.port()));
        st.media().http_port = Some(server.port());
        self.server = Some(server);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut S, _: Outcome) -> Result<()> {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct State(Media);

    impl MediaState for State {
        fn media(&mut self) -> &mut Media {
            &mut self.0
        }
    }

    #[tokio::test]
    async fn floppy_made_and_removed_nothing_without_files() {
        let ctx = BuildCtx::for_test("vm.test");
        let mut st = State::default();
        let mut empty = StepCreateFloppy::new(FloppyConfig::default());
        Step::<State>::run(&mut empty, &ctx, &mut st).await.unwrap();
        assert!(st.0.floppy_path.is_none());
        let mut cfg = FloppyConfig {
            label: "packer".into(),
            ..Default::default()
        };
        cfg.content.insert("a.txt".into(), "hello".into());
        let mut s = StepCreateFloppy::new(cfg);
        Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap();
        let p = st.0.floppy_path.clone().unwrap();
        assert!(p.ends_with(".vfd"), "{p}");
        assert!(std::fs::metadata(&p).unwrap().len() > 0);
        Step::<State>::cleanup(&mut s, &ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(std::fs::metadata(&p).is_err());
    }

    #[tokio::test]
    async fn cd_made_and_removed_bad_file_reported() {
        let ctx = BuildCtx::for_test("vm.test");
        let mut st = State::default();
        let mut cfg = CdConfig::default();
        cfg.content.insert("meta-data".into(), "x".into());
        let mut s = StepCreateCd::new(cfg);
        Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap();
        let p = st.0.cd_path.clone().unwrap();
        assert!(p.ends_with(".iso") && std::fs::metadata(&p).unwrap().len() > 0);
        Step::<State>::cleanup(&mut s, &ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(std::fs::metadata(&p).is_err());

        let mut bad = StepCreateCd::new(CdConfig {
            files: vec!["/nonexistent/forge-cd-file".into()],
            ..Default::default()
        });
        let e = Step::<State>::run(&mut bad, &ctx, &mut State::default())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Bad CD disk file '/nonexistent/forge-cd-file'"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn http_server_serves_until_cleanup() {
        let ctx = BuildCtx::for_test("vm.test");
        let mut st = State::default();
        let mut none = StepHttpServer::new(HttpConfig::default());
        Step::<State>::run(&mut none, &ctx, &mut st).await.unwrap();
        assert!(st.0.http_port.is_none());
        let mut cfg = HttpConfig {
            port_min: 8000,
            port_max: 9000,
            bind_address: "127.0.0.1".into(),
            ..Default::default()
        };
        cfg.content.insert("/ks.cfg".into(), "x".into());
        let mut s = StepHttpServer::new(cfg);
        Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap();
        let port = st.0.http_port.unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Step::<State>::cleanup(&mut s, &ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
