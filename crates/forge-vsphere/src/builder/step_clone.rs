//! StepCloneVM: finds the template and the location (folder, cluster or host, resource pool,
//! datastore, or Storage DRS's choice in `datastore_cluster`, network), refuses a VM of the same
//! name unless `-force` (which destroys it first), then clones, with the notes, the first
//! network adapter's `network` and `mac_address`, the `disk_controller_type` controllers and
//! `storage` disks (written as vsphere-iso's are, on the buses the template leaves free), and
//! `vapp` properties in the clone's spec; `disk_size` then grows the clone's first disk (a
//! smaller size is refused before anything is cloned). The clone is journaled before
//! `CloneVM_Task` starts; cleanup after an error or an interrupt powers off and destroys it
//! (only it), as does the end of a good build with `destroy`; otherwise a good build keeps it
//! as the artifact.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::client::Client;
use crate::create::{storage_changes, Keys};
use crate::find::Found;
use crate::journal::{self, VmPlace};
use crate::soap::{Moref, Node};
use crate::vm::{is_kind, CloneSpec, ConfigSpec, DeviceChange, ETHERNET_CARDS};

pub(super) struct StepCloneVm {
    pub record: Option<Resource>,
}

#[async_trait]
impl Step<State> for StepCloneVm {
    fn name(&self) -> &'static str {
        "StepCloneVM"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let client = st.client()?;
        let dc = st
            .dc
            .clone()
            .ok_or_else(|| Error::msg("no datacenter was found"))?;
        // Everything is looked up before anything changes, so that a wrong location never
        // costs the VM that -force would replace.
        let folder = client.folder(&dc, &c.folder).await?;
        let path = format!("{}/{}", folder.path, c.vm_name);
        let template = client
            .vm(&dc, &c.template)
            .await
            .map_err(|e| Error::msg(format!("Error finding vm to clone: {e}")))?;
        let (owner, pool) = placement(&client, &dc, &c).await?;
        let host = if c.host.is_empty() {
            None
        } else if owner.moref.kind == "HostSystem" {
            Some(owner.moref.clone())
        } else {
            Some(client.host(&dc, &c.host).await?.moref)
        };
        let datastore = if !c.datastore_cluster.is_empty() {
            let (ds, _) = client
                .datastore_in_cluster(&dc, &c.datastore_cluster, &pool.moref, &c.disks, &c.vm_name)
                .await?;
            Some(ds.moref)
        } else if c.datastore.is_empty() {
            None
        } else {
            Some(
                client
                    .datastore(&dc, &c.datastore)
                    .await
                    .map_err(|e| Error::msg(format!("Error finding datastore: {e}")))?
                    .moref,
            )
        };
        let linked_snapshot = if c.linked_clone {
            Some(
                client
                    .current_snapshot(&template.moref)
                    .await?
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "linked_clone: the template {} has no snapshot to clone from",
                            template.path
                        ))
                    })?,
            )
        } else {
            None
        };
        let mut config = ConfigSpec {
            annotation: (!c.notes.is_empty()).then(|| c.notes.clone()),
            ..ConfigSpec::default()
        };
        let wants_source = !c.network.is_empty()
            || c.disk_size.is_some()
            || !c.vapp_properties.is_empty()
            || !c.disk_controllers.is_empty();
        if wants_source {
            let src = client
                .retrieve_one(
                    &template.moref,
                    &["config.hardware.device", "config.vAppConfig"],
                )
                .await?;
            let devices: Vec<Node> = src
                .get("config.hardware.device")
                .map(|d| d.children.clone())
                .unwrap_or_default();
            if let Some(size) = c.disk_size {
                disk_resize(&devices, size, &template.path)?;
            }
            if !c.network.is_empty() {
                let net = client
                    .network(&dc, &c.network)
                    .await
                    .map_err(|e| Error::msg(format!("error finding network: {e}")))?;
                let backing = client.nic_backing(&net).await?;
                config
                    .device_change
                    .push(nic_change(&devices, backing, &c.mac_address)?);
            }
            // The template's devices, so that new controllers take free buses and new keys
            // clash with none.
            let mut keys = Keys::below(&devices);
            config.device_change.extend(storage_changes(
                &c.disk_controllers,
                &c.disks,
                &devices,
                &mut keys,
            )?);
            config.vapp_properties =
                vapp_properties(src.get("config.vAppConfig"), &c.vapp_properties)
                    .map_err(|e| Error::msg(format!("error updating VAppConfig: {e}")))?;
        }
        self.record = Some(claim_path(ctx, st, &client, &path, "Cloning VM...").await?);
        let spec = CloneSpec {
            name: c.vm_name.clone(),
            folder: folder.moref.clone(),
            pool: Some(pool.moref),
            host,
            datastore,
            linked_snapshot,
            config,
        };
        let vm = client
            .clone_vm(&template.moref, &spec)
            .await
            .map_err(|e| Error::msg(format!("cloning {} to {path}: {e}", template.path)))?;
        if let Some(r) = self.record.as_mut() {
            journal::created(ctx, r, &vm.value);
        }
        st.vm = Some(vm.clone());
        if let Some(size) = c.disk_size {
            let devices = client.devices(&vm).await?;
            let disk = disk_resize(&devices, size, &path)?;
            let spec = ConfigSpec {
                device_change: disk.into_iter().map(DeviceChange::edit).collect(),
                ..ConfigSpec::default()
            };
            client
                .reconfigure_if_any(&vm, &spec)
                .await
                .map_err(|e| Error::msg(format!("Error resizing the disk of {path}: {e}")))?;
        }
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        // `destroy`, or content_library_destination.destroy (the library item is the product).
        let destroy = o.halted || o.cancelled || st.destroy_vm || st.config.destroy;
        undo_vm(ctx, st, &mut self.record, destroy).await
    }
}

