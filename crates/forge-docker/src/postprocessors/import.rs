//! `docker-import`: imports the tar a docker builder exported (or an artifice file) as an image
//! `repository[:tag]` (`POST /images/create?fromSrc=-`), with `changes` and `platform`.

use std::sync::Arc;

use async_trait::async_trait;
use bollard::query_parameters::CreateImageOptions;
use bytes_stream::file_chunks;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;
use futures_util::StreamExt;

use super::artifact::ImageArtifact;
use super::config::ImportConfig;
use super::{engine_error, ARTIFICE_ID, DOCKER_BUILDER_ID, IMPORT_ID};

/// The configured post-processor.
pub struct Import {
    cfg: ImportConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Import {
        cfg: ImportConfig::from_value(v)?,
    }))
}

#[async_trait]
impl PostProcessor for Import {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let bid = input.builder_id();
        if bid != DOCKER_BUILDER_ID && bid != ARTIFICE_ID {
            return Err(Error::msg(format!(
                "Unknown artifact type: {bid}\nCan only import from Docker builder and Artifice \
                 post-processor artifacts. If you are getting this error after having run the \
                 docker builder, it may be because you set commit: true in your Docker builder, \
                 so the image is already imported. "
            )));
        }
        let Some(file) = input.files().into_iter().next() else {
            return Err(Error::msg(format!(
                "Error importing: the {bid} artifact has no file to import"
            )));
        };
        let reference = self.cfg.reference();
        ui.message(&format!("Importing image: {}", input.id()));
        ui.message(&format!("Repository: {reference}"));
        let id = super::cancellable(ctx, self.import(ui, &file, &reference)).await?;
        ui.message(&format!("Imported ID: {id}"));
        let artifact = ImageArtifact {
            builder_id: IMPORT_ID.into(),
            // Without a repository the image is untagged: its id is the only name it has.
            id: if reference.is_empty() { id } else { reference },
            tags: Vec::new(),
            generated: ImageArtifact::generated_of(input.as_ref()),
        };
        Ok(PostProcessed {
            artifact: Some(Arc::new(artifact)),
            keep: false,
            force_override: false,
        })
    }
}

impl Import {
    /// Streams `file` into the engine; returns the new image's id.
    async fn import(&self, ui: &Ui, file: &str, reference: &str) -> Result<String> {
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| Error::msg(format!("Error importing: opening {file}: {e}")))?;
        let size = f.metadata().await.map(|m| m.len()).unwrap_or(0);
        let pb = ui.progress(size, "importing");
        let (repo, tag) = super::split_reference(reference);
        let opts = CreateImageOptions {
            from_src: Some("-".into()),
            repo: (!repo.is_empty()).then(|| repo.to_string()),
            tag: tag.map(str::to_string),
            changes: self.cfg.changes.clone(),
            platform: self.cfg.platform.clone(),
            ..Default::default()
        };
        let bar = pb.clone();
        let body = file_chunks(f).inspect(move |c| {
            if let Ok(b) = c {
                bar.inc(b.len() as u64);
            }
        });
        let docker = super::connect()?;
        let mut s = docker.create_image(Some(opts), Some(bollard::body_try_stream(body)), None);
        let mut id = String::new();
        while let Some(m) = s.next().await {
            let m =
                m.map_err(|e| Error::msg(format!("Error importing {file}: {}", engine_error(&e))))?;
            if let Some(st) = m.status {
                if st.starts_with("sha256:") {
                    id = st.trim().to_string();
                }
            }
        }
        pb.finish_and_clear();
        if id.is_empty() {
            return Err(Error::msg(format!(
                "Error importing {file}: the engine returned no image id"
            )));
        }
        Ok(id)
    }
}

/// Reading a file as a stream of byte chunks.
mod bytes_stream {
    use futures_util::Stream;
    use tokio::io::AsyncReadExt;

    /// `f` in 1 MiB chunks.
    pub fn file_chunks(
        f: tokio::fs::File,
    ) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
        futures_util::stream::unfold(Some(f), |f| async move {
            let mut f = f?;
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(buf.into()), Some(f)))
                }
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}
