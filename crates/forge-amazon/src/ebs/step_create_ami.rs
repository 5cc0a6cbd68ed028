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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{create_ami, launch, run_tag, source, stop, Fail, Fx, REGION};
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn makes_the_ami_waits_until_available_and_keeps_it_after_a_good_build() {
        let fx = Fx::new();
        fx.cloud.pending("available", Some(3));
        let extra = json!({"ami_description": "made by a test"});
        let mut st = fx.state(fx.config(extra).await).await;
        fx.run(&mut st, vec![source(), launch(), stop(), create_ami()])
            .await
            .unwrap();
        let [(region, id, state, _, _)] =
            fx.cloud.images_named("forge-test-ami").try_into().unwrap();
        assert_eq!((region.as_str(), state.as_str()), (REGION, "available"));
        assert_eq!(st.amis.get(REGION), Some(&id));
        let images = st
            .ec2
            .describe_images(std::slice::from_ref(&id), &[], &[])
            .await
            .unwrap();
        assert_eq!(images[0].description, "made by a test");
        // The AMI and its snapshots carry the run's tag; they stay, the instance goes.
        let (k, v) = run_tag();
        assert_eq!(fx.cloud.tags_of(&id).unwrap().get(&k), Some(&v));
        for s in &images[0].snapshots {
            assert_eq!(fx.cloud.tags_of(s).unwrap().get(&k), Some(&v));
        }
        let mut left = fx.cloud.leftovers();
        left.sort();
        let mut want = vec![format!("image {id}")];
        want.extend(images[0].snapshots.iter().map(|s| format!("snapshot {s}")));
        want.sort();
        assert_eq!(left, want);
        assert_eq!(fx.journaled(), Vec::<String>::new());
        assert_eq!(fx.cloud.count("DescribeImages"), 1 + 4 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_create_image_leaves_no_ami() {
        let fx = Fx::new();
        fx.cloud.fail("CreateImage", "InvalidParameterValue", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(&mut st, vec![source(), launch(), stop(), create_ami()])
            .await;
        assert_eq!(
            e.to_string(),
            "Error creating AMI: EC2 CreateImage: InvalidParameterValue: injected by the test"
        );
        assert!(fx.cloud.images_named("forge-test-ami").is_empty());
        assert!(st.amis.is_empty());
        assert_eq!(fx.cloud.count("DeregisterImage"), 0);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_ami_that_fails_is_deregistered_with_its_snapshots() {
        let fx = Fx::new();
        fx.cloud.ends_as("available", "failed");
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(&mut st, vec![source(), launch(), stop(), create_ami()])
            .await;
        let id = fx
            .cloud
            .ops()
            .iter()
            .find_map(|o| o.strip_prefix("DeregisterImage ").map(str::to_string))
            .unwrap();
        assert_eq!(
            e.to_string(),
            format!("Error waiting for AMI {id}: its state is failed")
        );
        assert!(fx.said().contains("Deregistering the AMI and deleting associated snapshots because of cancellation, or error..."));
        assert_eq!(fx.cloud.count("DeleteSnapshot"), 1);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_failure_removes_the_ami_and_its_snapshots() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![source(), launch(), stop(), create_ami(), Box::new(Fail)],
            )
            .await;
        assert_eq!(e.to_string(), "a later step failed");
        assert!(fx.cloud.images_named("forge-test-ami").is_empty());
        assert!(st.amis.is_empty());
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_that_keeps_its_resources_leaves_the_ami_journaled() {
        let mut fx = Fx::new();
        fx.ctx.opts.on_error = forge_core::plugin::OnError::Abort;
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![source(), launch(), stop(), create_ami(), Box::new(Fail)],
            )
            .await;
        assert_eq!(e.to_string(), "a later step failed");
        assert_eq!(fx.cloud.count("DeregisterImage"), 0);
        assert_eq!(fx.cloud.count("TerminateInstances"), 0);
        let kinds: Vec<String> = fx
            .journaled()
            .into_iter()
            .map(|r| r.split(' ').next().unwrap().to_string())
            .collect();
        assert_eq!(kinds, [journal::IMAGE, journal::INSTANCE]);
    }
}