/// The host or cluster the VM goes to, and its resource pool (`resource_pool`, else the root
/// pool).
pub(super) async fn placement(
    client: &Client,
    dc: &crate::Datacenter,
    c: &super::Config,
) -> Result<(Found, Found)> {
    let owner = if c.cluster.is_empty() {
        client.host(dc, &c.host).await?
    } else {
        client.cluster(dc, &c.cluster).await?
    };
    let pool = client
        .resource_pool(&owner, &c.resource_pool)
        .await
        .map_err(|e| Error::msg(format!("Error finding resource pool: {e}")))?;
    Ok((owner, pool))
}

/// Before the step that makes the build's VM: a VM already at `path` is refused, or destroyed
/// with `-force`; then `doing` is said and the new VM is journaled before it exists.
pub(super) async fn claim_path(
    ctx: &BuildCtx,
    st: &mut State,
    client: &Client,
    path: &str,
    doing: &str,
) -> Result<Resource> {
    let c = st.config.clone();
    if let Some(existing) = client.find_by_inventory_path(path).await? {
        if !c.force {
            return Err(Error::msg(format!(
                "{path} already exists, you can use -force flag to destroy it"
            )));
        }
        ctx.ui.say(&format!(
            "the vm/template {} already exists, but deleting it due to -force flag",
            c.vm_name
        ));
        client
            .remove_vm(&existing)
            .await
            .map_err(|e| Error::msg(format!("destroying {path} (-force): {e}")))?;
    }
    ctx.ui.say(doing);
    let place = VmPlace {
        server: c.server.clone(),
        username: c.username.clone(),
        insecure: c.insecure,
        path: path.to_string(),
    };
    let record = journal::intend(ctx, &place)?;
    st.vm_path = path.to_string();
    Ok(record)
}

