//! StepShutdown: `shutdown_command` through the communicator, or a guest shutdown through
//! VMware Tools (or, with `disable_shutdown`, nothing), then waits up to `shutdown_timeout`
//! for the VM to power off. A VM that stays on fails the build, naming it.

use std::time::Duration;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};
use tokio::time::Instant;

use super::State;

pub(super) struct StepShutdown;

#[async_trait]
impl Step<State> for StepShutdown {
    fn name(&self) -> &'static str {
        "StepShutdown"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let client = st.client()?;
        let vm = st.vm()?;
        if client.power_state(&vm).await? == "poweredOff" {
            ctx.ui.say("VM is already powered off");
            return Ok(());
        }
        match &st.comm {
            None => ctx.ui.message(&format!(
                "Please shutdown virtual machine within {}.",
                go_duration(c.shutdown_timeout)
            )),
            Some(_) if c.disable_shutdown => ctx
                .ui
                .say("Automatic shutdown disabled. Please shutdown virtual machine."),
            Some(comm) if !c.shutdown_command.is_empty() => {
                ctx.ui.say("Executing shutdown command...");
                // The connection may drop as the guest goes down: only a command that could
                // not start, on a VM still on, is an error.
                let cmd = c.shutdown_command.clone();
                if let Err(e) = comm
                    .exec(ctx, &cmd, &mut |_, l| tracing::debug!("shutdown: {l}"))
                    .await
                {
                    if matches!(e, Error::Cancelled) {
                        return Err(e);
                    }
                    if client.power_state(&vm).await? != "poweredOff" {
                        return Err(Error::msg(format!("Failed to send shutdown command: {e}")));
                    }
                }
                comm.disconnect().await;
            }
            Some(_) => {
                ctx.ui.say("Shutting down VM...");
                client
                    .shutdown_guest(&vm)
                    .await
                    .map_err(|e| Error::msg(format!("Cannot shut down VM: {e}")))?;
            }
        }
        let deadline = Instant::now() + c.shutdown_timeout;
        loop {
            if client.power_state(&vm).await? == "poweredOff" {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::msg(format!(
                    "Timeout while waiting for machine to shut down: {} is still powered on after {}",
                    st.vm_path,
                    go_duration(c.shutdown_timeout)
                )));
            }
            ctx.sleep(Duration::from_millis(500).min(deadline - now))
                .await?;
        }
    }
}

fn go_duration(d: Duration) -> String {
    forge_template::gocompat::duration::format_std(d)
}
