//! `compress`: archives and/or compresses the artifact's files into one output file whose
//! format comes from its extension (`.tar`, `.zip`, `.gz`, `.tar.gz`, `.bgzf`, `.lz4`, `.xz`,
//! `.zst`, combinations with `.tar`, else tar + gzip), as Packer does.

mod archive;
mod config;
mod writers;

use std::fs::{DirBuilder, File};
use std::os::unix::fs::DirBuilderExt;
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
pub use config::{detect, Algorithm, Archive, BAD_LEVEL, DEFAULT_OUTPUT};

use crate::common::{blocking, generated_data, render};
use forge_core::artifact::{FileArtifact, Removal};

/// Packer's builder id for the compressed artifact.
pub const BUILDER_ID: &str = "packer.post-processor.compress";

/// The configured post-processor.
pub struct Compress {
    cfg: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Compress {
        cfg: Config::from_value(v)?,
        info: info.clone(),
    }))
}

/// The number of threads compression uses: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// What to write and how.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The archive kind.
    pub archive: Archive,
    /// The compression.
    pub algorithm: Algorithm,
    /// Level 1-9; `None` for the algorithm's default.
    pub level: Option<u32>,
    /// Threads for the formats that can use several.
    pub threads: usize,
}

/// Writes `files` to `target` (created, or truncated) as `opts` says; `progress` is told of
/// every input byte read, and a cancelled `cancel` stops the work. On failure the partial
/// output is removed. Errors name the file and the operation.
pub fn compress_files(
    files: &[String],
    target: &Path,
    opts: &Options,
    progress: &dyn Fn(u64),
    cancel: Option<&CancellationToken>,
) -> Result<()> {
    let shown = target.display();
    if opts.archive == Archive::None && files.len() != 1 {
        return Err(Error::msg(format!(
            "Can only have 1 input file when not using tar/zip. Found {} files: [{}]",
            files.len(),
            files.join(" ")
        )));
    }
    if let Ok(t) = std::fs::canonicalize(target) {
        if files
            .iter()
            .any(|f| std::fs::canonicalize(f).is_ok_and(|p| p == t))
        {
            return Err(Error::msg(format!(
                "Unable to create archive {shown}: it is one of the input files"
            )));
        }
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| Error::msg(format!("Unable to create dir for archive {shown}: {e}")))?;
    }
    let out = File::create(target)
        .map_err(|e| Error::msg(format!("Unable to create archive {shown}: {e}")))?;
    let r = write_all(files, out, opts, progress, cancel);
    if r.is_err() {
        let _ = std::fs::remove_file(target);
    }
    match r {
        Err(e) if e == archive::CANCELLED || cancel.is_some_and(|c| c.is_cancelled()) => {
            Err(Error::Cancelled)
        }
        Err(e) => Err(Error::msg(e)),
        Ok(()) => Ok(()),
    }
}

fn write_all(
    files: &[String],
    out: File,
    opts: &Options,
    progress: &dyn Fn(u64),
    cancel: Option<&CancellationToken>,
) -> std::result::Result<(), String> {
    let alg = opts.algorithm.name();
    let mut w = writers::compressor(opts.algorithm, out, opts.level, opts.threads)
        .map_err(|e| format!("error creating {alg} writer: {e}"))?;
    match opts.archive {
        Archive::Tar => {
            w = archive::tar(files, w, progress, cancel)
                .map_err(|e| format!("Error creating tar: {e}"))?;
        }
        Archive::Zip => {
            w = archive::zip(files, w, opts.level, progress, cancel)
                .map_err(|e| format!("Error creating zip: {e}"))?;
        }
        Archive::None => {
            let path = &files[0];
            let f = File::open(path)
                .map_err(|e| format!("Failed to open source file {path} for reading: {e}"))?;
            let md = f
                .metadata()
                .map_err(|e| format!("Failed to open source file {path} for reading: {e}"))?;
            let mut src = archive::Source::new(f, md.len(), progress, cancel);
            archive::copy(&mut src, &mut w)
                .map_err(|e| archive::io_err(e, &format!("Failed to compress {path}")))?;
        }
    }
    w.finish()
        .map_err(|e| archive::io_err(e, &format!("Failed to finish the {alg} stream")))
}

#[async_trait]
impl PostProcessor for Compress {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let mut data = generated_data(input.as_ref());
        data.insert("BuildName".into(), self.info.build_name.clone());
        data.insert("BuilderType".into(), self.info.builder_type.clone());
        let target = render(&self.cfg.output, &self.info, &data)
            .map_err(|e| Error::msg(format!("Error interpolating output value: {e}")))?;
        let files = input.files();
        let threads = default_threads();
        let opts = Options {
            archive: self.cfg.archive,
            algorithm: self.cfg.algorithm,
            level: self.cfg.level,
            threads,
        };
        if opts.archive == Archive::None && files.len() != 1 {
            return Err(Error::msg(format!(
                "Can only have 1 input file when not using tar/zip. Found {} files: [{}]",
                files.len(),
                files.join(" ")
            )));
        }
        let cores = |n: usize| {
            if n == 1 {
                "1 core".to_string()
            } else {
                format!("{n} cores")
            }
        };
        match opts.algorithm {
            Algorithm::None => {}
            Algorithm::Lz4 => ui.say(&format!("Using lz4 compression with 1 core for {target}")),
            a => ui.say(&format!(
                "Using {} compression with {} for {target}",
                a.name(),
                cores(threads)
            )),
        }
        match opts.archive {
            Archive::Tar => ui.say(&format!("Tarring {target} with {}", opts.algorithm.name())),
            Archive::Zip => ui.say(&format!("Zipping {target}")),
            Archive::None => ui.say(&format!(
                "Archiving {} with {}",
                files[0],
                opts.algorithm.name()
            )),
        }
        let total: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let pb = ui.progress(total, "compressing");
        let cancel = ctx.cancel.clone();
        let t = target.clone();
        let bar = pb.clone();
        let r = blocking("compressing", move || {
            compress_files(&files, Path::new(&t), &opts, &|n| bar.inc(n), Some(&cancel))
        })
        .await;
        pb.finish_and_clear();
        r?;
        ui.say(&format!("Archive {target} completed"));
        let artifact = FileArtifact {
            builder_id: BUILDER_ID.into(),
            id: String::new(),
            string: format!("compressed artifacts in: {target}"),
            files: vec![target],
            removal: Removal::File,
            ..FileArtifact::default()
        };
        Ok(PostProcessed {
            artifact: Some(Arc::new(artifact)),
            keep: false,
            force_override: false,
        })
    }
}
