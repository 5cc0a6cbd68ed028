//! StepConnect: the docker communicator over the container, or the shared step for ssh/winrm
//! into it when `communicator` says so.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::builtin::common::StepConnect;
use forge_core::comm::CommConfig;
use forge_core::plugin::{BuildCtx, PrepareInfo};
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::{Config, State};
use crate::communicator::DockerCommunicator;

/// The docker communicator step, or the shared one for ssh/winrm (host = the container's IP
/// unless the configuration names one).
pub(super) fn step(c: &Config, info: &PrepareInfo) -> Box<dyn Step<State>> {
    if let CommConfig::Docker { .. } = c.comm {
        return Box::new(StepConnectDocker);
    }
    Box::new(StepConnect::new(
        c.comm.clone(),
        info.clone(),
        |st: &State| {
            let c = &st.config.comm;
            let host = c.host().unwrap_or(&st.container_ip).to_string();
            Ok((host, c.port().unwrap_or_default()))
        },
        |s: &mut State, comm| s.comm = Some(comm),
        |_| None,
    ))
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
