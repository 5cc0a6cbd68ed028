//! The `vsphere` post-processor (packer-plugin-vsphere, post-processor/vsphere) without
//! ovftool: Packer always runs ovftool to upload a build's `.vmx`, `.ovf` or `.ova`; forge
//! imports an OVF or OVA through the vSphere API instead, as ovftool does underneath:
//! `OvfManager.CreateImportSpec` for the descriptor (each of its networks mapped to
//! `vm_network`, disks provisioned as `disk_mode`), `ResourcePool.ImportVApp` into `vm_folder`
//! (on `esxi_host` when given), the `HttpNfcLease`'s upload URLs fed the descriptor's files
//! (streamed from disk, or from inside the OVA), `HttpNfcLeaseComplete`.
//!
//! The VM is journaled before `ImportVApp`; a failure or an interrupt aborts the lease and
//! removes the VM, and `forge cleanup` removes it after a kill. A `.vmx` source is refused
//! (turning one into an OVF is ovftool's own work), as are `options` (ovftool's command-line
//! flags) and `max_retries`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::journal::Resource;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::{decode, PrepareErrors};
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::schema::plugins::VspherePostProcessor;
use forge_template::value::Value;

use crate::client::Client;
use crate::datastore::FilePart;
use crate::find::{Datacenter, Found};
use crate::journal::{self, VmPlace};
use crate::soap::{Moref, Node, Request};

/// The artifact's builder id (Packer's).
pub const BUILDER_ID: &str = "packer.post-processor.vsphere";

/// The checked configuration.
#[derive(Clone, Debug, Default)]
pub struct ImportConfig {
    /// `cluster`: a cluster, or a standalone ESXi host, of `datacenter`.
    pub cluster: String,
    /// `datacenter`.
    pub datacenter: String,
    /// `datastore`.
    pub datastore: String,
    /// `datastore_cluster` (Storage DRS chooses the datastore, sdrs.rs).
    pub datastore_cluster: String,
    /// `disk_mode` (`thick`): the import spec's `diskProvisioning`.
    pub disk_mode: String,
    /// `host`: the vCenter server.
    pub host: String,
    /// `esxi_host`: the host of the cluster the VM goes to.
    pub esxi_host: String,
    /// `insecure`.
    pub insecure: bool,
    /// `overwrite`: a VM already at the destination is destroyed first.
    pub overwrite: bool,
    /// `password`.
    pub password: String,
    /// `resource_pool`.
    pub resource_pool: String,
    /// `username`.
    pub username: String,
    /// `vm_folder`.
    pub vm_folder: String,
    /// `vm_name`.
    pub vm_name: String,
    /// `vm_network`: every network of the OVF is mapped to it.
    pub vm_network: String,
    /// `hardware_version`: the highest virtual hardware version the VM gets.
    pub hardware_version: Option<u32>,
}

