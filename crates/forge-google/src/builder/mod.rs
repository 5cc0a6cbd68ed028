//! The `googlecompute` builder: creates an instance from a source image, provisions it over
//! SSH, deletes it keeping its boot disk, makes an image of the disk and deletes the disk.
//! Steps and cleanup order follow Packer's builder/googlecompute/builder.go; every resource is
//! labelled with the run's id and journaled before it is created.

mod artifact;
mod config;
mod step_check_existing_image;
mod step_create_image;
mod step_create_instance;
mod step_create_windows_password;
mod step_import_oslogin_key;
mod step_instance_info;
mod step_start_tunnel;
mod step_teardown_instance;
mod step_wait_startup_script;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{
    hook_data, ProvisionState, StepCleanupTempKeys, StepConnect, StepProvision, StepTempKey,
    TempKeyState,
};
use forge_core::journal::Resource;
use forge_core::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo, TempKey};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Outcome, Step};
use forge_core::{Error, Result};
use forge_template::value::Value;
use serde_json::Value as Json;

use crate::compute::{wait_op, Compute, Operation, SdkCompute, RUN_LABEL};

pub use artifact::ImageArtifact;
pub use config::{
    credentials, unsupported, valid_image_name, well_known_adc_file, Auth, Config, Endpoints,
};
pub use step_create_instance::{instance_body, metadata_items, STARTUP_WRAPPER};

/// Packer's builder id for googlecompute.
pub const BUILDER_ID: &str = "packer.googlecompute";

/// The builder.
pub struct GceBuilder {
    config: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    Ok(Box::new(GceBuilder {
        config: Config::prepare(v, info)?,
        info: info.clone(),
    }))
}

/// What the steps share.
pub struct State {
    /// The configuration.
    pub config: Arc<Config>,
    /// Compute Engine.
    pub compute: Arc<dyn Compute>,
    /// The temporary SSH key, when forge made one.
    pub temp_key: Option<TempKey>,
    /// The source image.
    pub source_image: Option<Json>,
    /// The instance, while it exists.
    pub instance: Option<Resource>,
    /// The boot disk, while it exists.
    pub disk: Option<Resource>,
    /// The address to connect to.
    pub ip: String,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// The image made.
    pub image: Option<Json>,
    /// The password the Windows guest agent set (over WinRM without `winrm_password`).
    pub winrm_password: Option<String>,
    /// The OS Login API (with `use_os_login`).
    pub oslogin: Option<Arc<crate::oslogin::OsLogin>>,
    /// The build's tokens (gcloud's, for the IAP tunnel).
    pub tokens: Option<Arc<crate::auth::TokenSource>>,
    /// The local port of the IAP tunnel, while it runs.
    pub tunnel_port: Option<u16>,
    /// Generated data (`SourceImageName`).
    pub generated: BuildData,
}

impl State {
    /// The state of a build with configuration `config`, before its first step.
    pub fn new(config: Arc<Config>, compute: Arc<dyn Compute>) -> State {
        State {
            config,
            compute,
            temp_key: None,
            source_image: None,
            instance: None,
            disk: None,
            ip: String::new(),
            comm: None,
            image: None,
            winrm_password: None,
            oslogin: None,
            tokens: None,
            tunnel_port: None,
            generated: BuildData::new(),
        }
    }

    /// Labels for a resource forge creates: the user's, plus the run's id.
    pub fn labelled(ctx: &BuildCtx, user: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut l = user.clone();
        l.insert(RUN_LABEL.into(), ctx.run_id.to_ascii_lowercase());
        l
    }
}

impl State {
    /// Waits (within `state_timeout`) until `op` in `project` is done, `what` naming what it
    /// waits for; an error is `failed: <error>`, an interrupt stays one.
    pub async fn wait(
        &self,
        ctx: &BuildCtx,
        project: &str,
        op: Operation,
        what: &str,
        failed: &str,
    ) -> Result<()> {
        wait_op(
            self.compute.as_ref(),
            project,
            op,
            self.config.state_timeout,
            what,
            Some(&ctx.cancel),
        )
        .await
        .map_err(|e| match e {
            Error::Cancelled => e,
            e => Error::msg(format!("{failed}: {e}")),
        })
    }
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        hook_data(ctx, Some(&self.config.instance_name), None, &self.generated)
    }
}

