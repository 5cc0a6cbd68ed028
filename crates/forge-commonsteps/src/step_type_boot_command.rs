//! stepTypeBootCommand for any builder: waits `boot_wait`, then renders `boot_command` with
//! the builder's data, parses it and types it through the [`KeySender`] the builder's
//! [`Keyboard`] connects (VNC, PC scancodes, USB HID).

use std::time::Duration;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData};
use forge_core::runner::Step;
use forge_core::{Error, Result};

use crate::bootcommand::{parse, type_actions, KeySender};

/// A builder state the boot command is rendered with.
pub trait BootCommandState: Send {
    /// The boot command's template data (`HTTPIP`, `HTTPPort`, `Name`, `SSHPublicKey`, ...).
    fn boot_data(&self) -> BuildData;
}

/// How a builder reaches the machine's keyboard.
#[async_trait]
pub trait Keyboard<S>: Send + Sync {
    /// Connects to the keyboard of the machine in `st`, saying what it does on the UI;
    /// failures are reported on the UI too.
    async fn connect(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<Box<dyn KeySender>>;
}

/// Types the boot command.
pub struct StepTypeBootCommand<K> {
    /// The step's name (Packer's builders spell it differently).
    pub name: &'static str,
    /// `boot_command`, joined; `None`: nothing is typed and there is no wait either.
    pub command: Option<String>,
    /// `boot_wait`.
    pub wait: Duration,
    /// The keyboard.
    pub keyboard: K,
}

/// Reports `m` on the UI and returns it as the step's error.
fn fail(ctx: &BuildCtx, m: String) -> Error {
    ctx.ui.error(&m);
    Error::msg(m)
}

#[async_trait]
impl<S: BootCommandState, K: Keyboard<S>> Step<S> for StepTypeBootCommand<K> {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut S) -> Result<()> {
        let Some(command) = &self.command else {
            return Ok(());
        };
        if !self.wait.is_zero() {
            ctx.ui.say(&format!(
                "Waiting {} for boot...",
                forge_template::gocompat::duration::format_std(self.wait)
            ));
            ctx.sleep(self.wait).await?;
        }
        let mut sender = self.keyboard.connect(ctx, st).await?;
        let rendered = forge_core::render::render(command, &st.boot_data(), &[])
            .map_err(|e| fail(ctx, format!("Error preparing boot command: {e}")))?;
        let actions = parse(&rendered)
            .map_err(|e| fail(ctx, format!("Error generating boot command: {e}")))?;
        type_actions(sender.as_mut(), &actions, &ctx.cancel)
            .await
            .map_err(|e| {
                if ctx.cancel.is_cancelled() {
                    Error::Cancelled
                } else {
                    fail(ctx, format!("Error running boot command: {e}"))
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::bootcommand::Key;

    /// Records what is typed; fails once `fail_after` events were sent.
    struct Recorder {
        events: Arc<Mutex<Vec<String>>>,
        fail_after: Option<usize>,
    }

    impl Recorder {
        fn record(&mut self, e: String) -> std::result::Result<(), String> {
            let mut ev = self.events.lock().unwrap();
            if self.fail_after.is_some_and(|n| ev.len() >= n) {
                return Err("keyboard gone".into());
            }
            ev.push(e);
            Ok(())
        }
    }

    #[async_trait]
    impl KeySender for Recorder {
        async fn key_down(&mut self, key: Key) -> std::result::Result<(), String> {
            self.record(format!("down {key:?}"))
        }
        async fn key_up(&mut self, key: Key) -> std::result::Result<(), String> {
            self.record(format!("up {key:?}"))
        }
    }

    struct State {
        name: String,
        connects: usize,
    }

    impl BootCommandState for State {
        fn boot_data(&self) -> BuildData {
            let mut d = BuildData::new();
            d.insert("Name".into(), self.name.clone());
            d
        }
    }

    struct Kb {
        events: Arc<Mutex<Vec<String>>>,
        fail_after: Option<usize>,
    }

    #[async_trait]
    impl Keyboard<State> for Kb {
        async fn connect(&mut self, _: &BuildCtx, st: &mut State) -> Result<Box<dyn KeySender>> {
            st.connects += 1;
            Ok(Box::new(Recorder {
                events: self.events.clone(),
                fail_after: self.fail_after,
            }))
        }
    }

    fn step(command: Option<&str>, fail_after: Option<usize>) -> StepTypeBootCommand<Kb> {
        StepTypeBootCommand {
            name: "stepTypeBootCommand",
            command: command.map(String::from),
            wait: Duration::ZERO,
            keyboard: Kb {
                events: Arc::default(),
                fail_after,
            },
        }
    }

    #[tokio::test]
    async fn renders_and_types_or_reports() {
        let ctx = BuildCtx::for_test("vm.test");
        let mut st = State {
            name: "z".into(),
            connects: 0,
        };
        let mut s = step(Some("a{{ .Name }}"), None);
        s.run(&ctx, &mut st).await.unwrap();
        let ev = s.keyboard.events.lock().unwrap().clone();
        assert_eq!(ev.len(), 4, "{ev:?}");
        assert!(
            ev[0].starts_with("down") && ev[3].starts_with("up"),
            "{ev:?}"
        );

        // Nothing to type: no keyboard either.
        let mut none = step(None, None);
        none.run(&ctx, &mut st).await.unwrap();
        assert_eq!(st.connects, 1);

        let mut bad = step(Some("{{ .Name"), None);
        let e = bad.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string().starts_with("Error preparing boot command:"),
            "{e}"
        );
        let mut gone = step(Some("abc"), Some(2));
        let e = gone.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(e.to_string(), "Error running boot command: keyboard gone");
    }
}
