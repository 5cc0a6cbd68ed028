//! The null builder's configuration and its checks (Packer's null/config.go).

use forge_template::value::Value;

use crate::builtin::common::CommSettings;
use crate::plugin::PrepareInfo;
use crate::registry::{decode, PrepareErrors};

/// The typed configuration: the generated schema struct, with Packer's checks.
#[derive(Debug, Clone)]
pub struct Config {
    /// The decoded arguments.
    pub args: forge_template::schema::plugins::NullBuilder,
}

impl Config {
    /// Decodes and checks: with a communicator, a host, a user and exactly one way to
    /// authenticate.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c = Config { args: decode(v)? };
        let settings = CommSettings {
            kind: c.kind(),
            host: c.host(),
            port: None,
            config: v.clone(),
        };
        let mut errs = settings.check(info);
        if c.kind() != "none" {
            if c.host().is_empty() {
                errs.push(
                    "a Host must be specified, please reference your communicator documentation"
                        .to_string(),
                );
            }
            if c.user().is_empty() {
                errs.push("a Username must be specified, please reference your communicator documentation".to_string());
            }
            let k = &c.args.communicator;
            let agent = k.ssh_agent_auth.unwrap_or(false);
            let pw = !c.password().is_empty();
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
        if errs.is_empty() {
            Ok(c)
        } else {
            Err(errs)
        }
    }

    /// `communicator`, default `ssh`.
    pub fn kind(&self) -> String {
        self.args
            .communicator
            .communicator
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "ssh".into())
    }

    fn winrm(&self) -> bool {
        self.kind() == "winrm"
    }

    /// `ssh_host` / `winrm_host`.
    pub fn host(&self) -> String {
        let k = &self.args.communicator;
        if self.winrm() {
            k.winrm_host.clone()
        } else {
            k.ssh_host.clone()
        }
        .unwrap_or_default()
    }

    /// `ssh_port` / `winrm_port`.
    pub fn port(&self) -> Option<i64> {
        let k = &self.args.communicator;
        if self.winrm() {
            k.winrm_port
        } else {
            k.ssh_port
        }
    }

    /// `ssh_username` / `winrm_username`.
    pub fn user(&self) -> String {
        let k = &self.args.communicator;
        if self.winrm() {
            k.winrm_username.clone()
        } else {
            k.ssh_username.clone()
        }
        .unwrap_or_default()
    }

    /// `ssh_password` / `winrm_password`.
    pub fn password(&self) -> String {
        let k = &self.args.communicator;
        if self.winrm() {
            k.winrm_password.clone()
        } else {
            k.ssh_password.clone()
        }
        .unwrap_or_default()
    }
}
