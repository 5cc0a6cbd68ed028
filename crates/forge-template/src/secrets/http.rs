//! The one HTTP call the secret clients make: a blocking request with timeouts, optional custom
//! CA certificates or disabled verification, and errors that name the URL and the address tried.

use std::sync::Arc;
use std::time::Duration;

use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest response body read.
const BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// TLS settings of one service.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tls {
    /// A PEM file of CA certificates to trust instead of the built-in roots.
    pub ca_file: Option<String>,
    /// Accept any server certificate.
    pub skip_verify: bool,
}

/// A response of any status.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The response body as text.
    pub body: String,
    /// Response headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The parts of a URL the clients need.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    /// Path and query as given (at least "/").
    pub path_and_query: String,
}

impl Target {
    /// `host[:port]` for building URLs (IPv6 hosts in brackets, the port only when given).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }
    /// `host:port` with the effective port, as an address to name in errors.
    pub fn address(&self) -> String {
        let port = self
            .port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 });
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map(|(p, _)| p)
            .unwrap_or(&self.path_and_query)
    }
}

/// Parses an absolute http(s) URL.
pub(crate) fn parse_url(url: &str) -> Result<Target, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s.to_string(),
        Some(s) => return Err(format!("invalid URL {url:?}: unsupported scheme {s:?}")),
        None => {
            return Err(format!(
                "invalid URL {url:?}: no http:// or https:// scheme"
            ))
        }
    };
    let Some(host) = uri.host() else {
        return Err(format!("invalid URL {url:?}: no host"));
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let pq = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let path_and_query = if pq.is_empty() {
        "/".to_string()
    } else if pq.starts_with('?') {
        format!("/{pq}")
    } else {
        pq
    };
    Ok(Target {
        scheme,
        host,
        port: uri.port_u16(),
        path_and_query,
    })
}

/// Whether a host is a loopback name or address (never sent through a proxy, like Go's client).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn tls_config(tls: &Tls) -> Result<TlsConfig, String> {
    let mut b = TlsConfig::builder().disable_verification(tls.skip_verify);
    if let Some(path) = &tls.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("reading CA certificates from {path}: {e}"))?;
        let mut certs: Vec<Certificate<'static>> = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(format!("reading CA certificates from {path}: {e}")),
            }
        }
        if certs.is_empty() {
            return Err(format!(
                "reading CA certificates from {path}: no PEM certificate in it"
            ));
        }
        b = b.root_certs(RootCerts::Specific(Arc::new(certs)));
    }
    Ok(b.build())
}

/// Go's `http.Method` spelling in client errors: "Get", "Post".
fn method_word(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut cs = lower.chars();
    match cs.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
        None => String::new(),
    }
}

fn describe(err: &ureq::Error, target: &Target) -> String {
    let addr = target.address();
    match err {
        ureq::Error::Io(e) => format!("cannot connect to {addr}: {e}"),
        ureq::Error::HostNotFound => format!("cannot resolve host {:?}", target.host),
        ureq::Error::ConnectionFailed => format!("cannot connect to {addr}"),
        ureq::Error::Timeout(t) => format!("no answer from {addr} in time ({t})"),
        ureq::Error::Tls(m) => format!("TLS with {addr} failed: {m}"),
        other => format!("request to {addr} failed: {other}"),
    }
}

/// Sends one request; any HTTP status is a response, only transport failures are errors. The
/// error reads like Go's client: `Get "URL": what went wrong, naming host:port`.
pub(crate) fn send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
    tls: &Tls,
) -> Result<Response, String> {
    let target = parse_url(url)?;
    let word = method_word(method);
    let tls = tls_config(tls).map_err(|e| format!("{word} {url:?}: {e}"))?;
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(TOTAL_TIMEOUT))
        .user_agent(concat!("forge/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls);
    if is_loopback(&target.host) {
        cfg = cfg.proxy(None);
    }
    let agent: ureq::Agent = cfg.build().into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let result = match body {
        Some(b) => req
            .body(b.to_vec())
            .map_err(|e| format!("{word} {url:?}: {e}"))
            .and_then(|r| {
                agent
                    .run(r)
                    .map_err(|e| format!("{word} {url:?}: {}", describe(&e, &target)))
            }),
        None => req
            .body(())
            .map_err(|e| format!("{word} {url:?}: {e}"))
            .and_then(|r| {
                agent
                    .run(r)
                    .map_err(|e| format!("{word} {url:?}: {}", describe(&e, &target)))
            }),
    };
    let mut resp = result?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(|e| {
            format!(
                "{word} {url:?}: reading the response: {}",
                describe(&e, &target)
            )
        })?;
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    })
}

/// Percent-escapes a URL path, keeping `/` and the characters Go leaves alone in paths.
pub(crate) fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-escapes a query component (everything but unreserved characters).
pub(crate) fn escape_query(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8500").unwrap();
        assert_eq!(t.path_and_query, "/");
        assert_eq!(t.address(), "127.0.0.1:8500");
        let t = parse_url("https://secretsmanager.eu-west-1.amazonaws.com/").unwrap();
        assert_eq!(t.address(), "secretsmanager.eu-west-1.amazonaws.com:443");
        let t = parse_url("http://[::1]:80/a?b=c").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.address(), "[::1]:80");
        assert_eq!(t.path(), "/a");
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("127.0.0.1:8500").is_err());
        assert!(parse_url("").is_err());
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_path("secret/data/a b?"), "secret/data/a%20b%3F");
        assert_eq!(escape_path("é"), "%C3%A9");
        assert_eq!(escape_query("a b&c"), "a%20b%26c");
    }

    #[test]
    fn unreachable_names_the_address() {
        // Port 1 on loopback: nothing listens there.
        let e = send("GET", "http://127.0.0.1:1/v1/x", &[], None, &Tls::default()).unwrap_err();
        assert!(e.starts_with("Get \"http://127.0.0.1:1/v1/x\": "), "{e}");
        assert!(e.contains("127.0.0.1:1"), "{e}");
    }
}
