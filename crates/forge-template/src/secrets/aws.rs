//! AWS Secrets Manager `GetSecretValue` over the JSON protocol, signed with SigV4, with the
//! credential, region and endpoint lookup of the AWS SDK (environment, then shared files), and
//! the value semantics of Packer's `aws_secretsmanager` (SDK `interpolate/aws/secretsmanager`).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::http::{self, Tls};
use super::sigv4::{self, Credentials};
use super::Secrets;

/// One `[section]` of an INI-style AWS file: keys lower-cased.
type Section = BTreeMap<String, String>;

/// Reads the sections of an AWS shared credentials or config file.
fn parse_ini(text: &str) -> BTreeMap<String, Section> {
    let mut out: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        // Indented lines continue a nested block (`s3 =` followed by sub-keys): skipped.
        if line.starts_with([' ', '\t']) && !line.trim().is_empty() && current.is_some() {
            let t = line.trim();
            if !t.starts_with('[') {
                continue;
            }
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim().to_string();
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        if let (Some(sec), Some((k, v))) = (&current, t.split_once('=')) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            if let Some(section) = out.get_mut(sec) {
                section.insert(k.trim().to_ascii_lowercase(), v.to_string());
            }
        }
    }
    out
}

/// The profile's sections of both shared files, and what was looked at.
struct Profile {
    name: String,
    credentials_file: String,
    config_file: String,
    /// From the credentials file, `None` when the file could not be read (with the reason).
    creds: Result<Option<Section>, String>,
    config: Result<Option<Section>, String>,
}

fn read_section(path: &str, names: &[String]) -> Result<Option<Section>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut ini = parse_ini(&text);
    Ok(names.iter().find_map(|n| ini.remove(n)))
}

fn profile(s: &Secrets) -> Profile {
    let name = s
        .var("AWS_PROFILE")
        .or_else(|| s.var("AWS_DEFAULT_PROFILE"))
        .unwrap_or("default")
        .to_string();
    let credentials_file = s
        .var("AWS_SHARED_CREDENTIALS_FILE")
        .map(str::to_string)
        .or_else(|| s.home_file(".aws/credentials"))
        .unwrap_or_else(|| "~/.aws/credentials".to_string());
    let config_file = s
        .var("AWS_CONFIG_FILE")
        .map(str::to_string)
        .or_else(|| s.home_file(".aws/config"))
        .unwrap_or_else(|| "~/.aws/config".to_string());
    let no_home = |f: &str| f.starts_with('~');
    let creds = if no_home(&credentials_file) {
        Err("HOME is not set".to_string())
    } else {
        read_section(&credentials_file, std::slice::from_ref(&name))
    };
    let mut config_names = vec![format!("profile {name}")];
    if name == "default" {
        config_names.push("default".to_string());
    }
    let config = if no_home(&config_file) {
        Err("HOME is not set".to_string())
    } else {
        read_section(&config_file, &config_names)
    };
    Profile {
        name,
        credentials_file,
        config_file,
        creds,
        config,
    }
}

/// Keys from one profile section, or why not.
fn section_credentials(sec: &Section) -> Result<Credentials, String> {
    match (
        sec.get("aws_access_key_id"),
        sec.get("aws_secret_access_key"),
    ) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            session_token: sec.get("aws_session_token").cloned(),
        }),
        _ => {
            let unsupported: Vec<&str> = [
                "role_arn",
                "credential_process",
                "sso_session",
                "sso_start_url",
                "web_identity_token_file",
            ]
            .into_iter()
            .filter(|k| sec.contains_key(*k))
            .collect();
            if unsupported.is_empty() {
                Err("no aws_access_key_id and aws_secret_access_key in it".to_string())
            } else {
                Err(format!(
                    "it uses {}, which forge does not support; give static keys instead",
                    unsupported.join(", ")
                ))
            }
        }
    }
}

