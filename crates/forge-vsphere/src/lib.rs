//! forge's vSphere platform: the `vsphere-clone` builder, the VM reclaimer of `forge cleanup`,
//! and a narrow vim25 SOAP client of its own for the calls they make (the README says why not a
//! generated SDK).
//!
//! - [`soap`]: requests, answers and faults as XML;
//! - [`client`]: the session (connection, `insecure_connection`, login, logout, round-trip
//!   count);
//! - [`property`]: properties of managed objects, and objects below a container;
//! - [`find`]: the datacenter, and folders, clusters, hosts, resource pools, datastores,
//!   networks and VMs by name or inventory path;
//! - [`task`]: waiting for a task;
//! - [`vm`]: cloning, reconfiguring, powering, snapshotting and destroying a VM;
//! - [`nfc`]: OVF export over an NFC lease; [`library`]: the content library over vAPI REST;
//! - [`customize`]: guest customization specs;
//! - [`create`]: creating a VM with its devices, CD-ROMs, the boot order;
//! - [`datastore`]: datastore files: uploads over HTTPS, directories, deletion;
//! - [`builder`]: the `vsphere-clone` and `vsphere-iso` builders; [`journal`]: their VMs,
//!   uploaded files and library items in the run's journal;
//! - [`template`]: the `vsphere-template` post-processor.
//!
//! ```no_run
//! # async fn demo() -> forge_core::Result<()> {
//! use forge_vsphere::{Client, Config};
//! let client = Client::connect(&Config::new("vc.example.com", "admin", "secret", false)).await?;
//! let dc = client.datacenter(None).await?;
//! let vm = client.vm(&dc, "template-debian12").await?;
//! println!("{} is {}", vm.path, vm.moref);
//! client.logout().await?;
//! # Ok(()) }
//! ```

pub mod builder;
pub mod client;
pub mod create;
pub mod customize;
pub mod datastore;
pub mod find;
pub mod import;
pub mod journal;
pub mod library;
pub mod nfc;
pub mod property;
pub mod sdrs;
pub mod soap;
pub mod task;
pub mod template;
pub mod vm;

pub use client::{Client, Config, ServiceContent};
pub use find::{Datacenter, Found};
pub use property::ObjectContent;
pub use soap::{Fault, Moref, Node, Request};
pub use task::TaskResult;

/// The `vsphere-clone` and `vsphere-iso` builders, the `vsphere-template` and `vsphere`
/// post-processors (packer-plugin-vsphere), and the reclaimer of their VMs, uploaded files and library items.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::plugins::{
        VsphereCloneBuilder, VsphereIsoBuilder, VspherePostProcessor, VsphereTemplatePostProcessor,
    };
    PluginSet::of([
        PluginDecl::builder::<VsphereCloneBuilder>("vsphere-clone", builder::factory)
            .from_plugin("github.com/hashicorp/vsphere"),
        PluginDecl::builder::<VsphereIsoBuilder>("vsphere-iso", builder::iso::factory)
            .from_plugin("github.com/hashicorp/vsphere"),
        PluginDecl::post_processor::<VsphereTemplatePostProcessor>(
            "vsphere-template",
            template::factory,
        )
        .from_plugin("github.com/hashicorp/vsphere"),
        PluginDecl::post_processor::<VspherePostProcessor>("vsphere", import::factory)
            .from_plugin("github.com/hashicorp/vsphere"),
    ])
    .reclaimer(std::sync::Arc::new(journal::VmReclaimer))
}
