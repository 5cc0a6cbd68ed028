//! Downloads (provisioner/file `ProvisionDownload`): `destination` ending with `/` is a local
//! directory that receives the file under its own name (unless the source is itself a
//! directory, `src/`, or ends with `*`); the local parent directories are created; a source
//! ending with `/` or holding a glob character goes through `download_dir`.

use std::path::Path;

use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use crate::common::go::{base, dir, join, os_error};

/// The local target and the directory to create first, for source `src` and destination `dst`.
pub fn targets(src: &str, dst: &str) -> (String, String) {
    if !dst.ends_with('/') {
        return (dst.to_string(), dir(dst));
    }
    if src.ends_with('/') || src.ends_with('*') {
        (dst.to_string(), dst.to_string())
    } else {
        (join(&[dst, &base(src)]), dst.to_string())
    }
}

/// Whether `src` names a directory's contents or a glob: fetched with `download_dir`.
pub fn is_dir_source(src: &str) -> bool {
    src.ends_with('/') || src.contains(['*', '?', '['])
}

/// Downloads each (rendered) source to `dst`.
pub async fn download(
    ctx: &BuildCtx,
    ui: &Ui,
    comm: &dyn Communicator,
    sources: &[String],
    dst: &str,
) -> Result<()> {
    for src in sources {
        let (target, parent) = targets(src, dst);
        // Packer 1.6.6 shows the destination as configured.
        ui.say(&format!("Downloading {src} => {dst}"));
        if !parent.is_empty() {
            std::fs::create_dir_all(&parent)
                .map_err(|e| Error::msg(os_error("mkdir", &parent, &e)))?;
        }
        if is_dir_source(src) {
            // Packer returns here, skipping any later sources; forge goes on with them.
            comm.download_dir(ctx, src, Path::new(&target)).await?;
            continue;
        }
        // Packer creates (truncates) the local file before asking the communicator for it, so
        // a failed download leaves it empty.
        std::fs::File::create(&target).map_err(|e| Error::msg(os_error("open", &target, &e)))?;
        comm.download(ctx, src, Path::new(&target))
            .await
            .inspect_err(|e| {
                if let Error::Msg(m) = e {
                    ui.error(&format!("Download failed: {m}"));
                }
            })?;
    }
    Ok(())
}
