//! `forge-wsman`: runs the WinRM test server until interrupted.
//!
//! `forge-wsman --sandbox DIR [--tls] [--ntlm] [--no-basic] [--deny-unencrypted]
//! [--user U --password P] [--hostname H] [--log FILE] [--max-operations-per-shell N]
//! [--max-shells-per-user N] [--max-envelope-size N] [--reboot-seconds N]
//! [--windows-updates FILE]`
//!
//! Prints `WINRM_PORT=<port>` (and `WINRM_CERT=<file>` with --tls, the PEM written next to the
//! sandbox) once listening; with --log, every record is appended to FILE as JSON lines.
//! --windows-updates reads the Windows Update catalogue: a JSON array of
//! `forge_wsman::WindowsUpdate`.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

fn usage() -> ExitCode {
    eprintln!(
        "usage: forge-wsman --sandbox DIR [--tls] [--ntlm] [--no-basic] [--deny-unencrypted] [--user U --password P] [--hostname H] [--log FILE] [--max-operations-per-shell N] [--max-shells-per-user N] [--max-envelope-size N] [--reboot-seconds N] [--windows-updates FILE]"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = forge_wsman::Config {
        ntlm: false,
        ..Default::default()
    };
    let mut sandbox = None;
    let mut user = None;
    let mut password = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> Option<String> {
            let v = args.next();
            if v.is_none() {
                eprintln!("forge-wsman: {name} needs a value");
            }
            v
        };
        let num = |v: Option<String>| -> Option<usize> { v.and_then(|v| v.parse().ok()) };
        match a.as_str() {
            "--sandbox" => sandbox = value("--sandbox"),
            "--tls" => config.tls = true,
            "--ntlm" => config.ntlm = true,
            "--no-basic" => config.basic = false,
            "--deny-unencrypted" => config.allow_unencrypted = false,
            "--user" => user = value("--user"),
            "--password" => password = value("--password"),
            "--hostname" => match value("--hostname") {
                Some(h) => config.hostname = h,
                None => return usage(),
            },
            "--log" => match value("--log") {
                Some(l) => config.log_file = Some(l.into()),
                None => return usage(),
            },
            "--max-operations-per-shell" => match num(value(&a)) {
                Some(n) => config.max_operations_per_shell = n,
                None => return usage(),
            },
            "--max-shells-per-user" => match num(value(&a)) {
                Some(n) => config.max_shells_per_user = n,
                None => return usage(),
            },
            "--max-envelope-size" => match num(value(&a)) {
                Some(n) => config.max_envelope_size = n,
                None => return usage(),
            },
            "--reboot-seconds" => match num(value(&a)) {
                Some(n) => config.reboot_duration = Duration::from_secs(n as u64),
                None => return usage(),
            },
            "--windows-updates" => {
                let Some(f) = value(&a) else { return usage() };
                match std::fs::read(&f)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                {
                    Ok(u) => config.windows_updates = u,
                    Err(e) => {
                        eprintln!("forge-wsman: {f}: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            "-h" | "--help" => {
                usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    let Some(sandbox) = sandbox else {
        return usage();
    };
    config.sandbox_root = sandbox.into();
    match (user, password) {
        (Some(u), Some(p)) => config.users = vec![(u, p)],
        (None, None) => {}
        _ => {
            eprintln!("forge-wsman: --user and --password go together");
            return usage();
        }
    }
    let server = match forge_wsman::Server::start(config.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("forge-wsman: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "WINRM_PORT={}", server.port());
    if let Some(pem) = server.cert_pem() {
        let path = config.sandbox_root.with_extension("pem");
        if let Err(e) = std::fs::write(&path, pem) {
            eprintln!("forge-wsman: cannot write the certificate: {e}");
            return ExitCode::FAILURE;
        }
        let _ = writeln!(out, "WINRM_CERT={}", path.display());
    }
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    server.stop().await;
    ExitCode::SUCCESS
}