impl ImportConfig {
    /// Decodes with Packer's checks; ovftool's own options are refused by name.
    pub fn prepare(v: &Value) -> std::result::Result<ImportConfig, PrepareErrors> {
        let a: VspherePostProcessor = decode(v)?;
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let mut errs = Vec::new();
        let hardware_version = match s(&a.hardware_version).trim_start_matches("vmx-") {
            "" => None,
            n => match n.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    errs.push(format!(
                        "hardware_version: {n:?} is not a virtual hardware version (such as 19)"
                    ));
                    None
                }
            },
        };
        let c = ImportConfig {
            cluster: s(&a.cluster),
            datacenter: s(&a.datacenter),
            datastore: s(&a.datastore),
            datastore_cluster: s(&a.datastore_cluster),
            disk_mode: a
                .disk_mode
                .clone()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "thick".into()),
            host: s(&a.host),
            esxi_host: s(&a.esxi_host),
            insecure: a.insecure.unwrap_or(false),
            overwrite: a.overwrite.unwrap_or(false),
            password: s(&a.password),
            resource_pool: s(&a.resource_pool),
            username: s(&a.username),
            vm_folder: s(&a.vm_folder),
            vm_name: s(&a.vm_name),
            vm_network: s(&a.vm_network),
            hardware_version,
        };
        crate::template::must_be_set(
            &[
                ("cluster", &c.cluster),
                ("datacenter", &c.datacenter),
                ("host", &c.host),
                ("password", &c.password),
                ("username", &c.username),
                ("vm_name", &c.vm_name),
            ],
            "",
            &mut errs,
        );
        match (c.datastore.is_empty(), c.datastore_cluster.is_empty()) {
            (false, false) => errs.push(
                "'datastore' and 'datastore_cluster' are mutually exclusive; specify only one"
                    .into(),
            ),
            (true, true) => {
                errs.push("either 'datastore' or 'datastore_cluster' must be specified".into())
            }
            _ => {}
        }
        if a.options.as_ref().is_some_and(|o| !o.is_empty()) {
            errs.push(
                "options: not supported by forge's vsphere post-processor: these are ovftool's command-line options, and forge imports through the vSphere API without ovftool".into(),
            );
        }
        if a.max_retries.is_some() {
            errs.push("max_retries: not supported yet by forge's vsphere post-processor".into());
        }
        if errs.is_empty() {
            Ok(c)
        } else {
            Err(errs)
        }
    }
}

/// The configured post-processor.
pub struct ImportPostProcessor {
    cfg: ImportConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(ImportPostProcessor {
        cfg: ImportConfig::prepare(v)?,
    }))
}

/// The artifact: the imported VM (its files are the input's).
#[derive(Debug)]
pub struct ImportArtifact {
    files: Vec<String>,
    datastore: String,
    folder: String,
    name: String,
    path: String,
}

#[async_trait]
impl Artifact for ImportArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        format!("{}::{}::{}", self.datastore, self.folder, self.name)
    }
    fn string(&self) -> String {
        format!(
            "VM: {} Folder: {} Datastore: {}",
            self.name, self.folder, self.datastore
        )
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        (name == crate::template::INVENTORY_PATH).then(|| self.path.clone().into())
    }
    async fn destroy(&self) -> Result<()> {
        // The VM stays on vSphere, as Packer's does.
        Ok(())
    }
}

/// An OVF package on disk: its descriptor and where each file it references is.
#[derive(Debug)]
pub struct Package {
    /// The descriptor's text.
    pub descriptor: String,
    /// `ovf:href` -> the bytes of that file.
    pub files: Vec<(String, FilePart)>,
}

/// Reads the `.ovf` (files beside it) or `.ova` (a tar: the first `.ovf` member is the
/// descriptor) at `path`.
pub fn read_package(path: &Path) -> Result<Package> {
    let what = |e: &dyn std::fmt::Display| Error::msg(format!("reading {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "ova") {
        let f = std::fs::File::open(path).map_err(|e| what(&e))?;
        let mut ar = tar::Archive::new(f);
        let mut descriptor = None;
        let mut files = Vec::new();
        for entry in ar.entries().map_err(|e| what(&e))? {
            let mut entry = entry.map_err(|e| what(&e))?;
            let name = entry
                .path()
                .map_err(|e| what(&e))?
                .to_string_lossy()
                .into_owned();
            if descriptor.is_none() && name.ends_with(".ovf") {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).map_err(|e| what(&e))?;
                descriptor = Some(text);
                continue;
            }
            files.push((
                name,
                FilePart {
                    path: path.to_path_buf(),
                    offset: entry.raw_file_position(),
                    len: entry.size(),
                },
            ));
        }
        let descriptor = descriptor.ok_or_else(|| what(&"the archive holds no .ovf descriptor"))?;
        return Ok(Package { descriptor, files });
    }
    let descriptor = std::fs::read_to_string(path).map_err(|e| what(&e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for href in references(&descriptor)? {
        let p: PathBuf = dir.join(&href);
        let len = std::fs::metadata(&p)
            .map_err(|e| {
                Error::msg(format!(
                    "{} (referenced by {}): {e}",
                    p.display(),
                    path.display()
                ))
            })?
            .len();
        files.push((
            href,
            FilePart {
                path: p,
                offset: 0,
                len,
            },
        ));
    }
    Ok(Package { descriptor, files })
}

/// Attribute `name` of `n` in the OVF namespace (or without one).
fn ovf_attr<'a>(n: &roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    n.attributes().find(|a| a.name() == name).map(|a| a.value())
}

fn parse(descriptor: &str) -> Result<roxmltree::Document<'_>> {
    roxmltree::Document::parse(descriptor)
        .map_err(|e| Error::msg(format!("the OVF descriptor is not XML: {e}")))
}

