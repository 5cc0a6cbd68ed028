//! `docker-save`: writes the image (`docker save`'s tar) to `path`; the artifact passes through.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::config::SaveConfig;
use super::{engine_error, IMPORT_ID, TAG_ID};

/// The configured post-processor.
pub struct Save {
    cfg: SaveConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Save {
        cfg: SaveConfig::from_value(v)?,
    }))
}

#[async_trait]
impl PostProcessor for Save {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let bid = input.builder_id();
        if bid != IMPORT_ID && bid != TAG_ID {
            return Err(Error::msg(format!(
                "Unknown artifact type: {bid}\nCan only save Docker builder artifacts."
            )));
        }
        let path = &self.cfg.path;
        let f = tokio::fs::File::create(path)
            .await
            .map_err(|e| Error::msg(format!("Error creating output file: {e}")))?;
        let id = input.id();
        ui.message(&format!("Saving image: {id}"));
        let r = super::cancellable(ctx, save(ui, &id, f)).await;
        if let Err(e) = r {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        ui.message(&format!("Saved to: {path}"));
        Ok(PostProcessed {
            artifact: Some(input),
            keep: true,
            force_override: false,
        })
    }
}

/// Streams image `id` into `f`; the bar's total is the image's size (the tar is a little larger).
async fn save(ui: &Ui, id: &str, mut f: tokio::fs::File) -> Result<()> {
    let docker = super::connect()?;
    let fail =
        |e: &bollard::errors::Error| Error::msg(format!("Error exporting: {}", engine_error(e)));
    let size = docker
        .inspect_image(id)
        .await
        .map_err(|e| fail(&e))?
        .size
        .unwrap_or(0);
    let pb = ui.progress(size.max(0) as u64, "saving");
    let mut s = docker.export_image(id);
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| fail(&e))?;
        f.write_all(&chunk)
            .await
            .map_err(|e| Error::msg(format!("Error exporting: writing: {e}")))?;
        pb.inc(chunk.len() as u64);
    }
    f.flush()
        .await
        .map_err(|e| Error::msg(format!("Error exporting: writing: {e}")))?;
    pb.finish_and_clear();
    Ok(())
}
