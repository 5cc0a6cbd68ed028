//! `shell-local`: runs a command, inline lines or scripts on the machine running forge, as a
//! provisioner and as a post-processor (Packer's SDK shell-local).

mod config;
mod run;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{
    BuildCtx, BuildData, Communicator, PostProcessed, PostProcessor, PrepareInfo, Provisioner,
};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_template::value::Value;

pub use config::Config;

/// The provisioner.
pub struct ShellLocal {
    config: Config,
}

/// The provisioner's factory.
pub fn provisioner_factory(
    v: &Value,
    info: &PrepareInfo,
) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(ShellLocal {
        config: Config::prepare(v, info)?,
    }))
}

/// The post-processor's factory.
pub fn post_processor_factory(
    v: &Value,
    info: &PrepareInfo,
) -> Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(ShellLocal {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for ShellLocal {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        _comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> forge_core::Result<()> {
        run::run(ctx, ui, &self.config, data).await
    }
}

#[async_trait]
impl PostProcessor for ShellLocal {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> forge_core::Result<PostProcessed> {
        let data: BuildData = input
            .state("generated_data")
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        run::run(ctx, ui, &self.config, &data).await?;
        Ok(PostProcessed {
            artifact: Some(input),
            keep: true,
            force_override: true,
        })
    }
}
