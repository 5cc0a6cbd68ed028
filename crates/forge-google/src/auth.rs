//! Credentials: a service-account key (`account_file`, `credentials_file`,
//! `credentials_json`, or the application default credentials' file) exchanged for an
//! access token at the key's own `token_uri` with the OAuth2 JWT bearer grant (RFC 7523,
//! signed RS256), as Packer's Go client does; an `authorized_user` file (what `gcloud auth
//! application-default login` writes) exchanged with the refresh-token grant; or a fixed
//! `access_token`. With `impersonate_service_account`, that token only buys one for the
//! service account from IAM Credentials' `generateAccessToken`.
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

/// An `authorized_user` credentials file's fields (a user's OAuth2 refresh token).
#[derive(Clone)]
pub struct UserCredentials {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// `refresh_token`.
    pub refresh_token: String,
    /// `token_uri` (Google's when absent).
    pub token_uri: String,
}

/// Where the build's credentials come from.
#[derive(Clone)]
pub enum Source {
    /// A service-account key.
    Key(ServiceKey),
    /// A user's refresh token.
    User(UserCredentials),
    /// A fixed OAuth2 access token.
    Token(String),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Key(k) => k.fmt(f),
            Source::User(u) => write!(f, "User({}, {})", u.client_id, u.token_uri),
            Source::Token(_) => f.write_str("Token(..)"),
        }
    }
}

/// Google's token endpoint.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

impl Source {
    /// Parses a credentials file's JSON (`service_account` or `authorized_user`); `what`
    /// names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<Source, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("{what}: not a JSON credentials file: {e}"))?;
        let get = |k: &str| -> Result<String, String> {
            v[k].as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("{what}: the credentials file has no {k}"))
        };
        let token_uri = v["token_uri"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(GOOGLE_TOKEN_URI)
            .to_string();
        match v["type"].as_str().unwrap_or_default() {
            "service_account" => {
                let key = ServiceKey {
                    client_email: get("client_email")?,
                    private_key: get("private_key")?,
                    private_key_id: v["private_key_id"].as_str().unwrap_or_default().to_string(),
                    token_uri,
                };
                key_pair(&key.private_key).map_err(|e| format!("{what}: {e}"))?;
                Ok(Source::Key(key))
            }
            "authorized_user" => Ok(Source::User(UserCredentials {
                client_id: get("client_id")?,
                client_secret: get("client_secret")?,
                refresh_token: get("refresh_token")?,
                token_uri,
            })),
            ty => Err(format!(
                "{what}: credentials of type {ty:?} are not supported yet by forge's googlecompute builder (service_account and authorized_user are)"
            )),
        }
    }

    /// The secrets in the credentials, for the redactor.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Source::Token(t) => vec![t.clone()],
            Source::Key(k) => vec![k.private_key.clone()],
            Source::User(u) => vec![u.client_secret.clone(), u.refresh_token.clone()],
        }
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

