//! Post-processor chains with Packer's artifact-keeping rules (packer/build.go).

use std::sync::Arc;

use forge_template::plan::{BuildPlan, PlannedBuild};
use serde_json::json;

use crate::artifact::Artifact;
use crate::plugin::{BuildCtx, BuildData, PrepareInfo};
use crate::registry::Registry;
use crate::{Error, Result};

/// Runs every chain over the builder's artifact; returns the artifacts to report, or the
/// collected post-processor errors.
pub(super) async fn run_chains(
    ctx: &BuildCtx,
    plan: &BuildPlan,
    build: &PlannedBuild,
    registry: &Registry,
    info: &PrepareInfo,
    builder_artifact: Arc<dyn Artifact>,
    data: &BuildData,
) -> Result<Vec<Arc<dyn Artifact>>> {
    let mut artifacts: Vec<Arc<dyn Artifact>> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut keep_original = build.post_processors.is_empty();
    'chains: for chain in &build.post_processors {
        let mut prior = builder_artifact.clone();
        for (i, pp) in chain.iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let t = pp.config.plugin_type.as_str();
            let name = if plan.legacy_json {
                pp.name.clone().unwrap_or_else(|| t.to_string())
            } else {
                pp.name.clone().unwrap_or_default()
            };
            if name == t {
                ctx.ui.say(&format!("Running post-processor: {t}"));
            } else {
                ctx.ui
                    .say(&format!("Running post-processor: {name} (type {t})"));
            }
            let step = format!("post-processor {t}");
            ctx.events
                .emit("step.start", Some(&ctx.name), json!({ "step": step }));
            let phase = ctx.timeline.begin(&step, 0);
            let ui = ctx.ui.with_target(format!("{} ({t})", ctx.name));
            let r = async {
                let cfg = forge_template::late::resolve(
                    plan,
                    build,
                    forge_template::schema::PluginKind::PostProcessor,
                    &pp.config,
                    data,
                )
                .map_err(Error::msg)?;
                let f = registry
                    .post_processors
                    .get(t)
                    .ok_or_else(|| Error::msg(format!("unknown post-processor {t:?}")))?;
                let p = f(&cfg, info).map_err(|e| Error::msg(super::multi_error(&e)))?;
                p.post_process(ctx, &ui, prior.clone()).await
            }
            .await;
            let status = if r.is_ok() { "ok" } else { "failed" };
            ctx.timeline.end(phase, status);
            ctx.events.emit(
                "step.end",
                Some(&ctx.name),
                json!({ "step": step, "status": status,
                        "error": r.as_ref().err().map(|e| e.to_string()) }),
            );
            let out = match r {
                Err(Error::Cancelled) => return Err(Error::Cancelled),
                Err(e) => {
                    errors.push(format!("Post-processor failed: {e}"));
                    continue 'chains;
                }
                Ok(o) => o,
            };
            let Some(artifact) = out.artifact else {
                continue 'chains;
            };
            let mut keep = out.keep;
            if let Some(user) = pp.keep_input_artifact {
                if !(out.keep && !user && out.force_override) {
                    keep = user;
                }
            }
            if i == 0 {
                keep_original |= keep;
            } else if keep {
                artifacts.push(prior.clone());
            } else if let Err(e) = prior.destroy().await {
                errors.push(format!("Failed cleaning up prior artifact: {e}; pp is {t}"));
            }
            prior = artifact;
        }
        artifacts.push(prior);
    }
    if keep_original {
        artifacts.insert(0, builder_artifact);
    } else if let Err(e) = builder_artifact.destroy().await {
        errors.push(format!("Error destroying builder artifact: {e}"));
    }
    if errors.is_empty() {
        Ok(artifacts)
    } else {
        Err(Error::msg(super::multi_error(&errors)))
    }
}
