//! The `winrm_*` settings, with Packer's defaults and checks (packer-plugin-sdk
//! communicator/config.go `prepareWinRM`). forge decodes them; it has no WinRM connection yet.

use std::time::Duration;

use forge_template::schema::plugins::Communicator as Raw;

/// The WinRM communicator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinrmConfig {
    /// `winrm_host` as configured; the builder's address replaces it at connect.
    pub host: String,
    /// `winrm_port` (5985, or 5986 with `winrm_use_ssl`).
    pub port: u16,
    /// `winrm_username` (required).
    pub user: String,
    /// `winrm_password`.
    pub password: Option<String>,
    /// `winrm_timeout` (30m).
    pub timeout: Duration,
    /// `winrm_use_ssl`.
    pub use_ssl: bool,
    /// `winrm_insecure`: no certificate check.
    pub insecure: bool,
    /// `winrm_use_ntlm`.
    pub use_ntlm: bool,
    /// `winrm_no_proxy`.
    pub no_proxy: bool,
    /// `pause_before_connecting`.
    pub pause_before_connecting: Duration,
}

impl WinrmConfig {
    /// Reads and checks the settings, adding every problem to `errs` in Packer's words.
    pub fn prepare(r: &Raw, errs: &mut Vec<String>) -> WinrmConfig {
        let duration = |field: &str, v: &Option<String>, errs: &mut Vec<String>| {
            let s = v.as_deref().filter(|s| !s.is_empty())?;
            let d = forge_template::plan::parse_duration(s.strip_prefix('-').unwrap_or(s));
            if d.is_none() {
                errs.push(format!("{field}: time: invalid duration {s:?}"));
            }
            d.map(|d| {
                if s.starts_with('-') {
                    Duration::ZERO
                } else {
                    d
                }
            })
        };
        let pause = duration("pause_before_connecting", &r.pause_before_connecting, errs);
        let timeout = duration("winrm_timeout", &r.winrm_timeout, errs)
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(30 * 60));
        let use_ssl = r.winrm_use_ssl.unwrap_or(false);
        let default_port = if use_ssl { 5986 } else { 5985 };
        // Like `ssh_port`, a number that is no TCP port falls back to the default.
        let port = r
            .winrm_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or(default_port);
        let user = r.winrm_username.clone().unwrap_or_default();
        if user.is_empty() {
            errs.push("winrm_username must be specified.".into());
        }
        WinrmConfig {
            host: r.winrm_host.clone().unwrap_or_default(),
            port,
            user,
            password: r.winrm_password.clone().filter(|p| !p.is_empty()),
            timeout,
            use_ssl,
            insecure: r.winrm_insecure.unwrap_or(false),
            use_ntlm: r.winrm_use_ntlm.unwrap_or(false),
            no_proxy: r.winrm_no_proxy.unwrap_or(false),
            pause_before_connecting: pause.unwrap_or_default(),
        }
    }
}