/// The `ovf:href` of each `References/File`.
pub fn references(descriptor: &str) -> Result<Vec<String>> {
    let doc = parse(descriptor)?;
    Ok(doc
        .descendants()
        .filter(|n| n.tag_name().name() == "File")
        .filter_map(|n| ovf_attr(&n, "href").map(str::to_string))
        .collect())
}

/// The `ovf:name` of each `NetworkSection/Network`.
pub fn networks(descriptor: &str) -> Result<Vec<String>> {
    let doc = parse(descriptor)?;
    Ok(doc
        .descendants()
        .filter(|n| n.tag_name().name() == "Network")
        .filter(|n| {
            n.parent()
                .is_some_and(|p| p.tag_name().name() == "NetworkSection")
        })
        .filter_map(|n| ovf_attr(&n, "name").map(str::to_string))
        .collect())
}

/// Where and how the VM is imported.
pub struct Target {
    /// The resource pool.
    pub pool: Moref,
    /// The datastore.
    pub datastore: Found,
    /// The folder.
    pub folder: Moref,
    /// `esxi_host`.
    pub host: Option<Moref>,
    /// `vm_network`, with the OVF's network names.
    pub network: Option<(Moref, Vec<String>)>,
}

/// The `CreateImportSpec` request.
pub fn import_spec_request(
    ovf_manager: &Moref,
    descriptor: &str,
    c: &ImportConfig,
    t: &Target,
) -> Request {
    let mut r = Request::new("CreateImportSpec", ovf_manager)
        .text("ovfDescriptor", descriptor)
        .moref("resourcePool", &t.pool)
        .moref("datastore", &t.datastore.moref)
        .open("cisp", None)
        .text("locale", "")
        .text("deploymentOption", "")
        .text("entityName", &c.vm_name);
    if let Some(h) = &t.host {
        r = r.moref("hostSystem", h);
    }
    if let Some((net, names)) = &t.network {
        for n in names {
            r = r
                .open("networkMapping", None)
                .text("name", n)
                .moref("network", net)
                .close("networkMapping");
        }
    }
    r.text("diskProvisioning", &c.disk_mode).close("cisp")
}

/// A file of the import: the lease's `deviceId` and the descriptor's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileItem {
    /// `deviceId`.
    pub device_id: String,
    /// `path` (the descriptor's `ovf:href`).
    pub path: String,
    /// `create`: a new file (PUT) rather than one written into (POST).
    pub create: bool,
}

/// The import spec (with the virtual hardware version capped at `max_version`) and its file
/// items, from a `CreateImportSpecResponse`; the result's errors are an error.
pub fn read_import_spec(answer: &Node, max_version: Option<u32>) -> Result<(Node, Vec<FileItem>)> {
    let rv = crate::nfc::ovf_result(answer, "CreateImportSpec", "the OVF cannot be imported")?;
    let mut spec = rv
        .child("importSpec")
        .cloned()
        .ok_or_else(|| Error::msg("CreateImportSpec returned no import spec"))?;
    if let (Some(max), Some(cs)) = (max_version, spec.child_mut("configSpec")) {
        let v: Option<u32> = cs
            .text_of("version")
            .and_then(|v| v.trim_start_matches("vmx-").parse().ok());
        if v.is_some_and(|v| v > max) {
            cs.set("version", &format!("vmx-{max:02}"));
        }
    }
    let items = rv
        .children_named("fileItem")
        .map(|f| FileItem {
            device_id: f.text_of("deviceId").unwrap_or_default().to_string(),
            path: f.text_of("path").unwrap_or_default().to_string(),
            create: f.text_of("create") != Some("false"),
        })
        .collect();
    Ok((spec, items))
}

