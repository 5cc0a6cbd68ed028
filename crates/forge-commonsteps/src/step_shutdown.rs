//! stepShutdown: `shutdown_command` through the communicator, then waiting up to
//! `shutdown_timeout` for the machine to stop; without a command, the machine is stopped.
//!
//! The builder's state gives the communicator ([`ProvisionState`]) and the machine, through a
//! [`ShutdownDriver`]; a local process ([`Background`], as qemu is run) is one.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_core::builtin::common::ProvisionState;
use forge_core::local::Background;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

/// What the shutdown step needs of the machine a builder runs.
#[async_trait]
pub trait ShutdownDriver: Send {
    /// Whether the machine still runs.
    async fn is_running(&mut self) -> Result<bool>;
    /// Stops the machine now (pulls the plug).
    async fn stop(&mut self) -> Result<()>;
}

/// A machine run as a local process: it runs until the process ends.
#[async_trait]
impl ShutdownDriver for Background {
    async fn is_running(&mut self) -> Result<bool> {
        Ok(self.exited().is_none())
    }
    async fn stop(&mut self) -> Result<()> {
        Background::stop(self).await;
        Ok(())
    }
}

/// A builder state the shutdown step works on.
pub trait ShutdownState: ProvisionState {
    /// The running machine; `None` when none was started (the step then does nothing).
    fn machine(&mut self) -> Option<&mut dyn ShutdownDriver>;
}

/// Shuts the machine down, gracefully with `command` when there is one and a communicator.
pub struct StepShutdown {
    /// `shutdown_command` (empty: stop the machine).
    pub command: String,
    /// `shutdown_timeout`: how long the machine may take to stop after the command.
    pub timeout: Duration,
    /// What the machine is called in messages (`qemu`).
    pub machine: String,
}

#[async_trait]
impl<S: ShutdownState> Step<S> for StepShutdown {
    fn name(&self) -> &'static str {
        "stepShutdown"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        let cmd = self.command.clone();
        let comm = st.communicator();
        let Some(machine) = st.machine() else {
            return Ok(());
        };
        match (cmd.is_empty(), comm) {
            (false, Some(comm)) => {
                ctx.ui.say("Gracefully halting virtual machine...");
                // The connection may drop as the guest goes down: only a refusal to start the
                // command is an error.
                if let Err(e) = comm
                    .exec(ctx, &cmd, &mut |_, l| tracing::debug!("shutdown: {l}"))
                    .await
                {
                    if matches!(e, Error::Cancelled) {
                        return Err(e);
                    }
                    tracing::debug!("shutdown command ended with: {e}");
                }
                comm.disconnect().await;
                ctx.ui.say("Waiting for shutdown...");
                let start = Instant::now();
                while machine.is_running().await? {
                    if start.elapsed() > self.timeout {
                        let m = format!(
                            "Failed to shutdown: {} still runs {} after the shutdown command {cmd:?}",
                            self.machine,
                            forge_template::upgrade::go_duration(self.timeout)
                        );
                        ctx.ui.error(&m);
                        return Err(Error::msg(m));
                    }
                    ctx.sleep(Duration::from_millis(100)).await?;
                }
            }
            _ => {
                ctx.ui.say("Halting the virtual machine...");
                machine.stop().await?;
            }
        }
        Ok(())
    }
}
