//! The access configuration every Amazon plugin shares (Packer's AccessConfig): region,
//! credentials (static keys, a profile, the standard chain, assume_role) and a custom EC2
//! endpoint, turned into an EC2 client behind the shared rate limiter.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::{Credentials, ProvideCredentials, SharedHttpClient};
use aws_smithy_http_client::tls::TlsContext;
use forge_template::schema::plugins::AssumeRoleConfig;
use forge_template::schema::ConfigStruct;
use forge_template::value::Value;

use crate::ec2::{one_line, Ec2, SdkEc2};
use crate::limiter;

/// Where credentials come from when a configuration names none: what `forge cleanup` tells a
/// user who has neither the template nor credentials at hand.
pub const CREDENTIALS_HINT: &str =
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)";

forge_template::plugin_config! {
    /// The access arguments every Amazon plugin shares, read alone from any of their
    /// configurations.
    pub struct AccessFields {
        /// `access_key`.
        access_key: Option<String>,
        /// `secret_key`.
        secret_key: Option<String>,
        /// `token`: the session token of temporary credentials.
        token: Option<String>,
        /// `profile` in the shared credentials file.
        profile: Option<String>,
        /// `shared_credentials_file`.
        shared_credentials_file: Option<String>,
        /// `region`.
        region: Option<String>,
        /// `custom_endpoint_ec2`.
        custom_endpoint_ec2: Option<String>,
        /// `assume_role { ... }`.
        assume_role: Option<AssumeRoleConfig>,
        /// `skip_region_validation`.
        skip_region_validation: Option<bool>,
        /// `max_retries` of each API call.
        max_retries: Option<i64>,
    }
}

/// Where and as whom to call EC2.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `region` (or `AWS_REGION`/`AWS_DEFAULT_REGION`).
    pub region: String,
    /// `access_key`.
    pub access_key: String,
    /// `secret_key` (sensitive).
    pub secret_key: String,
    /// `token` (sensitive).
    pub token: String,
    /// `profile`.
    pub profile: String,
    /// `shared_credentials_file`.
    pub shared_credentials_file: String,
    /// `custom_endpoint_ec2`.
    pub endpoint: String,
    /// `assume_role { role_arn ... }`.
    pub assume_role: Option<AssumeRoleConfig>,
    /// `skip_region_validation`.
    pub skip_region_validation: bool,
    /// `max_retries` (0: forge's default).
    pub max_retries: u32,
    /// The clients made so far, by region: one SDK configuration (credentials, profile files,
    /// connection pool) per region, shared by every step and clone of this access.
    clients: Clients,
}

/// forge's HTTPS client for the SDK: rustls on ring, which the rest of forge uses (not the
/// SDK's default aws-lc), with the system's roots unless `tls` says otherwise.
pub(crate) fn https_client(tls: Option<TlsContext>) -> SharedHttpClient {
    let b = aws_smithy_http_client::Builder::new().tls_provider(
        aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ),
    );
    match tls {
        Some(tls) => b.tls_context(tls).build_https(),
        None => b.build_https(),
    }
}

/// Clients by region.
#[derive(Clone, Default)]
struct Clients(Arc<tokio::sync::Mutex<std::collections::HashMap<String, Arc<dyn Ec2>>>>);

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

/// The access fields of a plugin's configuration, as written.
pub struct AccessArgs<'a> {
    /// `access_key`.
    pub access_key: &'a Option<String>,
    /// `secret_key`.
    pub secret_key: &'a Option<String>,
    /// `token`.
    pub token: &'a Option<String>,
    /// `profile`.
    pub profile: &'a Option<String>,
    /// `shared_credentials_file`.
    pub shared_credentials_file: &'a Option<String>,
    /// `region`.
    pub region: &'a Option<String>,
    /// `custom_endpoint_ec2`.
    pub custom_endpoint_ec2: &'a Option<String>,
    /// `assume_role`.
    pub assume_role: &'a Option<AssumeRoleConfig>,
    /// `skip_region_validation`.
    pub skip_region_validation: &'a Option<bool>,
    /// `max_retries`.
    pub max_retries: &'a Option<i64>,
}

/// Expands to an [`AccessArgs`] borrowing the access fields of a decoded configuration.
#[macro_export]
macro_rules! access_args {
    ($c:expr) => {
        $crate::access::AccessArgs {
            access_key: &$c.access_key,
            secret_key: &$c.secret_key,
            token: &$c.token,
            profile: &$c.profile,
            shared_credentials_file: &$c.shared_credentials_file,
            region: &$c.region,
            custom_endpoint_ec2: &$c.custom_endpoint_ec2,
            assume_role: &$c.assume_role,
            skip_region_validation: &$c.skip_region_validation,
            max_retries: &$c.max_retries,
        }
    };
}

