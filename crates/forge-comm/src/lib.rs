//! Communicators: how provisioners reach the machine being built.

pub mod ssh;

use std::sync::Arc;

/// The communicators (no plugin types).
pub fn plugins() -> forge_core::plugin::PluginSet {
    forge_core::plugin::PluginSet::default().connector("ssh", Arc::new(ssh::SshConnector))
}
