//! StepDownload: the ISO (with `disk_image`, the source disk) from `iso_url`/`iso_urls`,
//! checked against `iso_checksum`, through the download cache.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use forge_commonsteps::download::{
    download, progress_bar, resolve_checksum, DownloadConfig, DownloadError,
};

pub(super) struct StepDownload;

#[async_trait]
impl Step<State> for StepDownload {
    fn name(&self) -> &'static str {
        "StepDownload"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let what = if c.disk_image() { "disk image" } else { "ISO" };
        let fail = |m: String| {
            ctx.ui.error(&m);
            Error::msg(m)
        };
        let (spec, first) = (
            c.iso_checksum.clone(),
            c.iso_urls.first().cloned().unwrap_or_default(),
        );
        let checksum = tokio::task::spawn_blocking(move || resolve_checksum(&spec, &first))
            .await
            .map_err(|e| Error::msg(e.to_string()))?
            .map_err(|e| fail(format!("Error parsing checksum: {e}")))?;
        ctx.ui.say("Retrieving ISO");
        let cfg = DownloadConfig {
            urls: c.iso_urls.clone(),
            checksum,
            target_path: c
                .args
                .iso_config
                .iso_target_path
                .clone()
                .filter(|p| !p.is_empty()),
            extension: c
                .args
                .iso_config
                .iso_target_extension
                .clone()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "iso".into()),
            description: what.to_string(),
            cache_dir: None,
        };
        let pb = ctx.ui.progress(0, &format!("downloading {what}"));
        let r = download(&cfg, Some(progress_bar(pb.clone())), &ctx.cancel).await;
        pb.finish_and_clear();
        match r {
            Ok(d) => {
                ctx.ui.say(&format!("Trying {}", d.source));
                ctx.ui.say(&format!("{} => {}", d.source, d.path.display()));
                st.iso_path = d.path.to_string_lossy().into_owned();
                Ok(())
            }
            Err(DownloadError::Cancelled) => Err(Error::Cancelled),
            Err(e) => Err(fail(e.to_string())),
        }
    }
}
