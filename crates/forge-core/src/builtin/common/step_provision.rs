//! StepProvision: hands the communicator to the provisioners; on a failed build its cleanup
//! runs the `error-cleanup-provisioner`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::plugin::{BuildCtx, BuildData, Communicator, Hook};
use crate::runner::{Outcome, Step};
use crate::Result;

/// What StepProvision needs from a builder's state.
pub trait ProvisionState: Send {
    /// The connected communicator, if any.
    fn communicator(&self) -> Option<Arc<dyn Communicator>>;
    /// The build's generated data (`build.*`).
    fn build_data(&self, ctx: &BuildCtx) -> BuildData;
}

/// Packer's provision hook data: `ID`, `PackerRunUUID`, the HTTP server placeholders, and the
/// communicator's connection facts, merged with the builder's generated data.
pub fn hook_data(
    ctx: &BuildCtx,
    instance_id: Option<&str>,
    http: Option<(&str, u16)>,
    extra: &BuildData,
) -> BuildData {
    let mut d = BuildData::new();
    d.insert(
        "ID".into(),
        instance_id
            .unwrap_or("ERR_ID_NOT_IMPLEMENTED_BY_BUILDER")
            .to_string(),
    );
    d.insert("PackerRunUUID".into(), ctx.run_id.clone());
    match http {
        Some((ip, port)) => {
            d.insert("PackerHTTPIP".into(), ip.to_string());
            d.insert("PackerHTTPPort".into(), port.to_string());
            d.insert("PackerHTTPAddr".into(), format!("{ip}:{port}"));
        }
        None => {
            d.insert(
                "PackerHTTPIP".into(),
                "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER".into(),
            );
            d.insert(
                "PackerHTTPPort".into(),
                "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER".into(),
            );
            d.insert(
                "PackerHTTPAddr".into(),
                "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER".into(),
            );
        }
    }
    d.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    d
}

/// Runs the provisioners.
pub struct StepProvision {
    /// The engine's hook.
    pub hook: Arc<dyn Hook>,
}

#[async_trait]
impl<S: ProvisionState> Step<S> for StepProvision {
    fn name(&self) -> &'static str {
        "StepProvision"
    }

    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()> {
        let mut data = state.build_data(ctx);
        let comm = state.communicator();
        // The builder's own values win over the communicator's facts.
        if let Some(c) = &comm {
            for (k, v) in c.facts() {
                data.entry(k).or_insert(v);
            }
        }
        self.hook.provision(ctx, comm, &data).await
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, state: &mut S, outcome: Outcome) -> Result<()> {
        if outcome.halted {
            ctx.ui.say(
                "Provisioning step had errors: Running the cleanup provisioner, if present...",
            );
            let data = state.build_data(ctx);
            self.hook
                .cleanup_provision(ctx, state.communicator(), &data)
                .await?;
        }
        Ok(())
    }

    fn is_provision(&self) -> bool {
        true
    }
}
