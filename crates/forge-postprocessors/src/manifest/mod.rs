//! `manifest`: appends a record of the build's artifact (name, builder type, time, files, id,
//! run id, custom data) to a JSON file, under a lock so that parallel builds can share it.

mod config;
mod json;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;

use config::Config;
pub use config::DEFAULT_OUTPUT;
use json::{Build, FileEntry, ManifestFile};

use crate::common::{blocking, generated_data, render};

/// Packer's id for the manifest post-processor.
pub const BUILDER_ID: &str = "packer.post-processor.manifest";

/// The configured post-processor.
pub struct Manifest {
    cfg: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Manifest {
        cfg: Config::from_value(v)?,
        info: info.clone(),
    }))
}

#[async_trait]
impl PostProcessor for Manifest {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let data = generated_data(input.as_ref());
        let custom_data = match &self.cfg.custom_data {
            None => None,
            Some(m) => {
                let mut out = std::collections::BTreeMap::new();
                for (k, v) in m {
                    let r = render(v, &self.info, &data)
                        .map_err(|e| Error::msg(format!("Error interpolating custom data: {e}")))?;
                    out.insert(k.clone(), r);
                }
                Some(out)
            }
        };
        let output = render(&self.cfg.output, &self.info, &data)
            .map_err(|e| Error::msg(format!("Error interpolating output: {e}")))?;
        let files = input.files();
        let strip_path = self.cfg.strip_path;
        let entry = Build {
            name: self.info.build_name.clone(),
            builder_type: self.info.builder_type.clone(),
            build_time: if self.cfg.strip_time {
                0
            } else {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0)
            },
            // Computed below, off the runtime (stat calls).
            files: None,
            artifact_id: input.id(),
            packer_run_uuid: ctx.run_id.clone(),
            custom_data,
        };
        let run_id = ctx.run_id.clone();
        let force = ctx.opts.force;
        let redactor = ui.output().redactor().clone();
        blocking("writing the manifest", move || {
            let mut entry = entry;
            entry.files = file_entries(&files, strip_path);
            append(Path::new(&output), entry, &run_id, force, &|s| {
                redactor.redact(s)
            })
        })
        .await?;
        // The manifest never deletes the artifact it records.
        Ok(PostProcessed {
            artifact: Some(input),
            keep: true,
            force_override: true,
        })
    }
}

/// The artifact's files with their sizes (0 when a file cannot be read), `null` when none.
fn file_entries(files: &[String], strip_path: bool) -> Option<Vec<FileEntry>> {
    if files.is_empty() {
        return None;
    }
    Some(
        files
            .iter()
            .map(|f| FileEntry {
                name: if strip_path {
                    Path::new(f)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| f.clone())
                } else {
                    f.clone()
                },
                size: std::fs::metadata(f).map(|m| m.len() as i64).unwrap_or(0),
            })
            .collect(),
    )
}

/// Appends `entry` to the manifest at `path` under `<path>.lock`; with `force`, a manifest of
/// another run is started afresh. Every string passes through `redact` on its way out.
fn append(
    path: &Path,
    entry: Build,
    run_id: &str,
    force: bool,
    redact: &dyn Fn(&str) -> String,
) -> Result<()> {
    let shown = path.display();
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let _lock = Lock::acquire(PathBuf::from(lock_path))?;
    let contents = match std::fs::read(path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Error::msg(format!(
                "Unable to open {shown} for reading: {e}"
            )))
        }
    };
    let mut file = if contents.is_empty() {
        ManifestFile::default()
    } else {
        serde_json::from_slice(&contents)
            .map_err(|e| Error::msg(format!("Unable to parse content from {shown}: {e}")))?
    };
    if force && file.last_run_uuid != run_id {
        file = ManifestFile::default();
    }
    file.builds.get_or_insert_with(Vec::new).push(entry);
    file.last_run_uuid = run_id.to_string();
    let text = redact(&file.to_go_json(redact));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o664)
        .open(path)
        .map_err(|e| Error::msg(format!("Unable to write {shown}: {e}")))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::msg(format!("Unable to write {shown}: {e}")))
}

/// An exclusive lock on `<manifest>.lock`, shared by builds of this run and other processes.
/// The file is removed on release (as Packer leaves none behind); a waiter that then gets the
/// lock on the removed file notices and locks the new one.
struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    fn acquire(path: PathBuf) -> Result<Lock> {
        for _ in 0..1000 {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::msg(format!("creating lock file {}: {e}", path.display())))?;
            f.lock()
                .map_err(|e| Error::msg(format!("locking {}: {e}", path.display())))?;
            let held = f.metadata().ok();
            let now = std::fs::metadata(&path).ok();
            if let (Some(a), Some(b)) = (held, now) {
                if a.ino() == b.ino() && a.dev() == b.dev() {
                    return Ok(Lock { path, _file: f });
                }
            }
        }
        Err(Error::msg(format!(
            "locking {}: the lock file keeps being replaced",
            path.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked; the descriptor (and with it the lock) closes after.
        let _ = std::fs::remove_file(&self.path);
    }
}
