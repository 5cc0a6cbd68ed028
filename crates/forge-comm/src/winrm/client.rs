//! winrm-rs clients built from the `winrm_*` settings, and the words for why a WinRM endpoint
//! did not answer: TCP refused, TLS, HTTP 401 with the schemes the server offers, faults.

use std::error::Error as _;
use std::time::Duration;

use forge_core::comm::WinrmConfig;
use forge_core::{Error, Result};
use winrm_rs::{AuthMethod, EncryptionMode, WinrmClient, WinrmCredentials, WinrmError};

/// How long one WS-Management operation may block at the server (`OperationTimeout`); a
/// Receive that finds no output by then is answered with a `TimedOut` fault and asked again.
pub(super) const OPERATION_TIMEOUT_SECS: u64 = 20;

/// The envelope size Windows Server 2012 and later accept by default (`MaxEnvelopeSizekb`
/// 500); transfers start with it.
pub(super) const ENVELOPE_LARGE: u32 = 512_000;
/// The envelope size every Windows accepts (`MaxEnvelopeSizekb` 150, Windows 2008 R2).
pub(super) const ENVELOPE_SMALL: u32 = 153_600;

/// The endpoint's URL (`http[s]://host:port/wsman`).
pub(super) fn endpoint(cfg: &WinrmConfig) -> String {
    let scheme = if cfg.use_ssl { "https" } else { "http" };
    let host = if cfg.host.contains(':') && !cfg.host.starts_with('[') {
        format!("[{}]", cfg.host)
    } else {
        cfg.host.clone()
    };
    format!("{scheme}://{host}:{}/wsman", cfg.port)
}

/// The host winrm-rs addresses (it adds the port and path itself).
pub(super) fn host(cfg: &WinrmConfig) -> String {
    cfg.host.clone()
}

/// A client for `cfg` whose requests may be `envelope` bytes long. `winrm_no_proxy` is applied
/// as Packer applies it: the endpoint is added to `NO_PROXY` when a proxy is set in the
/// environment.
pub(super) fn build(cfg: &WinrmConfig, envelope: u32) -> Result<WinrmClient> {
    if cfg.no_proxy {
        bypass_proxy(cfg);
    }
    let (domain, user) = match cfg.user.split_once('\\') {
        Some((d, u)) => (d.to_string(), u.to_string()),
        None => (String::new(), cfg.user.clone()),
    };
    let config = winrm_rs::WinrmConfig {
        port: cfg.port,
        use_tls: cfg.use_ssl,
        accept_invalid_certs: cfg.insecure,
        connect_timeout_secs: 10,
        operation_timeout_secs: OPERATION_TIMEOUT_SECS,
        auth_method: if cfg.use_ntlm {
            AuthMethod::Ntlm
        } else {
            AuthMethod::Basic
        },
        max_envelope_size: envelope,
        encryption: EncryptionMode::Auto,
        max_output_bytes: None,
        ..winrm_rs::WinrmConfig::default()
    };
    let creds = WinrmCredentials::new(user, cfg.password.clone().unwrap_or_default(), domain);
    WinrmClient::new(config, creds).map_err(|e| Error::msg(format!("WinRM: {}", describe(&e))))
}

/// Adds `host:port` to `NO_PROXY` (as Packer's `winrm_no_proxy` does) when a proxy variable
/// is set; once per endpoint.
fn bypass_proxy(cfg: &WinrmConfig) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let proxied = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !proxied {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let entry = format!("{}:{}", cfg.host, cfg.port);
    for var in ["NO_PROXY", "no_proxy"] {
        let now = std::env::var(var).unwrap_or_default();
        if now
            .split(',')
            .any(|e| e.trim() == entry || e.trim() == cfg.host)
        {
            continue;
        }
        let next = if now.is_empty() {
            entry.clone()
        } else {
            format!("{now},{entry}")
        };
        std::env::set_var(var, next);
    }
}

/// The error's text with its causes (`error trying to connect: tcp connect error: Connection
/// refused`), without winrm-rs's prefixes.
pub(super) fn describe(e: &WinrmError) -> String {
    match e {
        WinrmError::Http(h) => {
            let mut parts = vec![h.to_string()];
            let mut src = h.source();
            while let Some(s) = src {
                let t = s.to_string();
                if !parts.iter().any(|p| p.contains(&t)) {
                    parts.push(t);
                }
                src = s.source();
            }
            parts.join(": ")
        }
        WinrmError::AuthFailed(m) => format!("authentication failed: {m}"),
        WinrmError::Soap(s) => format!("WS-Management: {s}"),
        WinrmError::Timeout(s) => format!("no answer within {s} s"),
        other => other.to_string(),
    }
}

