//! StepConfigureHardware: every hardware option in one `ReconfigVM_Task` (Packer reconfigures,
//! then adds or removes the TPM and adds the precision clock in calls of their own). Nothing
//! happens when no option is set, as in Packer 1.6.6.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::config::Hardware;
use super::State;
use crate::soap::Node;
use crate::vm::{is_kind, Allocation, BootOptions, ConfigSpec, DeviceChange};

pub(super) struct StepConfigureHardware;

/// The reconfiguration `hw` asks for, given the VM's `devices` (for the video card and TPM).
pub(super) fn hardware_spec(hw: &Hardware, devices: &[Node]) -> Result<ConfigSpec> {
    let pos = |n: i64| (n != 0).then_some(n);
    let flag = |b: bool| b.then_some(true);
    let mut spec = ConfigSpec {
        num_cpus: pos(hw.cpus),
        num_cores_per_socket: pos(hw.cpu_cores),
        memory_mb: pos(hw.ram),
        memory_hot_add: flag(hw.ram_hot_plug),
        cpu_hot_add: flag(hw.cpu_hot_plug),
        // Packer 1.6.6 always sends it (false too); the newest plugin only when true.
        memory_reservation_locked_to_max: Some(hw.ram_reserve_all),
        nested_hv: flag(hw.nested_hv),
        ..ConfigSpec::default()
    };
    if hw.cpu_reservation != 0 || hw.cpu_limit != 0 {
        spec.cpu_allocation = Some(Allocation {
            reservation: pos(hw.cpu_reservation),
            limit: pos(hw.cpu_limit),
        });
    }
    if hw.ram_reservation != 0 {
        spec.memory_allocation = Some(Allocation {
            reservation: Some(hw.ram_reservation),
            limit: None,
        });
    }
    if hw.video_ram != 0 || hw.displays != 0 {
        let mut card = devices
            .iter()
            .find(|d| is_kind(d, &["VirtualMachineVideoCard"]))
            .cloned()
            .ok_or_else(|| Error::msg("the VM has no video card to set video_ram or displays"))?;
        if hw.video_ram != 0 {
            card.set("videoRamSizeInKB", &hw.video_ram.to_string());
        }
        if hw.displays != 0 {
            card.set("numDisplays", &hw.displays.to_string());
        }
        spec.device_change.push(DeviceChange::edit(card));
    }
    let tpms: Vec<&Node> = devices
        .iter()
        .filter(|d| is_kind(d, &["VirtualTPM"]))
        .collect();
    if hw.vtpm && tpms.is_empty() {
        spec.device_change
            .push(DeviceChange::add(new_device("VirtualTPM", -1, None)));
    } else if !hw.vtpm {
        for t in tpms {
            spec.device_change
                .push(DeviceChange::remove(t.clone(), false));
        }
    }
    if !hw.precision_clock.is_empty() && hw.precision_clock != "none" {
        let backing = Node {
            name: "backing".into(),
            xsi_type: Some("VirtualPrecisionClockSystemClockBackingInfo".into()),
            children: vec![Node::leaf("protocol", &hw.precision_clock)],
            ..Node::default()
        };
        spec.device_change.push(DeviceChange::add(new_device(
            "VirtualPrecisionClock",
            -2,
            Some(backing),
        )));
    }
    if !hw.vgpu_profile.is_empty() {
        let backing = node(
            "backing",
            "VirtualPCIPassthroughVmiopBackingInfo",
            vec![Node::leaf("vgpu", &hw.vgpu_profile)],
        );
        let vgpus: Vec<&Node> = devices
            .iter()
            .filter(|d| {
                is_kind(d, &["VirtualPCIPassthrough"])
                    && d.child("backing").and_then(|b| b.xsi_type.as_deref())
                        == Some("VirtualPCIPassthroughVmiopBackingInfo")
            })
            .collect();
        match vgpus.as_slice() {
            [] => spec.device_change.push(DeviceChange::add(pci_device(
                -3,
                &format!("New vGPU {} PCI device", hw.vgpu_profile),
                backing,
            ))),
            // The VM's vGPU gets the profile (the newest plugin edits it too).
            [one] => {
                let mut d = (*one).clone();
                if let Some(b) = d.child_mut("backing") {
                    *b = backing;
                }
                spec.device_change.push(DeviceChange::edit(d));
            }
            _ => {
                return Err(Error::msg(
                    "vgpu_profile: the VM has more than one vGPU device",
                ))
            }
        }
    }
    if !hw.pci_allowed.is_empty() {
        let mut children = vec![Node::leaf("deviceName", "")];
        for ids in &hw.pci_allowed {
            let names = ["vendorId", "deviceId", "subVendorId", "subDeviceId"];
            children.push(node_of(
                "allowedDevice",
                None,
                names
                    .iter()
                    .zip(ids)
                    .map(|(n, v)| Node::leaf(n, &v.to_string()))
                    .collect(),
            ));
        }
        spec.device_change.push(DeviceChange::add(pci_device(
            -4,
            "New PCI device",
            node(
                "backing",
                "VirtualPCIPassthroughDynamicBackingInfo",
                children,
            ),
        )));
    }
    if hw.vbs || hw.vvtd {
        // Packer sets them in a reconfiguration of their own (StepAddFlag); here they join
        // the one hardware reconfiguration.
        spec.flags = Some((flag(hw.vvtd), flag(hw.vbs)));
    }
    if !hw.firmware.is_empty() {
        spec.firmware = Some(if hw.firmware == "efi-secure" {
            "efi".into()
        } else {
            hw.firmware.clone()
        });
    }
    if !hw.firmware.is_empty() || hw.force_bios_setup {
        spec.boot_options = Some(BootOptions {
            enter_bios_setup: hw.force_bios_setup,
            efi_secure_boot: hw.firmware == "efi-secure",
        });
    }
    Ok(spec)
}

