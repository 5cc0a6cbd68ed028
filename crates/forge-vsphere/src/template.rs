//! The `vsphere-template` post-processor (packer-plugin-vsphere, post-processor/vsphere-template):
//! turns the VM a build left on vSphere into a template. Its steps, in Packer's order: choose
//! the datacenter; create the destination `folder` (each missing level); with
//! `snapshot_enable`, snapshot the VM; then either re-register the VM's files as a template in
//! that folder (`reregister_vm`, the default: unregister it, unregister a VM already there under
//! the template's name, `RegisterVM_Task` as a template on the VM's host), or mark it a template
//! where it is (as Packer does, the folder is made but the VM stays).
//!
//! Input: a `jetbrains.vsphere` artifact (vsphere-clone, vsphere-iso), found by the inventory
//! path the artifact carries. Packer 1.6.6 looks for such a VM by name in the folder
//! `Discovered virtual machine` and fails; the newest plugin splits the artifact's id at `::`,
//! which the id never holds. forge reads the path instead. An `artifice` artifact or
//! one of the vmware builders' ESXi artifacts is looked for, as Packer does, under the folder
//! `Discovered virtual machine` (or `folder`) by its id. Anything else is refused with Packer's
//! error.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::{decode, PrepareErrors};
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::schema::plugins::VsphereTemplatePostProcessor;
use forge_template::value::Value;

use crate::client::{Client, Config as ClientConfig};
use crate::soap::{Moref, Request};
use crate::vm::TASK_TIMEOUT;

/// The vmware builders' ESXi artifacts, the vsphere post-processor's, vsphere-iso/clone's and
/// artifice's: the inputs Packer accepts.
const ACCEPTED: &[&str] = &[
    "packer.post-processor.vsphere",
    "mitchellh.vmware-esx",
    crate::builder::BUILDER_ID,
    "packer.post-processor.artifice",
];

/// The state key under which a vSphere artifact carries its VM's inventory path.
pub const INVENTORY_PATH: &str = "vsphere_inventory_path";

/// The checked configuration.
#[derive(Clone, Debug)]
pub struct TemplateConfig {
    /// `host`: the vCenter server.
    pub host: String,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// `insecure`.
    pub insecure: bool,
    /// `datacenter` (empty: the only one).
    pub datacenter: String,
    /// `template_name` (empty: the VM's name).
    pub template_name: String,
    /// `folder`, below the datacenter's `vm` folder.
    pub folder: String,
    /// `snapshot_enable`.
    pub snapshot_enable: bool,
    /// `snapshot_name`.
    pub snapshot_name: String,
    /// `snapshot_description`.
    pub snapshot_description: String,
    /// `reregister_vm` (default true).
    pub reregister_vm: bool,
    /// `override`: a template already at the destination is replaced.
    pub override_existing: bool,
}

impl TemplateConfig {
    /// Decodes with Packer's checks.
    pub fn prepare(v: &Value) -> std::result::Result<TemplateConfig, PrepareErrors> {
        let a: VsphereTemplatePostProcessor = decode(v)?;
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let c = TemplateConfig {
            host: s(&a.host),
            username: s(&a.username),
            password: s(&a.password),
            insecure: a.insecure.unwrap_or(false),
            datacenter: s(&a.datacenter),
            template_name: s(&a.template_name),
            folder: s(&a.folder),
            snapshot_enable: a.snapshot_enable.unwrap_or(false),
            snapshot_name: s(&a.snapshot_name),
            snapshot_description: s(&a.snapshot_description),
            reregister_vm: a.reregister_vm.unwrap_or(true),
            override_existing: a.r#override.unwrap_or(false),
        };
        let mut errs = Vec::new();
        must_be_set(
            &[
                ("host", &c.host),
                ("username", &c.username),
                ("password", &c.password),
            ],
            "error: ",
            &mut errs,
        );
        if errs.is_empty() {
            Ok(c)
        } else {
            Err(errs)
        }
    }
}

