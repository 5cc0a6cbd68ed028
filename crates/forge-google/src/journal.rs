//! Compute Engine resources in the run's journal: each is recorded (project, zone, name and
//! endpoint, never a secret) before the call that creates it, and marked deleted when cleanup
//! removes it. Names are chosen before creation, so a record always says what to remove. The
//! [`GceReclaimer`] removes what a dead run left, with the credentials of the build's
//! configuration as `forge cleanup` evaluates it again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::registry::{decode, Origin, ReclaimError, Reclaimer};
use forge_core::Result;
use forge_template::schema::plugins::GooglecomputeBuilder;
use forge_template::value::Value;
use serde_json::json;

use crate::builder::Auth;
use crate::compute::{wait_op, Compute, SdkCompute};

/// An instance.
pub const INSTANCE: &str = "gce-instance";
/// A disk.
pub const DISK: &str = "gce-disk";
/// An image.
pub const IMAGE: &str = "gce-image";
/// A public key in an OS Login profile (its id: the fingerprint).
pub const OSLOGIN_KEY: &str = "gce-oslogin-key";

/// OS Login's fingerprint of an authorized_keys line: the SHA-256 of the line, in hex.
pub fn key_fingerprint(key: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, key.trim().as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records that the key `fingerprint` is about to be imported into `account`'s OS Login
/// profile at `endpoint`.
pub fn intend_oslogin_key(
    ctx: &BuildCtx,
    endpoint: &str,
    account: &str,
    fingerprint: &str,
) -> Result<Resource> {
    let data = json!({"run": ctx.run_id, "account": account, "endpoint": endpoint});
    let mut r = ctx.journal.intend(&ctx.name, OSLOGIN_KEY, "", data)?;
    forge_core::journal::created(ctx, &mut r, fingerprint);
    Ok(r)
}

/// How long cleanup waits for each deletion.
pub const DELETE_WAIT: Duration = Duration::from_secs(600);

/// Records that a `kind` named `name` is about to be created in `project` (`zone`: empty for
/// global resources).
pub fn intend(
    ctx: &BuildCtx,
    endpoint: &str,
    kind: &str,
    project: &str,
    zone: &str,
    name: &str,
) -> Result<Resource> {
    let data = json!({"run": ctx.run_id, "project": project, "zone": zone, "name": name,
        "endpoint": endpoint});
    let mut r = ctx.journal.intend(&ctx.name, kind, "", data)?;
    forge_core::journal::created(ctx, &mut r, name);
    Ok(r)
}

pub use forge_core::journal::{gone, to_clean_up};

/// Deletes `kind` `name` and waits until it is gone; what is already gone is no error.
pub async fn delete(
    compute: &dyn Compute,
    kind: &str,
    project: &str,
    zone: &str,
    name: &str,
) -> std::result::Result<(), String> {
    let (started, what) = match kind {
        INSTANCE => (
            compute.delete_instance(project, zone, name).await,
            format!("instance {name} to be deleted"),
        ),
        DISK => (
            compute.delete_disk(project, zone, name).await,
            format!("disk {name} to be deleted"),
        ),
        IMAGE => (
            compute.delete_image(project, name).await,
            format!("image {name} to be deleted"),
        ),
        k => return Err(format!("no reclaimer for {k}")),
    };
    match started {
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.to_string()),
        Ok(op) => wait_op(compute, project, op, DELETE_WAIT, &what, None)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// How a googlecompute build's configuration authenticates.
pub fn auth_of(config: &Value) -> std::result::Result<Auth, String> {
    let a: GooglecomputeBuilder = decode(config).map_err(|e| e.join("; "))?;
    Auth::of(&a).map(|(auth, _)| auth)
}

/// Removes Compute Engine resources dead runs left.
pub struct GceReclaimer;

#[async_trait]
impl Reclaimer for GceReclaimer {
    fn kinds(&self) -> &'static [&'static str] {
        &[INSTANCE, DISK, IMAGE, OSLOGIN_KEY]
    }

    fn secrets(&self, config: &Value) -> Vec<String> {
        auth_of(config).map(|a| a.secrets()).unwrap_or_default()
    }

    async fn reclaim(
        &self,
        r: &Resource,
        origin: &Origin,
    ) -> std::result::Result<(), ReclaimError> {
        let hint = "give the build's account_file, credentials_file, credentials_json or access_token (or GOOGLE_APPLICATION_CREDENTIALS)";
        let config = origin
            .config
            .as_ref()
            .filter(|_| origin.builder_type == "googlecompute");
        // The build's own settings; else the application default credentials.
        let auth = match config.map(auth_of) {
            Some(Ok(a)) if a.source.is_some() => a,
            Some(Err(e)) => {
                return Err(ReclaimError::Failed(format!(
                    "the configuration of build {}: {e}",
                    origin.build
                )))
            }
            _ => Auth {
                source: crate::builder::credentials("", "", "", "").ok().flatten(),
                ..Auth::default()
            },
        };
        let tokens = match auth.tokens() {
            Ok(t) => Arc::new(t),
            Err(_) => {
                return Err(ReclaimError::NoCredentials {
                    reason: "no Google credentials are known for this run".into(),
                    hint: hint.into(),
                })
            }
        };
        let d = &r.data;
        let get = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        let (project, zone, endpoint) = (get("project"), get("zone"), get("endpoint"));
        let name = if r.id.is_empty() {
            get("name")
        } else {
            r.id.clone()
        };
        if r.kind == OSLOGIN_KEY {
            let oslogin = crate::oslogin::OsLogin::new(
                &endpoint,
                tokens,
                crate::limiter::for_project(&get("account")),
            );
            return oslogin
                .delete(&get("account"), &name)
                .await
                .map_err(ReclaimError::Failed);
        }
        let compute = SdkCompute::connect(&endpoint, tokens, crate::limiter::for_project(&project))
            .await
            .map_err(ReclaimError::Failed)?;
        Ok(delete(&compute, &r.kind, &project, &zone, &name).await?)
    }
}