#[async_trait]
impl PostProcessor for ImportPostProcessor {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let c = &self.cfg;
        ui.output().redactor().add(&c.password);
        let source = input
            .files()
            .into_iter()
            .find(|f| f.ends_with(".vmx") || f.ends_with(".ovf") || f.ends_with(".ova"))
            .ok_or_else(|| Error::msg("error locating expected .vmx, .ovf, or .ova artifact"))?;
        if source.ends_with(".vmx") {
            return Err(Error::msg(format!(
                "{source}: forge's vsphere post-processor imports an .ovf or .ova through the vSphere API; turning a .vmx into one is ovftool's work, which forge does not use (export the build as OVF first)"
            )));
        }
        let package = read_package(Path::new(&source))?;
        ui.message(&format!("Uploading {source} to {}", c.host));
        let client =
            crate::template::connect(&c.host, &c.username, &c.password, c.insecure).await?;
        let r = import(ctx, ui, &client, c, &package).await;
        let _ = client.logout().await;
        let (datastore, path) = r?;
        Ok(PostProcessed {
            artifact: Some(Arc::new(ImportArtifact {
                files: input.files(),
                datastore,
                folder: c.vm_folder.clone(),
                name: c.vm_name.clone(),
                path,
            })),
            keep: false,
            force_override: false,
        })
    }
}

/// Finds where the VM goes, refusing (or with `overwrite` destroying) one already there.
async fn target(
    client: &Client,
    c: &ImportConfig,
    pkg: &Package,
) -> Result<(Datacenter, Target, String)> {
    let dc = client.datacenter(Some(&c.datacenter)).await?;
    let owner = match client.cluster(&dc, &c.cluster).await {
        Ok(f) => f,
        // `cluster` may name a standalone host, as with ovftool.
        Err(_) => client.host(&dc, &c.cluster).await?,
    };
    let pool = client.resource_pool(&owner, &c.resource_pool).await?.moref;
    let folder = client.folder(&dc, &c.vm_folder).await?;
    let host = if c.esxi_host.is_empty() {
        None
    } else {
        Some(client.host(&dc, &c.esxi_host).await?.moref)
    };
    let datastore = if c.datastore_cluster.is_empty() {
        client.datastore(&dc, &c.datastore).await?
    } else {
        client
            .datastore_in_cluster(&dc, &c.datastore_cluster, &pool, &[], &c.vm_name)
            .await?
            .0
    };
    let network = if c.vm_network.is_empty() {
        None
    } else {
        let net = client.network(&dc, &c.vm_network).await?;
        Some((net.moref, networks(&pkg.descriptor)?))
    };
    let path = format!("{}/{}", folder.path, c.vm_name);
    Ok((
        dc,
        Target {
            pool,
            datastore,
            folder: folder.moref,
            host,
            network,
        },
        path,
    ))
}

