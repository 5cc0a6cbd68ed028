//! StepCheckExistingImage: an image of the name to make must not exist yet; with `-force`
//! it is deleted first.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepCheckExistingImage;

#[async_trait]
impl Step<State> for StepCheckExistingImage {
    fn name(&self) -> &'static str {
        "StepCheckExistingImage"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if c.skip_create_image {
            return Ok(());
        }
        ctx.ui.say("Checking image does not exist...");
        let (project, name) = (&c.image_project_id, &c.image_name);
        let found =
            st.compute.get_image(project, name).await.map_err(|e| {
                Error::msg(format!("Error checking for an existing image {name}: {e}"))
            })?;
        if found.is_none() {
            return Ok(());
        }
        if !ctx.opts.force {
            return Err(Error::msg(format!(
                "Image {name} already exists in project {project}.\nUse the force flag to delete it prior to building."
            )));
        }
        ctx.ui
            .say(&format!("Deleting existing image {name} (-force)..."));
        let op =
            st.compute.delete_image(project, name).await.map_err(|e| {
                Error::msg(format!("Error deleting the existing image {name}: {e}"))
            })?;
        st.wait(
            ctx,
            project,
            op,
            &format!("the existing image {name} to be deleted"),
            &format!("Error deleting the existing image {name}"),
        )
        .await
    }
    async fn cleanup(&mut self, _ctx: &BuildCtx, _st: &mut State, _o: Outcome) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::Fx;
    use serde_json::json;

    #[tokio::test]
    async fn an_existing_image_stops_the_build_unless_forced() {
        let mut fx = Fx::new();
        fx.cloud.add_image("p", "forge-test-image", "");
        let mut st = fx.state(json!({}));
        let e = StepCheckExistingImage
            .run(&fx.ctx, &mut st)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Image forge-test-image already exists in project p.\nUse the force flag to delete it prior to building."
        );
        assert_eq!(fx.cloud.changes(), Vec::<String>::new());
        fx.ctx.opts.force = true;
        StepCheckExistingImage.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(fx.cloud.changes(), ["delete_image forge-test-image"]);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn no_image_no_call_but_the_check() {
        let fx = Fx::new();
        let mut st = fx.state(json!({}));
        StepCheckExistingImage.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(fx.cloud.changes(), Vec::<String>::new());
        assert!(fx.said().contains("Checking image does not exist..."));
    }
}
