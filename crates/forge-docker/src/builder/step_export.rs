//! StepExport: streams the container's filesystem into `export_path`; the file is removed when
//! the export fails.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::{Output, State};

pub(super) struct StepExport;

#[async_trait]
impl Step<State> for StepExport {
    fn name(&self) -> &'static str {
        "StepExport"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let Output::Export(path) = &st.config.output else {
            return Ok(());
        };
        let path = std::path::PathBuf::from(path);
        let id = st
            .container_id
            .clone()
            .ok_or_else(|| Error::msg("StepExport: no container is running"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::msg(format!(
                    "Error creating output directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        ctx.ui.say("Exporting the container");
        if let Err(e) = st.driver.export(ctx, &id, &path).await {
            let _ = std::fs::remove_file(&path);
            if e.is_cancelled() {
                return Err(e);
            }
            let m = format!("Error exporting: {e}");
            ctx.ui.error(&m);
            return Err(Error::msg(m));
        }
        Ok(())
    }
}
