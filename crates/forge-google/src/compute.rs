//! The Compute Engine calls the builder makes, behind [`Compute`], and their implementation on
//! google-cloud-compute-v1 ([`SdkCompute`]). Requests and answers travel as the API's JSON
//! (the client's model types are (de)serialized at this boundary), so the steps read the
//! fields the REST reference names.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use forge_core::Error;
use google_cloud_compute_v1::client::{Disks, GlobalOperations, Images, Instances, ZoneOperations};
use google_cloud_compute_v1::model;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::auth::TokenSource;
use crate::limiter::Limiter;

/// The label every resource of a run carries, with the run's id.
pub const RUN_LABEL: &str = "forge-run";

/// A failed call: the HTTP status, Google's reason (`notFound`, ...) and message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiError {
    /// HTTP status (0: no answer).
    pub status: u16,
    /// Google's reason or gRPC code name.
    pub reason: String,
    /// The message.
    pub message: String,
    /// Whether the project's rate quota refused the call (429, or 403 `rateLimitExceeded`).
    pub rate_limited: bool,
    /// The answer's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Whether the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    fn from_gax(e: google_cloud_gax::error::Error) -> ApiError {
        let status = e.http_status_code().unwrap_or(0);
        let payload: Value = e
            .http_payload()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let why = payload["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default();
        let rate_limited = status == 429
            || status == 403 && matches!(why, "rateLimitExceeded" | "userRateLimitExceeded");
        let retry_after = e
            .http_headers()
            .and_then(|h| h.get(http::header::RETRY_AFTER))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let (reason, message) = match e.status() {
            Some(s) => (s.code.name().to_string(), s.message.clone()),
            None => {
                // Google's JSON error, when the client kept the payload.
                let p: Value = e
                    .http_payload()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                match p["error"]["message"].as_str() {
                    Some(m) => (
                        p["error"]["errors"][0]["reason"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        m.to_string(),
                    ),
                    None => (String::new(), e.to_string()),
                }
            }
        };
        ApiError {
            status,
            reason,
            message,
            rate_limited,
            retry_after,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            return f.write_str(&self.message);
        }
        write!(f, "googleapi: Error {}: {}", self.status, self.message)?;
        if !self.reason.is_empty() {
            write!(f, ", {}", self.reason)?;
        }
        Ok(())
    }
}

/// A zone or global operation, as last seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Operation {
    /// Its name.
    pub name: String,
    /// Its zone (`None`: global).
    pub zone: Option<String>,
    /// PENDING, RUNNING or DONE.
    pub status: String,
    /// `CODE: message` of its first error, once DONE with errors.
    pub error: Option<(String, String)>,
}

