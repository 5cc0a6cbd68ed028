//! The client of the `aws_secretsmanager*` template functions: `GetSecretValue` on
//! aws-sdk-secretsmanager, configured as the Amazon plugins' EC2 clients are (aws-config's
//! credential, region and endpoint chains, the rustls/ring HTTP client), and the errors in the
//! form forge has always given them: the service's code first, then the secret and the endpoint.
//!
//! The template functions are synchronous and a template may load inside a runtime, so each
//! call runs on a thread and runtime of its own ([`crate::blocking`]).

use std::sync::{Arc, Mutex};

use aws_sdk_secretsmanager::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, ProvideCredentials, RuntimeComponents};
use aws_sdk_secretsmanager::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::operation::RequestId;
use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use forge_template::secrets::SecretsManager;

use crate::access::Access;
use crate::ec2::one_line;

/// forge's [`SecretsManager`] on the AWS SDK; settings are read afresh on every call, from the
/// process environment and the shared files.
#[derive(Debug, Default)]
pub struct SdkSecretsManager;

impl SecretsManager for SdkSecretsManager {
    fn get_secret_string(&self, name: &str, stage: &str) -> Result<Option<String>, String> {
        let (name, stage) = (name.to_string(), stage.to_string());
        crate::blocking::run("aws_secretsmanager", move || async move {
            get_secret_value(&name, &stage).await
        })
    }
}

/// Reads an environment variable; empty counts as unset.
fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// The access of a secrets lookup: everything from aws-config's chains, plus what the Go SDK
/// reads and the Rust one does not: `AWS_ACCESS_KEY`/`AWS_SECRET_KEY` when the usual key
/// variables are unset, and `AWS_DEFAULT_PROFILE` when `AWS_PROFILE` is.
fn access() -> Access {
    let mut a = Access::default();
    if var("AWS_ACCESS_KEY_ID").is_none() && var("AWS_SECRET_ACCESS_KEY").is_none() {
        if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY"), var("AWS_SECRET_KEY")) {
            a.access_key = id;
            a.secret_key = secret;
            a.token = var("AWS_SESSION_TOKEN").unwrap_or_default();
        }
    }
    if var("AWS_PROFILE").is_none() {
        a.profile = var("AWS_DEFAULT_PROFILE").unwrap_or_default();
    }
    a
}

/// The PEM certificates of `AWS_CA_BUNDLE`, trusted instead of the system's roots.
fn ca_bundle() -> Result<Option<TlsContext>, String> {
    let Some(path) = var("AWS_CA_BUNDLE") else {
        return Ok(None);
    };
    let what = format!("reading CA certificates from {path} (AWS_CA_BUNDLE)");
    let pem = std::fs::read(&path).map_err(|e| format!("{what}: {e}"))?;
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
        .build()
        .map(Some)
        .map_err(|e| format!("{what}: {e}"))
}

/// Remembers the URL of the last request sent, for the error messages.
#[derive(Debug, Default, Clone)]
struct LastUrl(Arc<Mutex<Option<String>>>);

impl LastUrl {
    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|u| u.clone())
    }
}

impl Intercept for LastUrl {
    fn name(&self) -> &'static str {
        "forge-last-url"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The JSON protocol posts to the endpoint's root: named as configured, without the "/".
        let uri = context.request().uri();
        let url = uri.strip_suffix('/').unwrap_or(uri).to_string();
        if let Ok(mut u) = self.0.lock() {
            *u = Some(url);
        }
        Ok(())
    }
}

/// The shared credentials and config files the chain read, for the error when it found no
/// credentials.
fn profile_files(profile: &str) -> String {
    let home = var("HOME").map(|h| h.trim_end_matches('/').to_string());
    let file = |env: &str, rel: &str| {
        var(env)
            .or_else(|| home.as_ref().map(|h| format!("{h}/{rel}")))
            .unwrap_or_else(|| format!("~/{rel}"))
    };
    let profile = var("AWS_PROFILE").unwrap_or_else(|| {
        if profile.is_empty() {
            "default".to_string()
        } else {
            profile.to_string()
        }
    });
    format!(
        "shared credentials file {}, shared config file {} (profile {profile:?})",
        file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
        file("AWS_CONFIG_FILE", ".aws/config"),
    )
}

/// `GetSecretValue` of `name` at `stage`: the secret string, `None` for a binary secret.
async fn get_secret_value(name: &str, stage: &str) -> Result<Option<String>, String> {
    let a = access();
    let conf = a
        .sdk_config_with(None, crate::access::https_client(ca_bundle()?))
        .await;
    if conf.region().is_none() {
        return Err(format!(
            "MissingRegion: could not find region configuration for secret {name:?}: set \
             AWS_REGION or AWS_DEFAULT_REGION, or region in the profile of the {}",
            profile_files(&a.profile)
        ));
    }
    // The chain is asked first, so that its failure reads as such, not as a failed request.
    let creds = match conf.credentials_provider() {
        Some(p) => p
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| one_line(&e)),
        None => Err("no credential provider is configured".to_string()),
    };
    if let Err(why) = creds {
        return Err(format!(
            "NoCredentialProviders: no valid providers in chain for secret {name:?}: {why}; \
             looked at AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the {}, and the SDK's \
             other sources",
            profile_files(&a.profile)
        ));
    }
    let last_url = LastUrl::default();
    let sm = aws_sdk_secretsmanager::config::Builder::from(&conf)
        .interceptor(last_url.clone())
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(sm);
    let out = client
        .get_secret_value()
        .secret_id(name)
        .version_stage(stage)
        .send()
        .await;
    out.map(|v| v.secret_string)
        .map_err(|e| describe(name, &last_url, &e))
}

/// The text of the first `<tag>...</tag>` in an XML body (some front ends answer errors of
/// JSON services in XML: `<Code>`, `<Message>`).
fn xml_element(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body.get(start..)?.find(&close)?;
    Some(body.get(start..start + len)?.trim().to_string())
}

/// A failed call as forge words it: `Code: message (secret "name", POST url, status code: N,
/// request id: R)` for an answer, `RequestError: send request failed ...` when none came.
fn describe(
    name: &str,
    last_url: &LastUrl,
    e: &SdkError<GetSecretValueError, aws_sdk_secretsmanager::config::http::HttpResponse>,
) -> String {
    let url = last_url.get().unwrap_or_else(|| "the endpoint".to_string());
    let Some(resp) = e.raw_response() else {
        return format!(
            "RequestError: send request failed for secret {name:?}, caused by: Post {url:?}: {}",
            one_line(e)
        );
    };
    let body = resp
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let service = e.as_service_error();
    let code = service
        .and_then(|s| s.code())
        .map(str::to_string)
        .or_else(|| xml_element(&body, "Code"))
        .unwrap_or_else(|| "UnknownError".to_string());
    let message = service
        .and_then(|s| s.message())
        .map(str::to_string)
        .or_else(|| xml_element(&body, "Message"))
        .unwrap_or_else(|| body.trim().chars().take(300).collect());
    let request_id = e
        .request_id()
        .or_else(|| service.and_then(|s| s.request_id()))
        .unwrap_or("none");
    format!(
        "{code}: {message} (secret {name:?}, POST {url}, status code: {}, request id: {request_id})",
        resp.status().as_u16()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
