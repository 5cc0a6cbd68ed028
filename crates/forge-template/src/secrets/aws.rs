//! The `aws_secretsmanager` and `aws_secretsmanager_raw` functions of both template languages,
//! with the value semantics of Packer's (SDK `interpolate/aws/secretsmanager`): the call itself
//! goes through [`SecretsManager`], the client a cloud plugin crate provides (forge-amazon's, on
//! the AWS SDK), so the template layer carries no credential chain or request signer of its own.

use serde_json::Value as Json;

/// The version stage Packer reads: the current version of the secret.
pub const CURRENT_STAGE: &str = "AWSCURRENT";

/// What the functions fail with when no client was given (library use without the Amazon
/// plugins): no value is ever made up.
pub const NO_CLIENT: &str = "no AWS Secrets Manager client is configured: the forge binary \
     provides one with its Amazon plugins; a program using forge-template alone must set \
     LoadOptions::secrets_manager";

/// AWS Secrets Manager's `GetSecretValue`, as the `aws_secretsmanager*` functions call it.
/// A cloud plugin crate implements it on its platform's client (forge-amazon on the AWS SDK,
/// with the SDK's credential, region and endpoint configuration); the binary passes it in
/// [`crate::LoadOptions::secrets_manager`]. Calls are synchronous: an implementation on an async
/// client must not block on the caller's runtime (templates load inside and outside one).
pub trait SecretsManager: Send + Sync + std::fmt::Debug {
    /// The `SecretString` of the version of secret `name` labelled `version_stage`, or `None`
    /// when the secret holds binary data. An error is the whole message: the service's error
    /// code first (`ResourceNotFoundException: ...`), naming the secret and the endpoint.
    fn get_secret_string(&self, name: &str, version_stage: &str) -> Result<Option<String>, String>;
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

/// `aws_secretsmanager(name, key)` (empty key: the only value), or `aws_secretsmanager_raw`,
/// through `client`.
pub(crate) fn get_secret(
    client: Option<&dyn SecretsManager>,
    name: &str,
    key: &str,
    raw: bool,
) -> Result<String, String> {
    if name.is_empty() {
        return Err("At least one secret name must be provided".to_string());
    }
    let client = client.ok_or_else(|| NO_CLIENT.to_string())?;
    let Some(string) = client.get_secret_string(name, CURRENT_STAGE)? else {
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

    /// A client answering from a table, recording the version stage asked for.
    #[derive(Debug, Default)]
    struct Table(std::sync::Mutex<Vec<String>>);

    impl SecretsManager for Table {
        fn get_secret_string(&self, name: &str, stage: &str) -> Result<Option<String>, String> {
            self.0.lock().unwrap().push(stage.to_string());
            match name {
                "db" => Ok(Some(r#"{"user": "admin", "password": "pw"}"#.to_string())),
                "bin" => Ok(None),
                _ => Err(format!("ResourceNotFoundException: no secret {name:?}")),
            }
        }
    }

    #[test]
    fn calls_go_through_the_client() {
        let t = Table::default();
        let c: Option<&dyn SecretsManager> = Some(&t);
        assert_eq!(get_secret(c, "db", "password", false).unwrap(), "pw");
        assert_eq!(
            get_secret(c, "db", "", true).unwrap(),
            r#"{"user": "admin", "password": "pw"}"#
        );
        assert_eq!(
            get_secret(c, "db", "", false).unwrap_err(),
            "Secret has multiple values and no key was set"
        );
        assert_eq!(
            get_secret(c, "bin", "", false).unwrap_err(),
            "Secret is not string (secret \"bin\" holds binary data)"
        );
        assert!(get_secret(c, "gone", "", false)
            .unwrap_err()
            .starts_with("ResourceNotFoundException: "));
        assert_eq!(
            get_secret(c, "", "", false).unwrap_err(),
            "At least one secret name must be provided"
        );
        assert_eq!(*t.0.lock().unwrap(), ["AWSCURRENT"; 5]);
        // Without a client: a clear error, never a value.
        assert_eq!(
            get_secret(None, "db", "user", false).unwrap_err(),
            NO_CLIENT
        );
    }
}
