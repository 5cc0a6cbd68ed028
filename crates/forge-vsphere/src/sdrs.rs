//! `datastore_cluster`: the datastore Storage DRS recommends in a datastore cluster (storage
//! pod) for a new VM, as packer-plugin-vsphere chooses it. `RecommendDatastores` is asked about
//! a VM of 1 CPU and 512 MB with the build's `storage` disks on one PVSCSI controller; the first
//! recommendation's destination is the build's datastore, and the VM is then created or cloned
//! there as with `datastore`. When Storage DRS gives no recommendation (it is off, or fails),
//! the cluster's first datastore is used, as the plugin does. The recommendation is not applied
//! (`ApplyStorageDrsRecommendation_Task`): the plugin never applies one either, it only reads
//! the destination.

use forge_core::{Error, Result};

use crate::client::Client;
use crate::create::{storage_changes, Disk, Keys};
use crate::find::{Datacenter, Found};
use crate::soap::{Moref, Node, Request};
use crate::vm::write_device_changes;

/// How the datastore was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// Storage DRS recommended it.
    Drs,
    /// The cluster's first datastore (no recommendation came).
    First,
}

/// The `RecommendDatastores` request for a placement in `pod`, for a VM in `pool` with `disks`.
pub fn recommend_request(
    srm: &Moref,
    pod: &Found,
    pool: &Moref,
    disks: &[Disk],
    name: &str,
) -> Result<Request> {
    let one_controller: Vec<Disk> = disks
        .iter()
        .map(|d| Disk {
            controller: 0,
            ..d.clone()
        })
        .collect();
    let controllers = if disks.is_empty() {
        Vec::new()
    } else {
        vec!["pvscsi".to_string()]
    };
    let changes = storage_changes(&controllers, &one_controller, &[], &mut Keys::below(&[]))?;
    let mut r = Request::new("RecommendDatastores", srm)
        .open("storageSpec", None)
        .text("type", "create")
        .open("podSelectionSpec", None)
        .open("initialVmConfig", None)
        .moref("storagePod", &pod.moref);
    for c in changes.iter().filter(|c| c.file_operation.is_some()) {
        r = r
            .open("disk", None)
            .text("diskId", c.device.text_of("key").unwrap_or_default())
            .close("disk");
    }
    r = r
        .close("initialVmConfig")
        .moref("storagePod", &pod.moref)
        .close("podSelectionSpec")
        .open("configSpec", None)
        .text("name", name)
        .open("files", None)
        .text("vmPathName", &format!("[{}]", pod.name))
        .close("files")
        .text("numCPUs", "1")
        .text("memoryMB", "512");
    r = write_device_changes(r, &changes);
    Ok(r.close("configSpec")
        .moref("resourcePool", pool)
        .close("storageSpec"))
}

/// The destination of the first recommendation's first placement action in a
/// `RecommendDatastoresResponse`.
pub fn recommended(answer: &Node) -> Option<Moref> {
    answer
        .child("returnval")?
        .children_named("recommendations")
        .flat_map(|r| r.children_named("action"))
        .find_map(|a| a.moref_of("destination"))
}

impl Client {
    /// The datastore for a new VM in the datastore cluster `name` (in `pool`, with `disks`),
    /// and how it was chosen.
    pub async fn datastore_in_cluster(
        &self,
        dc: &Datacenter,
        name: &str,
        pool: &Moref,
        disks: &[Disk],
        vm_name: &str,
    ) -> Result<(Found, Chosen)> {
        let pod = self.datastore_cluster(dc, name).await?;
        let drs = match &self.content().storage_resource_manager {
            Some(srm) => {
                let r = recommend_request(srm, &pod, pool, disks, vm_name)?;
                match self.call(r).await {
                    Ok(answer) => recommended(&answer),
                    Err(e) => {
                        tracing::warn!("Storage DRS gave no recommendation for {}: {e}", pod.path);
                        None
                    }
                }
            }
            None => None,
        };
        let (ds, chosen) = match drs {
            Some(ds) => (ds, Chosen::Drs),
            None => {
                let o = self.retrieve_one(&pod.moref, &["childEntity"]).await?;
                let first = o
                    .get("childEntity")
                    .and_then(|c| c.children.iter().find_map(Node::as_moref))
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "datastore cluster {} contains no available datastores",
                            pod.path
                        ))
                    })?;
                (first, Chosen::First)
            }
        };
        let ds_name = self
            .retrieve_one(&ds, &["name"])
            .await?
            .text("name")
            .unwrap_or_default()
            .to_string();
        Ok((
            Found {
                moref: ds,
                path: format!("{}/{ds_name}", pod.path),
                name: ds_name,
            },
            chosen,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{parse_answer, Answer};

    #[test]
    fn the_request_names_the_pod_and_each_disk() {
        let pod = Found {
            moref: Moref::new("StoragePod", "group-p1"),
            name: "POD0".into(),
            path: "/DC0/datastore/POD0".into(),
        };
        let disk = |mb| Disk {
            size_mb: mb,
            thin: true,
            eagerly_scrub: false,
            controller: 3,
        };
        let xml = recommend_request(
            &Moref::new("StorageResourceManager", "StorageResourceManager"),
            &pod,
            &Moref::new("ResourcePool", "resgroup-1"),
            &[disk(2), disk(3)],
            "golden",
        )
        .unwrap()
        .envelope();
        for want in [
            r#"<storageSpec><type>create</type><podSelectionSpec><initialVmConfig><storagePod type="StoragePod">group-p1</storagePod><disk><diskId>-102</diskId></disk><disk><diskId>-103</diskId></disk></initialVmConfig><storagePod type="StoragePod">group-p1</storagePod></podSelectionSpec>"#,
            "<configSpec><name>golden</name><files><vmPathName>[POD0]</vmPathName></files><numCPUs>1</numCPUs><memoryMB>512</memoryMB><deviceChange>",
            r#"<device xsi:type="ParaVirtualSCSIController"><key>-101</key>"#,
            "<controllerKey>-101</controllerKey><unitNumber>1</unitNumber><capacityInKB>3072</capacityInKB>",
            r#"</configSpec><resourcePool type="ResourcePool">resgroup-1</resourcePool></storageSpec>"#,
        ] {
            assert!(xml.contains(want), "{want}\nnot in\n{xml}");
        }
    }

    #[test]
    fn the_first_recommendation_wins() {
        // The shape of vcsim's answer (a StoragePlacementResult with one recommendation per
        // datastore of the pod).
        let xml = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RecommendDatastoresResponse xmlns="urn:vim25"><returnval><recommendations><key>1</key><type>V1</type><rating>1</rating><reason>storagePlacement</reason><action xsi:type="StoragePlacementAction"><type>StoragePlacementV1</type><relocateSpec><datastore type="Datastore">datastore-61</datastore></relocateSpec><destination type="Datastore">datastore-61</destination></action></recommendations><recommendations><key>2</key><action xsi:type="StoragePlacementAction"><destination type="Datastore">datastore-62</destination></action></recommendations></returnval></RecommendDatastoresResponse></soapenv:Body></soapenv:Envelope>"#;
        let Ok(Answer::Response(n)) = parse_answer(xml) else {
            panic!("not an answer");
        };
        assert_eq!(
            recommended(&n),
            Some(Moref::new("Datastore", "datastore-61"))
        );
        assert_eq!(recommended(&Node::default()), None);
    }
}
