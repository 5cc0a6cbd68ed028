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

#[cfg(test)]
mod fake_tests {
    use super::*;
    use crate::fake::{config, ctx, state, Call, FakeDriver, Op};
    use forge_core::runner::Outcome;
    use serde_json::json;
    use std::sync::Arc;

    async fn with_container(j: serde_json::Value) -> (Arc<FakeDriver>, State, String) {
        let fake = FakeDriver::new();
        let id = fake.running("c", None).await;
        let mut st = state(&fake, config(j));
        st.container_id = Some(id.clone());
        (fake, st, id)
    }

    #[tokio::test]
    async fn commits_with_changes_author_and_message() {
        let (ctx, ui) = ctx();
        let (fake, mut st, id) = with_container(json!({"image": "base", "commit": true,
            "changes": ["ENV A=1", "ENTRYPOINT [\"/app\"]"], "author": "Ann <a@example>",
            "message": "built by forge"}))
        .await;
        StepCommit.run(&ctx, &mut st).await.unwrap();
        let changes: Vec<String> = ["ENV A=1", "ENTRYPOINT [\"/app\"]", "CMD [\"bash\"]"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            fake.calls()[1..],
            [
                Call::InspectImage("base".into()),
                Call::Commit {
                    id: id.clone(),
                    changes: changes.clone(),
                    author: Some("Ann <a@example>".into()),
                    message: Some("built by forge".into()),
                }
            ]
        );
        let image = st.image_id.clone().unwrap();
        assert_eq!(st.generated["ImageSha256"], image);
        let m = fake.model();
        assert_eq!(m.commits.len(), 1);
        assert_eq!(
            (&m.commits[0].container, &m.commits[0].image),
            (&id, &image)
        );
        assert!(m.images.contains_key(&image));
        assert!(ui.text().contains(&format!("Image ID: {image}")));
        // The image is the artifact: the step has no cleanup.
        StepCommit
            .cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(fake.calls_of(Op::RemoveImage).is_empty());
    }

    #[tokio::test]
    async fn without_changes_the_source_images_command_and_entrypoint_return() {
        let (ctx, _) = ctx();
        let (fake, mut st, _) = with_container(json!({"image": "base", "commit": true})).await;
        StepCommit.run(&ctx, &mut st).await.unwrap();
        let Call::Commit {
            changes,
            author,
            message,
            ..
        } = fake.calls_of(Op::Commit).remove(0)
        else {
            panic!()
        };
        assert_eq!(changes, ["CMD [\"bash\"]", "ENTRYPOINT [\"/entry\"]"]);
        assert_eq!((author, message), (None, None));
    }

    #[tokio::test]
    async fn a_failed_commit_stops_and_makes_no_image() {
        let (ctx, ui) = ctx();
        let (fake, mut st, _) = with_container(json!({"image": "base", "commit": true})).await;
        fake.fail(Op::Commit, "cannot commit a paused container");
        let m = StepCommit.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(
            m,
            "Error committing container: committing the container: cannot commit a paused container"
        );
        assert!(ui.text().contains(&m));
        assert!(st.image_id.is_none());
        assert_eq!(st.generated["ImageSha256"], "ERR_IMAGE_SHA256_NOT_FOUND");
        assert!(fake.model().commits.is_empty());
    }

    #[tokio::test]
    async fn no_container_no_commit() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let mut st = state(&fake, config(json!({"image": "base", "commit": true})));
        let m = StepCommit.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(m, "StepCommit: no container is running");
        assert!(fake.calls().is_empty());
        // Inspecting the source image can fail too.
        st.container_id = Some("c".into());
        fake.fail(Op::InspectImage, "Cannot connect to the Docker daemon");
        let m = StepCommit.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(
            m,
            "inspecting image base: Cannot connect to the Docker daemon"
        );
        assert_eq!(fake.ops(), [Op::InspectImage]);
    }
}