/// A post-processor's session, with Packer's error.
pub(crate) async fn connect(
    host: &str,
    user: &str,
    password: &str,
    insecure: bool,
) -> Result<Client> {
    Client::connect(&ClientConfig::new(host, user, password, insecure))
        .await
        .map_err(|e| Error::msg(format!("error connecting to vsphere endpoint: {e}")))
}

/// Packer's `<prefix><name> must be set` for each empty required setting.
pub(crate) fn must_be_set(settings: &[(&str, &String)], prefix: &str, errs: &mut Vec<String>) {
    for (k, v) in settings {
        if v.is_empty() {
            errs.push(format!("{prefix}{k} must be set"));
        }
    }
}

/// The configured post-processor.
pub struct TemplatePostProcessor {
    cfg: TemplateConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(TemplatePostProcessor {
        cfg: TemplateConfig::prepare(v)?,
    }))
}

/// Where the input's VM is: its inventory path, or (name, folder below `vm`) to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The inventory path a forge vSphere artifact carries.
    Path(String),
    /// A VM name in a folder below the datacenter's `vm` folder.
    Named {
        /// The VM's name.
        name: String,
        /// The folder.
        folder: String,
    },
}

/// Where to find the VM of `input`, or Packer's refusal.
pub fn source(input: &dyn Artifact, cfg: &TemplateConfig) -> Result<Source> {
    let bid = input.builder_id();
    if !ACCEPTED.contains(&bid.as_str()) {
        return Err(Error::msg(format!(
            "error: unsupported artifact type {bid}. supported types: vsphere-iso exported OVF or vSphere post-processor"
        )));
    }
    let text = |k: &str| match input.state(k) {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    };
    if !text("ArtifactConfFormat").is_empty()
        && text("ArtifactConfKeepRegistered") != "true"
        && text("ArtifactConfSkipExport") == "false"
    {
        return Err(Error::msg(
            "error: `keep_registered` must be set to `true` for export",
        ));
    }
    if bid == crate::builder::BUILDER_ID {
        let path = text(INVENTORY_PATH);
        if path.is_empty() {
            return Err(Error::msg(format!(
                "the {bid} artifact {} does not say where its VM is",
                input.id()
            )));
        }
        return Ok(Source::Path(path));
    }
    Ok(Source::Named {
        name: input.id(),
        folder: if cfg.folder.is_empty() {
            "Discovered virtual machine".into()
        } else {
            cfg.folder.clone()
        },
    })
}

/// `/a/b/` -> `a/b`.
fn trim(p: &str) -> &str {
    p.trim_matches('/')
}

#[async_trait]
impl PostProcessor for TemplatePostProcessor {
    async fn post_process(
        &self,
        _ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let c = &self.cfg;
        ui.output().redactor().add(&c.password);
        let src = source(input.as_ref(), c)?;
        let client = connect(&c.host, &c.username, &c.password, c.insecure).await?;
        let r = run(&client, ui, c, &src).await;
        let _ = client.logout().await;
        r?;
        Ok(PostProcessed {
            artifact: Some(input),
            keep: true,
            force_override: true,
        })
    }
}

