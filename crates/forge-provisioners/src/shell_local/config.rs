//! shell-local's configuration and Packer's checks (SDK shell-local/config.go).

use std::path::PathBuf;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::{env, exit_code, script};

/// The operating systems `only_on` accepts.
pub const SUPPORTED_OS: [&str; 6] = [
    "darwin", "freebsd", "linux", "openbsd", "solaris", "windows",
];

/// The checked configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// Inline lines (from `inline` or `command`).
    pub inline: Option<Vec<String>>,
    /// Script paths as written (from `script` or `scripts`).
    pub scripts: Vec<PathBuf>,
    /// `environment_vars` as key/value pairs.
    pub vars: Vec<(String, String)>,
    /// `env`.
    pub env: Vec<(String, String)>,
    /// `env_var_format`.
    pub env_var_format: String,
    /// `execute_command`.
    pub execute_command: Vec<String>,
    /// `inline_shebang`.
    pub inline_shebang: String,
    /// `only_on`.
    pub only_on: Vec<String>,
    /// `tempfile_extension`.
    pub tempfile_extension: String,
    /// `valid_exit_codes`.
    pub valid_exit_codes: Vec<i64>,
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
}

impl Config {
    /// Decodes and checks, all errors at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::ShellLocalProvisioner = decode(v)?;
        let mut errs = Vec::new();
        let command = c.command.unwrap_or_default();
        let script = c.script.unwrap_or_default();
        let mut inline = c.inline;
        let mut scripts = c.scripts.unwrap_or_default();
        let too_many = "You may only specify one of the following options: Command, Inline, Script or Scripts. Please consolidate these options in your config.".to_string();
        if command.is_empty()
            && inline.as_ref().is_none_or(|i| i.is_empty())
            && scripts.is_empty()
            && script.is_empty()
        {
            errs.push("Command, Inline, Script and Scripts options cannot all be empty.".into());
        }
        if !command.is_empty() {
            if inline.as_ref().is_some_and(|i| !i.is_empty())
                || !scripts.is_empty()
                || !script.is_empty()
            {
                errs.push(too_many.clone());
            } else {
                inline = Some(vec![command]);
            }
        }
        if !script.is_empty() {
            if !scripts.is_empty() || inline.as_ref().is_some_and(|i| !i.is_empty()) {
                errs.push(too_many.clone());
            } else {
                scripts = vec![script];
            }
        }
        if !scripts.is_empty() && inline.is_some() {
            errs.push(too_many);
        }
        // Kept as written (relative paths are relative to the working directory): Packer shows
        // and runs them that way.
        script::check_exist(&scripts, &mut errs);
        let paths: Vec<PathBuf> = scripts.iter().map(PathBuf::from).collect();
        let vars = env::parse_vars(&c.environment_vars.unwrap_or_default(), &mut errs);
        let only_on = c.only_on.unwrap_or_default();
        for os in &only_on {
            if !SUPPORTED_OS.contains(&os.as_str()) {
                errs.push(format!(
                    "Invalid OS specified in only_on: '{os}'\nSupported OS names: {}",
                    SUPPORTED_OS.join(", ")
                ));
            }
        }
        if c.use_linux_pathing.unwrap_or(false) {
            errs.push("use_linux_pathing is only for Windows (WSL); forge runs shell-local with the host's own paths".into());
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Config {
            inline,
            scripts: paths,
            vars,
            env: c.env.unwrap_or_default().into_iter().collect(),
            env_var_format: c
                .env_var_format
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "%s='%s' ".into()),
            execute_command: c
                .execute_command
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| {
                    ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
                        .map(String::from)
                        .to_vec()
                }),
            inline_shebang: c
                .inline_shebang
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh -e".into()),
            only_on,
            tempfile_extension: c.tempfile_extension.unwrap_or_default(),
            valid_exit_codes: exit_code::valid_codes(c.valid_exit_codes),
            build_name: info.build_name.clone(),
            builder_type: info.builder_type.clone(),
        })
    }
}
