//! The `ssh_*` settings, with Packer's defaults and checks (packer-plugin-sdk
//! communicator/config.go `prepareSSH`).

use std::path::PathBuf;
use std::time::Duration;

use forge_template::schema::plugins::Communicator as Raw;

use super::{Algorithm, Vetting};

/// How files travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// The scp protocol over an exec channel (Packer's default).
    Scp,
    /// The sftp subsystem.
    Sftp,
}

/// A proxy the TCP connection goes through.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// SOCKS5 (Packer's `ssh_proxy_*`) or HTTP CONNECT (an `http://` host, forge's addition).
    pub http: bool,
    /// The proxy's host.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// Optional credentials.
    pub username: Option<String>,
    /// Optional credentials.
    pub password: Option<String>,
}

/// Credentials for one SSH hop.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// The user.
    pub user: String,
    /// Password, also answered to keyboard-interactive prompts.
    pub password: Option<String>,
    /// Private key files.
    pub key_files: Vec<PathBuf>,
    /// An OpenSSH certificate for the key file.
    pub certificate: Option<PathBuf>,
    /// Private keys given inline (PEM), e.g. the build's temporary key.
    pub keys_pem: Vec<String>,
    /// Use the keys in `SSH_AUTH_SOCK`.
    pub agent: bool,
    /// Answer keyboard-interactive prompts (with the password).
    pub interactive: bool,
}

/// A jump host.
#[derive(Debug, Clone)]
pub struct Bastion {
    /// Host.
    pub host: String,
    /// Port (22).
    pub port: u16,
    /// How to log in to it.
    pub auth: Auth,
}

/// `LOCAL_PORT:REMOTE_HOST:REMOTE_PORT` (local) or `REMOTE_PORT:LOCAL_HOST:LOCAL_PORT`
/// (remote): traffic to `listen_port` on one side goes to `host:port` on the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The listening port.
    pub listen_port: u16,
    /// Where connections go.
    pub host: String,
    /// Where connections go.
    pub port: u16,
}

/// The build's temporary key pair, as configured (`temporary_key_pair_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempKeySpec {
    /// `temporary_key_pair_name` (`packer_<uuid>` when unset, see [`TempKeySpec::name`]).
    pub name: Option<String>,
    /// `temporary_key_pair_type` (`rsa`).
    pub kind: String,
    /// `temporary_key_pair_bits` (the type's default when unset).
    pub bits: Option<u32>,
}

impl TempKeySpec {
    /// The configured name, or a new `packer_<uuid>`.
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("packer_{}", uuid::Uuid::new_v4()))
    }
}

/// The SSH communicator's settings.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// The machine: `ssh_host` as configured; the builder's address replaces it at connect.
    pub host: String,
    /// `ssh_port` (22).
    pub port: u16,
    /// How to log in.
    pub auth: Auth,
    /// `ssh_timeout` (5m when neither it nor `ssh_handshake_attempts` is set); zero = none.
    pub timeout: Duration,
    /// `ssh_handshake_attempts`: authentication failures tolerated (10, same rule).
    pub handshake_attempts: u32,
    /// `ssh_pty`.
    pub pty: bool,
    /// `ssh_bastion_*`.
    pub bastion: Option<Bastion>,
    /// `ssh_proxy_*`.
    pub proxy: Option<Proxy>,
    /// `ssh_file_transfer_method`.
    pub transfer: Transfer,
    /// `ssh_keep_alive_interval` (5s; negative disables).
    pub keep_alive: Option<Duration>,
    /// `ssh_read_write_timeout` (0 = none): a command with no traffic for this long fails.
    pub read_write_timeout: Option<Duration>,
    /// `ssh_ciphers`.
    pub ciphers: Vec<String>,
    /// `ssh_key_exchange_algorithms`.
    pub kex: Vec<String>,
    /// `ssh_local_tunnels`.
    pub local_tunnels: Vec<Tunnel>,
    /// `ssh_remote_tunnels`.
    pub remote_tunnels: Vec<Tunnel>,
    /// `ssh_clear_authorized_keys`.
    pub clear_authorized_keys: bool,
    /// `pause_before_connecting`.
    pub pause_before_connecting: Duration,
    /// `ssh_keypair_name`: a key pair the cloud knows.
    pub keypair_name: Option<String>,
    /// `temporary_key_pair_*`.
    pub temp_key: TempKeySpec,
}

