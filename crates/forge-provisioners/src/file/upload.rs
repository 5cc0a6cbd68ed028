//! Uploads (provisioner/file `ProvisionUpload`): a directory goes through `upload_dir`, where
//! `src/` means its contents and `src` the directory itself; a file goes to `destination`, or
//! into it when it ends with `/`.

use std::path::Path;

use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use crate::common::go::{base, os_error};

/// Where a file `src` lands for `dst`: `dst` ending with `/` is a directory to put it in.
pub fn file_destination(dst: &str, src: &str) -> String {
    if dst.ends_with('/') {
        format!("{dst}{}", base(src))
    } else {
        dst.to_string()
    }
}

fn failed(ui: &Ui, e: Error) -> Error {
    if let Error::Msg(m) = &e {
        if m.contains("Error restoring file") {
            ui.error(&format!(
                "Upload failed: {m}; this can occur when your file destination is a folder without a trailing slash."
            ));
        }
        ui.error(&format!("Upload failed: {m}"));
    }
    e
}

/// Uploads each (rendered) source to `dst`.
pub async fn upload(
    ctx: &BuildCtx,
    ui: &Ui,
    comm: &dyn Communicator,
    sources: &[String],
    dst: &str,
) -> Result<()> {
    for src in sources {
        ui.say(&format!("Uploading {src} => {dst}"));
        let meta = std::fs::metadata(src).map_err(|e| Error::msg(os_error("stat", src, &e)))?;
        if meta.is_dir() {
            comm.upload_dir(ctx, dst, Path::new(src))
                .await
                .map_err(|e| failed(ui, e))?;
            continue;
        }
        comm.upload(ctx, &file_destination(dst, src), Path::new(src))
            .await
            .map_err(|e| failed(ui, e))?;
    }
    Ok(())
}
