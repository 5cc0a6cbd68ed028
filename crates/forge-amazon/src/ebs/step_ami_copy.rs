//! StepAMIRegionCopy: copies the AMI to `ami_regions` (encrypted with the region's KMS key
//! when asked) and waits for every copy; a failed or interrupted build removes the copies.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::step_create_ami::{settle_amis, wait_available};
use super::State;
use crate::journal;

pub(super) struct StepAmiRegionCopy {
    pub records: Vec<Resource>,
}

#[async_trait]
impl Step<State> for StepAmiRegionCopy {
    fn name(&self) -> &'static str {
        "StepAMIRegionCopy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let intermediary = c.encrypt_boot == Some(true);
        let mut targets = c.ami_regions.clone();
        if intermediary {
            targets.insert(0, c.access.region.clone());
        }
        if targets.is_empty() {
            return Ok(());
        }
        let build_region = c.access.region.clone();
        let source = st
            .amis
            .get(&build_region)
            .cloned()
            .ok_or_else(|| Error::msg("no AMI to copy"))?;
        ctx.ui.say(&format!(
            "Copying/Encrypting AMI ({source}) to other regions..."
        ));
        let mut copies = Vec::new();
        for region in &targets {
            ctx.ui.message(&format!("Copying to: {region}"));
            let ec2 = c.access.ec2(region).await;
            let kms = c
                .region_kms_key_ids
                .get(region)
                .cloned()
                .unwrap_or_else(|| c.kms_key_id.clone());
            let mut rec = journal::intend(ctx, &c.access, journal::IMAGE, region, &c.ami_name)?;
            let id = match ec2
                .copy_image(
                    &build_region,
                    &source,
                    &c.ami_name,
                    &c.ami_description,
                    c.encrypt_boot == Some(true),
                    &kms,
                )
                .await
            {
                Ok(id) => id,
                Err(e) => {
                    journal::gone(ctx, &rec);
                    return Err(Error::msg(format!(
                        "Error Copying AMI ({source}) to region ({region}): {e}"
                    )));
                }
            };
            journal::created(ctx, &mut rec, &id);
            self.records.push(rec);
            // Copies carry the run's tag too, so a sweep finds them.
            ec2.create_tags(
                std::slice::from_ref(&id),
                &State::tagged(ctx, &Default::default()),
            )
            .await?;
            copies.push((region.clone(), id, ec2));
        }
        ctx.ui.message("Waiting for all copies to complete...");
        for (region, id, ec2) in copies {
            let snapshots = wait_available(ctx, st.wait(), ec2.as_ref(), &id).await?;
            ec2.create_tags(&snapshots, &State::tagged(ctx, &Default::default()))
                .await?;
            st.amis.insert(region, id);
        }
        if intermediary {
            ctx.ui.say(&format!(
                "Deleting the unencrypted intermediary AMI ({source}) and its snapshots..."
            ));
            journal::delete_image(st.ec2.as_ref(), &source)
                .await
                .map_err(|e| Error::msg(format!("Error deleting the intermediary AMI: {e}")))?;
        }
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        settle_amis(ctx, st, o, &mut self.records, "").await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{
        copy_ami, create_ami, launch, run_tag, source, stop, Fail, Fx, REGION,
    };
    use serde_json::json;

    fn build() -> Vec<Box<dyn Step<State>>> {
        vec![source(), launch(), stop(), create_ami(), copy_ami()]
    }

