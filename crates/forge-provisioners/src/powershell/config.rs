//! The `powershell` provisioner's configuration, defaults and checks, as Packer 1.6.6's
//! provisioner/powershell `Prepare` makes them (plus `use_pwsh`, `env` and `pause_after`, which
//! later Packer releases added).

use std::time::Duration;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::go::GoDuration;
use crate::common::retry::Retry;
use crate::common::windows::time_ordered_uuid;
use crate::common::{env, exit_code, script};

/// Packer's `start_retry_timeout` when unset or zero.
pub const DEFAULT_START_RETRY_TIMEOUT: Duration = Duration::from_secs(300);

/// The clean-up's retry: for a minute, every ten seconds.
const CLEANUP_RETRY: Retry = Retry {
    timeout: Duration::from_secs(60),
    delay: Duration::from_secs(10),
};

/// The execution policies, in Packer's order (its enum's values 0 to 7).
pub const EXECUTION_POLICIES: [&str; 8] = [
    "bypass",
    "allsigned",
    "default",
    "remotesigned",
    "restricted",
    "undefined",
    "unrestricted",
    "none",
];

/// `execution_policy`: Packer keeps it as an integer (the index in [`EXECUTION_POLICIES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionPolicy(pub i64);

impl ExecutionPolicy {
    /// `none`: the command is not wrapped in `powershell -executionpolicy`.
    pub const NONE: ExecutionPolicy = ExecutionPolicy(7);

    /// Packer's decode hook: a number as it is, else one of the names (exactly as written),
    /// else mapstructure's error.
    pub fn parse(text: &str) -> Result<ExecutionPolicy, String> {
        if let Some(n) = go_atoi(text) {
            return Ok(ExecutionPolicy(n));
        }
        EXECUTION_POLICIES
            .iter()
            .position(|p| *p == text)
            .map(|i| ExecutionPolicy(i as i64))
            .ok_or_else(|| {
                format!(
                    "error decoding 'execution_policy': {text} does not belong to ExecutionPolicy values"
                )
            })
    }
}

impl std::fmt::Display for ExecutionPolicy {
    /// The policy's name; a value outside the enum as Go prints it (`ExecutionPolicy(-1)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match usize::try_from(self.0)
            .ok()
            .and_then(|i| EXECUTION_POLICIES.get(i))
        {
            Some(name) => f.write_str(name),
            None => write!(f, "ExecutionPolicy({})", self.0),
        }
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits, nothing else.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The checked configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `inline` lines (`None` when unset or empty).
    pub inline: Option<Vec<String>>,
    /// `script` or `scripts`, as written.
    pub scripts: Vec<String>,
    /// `environment_vars` as written (`K=V`, rendered with the build's data when they run).
    pub vars: Vec<String>,
    /// `env`.
    pub env: Vec<(String, String)>,
    /// `env_var_format` (default `$env:%s="%s"; `).
    pub env_var_format: String,
    /// `elevated_env_var_format` (default `$env:%s="%s"; `).
    pub elevated_env_var_format: String,
    /// `execute_command`.
    pub execute_command: String,
    /// `elevated_execute_command`.
    pub elevated_execute_command: String,
    /// `execution_policy` (default `bypass`).
    pub execution_policy: ExecutionPolicy,
    /// `use_pwsh`.
    pub use_pwsh: bool,
    /// `elevated_user` (empty: not elevated).
    pub elevated_user: String,
    /// `elevated_password` as written (rendered with the build's data when used).
    pub elevated_password: String,
    /// `remote_path` (default `c:/Windows/Temp/script-<uuid>.ps1`).
    pub remote_path: String,
    /// `remote_env_var_path` (default `c:/Windows/Temp/packer-ps-env-vars-<uuid>.ps1`).
    pub remote_env_var_path: String,
    /// Where the clean-up script goes: `c:/Windows/Temp/packer-cleanup-<uuid>.ps1`.
    pub cleanup_path: String,
    /// `debug_mode` (0, 1 or 2).
    pub debug_mode: i64,
    /// `valid_exit_codes` (default `[0]`).
    pub valid_exit_codes: Vec<i64>,
    /// `skip_clean`.
    pub skip_clean: bool,
    /// Uploads and command starts are retried for `start_retry_timeout` (default 5m).
    pub retry: Retry,
    /// `pause_after`.
    pub pause_after: GoDuration,
    /// The clean-up's retry (Packer's: for a minute, every ten seconds; tests shorten it).
    pub(crate) cleanup_retry: Retry,
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
}

