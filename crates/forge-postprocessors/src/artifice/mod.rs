//! `artifice`: replaces the artifact with the files (or Go glob patterns) the configuration
//! lists, so that later post-processors work on files a provisioner produced.

mod config;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;

use config::Config;

use forge_core::artifact::{FileArtifact, Removal};

/// Packer's builder id for the artifice artifact.
pub const BUILDER_ID: &str = "packer.post-processor.artifice";

/// The configured post-processor.
pub struct Artifice {
    cfg: Config,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Artifice {
        cfg: Config::from_value(v)?,
    }))
}

/// Every path the patterns match, in order; a matched path that cannot be read is an error.
pub fn resolve(patterns: &[String]) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for p in patterns {
        let found = forge_core::glob::glob(p)
            .map_err(|e| Error::msg(format!("artifice files {p:?}: {e}")))?;
        for f in found {
            std::fs::metadata(&f).map_err(|e| Error::msg(format!("stat {f}: {e}")))?;
            files.push(f);
        }
    }
    Ok(files)
}

#[async_trait]
impl PostProcessor for Artifice {
    async fn post_process(
        &self,
        _ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let old = input.files();
        if !old.is_empty() {
            ui.say(&format!(
                "Discarding files from artifact: {}",
                old.join(", ")
            ));
        }
        let files = resolve(&self.cfg.files)?;
        ui.say(&format!("Using these artifact files: {}", files.join(", ")));
        let artifact = FileArtifact {
            builder_id: BUILDER_ID.into(),
            id: String::new(),
            string: format!("Created artifact from files: {}", files.join(", ")),
            files,
            removal: Removal::All,
            ..FileArtifact::default()
        };
        Ok(PostProcessed {
            artifact: Some(Arc::new(artifact)),
            keep: true,
            force_override: false,
        })
    }
}
