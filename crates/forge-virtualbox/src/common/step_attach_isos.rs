//! StepAttachISOs: the DVDs the build needs (the boot ISO for builders that boot one, the
//! guest additions with `guest_additions_mode = "attach"`, the cd_files image), each on its
//! controller's port; cleanup (or StepRemoveDevices, before export) ejects them.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use super::config::GuestAdditionsMode;
use super::{fail, State};

/// The step.
pub struct StepAttachIsos {
    /// Whether the source (`source_path`) is a boot ISO to attach (virtualbox-iso).
    pub attach_boot_iso: bool,
    /// `iso_interface`: `ide` or `sata`.
    pub iso_interface: String,
    /// `guest_additions_mode`.
    pub guest_additions_mode: GuestAdditionsMode,
    /// `guest_additions_interface`.
    pub guest_additions_interface: String,
}

/// A DVD's controller, port and device.
fn slot(what: &str, iso_sata: bool, ga_sata: bool) -> (&'static str, &'static str, &'static str) {
    match (what, iso_sata, ga_sata) {
        ("boot_iso", true, _) => ("SATA Controller", "1", "0"),
        ("boot_iso", false, _) => ("IDE Controller", "0", "1"),
        ("guest_additions", _, true) => ("SATA Controller", "2", "0"),
        ("guest_additions", _, false) => ("IDE Controller", "1", "0"),
        (_, true, _) => ("SATA Controller", "3", "0"),
        _ => ("IDE Controller", "1", "1"),
    }
}

fn attach(vm: &str, (ctl, port, dev): (&str, &str, &str), medium: &str) -> Vec<String> {
    crate::driver::args([
        "storageattach",
        vm,
        "--storagectl",
        ctl,
        "--port",
        port,
        "--device",
        dev,
        "--type",
        "dvddrive",
        "--medium",
        medium,
    ])
}

#[async_trait]
impl Step<State> for StepAttachIsos {
    fn name(&self) -> &'static str {
        "StepAttachISOs"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Mounting ISOs...");
        let mut disks: Vec<(&'static str, String)> = Vec::new();
        if self.attach_boot_iso {
            disks.push(("boot_iso", st.source_path.clone()));
        }
        if self.guest_additions_mode == GuestAdditionsMode::Attach {
            disks.push((
                "guest_additions",
                st.guest_additions_path.clone().unwrap_or_default(),
            ));
        } else {
            tracing::info!("Not attaching guest additions since we're uploading.");
        }
        if let Some(cd) = &st.media.cd_path {
            disks.push(("cd_files", cd.clone()));
        }
        if disks.is_empty() {
            ctx.ui.message("No ISOs to mount; continuing...");
            return Ok(());
        }
        let (iso_sata, ga_sata) = (
            self.iso_interface == "sata",
            self.guest_additions_interface == "sata",
        );
        for (what, path) in disks {
            let path = std::fs::canonicalize(&path)
                .map_err(|e| fail(ctx, format!("Error resolving symlink for ISO: {e}")))?;
            ctx.ui.message(match what {
                "boot_iso" => "Mounting boot ISO...",
                "guest_additions" => "Mounting guest additions ISO...",
                _ => "Mounting cd_files ISO...",
            });
            let s = slot(what, iso_sata, ga_sata);
            st.driver
                .vboxmanage(&attach(&st.vm_name, s, &path.to_string_lossy()))
                .await
                .map_err(|e| fail(ctx, format!("Error attaching ISO: {e}")))?;
            st.unmount_commands
                .push((what, attach(&st.vm_name, s, "none")));
        }
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        if st.isos_detached {
            return Ok(());
        }
        for (_, c) in std::mem::take(&mut st.unmount_commands) {
            if let Err(e) = st.driver.vboxmanage(&c).await {
                tracing::warn!("error detaching iso: {e}");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};

    fn step(mode: GuestAdditionsMode) -> StepAttachIsos {
        StepAttachIsos {
            attach_boot_iso: false,
            iso_interface: "ide".into(),
            guest_additions_mode: mode,
            guest_additions_interface: "sata".into(),
        }
    }

    #[tokio::test]
    async fn attaches_guest_additions_and_cd_and_ejects_them_at_cleanup() {
        let (mut st, f, ctx) = state("vm");
        let dir = std::env::temp_dir().join(format!("vbox-iso-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ga, cd) = (dir.join("ga.iso"), dir.join("cd.iso"));
        std::fs::write(&ga, "").unwrap();
        std::fs::write(&cd, "").unwrap();
        st.guest_additions_path = Some(ga.to_string_lossy().into());
        st.media.cd_path = Some(cd.to_string_lossy().into());
        let mut s = step(GuestAdditionsMode::Attach);
        s.run(&ctx, &mut st).await.unwrap();
        let ga_s = ga.to_string_lossy();
        assert_eq!(
            f.calls(),
            vec![
                v(&[
                    "storageattach",
                    "vm",
                    "--storagectl",
                    "SATA Controller",
                    "--port",
                    "2",
                    "--device",
                    "0",
                    "--type",
                    "dvddrive",
                    "--medium",
                    &ga_s
                ]),
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
                    &cd.to_string_lossy()
                ]),
            ]
        );
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        let calls = f.calls();
        assert_eq!(calls.len(), 4);
        assert!(calls[2..].iter().all(|c| c.last().unwrap() == "none"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn nothing_to_mount_and_a_failure() {
        let (mut st, f, ctx) = state("vm");
        let mut s = step(GuestAdditionsMode::Upload);
        s.run(&ctx, &mut st).await.unwrap();
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(f.calls().is_empty());
        st.media.cd_path = Some("/".into());
        f.fail_on("storageattach", "VBoxManage: error: busy", 1);
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error attaching ISO: VBoxManage error: VBoxManage: error: busy"
        );
        s.cleanup(
            &ctx,
            &mut st,
            Outcome {
                halted: true,
                cancelled: false,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            f.calls().len(),
            1,
            "nothing was attached, nothing is ejected"
        );
    }
}
