//! The `docker` builder: starts a container from an image, provisions it through the docker
//! communicator (or ssh), then commits it to an image, exports its filesystem, or discards it.
//! The container is always removed at the end, also after errors and interrupts.

mod artifact;
mod config;
mod step_build;
mod step_commit;
mod step_connect;
mod step_export;
mod step_pull;
mod step_run;
mod step_temp_dir;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{hook_data, ProvisionState, StepProvision};
use forge_core::local::TempPath;
use forge_core::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::Result;
use forge_template::value::Value;

use crate::driver::{Driver, Engine};

pub use artifact::{ExportArtifact, ImportArtifact};
pub use config::{
    parse_run_command, run_spec, BuildConfig, Config, Output, CHANGE_INSTRUCTIONS,
    DEFAULT_RUN_COMMAND,
};

/// Packer's builder id for `docker`.
pub const BUILDER_ID: &str = "packer.docker";
/// The builder id of a committed image (Packer reuses the docker-import post-processor's).
pub const IMPORT_BUILDER_ID: &str = "packer.post-processor.docker-import";

/// The builder.
pub struct DockerBuilder {
    config: Config,
    info: PrepareInfo,
    driver: Option<Arc<dyn Driver>>,
}

impl DockerBuilder {
    /// A builder over a given driver (tests use a fake or a shared engine).
    pub fn with_driver(config: Config, info: PrepareInfo, driver: Arc<dyn Driver>) -> Self {
        DockerBuilder {
            config,
            info,
            driver: Some(driver),
        }
    }
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    let config = Config::prepare(v, info)?;
    Ok(Box::new(DockerBuilder {
        config,
        info: info.clone(),
        driver: None,
    }))
}

/// What the steps share.
pub struct State {
    /// The engine.
    pub driver: Arc<dyn Driver>,
    /// The configuration.
    pub config: Config,
    /// The temporary directory bound into the container.
    pub temp_dir: Option<TempPath>,
    /// The container's id, once running.
    pub container_id: Option<String>,
    /// The container's IP address.
    pub container_ip: String,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// The committed image's id.
    pub image_id: Option<String>,
    /// Generated data (`ImageSha256`, `SourceImageSha256`, `SourceImageDigest`).
    pub generated: BuildData,
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        hook_data(ctx, self.container_id.as_deref(), None, &self.generated)
    }
}

fn default_generated() -> BuildData {
    [
        ("ImageSha256", "ERR_IMAGE_SHA256_NOT_FOUND"),
        ("SourceImageDigest", "ERR_SOURCE_IMAGE_DIGEST_NOT_FOUND"),
        ("SourceImageSha256", "ERR_SOURCE_IMAGE_SHA256_NOT_FOUND"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[async_trait]
impl Builder for DockerBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let driver = match &self.driver {
            Some(d) => d.clone(),
            None => Arc::new(
                Engine::connect()
                    .await
                    .map_err(|e| e.context("docker builder"))?,
            ) as Arc<dyn Driver>,
        };
        let c = &self.config;
        let mut state = State {
            driver: driver.clone(),
            config: c.clone(),
            temp_dir: None,
            container_id: None,
            container_ip: String::new(),
            comm: None,
            image_id: None,
            generated: default_generated(),
        };
        let mut steps: Vec<Box<dyn Step<State>>> = vec![Box::new(step_temp_dir::StepTempDir)];
        if let Some(b) = &c.build {
            steps.push(Box::new(step_build::StepBuild {
                build: b.clone(),
                built: None,
            }));
        }
        if c.pull {
            steps.push(Box::new(step_pull::StepPull));
        }
        steps.push(Box::new(step_run::StepRun::default()));
        steps.push(step_connect::step(c, &self.info));
        steps.push(Box::new(StepProvision { hook }));
        match &c.output {
            Output::Commit => steps.push(Box::new(step_commit::StepCommit)),
            Output::Export(_) => steps.push(Box::new(step_export::StepExport)),
            Output::Discard => {}
        }
        run_steps(ctx, &mut state, &mut steps).await?;
        Ok(match &c.output {
            Output::Commit => state.image_id.clone().map(|id| {
                Arc::new(ImportArtifact {
                    id,
                    driver,
                    generated: state.generated.clone(),
                }) as Arc<dyn Artifact>
            }),
            // Packer returns an export artifact with an empty path for a discarded container,
            // and lists it among the build's artifacts.
            Output::Export(_) | Output::Discard => Some(Arc::new(ExportArtifact {
                path: match &c.output {
                    Output::Export(p) => p.clone(),
                    _ => String::new(),
                },
                generated: state.generated.clone(),
            })),
        })
    }
}