/// Expands a leading `~/`.
pub fn expand_user(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest))
            .unwrap_or_else(|| PathBuf::from(p)),
        None => PathBuf::from(p),
    }
}

fn duration(field: &str, v: &Option<String>, errs: &mut Vec<String>) -> Option<Duration> {
    let s = v.as_deref().filter(|s| !s.is_empty())?;
    if let Some(neg) = s.strip_prefix('-') {
        return forge_template::plan::parse_duration(neg).map(|_| Duration::ZERO);
    }
    match forge_template::plan::parse_duration(s) {
        Some(d) => Some(d),
        None => {
            errs.push(format!("{field}: time: invalid duration {s:?}"));
            None
        }
    }
}

fn port(field: &str, v: Option<i64>, default: u16, errs: &mut Vec<String>) -> u16 {
    match v {
        None | Some(0) => default,
        Some(p) => u16::try_from(p).unwrap_or_else(|_| {
            errs.push(format!("{field} {p} is not a TCP port"));
            default
        }),
    }
}

/// Parses `A:B:C` tunnel arguments.
pub fn parse_tunnel(s: &str) -> Result<Tunnel, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 3 {
        // Packer's words, with Go's rendering of the split parts.
        return Err(format!(
            "Error parsing tunnel '{s}': [{}] (expected PORT:HOST:PORT)",
            parts.join(" ")
        ));
    }
    let num = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("Error parsing tunnel port '{p}': not a port number"))
    };
    if parts[1].is_empty() {
        return Err(format!("Error parsing tunnel '{s}': the host is empty"));
    }
    Ok(Tunnel {
        listen_port: num(parts[0])?,
        host: parts[1].to_string(),
        port: num(parts[2])?,
    })
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

/// Checks that a key file exists and (when a connector can tell) parses.
fn check_key_file(field: &str, path: &str, vet: Vetting, errs: &mut Vec<String>) {
    let p = expand_user(path);
    match std::fs::read_to_string(&p) {
        Err(e) => errs.push(format!("{field} is invalid: stat {path}: {e}")),
        Ok(pem) => {
            if let Some(Err(e)) = vet.map(|c| c.check_private_key(&pem, &p.display().to_string())) {
                errs.push(format!("{field} is invalid: {e}"));
            }
        }
    }
}