fn credentials(s: &Secrets, p: &Profile) -> Result<Credentials, String> {
    let mut tried = Vec::new();
    let id = s
        .var("AWS_ACCESS_KEY_ID")
        .or_else(|| s.var("AWS_ACCESS_KEY"));
    let secret = s
        .var("AWS_SECRET_ACCESS_KEY")
        .or_else(|| s.var("AWS_SECRET_KEY"));
    match (id, secret) {
        (Some(id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id: id.to_string(),
                secret_access_key: secret.to_string(),
                session_token: s.var("AWS_SESSION_TOKEN").map(str::to_string),
            })
        }
        (None, None) => tried.push(
            "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".to_string(),
        ),
        (Some(_), None) => tried.push("environment: AWS_SECRET_ACCESS_KEY is not set".to_string()),
        (None, Some(_)) => tried.push("environment: AWS_ACCESS_KEY_ID is not set".to_string()),
    }
    for (file, sec, what) in [
        (&p.credentials_file, &p.creds, "shared credentials file"),
        (&p.config_file, &p.config, "shared config file"),
    ] {
        match sec {
            Ok(Some(sec)) => match section_credentials(sec) {
                Ok(c) => return Ok(c),
                Err(why) => tried.push(format!("{what} {file}, profile {:?}: {why}", p.name)),
            },
            Ok(None) => tried.push(format!("{what} {file}: no profile {:?} in it", p.name)),
            Err(e) => tried.push(format!("{what} {file}: {e}")),
        }
    }
    Err(format!(
        "NoCredentialProviders: no valid providers in chain; tried {}; EC2 instance, ECS task \
         and web identity roles are not supported by forge",
        tried.join("; ")
    ))
}

fn region(s: &Secrets, p: &Profile) -> Result<String, String> {
    if let Some(r) = s.var("AWS_REGION").or_else(|| s.var("AWS_DEFAULT_REGION")) {
        return Ok(r.to_string());
    }
    for sec in [&p.config, &p.creds] {
        if let Ok(Some(sec)) = sec {
            if let Some(r) = sec.get("region") {
                return Ok(r.clone());
            }
        }
    }
    Err(format!(
        "MissingRegion: could not find region configuration: set AWS_REGION or \
         AWS_DEFAULT_REGION, or region in profile {:?} of {}",
        p.name, p.config_file
    ))
}

fn endpoint(s: &Secrets, region: &str) -> String {
    if let Some(e) = s
        .var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .or_else(|| s.var("AWS_ENDPOINT_URL"))
    {
        return e.to_string();
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://secretsmanager.{region}.{suffix}")
}

/// What `GetSecretValue` answered.
struct SecretValue {
    string: Option<String>,
}

/// Calls `GetSecretValue` for the `AWSCURRENT` version of `name`.
fn get_secret_value(s: &Secrets, name: &str) -> Result<SecretValue, String> {
    let p = profile(s);
    let region = region(s, &p)?;
    let creds = credentials(s, &p)?;
    let url = endpoint(s, &region);
    let target = http::parse_url(&url).map_err(|e| format!("secrets manager endpoint: {e}"))?;
    let payload = serde_json::json!({ "SecretId": name, "VersionStage": "AWSCURRENT" }).to_string();
    let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut signed = vec![
        ("Host".to_string(), target.host_header()),
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "X-Amz-Target".to_string(),
            "secretsmanager.GetSecretValue".to_string(),
        ),
        ("X-Amz-Date".to_string(), amz_date.clone()),
    ];
    if let Some(t) = &creds.session_token {
        signed.push(("X-Amz-Security-Token".to_string(), t.clone()));
    }
    let auth = sigv4::authorization(
        &sigv4::Request {
            method: "POST",
            path: target.path(),
            query: target.query(),
            headers: &signed,
            payload: payload.as_bytes(),
        },
        &creds,
        &region,
        "secretsmanager",
        &amz_date,
    );
    let mut headers: Vec<(&str, String)> = signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    headers.push(("Authorization", auth));
    let tls = Tls {
        ca_file: s.var("AWS_CA_BUNDLE").map(str::to_string),
        skip_verify: false,
    };
    let resp = http::send("POST", &url, &headers, Some(payload.as_bytes()), &tls).map_err(|e| {
        format!("RequestError: send request failed for secret {name:?}, caused by: {e}")
    })?;
    let json: Option<Json> = serde_json::from_str(&resp.body).ok();
    if !(200..300).contains(&resp.status) {
        // JSON errors carry `__type` and `message`; some front ends answer in XML
        // (`<Code>`, `<Message>`).
        let field = |k: &str| {
            json.as_ref()
                .and_then(|j| j.get(k))
                .and_then(Json::as_str)
                .map(str::to_string)
                .or_else(|| {
                    let tag = match k {
                        "__type" => "Code",
                        "message" | "Message" => "Message",
                        _ => return None,
                    };
                    xml_element(&resp.body, tag)
                })
        };
        // `__type` may be namespaced ("com.amazonaws...#ResourceNotFoundException").
        let code = field("__type")
            .or_else(|| resp.header("x-amzn-errortype").map(str::to_string))
            .map(|c| {
                let c = c.rsplit('#').next().unwrap_or(&c).to_string();
                c.split(':').next().unwrap_or(&c).to_string()
            })
            .unwrap_or_else(|| "UnknownError".to_string());
        let message = field("message")
            .or_else(|| field("Message"))
            .unwrap_or_else(|| resp.body.trim().chars().take(300).collect());
        let request_id = resp.header("x-amzn-requestid").unwrap_or("none");
        return Err(format!(
            "{code}: {message} (secret {name:?}, POST {url}, status code: {}, request id: {request_id})",
            resp.status
        ));
    }
    let Some(Json::Object(obj)) = json else {
        return Err(format!(
            "SerializationError: the answer of POST {url} for secret {name:?} is not a JSON object"
        ));
    };
    Ok(SecretValue {
        string: obj
            .get("SecretString")
            .and_then(Json::as_str)
            .map(str::to_string),
    })
}

