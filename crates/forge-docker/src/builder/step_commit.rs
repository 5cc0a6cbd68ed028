//! StepCommit: commits the container to an image. Like Packer's StepSetDefaults, changes
//! without CMD/ENTRYPOINT get the source image's, undoing run_command's `--entrypoint`.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepCommit;

fn json_form(v: &[String]) -> String {
    if v.is_empty() {
        "[\"\"]".into()
    } else {
        serde_json::to_string(v).unwrap_or_else(|_| "[\"\"]".into())
    }
}

/// `changes` completed with the source image's CMD and ENTRYPOINT when they are missing.
pub(crate) fn with_defaults(
    changes: &[String],
    cmd: &[String],
    entrypoint: &[String],
) -> Vec<String> {
    let has = |w: &str| {
        changes.iter().any(|c| {
            c.split_whitespace()
                .next()
                .is_some_and(|x| x.eq_ignore_ascii_case(w))
        })
    };
    let mut out = changes.to_vec();
    if !has("CMD") {
        out.push(format!("CMD {}", json_form(cmd)));
    }
    if !has("ENTRYPOINT") {
        out.push(format!("ENTRYPOINT {}", json_form(entrypoint)));
    }
    out
}

#[async_trait]
impl Step<State> for StepCommit {
    fn name(&self) -> &'static str {
        "StepCommit"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let id = st
            .container_id
            .clone()
            .ok_or_else(|| Error::msg("StepCommit: no container is running"))?;
        let c = &st.config;
        let src = st
            .driver
            .inspect_image(c.image())
            .await?
            .unwrap_or_default();
        let changes = with_defaults(
            c.args.changes.as_deref().unwrap_or_default(),
            &src.cmd,
            &src.entrypoint,
        );
        ctx.ui.say("Committing the container");
        let image = st
            .driver
            .commit(
                &id,
                &changes,
                c.args.author.as_deref(),
                c.args.message.as_deref(),
            )
            .await
            .map_err(|e| {
                let m = format!("Error committing container: {e}");
                ctx.ui.error(&m);
                Error::msg(m)
            })?;
        ctx.ui.message(&format!("Image ID: {image}"));
        st.generated.insert("ImageSha256".into(), image.clone());
        st.image_id = Some(image);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_added_only_when_missing() {
        let c = with_defaults(&["ENV A=1".into()], &[], &["/e".into()]);
        assert_eq!(c, ["ENV A=1", "CMD [\"\"]", "ENTRYPOINT [\"/e\"]"]);
        let c = with_defaults(&["cmd [\"x\"]".into()], &["y".into()], &[]);
        assert_eq!(c, ["cmd [\"x\"]", "ENTRYPOINT [\"\"]"]);
    }
}
