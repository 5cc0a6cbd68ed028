//! StepRemoveDevices: before export, ejects the floppy and removes its controller (VirtualBox
//! may hold it for a while after shutdown: retried), and ejects the DVDs StepAttachISOs
//! attached.

use std::time::Duration;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::step_attach_floppy::eject;
use super::{fail, State};
use crate::driver::args;

/// The step.
pub struct StepRemoveDevices {
    /// How often the floppy controller's removal is tried (40).
    pub tries: usize,
    /// The pause between tries (15s).
    pub retry_delay: Duration,
    /// Whether the boot ISO stays attached (`bundle_iso`, virtualbox-iso).
    pub keep_boot_iso: bool,
}

impl Default for StepRemoveDevices {
    fn default() -> Self {
        StepRemoveDevices {
            tries: 40,
            retry_delay: Duration::from_secs(15),
            keep_boot_iso: false,
        }
    }
}

#[async_trait]
impl Step<State> for StepRemoveDevices {
    fn name(&self) -> &'static str {
        "StepRemoveDevices"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let vm = st.vm_name.clone();
        if st.media.floppy_path.is_some() {
            ctx.ui.message("Removing floppy drive...");
            st.driver
                .vboxmanage(&eject(&vm))
                .await
                .map_err(|e| fail(ctx, format!("Error removing floppy: {e}")))?;
            let remove = args(["storagectl", &vm, "--name", "Floppy Controller", "--remove"]);
            let mut tries = 0;
            loop {
                tries += 1;
                match st.driver.vboxmanage(&remove).await {
                    Ok(_) => break,
                    Err(e) if tries >= self.tries => {
                        return Err(fail(ctx, format!("Error removing floppy controller: {e}")))
                    }
                    Err(_) => {
                        tracing::info!("Error removing floppy controller. Retrying.");
                        ctx.sleep(self.retry_delay).await?;
                    }
                }
            }
        }
        for (what, c) in &st.unmount_commands {
            if *what == "boot_iso" && self.keep_boot_iso {
                continue;
            }
            st.driver
                .vboxmanage(c)
                .await
                .map_err(|e| fail(ctx, format!("Error detaching ISO: {e}")))?;
        }
        st.isos_detached = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};

    #[tokio::test]
    async fn ejects_floppy_retrying_the_controller_and_the_dvds() {
        let (mut st, f, ctx) = state("vm");
        st.media.floppy_path = Some("/tmp/x.vfd".into());
        st.unmount_commands = vec![(
            "cd_files",
            v(&[
                "storageattach",
                "vm",
                "--storagectl",
                "IDE Controller",
                "--port",
                "1",
                "--device",
                "1",
                "--type",
                "dvddrive",
                "--medium",
                "none",
            ]),
        )];
        f.fail_on("storagectl", "VBoxManage: error: busy", 2);
        let mut s = StepRemoveDevices {
            retry_delay: Duration::ZERO,
            ..Default::default()
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(f.calls_of("storagectl").len(), 3);
        assert_eq!(f.calls_of("storageattach").len(), 2);
        assert!(st.isos_detached);
        f.fail_on("storagectl", "VBoxManage: error: busy", 5);
        let mut s = StepRemoveDevices {
            tries: 3,
            retry_delay: Duration::ZERO,
            ..Default::default()
        };
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error removing floppy controller"),
            "{e}"
        );
    }
}
