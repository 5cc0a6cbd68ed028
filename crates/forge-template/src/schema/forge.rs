//! Plugins of forge's own, not in Packer.

#![allow(missing_docs)]

use super::plugins::{Communicator, PackerCommon};
use super::registry::{PluginKind, Registry};

crate::plugin_config! {
    /// `forge-fixture`: a test builder that creates real temporary resources (a directory,
    /// files, background processes) step by step, to prove that interrupts and `forge cleanup`
    /// leave nothing behind. With a communicator it also stands in for a cloud builder: it makes
    /// the build's temporary key pair, authorizes it, and connects.
    pub struct ForgeFixtureBuilder {
        @flatten packer_common: PackerCommon,
        files: Option<i64>,
        processes: Option<i64>,
        step_delay: Option<String>,
        hold: Option<String>,
        marker: Option<String>,
        fail_cleanup: Option<bool>,
        /// The machine's `authorized_keys` file, into which the fixture puts the build's
        /// temporary public key (as a cloud does) and from which its cleanup removes it.
        authorized_keys_file: Option<String>,
        @flatten communicator: Communicator,
    }
}

/// Registers forge's own plugin schemas.
pub fn register_all(r: &mut Registry) {
    r.register::<ForgeFixtureBuilder>(PluginKind::Builder, "forge-fixture");
}
