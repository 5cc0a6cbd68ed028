//! Vault KV reads as Packer's `vault(path, key)` does them: `GET $VAULT_ADDR/v1/<path>` with the
//! token; a KV v2 path has `/data/` in it and the fields are under `data.data`, a KV v1 path has
//! them under `data`. Error texts are Packer's (SDK `template.Vault`) and Vault's client's.

use serde_json::Value as Json;

use super::http::{self, Tls};
use super::{parse_bool, Secrets};

const DEFAULT_ADDR: &str = "https://127.0.0.1:8200";

/// Where the token came from, to name in errors.
fn token(s: &Secrets) -> Result<String, String> {
    if let Some(t) = s.var("VAULT_TOKEN") {
        return Ok(t.to_string());
    }
    // Packer insists on VAULT_TOKEN; Vault's own client also reads the token helper's file.
    let file = s.home_file(".vault-token");
    if let Some(f) = &file {
        if let Ok(text) = std::fs::read_to_string(f) {
            let t = text.trim();
            if !t.is_empty() {
                return Ok(t.to_string());
            }
        }
    }
    Err(format!(
        "Must set VAULT_TOKEN env var in order to use vault template function (no token in {} either)",
        file.as_deref().unwrap_or("~/.vault-token: HOME is not set")
    ))
}