/// The import; the datastore's name and the VM's inventory path.
async fn import(
    ctx: &BuildCtx,
    ui: &Ui,
    client: &Client,
    c: &ImportConfig,
    pkg: &Package,
) -> Result<(String, String)> {
    let (_dc, t, path) = target(client, c, pkg).await?;
    let r = import_spec_request(&client.ovf_manager()?, &pkg.descriptor, c, &t);
    let (spec, items) = read_import_spec(&client.call(r).await?, c.hardware_version)?;
    // Every file the spec wants must be in the package before anything is made.
    let mut uploads = Vec::new();
    for it in &items {
        let part = pkg
            .files
            .iter()
            .find(|(href, _)| *href == it.path)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::msg(format!("the OVF package has no file {}", it.path)))?;
        uploads.push((it.clone(), part));
    }
    if let Some(existing) = client.find_by_inventory_path(&path).await? {
        if !c.overwrite {
            return Err(Error::msg(format!(
                "{path} already exists; set `overwrite = true` to replace it"
            )));
        }
        ui.message(&format!("Destroying {path} (overwrite)..."));
        client.remove_vm(&existing).await?;
    }
    ui.message("Uploading virtual machine...");
    let mut record = Some(journal::intend(
        ctx,
        &VmPlace {
            server: c.host.clone(),
            username: c.username.clone(),
            insecure: c.insecure,
            path: path.clone(),
        },
    )?);
    let mut r = Request::new("ImportVApp", &t.pool)
        .node("spec", &spec)
        .moref("folder", &t.folder);
    if let Some(h) = &t.host {
        r = r.moref("host", h);
    }
    let transfer = async {
        let lease = client
            .call(r)
            .await?
            .moref_of("returnval")
            .ok_or_else(|| Error::msg("ImportVApp returned no lease"))?;
        upload(ctx, client, &lease, &uploads).await
    };
    let result = tokio::select! {
        r = transfer => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    };
    match result {
        Ok(vm) => {
            if let Some(rec) = record.as_mut() {
                journal::created(ctx, rec, &vm.value);
            }
            if let Some(rec) = record.take() {
                // The VM is the artifact now.
                journal::gone(ctx, &rec);
            }
            Ok((t.datastore.name.clone(), path))
        }
        Err(e) => {
            undo(ctx, ui, client, &path, &mut record).await;
            Err(e)
        }
    }
}

/// Waits for the lease, sends each file to its URL, completes the lease; the VM. A failed
/// transfer aborts the lease.
async fn upload(
    ctx: &BuildCtx,
    client: &Client,
    lease: &Moref,
    uploads: &[(FileItem, FilePart)],
) -> Result<Moref> {
    let info = client.wait_lease(lease).await?;
    let vm = info.entity.clone();
    let total: u64 = uploads.iter().map(|(_, p)| p.len).sum::<u64>().max(1);
    let mut done = 0;
    let sent = async {
        for (item, part) in uploads {
            let dev = info
                .devices
                .iter()
                .find(|d| d.import_key == item.device_id)
                .ok_or_else(|| {
                    Error::msg(format!("the lease has no upload URL for {}", item.path))
                })?;
            let url = reqwest::Url::parse(&dev.url)
                .map_err(|e| Error::msg(format!("lease URL {}: {e}", dev.url)))?;
            let method = if item.create {
                reqwest::Method::PUT
            } else {
                reqwest::Method::POST
            };
            client
                .send_file(
                    method,
                    url,
                    part,
                    "application/x-vnd.vmware-streamVmdk",
                    &format!("uploading {}", item.path),
                )
                .await?;
            done += part.len;
            let _ = client
                .lease_progress(lease, (done * 100 / total).min(100) as u8)
                .await;
        }
        client.lease_complete(lease).await
    };
    let r = tokio::select! {
        r = sent => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    };
    if let Err(e) = r {
        let _ = client.lease_abort(lease).await;
        return Err(e);
    }
    vm.ok_or_else(|| Error::msg(format!("lease {} names no VM", lease.value)))
}

