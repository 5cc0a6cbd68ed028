//! `checksum`: for each configured algorithm, appends `<hex>\t<basename>` lines for every
//! artifact file to a checksum file, and returns an artifact holding the input files and the
//! new checksum files.

mod config;

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;
use tokio_util::sync::CancellationToken;

use config::Config;
pub use config::{Kind, DEFAULT_OUTPUT};

use crate::common::{blocking, generated_data, render};
use forge_core::artifact::{FileArtifact, Removal};

/// Packer's builder id for the checksum artifact.
pub const BUILDER_ID: &str = "packer.post-processor.checksum";

/// The configured post-processor.
pub struct Checksum {
    cfg: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Checksum {
        cfg: Config::from_value(v)?,
        info: info.clone(),
    }))
}

#[async_trait]
impl PostProcessor for Checksum {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        _ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let files = input.files();
        let mut data = generated_data(input.as_ref());
        data.insert("BuildName".into(), self.info.build_name.clone());
        data.insert("BuilderType".into(), self.info.builder_type.clone());
        let mut outputs = Vec::new();
        for &k in &self.cfg.kinds {
            data.insert("ChecksumType".into(), k.name().into());
            let out = render(&self.cfg.output, &self.info, &data).map_err(Error::msg)?;
            outputs.push((k, out));
        }
        let cancel = ctx.cancel.clone();
        let new_files = blocking("computing checksums", move || {
            write_checksums(&files, &outputs, &cancel)
        })
        .await?;
        let mut all = input.files();
        all.extend(new_files);
        let artifact = FileArtifact {
            builder_id: BUILDER_ID.into(),
            id: String::new(),
            string: format!("Created artifact from files: {}", all.join(", ")),
            files: all,
            removal: Removal::All,
            ..FileArtifact::default()
        };
        // Never delete the artifact being checksummed.
        Ok(PostProcessed {
            artifact: Some(Arc::new(artifact)),
            keep: true,
            force_override: true,
        })
    }
}

/// Hashes every file once for all algorithms, then appends the lines to each output in
/// Packer's order (algorithm by algorithm, file by file). Returns the checksum files that did
/// not exist before.
fn write_checksums(
    files: &[String],
    outputs: &[(Kind, String)],
    cancel: &CancellationToken,
) -> Result<Vec<String>> {
    let kinds: Vec<Kind> = outputs.iter().map(|(k, _)| *k).collect();
    let mut sums = Vec::with_capacity(files.len());
    for f in files {
        sums.push(hash_file(Path::new(f), &kinds, cancel)?);
    }
    let mut created = Vec::new();
    for (ki, (_, out)) in outputs.iter().enumerate() {
        for (fi, f) in files.iter().enumerate() {
            if std::fs::metadata(out).is_err() {
                created.push(out.clone());
            }
            if let Some(dir) = Path::new(out)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(dir)
                    .map_err(|e| {
                        Error::msg(format!("unable to create dir {}: {e}", dir.display()))
                    })?;
            }
            let mut w = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o644)
                .open(out)
                .map_err(|e| Error::msg(format!("unable to create file {out}: {e}")))?;
            let base = Path::new(f)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.clone());
            w.write_all(format!("{}\t{base}\n", sums[fi][ki]).as_bytes())
                .map_err(|e| Error::msg(format!("writing {out}: {e}")))?;
        }
    }
    Ok(created)
}

/// The lowercase hex digests of `path` for each of `kinds`, reading it once in blocks.
pub fn hash_file(path: &Path, kinds: &[Kind], cancel: &CancellationToken) -> Result<Vec<String>> {
    let shown = path.display();
    let mut f =
        File::open(path).map_err(|e| Error::msg(format!("unable to open file {shown}: {e}")))?;
    let mut hashers: Vec<_> = kinds.iter().map(|k| k.hasher()).collect();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
                return Err(Error::msg(format!(
                    "unable to compute {} hash for {shown}: {e}",
                    names.join(", ")
                )));
            }
        };
        for h in &mut hashers {
            h.update(&buf[..n]);
        }
    }
    Ok(hashers
        .into_iter()
        .map(|h| h.finalize().iter().map(|b| format!("{b:02x}")).collect())
        .collect())
}
