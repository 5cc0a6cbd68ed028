//! Credentials: a service-account key (`account_file`, `credentials_file`,
//! `credentials_json`, or the file `GOOGLE_APPLICATION_CREDENTIALS` names) exchanged for an
//! access token at the key's own `token_uri` with the OAuth2 JWT bearer grant (RFC 7523,
//! signed RS256), as Packer's Go client does; or a fixed `access_token`.
//!
//! google-cloud-auth's service-account credentials sign their own JWTs and never call the
//! `token_uri`, so forge hands the Compute client its own [`CredentialsProvider`] instead.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use google_cloud_auth::errors::CredentialsError;
use http::{Extensions, HeaderMap, HeaderValue};
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// Packer's default scopes.
pub const DEFAULT_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/compute",
    "https://www.googleapis.com/auth/devstorage.full_control",
];

/// A service-account key file's fields forge uses.
#[derive(Clone)]
pub struct ServiceKey {
    /// `client_email`.
    pub client_email: String,
    /// `private_key` (PEM).
    pub private_key: String,
    /// `private_key_id`.
    pub private_key_id: String,
    /// `token_uri`.
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// Where the build's credentials come from.
#[derive(Clone)]
pub enum Source {
    /// A service-account key.
    Key(ServiceKey),
    /// A fixed OAuth2 access token.
    Token(String),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Key(k) => k.fmt(f),
            Source::Token(_) => f.write_str("Token(..)"),
        }
    }
}

impl ServiceKey {
    /// Parses a key file's JSON; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<ServiceKey, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("{what}: not a JSON key file: {e}"))?;
        let ty = v["type"].as_str().unwrap_or_default();
        if ty != "service_account" {
            return Err(format!(
                "{what}: credentials of type {ty:?} are not supported yet by forge's googlecompute builder (a service_account key is)"
            ));
        }
        let get = |k: &str| -> Result<String, String> {
            v[k].as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("{what}: the key file has no {k}"))
        };
        let token_uri = v["token_uri"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("https://oauth2.googleapis.com/token")
            .to_string();
        let key = ServiceKey {
            client_email: get("client_email")?,
            private_key: get("private_key")?,
            private_key_id: v["private_key_id"].as_str().unwrap_or_default().to_string(),
            token_uri,
        };
        key_pair(&key.private_key).map_err(|e| format!("{what}: {e}"))?;
        Ok(key)
    }
}

fn key_pair(pem: &str) -> Result<ring::signature::RsaKeyPair, String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the private_key is not PEM".to_string())?;
    ring::signature::RsaKeyPair::from_pkcs8(&der)
        .or_else(|_| ring::signature::RsaKeyPair::from_der(&der))
        .map_err(|e| format!("the private_key is not an RSA key: {e}"))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The signed assertion of the JWT bearer grant.
pub fn assertion(key: &ServiceKey, scopes: &[String], now: u64) -> Result<String, String> {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.private_key_id});
    let claims = json!({"iss": key.client_email, "scope": scopes.join(" "),
        "aud": key.token_uri, "iat": now, "exp": now + 3600});
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let pair = key_pair(&key.private_key)?;
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        msg.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "signing the token request failed".to_string())?;
    Ok(format!("{msg}.{}", b64(&sig)))
}

/// Called with each token fetched (the build adds it to the redactor).
pub type OnToken = Arc<dyn Fn(&str) + Send + Sync>;

/// Gives access tokens, fetched once and again shortly before they expire.
pub struct TokenSource {
    source: Source,
    scopes: Vec<String>,
    cached: Mutex<Option<(String, Instant)>>,
    http: reqwest::Client,
    /// Tokens seen, for the redactor.
    pub on_token: Option<OnToken>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source of tokens for `scopes` from `source`.
    pub fn new(source: Source, scopes: Vec<String>) -> TokenSource {
        TokenSource {
            source,
            scopes,
            cached: Mutex::new(None),
            http: reqwest::Client::new(),
            on_token: None,
        }
    }

    /// Forgets the cached token after the API refused it; whether a new one can be fetched
    /// (not for a fixed `access_token`).
    pub async fn invalidate(&self) -> bool {
        *self.cached.lock().await = None;
        matches!(self.source, Source::Key(_))
    }

    /// A token, from the cache while it has over a minute left.
    pub async fn token(&self) -> Result<String, String> {
        let key = match &self.source {
            Source::Token(t) => return Ok(t.clone()),
            Source::Key(k) => k,
        };
        let mut c = self.cached.lock().await;
        if let Some((t, until)) = c.as_ref() {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(t.clone());
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let jwt = assertion(key, &self.scopes, now)?;
        let body = format!(
            "grant_type={}&assertion={jwt}",
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
        let what = format!("fetching an OAuth2 token from {}", key.token_uri);
        let resp = self
            .http
            .post(&key.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| format!("{what}: {e}"))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let reason = match (v["error"].as_str(), v["error_description"].as_str()) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                _ => text.chars().take(300).collect(),
            };
            return Err(format!("{what}: {status}: {reason}"));
        }
        let token = v["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("{what}: the answer has no access_token"))?
            .to_string();
        if let Some(f) = &self.on_token {
            f(&token);
        }
        let life = v["expires_in"].as_u64().unwrap_or(3600);
        *c = Some((token.clone(), Instant::now() + Duration::from_secs(life)));
        Ok(token)
    }
}

/// The Compute client's credentials: bearer tokens from a [`TokenSource`].
#[derive(Debug, Clone)]
pub struct Provider(pub Arc<TokenSource>);

impl CredentialsProvider for Provider {
    async fn headers(
        &self,
        _extensions: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        let token = self
            .0
            .token()
            .await
            .map_err(|e| CredentialsError::from_msg(false, e))?;
        let mut h = HeaderMap::new();
        let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            CredentialsError::from_msg(false, "the access token is not a header value")
        })?;
        v.set_sensitive(true);
        h.insert(http::header::AUTHORIZATION, v);
        Ok(CacheableResource::New {
            entity_tag: EntityTag::new(),
            data: h,
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        Some("googleapis.com".into())
    }
}

/// The client credentials for `tokens`.
pub fn credentials(tokens: Arc<TokenSource>) -> Credentials {
    Credentials::from(Provider(tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_of_another_type_is_refused_by_name() {
        let e =
            ServiceKey::parse(r#"{"type": "authorized_user"}"#, "account_file a.json").unwrap_err();
        assert!(
            e.contains("\"authorized_user\" are not supported yet"),
            "{e}"
        );
        let e = ServiceKey::parse("nope", "credentials_json").unwrap_err();
        assert!(
            e.starts_with("credentials_json: not a JSON key file"),
            "{e}"
        );
        let e = ServiceKey::parse(
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "xx"}"#,
            "k",
        )
        .unwrap_err();
        assert!(e.starts_with("k: the private_key is"), "{e}");
    }

    #[tokio::test]
    async fn a_fixed_token_is_given_as_is() {
        let t = TokenSource::new(Source::Token("ya29.x".into()), vec![]);
        assert_eq!(t.token().await.unwrap(), "ya29.x");
    }
}
