//! StepRun: creates and starts the container (journaled first, under a name known before it
//! exists); its cleanup kills and removes it, always.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};
use serde_json::json;

use super::config::{run_command_line, run_spec};
use super::State;
use crate::reclaim::KIND;

#[derive(Default)]
pub(super) struct StepRun {
    rec: Option<Resource>,
    name: String,
}

/// The container's name: `forge-<run id>-<n>`.
fn container_name(ctx: &BuildCtx) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let clean: String = ctx
        .run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("forge-{clean}-{n}")
}

#[async_trait]
impl Step<State> for StepRun {
    fn name(&self) -> &'static str {
        "StepRun"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Starting docker container...");
        let tmp = st
            .temp_dir
            .as_ref()
            .map(|d| d.path().to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = container_name(ctx);
        let spec = run_spec(&st.config, &name, &tmp, &ctx.run_id)
            .map_err(|e| Error::msg(format!("Error running container: {e}")))?;
        ctx.ui.message(&format!(
            "Run command: {}",
            run_command_line(&st.config, &tmp)
        ));
        self.name = spec.name.clone();
        self.rec = Some(ctx.journal.intend(
            &ctx.name,
            KIND,
            &spec.name,
            json!({ "name": spec.name, "run_id": ctx.run_id }),
        )?);
        let id = st.driver.run(&spec).await.map_err(|e| {
            let m = format!("Error running container: {e}");
            ctx.ui.error(&m);
            Error::msg(m)
        })?;
        if let Some(r) = &self.rec {
            ctx.journal.update(
                r.seq,
                &id,
                json!({ "name": spec.name, "id": id, "run_id": ctx.run_id }),
            );
        }
        ctx.ui.message(&format!("Container ID: {id}"));
        st.container_ip = st.driver.container_ip(&id).await.unwrap_or_default();
        st.container_id = Some(id);
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        let Some(rec) = self.rec.take() else {
            return Ok(());
        };
        if ctx.keep_resources.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let target = st.container_id.clone().unwrap_or_else(|| self.name.clone());
        ctx.ui.say(&format!("Killing the container: {target}"));
        st.driver.remove_container(&target).await.map_err(|e| {
            Error::msg(format!(
                "{e}; remove it with `docker rm -f {target}` or `forge cleanup`"
            ))
        })?;
        ctx.journal.deleted(rec.seq);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::RUN_LABEL;
    use crate::fake::{config, ctx, image, state, with_temp_dir, Call, FakeDriver, Op};

    /// The state after StepTempDir, with a temp dir of its own.
    fn ready(fake: &std::sync::Arc<FakeDriver>, j: serde_json::Value, ctx: &BuildCtx) -> State {
        let mut st = state(fake, config(j));
        with_temp_dir(ctx, &mut st);
        st
    }

    #[tokio::test]
    async fn starts_the_container_from_the_configuration_and_removes_it_once() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        let mut st = ready(
            &fake,
            json!({"image": "base", "commit": true, "privileged": true,
                "volumes": {"/host/cache": "/cache"}, "cap_add": ["SYS_ADMIN"],
                "run_command": ["-d", "-i", "-t", "--user", "nobody", "--entrypoint=/bin/bash", "--", "{{.Image}}", "-l"]}),
            &ctx,
        );
        let tmp = st.temp_dir.as_ref().unwrap().path().display().to_string();
        let mut step = StepRun::default();
        step.run(&ctx, &mut st).await.unwrap();
        let calls = fake.calls();
        let Call::Run(spec) = &calls[0] else {
            panic!("{calls:?}")
        };
        assert!(
            spec.name.starts_with(&format!("forge-{}-", ctx.run_id)),
            "{}",
            spec.name
        );
        assert_eq!(spec.image, "base");
        assert_eq!(spec.entrypoint, ["/bin/bash"]);
        assert_eq!(spec.cmd, ["-l"]);
        assert_eq!(spec.user.as_deref(), Some("nobody"));
        assert!(spec.tty && spec.open_stdin && spec.privileged);
        assert_eq!(spec.cap_add, ["SYS_ADMIN"]);
        assert_eq!(
            spec.binds,
            [
                "/host/cache:/cache".to_string(),
                format!("{tmp}:/packer-files")
            ]
        );
        assert!(spec
            .labels
            .contains(&(RUN_LABEL.to_string(), ctx.run_id.clone())));
        let id = st.container_id.clone().unwrap();
        assert_eq!(calls[1..], [Call::ContainerIp(id.clone())]);
        assert_eq!(st.container_ip, format!("172.17.0.{}", id.len()));
        assert!(fake.model().containers[&id].running);
        let out = ui.text();
        assert!(
            out.contains(&format!("Run command: docker run --cap-add=SYS_ADMIN --privileged -v /host/cache:/cache -v {tmp}:/packer-files -d -i -t --user nobody --entrypoint=/bin/bash -- base -l")),
            "{out}"
        );
        assert!(out.contains(&format!("Container ID: {id}")), "{out}");
        // Journaled under its name, then its id.
        let live = ctx.journal.live(None);
        let rec: Vec<_> = live.iter().filter(|r| r.kind == KIND).collect();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].id, id);

        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert_eq!(
            fake.calls_of(Op::RemoveContainer),
            [Call::RemoveContainer(id)]
        );
        assert!(fake.model().containers.is_empty());
        assert!(ctx.journal.live(None).iter().all(|r| r.kind != KIND));
    }

    #[tokio::test]
    async fn an_image_that_is_not_there_fails_and_nothing_is_left() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new();
        let mut st = ready(
            &fake,
            json!({"image": "gone:1", "pull": false, "discard": true}),
            &ctx,
        );
        let mut step = StepRun::default();
        let m = step.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(
            m,
            "Error running container: creating a container from gone:1: No such image: gone:1"
        );
        assert!(ui.text().contains(&m));
        assert!(st.container_id.is_none());
        assert_eq!(fake.ops(), [Op::Run]);
        // The name was journaled before the call: cleanup removes by name (a no-op here) and
        // settles the journal.
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        let name = step.name.clone();
        assert_eq!(fake.calls()[1], Call::RemoveContainer(name));
        assert!(fake.model().containers.is_empty());
        assert!(ctx.journal.live(None).iter().all(|r| r.kind != KIND));
    }

    #[tokio::test]
    async fn a_container_created_but_not_started_is_removed_by_name() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        fake.fail(
            Op::Start,
            "OCI runtime create failed: exec: \"/bin/sh\": not found",
        );
        let mut st = ready(&fake, json!({"image": "base", "discard": true}), &ctx);
        let mut step = StepRun::default();
        let m = step.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert!(
            m.starts_with("Error running container: starting container forge-"),
            "{m}"
        );
        assert!(m.ends_with("OCI runtime create failed: exec: \"/bin/sh\": not found"));
        let model = fake.model();
        let c = model.containers.values().next().unwrap();
        assert!(!c.running);
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert_eq!(
            fake.calls_of(Op::RemoveContainer),
            [Call::RemoveContainer(c.spec.name.clone())]
        );
        assert!(fake.model().containers.is_empty());
    }

    #[tokio::test]
    async fn a_failed_removal_says_how_to_remove_it_and_keeps_the_journal_entry() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        let mut st = ready(&fake, json!({"image": "base", "discard": true}), &ctx);
        let mut step = StepRun::default();
        step.run(&ctx, &mut st).await.unwrap();
        let id = st.container_id.clone().unwrap();
        fake.fail(Op::RemoveContainer, "Cannot connect to the Docker daemon");
        let m = step
            .cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            format!("removing container {id}: Cannot connect to the Docker daemon; remove it with `docker rm -f {id}` or `forge cleanup`")
        );
        assert_eq!(
            ctx.journal
                .live(None)
                .iter()
                .filter(|r| r.kind == KIND)
                .count(),
            1,
            "forge cleanup can still find it"
        );
    }

    #[tokio::test]
    async fn kept_resources_are_not_removed() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        let mut st = ready(&fake, json!({"image": "base", "discard": true}), &ctx);
        let mut step = StepRun::default();
        step.run(&ctx, &mut st).await.unwrap();
        ctx.keep_resources
            .store(true, std::sync::atomic::Ordering::SeqCst);
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(fake.calls_of(Op::RemoveContainer).is_empty());
        assert_eq!(fake.model().containers.len(), 1);
    }

    #[tokio::test]
    async fn a_step_that_never_ran_removes_nothing() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let mut st = ready(&fake, json!({"image": "base", "discard": true}), &ctx);
        StepRun::default()
            .cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(fake.calls().is_empty());
    }

    #[tokio::test]
    async fn the_container_ip_is_best_effort() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        fake.fail(Op::ContainerIp, "context deadline exceeded");
        let mut st = ready(&fake, json!({"image": "base", "discard": true}), &ctx);
        StepRun::default().run(&ctx, &mut st).await.unwrap();
        assert!(st.container_id.is_some());
        assert_eq!(st.container_ip, "");
    }
}
