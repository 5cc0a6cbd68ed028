//! stepShutdown: `shutdown_command` through the communicator, then waiting up to
//! `shutdown_timeout` for qemu to end; without a command, qemu is stopped.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepShutdown;

#[async_trait]
impl Step<State> for StepShutdown {
    fn name(&self) -> &'static str {
        "stepShutdown"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let cmd = c.args.shutdown_command.clone().unwrap_or_default();
        let comm = st.comm.clone();
        let Some(qemu) = st.qemu.as_mut() else {
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
                while qemu.exited().is_none() {
                    if start.elapsed() > c.shutdown_timeout {
                        let m = format!(
                            "Failed to shutdown: qemu still runs {} after the shutdown command {cmd:?}",
                            forge_template::gocompat::duration::format_std(c.shutdown_timeout)
                        );
                        ctx.ui.error(&m);
                        return Err(Error::msg(m));
                    }
                    ctx.sleep(Duration::from_millis(100)).await?;
                }
            }
            _ => {
                ctx.ui.say("Halting the virtual machine...");
                qemu.stop().await;
            }
        }
        Ok(())
    }
}
