//! Communicators: how provisioners reach the machine being built.

pub mod ssh;

use std::sync::Arc;

/// Registers the communicators.
pub fn register(r: &mut forge_core::Registry) {
    r.connectors.insert("ssh", Arc::new(ssh::SshConnector));
}