/// The text of the first `<tag>...</tag>` in an XML body.
fn xml_element(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body.get(start..)?.find(&close)?;
    Some(body.get(start..start + len)?.trim().to_string())
}

/// Go's `%T` name of a decoded JSON value.
fn go_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "<nil>",
        Json::Bool(_) => "bool",
        Json::Number(_) => "float64",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
    }
}

fn string_value(v: &Json) -> Result<String, String> {
    match v {
        Json::String(s) => Ok(s.clone()),
        // Go decodes numbers to float64 and prints them with no decimals.
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => Ok(format!("{f:.0}")),
            _ => Err(format!("Unsupported secret value type: {n}")),
        },
        other => Err(format!("Unsupported secret value type: {}", go_type(other))),
    }
}

/// Picks the value out of a secret string as Packer does: plain text as is; a JSON object's
/// field `key`, or its only field when `key` is empty.
pub(super) fn select(secret: &str, key: &str) -> Result<String, String> {
    let Ok(json) = serde_json::from_str::<Json>(secret) else {
        return Ok(secret.to_string());
    };
    let map = match json {
        Json::Object(m) => m,
        // Go's json.Unmarshal leaves a nil map for `null`.
        Json::Null => serde_json::Map::new(),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                match other {
                    Json::Bool(_) => "bool",
                    Json::Number(_) => "number",
                    Json::String(_) => "string",
                    _ => "array",
                }
            ))
        }
    };
    if key.is_empty() && map.len() > 1 {
        return Err("Secret has multiple values and no key was set".to_string());
    }
    if key.is_empty() {
        if let Some(v) = map.values().next() {
            return string_value(v);
        }
    }
    match map.get(key) {
        Some(v) => string_value(v),
        None => Err(format!("No secret found for key {key:?}")),
    }
}

