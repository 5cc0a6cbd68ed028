//! The `virtualbox-ovf` builder: imports an OVF/OVA into VirtualBox, boots it, provisions it
//! and exports it to `output_directory`, with Packer's steps (builder/virtualbox/ovf/builder.go)
//! and messages.

mod config;
mod step_import;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{StepCleanupTempKeys, StepConnect, StepProvision, StepTempKey};
use forge_core::plugin::{BuildCtx, Builder, Hook, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::Result;
use forge_template::value::Value;

pub use config::Config;
pub use step_import::StepImport;

use crate::common::step_attach_floppy::StepAttachFloppy;
use crate::common::step_attach_isos::StepAttachIsos;
use crate::common::step_configure_vrdp::StepConfigureVrdp;
use crate::common::step_download::StepDownloadGuestAdditions;
use crate::common::step_export::StepExport;
use crate::common::step_port_forwarding::StepPortForwarding;
use crate::common::step_remove_devices::StepRemoveDevices;
use crate::common::step_run::StepRun;
use crate::common::step_shutdown::StepShutdown;
use crate::common::step_suppress_messages::StepSuppressMessages;
use crate::common::step_type_boot_command;
use crate::common::step_upload::{StepUploadGuestAdditions, StepUploadVersion};
use crate::common::step_vboxmanage::StepVBoxManage;
use crate::common::{State, BUILDER_ID};
use crate::driver::{Driver, VBoxManage};
use forge_commonsteps::{StepCreateCd, StepCreateFloppy, StepDownload, StepHttpServer, VmArtifact};

/// The builder.
pub struct OvfBuilder {
    config: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    Ok(Box::new(OvfBuilder {
        config: Config::prepare(v, info)?,
        info: info.clone(),
    }))
}

impl OvfBuilder {
    /// The steps, in Packer's order.
    pub fn steps(&self, hook: Arc<dyn Hook>) -> Vec<Box<dyn Step<State>>> {
        let c = &self.config;
        let m = &c.common;
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(forge_commonsteps::StepOutputDir::new(&m.output_dir)),
            Box::new(StepSuppressMessages),
            Box::new(StepCreateFloppy::new(m.floppy.clone())),
            Box::new(StepCreateCd::new(m.cd.clone())),
            Box::new(StepHttpServer::new(m.http.clone())),
        ];
        if let Some(s) = StepTempKey::wanted(&m.comm, &self.info) {
            steps.push(Box::new(s));
        }
        steps.extend::<[Box<dyn Step<State>>; 11]>([
            Box::new(StepDownloadGuestAdditions {
                mode: m.guest_additions_mode,
                url: m.guest_additions_url.clone(),
                sha256: m.guest_additions_sha256.clone(),
            }),
            Box::new(StepDownload {
                retrieving: "OVF/OVA".into(),
                description: "OVF/OVA".into(),
                extension: "ova".into(),
                urls: vec![c.source_path.clone()],
                checksum: c.checksum.clone(),
                target_path: c.target_path.clone(),
            }),
            Box::new(StepImport::new(
                &c.vm_name,
                c.import_flags.clone(),
                c.keep_registered,
            )),
            Box::new(StepAttachIsos {
                attach_boot_iso: false,
                iso_interface: m.guest_additions_interface.clone(),
                guest_additions_mode: m.guest_additions_mode,
                guest_additions_interface: m.guest_additions_interface.clone(),
            }),
            Box::new(StepConfigureVrdp {
                bind: m.vrdp_bind.clone(),
                ports: m.vrdp_ports,
                lock: None,
            }),
            Box::new(StepAttachFloppy::default()),
            Box::new(StepPortForwarding {
                no_communicator: m.comm.is_none(),
                guest_port: m.guest_port,
                host_ports: m.host_ports,
                skip_nat_mapping: m.skip_nat_mapping,
                lock: None,
            }),
            Box::new(StepVBoxManage {
                commands: m.vboxmanage.clone(),
            }),
            Box::new(StepRun::new(m.headless)),
            Box::new(step_type_boot_command::step(
                m.boot_command.clone(),
                m.boot_wait,
                m.boot_group_interval,
            )),
            Box::new(StepConnect::new(
                m.comm.clone(),
                self.info.clone(),
                |s: &State| Ok(s.comm_address()),
                |s: &mut State, comm| s.comm = Some(comm),
                |s: &State| s.temp_key.clone(),
            )),
        ]);
        steps.extend::<[Box<dyn Step<State>>; 8]>([
            Box::new(StepUploadVersion {
                path: m.version_file.clone(),
            }),
            Box::new(StepUploadGuestAdditions {
                mode: m.guest_additions_mode,
                path: m.guest_additions_path.clone(),
            }),
            Box::new(StepProvision { hook }),
            Box::new(StepCleanupTempKeys {
                clear: m.comm.ssh().is_some_and(|s| s.clear_authorized_keys),
            }),
            Box::new(StepShutdown {
                common: forge_commonsteps::StepShutdown {
                    command: m.shutdown_command.clone(),
                    timeout: m.shutdown_timeout,
                    machine_name: "VirtualBox VM".into(),
                },
                delay: m.post_shutdown_delay,
                acpi: m.acpi_shutdown,
                disabled: m.disable_shutdown,
            }),
            Box::new(StepRemoveDevices::default()),
            Box::new(StepVBoxManage {
                commands: m.vboxmanage_post.clone(),
            }),
            Box::new(StepExport {
                format: m.format.clone(),
                output_dir: m.output_dir.clone(),
                output_filename: m.output_filename.clone(),
                export_opts: m.export_opts.clone(),
                skip: c.skip_export,
            }),
        ]);
        steps
    }

    /// Runs the steps over `driver`.
    pub async fn run_with(
        &self,
        ctx: &BuildCtx,
        hook: Arc<dyn Hook>,
        driver: Arc<dyn Driver>,
    ) -> Result<Option<Arc<dyn Artifact>>> {
        let mut state = State::new(driver, &self.config.common.comm_host);
        let mut steps = self.steps(hook);
        run_steps(ctx, &mut state, &mut steps).await?;
        Ok(Some(Arc::new(VmArtifact::of_dir(
            BUILDER_ID,
            &self.config.common.output_dir,
        ))))
    }
}

