//! StepDownload for any builder: a file from a list of URLs, checked against a checksum spec,
//! through the download cache, with Packer's messages. The builder's state learns the local
//! path through [`DownloadState`]; [`StepDownload::fetch`] serves steps that download more.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use crate::download::{download, progress_bar, resolve_checksum, DownloadConfig, DownloadError};

/// A builder state the download step reports to.
pub trait DownloadState: Send {
    /// The file is at `path`.
    fn set_download_path(&mut self, path: String);
}

/// Downloads `urls` into the cache and hands the local file to the state.
#[derive(Debug, Clone, Default)]
pub struct StepDownload {
    /// What `Retrieving …` names (`ISO`).
    pub retrieving: String,
    /// What the file is, for the progress bar and the download's errors (`disk image`).
    pub description: String,
    /// The cache file's extension (`iso`).
    pub extension: String,
    /// Where from, tried in order.
    pub urls: Vec<String>,
    /// Its checksum spec (`sha256:…`, `file:…`; empty or `none` for none).
    pub checksum: String,
    /// `iso_target_path`: where to put it instead of the cache.
    pub target_path: Option<String>,
}

impl StepDownload {
    /// Downloads the file and returns its local path; failures are reported on the UI.
    pub async fn fetch(&self, ctx: &BuildCtx) -> Result<String> {
        let fail = |m: String| {
            ctx.ui.error(&m);
            Error::msg(m)
        };
        let spec = if self.checksum.is_empty() {
            "none".to_string()
        } else {
            self.checksum.clone()
        };
        let first = self.urls.first().cloned().unwrap_or_default();
        let checksum = tokio::task::spawn_blocking(move || resolve_checksum(&spec, &first))
            .await
            .map_err(|e| Error::msg(e.to_string()))?
            .map_err(|e| fail(format!("Error parsing checksum: {e}")))?;
        ctx.ui.say(&format!("Retrieving {}", self.retrieving));
        let cfg = DownloadConfig {
            urls: self.urls.clone(),
            checksum,
            target_path: self.target_path.clone(),
            extension: self.extension.clone(),
            description: self.description.clone(),
            cache_dir: None,
        };
        let pb = ctx
            .ui
            .progress(0, &format!("downloading {}", self.description));
        let r = download(&cfg, Some(progress_bar(pb.clone())), &ctx.cancel).await;
        pb.finish_and_clear();
        match r {
            Ok(d) => {
                ctx.ui.say(&format!("Trying {}", d.source));
                ctx.ui.say(&format!("{} => {}", d.source, d.path.display()));
                Ok(d.path.to_string_lossy().into_owned())
            }
            Err(DownloadError::Cancelled) => Err(Error::Cancelled),
            Err(e) => Err(fail(e.to_string())),
        }
    }
}

#[async_trait]
impl<S: DownloadState> Step<S> for StepDownload {
    fn name(&self) -> &'static str {
        "StepDownload"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        let path = self.fetch(ctx).await?;
        st.set_download_path(path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct State(Option<String>);

    impl DownloadState for State {
        fn set_download_path(&mut self, path: String) {
            self.0 = Some(path);
        }
    }

    #[tokio::test]
    async fn local_file_checked_against_its_sum() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("box.ova");
        std::fs::write(&src, "ova").unwrap();
        let ctx = BuildCtx::for_test("vm.test");
        let mut st = State(None);
        let mut s = StepDownload {
            retrieving: "OVF/OVA".into(),
            description: "OVF/OVA".into(),
            extension: "ova".into(),
            urls: vec![src.to_string_lossy().into_owned()],
            checksum: String::new(),
            target_path: None,
        };
        Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap();
        assert_eq!(st.0.as_deref(), Some(&*src.to_string_lossy()));
        s.checksum =
            "sha256:0000000000000000000000000000000000000000000000000000000000000000".into();
        let e = Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap_err();
        assert!(e.to_string().contains("Checksums did not match"), "{e}");
        s.checksum = "nosuchtype:00".into();
        let e = Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap_err();
        assert!(e.to_string().starts_with("Error parsing checksum:"), "{e}");
    }
}
