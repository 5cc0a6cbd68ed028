//! stepCreateAMI: registers the AMI from the stopped instance and waits until it is
//! available. If the build fails or is interrupted afterwards, cleanup deregisters it and
//! deletes its snapshots, as Packer does; a finished AMI stays.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::ec2::Ec2;
use crate::journal;
use crate::wait::Wait;

pub(super) struct StepCreateAmi {
    pub records: Vec<Resource>,
}

/// Waits until `id` is available (a failed image is an error).
pub async fn wait_available(
    ctx: &BuildCtx,
    w: Wait,
    ec2: &dyn Ec2,
    id: &str,
) -> Result<Vec<String>> {
    w.until(ctx, &format!("AMI {id} to become available"), || async {
        let found = ec2.describe_images(&[id.to_string()], &[], &[]).await?;
        match found.first() {
            Some(i) if i.state == "available" => Ok(Some(i.snapshots.clone())),
            Some(i) if i.state == "failed" || i.state == "error" => Err(Error::msg(format!(
                "Error waiting for AMI {id}: its state is {}",
                i.state
            ))),
            _ => Ok(None),
        }
    })
    .await
}

/// The cleanup of AMIs a step made: after a good build they are its result and leave the
/// journal; after a failure or an interrupt they are deregistered with their snapshots
/// (unless the build keeps its resources). Says `what` before removing any.
pub async fn settle_amis(
    ctx: &BuildCtx,
    st: &State,
    o: Outcome,
    records: &mut Vec<Resource>,
    what: &str,
) -> bool {
    if !(o.halted || o.cancelled) {
        for r in records.drain(..) {
            journal::gone(ctx, &r);
        }
        return false;
    }
    if records.is_empty() || ctx.keep_resources.load(std::sync::atomic::Ordering::SeqCst) {
        return false;
    }
    if !what.is_empty() {
        ctx.ui.say(what);
    }
    for rec in records.drain(..).rev() {
        if rec.id.is_empty() {
            journal::gone(ctx, &rec);
            continue;
        }
        let region = rec.data["region"].as_str().unwrap_or_default().to_string();
        let ec2 = st.config.access.ec2(&region).await;
        match journal::delete_image(ec2.as_ref(), &rec.id).await {
            Ok(_) => journal::gone(ctx, &rec),
            Err(e) => ctx.ui.error(&format!(
                "Error deregistering AMI {} in {region}, please delete it manually: {e}",
                rec.id
            )),
        }
    }
    true
}

#[async_trait]
impl Step<State> for StepCreateAmi {
    fn name(&self) -> &'static str {
        "stepCreateAMI"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let instance = st
            .instance
            .clone()
            .ok_or_else(|| Error::msg("no instance to make an AMI of"))?;
        // An encrypted AMI is an encrypted copy of an unencrypted intermediary one.
        let name = if c.encrypt_boot == Some(true) {
            format!("packer-intermediary-{}", uuid::Uuid::new_v4())
        } else {
            c.ami_name.clone()
        };
        ctx.ui.say(&format!(
            "Creating AMI {name} from instance {}",
            instance.id
        ));
        let region = c.access.region.clone();
        let mut rec = journal::intend(ctx, &c.access, journal::IMAGE, &region, &name)?;
        let id = match st
            .ec2
            .create_image(
                &instance.id,
                &name,
                &c.ami_description,
                &c.ami_devices,
                &State::tagged(ctx, &Default::default()),
            )
            .await
        {
            Ok(id) => id,
            Err(e) => {
                journal::gone(ctx, &rec);
                return Err(Error::msg(format!("Error creating AMI: {e}")));
            }
        };
        journal::created(ctx, &mut rec, &id);
        self.records.push(rec);
        ctx.ui.message(&format!("AMI: {id}"));
        ctx.ui.say("Waiting for AMI to become ready...");
        let snapshots = wait_available(ctx, st.wait(), st.ec2.as_ref(), &id).await?;
        st.ec2
            .create_tags(&snapshots, &State::tagged(ctx, &Default::default()))
            .await?;
        st.amis.insert(region, id);
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        let what = "Deregistering the AMI and deleting associated snapshots because of cancellation, or error...";
        if settle_amis(ctx, st, o, &mut self.records, what).await {
            st.amis.clear();
        }
        Ok(())
    }
}
