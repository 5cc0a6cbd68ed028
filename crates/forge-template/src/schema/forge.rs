//! Plugins of forge's own, not in Packer.

#![allow(missing_docs)]

use std::collections::BTreeMap;

use super::plugins::{AssumeRoleConfig, Communicator, PackerCommon};
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

    /// `amazon-ami` datasource configuration (arguments as in hashicorp/packer-plugin-amazon).
    pub struct AmazonAmiDataSource {
        @flatten packer_common: PackerCommon,
        access_key: Option<String>,
        secret_key: Option<String>,
        token: Option<String>,
        profile: Option<String>,
        shared_credentials_file: Option<String>,
        region: Option<String>,
        custom_endpoint_ec2: Option<String>,
        assume_role: Option<AssumeRoleConfig>,
        skip_region_validation: Option<bool>,
        skip_credential_validation: Option<bool>,
        skip_metadata_api_check: Option<bool>,
        insecure_skip_tls_verify: Option<bool>,
        max_retries: Option<i64>,
        filters: Option<BTreeMap<String, String>>,
        owners: Option<Vec<String>>,
        most_recent: Option<bool>,
        include_deprecated: Option<bool>,
    }

    /// `amazon-ami-management` postprocessor configuration (arguments as in wata727/packer-plugin-amazon-ami-management).
    pub struct AmazonAmiManagementPostProcessor {
        @flatten packer_common: PackerCommon,
        access_key: Option<String>,
        secret_key: Option<String>,
        token: Option<String>,
        profile: Option<String>,
        shared_credentials_file: Option<String>,
        region: Option<String>,
        custom_endpoint_ec2: Option<String>,
        assume_role: Option<AssumeRoleConfig>,
        skip_region_validation: Option<bool>,
        max_retries: Option<i64>,
        identifier: Option<String>,
        keep_releases: Option<i64>,
        keep_days: Option<i64>,
        regions: Option<Vec<String>>,
        dry_run: Option<bool>,
    }
}

/// Registers forge's own plugin schemas.
pub fn register_all(r: &mut Registry) {
    r.register::<ForgeFixtureBuilder>(PluginKind::Builder, "forge-fixture");
    r.register::<AmazonAmiDataSource>(PluginKind::DataSource, "amazon-ami");
    r.register::<AmazonAmiManagementPostProcessor>(
        PluginKind::PostProcessor,
        "amazon-ami-management",
    );
}
