//! The `ansible` provisioner's configuration, defaults and Packer's checks
//! (packer-plugin-ansible provisioner/ansible/provisioner.go `Prepare`).

use std::path::PathBuf;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::gocompat::path::abs;
use forge_template::value::Value;

use crate::adapter::KeyType;
use crate::version;

/// `use_proxy`: Packer's trilean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseProxy {
    /// Unset: forge connects Ansible straight to an SSH machine, and proxies everything else.
    Unset,
    /// `true`: always through the adapter (Packer's default).
    Yes,
    /// `false`: straight to the machine (SSH or WinRM); the adapter only when that cannot be.
    No,
}

/// The checked configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `command` (`ansible-playbook`).
    pub command: String,
    /// `extra_arguments`, with `-e ansible_winrm_scheme=http` when `ansible_winrm_use_http`.
    pub extra_arguments: Vec<String>,
    /// `ansible_env_vars`, with Packer's additions (`ANSIBLE_HOST_KEY_CHECKING=False` unless a
    /// host key file is given, `ANSIBLE_SCP_IF_SSH=True` unless `use_sftp`).
    pub env_vars: Vec<String>,
    /// `playbook_file`, absolute.
    pub playbook_file: PathBuf,
    /// `ansible_ssh_extra_args`.
    pub ssh_extra_args: Vec<String>,
    /// `groups`.
    pub groups: Vec<String>,
    /// `empty_groups`.
    pub empty_groups: Vec<String>,
    /// `host_alias` (`default`).
    pub host_alias: String,
    /// `user`, when given.
    pub user: Option<String>,
    /// `local_port`.
    pub local_port: Option<u16>,
    /// `ssh_host_key_file`.
    pub ssh_host_key_file: Option<PathBuf>,
    /// `ssh_authorized_key_file`.
    pub ssh_authorized_key_file: Option<PathBuf>,
    /// `ansible_proxy_key_type` (ECDSA).
    pub key_type: KeyType,
    /// `sftp_command` (`/usr/lib/sftp-server -e`).
    pub sftp_command: String,
    /// `use_sftp`.
    pub use_sftp: bool,
    /// `inventory_directory`.
    pub inventory_directory: Option<PathBuf>,
    /// `inventory_file_template`.
    pub inventory_file_template: Option<String>,
    /// `inventory_file`.
    pub inventory_file: Option<String>,
    /// `keep_inventory_file`.
    pub keep_inventory_file: bool,
    /// `galaxy_file`.
    pub galaxy_file: Option<String>,
    /// `galaxy_command` (`ansible-galaxy`).
    pub galaxy_command: String,
    /// `galaxy_force_install`.
    pub galaxy_force_install: bool,
    /// `galaxy_force_with_deps`.
    pub galaxy_force_with_deps: bool,
    /// `roles_path`.
    pub roles_path: Option<String>,
    /// `collections_path`.
    pub collections_path: Option<String>,
    /// `use_proxy`.
    pub use_proxy: UseProxy,
    /// The major version `command --version` reported (2 when the check is skipped).
    pub major_version: u32,
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
}

/// Packer's `validateFileConfig`: `name` must be set and be a file.
fn check_file(name: &str, option: &str, errs: &mut Vec<String>) {
    if name.is_empty() {
        errs.push(format!("{option} must be specified."));
    } else {
        crate::checks::file(name, option, errs);
    }
}

