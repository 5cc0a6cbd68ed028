//! StepAddCDRom and StepRemoveCDRom. `iso_paths` is refused at prepare time for now, so the
//! first changes nothing and says what Packer says. The second says Packer's message and, with
//! `remove_cdrom`, removes every CD-ROM drive of the VM in one reconfiguration. (Packer also
//! ejects what the drives hold; forge mounted nothing, so it leaves them as the template had
//! them.)

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use crate::soap::Node;
use crate::vm::{is_kind, ConfigSpec, DeviceChange};

pub(super) struct StepAddCdrom;

#[async_trait]
impl Step<State> for StepAddCdrom {
    fn name(&self) -> &'static str {
        "StepAddCDRom"
    }
    async fn run(&mut self, ctx: &BuildCtx, _st: &mut State) -> Result<()> {
        ctx.ui.say("Mounting ISO images...");
        Ok(())
    }
}

pub(super) struct StepRemoveCdrom;

/// Removes every device of `kinds` from `devices` (files kept).
pub(super) fn removal(devices: &[Node], kinds: &[&str]) -> ConfigSpec {
    ConfigSpec {
        device_change: devices
            .iter()
            .filter(|d| is_kind(d, kinds))
            .map(|d| DeviceChange::remove(d.clone(), false))
            .collect(),
        ..ConfigSpec::default()
    }
}

/// Removes the devices of `kinds` from the build's VM; `what` names them in errors.
pub(super) async fn remove_devices(st: &State, kinds: &[&str], what: &str) -> Result<()> {
    let client = st.client()?;
    let vm = st.vm()?;
    let fail = |e: Error| Error::msg(format!("error removing {what} of {}: {e}", st.vm_path));
    let devices = client.devices(&vm).await.map_err(fail)?;
    client
        .reconfigure_if_any(&vm, &removal(&devices, kinds))
        .await
        .map_err(fail)
}

#[async_trait]
impl Step<State> for StepRemoveCdrom {
    fn name(&self) -> &'static str {
        "StepRemoveCDRom"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Eject CD-ROM drives...");
        if st.config.remove_cdrom {
            ctx.ui.say("Deleting CD-ROM drives...");
            remove_devices(st, &["VirtualCdrom"], "the CD-ROM drives").await?;
        }
        Ok(())
    }
}

pub(super) struct StepRemoveNetworkAdapter;

#[async_trait]
impl Step<State> for StepRemoveNetworkAdapter {
    fn name(&self) -> &'static str {
        "StepRemoveNetworkAdapter"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if !st.config.remove_network_adapter {
            return Ok(());
        }
        ctx.ui.say("Removing network adapters...");
        remove_devices(st, crate::vm::ETHERNET_CARDS, "the network adapters").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_kinds_are_removed() {
        let dev = |k: &str, key: &str| Node {
            name: "VirtualDevice".into(),
            xsi_type: Some(k.into()),
            children: vec![Node::leaf("key", key)],
            ..Node::default()
        };
        let devices = [
            dev("VirtualCdrom", "3000"),
            dev("VirtualDisk", "2000"),
            dev("VirtualCdrom", "3001"),
            dev("VirtualVmxnet3", "4000"),
            dev("VirtualE1000", "4001"),
        ];
        let cd = removal(&devices, &["VirtualCdrom"]);
        let keys: Vec<_> = cd
            .device_change
            .iter()
            .map(|c| (c.operation, c.device.text_of("key").unwrap()))
            .collect();
        assert_eq!(keys, [("remove", "3000"), ("remove", "3001")]);
        assert!(cd.device_change.iter().all(|c| c.file_operation.is_none()));
        assert_eq!(
            removal(&devices, crate::vm::ETHERNET_CARDS)
                .device_change
                .len(),
            2
        );
        assert!(removal(&devices, &["VirtualFloppy"]).is_empty());
    }
}
