//! Communicators: how provisioners reach the machine being built.

pub mod ssh;

use std::sync::Arc;

use forge_core::comm::CommType;

/// Registers the communicators.
pub fn register(r: &mut forge_core::Registry) {
    r.connectors
        .insert(CommType::Ssh.name(), Arc::new(ssh::SshConnector));
}
