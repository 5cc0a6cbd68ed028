//! StepCreateTags: tags every AMI and its snapshots in every region (`tags`,
//! `snapshot_tags`), with the source image's facts rendered in.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::step_run_instance::render_tags;
use super::State;

pub(super) struct StepCreateTags;

#[async_trait]
impl Step<State> for StepCreateTags {
    fn name(&self) -> &'static str {
        "StepCreateTags"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if c.tags.is_empty() && c.snapshot_tags.is_empty() {
            return Ok(());
        }
        for (region, ami) in st.amis.clone() {
            let mut data = st.generated.clone();
            data.insert("BuildRegion".into(), region.clone());
            let tags = render_tags(&c.tags, &data)?;
            let snap_tags = render_tags(&c.snapshot_tags, &data)?;
            ctx.ui.say(&format!("Adding tags to AMI ({ami})..."));
            let ec2 = c.access.ec2(&region).await;
            let images = ec2
                .describe_images(std::slice::from_ref(&ami), &[], &[])
                .await?;
            let snapshots: Vec<String> = images.into_iter().flat_map(|i| i.snapshots).collect();
            for s in &snapshots {
                ctx.ui.say(&format!("Tagging snapshot: {s}"));
            }
            ctx.ui.say("Creating AMI tags");
            for (k, v) in &tags {
                ctx.ui.message(&format!("Adding tag: {k:?}: {v:?}"));
            }
            ec2.create_tags(std::slice::from_ref(&ami), &tags)
                .await
                .map_err(|e| Error::msg(format!("Error adding tags to AMI ({ami}): {e}")))?;
            ctx.ui.say("Creating snapshot tags");
            for (k, v) in &snap_tags {
                ctx.ui.message(&format!("Adding tag: {k:?}: {v:?}"));
            }
            ec2.create_tags(&snapshots, &snap_tags)
                .await
                .map_err(|e| Error::msg(format!("Error adding tags to Snapshots ({ami}): {e}")))?;
        }
        Ok(())
    }
}
