//! Communicators: how provisioners reach the machine being built.

mod lines;
pub mod ssh;
pub mod winrm;

use std::sync::Arc;

use forge_core::comm::CommType;

/// The communicators (no plugin types).
pub fn plugins() -> forge_core::plugin::PluginSet {
    forge_core::plugin::PluginSet::default()
        .connector(CommType::Ssh.name(), Arc::new(ssh::SshConnector))
        .connector(CommType::Winrm.name(), Arc::new(winrm::WinrmConnector))
}