impl Config {
    /// Decodes and checks; every error at once. Like Packer, this runs `command --version`
    /// unless `skip_version_check`.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::AnsibleProvisioner = decode(v)?;
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let mut errs = Vec::new();
        let command = non_empty(c.command).unwrap_or_else(|| "ansible-playbook".into());
        let playbook = c.playbook_file.unwrap_or_default();
        check_file(&playbook, "playbook_file", &mut errs);
        let galaxy_file = non_empty(c.galaxy_file);
        if let Some(g) = &galaxy_file {
            check_file(g, "galaxy_file", &mut errs);
        }
        let authorized = non_empty(c.ssh_authorized_key_file);
        if let Some(f) = &authorized {
            check_file(f, "ssh_authorized_key_file", &mut errs);
        }
        let mut env_vars = c.ansible_env_vars.unwrap_or_default();
        let host_key = non_empty(c.ssh_host_key_file);
        match &host_key {
            Some(f) => check_file(f, "ssh_host_key_file", &mut errs),
            None => env_vars.push("ANSIBLE_HOST_KEY_CHECKING=False".into()),
        }
        let use_sftp = c.use_sftp.unwrap_or(false);
        if !use_sftp {
            env_vars.push("ANSIBLE_SCP_IF_SSH=True".into());
        }
        let local_port = match c.local_port.unwrap_or(0) {
            0 => None,
            p => match u16::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => {
                    errs.push(format!("local_port: {p} must be a valid port"));
                    None
                }
            },
        };
        let inventory_directory = non_empty(c.inventory_directory);
        if let Some(d) = &inventory_directory {
            crate::checks::dir(d, "inventory_directory", &mut errs);
        }
        let mut major_version = 2;
        if !c.skip_version_check.unwrap_or(false) {
            match version::major(&command) {
                Ok(v) => major_version = v,
                Err(e) => errs.push(e),
            }
        }
        let key_type = c.ansible_proxy_key_type.unwrap_or_default();
        let key_type = KeyType::parse(&key_type).unwrap_or_else(|| {
            errs.push(format!(
                "Invalid value for ansible_proxy_key_type: {:?}. Supported values are ECDSA or \
                 RSA.",
                key_type.to_uppercase()
            ));
            KeyType::Ecdsa
        });
        let mut extra_arguments = c.extra_arguments.unwrap_or_default();
        if c.ansible_winrm_use_http.unwrap_or(false)
            && !extra_arguments
                .iter()
                .any(|a| a.starts_with("ansible_winrm_scheme"))
        {
            extra_arguments.extend(["-e".into(), "ansible_winrm_scheme=http".into()]);
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Config {
            command,
            extra_arguments,
            env_vars,
            playbook_file: PathBuf::from(abs(&playbook).map_err(|e| vec![e])?),
            ssh_extra_args: c.ansible_ssh_extra_args.unwrap_or_default(),
            groups: c.groups.unwrap_or_default(),
            empty_groups: c.empty_groups.unwrap_or_default(),
            host_alias: non_empty(c.host_alias).unwrap_or_else(|| "default".into()),
            user: non_empty(c.user),
            local_port,
            ssh_host_key_file: host_key.map(PathBuf::from),
            ssh_authorized_key_file: authorized.map(PathBuf::from),
            key_type,
            sftp_command: non_empty(c.sftp_command)
                .unwrap_or_else(|| "/usr/lib/sftp-server -e".into()),
            use_sftp,
            inventory_directory: inventory_directory.map(PathBuf::from),
            inventory_file_template: non_empty(c.inventory_file_template),
            inventory_file: non_empty(c.inventory_file),
            keep_inventory_file: c.keep_inventory_file.unwrap_or(false),
            galaxy_file,
            galaxy_command: non_empty(c.galaxy_command).unwrap_or_else(|| "ansible-galaxy".into()),
            galaxy_force_install: c.galaxy_force_install.unwrap_or(false),
            galaxy_force_with_deps: c.galaxy_force_with_deps.unwrap_or(false),
            roles_path: non_empty(c.roles_path),
            collections_path: non_empty(c.collections_path),
            use_proxy: match c.use_proxy {
                None => UseProxy::Unset,
                Some(true) => UseProxy::Yes,
                Some(false) => UseProxy::No,
            },
            major_version,
            build_name: info.build_name.clone(),
            builder_type: info.builder_type.clone(),
        })
    }
}