    #[tokio::test(start_paused = true)]
    async fn copies_to_every_region_tagged_and_waits_for_them() {
        let fx = Fx::new();
        fx.cloud.pending("available", Some(2));
        let extra = json!({"ami_regions": ["us-west-2", "eu-west-1"]});
        let mut st = fx.state(fx.config(extra).await).await;
        fx.run(&mut st, build()).await.unwrap();
        let images = fx.cloud.images_named("forge-test-ami");
        let mut regions: Vec<&str> = images.iter().map(|i| i.0.as_str()).collect();
        regions.sort();
        assert_eq!(regions, ["eu-west-1", REGION, "us-west-2"]);
        assert!(images.iter().all(|i| i.2 == "available" && !i.3));
        for (region, id, ..) in &images {
            assert_eq!(st.amis.get(region), Some(id));
            let (k, v) = run_tag();
            assert_eq!(fx.cloud.tags_of(id).unwrap().get(&k), Some(&v));
        }
        let copies: Vec<(String, String)> = fx
            .cloud
            .calls()
            .into_iter()
            .filter(|c| c.op == "CopyImage")
            .map(|c| (c.region, c.arg))
            .collect();
        let source = st.amis[REGION].clone();
        assert_eq!(
            copies,
            [
                ("us-west-2".to_string(), source.clone()),
                ("eu-west-1".to_string(), source)
            ]
        );
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn encrypt_boot_copies_in_place_with_the_key_and_drops_the_intermediary() {
        let fx = Fx::new();
        let extra = json!({"encrypt_boot": true, "kms_key_id": "alias/build",
            "ami_regions": ["us-west-2"],
            "region_kms_key_ids": {"us-west-2": "alias/west", "us-east-1": "alias/east"}});
        let mut st = fx.state(fx.config(extra).await).await;
        fx.run(&mut st, build()).await.unwrap();
        let mut images = fx.cloud.images_named("forge-test-ami");
        images.sort();
        let got: Vec<(&str, bool, &str)> = images
            .iter()
            .map(|i| (i.0.as_str(), i.3, i.4.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("us-east-1", true, "alias/east"),
                ("us-west-2", true, "alias/west")
            ]
        );
        // The unencrypted intermediary and its snapshot are gone.
        assert_eq!(fx.cloud.count("DeregisterImage"), 1);
        assert_eq!(fx.cloud.count("DeleteSnapshot"), 1);
        assert_eq!(st.amis.len(), 2);
        assert!(fx
            .said()
            .contains("Deleting the unencrypted intermediary AMI"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_copy_names_the_region_and_removes_every_ami_made() {
        let fx = Fx::new();
        fx.cloud
            .fail_in("eu-west-1", "CopyImage", "InvalidRequest", None);
        let extra = json!({"ami_regions": ["us-west-2", "eu-west-1"]});
        let mut st = fx.state(fx.config(extra).await).await;
        let e = fx.run(&mut st, build()).await.unwrap_err();
        let ami = fx
            .cloud
            .calls()
            .into_iter()
            .find(|c| c.op == "CopyImage")
            .unwrap()
            .arg;
        assert_eq!(
            e.to_string(),
            format!("Error Copying AMI ({ami}) to region (eu-west-1): EC2 CopyImage: InvalidRequest: injected by the test")
        );
        // The copy in us-west-2 and the AMI in the build region are deregistered.
        let deregistered: Vec<String> = fx
            .cloud
            .calls()
            .into_iter()
            .filter(|c| c.op == "DeregisterImage")
            .map(|c| c.region)
            .collect();
        assert_eq!(deregistered, ["us-west-2", REGION]);
        assert!(fx.cloud.images_named("forge-test-ami").is_empty());
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_that_never_completes_times_out_and_is_removed() {
        let fx = Fx::new();
        let mut st = fx
            .state(fx.config(json!({"ami_regions": ["us-west-2"]})).await)
            .await;
        let mut steps = build();
        for s in steps.iter_mut().take(4) {
            s.run(&fx.ctx, &mut st).await.unwrap();
        }
        fx.cloud.pending("available", None);
        let e = steps[4].run(&fx.ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("timed out after 2 minutes waiting for AMI ami-"),
            "{e}"
        );
        let halted = forge_core::runner::Outcome {
            halted: true,
            cancelled: false,
        };
        for s in steps.iter_mut().rev() {
            s.cleanup(&fx.ctx, &mut st, halted).await.unwrap();
        }
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn without_other_regions_nothing_is_copied() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![
                    source(),
                    launch(),
                    stop(),
                    create_ami(),
                    copy_ami(),
                    Box::new(Fail),
                ],
            )
            .await;
        assert_eq!(e.to_string(), "a later step failed");
        assert_eq!(fx.cloud.count("CopyImage"), 0);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
    }
}
