//! StepShutdown: `shutdown_command` and the wait for the VM to stop, or `controlvm poweroff`,
//! through forge-commonsteps' shutdown step (the VM is its [`ShutdownDriver`]); or the ACPI
//! power button (`acpi_shutdown`), or nothing but the wait (`disable_shutdown`). Then
//! `post_shutdown_delay` lets VirtualBox release its locks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_commonsteps::{ShutdownDriver, ShutdownState, StepShutdown as CommonShutdown};
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::{fail, State};
use crate::driver::Driver;

/// A VM as the common shutdown step sees it.
pub struct Machine {
    driver: Arc<dyn Driver>,
    vm: String,
}

impl Machine {
    /// The VM `vm`.
    pub fn new(driver: Arc<dyn Driver>, vm: &str) -> Machine {
        Machine {
            driver,
            vm: vm.into(),
        }
    }
}

#[async_trait]
impl ShutdownDriver for Machine {
    async fn is_running(&mut self) -> Result<bool> {
        // A VM VirtualBox cannot describe is not running.
        Ok(self.driver.is_running(&self.vm).await.unwrap_or(false))
    }
    async fn stop(&mut self) -> Result<()> {
        self.driver.stop(&self.vm).await?;
        while self.is_running().await? {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }
}

impl ShutdownState for State {
    fn machine(&mut self) -> Option<&mut dyn ShutdownDriver> {
        if self.machine.is_none() && !self.vm_name.is_empty() {
            self.machine = Some(Machine::new(self.driver.clone(), &self.vm_name));
        }
        self.machine.as_mut().map(|m| m as &mut dyn ShutdownDriver)
    }
}

/// The step.
pub struct StepShutdown {
    /// `shutdown_command`, `shutdown_timeout`.
    pub common: CommonShutdown,
    /// `post_shutdown_delay`.
    pub delay: Duration,
    /// `acpi_shutdown`.
    pub acpi: bool,
    /// `disable_shutdown`.
    pub disabled: bool,
}

impl StepShutdown {
    /// Waits until the VM stops, or fails after the timeout.
    async fn wait(&self, ctx: &BuildCtx, st: &State) -> Result<()> {
        tracing::info!(
            "Waiting max {:?} for shutdown to complete",
            self.common.timeout
        );
        let start = Instant::now();
        while st.driver.is_running(&st.vm_name).await.unwrap_or(false) {
            if start.elapsed() > self.common.timeout {
                return Err(fail(
                    ctx,
                    "Timeout while waiting for machine to shutdown.".into(),
                ));
            }
            ctx.sleep(Duration::from_millis(500)).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Step<State> for StepShutdown {
    fn name(&self) -> &'static str {
        "StepShutdown"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.acpi {
            ctx.ui
                .say("Shuting down the virtual machine via ACPI power button...");
            st.driver
                .stop_via_acpi(&st.vm_name)
                .await
                .map_err(|e| fail(ctx, format!("Error stopping VM: {e}")))?;
            self.wait(ctx, st).await?;
        } else if self.disabled {
            ctx.ui
                .say("Automatic shutdown disabled. Please shutdown virtual machine.");
            self.wait(ctx, st).await?;
        } else {
            self.common.run(ctx, st).await?;
        }
        if !self.delay.is_zero() {
            tracing::info!(
                "Delay for {:?} after shutdown to allow locks to clear...",
                self.delay
            );
            ctx.sleep(self.delay).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};
    use forge_core::testing::{Call, FakeComm, Reply};
    use std::sync::Arc;

    fn step(command: &str) -> StepShutdown {
        StepShutdown {
            common: CommonShutdown {
                command: command.into(),
                timeout: Duration::from_secs(5),
                machine_name: "VirtualBox VM".into(),
            },
            delay: Duration::ZERO,
            acpi: false,
            disabled: false,
        }
    }

    #[tokio::test]
    async fn powers_off_without_a_command() {
        let (mut st, f, ctx) = state("vm");
        f.run(&v(&["startvm", "vm"])).await.unwrap();
        step("").run(&ctx, &mut st).await.unwrap();
        assert!(!f.running("vm"));
        assert_eq!(
            f.calls_of("controlvm"),
            vec![v(&["controlvm", "vm", "poweroff"])]
        );
    }

    #[tokio::test]
    async fn runs_the_command_and_waits() {
        let (mut st, f, ctx) = state("vm");
        f.run(&v(&["startvm", "vm"])).await.unwrap();
        // The "guest" halts when it gets the command.
        let f2 = f.clone();
        let comm = Arc::new(FakeComm::scripted(move |call, _| {
            if let Call::Exec(cmd) = call {
                assert_eq!(cmd, "sudo halt");
                let f = f2.clone();
                tokio::spawn(async move { f.run(&v(&["controlvm", "vm", "poweroff"])).await });
            }
            Reply::code(0)
        }));
        st.comm = Some(comm.clone());
        step("sudo halt").run(&ctx, &mut st).await.unwrap();
        assert_eq!(comm.commands(), vec!["sudo halt".to_string()]);
        assert!(!f.running("vm"));
    }

    #[tokio::test]
    async fn acpi_times_out_when_the_guest_ignores_it() {
        let (mut st, f, ctx) = state("vm");
        f.run(&v(&["startvm", "vm"])).await.unwrap();
        let mut s = step("");
        s.acpi = true;
        s.common.timeout = Duration::from_millis(10);
        // The fake honours the button: it stops.
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            f.calls_of("controlvm"),
            vec![v(&["controlvm", "vm", "acpipowerbutton"])]
        );
        // Disabled: the VM keeps running, the wait times out.
        f.run(&v(&["startvm", "vm"])).await.unwrap();
        let mut s = step("");
        s.disabled = true;
        s.common.timeout = Duration::from_millis(10);
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Timeout while waiting for machine to shutdown."
        );
    }
}