/// The cleanup of the step that made the build's VM (clone or create): with `destroy`, the VM
/// (found at its path when the task was interrupted before it answered) is destroyed and its
/// journal entry closed; without, the VM is the artifact and its entry is closed as kept.
pub(super) async fn undo_vm(
    ctx: &BuildCtx,
    st: &mut State,
    record: &mut Option<Resource>,
    destroy: bool,
) -> Result<()> {
    if !destroy {
        if let Some(r) = record.take() {
            // The VM is the artifact now.
            journal::gone(ctx, &r);
        }
        return Ok(());
    }
    let Some(rec) = journal::to_clean_up(ctx, record) else {
        return Ok(());
    };
    let client = st.client()?;
    let vm = match &st.vm {
        Some(vm) => Some(vm.clone()),
        // Interrupted while the task ran: the VM may exist by now, at its path.
        None => client
            .find_by_inventory_path(&st.vm_path)
            .await?
            .filter(|m| m.kind == "VirtualMachine"),
    };
    let Some(vm) = vm else {
        journal::gone(ctx, &rec);
        return Ok(());
    };
    ctx.ui.say("Destroying VM...");
    match client.remove_vm(&vm).await {
        Ok(()) => journal::gone(ctx, &rec),
        Err(e) => ctx.ui.error(&format!(
            "Error destroying VM {} ({}), it may still be around: {e}",
            st.vm_path, vm.value
        )),
    }
    st.vm = None::<Moref>;
    Ok(())
}

/// The first disk of `devices` grown to `size_mb`, or `None` when it has that size already; a
/// smaller size is an error (vSphere cannot shrink a disk).
pub(super) fn disk_resize(devices: &[Node], size_mb: i64, of: &str) -> Result<Option<Node>> {
    let mut disk = devices
        .iter()
        .find(|d| is_kind(d, &["VirtualDisk"]))
        .cloned()
        .ok_or_else(|| Error::msg(format!("disk_size: {of} has no disk to grow")))?;
    let current_kb: i64 = disk
        .text_of("capacityInKB")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let want_kb = size_mb * 1024;
    if want_kb < current_kb {
        return Err(Error::msg(format!(
            "disk_size {size_mb} MB is smaller than the first disk of {of} ({} MB): vSphere cannot shrink a disk",
            current_kb / 1024
        )));
    }
    if want_kb == current_kb {
        return Ok(None);
    }
    disk.set("capacityInKB", &want_kb.to_string());
    if disk.child("capacityInBytes").is_some() {
        disk.set("capacityInBytes", &(want_kb * 1024).to_string());
    }
    Ok(Some(disk))
}

/// The first network adapter of `devices` moved to `backing`, with a manual `mac` if given.
pub(super) fn nic_change(devices: &[Node], backing: Node, mac: &str) -> Result<DeviceChange> {
    let mut nic = devices
        .iter()
        .find(|d| is_kind(d, ETHERNET_CARDS))
        .cloned()
        .ok_or_else(|| {
            Error::msg("error finding network adapter: no network adapter device found")
        })?;
    match nic.children.iter_mut().find(|c| c.name == "backing") {
        Some(b) => *b = backing,
        None => nic.children.push(backing),
    }
    if !mac.is_empty() {
        nic.set("addressType", "manual");
        nic.set("macAddress", mac);
    }
    Ok(DeviceChange::edit(nic))
}

