//! stepPrepareOutputDir: `-force` removes an existing output directory; the directory is made
//! (journaled) and removed again only when the build fails or is cancelled.

use std::path::PathBuf;

use async_trait::async_trait;
use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

/// Makes the build's output directory; any builder's state works with it.
pub struct StepOutputDir {
    /// The directory (`output_directory`).
    pub path: PathBuf,
    dir: Option<TempPath>,
}

impl StepOutputDir {
    /// The step for `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StepOutputDir {
            path: path.into(),
            dir: None,
        }
    }
}

#[async_trait]
impl<S: Send> Step<S> for StepOutputDir {
    fn name(&self) -> &'static str {
        "stepPrepareOutputDir"
    }
    async fn run(&mut self, ctx: &BuildCtx, _: &mut S) -> Result<()> {
        let dir = &self.path;
        if dir.exists() && ctx.opts.force {
            ctx.ui.say("Deleting previous output directory...");
            std::fs::remove_dir_all(dir)
                .map_err(|e| Error::msg(format!("removing {}: {e}", dir.display())))?;
        }
        let guard = track(ctx, dir, true)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::msg(format!("creating {}: {e}", dir.display())))?;
        self.dir = Some(guard);
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, _: &mut S, o: Outcome) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn made_kept_on_success_removed_on_failure() {
        let t = tempfile::tempdir().unwrap();
        let ctx = BuildCtx::for_test("qemu.test");
        for (halted, kept) in [(false, true), (true, false)] {
            let dir = t.path().join(format!("out-{halted}"));
            let mut s = StepOutputDir::new(&dir);
            Step::<()>::run(&mut s, &ctx, &mut ()).await.unwrap();
            assert!(dir.is_dir());
            let o = Outcome {
                halted,
                cancelled: false,
            };
            Step::<()>::cleanup(&mut s, &ctx, &mut (), o).await.unwrap();
            assert_eq!(dir.exists(), kept, "halted: {halted}");
        }
    }
}
