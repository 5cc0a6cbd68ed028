//! The communicator settings of a builder's configuration, decoded once when the builder is
//! prepared (Packer's `communicator.Config` and `comm.Prepare`). Builders keep the
//! [`CommConfig`] and hand it to [`StepConnect`](crate::builtin::common::StepConnect); the
//! connectors (forge-comm's ssh, ...) receive it typed through
//! [`ConnectRequest`](crate::plugin::ConnectRequest).
//!
//! It lives in forge-core, beside the [`Connector`] trait that consumes it, because forge-comm
//! depends on forge-core and forge-core's own null and fixture builders connect too. What only
//! an implementation can judge (does a private key parse, is a cipher supported) is asked of the
//! registered connector through [`Connector::check_private_key`] and [`Connector::supports`].

pub mod ssh;
pub mod winrm;

use forge_template::schema::plugins::Communicator as Raw;

use crate::plugin::{Connector, PrepareInfo};

pub use ssh::SshConfig;
pub use winrm::WinrmConfig;

/// The connector asked to vet implementation-specific settings, when one is registered.
pub type Vetting<'a> = Option<&'a dyn Connector>;

/// An algorithm list a connector may or may not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `ssh_ciphers`.
    Cipher,
    /// `ssh_key_exchange_algorithms`.
    Kex,
}

/// A `communicator` type Packer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CommType {
    /// `none`: no connection.
    None,
    /// `ssh`.
    Ssh,
    /// `winrm`.
    Winrm,
    /// `docker`: the docker builder's own communicator.
    Docker,
    /// `dockerWindowsContainer`.
    DockerWindows,
}

impl CommType {
    /// Every type, in the order Packer lists them.
    pub const ALL: [CommType; 5] = [
        CommType::None,
        CommType::Ssh,
        CommType::Winrm,
        CommType::Docker,
        CommType::DockerWindows,
    ];

    /// The name as written in `communicator` (and the connectors' registry key).
    pub fn name(self) -> &'static str {
        match self {
            CommType::None => "none",
            CommType::Ssh => "ssh",
            CommType::Winrm => "winrm",
            CommType::Docker => "docker",
            CommType::DockerWindows => "dockerWindowsContainer",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<CommType> {
        CommType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The type `communicator` asks for (`default` when unset or empty); an unknown name is
    /// returned as the error.
    pub fn requested(args: &Raw, default: CommType) -> Result<CommType, String> {
        match args.communicator.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => CommType::parse(s).ok_or_else(|| s.to_string()),
        }
    }
}

impl std::fmt::Display for CommType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A builder's decoded communicator settings.
#[derive(Debug, Clone)]
pub enum CommConfig {
    /// `communicator = "none"`.
    None,
    /// `ssh` with its `ssh_*` settings.
    Ssh(Box<SshConfig>),
    /// `winrm` with its `winrm_*` settings.
    Winrm(WinrmConfig),
    /// The docker builder's communicator (`dockerWindowsContainer` when `windows`).
    Docker {
        /// Whether it was asked for as `dockerWindowsContainer`.
        windows: bool,
    },
}

impl CommConfig {
    /// Decodes and checks the settings of `args` (Packer's `comm.Prepare`), with `default` as
    /// the type when `communicator` is unset; every problem at once. The registered connector
    /// of the type, if any, vets what only it can judge.
    pub fn prepare(
        args: &Raw,
        default: CommType,
        info: &PrepareInfo,
    ) -> Result<CommConfig, Vec<String>> {
        let vet = CommType::requested(args, default)
            .ok()
            .and_then(|t| info.connectors.get(t.name()))
            .map(|c| c.as_ref());
        CommConfig::decode(args, default, vet)
    }

    /// [`CommConfig::prepare`] with the vetting connector given.
    pub fn decode(args: &Raw, default: CommType, vet: Vetting<'_>) -> Result<CommConfig, Vec<String>> {
        let kind = CommType::requested(args, default)
            .map_err(|k| vec![format!("Communicator type {k} is invalid")])?;
        match kind {
            CommType::None => Ok(CommConfig::None),
            CommType::Ssh => SshConfig::prepare(args, vet).map(|c| CommConfig::Ssh(Box::new(c))),
            CommType::Winrm => {
                let mut errs = Vec::new();
                let c = WinrmConfig::prepare(args, &mut errs);
                if errs.is_empty() {
                    Ok(CommConfig::Winrm(c))
                } else {
                    Err(errs)
                }
            }
            CommType::Docker => Ok(CommConfig::Docker { windows: false }),
            CommType::DockerWindows => Ok(CommConfig::Docker { windows: true }),
        }
    }

    /// The type.
    pub fn kind(&self) -> CommType {
        match self {
            CommConfig::None => CommType::None,
            CommConfig::Ssh(_) => CommType::Ssh,
            CommConfig::Winrm(_) => CommType::Winrm,
            CommConfig::Docker { windows: false } => CommType::Docker,
            CommConfig::Docker { windows: true } => CommType::DockerWindows,
        }
    }

    /// The type's name (`ssh`, ...).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether there is no connection (`none`).
    pub fn is_none(&self) -> bool {
        matches!(self, CommConfig::None)
    }

    /// The ssh settings, with `ssh`.
    pub fn ssh(&self) -> Option<&SshConfig> {
        match self {
            CommConfig::Ssh(c) => Some(c),
            _ => None,
        }
    }

    /// The configured host (`ssh_host` / `winrm_host`), when set.
    pub fn host(&self) -> Option<&str> {
        match self {
            CommConfig::Ssh(c) => Some(c.host.as_str()),
            CommConfig::Winrm(c) => Some(c.host.as_str()),
            CommConfig::None | CommConfig::Docker { .. } => None,
        }
        .filter(|h| !h.is_empty())
    }

    /// The port on the machine: `ssh_port` (22), `winrm_port` (5985, 5986 with SSL); none
    /// for the others.
    pub fn port(&self) -> Option<u16> {
        match self {
            CommConfig::Ssh(c) => Some(c.port),
            CommConfig::Winrm(c) => Some(c.port),
            CommConfig::None | CommConfig::Docker { .. } => None,
        }
    }

    /// The user (`ssh_username` / `winrm_username`).
    pub fn user(&self) -> Option<&str> {
        match self {
            CommConfig::Ssh(c) => Some(c.auth.user.as_str()),
            CommConfig::Winrm(c) => Some(c.user.as_str()),
            CommConfig::None | CommConfig::Docker { .. } => None,
        }
    }

    /// Whether the build makes a temporary SSH key pair (see [`SshConfig::wants_temp_key`]).
    pub fn wants_temp_key(&self) -> bool {
        self.ssh().is_some_and(SshConfig::wants_temp_key)
    }
}