fn node_of(name: &str, xsi_type: Option<&str>, children: Vec<Node>) -> Node {
    Node {
        name: name.into(),
        xsi_type: xsi_type.map(str::to_string),
        children,
        ..Node::default()
    }
}

fn node(name: &str, xsi_type: &str, children: Vec<Node>) -> Node {
    node_of(name, Some(xsi_type), children)
}

/// A `VirtualPCIPassthrough` to add, labelled as the newest plugin labels it.
fn pci_device(key: i64, label: &str, backing: Node) -> Node {
    let info = node_of(
        "deviceInfo",
        None,
        vec![Node::leaf("label", label), Node::leaf("summary", "")],
    );
    node_of(
        "device",
        Some("VirtualPCIPassthrough"),
        vec![Node::leaf("key", &key.to_string()), info, backing],
    )
}

/// A device to add: its xsi:type, a negative key (the server gives the real one) and backing.
fn new_device(kind: &str, key: i64, backing: Option<Node>) -> Node {
    let mut children = vec![Node::leaf("key", &key.to_string())];
    children.extend(backing);
    Node {
        name: "device".into(),
        xsi_type: Some(kind.into()),
        children,
        ..Node::default()
    }
}

#[async_trait]
impl Step<State> for StepConfigureHardware {
    fn name(&self) -> &'static str {
        "StepConfigureHardware"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let hw = &st.config.hw;
        if !hw.is_set() {
            return Ok(());
        }
        ctx.ui.say("Customizing hardware...");
        let client = st.client()?;
        let vm = st.vm()?;
        let fail =
            |e: Error| Error::msg(format!("Error customizing hardware of {}: {e}", st.vm_path));
        // The devices are read only when an option concerns one (a TPM is added or removed to
        // match `vTPM` only when a device-level option asks for a look; see the README).
        let needs_devices =
            hw.video_ram != 0 || hw.displays != 0 || hw.vtpm || !hw.vgpu_profile.is_empty();
        let devices = if needs_devices {
            client.devices(&vm).await.map_err(fail)?
        } else {
            Vec::new()
        };
        let spec = hardware_spec(hw, &devices).map_err(fail)?;
        client.reconfigure_if_any(&vm, &spec).await.map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{Moref, Request};

    fn xml(spec: &ConfigSpec) -> String {
        spec.write(
            Request::new("ReconfigVM_Task", &Moref::new("VirtualMachine", "vm-1"))
                .open("spec", None),
        )
        .close("spec")
        .envelope()
    }

    fn video_card() -> Node {
        Node {
            name: "VirtualDevice".into(),
            xsi_type: Some("VirtualMachineVideoCard".into()),
            children: vec![
                Node::leaf("key", "500"),
                Node::leaf("videoRamSizeInKB", "4096"),
                Node::leaf("numDisplays", "1"),
            ],
            ..Node::default()
        }
    }

    #[test]
    fn every_option_in_one_spec_in_wsdl_order() {
        let hw = Hardware {
            cpus: 4,
            cpu_cores: 2,
            cpu_reservation: 1000,
            cpu_limit: 2000,
            cpu_hot_plug: true,
            ram: 2048,
            ram_reservation: 0,
            ram_reserve_all: true,
            ram_hot_plug: true,
            video_ram: 8192,
            displays: 2,
            nested_hv: true,
            firmware: "efi-secure".into(),
            force_bios_setup: true,
            vtpm: true,
            precision_clock: "ptp".into(),
            ..Hardware::default()
        };
        let spec = hardware_spec(&hw, &[video_card()]).unwrap();
        let x = xml(&spec);
        let body = &x[x.find("<spec>").unwrap()..x.find("</spec>").unwrap() + 7];
        assert_eq!(
            body,
            concat!(
                "<spec><numCPUs>4</numCPUs><numCoresPerSocket>2</numCoresPerSocket><memoryMB>2048</memoryMB>",
                "<memoryHotAddEnabled>true</memoryHotAddEnabled><cpuHotAddEnabled>true</cpuHotAddEnabled>",
                "<deviceChange><operation>edit</operation><device xsi:type=\"VirtualMachineVideoCard\"><key>500</key><videoRamSizeInKB>8192</videoRamSizeInKB><numDisplays>2</numDisplays></device></deviceChange>",
                "<deviceChange><operation>add</operation><device xsi:type=\"VirtualTPM\"><key>-1</key></device></deviceChange>",
                "<deviceChange><operation>add</operation><device xsi:type=\"VirtualPrecisionClock\"><key>-2</key><backing xsi:type=\"VirtualPrecisionClockSystemClockBackingInfo\"><protocol>ptp</protocol></backing></device></deviceChange>",
                "<cpuAllocation><reservation>1000</reservation><limit>2000</limit></cpuAllocation>",
                "<bootOptions><enterBIOSSetup>true</enterBIOSSetup><efiSecureBootEnabled>true</efiSecureBootEnabled></bootOptions>",
                "<firmware>efi</firmware><memoryReservationLockedToMax>true</memoryReservationLockedToMax><nestedHVEnabled>true</nestedHVEnabled></spec>"
            )
        );
    }