/// The scope the token behind an impersonation needs.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Gives access tokens, fetched once and again shortly before they expire.
pub struct TokenSource {
    source: Source,
    scopes: Vec<String>,
    cached: Mutex<Option<(String, Instant)>>,
    http: reqwest::Client,
    /// Tokens seen, for the redactor.
    pub on_token: Option<OnToken>,
    /// `impersonate_service_account` and the IAM Credentials endpoint to ask.
    pub impersonate: Option<(String, String)>,
    /// The universe the credentials belong to (`googleapis.com`).
    pub universe: String,
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
            impersonate: None,
            universe: "googleapis.com".into(),
        }
    }

    /// Forgets the cached token after the API refused it; whether a new one can be fetched
    /// (not for a fixed `access_token` used as it is).
    pub async fn invalidate(&self) -> bool {
        *self.cached.lock().await = None;
        !matches!(self.source, Source::Token(_)) || self.impersonate.is_some()
    }

    /// A token, from the cache while it has over a minute left.
    pub async fn token(&self) -> Result<String, String> {
        if let (Source::Token(t), None) = (&self.source, &self.impersonate) {
            return Ok(t.clone());
        }
        let mut c = self.cached.lock().await;
        if let Some((t, until)) = c.as_ref() {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(t.clone());
            }
        }
        let (token, life) = match &self.impersonate {
            None => self.fetch(&self.scopes).await?,
            Some((email, endpoint)) => {
                let (base, _) = self.fetch(&[CLOUD_PLATFORM.to_string()]).await?;
                self.impersonated(&base, email, endpoint).await?
            }
        };
        *c = Some((token.clone(), Instant::now() + life));
        Ok(token)
    }

    /// A token of the source itself for `scopes`, and how long it lasts.
    async fn fetch(&self, scopes: &[String]) -> Result<(String, Duration), String> {
        let (uri, form) = match &self.source {
            Source::Token(t) => return Ok((t.clone(), Duration::from_secs(3600))),
            Source::Key(key) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let jwt = assertion(key, scopes, now)?;
                (
                    &key.token_uri,
                    vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string(),
                        ),
                        ("assertion", jwt),
                    ],
                )
            }
            Source::User(u) => (
                &u.token_uri,
                vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("client_id", u.client_id.clone()),
                    ("client_secret", u.client_secret.clone()),
                    ("refresh_token", u.refresh_token.clone()),
                    ("scope", scopes.join(" ")),
                ],
            ),
        };
        let what = format!("fetching an OAuth2 token from {uri}");
        let resp = self
            .http
            .post(uri.as_str())
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let v = answer(resp, &what).await?;
        let token = self.seen(&v, "access_token", &what)?;
        Ok((
            token,
            Duration::from_secs(v["expires_in"].as_u64().unwrap_or(3600)),
        ))
    }

    /// IAM Credentials' `generateAccessToken` for `email`, authorized by `base`.
    async fn impersonated(
        &self,
        base: &str,
        email: &str,
        endpoint: &str,
    ) -> Result<(String, Duration), String> {
        let url = format!(
            "{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
            endpoint.trim_end_matches('/')
        );
        let what = format!("impersonating {email} (impersonate_service_account)");
        let resp = self
            .http
            .post(&url)
            .bearer_auth(base)
            .json(&json!({"scope": self.scopes, "lifetime": "3600s"}))
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let v = answer(resp, &what).await?;
        let token = self.seen(&v, "accessToken", &what)?;
        let left = v["expireTime"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| (t.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64)
            .unwrap_or(3600);
        Ok((token, Duration::from_secs(left)))
    }

    /// The token in field `k` of an answer, handed to the redactor first.
    fn seen(&self, v: &Value, k: &str, what: &str) -> Result<String, String> {
        let token = v[k]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("{what}: the answer has no {k}"))?
            .to_string();
        if let Some(f) = &self.on_token {
            f(&token);
        }
        Ok(token)
    }
}

/// A token endpoint's or Google API's JSON answer; its error (OAuth2's or Google's shape)
/// when it is not a success.
async fn answer(resp: reqwest::Response, what: &str) -> Result<Value, String> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{what}: {e}"))?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(v);
    }
    let reason = match (
        v["error"].as_str(),
        v["error_description"].as_str(),
        v["error"]["message"].as_str(),
    ) {
        (Some(e), Some(d), _) => format!("{e}: {d}"),
        (_, _, Some(m)) => m.to_string(),
        _ => text.chars().take(300).collect(),
    };
    Err(format!("{what}: {status}: {reason}"))
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
        Some(self.0.universe.clone())
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
    fn a_credentials_file_of_another_type_is_refused_by_name() {
        let e =
            Source::parse(r#"{"type": "external_account"}"#, "account_file a.json").unwrap_err();
        assert!(
            e.contains("\"external_account\" are not supported yet"),
            "{e}"
        );
        let e = Source::parse("nope", "credentials_json").unwrap_err();
        assert!(
            e.starts_with("credentials_json: not a JSON credentials file"),
            "{e}"
        );
        let e = Source::parse(
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "xx"}"#,
            "k",
        )
        .unwrap_err();
        assert!(e.starts_with("k: the private_key is"), "{e}");
        let e =
            Source::parse(r#"{"type": "authorized_user", "client_id": "c"}"#, "adc").unwrap_err();
        assert_eq!(e, "adc: the credentials file has no client_secret");
        let u = Source::parse(
            r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
            "adc",
        )
        .unwrap();
        assert!(matches!(&u, Source::User(u) if u.token_uri == GOOGLE_TOKEN_URI));
        assert_eq!(u.secrets(), ["s", "r"]);
    }

    #[tokio::test]
    async fn a_fixed_token_is_given_as_is() {
        let t = TokenSource::new(Source::Token("ya29.x".into()), vec![]);
        assert_eq!(t.token().await.unwrap(), "ya29.x");
    }
}