/// `aws_secretsmanager(name, key)` (empty key: the only value), or `aws_secretsmanager_raw`.
pub(super) fn get_secret(s: &Secrets, name: &str, key: &str, raw: bool) -> Result<String, String> {
    if name.is_empty() {
        return Err("At least one secret name must be provided".to_string());
    }
    let v = get_secret_value(s, name)?;
    let Some(string) = v.string else {
        return Err(format!(
            "Secret is not string (secret {name:?} holds binary data)"
        ));
    };
    if raw {
        Ok(string)
    } else {
        select(&string, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_like_packer() {
        assert_eq!(select(r#"{"key": "test"}"#, "").unwrap(), "test");
        assert_eq!(select(r#"{"key": "test"}"#, "key").unwrap(), "test");
        assert_eq!(
            select(r#"{"first_key": "a", "second_key": "b"}"#, "second_key").unwrap(),
            "b"
        );
        assert_eq!(
            select(r#"{"first_key": "a", "second_key": "b"}"#, "").unwrap_err(),
            "Secret has multiple values and no key was set"
        );
        assert_eq!(
            select(r#"{"key": "test"}"#, "nonexistent").unwrap_err(),
            "No secret found for key \"nonexistent\""
        );
        assert_eq!(
            select("ThisIsThePassword", "").unwrap(),
            "ThisIsThePassword"
        );
        assert_eq!(
            select("ThisIsThePassword", "k").unwrap(),
            "ThisIsThePassword"
        );
        assert_eq!(select(r#"{"port": 5432}"#, "").unwrap(), "5432");
        assert_eq!(select(r#"{"n": 2.5}"#, "").unwrap(), "2");
        assert_eq!(
            select(r#"{"foo":{"bar":"baz"}}"#, "").unwrap_err(),
            "Unsupported secret value type: map[string]interface {}"
        );
        assert_eq!(
            select(r#"{"b": true}"#, "b").unwrap_err(),
            "Unsupported secret value type: bool"
        );
        assert!(select("\"quoted\"", "")
            .unwrap_err()
            .contains("cannot unmarshal string"));
        assert_eq!(
            select("{}", "").unwrap_err(),
            "No secret found for key \"\""
        );
        assert_eq!(
            select("null", "").unwrap_err(),
            "No secret found for key \"\""
        );
    }

    #[test]
    fn xml_errors() {
        let body = "<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>\
                    <Message>The security token is invalid.</Message></Error></Errors></ErrorResponse>";
        assert_eq!(
            xml_element(body, "Code").as_deref(),
            Some("InvalidClientTokenId")
        );
        assert_eq!(
            xml_element(body, "Message").as_deref(),
            Some("The security token is invalid.")
        );
        assert_eq!(xml_element("<Code>", "Code"), None);
        assert_eq!(xml_element("", "Code"), None);
    }

    #[test]
    fn ini_files() {
        let ini = parse_ini(
            "# c\n[default]\naws_access_key_id = A\naws_secret_access_key=B\n\n[profile x]\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 2\nrole_arn = r\n",
        );
        assert_eq!(ini["default"]["aws_access_key_id"], "A");
        assert_eq!(ini["default"]["aws_secret_access_key"], "B");
        assert_eq!(ini["profile x"]["region"], "eu-west-1");
        assert!(!ini["profile x"].contains_key("max_concurrent_requests"));
        assert!(section_credentials(&ini["profile x"])
            .unwrap_err()
            .contains("role_arn"));
    }

    #[test]
    fn shared_files_and_errors() {
        let dir = std::env::temp_dir().join(format!("forge-aws-home-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        let home = dir.to_str().unwrap().to_string();
        // No credentials anywhere.
        let s = Secrets::from_vars([("HOME", home.as_str()), ("AWS_REGION", "us-east-1")]);
        let e = get_secret(&s, "n", "", false).unwrap_err();
        assert!(e.starts_with("NoCredentialProviders"), "{e}");
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        assert!(e.contains(".aws/credentials"), "{e}");
        // No region.
        let s = Secrets::from_vars([("HOME", home.as_str())]);
        assert!(get_secret(&s, "n", "", false)
            .unwrap_err()
            .starts_with("MissingRegion"));
        assert_eq!(
            get_secret(&s, "", "", false).unwrap_err(),
            "At least one secret name must be provided"
        );
        // Keys and region from the profile's files.
        std::fs::write(
            dir.join(".aws/credentials"),
            "[dev]\naws_access_key_id = AK\naws_secret_access_key = SK\naws_session_token = T\n",
        )
        .unwrap();
        std::fs::write(
            dir.join(".aws/config"),
            "[profile dev]\nregion = eu-central-1\n",
        )
        .unwrap();
        let s = Secrets::from_vars([("HOME", home.as_str()), ("AWS_PROFILE", "dev")]);
        let p = profile(&s);
        assert_eq!(region(&s, &p).unwrap(), "eu-central-1");
        let c = credentials(&s, &p).unwrap();
        assert_eq!(c.access_key_id, "AK");
        assert_eq!(c.session_token.as_deref(), Some("T"));
        assert_eq!(
            endpoint(&s, "eu-central-1"),
            "https://secretsmanager.eu-central-1.amazonaws.com"
        );
        // The environment wins over the files.
        let s = Secrets::from_vars([
            ("HOME", home.as_str()),
            ("AWS_PROFILE", "dev"),
            ("AWS_ACCESS_KEY_ID", "EK"),
            ("AWS_SECRET_ACCESS_KEY", "ES"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ]);
        let p = profile(&s);
        assert_eq!(credentials(&s, &p).unwrap().access_key_id, "EK");
        assert_eq!(endpoint(&s, "x"), "http://127.0.0.1:9");
        std::fs::remove_dir_all(&dir).ok();
    }
}