impl TempKeyState for State {
    fn temp_key_slot(&mut self) -> &mut Option<TempKey> {
        &mut self.temp_key
    }
}

/// StepConnect with the communicator settings of the build's configuration as they are when
/// it runs (OS Login names the SSH user only then).
struct StepConnectAsConfigured(StepConnect<State>);

#[async_trait]
impl Step<State> for StepConnectAsConfigured {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        self.0.comm = st.config.comm.clone();
        self.0.run(ctx, st).await
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        self.0.cleanup(ctx, st, o).await
    }
}

fn connect_step(c: &Config, info: &PrepareInfo) -> Box<dyn Step<State>> {
    Box::new(StepConnectAsConfigured(
        StepConnect::new(
            c.comm.clone(),
            info.clone(),
            |st: &State| {
                if let Some(p) = st.tunnel_port {
                    return Ok(("localhost".to_string(), p));
                }
                let host = match st.config.comm.host() {
                    Some(h) => h.to_string(),
                    None if st.ip.is_empty() => {
                        return Err(Error::msg(format!(
                            "instance {} has no address to connect to",
                            st.config.instance_name
                        )))
                    }
                    None => st.ip.clone(),
                };
                Ok((host, st.config.comm.port().unwrap_or(22)))
            },
            |s: &mut State, comm| s.comm = Some(comm),
            |s: &State| s.temp_key.clone(),
        )
        .with_password(|s: &State| s.winrm_password.clone()),
    ))
}

/// The steps of a build, in Packer's order.
pub fn steps(
    c: &Arc<Config>,
    info: &PrepareInfo,
    hook: Arc<dyn Hook>,
) -> Vec<Box<dyn Step<State>>> {
    let mut steps: Vec<Box<dyn Step<State>>> =
        vec![Box::new(step_check_existing_image::StepCheckExistingImage)];
    if let Some(k) = StepTempKey::wanted(&c.comm, info) {
        steps.push(Box::new(k));
    }
    steps.push(Box::new(step_import_oslogin_key::StepImportOsLoginKey {
        record: None,
    }));
    steps.push(Box::new(step_create_instance::StepCreateInstance));
    steps.push(Box::new(
        step_create_windows_password::StepCreateWindowsPassword {
            poll: step_create_windows_password::POLL,
        },
    ));
    steps.push(Box::new(step_instance_info::StepInstanceInfo));
    steps.push(Box::new(step_start_tunnel::StepStartTunnel {
        tunnel: None,
        files: Vec::new(),
    }));
    if !c.comm.is_none() {
        steps.push(connect_step(c, info));
    }
    steps.push(Box::new(StepProvision { hook }));
    steps.push(Box::new(StepCleanupTempKeys {
        clear: c.comm.ssh().is_some_and(|s| s.clear_authorized_keys),
    }));
    if !c.startup_script_file.is_empty() {
        steps.push(Box::new(step_wait_startup_script::StepWaitStartupScript));
    }
    steps.push(Box::new(step_teardown_instance::StepTeardownInstance));
    if !c.skip_create_image {
        steps.push(Box::new(step_create_image::StepCreateImage {
            record: None,
        }));
    }
    steps
}

