//! StepConnect: the docker communicator over the container (or ssh/winrm into it when
//! `communicator` says so).

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::builtin::common::{CommSettings, StepConnect};
use forge_core::plugin::{BuildCtx, PrepareInfo};
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::{Config, State};
use crate::communicator::DockerCommunicator;

/// The docker communicator step, or the shared one for ssh/winrm (host = the container's IP).
pub(super) fn step(c: &Config, info: &PrepareInfo) -> Box<dyn Step<State>> {
    if c.comm == "docker" || c.comm == "dockerWindowsContainer" {
        return Box::new(StepConnectDocker);
    }
    Box::new(StepConnectOther {
        inner: StepConnect {
            settings: CommSettings {
                kind: c.comm.clone(),
                host: String::new(),
                port: None,
                config: c.raw.clone(),
            },
            info: info.clone(),
            store: |s: &mut State, comm| s.comm = Some(comm),
            temp_key: |_| None,
            opened: None,
        },
    })
}

struct StepConnectDocker;

#[async_trait]
impl Step<State> for StepConnectDocker {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let id = st
            .container_id
            .clone()
            .ok_or_else(|| Error::msg("StepConnect: no container is running"))?;
        ctx.ui.say(&format!(
            "Using docker communicator to connect: {}",
            st.container_ip
        ));
        let user = st.driver.container_user(&id).await?;
        let c = &st.config;
        st.comm = Some(Arc::new(DockerCommunicator::new(
            st.driver.clone(),
            id,
            c.args.exec_user.clone().filter(|u| !u.is_empty()),
            user,
            c.fix_upload_owner,
        )));
        Ok(())
    }
}

struct StepConnectOther {
    inner: StepConnect<State>,
}

#[async_trait]
impl Step<State> for StepConnectOther {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        // The host is the container's address unless the configuration names one.
        let host = match self.inner.settings.kind.as_str() {
            "winrm" => st.config.args.communicator.winrm_host.clone(),
            _ => st.config.args.communicator.ssh_host.clone(),
        }
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| st.container_ip.clone());
        self.inner.settings.host = host;
        self.inner.run(ctx, st).await
    }
    async fn cleanup(
        &mut self,
        ctx: &BuildCtx,
        st: &mut State,
        o: forge_core::runner::Outcome,
    ) -> Result<()> {
        self.inner.cleanup(ctx, st, o).await
    }
}
