//! The `null` builder: no machine of its own; connects to an existing host (or to nothing, with
//! `communicator = "none"`) and runs the provisioners there.

mod artifact;
mod config;

use std::sync::Arc;

use async_trait::async_trait;
use forge_template::value::Value;

use super::common::{hook_data, CommSettings, ProvisionState, StepConnect, StepProvision};
use crate::artifact::Artifact;
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
    raw: Value,
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
        raw: v.clone(),
        info: info.clone(),
    }))
}

/// The null builder's state.
#[derive(Default)]
pub struct State {
    comm: Option<Arc<dyn Communicator>>,
    host: String,
    port: Option<i64>,
    user: String,
    kind: String,
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        let mut extra = BuildData::new();
        if self.kind != "none" {
            extra.insert("Host".into(), self.host.clone());
            extra.insert(
                "Port".into(),
                self.port.map(|p| p.to_string()).unwrap_or_default(),
            );
            extra.insert("User".into(), self.user.clone());
            extra.insert("ConnType".into(), self.kind.clone());
        }
        hook_data(ctx, Some("Null"), None, &extra)
    }
}

#[async_trait]
impl Builder for NullBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = &self.config;
        let mut state = State {
            host: c.host(),
            port: c.port(),
            user: c.user(),
            kind: c.kind(),
            ..State::default()
        };
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(StepConnect {
                settings: CommSettings {
                    kind: c.kind(),
                    host: c.host(),
                    port: None,
                    config: self.raw.clone(),
                },
                info: self.info.clone(),
                store: |s: &mut State, comm| s.comm = Some(comm),
                temp_key: |_| None,
                opened: None,
            }),
            Box::new(StepProvision { hook }),
        ];
        run_steps(ctx, &mut state, &mut steps).await?;
        Ok(Some(Arc::new(NullArtifact)))
    }
}
