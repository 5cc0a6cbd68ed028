//! StepAttachFloppy: a copy of the floppy image (VirtualBox keeps it open) on a new floppy
//! controller, replacing any the VM had; cleanup ejects it and removes the copy.

use async_trait::async_trait;
use forge_core::local::{temp_dir, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::driver::args;

/// The step.
#[derive(Default)]
pub struct StepAttachFloppy {
    /// The directory holding the attached copy.
    copy: Option<TempPath>,
}

/// The command that ejects the floppy.
pub fn eject(vm: &str) -> Vec<String> {
    args([
        "storageattach",
        vm,
        "--storagectl",
        "Floppy Controller",
        "--port",
        "0",
        "--device",
        "0",
        "--medium",
        "none",
    ])
}

#[async_trait]
impl Step<State> for StepAttachFloppy {
    fn name(&self) -> &'static str {
        "StepAttachFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let Some(src) = st.media.floppy_path.clone() else {
            tracing::info!("No floppy disk, not attaching.");
            return Ok(());
        };
        let dir = temp_dir(ctx, "virtualbox")
            .map_err(|e| Error::msg(format!("Error preparing floppy: {e}")))?;
        let floppy = dir.path().join("floppy.vfd");
        tracing::info!("Copying floppy to temp location: {}", floppy.display());
        std::fs::copy(&src, &floppy)
            .map_err(|e| Error::msg(format!("Error preparing floppy: {e}")))?;
        let vm = st.vm_name.clone();
        ctx.ui.say("Deleting any current floppy disk...");
        st.driver
            .remove_floppy_controllers(&vm)
            .await
            .map_err(|e| Error::msg(format!("Error deleting existing floppy controllers: {e}")))?;
        ctx.ui.say("Attaching floppy disk...");
        st.driver
            .vboxmanage(&args([
                "storagectl",
                &vm,
                "--name",
                "Floppy Controller",
                "--add",
                "floppy",
            ]))
            .await
            .map_err(|e| Error::msg(format!("Error creating floppy controller: {e}")))?;
        st.driver
            .vboxmanage(&args([
                "storageattach",
                &vm,
                "--storagectl",
                "Floppy Controller",
                "--port",
                "0",
                "--device",
                "0",
                "--type",
                "fdd",
                "--medium",
                &floppy.to_string_lossy(),
            ]))
            .await
            .map_err(|e| Error::msg(format!("Error attaching floppy: {e}")))?;
        self.copy = Some(dir);
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        let Some(dir) = self.copy.take() else {
            return Ok(());
        };
        ctx.ui.say("Cleaning up floppy disk...");
        if let Err(e) = st.driver.vboxmanage(&eject(&st.vm_name)).await {
            ctx.ui.error(&format!(
                "Error unregistering floppy: {e}. Not considering this a critical failure; build will continue."
            ));
        }
        drop(dir);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};

    #[tokio::test]
    async fn attaches_a_copy_and_ejects_it() {
        let (mut st, f, ctx) = state("vm");
        let mut s = StepAttachFloppy::default();
        s.run(&ctx, &mut st).await.unwrap();
        assert!(f.calls().is_empty(), "no floppy, nothing to do");
        let src = std::env::temp_dir().join(format!("vbox-fl-{}.vfd", uuid::Uuid::new_v4()));
        std::fs::write(&src, "floppy").unwrap();
        st.media.floppy_path = Some(src.to_string_lossy().into());
        s.run(&ctx, &mut st).await.unwrap();
        let calls = f.calls();
        assert_eq!(calls[0], v(&["showvminfo", "vm", "--machinereadable"]));
        assert_eq!(
            calls[1],
            v(&[
                "storagectl",
                "vm",
                "--name",
                "Floppy Controller",
                "--add",
                "floppy"
            ])
        );
        let copy = calls[2].last().unwrap().clone();
        assert!(copy.ends_with("/floppy.vfd") && copy != src.to_string_lossy());
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "floppy");
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert_eq!(f.calls()[3], eject("vm"));
        assert!(std::fs::metadata(&copy).is_err());
        std::fs::remove_file(&src).unwrap();
    }

    #[tokio::test]
    async fn a_failed_attach_leaves_nothing_to_eject() {
        let (mut st, f, ctx) = state("vm");
        st.media.floppy_path = Some("/nonexistent/floppy.vfd".into());
        let mut s = StepAttachFloppy::default();
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert!(e.to_string().starts_with("Error preparing floppy"), "{e}");
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(f.calls().is_empty());
    }
}