async fn run(client: &Client, ui: &Ui, c: &TemplateConfig, src: &Source) -> Result<()> {
    // stepChooseDatacenter
    ui.message("Choosing datacenter...");
    let dc = client
        .datacenter((!c.datacenter.is_empty()).then_some(c.datacenter.as_str()))
        .await?;
    // stepCreateFolder
    ui.message("Creating or checking destination folders...");
    let (folder, folder_path) = create_folder(client, ui, &dc.path, &c.folder).await?;
    let vm_path = match src {
        Source::Path(p) => p.clone(),
        Source::Named { name, folder } => {
            format!("{}/vm/{}/{name}", dc.path, trim(folder))
        }
    };
    let vm = client
        .find_by_inventory_path(&vm_path)
        .await?
        .filter(|m| m.kind == "VirtualMachine")
        .ok_or_else(|| Error::msg(format!("VM at path {vm_path} not found")))?;
    let vm_name = vm_path.rsplit('/').next().unwrap_or_default().to_string();
    // stepCreateSnapshot
    if c.snapshot_enable {
        ui.message("Creating a Snapshot...");
        client
            .create_snapshot_described(&vm, &c.snapshot_name, &c.snapshot_description)
            .await?;
    }
    // StepMarkAsTemplate
    let name = if c.template_name.is_empty() {
        vm_name.clone()
    } else {
        c.template_name.clone()
    };
    let target = format!("{folder_path}/{name}");
    if !c.reregister_vm {
        ui.message("Marking as a template...");
        existing_template(client, ui, &target, &vm, c.override_existing).await?;
        // In place, as Packer does (both 1.6.6 and the newest plugin): neither moved into
        // `folder` nor renamed to `template_name`.
        return client
            .mark_as_template(&vm)
            .await
            .map_err(|e| Error::msg(format!("vm.MarkAsTemplate: {e}")));
    }
    ui.message("Re-register VM as a template...");
    let o = client
        .retrieve_one(&vm, &["config.files.vmPathName", "runtime.host"])
        .await?;
    let vmx = o
        .text("config.files.vmPathName")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::msg(format!("datastorePath: no files found for {vm_path}")))?
        .to_string();
    let host = o
        .moref("runtime.host")
        .ok_or_else(|| Error::msg(format!("vm.HostSystem: {vm_path} has no host")))?;
    existing_template(client, ui, &target, &vm, c.override_existing).await?;
    client
        .call(Request::new("UnregisterVM", &vm))
        .await
        .map_err(|e| Error::msg(format!("vm.Unregister: {e}")))?;
    ui.message(&format!(
        "Registering virtual machine as a template: {name}"
    ));
    let r = Request::new("RegisterVM_Task", &folder)
        .text("path", &vmx)
        .text("name", &name)
        .boolean("asTemplate", true)
        .moref("host", &host);
    let task = client.call_task(r).await.map_err(|e| {
        Error::msg(format!(
            "RegisterVM: {e} (the VM's files stay at {vmx}; register them again by hand)"
        ))
    })?;
    client
        .wait_for_task(&task, TASK_TIMEOUT)
        .await
        .map_err(|e| {
            Error::msg(format!(
                "task.Wait: {e} (the VM's files stay at {vmx}; register them again by hand)"
            ))
        })?;
    Ok(())
}

/// A VM or template already at `target` (other than `vm`): refused, or with `override`
/// unregistered (templates) as Packer does.
async fn existing_template(
    client: &Client,
    ui: &Ui,
    target: &str,
    vm: &Moref,
    override_existing: bool,
) -> Result<()> {
    let Some(found) = client.find_by_inventory_path(target).await? else {
        return Ok(());
    };
    if &found == vm {
        return Ok(());
    }
    if found.kind != "VirtualMachine" {
        return Err(Error::msg(format!(
            "an object name '{target}' already exists"
        )));
    }
    if !override_existing {
        return Err(Error::msg(format!(
            "a template or virtual machine already exists at {target}; set `override = true` to replace it"
        )));
    }
    ui.message(&format!(
        "Unregistering the existing template at {target}..."
    ));
    client
        .call(Request::new("UnregisterVM", &found))
        .await
        .map(|_| ())
}

