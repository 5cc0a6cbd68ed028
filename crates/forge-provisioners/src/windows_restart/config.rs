//! The `windows-restart` provisioner's configuration and defaults (Packer 1.6.6
//! provisioner/windows-restart `Prepare`: it checks nothing beyond decoding).

use std::time::Duration;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::go::GoDuration;
use crate::common::windows::winrm_powershell;

/// Packer's `restart_command`.
pub const DEFAULT_RESTART_COMMAND: &str = r#"shutdown /r /f /t 0 /c "packer restart""#;
/// What Packer's default `restart_check_command` runs (wrapped by [`default_check_command`]).
pub const CHECK_SCRIPT: &str = r#"echo ("{0} restarted." -f [System.Net.Dns]::GetHostName())"#;
/// The probe that tells whether a restart is under way: it schedules one of its own.
pub const TRY_CHECK_REBOOT: &str = r#"shutdown /r /f /t 60 /c "packer restart test""#;
/// Cancels the probe's restart.
pub const ABORT_REBOOT: &str = "shutdown /a";
/// Packer's `restart_timeout`.
pub const DEFAULT_RESTART_TIMEOUT: Duration = Duration::from_secs(300);
/// Packer's `registry_keys`: Component Based Servicing's pending-reboot markers.
pub const DEFAULT_REGISTRY_KEYS: [&str; 3] = [
    r"HKLM:SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
    r"HKLM:SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\PackagesPending",
    r"HKLM:Software\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootInProgress",
];

/// Packer's default `restart_check_command`: [`CHECK_SCRIPT`] as an encoded PowerShell
/// command.
pub fn default_check_command() -> String {
    winrm_powershell(CHECK_SCRIPT)
}

/// The command that tells whether a registry key exists (prints `True` or `False`).
pub fn registry_check_command(key: &str) -> String {
    winrm_powershell(&format!("Test-Path \"{key}\""))
}

/// How long the waits pause between tries (Packer's values; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Intervals {
    /// Before each restart check.
    pub check: Duration,
    /// After the probe found a restart under way.
    pub in_progress: Duration,
    /// Between tries of a command that could not start.
    pub retry: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            check: Duration::from_secs(5),
            in_progress: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

/// The configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `restart_command`.
    pub restart_command: String,
    /// `restart_check_command`.
    pub restart_check_command: String,
    /// `restart_timeout`: how long each wait may take.
    pub restart_timeout: Duration,
    /// `check_registry`.
    pub check_registry: bool,
    /// `registry_keys` (Packer's three when unset or empty).
    pub registry_keys: Vec<String>,
    /// Pauses between tries.
    pub(crate) intervals: Intervals,
}

impl Config {
    /// Decodes; applies Packer's defaults.
    pub fn prepare(v: &Value, _info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::WindowsRestartProvisioner = decode(v)?;
        let timeout = GoDuration::parse("restart_timeout", c.restart_timeout.as_deref())
            .map_err(|e| vec![forge_template::schema::weak::summary(&[e])])?;
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(Config {
            restart_command: non_empty(c.restart_command)
                .unwrap_or_else(|| DEFAULT_RESTART_COMMAND.into()),
            restart_check_command: non_empty(c.restart_check_command)
                .unwrap_or_else(default_check_command),
            // Zero is Packer's "unset"; a negative timeout is over at once.
            restart_timeout: if timeout.is_zero() {
                DEFAULT_RESTART_TIMEOUT
            } else {
                timeout.wait()
            },
            check_registry: c.check_registry.unwrap_or(false),
            registry_keys: c
                .registry_keys
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| DEFAULT_REGISTRY_KEYS.map(String::from).to_vec()),
            intervals: Intervals::default(),
        })
    }
}
