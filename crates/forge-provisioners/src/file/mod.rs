//! `file`: copies files and directories to or from the machine being built through the build's
//! communicator (Packer's provisioner/file).

mod config;
mod download;
#[cfg(test)]
mod tests;
mod upload;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::local::temp_file;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;

pub use config::{Config, Direction};
pub use download::{is_dir_source, targets as download_targets};
pub use upload::file_destination;

use forge_core::comm::NoneComm;
use forge_core::render::render;

/// The provisioner.
pub struct File {
    config: Config,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(File {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for File {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        let comm = comm.as_deref();
        let c = &self.config;
        let comm = comm.unwrap_or(&NoneComm);
        let dst = render(&c.destination, data, &[])
            .map_err(|e| Error::msg(format!("Error interpolating destination: {e}")))?;
        let mut sources = c
            .sources
            .iter()
            .map(|s| render(s, data, &[]))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::msg(format!("Error interpolating source: {e}")))?;
        let _content_file = match &c.content {
            Some(content) => {
                let f = temp_file(ctx, "pkr-file-content", content.as_bytes(), false)?;
                sources.push(f.path().display().to_string());
                Some(f)
            }
            None => None,
        };
        match c.direction {
            Direction::Upload => upload::upload(ctx, ui, comm, &sources, &dst).await,
            Direction::Download => download::download(ctx, ui, comm, &sources, &dst).await,
        }
    }
}