fn s(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

impl Access {
    /// Packer's checks: a region is required (from the config or the environment), and keys
    /// come in pairs.
    pub fn prepare(a: AccessArgs<'_>, errs: &mut Vec<String>) -> Access {
        let mut region = s(a.region);
        if region.is_empty() {
            region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_default();
        }
        if region.is_empty() {
            errs.push("region is required (set `region`, or AWS_REGION in the environment)".into());
        }
        let (ak, sk) = (s(a.access_key), s(a.secret_key));
        if ak.is_empty() != sk.is_empty() {
            errs.push("access_key and secret_key must be set together".into());
        }
        if let Some(r) = a.assume_role {
            if r.role_arn.as_deref().unwrap_or("").is_empty() {
                errs.push("assume_role: role_arn is required".into());
            }
        }
        Access {
            region,
            access_key: ak,
            secret_key: sk,
            token: s(a.token),
            profile: s(a.profile),
            shared_credentials_file: s(a.shared_credentials_file),
            endpoint: s(a.custom_endpoint_ec2),
            assume_role: a.assume_role.clone(),
            skip_region_validation: a.skip_region_validation.unwrap_or(false),
            max_retries: a.max_retries.unwrap_or(0).max(0) as u32,
            clients: Clients::default(),
        }
    }

    /// The secrets to mask in every output.
    pub fn secrets(&self) -> Vec<String> {
        [&self.secret_key, &self.token]
            .into_iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect()
    }

    /// Where a resource is, for `forge cleanup`: never a secret (cleanup gets the credentials
    /// from the build's configuration, evaluated again, or else from the standard chain).
    pub fn journal_data(&self, region: &str) -> serde_json::Value {
        serde_json::json!({
            "region": region,
            "endpoint": self.endpoint,
            "profile": self.profile,
            "shared_credentials_file": self.shared_credentials_file,
        })
    }

    /// The access [`journal_data`](Access::journal_data) describes, credentials from the
    /// recorded profile or the standard chain.
    pub fn from_journal(d: &serde_json::Value) -> Access {
        let g = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        Access {
            region: g("region"),
            endpoint: g("endpoint"),
            profile: g("profile"),
            shared_credentials_file: g("shared_credentials_file"),
            skip_region_validation: true,
            ..Access::default()
        }
    }

    /// The access an Amazon plugin's evaluated configuration describes: only its access
    /// arguments are read, so any Amazon builder's or post-processor's configuration will do.
    /// A missing region is left to the caller (cleanup takes it from the journal).
    pub fn from_config(v: &Value) -> Result<Access, String> {
        let names: Vec<String> = AccessFields::schema()
            .fields
            .into_iter()
            .map(|f| f.name)
            .collect();
        let fields = v
            .as_entries()
            .into_iter()
            .flatten()
            .filter(|(k, _)| names.contains(k))
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect();
        let a: AccessFields = forge_template::schema::decode(&Value::object(fields))?;
        let mut errs = Vec::new();
        let access = Access::prepare(crate::access_args!(a), &mut errs);
        errs.retain(|e| !e.starts_with("region is required"));
        if errs.is_empty() {
            Ok(access)
        } else {
            Err(errs.join("; "))
        }
    }

    /// Resolves the credentials this access would sign with (static keys, the profile, the
    /// standard chain, then assume_role), or says in one line why there are none.
    pub async fn check_credentials(&self) -> Result<(), String> {
        let conf = self.sdk_config(self.region.clone()).await;
        let Some(p) = conf.credentials_provider() else {
            return Err("no credential provider is configured".into());
        };
        match p.provide_credentials().await {
            Ok(_) => Ok(()),
            Err(e) => Err(one_line(&e)),
        }
    }

    /// An EC2 client for `region` (empty: the build region), made once per region.
    pub async fn ec2(&self, region: &str) -> Arc<dyn Ec2> {
        let region = if region.is_empty() {
            self.region.clone()
        } else {
            region.to_string()
        };
        let mut clients = self.clients.0.lock().await;
        if let Some(c) = clients.get(&region) {
            return c.clone();
        }
        let client = self.make_client(region.clone()).await;
        clients.insert(region, client.clone());
        client
    }

    /// Makes `client` this access's EC2 client for `region` (tests: a fake cloud).
    #[cfg(test)]
    pub(crate) async fn use_client(&self, region: &str, client: Arc<dyn Ec2>) {
        self.clients
            .0
            .lock()
            .await
            .insert(region.to_string(), client);
    }

    /// The SDK configuration for `region`: region, HTTP client, timeouts and credentials.
    async fn sdk_config(&self, region: String) -> SdkConfig {
        self.sdk_config_with(Some(region), https_client(None)).await
    }

    /// The SDK configuration on `http`: `region`, else the SDK's region chain (environment,
    /// profile, instance metadata); timeouts; credentials from this access, else the chain.
    pub(crate) async fn sdk_config_with(
        &self,
        region: Option<String>,
        http: SharedHttpClient,
    ) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        loader = loader
            // forge retries itself, through the limiter every build of the process shares.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            );
        if !self.profile.is_empty() {
            loader = loader.profile_name(&self.profile);
        }
        if !self.shared_credentials_file.is_empty() {
            use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
            loader = loader.profile_files(
                EnvConfigFiles::builder()
                    .include_default_config_file(true)
                    .with_file(
                        EnvConfigFileKind::Credentials,
                        &self.shared_credentials_file,
                    )
                    .build(),
            );
        }
        if !self.access_key.is_empty() {
            loader = loader.credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                (!self.token.is_empty()).then(|| self.token.clone()),
                None,
                "forge-template",
            ));
        }
        let mut conf = loader.load().await;
        if let Some(r) = self.assume_role.as_ref().filter(|r| r.role_arn.is_some()) {
            let mut b = aws_config::sts::AssumeRoleProvider::builder(
                r.role_arn.clone().unwrap_or_default(),
            )
            .session_name(
                r.session_name
                    .clone()
                    .unwrap_or_else(|| "forge".to_string()),
            );
            if let Some(x) = &r.external_id {
                b = b.external_id(x);
            }
            if let Some(p) = &r.policy {
                b = b.policy(p);
            }
            if let Some(d) = r.duration_seconds.filter(|d| *d > 0) {
                b = b.session_length(Duration::from_secs(d as u64));
            }
            let provider = b.configure(&conf).build().await;
            conf = conf
                .into_builder()
                .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                    provider,
                ))
                .build();
        }
        conf
    }

    /// A new client for `region`, behind the process's limiter for this account and region.
    async fn make_client(&self, region: String) -> Arc<dyn Ec2> {
        let conf = self.sdk_config(region.clone()).await;
        let mut ec2 = aws_sdk_ec2::config::Builder::from(&conf);
        if !self.endpoint.is_empty() {
            ec2 = ec2.endpoint_url(&self.endpoint);
        }
        let client = aws_sdk_ec2::Client::from_conf(ec2.build());
        let key = format!(
            "{}|{}|{}|{region}",
            if self.access_key.is_empty() {
                &self.profile
            } else {
                &self.access_key
            },
            self.assume_role
                .as_ref()
                .and_then(|r| r.role_arn.clone())
                .unwrap_or_default(),
            self.endpoint
        );
        Arc::new(SdkEc2::new(
            client,
            region,
            limiter::shared(&key),
            self.max_retries,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn obj(kv: &[(&str, Value)]) -> Value {
        Value::object(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[tokio::test]
    async fn the_access_of_any_amazon_configuration_and_its_credentials() {
        let s = |x: &str| Value::string(x);
        let role = obj(&[("role_arn", s("arn:aws:iam::123456789012:role/r"))]);
        let config = obj(&[
            ("access_key", s("AKIAKEY")),
            ("secret_key", s("the-secret").mark_sensitive()),
            ("region", s("eu-west-1")),
            ("custom_endpoint_ec2", s("http://127.0.0.1:1")),
            ("assume_role", Value::list_of(vec![role])),
            // What only the build knows does not matter here.
            (
                "ami_name",
                Value::unknown(forge_template::value::Type::String),
            ),
        ]);
        let a = Access::from_config(&config).unwrap();
        assert_eq!(
            (
                a.access_key.as_str(),
                a.region.as_str(),
                a.endpoint.as_str()
            ),
            ("AKIAKEY", "eu-west-1", "http://127.0.0.1:1")
        );
        assert_eq!(a.secrets(), ["the-secret"]);
        assert_eq!(
            a.assume_role.and_then(|r| r.role_arn).as_deref(),
            Some("arn:aws:iam::123456789012:role/r")
        );
        let half = obj(&[("access_key", s("AKIAKEY"))]);
        assert_eq!(
            Access::from_config(&half).unwrap_err(),
            "access_key and secret_key must be set together"
        );
        // Static keys resolve without a call; a profile that does not exist gives none (the
        // chain's last reason, on one line), the one that does gives its keys.
        let mut keys = Access::from_config(&config).unwrap();
        keys.assume_role = None;
        keys.check_credentials().await.unwrap();
        let dir = std::env::temp_dir().join(format!("forge-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(
            &file,
            "[other]\naws_access_key_id = A\naws_secret_access_key = B\n",
        )
        .unwrap();
        let profile = Access {
            profile: "missing".into(),
            shared_credentials_file: file.display().to_string(),
            region: "us-east-1".into(),
            ..Access::default()
        };
        let e = profile.check_credentials().await.unwrap_err();
        assert!(!e.is_empty() && !e.contains('\n'), "{e}");
        let found = Access {
            profile: "other".into(),
            ..profile
        };
        found.check_credentials().await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
