//! Consul KV reads as Packer's `consul_key(key)` does them: `GET /v1/kv/<key>` on the agent
//! named by the environment, the value base64-encoded in the first entry of the JSON answer.
//! Error texts are Packer's (SDK `template.Consul`) and Consul's client's.

use base64::Engine as _;
use serde_json::Value as Json;

use super::http::{self, Tls};
use super::{parse_bool, Secrets};

const DEFAULT_ADDR: &str = "127.0.0.1:8500";

/// The agent's base URL and TLS settings, as Consul's `api.DefaultConfig` reads them.
fn base_url(s: &Secrets) -> Result<(String, Tls), String> {
    let raw = s.var("CONSUL_HTTP_ADDR").unwrap_or(DEFAULT_ADDR);
    let (mut scheme, addr) = if let Some(rest) = raw.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = raw.strip_prefix("http://") {
        ("http", rest)
    } else if raw.starts_with("unix://") {
        return Err(format!(
            "error getting consul client: CONSUL_HTTP_ADDR={raw:?}: unix sockets are not supported by forge"
        ));
    } else {
        ("http", raw)
    };
    if let Some(v) = s.var("CONSUL_HTTP_SSL") {
        match parse_bool(v) {
            Some(true) => scheme = "https",
            Some(false) => {}
            None => {
                return Err(format!(
                    "error getting consul client: could not parse CONSUL_HTTP_SSL ({v:?})"
                ))
            }
        }
    }
    let skip_verify = match s.var("CONSUL_HTTP_SSL_VERIFY") {
        None => false,
        Some(v) => match parse_bool(v) {
            Some(verify) => !verify,
            None => {
                return Err(format!(
                    "error getting consul client: could not parse CONSUL_HTTP_SSL_VERIFY ({v:?})"
                ))
            }
        },
    };
    let url = format!("{scheme}://{}", addr.trim_end_matches('/'));
    http::parse_url(&url)
        .map_err(|e| format!("error getting consul client: CONSUL_HTTP_ADDR: {e}"))?;
    Ok((
        url,
        Tls {
            ca_file: s.var("CONSUL_CACERT").map(str::to_string),
            skip_verify,
        },
    ))
}

fn acl_token(s: &Secrets) -> Result<Option<String>, String> {
    if let Some(t) = s.var("CONSUL_HTTP_TOKEN") {
        return Ok(Some(t.to_string()));
    }
    match s.var("CONSUL_HTTP_TOKEN_FILE") {
        Some(f) => std::fs::read_to_string(f)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| {
                format!("error reading consul key: reading CONSUL_HTTP_TOKEN_FILE {f}: {e}")
            }),
        None => Ok(None),
    }
}

/// Reads the value of `key`.
pub(super) fn get(s: &Secrets, key: &str) -> Result<String, String> {
    let (base, tls) = base_url(s)?;
    let mut url = format!(
        "{base}/v1/kv/{}",
        http::escape_path(key.trim_start_matches('/'))
    );
    let mut query = Vec::new();
    if let Some(ns) = s.var("CONSUL_NAMESPACE") {
        query.push(format!("ns={}", http::escape_query(ns)));
    }
    if let Some(p) = s.var("CONSUL_PARTITION") {
        query.push(format!("partition={}", http::escape_query(p)));
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let mut headers = Vec::new();
    if let Some(t) = acl_token(s)? {
        headers.push(("X-Consul-Token", t));
    }
    if let Some(auth) = s.var("CONSUL_HTTP_AUTH") {
        let enc = base64::engine::general_purpose::STANDARD.encode(auth);
        headers.push(("Authorization", format!("Basic {enc}")));
    }
    let resp = http::send("GET", &url, &headers, None, &tls)
        .map_err(|e| format!("error reading consul key: {e}"))?;
    match resp.status {
        200 => {}
        404 => {
            return Err(format!(
                "key does not exist at the given path: {key} (GET {url})"
            ))
        }
        status => {
            return Err(format!(
                "error reading consul key: Unexpected response code: {status} ({}) (GET {url})",
                resp.body.trim()
            ))
        }
    }
    let entries: Json = serde_json::from_str(&resp.body)
        .map_err(|e| format!("error reading consul key: GET {url}: the answer is not JSON: {e}"))?;
    let Some(entry) = entries.as_array().and_then(|a| a.first()) else {
        return Err(format!(
            "key does not exist at the given path: {key} (GET {url})"
        ));
    };
    let value = match entry.get("Value") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| {
                format!("error reading consul key: GET {url}: the value is not base64: {e}")
            })?,
        Some(_) => {
            return Err(format!(
                "error reading consul key: GET {url}: the value is not a base64 string"
            ))
        }
    };
    let value = String::from_utf8_lossy(&value).into_owned();
    if value.is_empty() {
        return Err(format!("value is empty at path {key}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let (u, t) = base_url(&Secrets::default()).unwrap();
        assert_eq!(u, "http://127.0.0.1:8500");
        assert!(!t.skip_verify);
        let s = Secrets::from_vars([
            ("CONSUL_HTTP_ADDR", "consul.example:8501"),
            ("CONSUL_HTTP_SSL", "true"),
            ("CONSUL_HTTP_SSL_VERIFY", "false"),
        ]);
        let (u, t) = base_url(&s).unwrap();
        assert_eq!(u, "https://consul.example:8501");
        assert!(t.skip_verify);
        let s = Secrets::from_vars([("CONSUL_HTTP_ADDR", "https://c:1/")]);
        assert_eq!(base_url(&s).unwrap().0, "https://c:1");
        let s = Secrets::from_vars([("CONSUL_HTTP_ADDR", "unix:///tmp/c.sock")]);
        assert!(base_url(&s).unwrap_err().contains("unix sockets"));
        let s = Secrets::from_vars([("CONSUL_HTTP_SSL", "sure")]);
        assert!(base_url(&s).unwrap_err().contains("CONSUL_HTTP_SSL"));
    }
}