/// The vApp property edits for `wanted` (id -> value), from the source's `config.vAppConfig`:
/// each must exist and be user-configurable.
pub(super) fn vapp_properties(
    vapp: Option<&Node>,
    wanted: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<crate::vm::VAppProperty>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let vapp =
        vapp.ok_or_else(|| Error::msg("no vApp configuration found; cannot set vApp properties"))?;
    let mut left: Vec<&String> = wanted.keys().collect();
    let mut out = Vec::new();
    for p in vapp.children_named("property") {
        let id = p.text_of("id").unwrap_or_default();
        let Some(value) = wanted.get(id) else {
            continue;
        };
        if p.text_of("userConfigurable") != Some("true") {
            return Err(Error::msg(format!(
                "vApp property {id:?} in vapp.properties is not user-configurable"
            )));
        }
        out.push(crate::vm::VAppProperty {
            key: p.text_of("key").unwrap_or_default().to_string(),
            id: id.to_string(),
            value: value.clone(),
        });
        left.retain(|k| k.as_str() != id);
    }
    if !left.is_empty() {
        return Err(Error::msg(format!(
            "unsupported vApp properties in vapp.properties: {left:?}"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(kind: &str, children: Vec<Node>) -> Node {
        Node {
            name: "VirtualDevice".into(),
            xsi_type: Some(kind.into()),
            children,
            ..Node::default()
        }
    }

    #[test]
    fn the_first_disk_grows_and_never_shrinks() {
        let devices = vec![
            dev("VirtualCdrom", vec![Node::leaf("key", "3000")]),
            dev(
                "VirtualDisk",
                vec![
                    Node::leaf("key", "2000"),
                    Node::leaf("capacityInKB", "2048"),
                    Node::leaf("capacityInBytes", "2097152"),
                ],
            ),
        ];
        let d = disk_resize(&devices, 4, "t").unwrap().unwrap();
        assert_eq!(d.text_of("capacityInKB"), Some("4096"));
        assert_eq!(d.text_of("capacityInBytes"), Some("4194304"));
        assert!(disk_resize(&devices, 2, "t").unwrap().is_none());
        let e = disk_resize(&devices, 1, "/DC0/vm/t")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "disk_size 1 MB is smaller than the first disk of /DC0/vm/t (2 MB): vSphere cannot shrink a disk");
        assert!(disk_resize(&devices[..1], 4, "t").is_err());
    }

    #[test]
    fn the_first_nic_gets_the_network_and_mac() {
        let devices = vec![dev(
            "VirtualVmxnet3",
            vec![
                Node::leaf("key", "4000"),
                Node {
                    name: "backing".into(),
                    xsi_type: Some("VirtualEthernetCardNetworkBackingInfo".into()),
                    children: vec![Node::leaf("deviceName", "VM Network")],
                    ..Node::default()
                },
                Node::leaf("addressType", "generated"),
                Node::leaf("macAddress", "00:0c:29:00:00:01"),
            ],
        )];
        let b = Node {
            name: "backing".into(),
            xsi_type: Some("X".into()),
            ..Node::default()
        };
        let ch = nic_change(&devices, b, "00:50:56:00:00:42").unwrap();
        assert_eq!(ch.operation, "edit");
        assert_eq!(
            ch.device.child("backing").unwrap().xsi_type.as_deref(),
            Some("X")
        );
        assert_eq!(ch.device.text_of("addressType"), Some("manual"));
        assert_eq!(ch.device.text_of("macAddress"), Some("00:50:56:00:00:42"));
        assert!(nic_change(&[], Node::default(), "").is_err());
    }

    #[test]
    fn vapp_properties_must_exist_and_be_configurable() {
        let prop = |key: &str, id: &str, conf: &str| Node {
            name: "property".into(),
            children: vec![
                Node::leaf("key", key),
                Node::leaf("id", id),
                Node::leaf("userConfigurable", conf),
            ],
            ..Node::default()
        };
        let vapp = Node {
            name: "val".into(),
            children: vec![prop("0", "hostname", "true"), prop("1", "locked", "false")],
            ..Node::default()
        };
        let want = |k: &str| [(k.to_string(), "v".to_string())].into_iter().collect();
        let got = vapp_properties(Some(&vapp), &want("hostname")).unwrap();
        assert_eq!((got[0].key.as_str(), got[0].id.as_str()), ("0", "hostname"));
        assert!(vapp_properties(Some(&vapp), &want("locked"))
            .unwrap_err()
            .to_string()
            .contains("not user-configurable"));
        assert!(vapp_properties(Some(&vapp), &want("nope"))
            .unwrap_err()
            .to_string()
            .contains("unsupported vApp properties"));
        assert!(vapp_properties(None, &want("hostname"))
            .unwrap_err()
            .to_string()
            .contains("no vApp configuration"));
        assert!(vapp_properties(None, &Default::default())
            .unwrap()
            .is_empty());
    }
}
