//! Secrets from external services for the `vault`, `consul_key` and `aws_secretsmanager*`
//! functions of both template languages, configured from the environment as Packer's clients
//! (Vault's, Consul's and the AWS SDK's) are.
//!
//! Every call reaches its service for real. When it cannot, the error says what was tried (the
//! URL, the `host:port`, the credential sources) and why; no value is ever made up.
//!
//! Vault and Consul are reached over HTTP(S) from here; AWS Secrets Manager through the
//! [`SecretsManager`] client a cloud plugin crate provides (forge-amazon's, on the AWS SDK, which
//! reads the AWS variables from the process environment and the shared files as the SDK does).
//!
//! | service | variables read |
//! |---|---|
//! | Vault | `VAULT_ADDR` (default `https://127.0.0.1:8200`), `VAULT_TOKEN` (else `~/.vault-token`), `VAULT_NAMESPACE`, `VAULT_CACERT`, `VAULT_SKIP_VERIFY` |
//! | Consul | `CONSUL_HTTP_ADDR` (default `127.0.0.1:8500`, may start with `http://`/`https://`), `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_TOKEN_FILE`, `CONSUL_HTTP_AUTH`, `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`, `CONSUL_NAMESPACE`, `CONSUL_PARTITION` |
//! | AWS (forge-amazon's client) | `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` (also `AWS_ACCESS_KEY`/`AWS_SECRET_KEY`), else the profile (`AWS_PROFILE`, default `default`) in `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`) or `AWS_CONFIG_FILE` (`~/.aws/config`), with the SDK's other sources (SSO, assumed roles, `credential_process`, web identity, ECS and EC2 instance roles); region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile; endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL` or the profile's `endpoint_url`; `AWS_CA_BUNDLE` |

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::legacy::interp::SecretSource;

mod aws;
mod consul;
mod http;
pub(crate) use aws::get_secret;
pub use aws::{SecretsManager, CURRENT_STAGE, NO_CLIENT};
pub use http::Response;
mod vault;

/// One HTTP request with the system's trust roots (for the `http` data source): any status is a
/// response, transport failures are errors naming the address.
pub fn http_send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> Result<http::Response, String> {
    http::send(method, url, headers, body, &http::Tls::default())
}

/// Every environment variable the clients read; [`Secrets::from_lookup`] takes these.
pub const ENV_VARS: &[&str] = &[
    "HOME",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "VAULT_CACERT",
    "VAULT_SKIP_VERIFY",
    "CONSUL_HTTP_ADDR",
    "CONSUL_HTTP_TOKEN",
    "CONSUL_HTTP_TOKEN_FILE",
    "CONSUL_HTTP_AUTH",
    "CONSUL_HTTP_SSL",
    "CONSUL_HTTP_SSL_VERIFY",
    "CONSUL_CACERT",
    "CONSUL_NAMESPACE",
    "CONSUL_PARTITION",
];

/// The secret backend: Vault and Consul, reached over HTTP(S) with the settings captured from
/// the environment when it was made, and AWS Secrets Manager through the client it was given
/// ([`Secrets::with_secrets_manager`]; without one those calls fail).
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    vars: BTreeMap<String, String>,
    secrets_manager: Option<Arc<dyn SecretsManager>>,
}

impl Secrets {
    /// Settings from the process environment.
    pub fn from_env() -> Secrets {
        Secrets::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Settings from an environment lookup (every name in [`ENV_VARS`] is asked for).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Secrets {
        Secrets {
            vars: ENV_VARS
                .iter()
                .filter_map(|k| lookup(k).map(|v| (k.to_string(), v)))
                .collect(),
            secrets_manager: None,
        }
    }

    /// Settings from exactly these variables (nothing else from the process is read; without
    /// `HOME` no file under a home directory is read either).
    pub fn from_vars<I, K, V>(vars: I) -> Secrets
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Secrets {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            secrets_manager: None,
        }
    }

    /// The AWS Secrets Manager client the `aws_secretsmanager*` calls use.
    pub fn with_secrets_manager(mut self, client: Option<Arc<dyn SecretsManager>>) -> Secrets {
        self.secrets_manager = client;
        self
    }

    /// A variable's value; empty counts as unset, as Go's `os.Getenv` callers treat it.
    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A file under the home directory, if `HOME` is set.
    fn home_file(&self, rel: &str) -> Option<String> {
        self.var("HOME")
            .map(|h| format!("{}/{rel}", h.trim_end_matches('/')))
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl SecretSource for Secrets {
    fn vault(&self, path: &str, key: &str) -> Result<String, String> {
        vault::read(self, path, key)
    }

    fn consul_key(&self, key: &str) -> Result<String, String> {
        consul::get(self, key)
    }

    fn aws_secretsmanager(&self, name: &str, key: Option<&str>) -> Result<String, String> {
        aws::get_secret(
            self.secrets_manager.as_deref(),
            name,
            key.unwrap_or(""),
            false,
        )
    }

    fn aws_secretsmanager_raw(&self, name: &str) -> Result<String, String> {
        aws::get_secret(self.secrets_manager.as_deref(), name, "", true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_takes_only_known_names() {
        let s = Secrets::from_lookup(&|k| match k {
            "VAULT_ADDR" => Some("http://x".into()),
            "VAULT_TOKEN" => Some(String::new()),
            "OTHER" => Some("y".into()),
            _ => None,
        });
        assert_eq!(s.var("VAULT_ADDR"), Some("http://x"));
        assert_eq!(s.var("VAULT_TOKEN"), None);
        assert_eq!(s.var("OTHER"), None);
        assert_eq!(s.home_file(".vault-token"), None);
        let s = Secrets::from_vars([("HOME", "/h/")]);
        assert_eq!(
            s.home_file(".vault-token").as_deref(),
            Some("/h/.vault-token")
        );
        // The AWS variables are the SDK client's business, not read here.
        assert!(!ENV_VARS.iter().any(|k| k.starts_with("AWS_")));
        let e = s.aws_secretsmanager("n", None).unwrap_err();
        assert_eq!(e, NO_CLIENT);
    }

    #[test]
    fn go_bools() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
