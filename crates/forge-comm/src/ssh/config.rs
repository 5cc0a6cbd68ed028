//! The `ssh_*` settings: decoded and checked in forge-core's communicator seam
//! ([`forge_core::comm::ssh`]), where every builder reaches them.

pub use forge_core::comm::ssh::*;
