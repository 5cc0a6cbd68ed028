//! The `vsphere` post-processor end to end against forge's vCenter simulator (forge-testkit's
//! vcsim), with a real OVF package: a disk made by `qemu-img convert -O vmdk -o
//! subformat=streamOptimized` and a descriptor written here, loose (`.ovf` beside its disk) and
//! as an `.ova`. Packer's post-processor needs ovftool (not installed, not free to install), so
//! there is no side-by-side run; `govc import.ovf` is the independent client that shows vcsim
//! takes such a package, and forge goes the same way (CreateImportSpec, ImportVApp, the lease's
//! upload URLs, HttpNfcLeaseComplete). vcsim 0.24 reads each upload to its end and discards
//! it, logging the bytes it took, so the test checks that count against the disk's size (it
//! cannot compare contents); its lease abort leaves the VM, which forge removes itself.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::Path;
use std::time::{Duration, Instant};

use forge_testkit::build;
use forge_testkit::vcsim::{Vcsim, VcsimOptions};
use forge_vsphere::{Client, Config};

use build::{Rng, Sandbox};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The OVF descriptor of a one-disk VM whose disk file is `disk` (`size` bytes, `capacity`
/// bytes of capacity), on a network named `nat`.
fn descriptor(disk: &str, size: u64, capacity: u64) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:href="{disk}" ovf:id="file1" ovf:size="{size}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="nat"><Description>The nat network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="tiny">
    <Info>A virtual machine</Info>
    <Name>tiny</Name>
    <OperatingSystemSection ovf:id="1" vmw:osType="otherGuest"><Info>The kind of installed guest operating system</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>tiny</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>1 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>64MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>64</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:ElementName>SCSI Controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard Disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>nat</rasd:Connection>
        <rasd:ElementName>Ethernet 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"#
    )
}

/// Writes `tiny.ovf`, `tiny-disk1.vmdk` (a streamOptimized VMDK of `mib` MiB of random
/// data, from qemu-img) and `tiny.ova` (descriptor first) into `dir`.
fn package(dir: &Path, mib: usize) {
    let raw = dir.join("tiny.raw");
    let mut data = vec![0u8; mib << 20];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut data)
        .unwrap();
    std::fs::write(&raw, &data).unwrap();
    let vmdk = dir.join("tiny-disk1.vmdk");
    let out = std::process::Command::new("qemu-img")
        .args([
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=streamOptimized",
        ])
        .arg(&raw)
        .arg(&vmdk)
        .output()
        .expect("qemu-img is needed: apt-get install --no-install-recommends qemu-utils");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&raw).unwrap();
    let size = std::fs::metadata(&vmdk).unwrap().len();
    let ovf = descriptor("tiny-disk1.vmdk", size, (mib as u64) << 20);
    std::fs::write(dir.join("tiny.ovf"), &ovf).unwrap();
    let out = std::process::Command::new("tar")
        .args([
            "--format=ustar",
            "-cf",
            "tiny.ova",
            "tiny.ovf",
            "tiny-disk1.vmdk",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A template: a null build whose artifact artifice replaces with `files`, then the vsphere
/// post-processor with `extra` (JSON members).
fn template(sim: &Vcsim, files: &[&str], extra: &str) -> String {
    format!(
        r#"{{
  "builders": [{{"type": "null", "communicator": "none"}}],
  "post-processors": [[
    {{"type": "artifice", "files": {files:?}}},
    {{"type": "vsphere", "host": "{server}", "username": "{user}", "password": "{password}",
      "insecure": true, "datacenter": "DC0", "cluster": "DC0_C0", "datastore": "LocalDS_0",
      "vm_name": "imported", "vm_network": "VM Network", "keep_input_artifact": true{extra}}}
  ]]
}}
"#,
        server = sim.server(),
        user = sim.username(),
        password = sim.password(),
    )
}

/// The datastore path of the imported VM's disk, if the VM exists.
fn imported_disk(sim: &Vcsim, name: &str) -> Option<String> {
    rt().block_on(async {
        let c = Client::connect(&Config::new(
            sim.server().as_str(),
            sim.username(),
            sim.password(),
            true,
        ))
        .await
        .unwrap();
        let dc = c.datacenter(None).await.unwrap();
        let vm = c.vm(&dc, name).await.ok()?;
        let devices = c.devices(&vm.moref).await.unwrap();
        let disk = devices
            .iter()
            .find(|d| d.xsi_type.as_deref() == Some("VirtualDisk"))?;
        let file = disk.child("backing")?.text_of("fileName")?.to_string();
        let _ = c.logout().await;
        Some(file)
    })
}

