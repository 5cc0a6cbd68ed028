//! `docker-tag`: tags the image `repository:tag` for each of `tags` (or `repository` alone).

use std::sync::Arc;

use async_trait::async_trait;
use bollard::query_parameters::TagImageOptions;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;

use super::artifact::ImageArtifact;
use super::config::TagConfig;
use super::{engine_error, IMPORT_ID, TAG_ID};

/// The configured post-processor.
pub struct Tag {
    cfg: TagConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Tag {
        cfg: TagConfig::from_value(v)?,
    }))
}

#[async_trait]
impl PostProcessor for Tag {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        if self.cfg.deprecated_tag {
            ui.say(
                "Deprecation warning: \"tag\" option has been replaced with \"tags\". In future \
                 versions of Packer, this configuration may not work. Please call `packer fix` \
                 on your template to update.",
            );
        }
        let bid = input.builder_id();
        if bid != TAG_ID && bid != IMPORT_ID {
            return Err(Error::msg(format!(
                "Unknown artifact type: {bid}\nCan only tag from Docker builder artifacts."
            )));
        }
        let docker = super::connect()?;
        let source = input.id();
        let repo = &self.cfg.repository;
        let names: Vec<String> = if self.cfg.tags.is_empty() {
            vec![repo.clone()]
        } else {
            self.cfg
                .tags
                .iter()
                .map(|t| format!("{repo}:{t}"))
                .collect()
        };
        for name in &names {
            ui.message(&format!("Tagging image: {source}"));
            ui.message(&format!("Repository: {name}"));
            let (r, t) = super::split_reference(name);
            let opts = TagImageOptions {
                repo: Some(r.to_string()),
                tag: t.map(str::to_string),
            };
            super::cancellable(ctx, async {
                docker.tag_image(&source, Some(opts)).await.map_err(|e| {
                    Error::msg(format!(
                        "Error tagging image {source} as {name}: {}",
                        engine_error(&e)
                    ))
                })
            })
            .await?;
        }
        let tags = if self.cfg.tags.is_empty() {
            Vec::new()
        } else {
            names.clone()
        };
        let artifact = ImageArtifact {
            builder_id: TAG_ID.into(),
            id: names.last().cloned().unwrap_or_default(),
            tags,
            generated: ImageArtifact::generated_of(input.as_ref()),
        };
        Ok(PostProcessed {
            artifact: Some(Arc::new(artifact)),
            keep: true,
            force_override: true,
        })
    }
}