/// Packer's default command: the environment file dot-sourced, then the script, its exit
/// status passed on; wrapped in `powershell -executionpolicy <policy> "..."` unless the
/// policy is `none`.
pub fn default_execute_command(policy: ExecutionPolicy, debug_mode: i64, use_pwsh: bool) -> String {
    let mut base = String::from(
        "& { if (Test-Path variable:global:ProgressPreference){set-variable -name variable:global:ProgressPreference -value 'SilentlyContinue'};",
    );
    if debug_mode != 0 {
        base.push_str(&format!("Set-PsDebug -Trace {debug_mode};"));
    }
    base.push_str(". {{.Vars}}; &'{{.Path}}'; exit $LastExitCode }");
    if policy == ExecutionPolicy::NONE {
        base
    } else if use_pwsh {
        format!("pwsh -executionpolicy {policy} -command \"{base}\"")
    } else {
        format!("powershell -executionpolicy {policy} \"{base}\"")
    }
}

impl Config {
    /// Decodes and checks; every error at once, in Packer's order and words.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::PowershellProvisioner = decode(v)?;
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let execution_policy = match non_empty(c.execution_policy) {
            None => ExecutionPolicy(0),
            Some(p) => ExecutionPolicy::parse(&p)
                .map_err(|e| vec![forge_template::schema::weak::summary(&[e])])?,
        };
        let retry_timeout =
            GoDuration::parse("start_retry_timeout", c.start_retry_timeout.as_deref())
                .map_err(|e| vec![forge_template::schema::weak::summary(&[e])])?;
        let pause_after = GoDuration::parse("pause_after", c.pause_after.as_deref())
            .map_err(|e| vec![forge_template::schema::weak::summary(&[e])])?;
        let debug_mode = c.debug_mode.unwrap_or(0);
        let use_pwsh = c.use_pwsh.unwrap_or(false);

        let mut errs = Vec::new();
        let inline = c.inline.filter(|i| !i.is_empty());
        let script = c.script.unwrap_or_default();
        let mut scripts = c.scripts.unwrap_or_default();
        let elevated_user = c.elevated_user.unwrap_or_default();
        let elevated_password = c.elevated_password.unwrap_or_default();
        if !script.is_empty() && !scripts.is_empty() {
            errs.push("Only one of script or scripts can be specified.".to_string());
        }
        if elevated_user.is_empty() && !elevated_password.is_empty() {
            errs.push("Must supply an 'elevated_user' if 'elevated_password' provided".to_string());
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
        let vars = c.environment_vars.unwrap_or_default();
        env::parse_vars(&vars, &mut errs);
        if execution_policy.0 > 7 {
            errs.push(
                "Invalid execution policy provided. Please supply one of: \"bypass\", \"allsigned\", \"default\", \"remotesigned\", \"restricted\", \"undefined\", \"unrestricted\", \"none\"."
                    .to_string(),
            );
        }
        if !(0..=2).contains(&debug_mode) {
            errs.push(format!(
                "{debug_mode} is an invalid Trace level for `debug_mode`; valid values are 0, 1, and 2"
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }

        let default_command = default_execute_command(execution_policy, debug_mode, use_pwsh);
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
            env_var_format: non_empty(c.env_var_format)
                .unwrap_or_else(|| "$env:%s=\"%s\"; ".into()),
            elevated_env_var_format: non_empty(c.elevated_env_var_format)
                .unwrap_or_else(|| "$env:%s=\"%s\"; ".into()),
            execute_command: non_empty(c.execute_command)
                .unwrap_or_else(|| default_command.clone()),
            elevated_execute_command: non_empty(c.elevated_execute_command)
                .unwrap_or(default_command),
            execution_policy,
            use_pwsh,
            elevated_user,
            elevated_password,
            remote_path: non_empty(c.remote_path)
                .unwrap_or_else(|| format!("c:/Windows/Temp/script-{}.ps1", time_ordered_uuid())),
            remote_env_var_path: non_empty(c.remote_env_var_path).unwrap_or_else(|| {
                format!(
                    "c:/Windows/Temp/packer-ps-env-vars-{}.ps1",
                    time_ordered_uuid()
                )
            }),
            cleanup_path: format!("c:/Windows/Temp/packer-cleanup-{}.ps1", time_ordered_uuid()),
            debug_mode,
            valid_exit_codes: exit_code::valid_codes(c.valid_exit_codes),
            skip_clean: c.skip_clean.unwrap_or(false),
            retry: Retry::new(timeout),
            pause_after,
            cleanup_retry: CLEANUP_RETRY,
            build_name: info.build_name.clone(),
            builder_type: info.builder_type.clone(),
        })
    }
}
