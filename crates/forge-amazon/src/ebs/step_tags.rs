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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{copy_ami, create_ami, launch, source, stop, Fx};
    use serde_json::json;

    fn build() -> Vec<Box<dyn Step<State>>> {
        vec![
            source(),
            launch(),
            stop(),
            create_ami(),
            copy_ami(),
            Box::new(StepCreateTags),
        ]
    }

    #[tokio::test(start_paused = true)]
    async fn every_ami_and_snapshot_gets_its_rendered_tags() {
        let fx = Fx::new();
        let extra = json!({"ami_regions": ["us-west-2"],
            "tags": {"Base": "{{ .SourceAMIName }}", "Where": "{{ .BuildRegion }}"},
            "snapshot_tags": {"Kind": "snapshot"}});
        let mut st = fx.state(fx.config(extra).await).await;
        fx.run(&mut st, build()).await.unwrap();
        assert_eq!(st.amis.len(), 2);
        for (region, id) in &st.amis {
            let t = fx.cloud.tags_of(id).unwrap();
            assert_eq!(t.get("Base").map(String::as_str), Some("ubuntu-jammy"));
            assert_eq!(t.get("Where"), Some(region));
            let ec2 = st.config.access.ec2(region).await;
            let images = ec2
                .describe_images(std::slice::from_ref(id), &[], &[])
                .await
                .unwrap();
            for s in &images[0].snapshots {
                let t = fx.cloud.tags_of(s).unwrap();
                assert_eq!(t.get("Kind").map(String::as_str), Some("snapshot"));
                assert_eq!(t.get("Base"), None);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_tag_names_the_ami() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({"tags": {"A": "b"}})).await).await;
        let mut steps = build();
        for s in steps.iter_mut().take(5) {
            s.run(&fx.ctx, &mut st).await.unwrap();
        }
        fx.cloud.fail("CreateTags", "TagLimitExceeded", None);
        let ami = st.amis.values().next().cloned().unwrap();
        let e = steps[5].run(&fx.ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error adding tags to AMI ({ami}): EC2 CreateTags: TagLimitExceeded: injected by the test")
        );
    }

    #[tokio::test]
    async fn without_tags_nothing_is_called() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({})).await).await;
        st.amis.insert("us-east-1".into(), "ami-x".into());
        StepCreateTags.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(fx.cloud.calls().len(), 0);
    }
}