/// Finds `folder` below `dc_path/vm`, creating each missing level; its moref and path.
async fn create_folder(
    client: &Client,
    ui: &Ui,
    dc_path: &str,
    folder: &str,
) -> Result<(Moref, String)> {
    let base = format!("{dc_path}/vm");
    let mut path = if trim(folder).is_empty() {
        base.clone()
    } else {
        format!("{base}/{}", trim(folder))
    };
    let mut missing = Vec::new();
    let mut found = loop {
        if let Some(r) = client.find_by_inventory_path(&path).await? {
            break r;
        }
        let (dir, leaf) = path
            .rsplit_once('/')
            .map(|(d, l)| (d.to_string(), l.to_string()))
            .unwrap_or_default();
        if dir == dc_path || dir.is_empty() {
            return Err(Error::msg(format!("vSphere base path {base} not found")));
        }
        missing.push(leaf);
        path = dir;
    };
    if found.kind != "Folder" {
        return Err(Error::msg(format!("folder not found: '{path}'")));
    }
    for name in missing.iter().rev() {
        ui.message(&format!("Creating folder: {name}"));
        let r = client
            .call(Request::new("CreateFolder", &found).text("name", name))
            .await?;
        found = r
            .child("returnval")
            .and_then(|n| n.as_moref())
            .ok_or_else(|| Error::msg("CreateFolder returned no folder"))?;
        path = format!("{path}/{name}");
    }
    Ok((found, path))
}

impl Client {
    /// Moves `obj` into `folder`.
    pub async fn move_into_folder(&self, folder: &Moref, obj: &Moref) -> Result<()> {
        let task = self
            .call_task(Request::new("MoveIntoFolder_Task", folder).moref("list", obj))
            .await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct A {
        id: &'static str,
        state: BTreeMap<&'static str, serde_json::Value>,
    }

    #[async_trait]
    impl Artifact for A {
        fn builder_id(&self) -> String {
            self.id.into()
        }
        fn files(&self) -> Vec<String> {
            Vec::new()
        }
        fn id(&self) -> String {
            "golden".into()
        }
        fn string(&self) -> String {
            "golden".into()
        }
        fn state(&self, name: &str) -> Option<serde_json::Value> {
            self.state.get(name).cloned()
        }
        async fn destroy(&self) -> Result<()> {
            Ok(())
        }
    }

    fn cfg(v: serde_json::Value) -> std::result::Result<TemplateConfig, PrepareErrors> {
        TemplateConfig::prepare(&forge_template::functions::value_from_json(v).unwrap())
    }

    #[test]
    fn configuration_checks_and_defaults() {
        let errs = cfg(serde_json::json!({})).unwrap_err();
        assert_eq!(
            errs,
            [
                "error: host must be set",
                "error: username must be set",
                "error: password must be set"
            ]
        );
        let c = cfg(serde_json::json!({"host": "vc", "username": "u", "password": "p"})).unwrap();
        assert!(c.reregister_vm && !c.snapshot_enable && !c.override_existing);
    }

    #[test]
    fn inputs_accepted_and_refused() {
        let c = cfg(serde_json::json!({"host": "vc", "username": "u", "password": "p"})).unwrap();
        let a = |id, state: &[(&'static str, serde_json::Value)]| A {
            id,
            state: state.iter().cloned().collect(),
        };
        let e = source(&a("mitchellh.docker", &[]), &c)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "error: unsupported artifact type mitchellh.docker. supported types: vsphere-iso exported OVF or vSphere post-processor");
        assert_eq!(
            source(
                &a(
                    "jetbrains.vsphere",
                    &[(INVENTORY_PATH, "/DC0/vm/golden".into())]
                ),
                &c
            )
            .unwrap(),
            Source::Path("/DC0/vm/golden".into())
        );
        assert!(source(&a("jetbrains.vsphere", &[]), &c).is_err());
        assert_eq!(
            source(&a("packer.post-processor.artifice", &[]), &c).unwrap(),
            Source::Named {
                name: "golden".into(),
                folder: "Discovered virtual machine".into()
            }
        );
        let e = source(
            &a(
                "mitchellh.vmware-esx",
                &[
                    ("ArtifactConfFormat", "ovf".into()),
                    ("ArtifactConfSkipExport", "false".into()),
                ],
            ),
            &c,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("keep_registered"), "{e}");
    }
}