impl Operation {
    /// From the API's JSON.
    pub fn from_json(v: &Value) -> Operation {
        let err = &v["error"]["errors"][0];
        let error = (!err.is_null()).then(|| {
            (
                err["code"].as_str().unwrap_or_default().to_string(),
                err["message"].as_str().unwrap_or_default().to_string(),
            )
        });
        let error = error.or_else(|| {
            v["httpErrorStatusCode"]
                .as_i64()
                .filter(|c| *c >= 400)
                .map(|c| {
                    (
                        c.to_string(),
                        v["httpErrorMessage"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
        });
        Operation {
            name: v["name"].as_str().unwrap_or_default().to_string(),
            zone: v["zone"]
                .as_str()
                .map(|z| z.rsplit('/').next().unwrap_or(z).to_string()),
            status: v["status"].as_str().unwrap_or_default().to_string(),
            error,
        }
    }
}

/// The calls the builder and `forge cleanup` make.
#[async_trait]
pub trait Compute: Send + Sync {
    /// An image, `None` when there is none by that name.
    async fn get_image(&self, project: &str, name: &str) -> Result<Option<Value>, ApiError>;
    /// The newest image of a family.
    async fn image_from_family(
        &self,
        project: &str,
        family: &str,
    ) -> Result<Option<Value>, ApiError>;
    /// Starts making an image.
    async fn insert_image(&self, project: &str, body: Value) -> Result<Operation, ApiError>;
    /// Starts deleting an image.
    async fn delete_image(&self, project: &str, name: &str) -> Result<Operation, ApiError>;
    /// Starts making an instance.
    async fn insert_instance(
        &self,
        project: &str,
        zone: &str,
        body: Value,
    ) -> Result<Operation, ApiError>;
    /// An instance, `None` when there is none.
    async fn get_instance(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError>;
    /// Starts replacing an instance's metadata (`metadata`: the API's `Metadata`, with the
    /// fingerprint of the metadata it replaces).
    async fn set_metadata(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        metadata: Value,
    ) -> Result<Operation, ApiError>;
    /// The contents of serial port `port` from byte `start` on, and where the next read starts.
    async fn serial_port_output(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        port: i32,
        start: i64,
    ) -> Result<(String, i64), ApiError>;
    /// Starts deleting an instance.
    async fn delete_instance(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Operation, ApiError>;
    /// Starts deleting a disk.
    async fn delete_disk(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Operation, ApiError>;
    /// Names of `kind` (`instances`, `disks`; `images` when `zone` is empty) matching `filter`.
    async fn list(
        &self,
        kind: &str,
        project: &str,
        zone: &str,
        filter: &str,
    ) -> Result<Vec<String>, ApiError>;
    /// The operation as it is now.
    async fn get_operation(&self, project: &str, op: &Operation) -> Result<Operation, ApiError>;
    /// The operation once it is done, or as it is after the API's own wait.
    async fn wait_operation(&self, project: &str, op: &Operation) -> Result<Operation, ApiError>;
}

/// Compute Engine through google-cloud-compute-v1, every call through the project's limiter.
pub struct SdkCompute {
    tokens: Arc<TokenSource>,
    instances: Instances,
    images: Images,
    disks: Disks,
    zone_ops: ZoneOperations,
    global_ops: GlobalOperations,
    limiter: Arc<Limiter>,
}

fn json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn model<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError {
        message: format!("the {what} request does not fit the API: {e}"),
        ..ApiError::default()
    })
}

fn op(r: Result<model::Operation, google_cloud_gax::error::Error>) -> Result<Operation, ApiError> {
    r.map(|o| Operation::from_json(&json(&o)))
        .map_err(ApiError::from_gax)
}

fn found<T: serde::Serialize>(
    r: Result<T, google_cloud_gax::error::Error>,
) -> Result<Option<Value>, ApiError> {
    match r {
        Ok(t) => Ok(Some(json(&t))),
        Err(e) => {
            let e = ApiError::from_gax(e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

impl SdkCompute {
    /// Clients for `endpoint` (empty: Google's), authorized by `tokens`.
    pub async fn connect(
        endpoint: &str,
        tokens: Arc<TokenSource>,
        limiter: Arc<Limiter>,
    ) -> Result<SdkCompute, String> {
        let creds = crate::auth::credentials(tokens.clone());
        let ep = endpoint.trim_end_matches('/').to_string();
        macro_rules! client {
            ($t:ty) => {{
                let mut b = <$t>::builder().with_credentials(creds.clone());
                if !ep.is_empty() {
                    b = b.with_endpoint(ep.clone());
                }
                b.build()
                    .await
                    .map_err(|e| format!("making the Compute Engine client: {e}"))?
            }};
        }
        Ok(SdkCompute {
            tokens,
            instances: client!(Instances),
            images: client!(Images),
            disks: client!(Disks),
            zone_ops: client!(ZoneOperations),
            global_ops: client!(GlobalOperations),
            limiter,
        })
    }
}

/// How long calls refused by the rate quota are tried again.
pub const THROTTLE_BUDGET: Duration = Duration::from_secs(300);

/// Makes a call through the limiter. A call refused with 401 is made once more with a new
/// token when one can be fetched (a service account's token expired); one refused by the
/// project's rate quota holds every call of the project (for its `Retry-After`, else a
/// doubling backoff) and is made again, for up to [`THROTTLE_BUDGET`].
macro_rules! call {
    ($self:ident, $e:expr) => {{
        let until = tokio::time::Instant::now() + THROTTLE_BUDGET;
        let mut renewed = false;
        loop {
            $self.limiter.wait().await;
            let r = $e;
            match &r {
                Err(e) if e.status == 401 && !renewed && $self.tokens.invalidate().await => {
                    renewed = true;
                }
                Err(e) if e.rate_limited && tokio::time::Instant::now() < until => {
                    $self.limiter.throttled(e.retry_after);
                }
                _ => {
                    if r.is_ok() {
                        $self.limiter.succeeded();
                    }
                    break r;
                }
            }
        }
    }};
}

#[async_trait]
impl Compute for SdkCompute {
    async fn get_image(&self, project: &str, name: &str) -> Result<Option<Value>, ApiError> {
        call!(
            self,
            found(
                self.images
                    .get()
                    .set_project(project)
                    .set_image(name)
                    .send()
                    .await,
            )
        )
    }
    async fn image_from_family(
        &self,
        project: &str,
        family: &str,
    ) -> Result<Option<Value>, ApiError> {
        call!(
            self,
            found(
                self.images
                    .get_from_family()
                    .set_project(project)
                    .set_family(family)
                    .send()
                    .await,
            )
        )
    }
    async fn insert_image(&self, project: &str, body: Value) -> Result<Operation, ApiError> {
        let b: model::Image = model(body, "image")?;
        call!(
            self,
            op(self
                .images
                .insert()
                .set_project(project)
                .set_body(b.clone())
                .send()
                .await)
        )
    }
    async fn delete_image(&self, project: &str, name: &str) -> Result<Operation, ApiError> {
        call!(
            self,
            op(self
                .images
                .delete()
                .set_project(project)
                .set_image(name)
                .send()
                .await)
        )
    }
    async fn insert_instance(
        &self,
        project: &str,
        zone: &str,
        body: Value,
    ) -> Result<Operation, ApiError> {
        let b: model::Instance = model(body, "instance")?;
        call!(
            self,
            op(self
                .instances
                .insert()
                .set_project(project)
                .set_zone(zone)
                .set_body(b.clone())
                .send()
                .await)
        )
    }
    async fn get_instance(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        call!(
            self,
            found(
                self.instances
                    .get()
                    .set_project(project)
                    .set_zone(zone)
                    .set_instance(name)
                    .send()
                    .await,
            )
        )
    }
    async fn set_metadata(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        metadata: Value,
    ) -> Result<Operation, ApiError> {
        let b: model::Metadata = model(metadata, "metadata")?;
        call!(
            self,
            op(self
                .instances
                .set_metadata()
                .set_project(project)
                .set_zone(zone)
                .set_instance(name)
                .set_body(b.clone())
                .send()
                .await)
        )
    }
    async fn serial_port_output(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        port: i32,
        start: i64,
    ) -> Result<(String, i64), ApiError> {
        call!(
            self,
            self.instances
                .get_serial_port_output()
                .set_project(project)
                .set_zone(zone)
                .set_instance(name)
                .set_port(port)
                .set_start(start)
                .send()
                .await
                .map(|o| (o.contents.unwrap_or_default(), o.next.unwrap_or(start)))
                .map_err(ApiError::from_gax)
        )
    }
    async fn delete_instance(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Operation, ApiError> {
        call!(
            self,
            op(self
                .instances
                .delete()
                .set_project(project)
                .set_zone(zone)
                .set_instance(name)
                .send()
                .await)
        )
    }
    async fn delete_disk(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Operation, ApiError> {
        call!(
            self,
            op(self
                .disks
                .delete()
                .set_project(project)
                .set_zone(zone)
                .set_disk(name)
                .send()
                .await)
        )
    }
    async fn list(
        &self,
        kind: &str,
        project: &str,
        zone: &str,
        filter: &str,
    ) -> Result<Vec<String>, ApiError> {
        let v = call!(self, self.list_json(kind, project, zone, filter).await)?;
        Ok(v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn get_operation(&self, project: &str, o: &Operation) -> Result<Operation, ApiError> {
        self.operation_call(project, o, false).await
    }
    async fn wait_operation(&self, project: &str, o: &Operation) -> Result<Operation, ApiError> {
        self.operation_call(project, o, true).await
    }
}

impl SdkCompute {
    /// A list call's answer, as JSON.
    async fn list_json(
        &self,
        kind: &str,
        project: &str,
        zone: &str,
        filter: &str,
    ) -> Result<Value, ApiError> {
        Ok(match kind {
            "instances" => json(
                &self
                    .instances
                    .list()
                    .set_project(project)
                    .set_zone(zone)
                    .set_filter(filter)
                    .send()
                    .await
                    .map_err(ApiError::from_gax)?,
            ),
            "disks" => json(
                &self
                    .disks
                    .list()
                    .set_project(project)
                    .set_zone(zone)
                    .set_filter(filter)
                    .send()
                    .await
                    .map_err(ApiError::from_gax)?,
            ),
            _ => json(
                &self
                    .images
                    .list()
                    .set_project(project)
                    .set_filter(filter)
                    .send()
                    .await
                    .map_err(ApiError::from_gax)?,
            ),
        })
    }

    /// An operation as it is now (`wait`: after the API's own wait).
    async fn operation_call(
        &self,
        project: &str,
        o: &Operation,
        wait: bool,
    ) -> Result<Operation, ApiError> {
        call!(
            self,
            match (&o.zone, wait) {
                (Some(z), false) => op(self
                    .zone_ops
                    .get()
                    .set_project(project)
                    .set_zone(z)
                    .set_operation(&o.name)
                    .send()
                    .await),
                (Some(z), true) => op(self
                    .zone_ops
                    .wait()
                    .set_project(project)
                    .set_zone(z)
                    .set_operation(&o.name)
                    .send()
                    .await),
                (None, false) => op(self
                    .global_ops
                    .get()
                    .set_project(project)
                    .set_operation(&o.name)
                    .send()
                    .await),
                (None, true) => op(self
                    .global_ops
                    .wait()
                    .set_project(project)
                    .set_operation(&o.name)
                    .send()
                    .await),
            }
        )
    }
}

/// Waits until `op` is DONE with the API's `wait` method (which answers when the operation
/// is done, or after a while), calling it at most once a second, for at most `deadline`.
/// An operation that ends in error is an error: the client's own poller (`until_done`) would
/// return Ok. `what` says what is awaited; `cancel` cuts the wait short.
pub async fn wait_op(
    compute: &dyn Compute,
    project: &str,
    op: Operation,
    deadline: Duration,
    what: &str,
    cancel: Option<&CancellationToken>,
) -> forge_core::Result<()> {
    let start = tokio::time::Instant::now();
    let mut cur = op;
    let mut last_call: Option<tokio::time::Instant> = None;
    loop {
        if cur.status == "DONE" {
            return match cur.error {
                Some((code, msg)) => Err(Error::msg(format!("{code}: {msg}"))),
                None => Ok(()),
            };
        }
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(Error::msg(format!(
                "timed out after {} waiting for {what} (operation {} is {})",
                human(deadline),
                cur.name,
                cur.status
            )));
        }
        // At most one call a second.
        if let Some(t) = last_call {
            let gap = Duration::from_secs(1).saturating_sub(t.elapsed());
            if !gap.is_zero() {
                tokio::time::sleep(gap.min(left)).await;
            }
        }
        last_call = Some(tokio::time::Instant::now());
        let call = tokio::time::timeout(left, compute.wait_operation(project, &cur));
        let r = match cancel {
            Some(c) => tokio::select! {
                r = call => r,
                _ = c.cancelled() => return Err(Error::Cancelled),
            },
            None => call.await,
        };
        cur = match r {
            Ok(r) => r.map_err(|e| Error::msg(format!("waiting for {what}: {e}")))?,
            Err(_) => continue,
        };
    }
}

/// `5 minutes`, `30 seconds`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        let m = s / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else {
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    }
}