/// Vault's client error for a failed request.
fn response_error(method: &str, url: &str, status: u16, body: &str) -> String {
    let errors: Option<Vec<String>> = serde_json::from_str::<Json>(body).ok().and_then(|j| {
        j.get("errors").and_then(Json::as_array).map(|a| {
            a.iter()
                .map(|e| match e {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
    });
    let mut msg = format!("Error making API request.\n\nURL: {method} {url}\nCode: {status}.");
    match errors {
        Some(errs) if !errs.is_empty() => {
            msg.push_str(" Errors:\n\n");
            msg.push_str(
                &errs
                    .iter()
                    .map(|e| format!("* {e}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        _ => {
            msg.push_str(" Raw Message:\n\n");
            msg.push_str(body.trim());
        }
    }
    msg
}

/// Reads `key` of the secret at `path`.
pub(super) fn read(s: &Secrets, path: &str, key: &str) -> Result<String, String> {
    let token = token(s)?;
    let addr = s.var("VAULT_ADDR").unwrap_or(DEFAULT_ADDR);
    let skip_verify = match s.var("VAULT_SKIP_VERIFY") {
        None => false,
        Some(v) => parse_bool(v).ok_or_else(|| {
            format!("Error getting Vault client: could not parse VAULT_SKIP_VERIFY ({v:?})")
        })?,
    };
    let base = http::parse_url(addr)
        .map_err(|e| format!("Error getting Vault client: VAULT_ADDR: {e}"))?;
    let tls = Tls {
        ca_file: s.var("VAULT_CACERT").map(str::to_string),
        skip_verify,
    };
    // The path may carry a query (`secret/data/x?version=2`), as Vault's client allows.
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut url = format!(
        "{}://{}{}/v1/{}",
        base.scheme,
        base.authority(),
        base.path().trim_end_matches('/'),
        http::escape_path(p.trim_start_matches('/'))
    );
    if let Some(q) = q {
        url.push('?');
        url.push_str(q);
    }
    let mut headers = vec![
        ("X-Vault-Token", token),
        ("X-Vault-Request", "true".to_string()),
    ];
    if let Some(ns) = s.var("VAULT_NAMESPACE") {
        headers.push(("X-Vault-Namespace", ns.to_string()));
    }
    let resp = http::send("GET", &url, &headers, None, &tls)
        .map_err(|e| format!("Error reading vault secret: {e}"))?;

    let not_found = || format!("Vault Secret does not exist at the given path (GET {url})");
    let parsed: Option<Json> = serde_json::from_str(&resp.body).ok();
    let secret = match resp.status {
        200..=299 => match parsed {
            Some(Json::Object(m)) => m,
            // 204 No Content and empty bodies: no secret.
            _ if resp.body.trim().is_empty() => return Err(not_found()),
            _ => {
                return Err(format!(
                    "Error reading vault secret: GET {url}: the response is not a JSON object: {}",
                    resp.body.chars().take(200).collect::<String>()
                ))
            }
        },
        // Vault's client turns a 404 into "no secret" unless the body still carries data or
        // warnings (as a deleted KV v2 version does).
        404 => match parsed {
            Some(Json::Object(m))
                if m.get("data").is_some_and(|d| !d.is_null())
                    || m.get("warnings")
                        .and_then(Json::as_array)
                        .is_some_and(|w| !w.is_empty()) =>
            {
                m
            }
            _ => return Err(not_found()),
        },
        status => {
            return Err(format!(
                "Error reading vault secret: {}",
                response_error("GET", &url, status, &resp.body)
            ))
        }
    };
    let data = secret.get("data").and_then(Json::as_object);
    let Some(data) = data else {
        return Err(not_found());
    };
    let warnings = || {
        secret
            .get("warnings")
            .and_then(Json::as_array)
            .map(|w| {
                w.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let value = match data.get("data") {
        // KV v2: the fields are under data.data.
        Some(inner) => match inner.as_object().and_then(|o| o.get(key)) {
            Some(v) => v,
            None if inner.is_null() => {
                return Err(format!(
                    "Vault path does not contain the requested key (the current version of the \
                     secret at GET {url} is deleted or destroyed)"
                ))
            }
            None => return Err("Vault path does not contain the requested key".to_string()),
        },
        // KV v1: the fields are under data.
        None => match data.get(key) {
            Some(v) => v,
            None => {
                return Err(format!(
                    "Vault data was empty at the given path. Check the Vault function docs for \
                     help: https://www.packer.io/docs/templates/hcl_templates/functions/contextual/vault. \
                     Original warnings from Vault call: {}",
                    warnings()
                ))
            }
        },
    };
    match value {
        Json::String(v) => Ok(v.clone()),
        other => Err(format!(
            "Vault value of key {key:?} is not a string but {}",
            match other {
                Json::Null => "null",
                Json::Bool(_) => "a bool",
                Json::Number(_) => "a number",
                Json::Array(_) => "a list",
                Json::Object(_) => "an object",
                Json::String(_) => "a string",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_token() {
        let e = read(
            &Secrets::from_vars([("VAULT_ADDR", "http://127.0.0.1:1")]),
            "a",
            "b",
        )
        .unwrap_err();
        assert!(e.starts_with("Must set VAULT_TOKEN env var"), "{e}");
    }

    #[test]
    fn token_file_and_bad_settings() {
        let dir = std::env::temp_dir().join(format!("forge-vault-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".vault-token"), "s.file\n").unwrap();
        let s = Secrets::from_vars([("HOME", dir.to_str().unwrap())]);
        assert_eq!(token(&s).unwrap(), "s.file");
        let s = Secrets::from_vars([("VAULT_TOKEN", "t"), ("VAULT_SKIP_VERIFY", "maybe")]);
        assert!(read(&s, "a", "b")
            .unwrap_err()
            .contains("could not parse VAULT_SKIP_VERIFY"));
        let s = Secrets::from_vars([("VAULT_TOKEN", "t"), ("VAULT_ADDR", "127.0.0.1:8200")]);
        assert!(read(&s, "a", "b").unwrap_err().contains("VAULT_ADDR"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn vault_error_text() {
        let e = response_error(
            "GET",
            "http://h/v1/x",
            403,
            r#"{"errors":["permission denied"]}"#,
        );
        assert_eq!(
            e,
            "Error making API request.\n\nURL: GET http://h/v1/x\nCode: 403. Errors:\n\n* permission denied"
        );
        let e = response_error("GET", "http://h/v1/x", 502, "bad gateway");
        assert!(e.ends_with("Code: 502. Raw Message:\n\nbad gateway"));
    }
}
