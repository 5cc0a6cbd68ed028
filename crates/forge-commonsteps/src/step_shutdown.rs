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
    pub machine_name: String,
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
                            self.machine_name,
                            forge_template::gocompat::duration::format_std(self.timeout)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use forge_core::plugin::{BuildData, Communicator};
    use forge_core::testing::FakeComm;

    use super::*;

    /// A machine that stops `stops_after` polls after the shutdown command (never: `None`).
    struct Machine {
        polls: usize,
        stops_after: Option<usize>,
        stopped: bool,
    }

    #[async_trait]
    impl ShutdownDriver for Machine {
        async fn is_running(&mut self) -> Result<bool> {
            self.polls += 1;
            Ok(!self.stopped && self.stops_after.is_none_or(|n| self.polls <= n))
        }
        async fn stop(&mut self) -> Result<()> {
            self.stopped = true;
            Ok(())
        }
    }

    struct State {
        comm: Option<Arc<FakeComm>>,
        machine: Option<Machine>,
    }

    impl ProvisionState for State {
        fn communicator(&self) -> Option<Arc<dyn Communicator>> {
            self.comm.clone().map(|c| c as Arc<dyn Communicator>)
        }
        fn build_data(&self, _: &BuildCtx) -> BuildData {
            BuildData::new()
        }
    }

    impl ShutdownState for State {
        fn machine(&mut self) -> Option<&mut dyn ShutdownDriver> {
            self.machine.as_mut().map(|m| m as &mut dyn ShutdownDriver)
        }
    }

    fn step(command: &str, timeout: Duration) -> StepShutdown {
        StepShutdown {
            command: command.into(),
            timeout,
            machine_name: "qemu".into(),
        }
    }

    fn machine(stops_after: Option<usize>) -> Option<Machine> {
        Some(Machine {
            polls: 0,
            stops_after,
            stopped: false,
        })
    }

    #[tokio::test]
    async fn command_then_wait_or_stop() {
        let ctx = BuildCtx::for_test("qemu.test");
        // The command runs and the machine stops by itself.
        let comm = Arc::new(FakeComm::new());
        let mut st = State {
            comm: Some(comm.clone()),
            machine: machine(Some(2)),
        };
        let mut s = step("poweroff", Duration::from_secs(60));
        Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap();
        assert_eq!(comm.commands(), ["poweroff"]);
        let m = st.machine.as_ref().unwrap();
        assert_eq!((m.polls, m.stopped), (3, false));

        // It never stops: the timeout is an error naming the machine.
        let mut st = State {
            comm: Some(Arc::new(FakeComm::new())),
            machine: machine(None),
        };
        let mut s = step("poweroff", Duration::from_millis(150));
        let e = Step::<State>::run(&mut s, &ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string().contains(
                "Failed to shutdown: qemu still runs 150ms after the shutdown command \"poweroff\""
            ),
            "{e}"
        );

        // Without a command (or a communicator) the machine is stopped.
        for (cmd, comm) in [("", Some(Arc::new(FakeComm::new()))), ("poweroff", None)] {
            let mut st = State {
                comm,
                machine: machine(None),
            };
            Step::<State>::run(&mut step(cmd, Duration::ZERO), &ctx, &mut st)
                .await
                .unwrap();
            assert!(st.machine.as_ref().unwrap().stopped, "{cmd:?}");
        }

        // Nothing started: nothing to do.
        let mut st = State {
            comm: None,
            machine: None,
        };
        Step::<State>::run(&mut step("", Duration::ZERO), &ctx, &mut st)
            .await
            .unwrap();
    }
}
