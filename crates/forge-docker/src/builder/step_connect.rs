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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{config, ctx, state, Call, FakeDriver, Op};
    use serde_json::json;

    #[tokio::test]
    async fn the_communicator_runs_as_exec_user_and_uploads_for_the_containers_user() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new();
        let id = fake.running("c", Some("app")).await;
        let mut st = state(
            &fake,
            config(json!({"image": "base", "discard": true, "exec_user": "builder"})),
        );
        st.container_id = Some(id.clone());
        st.container_ip = "172.17.0.9".into();
        let mut step = step(&st.config.clone(), &crate::fake::info());
        step.run(&ctx, &mut st).await.unwrap();
        assert!(ui
            .text()
            .contains("Using docker communicator to connect: 172.17.0.9"));
        assert_eq!(fake.calls()[1..], [Call::ContainerUser(id.clone())]);
        let comm = st.comm.clone().unwrap();
        assert_eq!(comm.exec(&ctx, "true", &mut |_, _| {}).await.unwrap(), 0);
        let f = tempfile::NamedTempFile::new().unwrap();
        comm.upload(&ctx, "/tmp/f", f.path()).await.unwrap();
        let shells: Vec<_> = fake
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::ShellRun { user, cmd, .. } => Some((user.unwrap_or_default(), cmd)),
                _ => None,
            })
            .collect();
        assert_eq!(
            shells,
            [
                ("builder".into(), "true".into()),
                ("root".into(), "mkdir -p '/tmp'".into()),
                ("root".into(), "chown -R 'app' '/tmp/f'".into()),
            ]
        );
    }

    #[tokio::test]
    async fn fix_upload_owner_false_leaves_uploads_alone() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let id = fake.running("c", Some("app")).await;
        let mut st = state(
            &fake,
            config(json!({"image": "base", "discard": true, "fix_upload_owner": false})),
        );
        st.container_id = Some(id);
        StepConnectDocker.run(&ctx, &mut st).await.unwrap();
        let f = tempfile::NamedTempFile::new().unwrap();
        let comm = st.comm.clone().unwrap();
        comm.upload(&ctx, "/tmp/f", f.path()).await.unwrap();
        assert!(fake
            .calls()
            .iter()
            .all(|c| !matches!(c, Call::ShellRun { cmd, .. } if cmd.contains("chown"))));
    }

    #[tokio::test]
    async fn failures_stop_before_a_communicator_exists() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let mut st = state(&fake, config(json!({"image": "base", "discard": true})));
        let m = StepConnectDocker
            .run(&ctx, &mut st)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(m, "StepConnect: no container is running");
        assert!(fake.calls().is_empty());
        st.container_id = Some("gone".into());
        let m = StepConnectDocker
            .run(&ctx, &mut st)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(m, "inspecting the container: No such container: gone");
        assert!(st.comm.is_none());
        assert_eq!(fake.ops(), [Op::ContainerUser]);
    }
}