/// Whether `e` is a WS-Management `TimedOut` fault: a Receive that found no output yet.
pub(super) fn is_timed_out(e: &WinrmError) -> bool {
    matches!(e, WinrmError::Soap(winrm_rs::SoapError::Fault { code, reason })
        if code.contains("TimedOut") || reason.contains("2150858793"))
}

/// Whether `e` says the request exceeded the server's `MaxEnvelopeSize`.
pub(super) fn is_too_large(e: &WinrmError) -> bool {
    matches!(e, WinrmError::Soap(winrm_rs::SoapError::Fault { code, reason })
        if code.contains("EncodingLimit") || reason.contains("MaxEnvelopeSize")
            || reason.contains("too large"))
}

/// Whether `e` means the connection itself failed (the machine went away, as in a reboot).
pub(super) fn is_transport(e: &WinrmError) -> bool {
    match e {
        WinrmError::Http(h) => h.is_connect() || h.is_request() || h.is_timeout() || h.is_body(),
        WinrmError::Timeout(_) => true,
        _ => false,
    }
}

/// Why the endpoint did not let forge in, for the connect loop: [`describe`], and for an
/// authentication failure what an unauthenticated request learns (the status and the schemes
/// the server offers) beside what forge used.
pub(super) async fn why(cfg: &WinrmConfig, e: &WinrmError) -> String {
    let text = describe(e);
    match e {
        WinrmError::AuthFailed(_) => {
            let used = if cfg.use_ntlm {
                "NTLM (winrm_use_ntlm = true)"
            } else {
                "Basic (winrm_use_ntlm unset)"
            };
            match offered(cfg).await {
                Some((status, schemes)) if schemes.is_empty() => {
                    format!("HTTP {status} offering no authentication scheme; forge used {used} as {:?}", cfg.user)
                }
                Some((status, schemes)) => format!(
                    "HTTP {status}: the server offers {}; forge used {used} as {:?} and was refused (check winrm_username and winrm_password)",
                    schemes.join(", "),
                    cfg.user
                ),
                None => format!("{text}; forge used {used} as {:?}", cfg.user),
            }
        }
        WinrmError::Http(h) if h.is_connect() && text.to_lowercase().contains("certificate") => {
            format!("TLS: {text} (winrm_insecure = true skips the certificate check)")
        }
        _ => text,
    }
}

/// The status and `WWW-Authenticate` schemes of an unauthenticated POST to the endpoint.
async fn offered(cfg: &WinrmConfig) -> Option<(u16, Vec<String>)> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(cfg.insecure)
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    let resp = client
        .post(endpoint(cfg))
        .header("Content-Type", "application/soap+xml;charset=UTF-8")
        .body("")
        .send()
        .await
        .ok()?;
    let schemes = resp
        .headers()
        .get_all("WWW-Authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_whitespace().next())
        .map(str::to_string)
        .collect();
    Some((resp.status().as_u16(), schemes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(host: &str, ssl: bool) -> WinrmConfig {
        WinrmConfig {
            host: host.into(),
            port: 5986,
            user: "Administrator".into(),
            password: Some("pw".into()),
            timeout: Duration::from_secs(1),
            use_ssl: ssl,
            insecure: false,
            use_ntlm: false,
            no_proxy: false,
            pause_before_connecting: Duration::ZERO,
        }
    }

    #[test]
    fn endpoints_bracket_ipv6_hosts() {
        assert_eq!(
            endpoint(&cfg("10.0.0.1", true)),
            "https://10.0.0.1:5986/wsman"
        );
        assert_eq!(endpoint(&cfg("::1", false)), "http://[::1]:5986/wsman");
    }

    #[test]
    fn faults_are_classified() {
        let f = |code: &str, reason: &str| {
            WinrmError::Soap(winrm_rs::SoapError::Fault {
                code: code.into(),
                reason: reason.into(),
            })
        };
        assert!(is_timed_out(&f("w:TimedOut", "x")));
        assert!(!is_timed_out(&f("w:InvalidSelectors", "x")));
        assert!(is_too_large(&f("w:EncodingLimit", "x")));
        assert!(!is_too_large(&f("w:TimedOut", "x")));
        assert!(!is_transport(&f("w:TimedOut", "x")));
        assert!(is_transport(&WinrmError::Timeout(3)));
    }
}
