//! The `null` builder: no machine of its own; connects to an existing host (or to nothing, with
//! `communicator = "none"`) and runs the provisioners there.

mod artifact;
mod config;

use std::sync::Arc;

use async_trait::async_trait;
use forge_template::value::Value;

use super::common::{hook_data, ProvisionState, StepConnect, StepProvision};
use crate::artifact::Artifact;
use crate::comm::CommConfig;
use crate::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo};
use crate::registry::PrepareErrors;
use crate::runner::{run_steps, Step};
use crate::Result;

pub use artifact::NullArtifact;
pub use config::Config;

/// Packer's builder id for `null`.
pub const BUILDER_ID: &str = "fnoeding.null";

/// The builder.
pub struct NullBuilder {
    config: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    let config = Config::prepare(v, info)?;
    Ok(Box::new(NullBuilder {
        config,
        info: info.clone(),
    }))
}

/// The null builder's state.
pub struct State {
    comm: Option<Arc<dyn Communicator>>,
    settings: CommConfig,
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        let mut extra = BuildData::new();
        let c = &self.settings;
        if !c.is_none() {
            extra.insert("Host".into(), c.host().unwrap_or_default().to_string());
            extra.insert(
                "Port".into(),
                c.port().map(|p| p.to_string()).unwrap_or_default(),
            );
            extra.insert("User".into(), c.user().unwrap_or_default().to_string());
            extra.insert("ConnType".into(), c.name().to_string());
            extra.insert(
                "Password".into(),
                c.password().unwrap_or_default().to_string(),
            );
            let winrm = match c {
                CommConfig::Winrm(w) => w.password.clone().unwrap_or_default(),
                _ => String::new(),
            };
            extra.insert("WinRMPassword".into(), winrm);
        }
        hook_data(ctx, Some("Null"), None, &extra)
    }
}

#[async_trait]
impl Builder for NullBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let comm = self.config.comm.clone();
        let mut state = State {
            comm: None,
            settings: comm.clone(),
        };
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(StepConnect::new(
                comm,
                self.info.clone(),
                |s: &State| {
                    let c = &s.settings;
                    Ok((
                        c.host().unwrap_or_default().to_string(),
                        c.port().unwrap_or_default(),
                    ))
                },
                |s: &mut State, comm| s.comm = Some(comm),
                |_| None,
            )),
            Box::new(StepProvision { hook }),
        ];
        run_steps(ctx, &mut state, &mut steps).await?;
        Ok(Some(Arc::new(NullArtifact)))
    }
}
