//! StepCreateFloppy, StepCreateCD and StepHTTPServer for any builder: the floppy and CD
//! images (one [`StepCreateImage`] over the image's configuration) and the build's HTTP server. The builder's state learns where they are through [`MediaState`].

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

/// The configuration of an image the media step makes: a floppy or a CD.
pub trait Image: Clone + Send + Sync + 'static {
    /// The step's name (`StepCreateFloppy`).
    const STEP: &'static str;
    /// The image file's extension (`vfd`).
    const EXT: &'static str;
    /// What the image is called in messages (`floppy`).
    const WHAT: &'static str;
    /// Whether there is nothing to put on it (then no image is made).
    fn is_empty(&self) -> bool;
    /// Checks the files again before the image is made: the first problem.
    fn check(&mut self) -> Option<String>;
    /// Makes the image at `path`.
    fn make(&self, path: &std::path::Path) -> std::result::Result<(), String>;
    /// Where the state keeps the image's path.
    fn slot(media: &mut Media) -> &mut Option<String>;
    /// The lines Packer says while it fills the image (none by default).
    fn progress(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Image for FloppyConfig {
    const STEP: &'static str = "StepCreateFloppy";
    const EXT: &'static str = "vfd";
    const WHAT: &'static str = "floppy";
    fn is_empty(&self) -> bool {
        FloppyConfig::is_empty(self)
    }
    fn check(&mut self) -> Option<String> {
        None
    }
    fn make(&self, path: &std::path::Path) -> std::result::Result<(), String> {
        create_floppy(self, path).map_err(|e| e.0)
    }
    fn slot(media: &mut Media) -> &mut Option<String> {
        &mut media.floppy_path
    }
    /// Packer's StepCreateFloppy messages (the `floppy_content` ones only when it is set:
    /// packer 1.6.6 has no `floppy_content`, newer versions always say them).
    fn progress(&self) -> Vec<String> {
        let mut v = vec!["Copying files flatly from floppy_files".to_string()];
        v.extend(self.files.iter().map(|f| format!("Copying file: {f}")));
        v.push("Done copying files from floppy_files".into());
        v.push("Collecting paths from floppy_dirs".into());
        v.push(format!(
            "Resulting paths from floppy_dirs : [{}]",
            self.dirs.join(" ")
        ));
        v.extend(
            self.dirs
                .iter()
                .map(|d| format!("Recursively copying : {d}")),
        );
        v.push("Done copying paths from floppy_dirs".into());
        if !self.content.is_empty() {
            v.push("Copying files from floppy_content".into());
            v.push("Done copying files from floppy_content".into());
        }
        v
    }
}

impl Image for CdConfig {
    const STEP: &'static str = "StepCreateCD";
    const EXT: &'static str = "iso";
    const WHAT: &'static str = "CD";
    fn is_empty(&self) -> bool {
        CdConfig::is_empty(self)
    }
    fn check(&mut self) -> Option<String> {
        self.prepare().into_iter().next().map(|e| e.0)
    }
    fn make(&self, path: &std::path::Path) -> std::result::Result<(), String> {
        create_cd(self, path).map_err(|e| e.0)
    }
    fn slot(media: &mut Media) -> &mut Option<String> {
        &mut media.cd_path
    }
}

/// Makes an image (`floppy_files`, `floppy_dirs`, `floppy_content`; `cd_files`, `cd_content`)
/// in-process at a journaled temporary path (`packer<uuid>.<ext>` in TMPDIR), removed at
/// cleanup; nothing when there is nothing to put on it.
pub struct StepCreateImage<C> {
    /// What goes on it.
    pub config: C,
    /// The image, removed at cleanup.
    pub file: Option<TempPath>,
}

/// StepCreateFloppy.
pub type StepCreateFloppy = StepCreateImage<FloppyConfig>;
/// StepCreateCD; its files are checked (and globs expanded) again before it is made.
pub type StepCreateCd = StepCreateImage<CdConfig>;

impl<C> StepCreateImage<C> {
    /// The step for `config`.
    pub fn new(config: C) -> Self {
        StepCreateImage { config, file: None }
    }
}

#[async_trait]
impl<S: MediaState, C: Image> Step<S> for StepCreateImage<C> {
    fn name(&self) -> &'static str {
        C::STEP
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        if self.config.is_empty() {
            return Ok(());
        }
        let mut cfg = self.config.clone();
        if let Some(e) = cfg.check() {
            return Err(fail(ctx, e));
        }
        ctx.ui.say(&format!("Creating {} disk...", C::WHAT));
        for line in cfg.progress() {
            ctx.ui.message(&line);
        }
        let p = std::env::temp_dir().join(format!(
            "packer{}.{}",
            uuid::Uuid::new_v4().simple(),
            C::EXT
        ));
        let f = track(ctx, &p, false)?;
        tokio::task::spawn_blocking(move || cfg.make(&p))
            .await
            .map_err(|e| Error::msg(e.to_string()))?
            .map_err(|e| fail(ctx, format!("Error creating {}: {e}", C::WHAT)))?;
        *C::slot(st.media()) = Some(f.path().to_string_lossy().into_owned());
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
