//! The `file` builder: writes one local file from `source` or `content`; no machine, no
//! communicator.

use std::sync::Arc;

use async_trait::async_trait;
use forge_template::value::Value;

use super::common::hook_data;
use crate::artifact::{Artifact, FileArtifact};
use crate::error::Context;
use crate::plugin::{BuildCtx, BuildData, Builder, Hook, PrepareInfo};
use crate::registry::{decode, PrepareErrors};
use crate::Result;

/// Packer's builder id for `file`.
pub const BUILDER_ID: &str = "packer.file";

/// The builder.
pub struct FileBuilder {
    source: Option<String>,
    content: String,
    target: String,
}

/// The registry's factory: `target` is required; `source` and `content` exclude each other.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    let c: forge_template::schema::plugins::FileBuilder = decode(v)?;
    let mut errs = Vec::new();
    let source = c.source.filter(|s| !s.is_empty());
    let content = c.content.unwrap_or_default();
    let target = c.target.unwrap_or_default();
    if target.is_empty() {
        errs.push("target required".to_string());
    }
    match (&source, content.is_empty()) {
        (Some(_), false) => errs.push("source and content cannot both be specified".into()),
        (Some(s), true)
            if !std::path::Path::new(s).exists() && !info.template_dir.join(s).exists() =>
        {
            errs.push(format!("Unable to specify source file: {s}"))
        }
        (None, true) => {
            info.warn("Both source file and contents are blank; target will have no content")
        }
        _ => {}
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Box::new(FileBuilder {
        source,
        content,
        target,
    }))
}

#[async_trait]
impl Builder for FileBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let target = std::path::Path::new(&self.target);
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).ctx(format!("creating {}", dir.display()))?;
        }
        match &self.source {
            Some(src) => {
                ctx.ui.say(&format!("Copying {src} to {}", self.target));
                let n = tokio::fs::copy(src, target)
                    .await
                    .ctx(format!("copying {src} to {}", self.target))?;
                ctx.ui.say(&format!("Copied {n} bytes"));
            }
            None => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(target)
                    .ctx(format!("writing {}", self.target))?;
                f.write_all(self.content.as_bytes())
                    .ctx(format!("writing {}", self.target))?;
            }
        }
        let data = hook_data(ctx, None, None, &BuildData::new());
        hook.provision(ctx, None, &data).await?;
        Ok(Some(Arc::new(FileArtifact {
            builder_id: BUILDER_ID.into(),
            id: "File".into(),
            string: format!("Stored file: {}", self.target),
            files: vec![self.target.clone()],
            removal: crate::artifact::Removal::File,
            ..FileArtifact::default()
        })))
    }
}
