//! VirtualBox's keyboard for forge-commonsteps' StepTypeBootCommand: PC scancodes through
//! `VBoxManage controlvm <vm> keyboardputscancode`, 25 codes at a time.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use forge_commonsteps::bootcommand::pc_xt::{PcXtSender, ScancodeSink};
use forge_commonsteps::bootcommand::KeySender;
use forge_commonsteps::{BootCommandState, Keyboard};
use forge_core::plugin::{BuildCtx, BuildData};
use forge_core::Result;

use super::State;
use crate::driver::Driver;

/// How many scancodes go in one `keyboardputscancode`.
pub const CHUNK: usize = 25;

/// The step: Packer's StepTypeBootCommand over [`VBoxKeyboard`].
pub type StepTypeBootCommand = forge_commonsteps::StepTypeBootCommand<VBoxKeyboard>;

/// The step for `command` (`boot_command`, joined), typed after `wait` (`boot_wait`), pausing
/// `group_interval` (`boot_keygroup_interval`) after each group of codes.
pub fn step(command: String, wait: Duration, group_interval: Duration) -> StepTypeBootCommand {
    StepTypeBootCommand {
        name: "StepTypeBootCommand",
        command: Some(command),
        wait,
        keyboard: VBoxKeyboard { group_interval },
    }
}

/// The keyboard of the build's VM.
pub struct VBoxKeyboard {
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
impl Keyboard<State> for VBoxKeyboard {
    async fn connect(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<Box<dyn KeySender>> {
        let sender = PcXtSender::new(
            VmKeyboard {
                driver: st.driver.clone(),
                vm: st.vm_name.clone(),
            },
            CHUNK,
            self.group_interval,
        );
        ctx.ui.say("Typing the boot command...");
        Ok(Box::new(sender))
    }
}

impl BootCommandState for State {
    fn boot_data(&self) -> BuildData {
        let mut data = self.template_data();
        data.insert(
            "SSHPublicKey".into(),
            self.temp_key
                .as_ref()
                .map(|k| k.public.clone())
                .unwrap_or_default(),
        );
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::state;
    use forge_core::runner::Step;

    #[tokio::test]
    async fn types_rendered_scancodes_in_chunks() {
        let (mut st, f, ctx) = state("vm");
        let mut s = step(
            "ab<enter>{{ .Name }}".into(),
            Duration::ZERO,
            Duration::ZERO,
        );
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
