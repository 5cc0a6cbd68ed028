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
