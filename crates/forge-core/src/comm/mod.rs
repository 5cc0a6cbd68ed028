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

mod none;
pub mod ssh;
pub mod winrm;

use forge_template::schema::plugins::Communicator as Raw;

use crate::plugin::{Connector, PrepareInfo};

pub use none::NoneComm;
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

    /// [`CommConfig::prepare`], adding the problems to `errs` (the result is then `None`, to be
    /// discarded with the configuration).
    pub fn prepare_into(
        args: &Raw,
        default: CommType,
        info: &PrepareInfo,
        errs: &mut Vec<String>,
    ) -> CommConfig {
        CommConfig::prepare(args, default, info).unwrap_or_else(|e| {
            errs.extend(e);
            CommConfig::None
        })
    }

    /// [`CommConfig::prepare`] with the vetting connector given.
    pub fn decode(
        args: &Raw,
        default: CommType,
        vet: Vetting<'_>,
    ) -> Result<CommConfig, Vec<String>> {
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

    /// The password (`ssh_password` / `winrm_password`), when set.
    pub fn password(&self) -> Option<&str> {
        match self {
            CommConfig::Ssh(c) => c.auth.password.as_deref(),
            CommConfig::Winrm(c) => c.password.as_deref(),
            CommConfig::None | CommConfig::Docker { .. } => None,
        }
        .filter(|p| !p.is_empty())
    }

    /// Sets the WinRM password to `pw` when none is configured (a cloud's generated one).
    pub fn default_password(&mut self, pw: String) {
        if let CommConfig::Winrm(c) = self {
            if c.password.is_none() {
                c.password = Some(pw);
            }
        }
    }

    /// Whether the build makes a temporary SSH key pair (see [`SshConfig::wants_temp_key`]).
    pub fn wants_temp_key(&self) -> bool {
        self.ssh().is_some_and(SshConfig::wants_temp_key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::plugin::{BuildCtx, Communicator, ConnectRequest};

    fn args(json: &str) -> Raw {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        crate::registry::decode(&forge_template::functions::value_from_json(v).unwrap()).unwrap()
    }

    fn decode(json: &str, default: CommType) -> Result<CommConfig, Vec<String>> {
        CommConfig::decode(&args(json), default, None)
    }

    /// Refuses every key and algorithm, to show where the connector is asked.
    struct Picky;

    #[async_trait]
    impl Connector for Picky {
        fn check_private_key(&self, _pem: &str, origin: &str) -> Result<(), String> {
            Err(format!("{origin}: not a key"))
        }
        fn supports(&self, _what: Algorithm, _name: &str) -> bool {
            false
        }
        async fn connect(
            &self,
            _: &BuildCtx,
            _: &ConnectRequest,
        ) -> crate::Result<Arc<dyn Communicator>> {
            unreachable!()
        }
    }

    #[test]
    fn types_have_packer_names() {
        for t in CommType::ALL {
            assert_eq!(CommType::parse(t.name()), Some(t));
        }
        assert_eq!(
            CommType::DockerWindows.to_string(),
            "dockerWindowsContainer"
        );
        assert_eq!(CommType::parse("SSH"), None);
    }

    #[test]
    fn the_default_type_applies_when_unset_or_empty() {
        let c = decode(r#"{"ssh_username":"u"}"#, CommType::Ssh).unwrap();
        assert_eq!(c.kind(), CommType::Ssh);
        let c = decode(r#"{"communicator":""}"#, CommType::None).unwrap();
        assert!(c.is_none());
        let c = decode("{}", CommType::DockerWindows).unwrap();
        assert_eq!(c.name(), "dockerWindowsContainer");
        assert!(matches!(c, CommConfig::Docker { windows: true }));
    }

    #[test]
    fn ssh_answers_with_packer_defaults() {
        let c = decode(r#"{"ssh_username":"u"}"#, CommType::Ssh).unwrap();
        assert_eq!((c.host(), c.port(), c.user()), (None, Some(22), Some("u")));
        let c = decode(
            r#"{"communicator":"ssh","ssh_username":"u","ssh_host":"h","ssh_port":2222}"#,
            CommType::None,
        )
        .unwrap();
        assert_eq!((c.host(), c.port()), (Some("h"), Some(2222)));
        assert!(c.ssh().is_some());
    }

    #[test]
    fn winrm_answers_with_packer_defaults() {
        let c = decode(
            r#"{"communicator":"winrm","winrm_username":"admin","winrm_host":"w"}"#,
            CommType::Ssh,
        )
        .unwrap();
        assert_eq!(
            (c.host(), c.port(), c.user()),
            (Some("w"), Some(5985), Some("admin"))
        );
        let CommConfig::Winrm(w) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(w.timeout, Duration::from_secs(1800));
        let c = decode(
            r#"{"communicator":"winrm","winrm_username":"a","winrm_use_ssl":true}"#,
            CommType::Ssh,
        )
        .unwrap();
        assert_eq!(c.port(), Some(5986));
        let c = decode(
            r#"{"communicator":"winrm","winrm_username":"a","winrm_use_ssl":true,"winrm_port":99}"#,
            CommType::Ssh,
        )
        .unwrap();
        assert_eq!(c.port(), Some(99));
        assert!(!c.wants_temp_key());
    }

    #[test]
    fn winrm_needs_a_username() {
        let errs = decode(
            r#"{"communicator":"winrm","winrm_port":70000}"#,
            CommType::Ssh,
        )
        .unwrap_err();
        assert_eq!(errs, ["winrm_username must be specified."]);
    }

    #[test]
    fn none_and_docker_have_no_address() {
        for c in [
            decode(r#"{"communicator":"none","ssh_port":2}"#, CommType::Ssh).unwrap(),
            decode(r#"{"communicator":"docker"}"#, CommType::Ssh).unwrap(),
        ] {
            assert_eq!((c.host(), c.port(), c.user()), (None, None, None));
            assert!(!c.wants_temp_key());
        }
    }

    #[test]
    fn an_unknown_type_is_the_only_problem_reported() {
        assert_eq!(
            decode(r#"{"communicator":"telnet"}"#, CommType::Ssh).unwrap_err(),
            ["Communicator type telnet is invalid"]
        );
    }

    #[test]
    fn ssh_problems_are_collected_in_packer_words() {
        let errs = decode(r#"{"ssh_certificate_file":"c"}"#, CommType::Ssh).unwrap_err();
        assert_eq!(
            errs,
            [
                "ssh_private_key_file must be specified if ssh_certificate_file is specified",
                "An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\".",
            ]
        );
    }

    #[test]
    fn a_temporary_key_is_wanted_without_password_key_file_or_agent() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        std::fs::write(&key, "not checked without a connector").unwrap();
        let wants = |extra: &str| {
            decode(&format!(r#"{{"ssh_username":"u"{extra}}}"#), CommType::Ssh)
                .unwrap()
                .wants_temp_key()
        };
        assert!(wants(""));
        assert!(wants(r#","ssh_password":"""#));
        assert!(wants(r#","temporary_key_pair_name":"k""#));
        assert!(!wants(r#","ssh_password":"p""#));
        assert!(!wants(r#","ssh_agent_auth":true"#));
        assert!(!wants(&format!(
            r#","ssh_private_key_file":{:?}"#,
            key.display().to_string()
        )));
        let c = decode(
            r#"{"ssh_username":"u","temporary_key_pair_type":"ed25519","temporary_key_pair_bits":0}"#,
            CommType::Ssh,
        )
        .unwrap();
        let spec = &c.ssh().unwrap().temp_key;
        assert_eq!((spec.kind.as_str(), spec.bits), ("ed25519", None));
        assert!(spec.name().starts_with("packer_"));
    }

    #[test]
    fn the_registered_connector_vets_keys_and_algorithms() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        std::fs::write(&key, "junk").unwrap();
        let json = format!(
            r#"{{"ssh_username":"u","ssh_private_key_file":{:?},"ssh_ciphers":["c"],"ssh_key_exchange_algorithms":["k"]}}"#,
            key.display().to_string()
        );
        assert!(decode(&json, CommType::Ssh).is_ok());
        let mut info = crate::plugin::PrepareInfo {
            build_name: "b".into(),
            builder_type: "null".into(),
            template_dir: ".".into(),
            opts: Default::default(),
            legacy: false,
            connectors: Default::default(),
            warnings: Default::default(),
        };
        let mut m = std::collections::BTreeMap::new();
        m.insert("ssh", Arc::new(Picky) as Arc<dyn Connector>);
        info.connectors = Arc::new(m);
        let errs = CommConfig::prepare(&args(&json), CommType::Ssh, &info).unwrap_err();
        assert_eq!(
            errs,
            [
                format!(
                    "ssh_private_key_file is invalid: {}: not a key",
                    key.display()
                ),
                "ssh_ciphers: \"c\" is not a cipher forge supports".into(),
                "ssh_key_exchange_algorithms: \"k\" is not a key exchange forge supports".into(),
            ]
        );
    }
}
