//! The `ansible-local` provisioner's configuration, defaults and Packer's checks
//! (packer-plugin-ansible provisioner/ansible-local/provisioner.go `Prepare`).

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::AnsibleLocalProvisioner;
use forge_template::value::Value;

/// Where staging directories go unless `staging_directory` is set (one `<uuid>` below it per
/// provisioner).
pub const DEFAULT_STAGING_DIR: &str = "/tmp/packer-provisioner-ansible-local";

/// `command` when unset.
pub const DEFAULT_COMMAND: &str = "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook";

/// `galaxy_command` when unset.
pub const DEFAULT_GALAXY_COMMAND: &str = "ansible-galaxy";

/// The checked configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `command` (default [`DEFAULT_COMMAND`]): put in the shell command line as it is.
    pub command: String,
    /// `extra_arguments`, joined with spaces into the command line (not quoted).
    pub extra_arguments: Vec<String>,
    /// `group_vars`: a local directory, uploaded as `<staging>/group_vars`.
    pub group_vars: Option<String>,
    /// `host_vars`: a local directory, uploaded as `<staging>/host_vars`.
    pub host_vars: Option<String>,
    /// `playbook_dir`: a local directory uploaded as the staging directory itself.
    pub playbook_dir: Option<String>,
    /// `playbook_file`, as written.
    pub playbook_file: Option<String>,
    /// `playbook_files`, made absolute (Go's `filepath.Abs`: against the working directory,
    /// cleaned).
    pub playbook_files: Vec<String>,
    /// `playbook_paths`: local directories uploaded under `<staging>/playbooks`.
    pub playbook_paths: Vec<String>,
    /// `role_paths`: local directories uploaded under `<staging>/roles`.
    pub role_paths: Vec<String>,
    /// `collection_paths`: local directories uploaded under `<staging>/collections`.
    pub collection_paths: Vec<String>,
    /// `staging_directory` (default `/tmp/packer-provisioner-ansible-local/<uuid>`).
    pub staging_dir: String,
    /// `clean_staging_directory`.
    pub clean_staging_dir: bool,
    /// `inventory_file` (a local file, uploaded); when unset an inventory is generated.
    pub inventory_file: Option<String>,
    /// `inventory_groups`: the groups of the generated inventory.
    pub inventory_groups: Vec<String>,
    /// `galaxy_file`: a local requirements file, uploaded and installed from.
    pub galaxy_file: Option<String>,
    /// `galaxy_command` (default `ansible-galaxy`).
    pub galaxy_command: String,
    /// `galaxy_force_install`: `-f` on both installs.
    pub galaxy_force_install: bool,
    /// `galaxy_roles_path` (default `<staging>/galaxy_roles`).
    pub galaxy_roles_path: String,
    /// `galaxy_collections_path` (default `<staging>/galaxy_collections`).
    pub galaxy_collections_path: String,
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
}

pub(crate) use forge_template::gocompat::os_error;
pub(crate) use forge_template::gocompat::path::{abs, base, dir, join};

use crate::checks::{dir as check_dir, file as check_file};

impl Config {
    /// Decodes and checks; every error at once, in Packer's order.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: AnsibleLocalProvisioner = decode(v)?;
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());

        let staging_dir = non_empty(c.staging_directory).unwrap_or_else(|| {
            join(&[
                DEFAULT_STAGING_DIR,
                &forge_template::legacy::interp::time_ordered_uuid(),
            ])
        });
        let galaxy_roles_path =
            non_empty(c.galaxy_roles_path).unwrap_or_else(|| join(&[&staging_dir, "galaxy_roles"]));
        let galaxy_collections_path = non_empty(c.galaxy_collections_path)
            .unwrap_or_else(|| join(&[&staging_dir, "galaxy_collections"]));

        let playbook_file = non_empty(c.playbook_file);
        let playbook_files_given = c.playbook_files.unwrap_or_default();
        let inventory_file = non_empty(c.inventory_file);
        let galaxy_file = non_empty(c.galaxy_file);
        let playbook_dir = non_empty(c.playbook_dir);
        let group_vars = non_empty(c.group_vars);
        let host_vars = non_empty(c.host_vars);
        let playbook_paths = c.playbook_paths.unwrap_or_default();
        let role_paths = c.role_paths.unwrap_or_default();
        let collection_paths = c.collection_paths.unwrap_or_default();

        let mut errs = Vec::new();
        if !playbook_files_given.is_empty() && playbook_file.is_some() {
            errs.push("Either playbook_file or playbook_files can be specified, not both".into());
        }
        if playbook_files_given.is_empty() && playbook_file.is_none() {
            errs.push("Either playbook_file or playbook_files must be specified".into());
        }
        if let Some(f) = &playbook_file {
            check_file(f, "playbook_file", &mut errs);
        }
        let mut playbook_files = Vec::with_capacity(playbook_files_given.len());
        for f in &playbook_files_given {
            // Packer's validateFileConfig with `req`: an empty entry is "must be specified.".
            if f.is_empty() {
                errs.push("playbook_files must be specified.".into());
                continue;
            }
            if check_file(f, "playbook_files", &mut errs) {
                match abs(f) {
                    Ok(a) => playbook_files.push(a),
                    Err(e) => errs.push(e),
                }
            }
        }
        if let Some(f) = &inventory_file {
            check_file(f, "inventory_file", &mut errs);
        }
        if let Some(f) = &galaxy_file {
            check_file(f, "galaxy_file", &mut errs);
        }
        if let Some(d) = &playbook_dir {
            check_dir(d, "playbook_dir", &mut errs);
        }
        if let Some(d) = &group_vars {
            check_dir(d, "group_vars", &mut errs);
        }
        if let Some(d) = &host_vars {
            check_dir(d, "host_vars", &mut errs);
        }
        for d in &playbook_paths {
            check_dir(d, "playbook_paths", &mut errs);
        }
        for d in &role_paths {
            check_dir(d, "role_paths", &mut errs);
        }
        for d in &collection_paths {
            check_dir(d, "collection_paths", &mut errs);
        }
        if !errs.is_empty() {
            return Err(errs);
        }

        Ok(Config {
            command: non_empty(c.command).unwrap_or_else(|| DEFAULT_COMMAND.into()),
            extra_arguments: c.extra_arguments.unwrap_or_default(),
            group_vars,
            host_vars,
            playbook_dir,
            playbook_file,
            playbook_files,
            playbook_paths,
            role_paths,
            collection_paths,
            staging_dir,
            clean_staging_dir: c.clean_staging_directory.unwrap_or(false),
            inventory_file,
            inventory_groups: c.inventory_groups.unwrap_or_default(),
            galaxy_file,
            galaxy_command: non_empty(c.galaxy_command)
                .unwrap_or_else(|| DEFAULT_GALAXY_COMMAND.into()),
            galaxy_force_install: c.galaxy_force_install.unwrap_or(false),
            galaxy_roles_path,
            galaxy_collections_path,
            build_name: info.build_name.clone(),
            builder_type: info.builder_type.clone(),
        })
    }
}
