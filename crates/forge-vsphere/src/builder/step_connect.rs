//! StepConnect (vSphere): logs in to `vcenter_server` and finds the datacenter (the one named,
//! or the only one).

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::State;
use crate::client::Client;

pub(super) struct StepConnectVsphere;

#[async_trait]
impl Step<State> for StepConnectVsphere {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&mut self, _ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let client = Arc::new(Client::connect(&c.client_config()).await?);
        st.client = Some(client.clone());
        let dc = client
            .datacenter(Some(c.datacenter.as_str()).filter(|d| !d.is_empty()))
            .await?;
        st.dc = Some(dc);
        Ok(())
    }
}
