//! The provisioning hook builders call: each provisioner with its common fields (pause_before,
//! timeout, max_retries), configured again with the build's generated data.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forge_template::plan::{BuildPlan, PlannedBuild, PlannedProvisioner};
use serde_json::json;

use crate::plugin::{BuildCtx, BuildData, Communicator, Hook, PrepareInfo};
use crate::registry::Registry;
use crate::{Error, Result};

pub(super) struct EngineHook {
    pub plan: Arc<BuildPlan>,
    pub build: Arc<PlannedBuild>,
    pub registry: Arc<Registry>,
    pub info: PrepareInfo,
    /// The generated data of the last provisioning, for post-processors.
    pub data: Mutex<BuildData>,
}

use forge_template::gocompat::duration::format_std as go_duration;

impl EngineHook {
    async fn run_one(
        &self,
        ctx: &BuildCtx,
        p: &PlannedProvisioner,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        let t = p.config.plugin_type.as_str();
        let cfg = forge_template::late::resolve(
            &self.plan,
            &self.build,
            forge_template::schema::PluginKind::Provisioner,
            &p.config,
            data,
        )
        .map_err(|e| Error::msg(format!("configuring provisioner {t:?}: {e}")))?;
        let factory = self
            .registry
            .provisioners
            .get(t)
            .ok_or_else(|| Error::msg(format!("unknown provisioner {t:?}")))?;
        let prov = factory(&cfg, &self.info).map_err(|e| {
            Error::msg(format!(
                "configuring provisioner {t:?}: {}",
                super::multi_error(&e)
            ))
        })?;
        if ctx.opts.debug
            && ctx
                .ask("Pausing before the next provisioner . Press enter to continue.")
                .await
                .is_none()
        {
            return Err(Error::Cancelled);
        }
        // Packer's wrapping (core.go, provisioner.go): pause_before, or else timeout, around each
        // attempt, and max_retries around that. So every attempt pauses (or announces its
        // timeout) again; a failed attempt is retried at once, announced with `Provisioner failed
        // with %q, retrying with N trie(s) left`; and `retry limit reached.` follows the last.
        // One deliberate difference: Packer ignores `timeout` when `pause_before` is set, forge
        // honours both.
        let tries = p.max_retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .attempt(ctx, p, prov.as_ref(), comm.clone(), data)
                .await
            {
                Err(e) if !e.is_cancelled() && attempt < tries => {
                    if ctx.cancel.is_cancelled() {
                        return Err(Error::Cancelled);
                    }
                    ctx.ui.say(&format!(
                        "Provisioner failed with {}, retrying with {} trie(s) left",
                        forge_template::value::quote(&e.to_string()),
                        tries - attempt
                    ));
                }
                Err(e) if !e.is_cancelled() && tries > 1 => {
                    ctx.ui.say("retry limit reached.");
                    return Err(e);
                }
                r => return r,
            }
        }
    }

    /// One attempt: the pause or the timeout, then the provisioner.
    async fn attempt(
        &self,
        ctx: &BuildCtx,
        p: &PlannedProvisioner,
        prov: &dyn crate::plugin::Provisioner,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        if let Some(d) = p.pause_before {
            ctx.ui.say(&format!(
                "Pausing {} before the next provisioner...",
                go_duration(d)
            ));
            ctx.sleep(d).await?;
        }
        let Some(d) = p.timeout else {
            return prov.provision(ctx, &ctx.ui, comm, data).await;
        };
        ctx.ui.say(&format!(
            "Setting a {} timeout for the next provisioner...",
            go_duration(d)
        ));
        match tokio::time::timeout(d, prov.provision(ctx, &ctx.ui, comm, data)).await {
            Ok(r) => r,
            Err(_) => {
                ctx.ui.error("Cancelling provisioner after a timeout...");
                Err(Error::msg(format!(
                    "provisioner {:?} timed out after {}",
                    p.config.plugin_type,
                    go_duration(d)
                )))
            }
        }
    }

    async fn run_list(
        &self,
        ctx: &BuildCtx,
        list: &[&PlannedProvisioner],
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
        label: &str,
    ) -> Result<()> {
        if let Ok(mut d) = self.data.lock() {
            *d = data.clone();
        }
        for (i, p) in list.iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let name = format!("{label} {}", p.config.plugin_type);
            ctx.events.emit(
                "step.start",
                Some(&ctx.name),
                json!({ "step": name, "index": i + 1, "of": list.len() }),
            );
            let phase = ctx.timeline.begin(&name, 1);
            let r = self.run_one(ctx, p, comm.clone(), data).await;
            let status = match &r {
                Ok(()) => "ok",
                Err(Error::Cancelled) => "cancelled",
                Err(_) if p.continue_on_error => "failed (continued)",
                Err(_) => "failed",
            };
            ctx.timeline.end(phase, status);
            ctx.events.emit(
                "step.end",
                Some(&ctx.name),
                json!({ "step": name, "index": i + 1, "status": status,
                        "error": r.as_ref().err().map(|e| e.to_string()) }),
            );
            match r {
                Err(e) if p.continue_on_error && !e.is_cancelled() => {
                    ctx.ui
                        .error(&format!("{e} (continuing: continue_on_error is set)"));
                }
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Hook for EngineHook {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        let list: Vec<&PlannedProvisioner> = self.build.provisioners.iter().collect();
        self.run_list(ctx, &list, comm, data, "provisioner").await
    }

    async fn cleanup_provision(
        &self,
        ctx: &BuildCtx,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        let list: Vec<&PlannedProvisioner> = self.build.error_cleanup_provisioner.iter().collect();
        self.run_list(ctx, &list, comm, data, "error-cleanup-provisioner")
            .await
    }
}