#[async_trait]
impl Builder for OvfBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let driver = VBoxManage::find().map_err(|e| {
            forge_core::Error::msg(format!("Failed creating VirtualBox driver: {e}"))
        })?;
        self.run_with(ctx, hook, Arc::new(driver)).await
    }
}

#[cfg(test)]
mod tests {
    use super::config::tests::{info, value};
    use super::*;
    use crate::common::testing::v;
    use crate::fake::FakeDriver;

    /// A hook that provisions nothing.
    struct NoHook;
    #[async_trait]
    impl Hook for NoHook {
        async fn provision(
            &self,
            _: &BuildCtx,
            _: Option<Arc<dyn forge_core::plugin::Communicator>>,
            _: &forge_core::plugin::BuildData,
        ) -> Result<()> {
            Ok(())
        }
        async fn cleanup_provision(
            &self,
            _: &BuildCtx,
            _: Option<Arc<dyn forge_core::plugin::Communicator>>,
            _: &forge_core::plugin::BuildData,
        ) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_build_without_communicator_imports_runs_exports_and_deletes() {
        let dir = std::env::temp_dir().join(format!("vbox-ovf-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let ova = dir.join("src.ova");
        std::fs::write(&ova, "ova").unwrap();
        let out = dir.join("out");
        let cfg = format!(
            r#"{{"source_path":"{}","communicator":"none","virtualbox_version_file":"","guest_additions_mode":"disable",
                "output_directory":"{}","vm_name":"vm","headless":true,"post_shutdown_delay":"1ms","format":"ova",
                "vboxmanage":[["modifyvm","{{{{.Name}}}}","--memory","512"]]}}"#,
            ova.display(),
            out.display()
        );
        let b = OvfBuilder {
            config: Config::prepare(&value(&cfg), &info()).unwrap(),
            info: info(),
        };
        let f = FakeDriver::new();
        let ctx = BuildCtx::for_test("virtualbox-ovf.ovf");
        let a = b
            .run_with(&ctx, Arc::new(NoHook), Arc::new(f.clone()))
            .await
            .unwrap()
            .unwrap();
        let calls: Vec<Vec<String>> = f
            .calls()
            .into_iter()
            .filter(|c| c[0] != "setextradata")
            .collect();
        let vrdp = calls
            .iter()
            .find(|c| c.contains(&"--vrdeport".to_string()))
            .unwrap()
            .clone();
        assert_eq!(
            calls,
            vec![
                v(&[
                    "import",
                    &ova.to_string_lossy(),
                    "--vsys",
                    "0",
                    "--vmname",
                    "vm"
                ]),
                vrdp,
                v(&["modifyvm", "vm", "--memory", "512"]),
                v(&["startvm", "vm", "--type", "headless"]),
                v(&["controlvm", "vm", "poweroff"]),
                v(&["showvminfo", "vm", "--machinereadable"]),
                v(&[
                    "export",
                    "vm",
                    "--output",
                    &out.join("vm.ova").to_string_lossy()
                ]),
                v(&["showvminfo", "vm", "--machinereadable"]),
                v(&["unregistervm", "vm", "--delete"]),
            ]
        );
        assert!(f.registered().is_empty());
        assert_eq!(a.builder_id(), "mitchellh.virtualbox");
        assert!(out.is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
