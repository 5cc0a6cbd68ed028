//! The null builder's configuration and its checks (Packer's null/config.go).

use forge_template::value::Value;

use crate::comm::{CommConfig, CommType};
use crate::plugin::PrepareInfo;
use crate::registry::{decode, PrepareErrors};

/// The typed configuration: the generated schema struct, with Packer's checks.
#[derive(Debug, Clone)]
pub struct Config {
    /// The decoded arguments.
    pub args: forge_template::schema::plugins::NullBuilder,
    /// The communicator (default `ssh`).
    pub comm: CommConfig,
}

impl Config {
    /// Decodes and checks: with a communicator, a host, a user and exactly one way to
    /// authenticate.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let args: forge_template::schema::plugins::NullBuilder = decode(v)?;
        let k = &args.communicator;
        let comm = CommConfig::prepare(k, CommType::Ssh, info);
        let mut errs = comm.as_ref().err().cloned().unwrap_or_default();
        // The builder's own checks read the settings as written, so that they are reported
        // beside the communicator's own problems.
        let kind = CommType::requested(k, CommType::Ssh);
        if kind != Ok(CommType::None) {
            let winrm = kind == Ok(CommType::Winrm);
            let set = |ssh: &Option<String>, winrm_v: &Option<String>| {
                if winrm { winrm_v } else { ssh }
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
            };
            if !set(&k.ssh_host, &k.winrm_host) {
                errs.push(
                    "a Host must be specified, please reference your communicator documentation"
                        .to_string(),
                );
            }
            if !set(&k.ssh_username, &k.winrm_username) {
                errs.push("a Username must be specified, please reference your communicator documentation".to_string());
            }
            let agent = k.ssh_agent_auth.unwrap_or(false);
            let pw = set(&k.ssh_password, &k.winrm_password);
            let key = k
                .ssh_private_key_file
                .as_deref()
                .is_some_and(|s| !s.is_empty());
            if !agent && !pw && !key {
                errs.push("one authentication method must be specified, please reference your communicator documentation".to_string());
            }
            if (agent && (pw || key)) || (pw && key) {
                errs.push("only one of ssh_agent_auth, ssh_password, and ssh_private_key_file must be specified".to_string());
            }
        }
        match comm {
            Ok(comm) if errs.is_empty() => Ok(Config { args, comm }),
            _ => Err(errs),
        }
    }
}
