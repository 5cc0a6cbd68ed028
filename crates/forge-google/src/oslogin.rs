//! The OS Login API (v1) calls `use_os_login` makes: importing the build's public key into
//! the account's login profile (which names its POSIX user) and deleting it again. Plain
//! REST with the build's tokens; every call through the project's limiter.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::auth::TokenSource;
use crate::limiter::Limiter;

/// The OS Login API of an endpoint (`https://oslogin.googleapis.com`).
pub struct OsLogin {
    endpoint: String,
    tokens: Arc<TokenSource>,
    limiter: Arc<Limiter>,
    http: reqwest::Client,
}

/// What an import gives: the primary POSIX user name and the key's fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The login profile's primary POSIX account's user name.
    pub username: String,
    /// The key's fingerprint in the profile (what deleting it takes).
    pub fingerprint: String,
}

impl OsLogin {
    /// The API at `endpoint`, authorized by `tokens`.
    pub fn new(endpoint: &str, tokens: Arc<TokenSource>, limiter: Arc<Limiter>) -> OsLogin {
        OsLogin {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            tokens,
            limiter,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.limiter.wait().await;
        let token = self.tokens.token().await?;
        let url = format!("{}/v1/{path}", self.endpoint);
        let mut req = self.http.request(method, &url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        Err(match v["error"]["message"].as_str() {
            Some(m) => format!("googleapi: Error {}: {m}", status.as_u16()),
            None => format!("{status}: {}", text.chars().take(300).collect::<String>()),
        })
    }

    /// Imports `key` (an authorized_keys line) into `account`'s login profile for `project`,
    /// expiring at `expire_usec` (0: never).
    pub async fn import(
        &self,
        account: &str,
        project: &str,
        key: &str,
        expire_usec: i64,
    ) -> Result<Imported, String> {
        let key = key.trim();
        let mut body = json!({"key": key});
        if expire_usec > 0 {
            body["expirationTimeUsec"] = expire_usec.to_string().into();
        }
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("users/{account}:importSshPublicKey?projectId={project}"),
                Some(body),
            )
            .await?;
        let profile = &v["loginProfile"];
        let username = profile["posixAccounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["primary"] == true)
            .and_then(|a| a["username"].as_str())
            .ok_or_else(|| format!("the login profile of {account} has no primary POSIX account"))?
            .to_string();
        let fingerprint = profile["sshPublicKeys"]
            .as_object()
            .into_iter()
            .flatten()
            .find(|(_, k)| k["key"].as_str().map(str::trim) == Some(key))
            .map(|(fp, _)| fp.clone())
            .ok_or_else(|| format!("the login profile of {account} does not list the key"))?;
        Ok(Imported {
            username,
            fingerprint,
        })
    }

    /// Deletes the key `fingerprint` from `account`'s login profile; one already gone is no
    /// error.
    pub async fn delete(&self, account: &str, fingerprint: &str) -> Result<(), String> {
        match self
            .call(
                reqwest::Method::DELETE,
                &format!("users/{account}/sshPublicKeys/{fingerprint}"),
                None,
            )
            .await
        {
            Err(e) if e.starts_with("googleapi: Error 404") => Ok(()),
            r => r.map(|_| ()),
        }
    }
}