/// After a failed or interrupted import: the VM at `path` (if the import made it) is removed
/// and its journal entry closed.
async fn undo(ctx: &BuildCtx, ui: &Ui, client: &Client, path: &str, record: &mut Option<Resource>) {
    let Some(rec) = journal::to_clean_up(ctx, record) else {
        return;
    };
    match client.find_by_inventory_path(path).await {
        Ok(None) => journal::gone(ctx, &rec),
        Ok(Some(vm)) => match client.remove_vm(&vm).await {
            Ok(()) => journal::gone(ctx, &rec),
            Err(e) => ui.error(&format!(
                "Error destroying VM {path}, it may still be around: {e}"
            )),
        },
        Err(e) => ui.error(&format!(
            "Error looking for VM {path}, it may still be around: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_core::testing::value;
    use serde_json::json;

    const OVF: &str = r#"<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References><File ovf:href="tiny-disk1.vmdk" ovf:id="file1" ovf:size="512"/></References>
  <NetworkSection><Info>n</Info><Network ovf:name="nat"><Description>d</Description></Network></NetworkSection>
</Envelope>"#;

    #[test]
    fn the_descriptor_names_files_and_networks() {
        assert_eq!(references(OVF).unwrap(), ["tiny-disk1.vmdk"]);
        assert_eq!(networks(OVF).unwrap(), ["nat"]);
        assert!(references("not xml <").is_err());
    }

    fn base() -> serde_json::Value {
        json!({"cluster": "DC0_C0", "datacenter": "DC0", "datastore": "LocalDS_0", "host": "127.0.0.1:1",
               "username": "u", "password": "p", "vm_name": "imported"})
    }

    #[test]
    fn packer_checks_and_ovftool_options_are_refused() {
        let c = ImportConfig::prepare(&value(base())).unwrap();
        assert_eq!(c.disk_mode, "thick");
        let errs = ImportConfig::prepare(&value(json!({}))).unwrap_err();
        for want in [
            "cluster must be set",
            "datacenter must be set",
            "host must be set",
            "password must be set",
            "username must be set",
            "vm_name must be set",
            "either 'datastore' or 'datastore_cluster' must be specified",
        ] {
            assert!(errs.iter().any(|e| e == want), "{want} not in {errs:?}");
        }
        let mut v = base();
        v["options"] = json!(["--X:logLevel=verbose"]);
        v["max_retries"] = json!(3);
        v["hardware_version"] = json!("vmx-xx");
        let errs = ImportConfig::prepare(&value(v)).unwrap_err();
        assert!(
            errs.iter().any(|e| e.starts_with("options: not supported")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("max_retries: not supported")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("hardware_version:")),
            "{errs:?}"
        );
    }

    #[test]
    fn the_import_spec_maps_networks_and_caps_the_hardware_version() {
        let mut c = ImportConfig::prepare(&value(base())).unwrap();
        c.disk_mode = "thin".into();
        let t = Target {
            pool: Moref::new("ResourcePool", "resgroup-1"),
            datastore: Found {
                moref: Moref::new("Datastore", "datastore-1"),
                name: "LocalDS_0".into(),
                path: String::new(),
            },
            folder: Moref::new("Folder", "group-3"),
            host: None,
            network: Some((Moref::new("Network", "network-7"), vec!["nat".into()])),
        };
        let x =
            import_spec_request(&Moref::new("OvfManager", "OvfManager"), OVF, &c, &t).envelope();
        assert!(x.contains(r#"<cisp><locale></locale><deploymentOption></deploymentOption><entityName>imported</entityName><networkMapping><name>nat</name><network type="Network">network-7</network></networkMapping><diskProvisioning>thin</diskProvisioning></cisp>"#), "{x}");
        let answer = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><CreateImportSpecResponse xmlns="urn:vim25"><returnval><importSpec xsi:type="VirtualMachineImportSpec"><configSpec><name>imported</name><version>vmx-19</version></configSpec></importSpec><fileItem><deviceId>/imported/VirtualLsiLogicController0:0</deviceId><path>tiny-disk1.vmdk</path><size>512</size><create>true</create></fileItem></returnval></CreateImportSpecResponse></soapenv:Body></soapenv:Envelope>"#;
        let Ok(crate::soap::Answer::Response(n)) = crate::soap::parse_answer(answer) else {
            panic!("not an answer");
        };
        let (spec, items) = read_import_spec(&n, Some(13)).unwrap();
        assert_eq!(
            spec.child("configSpec").unwrap().text_of("version"),
            Some("vmx-13")
        );
        assert_eq!(items[0].path, "tiny-disk1.vmdk");
        assert!(items[0].create);
        let (spec, _) = read_import_spec(&n, Some(20)).unwrap();
        assert_eq!(
            spec.child("configSpec").unwrap().text_of("version"),
            Some("vmx-19")
        );
    }
}