fn all(out: &build::Out) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn an_ovf_and_an_ova_are_imported_through_the_api() {
    let sim = Vcsim::start(VcsimOptions::default());
    for (round, files) in [vec!["tiny.ovf", "tiny-disk1.vmdk"], vec!["tiny.ova"]]
        .into_iter()
        .enumerate()
    {
        let extra = if round == 0 {
            ""
        } else {
            r#", "overwrite": true, "disk_mode": "thin""#
        };
        let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, &files, extra))]);
        package(&sb.dir, 2);
        let out = sb.run(&["build", "-color=false", "t.json"], None, &[]);
        let text = all(&out);
        assert_eq!(out.code, 0, "round {round}:\n{text}");
        assert!(!text.contains(sim.password()), "{text}");
        for want in [
            "Uploading virtual machine...",
            "VM: imported Folder:  Datastore: LocalDS_0",
        ] {
            assert!(
                text.contains(want),
                "round {round}: want {want:?} in:\n{text}"
            );
        }
        let file = imported_disk(&sim, "imported").expect("no imported VM");
        assert!(file.starts_with("[LocalDS_0] imported/"), "{file}");
        // vcsim 0.24 reads an upload to its end and discards it (its NFC handler logs the
        // bytes it took): every byte of the disk reached it.
        let sent = std::fs::metadata(sb.dir.join("tiny-disk1.vmdk"))
            .unwrap()
            .len();
        let log = sim.log_text();
        let want = format!("transferred {sent} bytes");
        assert_eq!(
            log.lines()
                .filter(|l| l.contains("nfc P") && l.contains(&want))
                .count(),
            round + 1,
            "round {round}: want {want:?} in the vcsim log:\n{log}"
        );
        assert!(sb.journals().is_empty(), "round {round}");
    }
    // Without `overwrite`, an existing VM is refused, and left alone.
    let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, &["tiny.ova"], ""))]);
    package(&sb.dir, 1);
    let out = sb.run(&["build", "-color=false", "t.json"], None, &[]);
    assert_ne!(out.code, 0);
    assert!(
        all(&out).contains("/DC0/vm/imported already exists; set `overwrite = true` to replace it"),
        "{}",
        all(&out)
    );
    assert!(imported_disk(&sim, "imported").is_some());
    // ovftool's options and a .vmx are refused by name.
    let sb = Sandbox::new(
        FORGE,
        &[(
            "t.json",
            &template(
                &sim,
                &["tiny.ova"],
                r#", "options": ["--X:logLevel=verbose"]"#,
            ),
        )],
    );
    let out = sb.run(&["validate", "t.json"], None, &[]);
    assert_ne!(out.code, 0);
    assert!(
        all(&out).contains("options: not supported by forge's vsphere post-processor"),
        "{}",
        all(&out)
    );
    let sb = Sandbox::new(
        FORGE,
        &[
            ("t.json", &template(&sim, &["x.vmx"], "")),
            ("x.vmx", "config.version = \"8\"\n"),
        ],
    );
    let out = sb.run(&["build", "-color=false", "t.json"], None, &[]);
    assert_ne!(out.code, 0);
    assert!(
        all(&out).contains("turning a .vmx into one is ovftool's work"),
        "{}",
        all(&out)
    );
}

#[test]
fn a_kill_during_the_import_leaves_nothing_after_forge_cleanup() {
    let sim = Vcsim::start(VcsimOptions::default());
    let mut rng = Rng::new();
    // 256 MiB that do not compress: the upload takes long enough to be killed in.
    let made = tempfile::tempdir().unwrap();
    package(made.path(), 256);
    for round in 0..3 {
        let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, &["tiny.ova"], ""))]);
        std::fs::hard_link(made.path().join("tiny.ova"), sb.dir.join("tiny.ova")).unwrap();
        let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !sb.spawned_output().contains("Uploading virtual machine...")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.below(50)));
        build::signal(child.id(), "KILL");
        let _ = child.wait();
        let text = sb.spawned_output();
        assert!(
            !text.contains("finished after"),
            "round {round}: not killed in time:\n{text}"
        );
        let out = sb.run(&["cleanup"], None, &[]);
        assert_eq!(out.code, 0, "round {round}: {}\nbuild:\n{text}", all(&out));
        assert!(
            imported_disk(&sim, "imported").is_none(),
            "round {round}: the VM is left:\ncleanup:\n{}\nbuild:\n{text}",
            all(&out)
        );
        assert!(sb.journals().is_empty(), "round {round}");
    }
}
