//! The `ansible` provisioner (Ansible runs here, against the machine being built) and the
//! `ansible-local` provisioner (Ansible runs on the machine), with the SSH adapter that lets
//! Ansible reach a machine through any communicator.

pub mod adapter;
mod checks;
pub mod local;
pub mod remote;
mod version;

/// The provisioners, following hashicorp/packer-plugin-ansible.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::plugins::*;
    const PLUGIN: &str = "github.com/hashicorp/ansible";
    PluginSet::of([
        PluginDecl::provisioner::<AnsibleProvisioner>("ansible", remote::factory)
            .from_plugin(PLUGIN),
        PluginDecl::provisioner::<AnsibleLocalProvisioner>("ansible-local", local::factory)
            .from_plugin(PLUGIN),
    ])
}
