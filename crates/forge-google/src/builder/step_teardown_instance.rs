//! StepTeardownInstance: deletes the instance, keeping its boot disk for the image; cleanup
//! deletes the disk (after the image is made, steps cleaning up in reverse).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::journal;

pub(super) struct StepTeardownInstance;

#[async_trait]
impl Step<State> for StepTeardownInstance {
    fn name(&self) -> &'static str {
        "StepTeardownInstance"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let Some(rec) = st.instance.clone() else {
            return Ok(());
        };
        ctx.ui.say("Deleting instance...");
        let op = st
            .compute
            .delete_instance(&c.project_id, &c.zone, &rec.id)
            .await
            .map_err(|e| Error::msg(format!("Error deleting instance: {e}")))?;
        st.wait(
            ctx,
            &c.project_id,
            op,
            &format!("instance {} to be deleted", rec.id),
            "Error deleting instance",
        )
        .await?;
        journal::gone(ctx, &rec);
        st.instance = None;
        st.comm = None;
        ctx.ui.message("Instance has been deleted!");
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        if st.instance.is_some() {
            // The instance still holds the disk: StepCreateInstance removes both.
            return Ok(());
        }
        let c = st.config.clone();
        let Some(rec) = journal::to_clean_up(ctx, &mut st.disk) else {
            return Ok(());
        };
        ctx.ui.say("Deleting disk...");
        match journal::delete(
            st.compute.as_ref(),
            journal::DISK,
            &c.project_id,
            &c.zone,
            &rec.id,
        )
        .await
        {
            Ok(()) => {
                journal::gone(ctx, &rec);
                ctx.ui.message("Disk has been deleted!");
            }
            Err(e) => ctx.ui.error(&format!(
                "Error deleting disk. Please delete it manually.\n\nName: {}\nError: {e}",
                rec.id
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::step_create_instance::StepCreateInstance;
    use super::*;
    use crate::fake::Fx;
    use serde_json::json;

    #[tokio::test]
    async fn the_instance_goes_and_its_disk_stays_until_cleanup() {
        let fx = Fx::new();
        let mut st = fx.state(json!({}));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        StepTeardownInstance.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(fx.cloud.leftovers(), ["disk inst-1"]);
        assert_eq!(fx.journaled(), ["gce-disk inst-1"]);
        StepTeardownInstance
            .cleanup(&fx.ctx, &mut st, Default::default())
            .await
            .unwrap();
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
        assert!(fx.said().contains("Disk has been deleted!"));
    }
}
