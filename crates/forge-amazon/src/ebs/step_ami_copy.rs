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
