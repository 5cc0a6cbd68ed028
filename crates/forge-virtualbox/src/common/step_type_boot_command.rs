//! StepTypeBootCommand: waits `boot_wait`, then types `boot_command` as PC scancodes through
//! `VBoxManage controlvm <vm> keyboardputscancode`, 25 codes at a time.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use forge_commonsteps::bootcommand::pc_xt::{PcXtSender, ScancodeSink};
use forge_commonsteps::bootcommand::{parse, type_actions};
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::{fail, State};
use crate::driver::Driver;

/// How many scancodes go in one `keyboardputscancode`.
pub const CHUNK: usize = 25;

/// The step.
pub struct StepTypeBootCommand {
    /// `boot_command`, joined.
    pub command: String,
    /// `boot_wait`.
    pub wait: Duration,
    /// `boot_keygroup_interval`: the pause after each group of codes.
    pub group_interval: Duration,
}

/// Sends scancodes to one VM.
struct VmKeyboard {
    driver: Arc<dyn Driver>,
    vm: String,
}

#[async_trait]
impl ScancodeSink for VmKeyboard {
    async fn send(&mut self, codes: &[u8]) -> std::result::Result<(), String> {
        let mut a = crate::driver::args(["controlvm", &self.vm, "keyboardputscancode"]);
        a.extend(codes.iter().map(|c| format!("{c:02x}")));
        self.driver
            .vboxmanage(&a)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Step<State> for StepTypeBootCommand {
    fn name(&self) -> &'static str {
        "StepTypeBootCommand"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if !self.wait.is_zero() {
            ctx.ui.say(&format!(
                "Waiting {} for boot...",
                forge_template::gocompat::duration::format_std(self.wait)
            ));
            ctx.sleep(self.wait).await?;
        }
        let mut data = st.template_data();
        data.insert(
            "SSHPublicKey".into(),
            st.temp_key
                .as_ref()
                .map(|k| k.public.clone())
                .unwrap_or_default(),
        );
        let mut sender = PcXtSender::new(
            VmKeyboard {
                driver: st.driver.clone(),
                vm: st.vm_name.clone(),
            },
            CHUNK,
            self.group_interval,
        );
        ctx.ui.say("Typing the boot command...");
        let rendered = forge_core::render::render(&self.command, &data, &[])
            .map_err(|e| fail(ctx, format!("Error preparing boot command: {e}")))?;
        let actions = parse(&rendered)
            .map_err(|e| fail(ctx, format!("Error generating boot command: {e}")))?;
        type_actions(&mut sender, &actions, &ctx.cancel)
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
    use super::*;
    use crate::common::testing::state;

    #[tokio::test]
    async fn types_rendered_scancodes_in_chunks() {
        let (mut st, f, ctx) = state("vm");
        let mut s = StepTypeBootCommand {
            command: "ab<enter>{{ .Name }}".into(),
            wait: Duration::ZERO,
            group_interval: Duration::ZERO,
        };
        s.run(&ctx, &mut st).await.unwrap();
        let codes: Vec<String> = f
            .calls_of("controlvm")
            .iter()
            .flat_map(|c| {
                assert_eq!(c[1..3], ["vm", "keyboardputscancode"]);
                assert!(c.len() - 3 <= CHUNK);
                c[3..].to_vec()
            })
            .collect();
        // a, b, enter, v, m: make and break codes.
        assert_eq!(
            codes,
            ["1e", "9e", "30", "b0", "1c", "9c", "2f", "af", "32", "b2"]
        );
        f.fail_on("controlvm", "VBoxManage: error: not running", 1);
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string().starts_with("Error running boot command:"),
            "{e}"
        );
    }
}