    /// vcsim has no host with GPUs, PCI devices or VBS, so these parts of the spec are checked
    /// as written, against the vim25 WSDL's element order.
    #[test]
    fn vgpu_pci_passthrough_and_flags_as_the_newest_plugin_writes_them() {
        let hw = Hardware {
            vgpu_profile: "grid_t4-1q".into(),
            pci_allowed: vec![[0x10de, 0x1eb8, 0x10de, 0x12a2]],
            vbs: true,
            vvtd: true,
            nested_hv: true,
            firmware: "efi-secure".into(),
            ..Hardware::default()
        };
        let x = xml(&hardware_spec(&hw, &[]).unwrap());
        for want in [
            "<spec><flags><vvtdEnabled>true</vvtdEnabled><vbsEnabled>true</vbsEnabled></flags><deviceChange>",
            concat!(
                r#"<deviceChange><operation>add</operation><device xsi:type="VirtualPCIPassthrough"><key>-3</key>"#,
                "<deviceInfo><label>New vGPU grid_t4-1q PCI device</label><summary></summary></deviceInfo>",
                r#"<backing xsi:type="VirtualPCIPassthroughVmiopBackingInfo"><vgpu>grid_t4-1q</vgpu></backing></device></deviceChange>"#,
            ),
            concat!(
                r#"<deviceChange><operation>add</operation><device xsi:type="VirtualPCIPassthrough"><key>-4</key>"#,
                "<deviceInfo><label>New PCI device</label><summary></summary></deviceInfo>",
                r#"<backing xsi:type="VirtualPCIPassthroughDynamicBackingInfo"><deviceName></deviceName>"#,
                "<allowedDevice><vendorId>4318</vendorId><deviceId>7864</deviceId><subVendorId>4318</subVendorId><subDeviceId>4770</subDeviceId></allowedDevice>",
                "</backing></device></deviceChange>",
            ),
        ] {
            assert!(x.contains(want), "{want}\nnot in\n{x}");
        }
        // A VM with a vGPU already: that device gets the profile.
        let vgpu = Node {
            name: "VirtualDevice".into(),
            xsi_type: Some("VirtualPCIPassthrough".into()),
            children: vec![
                Node::leaf("key", "13000"),
                node(
                    "backing",
                    "VirtualPCIPassthroughVmiopBackingInfo",
                    vec![Node::leaf("vgpu", "old")],
                ),
            ],
            ..Node::default()
        };
        let only_vgpu = Hardware {
            vgpu_profile: "grid_t4-2q".into(),
            ..Hardware::default()
        };
        let x = xml(&hardware_spec(&only_vgpu, std::slice::from_ref(&vgpu)).unwrap());
        assert!(
            x.contains(r#"<operation>edit</operation><device xsi:type="VirtualPCIPassthrough"><key>13000</key><backing xsi:type="VirtualPCIPassthroughVmiopBackingInfo"><vgpu>grid_t4-2q</vgpu></backing>"#),
            "{x}"
        );
        assert!(!x.contains("<flags>"), "{x}");
        assert!(hardware_spec(&only_vgpu, &[vgpu.clone(), vgpu]).is_err());
    }

    #[test]
    fn a_tpm_goes_when_vtpm_is_off_and_nothing_is_sent_for_nothing() {
        let tpm = Node {
            name: "VirtualDevice".into(),
            xsi_type: Some("VirtualTPM".into()),
            children: vec![Node::leaf("key", "11000")],
            ..Node::default()
        };
        let spec = hardware_spec(
            &Hardware {
                ram_reservation: 512,
                ..Hardware::default()
            },
            &[tpm],
        )
        .unwrap();
        assert_eq!(spec.device_change.len(), 1);
        assert_eq!(spec.device_change[0].operation, "remove");
        assert_eq!(
            spec.memory_allocation,
            Some(Allocation {
                reservation: Some(512),
                limit: None
            })
        );
        assert!(hardware_spec(&Hardware::default(), &[])
            .unwrap()
            .device_change
            .is_empty());
        assert!(!Hardware::default().is_set());
    }

    #[test]
    fn video_options_need_a_video_card() {
        let e = hardware_spec(
            &Hardware {
                displays: 2,
                ..Hardware::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("no video card"), "{e}");
    }
}
