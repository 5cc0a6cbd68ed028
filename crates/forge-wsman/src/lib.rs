//! A WS-Management (WinRM) test server that emulates a Windows machine, for forge's tests.
//!
//! Dev/test support only. It speaks the WinRS part of WS-Management (MS-WSMV) over HTTP/1.1
//! (optionally HTTPS with a self-signed certificate made at start), authenticates with Basic and
//! NTLM (NTLMv2, with MS-WSMV HTTP message encryption), and runs the commands it receives
//! against an *emulated* Windows machine whose C: drive is a host directory (the sandbox). What
//! is emulated is listed in the crate's README; anything else fails loudly (exit code
//! [`NOT_EMULATED_EXIT`], `forge-wsman: not emulated: ...` on stderr, and
//! [`Server::not_emulated`] records it).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join("c-drive");
//! let server = forge_wsman::Server::start(forge_wsman::Config {
//!     users: vec![("packer".into(), "secret".into())],
//!     sandbox_root: dir,
//!     ..Default::default()
//! })
//! .await?;
//! println!("{}", server.url()); // http://127.0.0.1:PORT/wsman
//! // ... run a WinRM client against it ...
//! assert!(server.not_emulated().is_empty());
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! API summary: [`Config`] (with `Default`), [`Server::start`], [`Server::port`], [`Server::url`],
//! [`Server::cert_pem`], [`Server::commands`], [`Server::not_emulated`], [`Server::open_shells`],
//! [`Server::connections`], [`Server::request_count`], [`Server::boot_id`], [`Server::reboot`],
//! [`Server::stop`]; the extension point for script recognisers is [`emulate::Recogniser`].

pub mod emulate;
mod http;
pub mod ntlm;
mod server;
pub mod soap;
mod tls;

pub use server::Server;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Exit code of a command the machine does not emulate (cmd.exe's "not recognized" code).
pub const NOT_EMULATED_EXIT: i32 = 9009;

/// How the server and its emulated machine behave. `Default` gives Windows' defaults with
/// Basic and NTLM on, plain HTTP, `allow_unencrypted = true`, and the user `packer`/`packer`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Accounts as (user name, password); user names compare case-insensitively.
    pub users: Vec<(String, String)>,
    /// Offer and accept HTTP Basic authentication.
    pub basic: bool,
    /// Offer and accept NTLM (as `Negotiate` and `NTLM`).
    pub ntlm: bool,
    /// Serve HTTPS with a self-signed certificate made at start ([`Server::cert_pem`]).
    pub tls: bool,
    /// Windows' `AllowUnencrypted`: when false, a plaintext body over plain HTTP is refused
    /// (HTTP 401), so only NTLM-sealed bodies (or HTTPS) work.
    pub allow_unencrypted: bool,
    /// MaxEnvelopeSize in bytes (Windows: 512000).
    pub max_envelope_size: usize,
    /// Winrs MaxOperationsPerShell: commands one shell may run (Windows: 1500).
    pub max_operations_per_shell: usize,
    /// Winrs MaxShellsPerUser (Windows: 30).
    pub max_shells_per_user: usize,
    /// How long a simulated reboot keeps the listener down.
    pub reboot_duration: Duration,
    /// Host directory that is the emulated machine's C: drive.
    pub sandbox_root: PathBuf,
    /// The machine's host name (`[System.Net.Dns]::GetHostName()`, `%COMPUTERNAME%`).
    pub hostname: String,
    /// Registry keys that exist (for `Test-Path 'HKLM:\...'` probes), e.g.
    /// `HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending`.
    pub registry_keys: Vec<String>,
    /// Answer every request with HTTP 500 and a WS-Man fault (error-path tests).
    pub fail_with_500: bool,
    /// Extra environment variables of the machine (added to the defaults).
    pub env: BTreeMap<String, String>,
    /// Write every record (commands, connections, shells, reboots) as JSON lines here.
    pub log_file: Option<PathBuf>,
    /// Upper bound on a Receive's wait, whatever the client's OperationTimeout says.
    pub max_operation_timeout: Duration,
    /// The Windows Update catalogue the windows-update provisioner's script sees.
    pub windows_updates: Vec<WindowsUpdate>,
}

/// One update in the emulated Windows Update catalogue (the `IUpdate` properties the
/// windows-update script reads). JSON: `{"title": "...", "date": "2026-11-10", "size": 1048576,
/// "reboot_required": true}`, the rest optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct WindowsUpdate {
    /// `Title`.
    pub title: String,
    /// `LastDeploymentChangeTime`, as `yyyy-MM-dd`.
    pub date: String,
    /// `MaxDownloadSize` in bytes.
    pub size: u64,
    /// Whether installing it needs a restart.
    pub reboot_required: bool,
    /// `InstallationBehavior.CanRequestUserInput`.
    pub can_request_user_input: bool,
    /// `IsInstalled`.
    pub installed: bool,
    /// `IsHidden`.
    pub hidden: bool,
    /// `BrowseOnly`.
    pub browse_only: bool,
    /// `AutoSelectOnWebSites`.
    pub auto_select_on_web_sites: bool,
    /// `Type`: `Software` (the default when empty) or `Driver`.
    pub kind: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users: vec![("packer".into(), "packer".into())],
            basic: true,
            ntlm: true,
            tls: false,
            allow_unencrypted: true,
            max_envelope_size: 512_000,
            max_operations_per_shell: 1500,
            max_shells_per_user: 30,
            reboot_duration: Duration::from_secs(1),
            sandbox_root: std::env::temp_dir().join("forge-wsman-c"),
            hostname: "FORGE-WIN".into(),
            registry_keys: Vec::new(),
            fail_with_500: false,
            env: BTreeMap::new(),
            log_file: None,
            max_operation_timeout: Duration::from_secs(60),
            windows_updates: Vec::new(),
        }
    }
}

/// One command run by a WinRS shell.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CommandRecord {
    /// Shell that ran it.
    pub shell_id: String,
    /// Its command id.
    pub command_id: String,
    /// User that ran it.
    pub user: String,
    /// The command line (command and arguments joined with spaces).
    pub command_line: String,
    /// For `powershell -EncodedCommand X`: the decoded script.
    pub script: Option<String>,
    /// Exit code, once finished.
    pub exit_code: Option<i32>,
    /// Whether something in it was not emulated.
    pub not_emulated: bool,
}

/// One authenticated HTTP connection.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// Client address.
    pub peer: String,
    /// `Basic` or `NTLM`.
    pub scheme: String,
    /// Authenticated user.
    pub user: String,
    /// Whether bodies were NTLM-sealed (multipart/encrypted).
    pub encrypted: bool,
    /// Whether the connection was over TLS.
    pub tls: bool,
}
