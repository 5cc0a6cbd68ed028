//! What the `ansible` provisioner hands Ansible: the inventory, the `ansible-playbook` and
//! `ansible-galaxy` command lines and their environment, as Packer builds them
//! (`createInventoryFile`, `createCmdArgs`, `executeGalaxy`), and the command line as printed,
//! secrets masked.

use forge_core::plugin::BuildData;
use forge_core::{Error, Result};

use super::config::Config;

/// Where Ansible connects, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `ansible_host`.
    pub host: String,
    /// `ansible_port`.
    pub port: u16,
    /// `ansible_user`.
    pub user: String,
}

/// Packer's inventory line for Ansible 2 and later.
pub const SSH_INVENTORY: &str =
    "{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n";
/// Packer's inventory line for Ansible 1.
pub const SSH_INVENTORY_V1: &str = "{{ .HostAlias }} ansible_ssh_host={{ .Host }} ansible_ssh_user={{ .User }} ansible_ssh_port={{ .Port }}\n";

/// The generated inventory: the host line (`inventory_file_template`, or Packer's default for
/// the Ansible version), then each group holding it, then the empty groups.
pub fn inventory(c: &Config, data: &BuildData, t: &Target) -> Result<String> {
    let template = c
        .inventory_file_template
        .as_deref()
        .unwrap_or(if c.major_version < 2 {
            SSH_INVENTORY_V1
        } else {
            SSH_INVENTORY
        });
    let port = t.port.to_string();
    let host = forge_core::render::render(
        template,
        data,
        &[
            ("HostAlias", c.host_alias.as_str()),
            ("Host", t.host.as_str()),
            ("User", t.user.as_str()),
            ("Port", port.as_str()),
        ],
    )
    .map_err(|e| {
        Error::msg(format!(
            "Error generating inventory file from template: {e}"
        ))
    })?;
    let mut out = host.clone();
    for g in &c.groups {
        out.push_str(&format!("[{g}]\n{host}"));
    }
    for g in &c.empty_groups {
        out.push_str(&format!("[{g}]\n"));
    }
    Ok(out)
}

/// Packer's `checkArg`: whether `name` is one of the `=`-separated parts of any argument.
fn has_arg(name: &str, args: &[String]) -> bool {
    args.iter().any(|a| a.split('=').any(|p| p == name))
}

/// The `ansible-playbook` arguments (Packer's `createCmdArgs`): the `packer_*` variables, the
/// SSH extra arguments when a key file is used, `extra_arguments`, the key file, then
/// `-i <inventory> <playbook>` last. `vars_file` is forge's: a JSON file of connection
/// variables (a password), passed as `-e @file` so that it never shows in a process list.
pub fn playbook_args(
    c: &Config,
    http_addr: Option<&str>,
    key_file: Option<&str>,
    vars_file: Option<&str>,
    inventory: &str,
) -> Vec<String> {
    let mut args = Vec::new();
    if !c.build_name.is_empty() {
        let name = forge_template::gocompat::quote::quote(&c.build_name);
        args.extend(["-e".into(), format!("packer_build_name={name}")]);
    }
    args.extend([
        "-e".into(),
        format!("packer_builder_type={}", c.builder_type),
    ]);
    if let Some(a) = http_addr {
        args.extend(["-e".into(), format!("packer_http_addr={a}")]);
    }
    if key_file.is_some() {
        let ssh = if c.ssh_extra_args.is_empty() {
            "'-o IdentitiesOnly=yes'".to_string()
        } else {
            format!("'{}'", c.ssh_extra_args.join("' '"))
        };
        args.extend(["--ssh-extra-args".into(), ssh]);
    }
    args.extend(c.extra_arguments.iter().cloned());
    if let Some(f) = vars_file {
        args.extend(["-e".into(), format!("@{f}")]);
    }
    if let Some(k) = key_file {
        if !has_arg("ansible_password", &args) {
            args.extend(["-e".into(), format!("ansible_ssh_private_key_file={k}")]);
        }
    }
    args.extend([
        "-i".into(),
        inventory.into(),
        c.playbook_file.to_string_lossy().into_owned(),
    ]);
    args
}

/// The `ansible-galaxy` invocations for `galaxy_file` (Packer's `executeGalaxy`): roles when
/// the file has a `roles:` section or no `collections:` one, collections when it has one.
pub fn galaxy_args(c: &Config, file: &str, content: &str) -> Vec<Vec<String>> {
    let mut roles: Vec<String> = vec!["install".into(), "-r".into(), file.into()];
    let mut collections: Vec<String> = vec![
        "collection".into(),
        "install".into(),
        "-r".into(),
        file.into(),
    ];
    for a in [&mut roles, &mut collections] {
        if c.galaxy_force_install {
            a.push("-f".into());
        }
        if c.galaxy_force_with_deps {
            a.push("--force-with-deps".into());
        }
    }
    if let Some(p) = &c.roles_path {
        roles.extend(["-p".into(), p.clone()]);
    }
    if let Some(p) = &c.collections_path {
        collections.extend(["-p".into(), p.clone()]);
    }
    let section = |name: &str| content.lines().any(|l| l.starts_with(name));
    let (has_roles, has_collections) = (section("roles:"), section("collections:"));
    let mut out = Vec::new();
    if has_roles || !has_collections {
        out.push(roles);
    }
    if has_collections {
        out.push(collections);
    }
    out
}

/// `ansible_env_vars` as name and value (an entry without `=` sets an empty value, as a Go
/// `exec.Cmd` environment would ignore it: it is dropped).
pub fn env(vars: &[String]) -> Vec<(String, String)> {
    vars.iter()
        .filter_map(|v| v.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The command line as Packer prints it (`Executing Ansible: ...`): the values of
/// `extra_arguments` entries whose name holds `password` or `secret`, and the build's
/// passwords, replaced by `*****`.
pub fn sanitized(argv: &[String], extra_arguments: &[String], data: &BuildData) -> String {
    let mut line = argv.join(" ");
    for a in extra_arguments {
        if let Some((k, v)) = a.split_once('=') {
            let k = k.to_lowercase();
            if (k.contains("password") || k.contains("secret")) && !v.is_empty() {
                line = line.replace(v, "*****");
            }
        }
    }
    for key in ["WinRMPassword", "Password"] {
        if let Some(s) = data.get(key).filter(|s| !s.is_empty()) {
            line = line.replace(s.as_str(), "*****");
        }
    }
    line
}

/// Follows Ansible's output to name the task that failed: the last `TASK [...]` header before
/// a `fatal:` or `failed:` line.
#[derive(Debug, Default)]
pub struct TaskTracker {
    current: Option<String>,
    failed: Option<String>,
}

impl TaskTracker {
    /// Reads one output line.
    pub fn line(&mut self, l: &str) {
        if let Some(rest) = l.strip_prefix("TASK [") {
            if let Some(end) = rest.rfind("] ") {
                self.current = Some(rest[..end].to_string());
            }
        } else if l.starts_with("fatal: [") || l.starts_with("failed: [") {
            self.failed = self.current.clone();
        }
    }

    /// The failed task's name.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}