impl SshConfig {
    /// Reads and checks the settings; every problem at once, in Packer's words. `vet` (the
    /// ssh connector, when registered) judges key files and algorithm names.
    pub fn prepare(r: &Raw, vet: Vetting) -> Result<SshConfig, Vec<String>> {
        let mut errs = Vec::new();
        let mut timeout = duration("ssh_timeout", &r.ssh_timeout, &mut errs);
        let mut attempts = r.ssh_handshake_attempts.filter(|n| *n > 0);
        if timeout.is_none() && attempts.is_none() {
            timeout = Some(Duration::from_secs(300));
            attempts = Some(10);
        }
        if let Some(w) = duration("ssh_wait_timeout", &r.ssh_wait_timeout, &mut errs) {
            timeout = Some(w);
        }
        let keep_alive = match duration(
            "ssh_keep_alive_interval",
            &r.ssh_keep_alive_interval,
            &mut errs,
        ) {
            None => Some(Duration::from_secs(5)),
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
        };
        let key_file = nonempty(&r.ssh_private_key_file);
        let cert = nonempty(&r.ssh_certificate_file);
        if key_file.is_none() && cert.is_some() {
            errs.push(
                "ssh_private_key_file must be specified if ssh_certificate_file is specified"
                    .into(),
            );
        }
        let bastion_key = nonempty(&r.ssh_bastion_private_key_file);
        let bastion_cert = nonempty(&r.ssh_bastion_certificate_file);
        if bastion_key.is_none() && bastion_cert.is_some() {
            errs.push("ssh_bastion_private_key_file must be specified if ssh_bastion_certificate_file is specified".into());
        }
        let user = r.ssh_username.clone().unwrap_or_default();
        if user.is_empty() {
            errs.push(
                "An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\"."
                    .into(),
            );
        }
        if let Some(k) = &key_file {
            check_key_file("ssh_private_key_file", k, vet, &mut errs);
        }
        let bastion = match nonempty(&r.ssh_bastion_host) {
            None => None,
            Some(bhost) => {
                let (bkey, bcert) = match &bastion_key {
                    Some(k) => (Some(k.clone()), bastion_cert.clone()),
                    None => (key_file.clone(), cert.clone()),
                };
                let bpass = nonempty(&r.ssh_bastion_password);
                let bagent = r.ssh_bastion_agent_auth.unwrap_or(false);
                if bpass.is_none() && bkey.is_none() && !bagent {
                    errs.push("ssh_bastion_password, ssh_bastion_private_key_file or ssh_bastion_agent_auth must be specified".into());
                } else if let Some(k) = &bastion_key {
                    check_key_file("ssh_bastion_private_key_file", k, vet, &mut errs);
                }
                Some(Bastion {
                    host: bhost,
                    port: port("ssh_bastion_port", r.ssh_bastion_port, 22, &mut errs),
                    auth: Auth {
                        user: r.ssh_bastion_username.clone().unwrap_or_default(),
                        interactive: r.ssh_bastion_interactive.unwrap_or(false),
                        password: bpass,
                        key_files: bkey.iter().map(|k| expand_user(k)).collect(),
                        certificate: bcert.map(|c| expand_user(&c)),
                        keys_pem: Vec::new(),
                        agent: bagent,
                    },
                })
            }
        };
        let proxy = nonempty(&r.ssh_proxy_host).map(|h| {
            let (http, host) = match h.strip_prefix("http://") {
                Some(rest) => (true, rest.to_string()),
                None => (false, h.strip_prefix("socks5://").unwrap_or(&h).to_string()),
            };
            Proxy {
                http,
                host,
                port: port("ssh_proxy_port", r.ssh_proxy_port, 1080, &mut errs),
                username: nonempty(&r.ssh_proxy_username),
                password: nonempty(&r.ssh_proxy_password),
            }
        });
        let transfer = match r.ssh_file_transfer_method.as_deref().unwrap_or("") {
            "" | "scp" => Transfer::Scp,
            "sftp" => Transfer::Sftp,
            other => {
                errs.push(format!(
                    "ssh_file_transfer_method ('{other}') is invalid, valid methods: sftp, scp"
                ));
                Transfer::Scp
            }
        };
        if bastion.is_some() && proxy.is_some() {
            errs.push("please specify either ssh_bastion_host or ssh_proxy_host, not both".into());
        }
        let mut tunnels = |field: &str, list: &Option<Vec<String>>| {
            let mut out = Vec::new();
            for t in list.iter().flatten() {
                match parse_tunnel(t) {
                    Ok(t) => out.push(t),
                    Err(e) => errs.push(format!("{field} ('{t}') is invalid: {e}")),
                }
            }
            out
        };
        let local_tunnels = tunnels("ssh_local_tunnels", &r.ssh_local_tunnels);
        let remote_tunnels = tunnels("ssh_remote_tunnels", &r.ssh_remote_tunnels);
        let ciphers = r.ssh_ciphers.clone().unwrap_or_default();
        let kex = r.ssh_key_exchange_algorithms.clone().unwrap_or_default();
        for c in &ciphers {
            if !vet.is_none_or(|v| v.supports(Algorithm::Cipher, c)) {
                errs.push(format!("ssh_ciphers: {c:?} is not a cipher forge supports"));
            }
        }
        for k in &kex {
            if !vet.is_none_or(|v| v.supports(Algorithm::Kex, k)) {
                errs.push(format!(
                    "ssh_key_exchange_algorithms: {k:?} is not a key exchange forge supports"
                ));
            }
        }
        let inline_key = r
            .ssh_private_key
            .as_ref()
            .map(|bytes| bytes.iter().map(|b| *b as u8).collect::<Vec<u8>>())
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| !s.is_empty());
        let pause = duration(
            "pause_before_connecting",
            &r.pause_before_connecting,
            &mut errs,
        )
        .unwrap_or_default();
        let rw = duration(
            "ssh_read_write_timeout",
            &r.ssh_read_write_timeout,
            &mut errs,
        )
        .filter(|d| !d.is_zero());
        if !errs.is_empty() {
            return Err(errs);
        }
        let host = r.ssh_host.clone().unwrap_or_default();
        let port = port("ssh_port", r.ssh_port, 22, &mut Vec::new());
        Ok(SshConfig {
            host,
            port,
            auth: Auth {
                user,
                password: nonempty(&r.ssh_password),
                key_files: key_file.iter().map(|k| expand_user(k)).collect(),
                certificate: cert.map(|c| expand_user(&c)),
                keys_pem: inline_key.into_iter().collect(),
                agent: r.ssh_agent_auth.unwrap_or(false),
                interactive: true,
            },
            timeout: timeout.unwrap_or_default(),
            handshake_attempts: attempts.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
            pty: r.ssh_pty.unwrap_or(false),
            bastion,
            proxy,
            transfer,
            keep_alive,
            read_write_timeout: rw,
            ciphers,
            kex,
            local_tunnels,
            remote_tunnels,
            clear_authorized_keys: r.ssh_clear_authorized_keys.unwrap_or(false),
            pause_before_connecting: pause,
            keypair_name: nonempty(&r.ssh_keypair_name),
            temp_key: TempKeySpec {
                name: nonempty(&r.temporary_key_pair_name),
                kind: nonempty(&r.temporary_key_pair_type).unwrap_or_else(|| "rsa".into()),
                bits: r
                    .temporary_key_pair_bits
                    .filter(|b| *b > 0)
                    .and_then(|b| u32::try_from(b).ok()),
            },
        })
    }

    /// Whether the build makes a temporary key pair: no password, key file or agent to log in
    /// with. (A cloud `ssh_keypair_name` needs a key file or the agent, so it is covered.)
    pub fn wants_temp_key(&self) -> bool {
        self.auth.password.is_none() && self.auth.key_files.is_empty() && !self.auth.agent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> Result<SshConfig, Vec<String>> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let r: Raw =
            crate::registry::decode(&forge_template::functions::value_from_json(v).unwrap())?;
        SshConfig::prepare(&r, None)
    }

    #[test]
    fn defaults_follow_packer() {
        let c = cfg(r#"{"ssh_username":"u","ssh_host":"h","ssh_password":"p"}"#).unwrap();
        assert_eq!(c.port, 22);
        assert_eq!(c.timeout, Duration::from_secs(300));
        assert_eq!(c.handshake_attempts, 10);
        assert_eq!(c.keep_alive, Some(Duration::from_secs(5)));
        assert_eq!(c.transfer, Transfer::Scp);
        let c = cfg(
            r#"{"ssh_username":"u","ssh_handshake_attempts":3,"ssh_keep_alive_interval":"-1s"}"#,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::ZERO);
        assert_eq!(c.handshake_attempts, 3);
        assert_eq!(c.keep_alive, None);
    }

    #[test]
    fn bad_settings_are_reported_together() {
        let errs = cfg(
            r#"{"ssh_file_transfer_method":"ftp","ssh_certificate_file":"c",
            "ssh_bastion_host":"b","ssh_proxy_host":"p","ssh_local_tunnels":["1:x"],
            "ssh_bastion_private_key_file":"/nonexistent/key"}"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for want in [
            "ssh_file_transfer_method ('ftp') is invalid, valid methods: sftp, scp",
            "ssh_private_key_file must be specified if ssh_certificate_file is specified",
            "An ssh_username must be specified",
            "ssh_bastion_private_key_file is invalid: stat /nonexistent/key",
            "please specify either ssh_bastion_host or ssh_proxy_host, not both",
            "ssh_local_tunnels ('1:x') is invalid",
        ] {
            assert!(all.contains(want), "{want:?} missing in:\n{all}");
        }
    }

    #[test]
    fn tunnels_parse() {
        assert_eq!(
            parse_tunnel("8080:localhost:80").unwrap(),
            Tunnel {
                listen_port: 8080,
                host: "localhost".into(),
                port: 80
            }
        );
        assert!(parse_tunnel("x:h:1").is_err());
        assert!(parse_tunnel("1::1").is_err());
    }
}
