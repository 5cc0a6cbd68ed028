//! StepRun: starts the VM (`startvm --type headless|gui`); cleanup powers it off when it still
//! runs.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use super::{fail, State};
use crate::driver::args;

/// The step.
#[derive(Default)]
pub struct StepRun {
    /// `headless`.
    pub headless: bool,
    /// The VM this step started.
    started: Option<String>,
}

impl StepRun {
    /// The step, `headless` or with a GUI.
    pub fn new(headless: bool) -> StepRun {
        StepRun {
            headless,
            started: None,
        }
    }
}

#[async_trait]
impl Step<State> for StepRun {
    fn name(&self) -> &'static str {
        "StepRun"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Starting the virtual machine...");
        let kind = if self.headless {
            match &st.vrdp {
                Some((ip, port)) => ctx.ui.message(&format!(
                    "The VM will be run headless, without a GUI. If you want to\nview the screen of the VM, connect via VRDP without a password to\nrdp://{ip}:{port}"
                )),
                None => ctx.ui.message(
                    "The VM will be run headless, without a GUI, as configured.\nIf the run isn't succeeding as you expect, please enable the GUI\nto inspect the progress of the build.",
                ),
            }
            "headless"
        } else {
            "gui"
        };
        st.driver
            .vboxmanage(&args(["startvm", &st.vm_name, "--type", kind]))
            .await
            .map_err(|e| fail(ctx, format!("Error starting VM: {e}")))?;
        self.started = Some(st.vm_name.clone());
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        let Some(vm) = self.started.take() else {
            return Ok(());
        };
        if st.driver.is_running(&vm).await.unwrap_or(false) {
            if let Err(e) = st.driver.stop(&vm).await {
                ctx.ui.error(&format!("Error shutting down VM: {e}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};
    use crate::driver::Driver;

    #[tokio::test]
    async fn starts_and_powers_off_at_cleanup_only_when_still_running() {
        let (mut st, f, ctx) = state("vm");
        let mut s = StepRun::new(true);
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(f.calls(), vec![v(&["startvm", "vm", "--type", "headless"])]);
        assert!(f.running("vm"));
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(!f.running("vm"));
        assert_eq!(
            f.calls_of("controlvm"),
            vec![v(&["controlvm", "vm", "poweroff"])]
        );
        // Already stopped: only the question.
        let mut s = StepRun::new(false);
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            f.calls().last().unwrap(),
            &v(&["startvm", "vm", "--type", "gui"])
        );
        f.stop("vm").await.unwrap();
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert_eq!(f.calls_of("controlvm").len(), 2);
        assert_eq!(f.calls().last().unwrap()[0], "showvminfo");
    }

    #[tokio::test]
    async fn a_failed_start_leaves_nothing_to_stop() {
        let (mut st, f, ctx) = state("vm");
        f.fail_on(
            "startvm",
            "VBoxManage: error: no hardware virtualization",
            1,
        );
        let mut s = StepRun::new(true);
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error starting VM: VBoxManage error:"),
            "{e}"
        );
        s.cleanup(
            &ctx,
            &mut st,
            Outcome {
                halted: true,
                cancelled: false,
            },
        )
        .await
        .unwrap();
        assert_eq!(f.calls().len(), 1);
    }
}