#[async_trait]
impl Builder for GceBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = Arc::new(self.config.clone());
        for s in c.secrets() {
            ctx.ui.output().redactor().add(&s);
        }
        if !c.unsupported.is_empty() {
            return Err(Error::msg(c.unsupported.join("; ")));
        }
        let mut tokens = c.auth.tokens().map_err(Error::msg)?;
        let redactor = ctx.ui.output().redactor().clone();
        tokens.on_token = Some(Arc::new(move |t: &str| redactor.add(t)));
        let tokens = Arc::new(tokens);
        let compute = SdkCompute::connect(
            &c.endpoint,
            tokens.clone(),
            crate::limiter::for_project(&c.project_id),
        )
        .await
        .map_err(Error::msg)?;
        let compute: Arc<dyn Compute> = Arc::new(compute);
        let mut state = State::new(c.clone(), compute.clone());
        state.tokens = Some(tokens.clone());
        if c.use_os_login == Some(true) {
            state.oslogin = Some(Arc::new(crate::oslogin::OsLogin::new(
                &c.auth.endpoints.oslogin,
                tokens.clone(),
                crate::limiter::for_project(&c.project_id),
            )));
        }
        let mut steps = steps(&c, &self.info, hook);
        run_steps(ctx, &mut state, &mut steps).await?;
        let Some(image) = state.image.clone() else {
            return Ok(None);
        };
        Ok(Some(Arc::new(ImageArtifact {
            name: c.image_name.clone(),
            project: c.image_project_id.clone(),
            size_gb: image["diskSizeGb"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| image["diskSizeGb"].as_i64())
                .unwrap_or(c.disk_size),
            zone: c.zone.clone(),
            labels: c.image_labels.clone(),
            compute,
            generated: state.generated.clone(),
        })))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A configuration with the required settings, an access token, ssh as the test user and
    /// `extra`.
    pub fn config(extra: serde_json::Value) -> Config {
        let mut v = json!({"project_id": "p", "zone": "us-central1-a",
            "source_image_family": "debian-12", "access_token": "ya29.test",
            "ssh_username": "forgetest", "image_name": "forge-test-image"});
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        Config::prepare(
            &forge_core::testing::value(v),
            &forge_core::testing::info("googlecompute"),
        )
        .unwrap()
    }

    fn errors(v: serde_json::Value) -> Vec<String> {
        Config::prepare(
            &forge_core::testing::value(v),
            &forge_core::testing::info("googlecompute"),
        )
        .err()
        .unwrap_or_default()
    }

    #[test]
    fn packers_defaults_apply() {
        let c = config(json!({}));
        assert_eq!(c.machine_type, "e2-standard-2");
        assert_eq!((c.disk_size, c.disk_type.as_str()), (20, "pd-standard"));
        assert_eq!(c.disk_name, c.instance_name);
        assert!(c.instance_name.starts_with("packer-"));
        assert_eq!(c.network, "default");
        assert_eq!(c.region, "us-central1");
        assert_eq!(c.image_description, "Created by Packer");
        assert_eq!(c.on_host_maintenance, "MIGRATE");
        assert_eq!(c.state_timeout, std::time::Duration::from_secs(300));
        assert_eq!(c.scopes.len(), 3);
        assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    }

    #[test]
    fn missing_settings_and_bad_names_are_reported_together() {
        let e = errors(json!({"image_name": "Bad_Name"}));
        assert_eq!(e[0], "a project_id must be specified");
        assert_eq!(
            e[1],
            "a source_image or source_image_family must be specified"
        );
        assert_eq!(e[2], "a zone must be specified");
        assert!(
            e[3].starts_with("Invalid image name \"Bad_Name\": The first character"),
            "{e:?}"
        );
    }

    #[test]
    fn accelerators_keys_and_affinities_are_checked() {
        let e = errors(
            json!({"project_id": "p", "zone": "z-a", "source_image": "i",
            "access_token": "t", "ssh_username": "u", "accelerator_count": 1,
            "disk_encryption_key": {"rawKey": "c2hvcnQ="},
            "image_encryption_key": {"kmsKeyName": "k", "rawKey": "x"},
            "node_affinity": [{"key": "", "operator": "MAYBE", "values": ["a"]}]}),
        );
        assert_eq!(
            e,
            [
                "'accelerator_type' must be set when 'accelerator_count' is more than 0",
                "'on_host_maintenance' must be set to 'TERMINATE' when 'accelerator_count' is more than 0",
                "disk_encryption_key: rawKey must be a 256-bit key in base64 (RFC 4648)",
                "image_encryption_key: kmsKeyName and rawKey are mutually exclusive: set one",
                "node_affinity[0]: operator must be IN or NOT_IN, not \"MAYBE\"",
                "node_affinity[0]: a key must be specified",
            ]
        );
        let raw = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let c = config(json!({"disk_encryption_key": {"rawKey": raw}}));
        assert!(c.secrets().iter().any(|s| s == raw));
    }

    #[test]
    fn settings_not_carried_out_are_refused_by_name() {
        let c = config(json!({"use_iap": true, "accelerator_count": 1,
            "accelerator_type": "nvidia-tesla-t4", "on_host_maintenance": "TERMINATE"}));
        assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
        let c = config(json!({"iap_ext": ".cmd", "address": "a"}));
        assert_eq!(
            c.unsupported,
            [
                "address: not supported yet by forge's googlecompute builder",
                "iap_ext: not supported yet by forge's googlecompute builder",
            ]
        );
    }
}
