//! The `windows-shell` provisioner's configuration, defaults and checks (Packer 1.6.6
//! provisioner/windows-shell `Prepare`; `env`, from later releases, too).

use std::time::Duration;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::go::GoDuration;
use crate::common::retry::Retry;
use crate::common::{env, exit_code, script};

/// Packer's `remote_path` when unset.
pub const DEFAULT_REMOTE_PATH: &str = "c:/Windows/Temp/script.bat";

/// Packer's `start_retry_timeout` when unset or zero.
pub const DEFAULT_START_RETRY_TIMEOUT: Duration = Duration::from_secs(300);

/// The checked configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `inline` lines (`None` when unset or empty).
    pub inline: Option<Vec<String>>,
    /// `script` or `scripts`, as written.
    pub scripts: Vec<String>,
    /// `environment_vars` as name/value pairs.
    pub vars: Vec<(String, String)>,
    /// `env`; wins over `environment_vars`.
    pub env: Vec<(String, String)>,
    /// `env_var_format` (default `set "%s=%s" && `).
    pub env_var_format: String,
    /// `execute_command` (default `{{.Vars}}"{{.Path}}"`).
    pub execute_command: String,
    /// `remote_path` (default `c:/Windows/Temp/script.bat`).
    pub remote_path: String,
    /// `valid_exit_codes` (default `[0]`).
    pub valid_exit_codes: Vec<i64>,
    /// Uploads and command starts are retried for `start_retry_timeout` (default 5m).
    pub retry: Retry,
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
}

impl Config {
    /// Decodes and checks; every error at once, in Packer's order and words.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::WindowsShellProvisioner = decode(v)?;
        let retry_timeout =
            GoDuration::parse("start_retry_timeout", c.start_retry_timeout.as_deref())
                .map_err(|e| vec![forge_template::schema::weak::summary(&[e])])?;
        let mut errs = Vec::new();
        let inline = c.inline.filter(|i| !i.is_empty());
        let script = c.script.unwrap_or_default();
        let mut scripts = c.scripts.unwrap_or_default();
        if !script.is_empty() && !scripts.is_empty() {
            errs.push("Only one of script or scripts can be specified.".to_string());
        }
        if !script.is_empty() {
            scripts = vec![script];
        }
        if scripts.is_empty() && inline.is_none() {
            errs.push("Either a script file or inline script must be specified.".to_string());
        } else if !scripts.is_empty() && inline.is_some() {
            errs.push(
                "Only a script file or an inline script can be specified, not both.".to_string(),
            );
        }
        script::check_exist(&scripts, &mut errs);
        let vars = env::parse_vars(&c.environment_vars.unwrap_or_default(), &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let timeout = match retry_timeout {
            d if d.is_zero() => DEFAULT_START_RETRY_TIMEOUT,
            d => d.wait(),
        };
        Ok(Config {
            inline,
            scripts,
            vars,
            env: c.env.unwrap_or_default().into_iter().collect(),
            env_var_format: non_empty(c.env_var_format)
                .unwrap_or_else(|| "set \"%s=%s\" && ".into()),
            execute_command: non_empty(c.execute_command)
                .unwrap_or_else(|| "{{.Vars}}\"{{.Path}}\"".into()),
            remote_path: non_empty(c.remote_path).unwrap_or_else(|| DEFAULT_REMOTE_PATH.into()),
            valid_exit_codes: exit_code::valid_codes(c.valid_exit_codes),
            retry: Retry::new(timeout),
            build_name: info.build_name.clone(),
            builder_type: info.builder_type.clone(),
        })
    }
}
