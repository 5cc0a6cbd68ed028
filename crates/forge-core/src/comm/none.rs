//! What a provisioner talks to when the build has no communicator (`communicator = "none"`):
//! Packer's `none` communicator, whose commands "succeed" and whose transfers fail.

use std::path::Path;

use crate::plugin::{BuildCtx, Communicator, Stream};
use crate::{Error, Result};
use async_trait::async_trait;

/// Packer's `none` communicator.
pub struct NoneComm;

fn not_implemented(what: &str) -> Error {
    Error::msg(format!(
        "{what} is not implemented when communicator = 'none'"
    ))
}

#[async_trait]
impl Communicator for NoneComm {
    async fn exec(
        &self,
        _ctx: &BuildCtx,
        _command: &str,
        _output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        Ok(0)
    }

    async fn upload(&self, _ctx: &BuildCtx, _dst: &str, _src: &Path) -> Result<()> {
        Err(not_implemented("Upload"))
    }

    async fn upload_dir(&self, _ctx: &BuildCtx, _dst: &str, _src: &Path) -> Result<()> {
        Err(not_implemented("UploadDir"))
    }

    async fn download(&self, _ctx: &BuildCtx, _src: &str, _dst: &Path) -> Result<()> {
        Err(not_implemented("Download"))
    }

    async fn download_dir(&self, _ctx: &BuildCtx, _src: &str, _dst: &Path) -> Result<()> {
        Err(not_implemented("DownloadDir"))
    }
}
