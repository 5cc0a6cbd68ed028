//! stepPrepareOutputDir: `-force` removes an existing output directory; the directory is made
//! (journaled) and removed again only when the build fails or is cancelled.

use async_trait::async_trait;
use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepOutputDir {
    pub(super) dir: Option<TempPath>,
}

#[async_trait]
impl Step<State> for StepOutputDir {
    fn name(&self) -> &'static str {
        "stepPrepareOutputDir"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let dir = std::path::PathBuf::from(&st.config.output_dir);
        if dir.exists() && ctx.opts.force {
            ctx.ui.say("Deleting previous output directory...");
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::msg(format!("removing {}: {e}", dir.display())))?;
        }
        let guard = track(ctx, &dir, true)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::msg(format!("creating {}: {e}", dir.display())))?;
        self.dir = Some(guard);
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, _: &mut State, o: Outcome) -> Result<()> {
        if let Some(d) = self.dir.take() {
            if !o.halted && !o.cancelled {
                d.persist();
            } else {
                ctx.ui.say("Deleting output directory...");
                drop(d);
            }
        }
        Ok(())
    }
}
