//! Arguments that earlier releases of a plugin accepted and that templates in use still set.
//! They are registered over the generated schemas (`plugins.rs`), which follow the newest plugin
//! sources. Each field is the plugin's argument of the same name, documented by the plugin.

#![allow(missing_docs)]

use super::plugins::{VmwareIsoBuilder, VmwareVmxBuilder};
use super::registry::{PluginKind, Registry};

crate::plugin_config! {
    /// The remote ESXi driver of packer-plugin-vmware before 1.1 (`remote_type = "esx5"`).
    pub struct VmwareRemoteEsxi {
        remote_host: Option<String>,
        remote_port: Option<i64>,
        remote_datastore: Option<String>,
        remote_cache_datastore: Option<String>,
        remote_cache_directory: Option<String>,
        remote_username: Option<String>,
        remote_password: Option<String>,
        remote_private_key_file: Option<String>,
        remote_output_directory: Option<String>,
        insecure_connection: Option<bool>,
        skip_validate_credentials: Option<bool>,
        vnc_over_websocket: Option<bool>,
        keep_registered: Option<bool>,
    }

    /// `vmware-iso` builder configuration (arguments as in hashicorp/packer-plugin-vmware), with
    /// the remote ESXi arguments.
    pub struct VmwareIsoWithEsxi {
        @flatten current: VmwareIsoBuilder,
        @flatten esxi: VmwareRemoteEsxi,
    }

    /// `vmware-vmx` builder configuration (arguments as in hashicorp/packer-plugin-vmware), with
    /// the remote ESXi arguments.
    pub struct VmwareVmxWithEsxi {
        @flatten current: VmwareVmxBuilder,
        @flatten esxi: VmwareRemoteEsxi,
    }
}

/// Registers the widened schemas.
pub fn register_all(r: &mut Registry) {
    r.register::<VmwareIsoWithEsxi>(PluginKind::Builder, "vmware-iso");
    r.register::<VmwareVmxWithEsxi>(PluginKind::Builder, "vmware-vmx");
}
