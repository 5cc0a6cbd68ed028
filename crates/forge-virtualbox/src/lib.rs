//! VirtualBox: the `virtualbox-ovf` builder, driving VirtualBox through `VBoxManage`
//! ([`driver`]). The steps and configuration in [`common`] are written for every VirtualBox
//! builder (`virtualbox-iso` and `virtualbox-vm` will reuse them); what every machine builder
//! shares (downloads, media, the HTTP server, ports, the boot command, shutdown) comes from
//! `forge-commonsteps`.

pub mod common;
pub mod driver;
pub mod ovf;
pub mod reclaim;

#[cfg(test)]
mod fake;

use std::sync::Arc;

/// The `virtualbox-ovf` builder (packer-plugin-virtualbox), with the reclaimer of the VMs it
/// imports.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    PluginSet::of([
        PluginDecl::builder::<forge_template::schema::plugins::VirtualboxOvfBuilder>(
            "virtualbox-ovf",
            ovf::factory,
        )
        .from_plugin("github.com/hashicorp/virtualbox"),
    ])
    .reclaimer(Arc::new(reclaim::VmReclaimer))
}
