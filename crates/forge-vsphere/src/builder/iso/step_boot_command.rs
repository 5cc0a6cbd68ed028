//! StepBootCommand (vsphere-iso): after `boot_wait`, the boot command is typed on the VM's
//! console through `PutUsbScanCodes`, one key event a call, as packer-plugin-vsphere does:
//! forge-commonsteps' StepTypeBootCommand renders and parses it (`{{ .HTTPIP }}`,
//! `{{ .HTTPPort }}`, `{{ .Name }}`), and its [`UsbSender`] turns the keys into Packer's
//! keystrokes (HID usage, left control/alt/shift). A call that fails is tried once more after
//! `boot_keygroup_interval`, as in Packer. Nothing to clean up.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use forge_commonsteps::bootcommand::usb::{Keystroke, UsbSender, UsbSink};
use forge_commonsteps::bootcommand::{key_interval, KeySender};
use forge_commonsteps::{BootCommandState, Keyboard};
use forge_core::plugin::{BuildCtx, BuildData};
use forge_core::ui::Ui;
use forge_core::Result;

use super::super::State;
use crate::{Client, Moref};

impl BootCommandState for State {
    fn boot_data(&self) -> BuildData {
        let mut d = BuildData::new();
        d.insert("HTTPIP".into(), self.iso.http_ip.clone());
        d.insert(
            "HTTPPort".into(),
            self.iso.media.http_port.unwrap_or(0).to_string(),
        );
        d.insert("Name".into(), self.config.vm_name.clone());
        d
    }
}

/// The VM's console keyboard.
pub(super) struct Console {
    /// `boot_keygroup_interval`.
    pub interval: Duration,
}

#[async_trait]
impl Keyboard<State> for Console {
    async fn connect(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<Box<dyn KeySender>> {
        if let Some(port) = st.iso.media.http_port.filter(|p| *p > 0) {
            ctx.ui.say(&format!(
                "HTTP server is working at http://{}:{port}/",
                st.iso.http_ip
            ));
        }
        ctx.ui.say("Typing boot command...");
        let interval = key_interval(self.interval);
        let sink = VmKeys {
            client: st.client()?,
            vm: st.vm()?,
            ui: ctx.ui.clone(),
            retry_after: self.interval,
        };
        Ok(Box::new(UsbSender::new(sink, interval)))
    }
}

/// Sends each keystroke to the VM.
struct VmKeys {
    client: Arc<Client>,
    vm: Moref,
    ui: Ui,
    retry_after: Duration,
}

#[async_trait]
impl UsbSink for VmKeys {
    async fn send(&mut self, k: Keystroke) -> std::result::Result<(), String> {
        let key = [(k.hid_code(), k.ctrl, k.alt, k.shift)];
        if let Err(e) = self.client.put_usb_scan_codes(&self.vm, &key).await {
            self.ui.error(&format!(
                "error typing a boot command (usage {:#04x}): {e}",
                k.usage
            ));
            self.ui.say("trying key input again");
            tokio::time::sleep(self.retry_after).await;
            self.client
                .put_usb_scan_codes(&self.vm, &key)
                .await
                .map_err(|e| {
                    format!("error typing a boot command (usage {:#04x}): {e}", k.usage)
                })?;
        }
        Ok(())
    }
}
