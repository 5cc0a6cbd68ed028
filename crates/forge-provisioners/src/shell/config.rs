//! The `shell` provisioner's configuration, defaults and Packer's checks
//! (provisioner/shell/provisioner.go `Prepare`).

use std::time::Duration;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::go::GoDuration;
use crate::common::retry::Retry;
use crate::common::{env, exit_code, script};

/// Packer's `start_retry_timeout` when unset or zero.
pub const DEFAULT_START_RETRY_TIMEOUT: Duration = Duration::from_secs(300);

/// The checked configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `inline` lines (`None` when unset or empty).
    pub inline: Option<Vec<String>>,
    /// `script` or `scripts`, as written (relative to the working directory).
    pub scripts: Vec<String>,
    /// `environment_vars` as name/value pairs.
    pub vars: Vec<(String, String)>,
    /// `env`.
    pub env: Vec<(String, String)>,
    /// `env_var_format` (default `%s='%s' `, or `export %s='%s'\n` with an env var file).
    pub env_var_format: String,
    /// `use_env_var_file`.
    pub use_env_var_file: bool,
    /// `execute_command` (rendered when each script runs).
    pub execute_command: String,
    /// `inline_shebang` (default `/bin/sh -e`).
    pub inline_shebang: String,
    /// Whether `inline_shebang` was set: then it is written even above inline lines that
    /// start with their own `#!`.
    pub inline_shebang_set: bool,
    /// `remote_folder` (default `/tmp`): where the env var file goes.
    pub remote_folder: String,
    /// `remote_path` (default `<remote_folder>/<remote_file>`, the file `script_<n>.sh`).
    pub remote_path: String,
    /// `binary`: upload scripts as they are, without turning CRLF into LF.
    pub binary: bool,
    /// `skip_clean`.
    pub skip_clean: bool,
    /// `expect_disconnect`.
    pub expect_disconnect: bool,
    /// `valid_exit_codes` (default `[0]`).
    pub valid_exit_codes: Vec<i64>,
    /// Uploads and command starts are retried for `start_retry_timeout` (default 5m).
    pub retry: Retry,
    /// `pause_after`.
    pub pause_after: GoDuration,
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
}

/// Go's `rand.Intn(9999)`, for the default remote names.
pub(crate) fn rand_suffix() -> u32 {
    getrandom::u32().unwrap_or(0) % 9999
}

impl Config {
    /// Decodes and checks; every error at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::ShellProvisioner = decode(v)?;
        let mut errs = Vec::new();
        let use_env_var_file = c.use_env_var_file.unwrap_or(false);
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
        let retry_timeout =
            GoDuration::parse("start_retry_timeout", c.start_retry_timeout.as_deref())
                .unwrap_or_else(|e| {
                    errs.push(e);
                    GoDuration::default()
                });
        let pause_after = GoDuration::parse("pause_after", c.pause_after.as_deref())
            .unwrap_or_else(|e| {
                errs.push(e);
                GoDuration::default()
            });
        if !errs.is_empty() {
            return Err(errs);
        }

        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let remote_folder = non_empty(c.remote_folder).unwrap_or_else(|| "/tmp".into());
        let remote_file =
            non_empty(c.remote_file).unwrap_or_else(|| format!("script_{}.sh", rand_suffix()));
        let remote_path =
            non_empty(c.remote_path).unwrap_or_else(|| format!("{remote_folder}/{remote_file}"));
        let inline_shebang = non_empty(c.inline_shebang);
        // Go's time.After with a negative duration fires at once: one try, no retries.
        let timeout = match retry_timeout {
            d if d.is_zero() => DEFAULT_START_RETRY_TIMEOUT,
            d => d.wait(),
        };
        Ok(Config {
            inline,
            scripts,
            vars,
            env: c.env.unwrap_or_default().into_iter().collect(),
            env_var_format: non_empty(c.env_var_format).unwrap_or_else(|| {
                if use_env_var_file {
                    "export %s='%s'\n".into()
                } else {
                    "%s='%s' ".into()
                }
            }),
            use_env_var_file,
            execute_command: non_empty(c.execute_command).unwrap_or_else(|| {
                if use_env_var_file {
                    "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}".into()
                } else {
                    "chmod +x {{.Path}}; {{.Vars}} {{.Path}}".into()
                }
            }),
            inline_shebang_set: inline_shebang.is_some(),
            inline_shebang: inline_shebang.unwrap_or_else(|| "/bin/sh -e".into()),
            remote_folder,
            remote_path,
            binary: c.binary.unwrap_or(false),
            skip_clean: c.skip_clean.unwrap_or(false),
            expect_disconnect: c.expect_disconnect.unwrap_or(false),
            valid_exit_codes: exit_code::valid_codes(c.valid_exit_codes),
            retry: Retry::new(timeout),
            pause_after,
            build_name: info.build_name.clone(),
            builder_type: info.builder_type.clone(),
        })
    }
}
