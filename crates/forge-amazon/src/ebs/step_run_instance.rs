//! StepRunSourceInstance: launches the source instance and waits until it runs. When EC2 has
//! no capacity, forge falls back through the configured subnets, then the instance types
//! (`fallback_subnet_ids`, `fallback_instance_types`), in order. Cleanup terminates the
//! instance and waits until it is gone.

use std::collections::BTreeMap;

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::{BuildCtx, BuildData};
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::ec2::{ApiError, RunSpec};
use crate::journal;

pub(super) struct StepRunSourceInstance {
    pub record: Option<Resource>,
}

/// Tag values may use the source image's facts (`{{ .SourceAMI }}`, `{{ .BuildRegion }}`, ...).
pub fn render_tags(
    tags: &BTreeMap<String, String>,
    data: &BuildData,
) -> Result<BTreeMap<String, String>> {
    tags.iter()
        .map(|(k, v)| {
            let v = if v.contains("{{") {
                forge_core::render::render(v, data, &[])
                    .map_err(|e| Error::msg(format!("Error processing tag {k}: {e}")))?
            } else {
                v.clone()
            };
            Ok((k.clone(), v))
        })
        .collect()
}

/// The (instance type, subnet) pairs to try, in order.
fn attempts(types: &[String], subnets: &[String]) -> Vec<(String, String)> {
    let subnets: Vec<String> = if subnets.is_empty() {
        vec![String::new()]
    } else {
        subnets.to_vec()
    };
    types
        .iter()
        .flat_map(|t| subnets.iter().map(move |s| (t.clone(), s.clone())))
        .collect()
}

fn place(t: &str, s: &str) -> String {
    if s.is_empty() {
        t.to_string()
    } else {
        format!("{t} in {s}")
    }
}

#[async_trait]
impl Step<State> for StepRunSourceInstance {
    fn name(&self) -> &'static str {
        "StepRunSourceInstance"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let source = st
            .source
            .clone()
            .ok_or_else(|| Error::msg("no source AMI was resolved"))?;
        let spot = !c.spot_price.is_empty();
        ctx.ui.say(if spot {
            "Launching a spot AWS instance..."
        } else {
            "Launching a source AWS instance..."
        });
        let user_data = if c.user_data.is_empty() {
            String::new()
        } else {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(c.user_data.as_bytes())
        };
        let mut spec = RunSpec {
            image_id: source.id.clone(),
            key_name: st.key_name.clone(),
            security_group_ids: st.security_groups.clone(),
            availability_zone: c.availability_zone.clone(),
            iam_instance_profile: c.iam_instance_profile.clone(),
            user_data,
            ebs_optimized: c.ebs_optimized,
            block_devices: c.launch_devices.clone(),
            tags: State::tagged(ctx, &render_tags(&c.run_tags, &st.generated)?),
            volume_tags: State::tagged(ctx, &render_tags(&c.run_volume_tags, &st.generated)?),
            metadata: c.metadata.clone(),
            associate_public_ip: c.associate_public_ip,
            shutdown_behavior: c.shutdown_behavior.clone(),
            tenancy: c.tenancy.clone(),
            spot_price: spot.then(|| match c.spot_price.as_str() {
                "auto" => String::new(),
                p => p.to_string(),
            }),
            ..RunSpec::default()
        };
        spec.tags
            .entry("Name".into())
            .or_insert_with(|| "Packer Builder".into());
        let tries = attempts(&c.instance_types, &c.subnets);
        let mut last: Option<ApiError> = None;
        let mut launched = None;
        for (i, (ty, subnet)) in tries.iter().enumerate() {
            if let Some(e) = &last {
                ctx.ui.message(&format!(
                    "EC2 has no capacity for {} ({}); trying {}",
                    place(&tries[i - 1].0, &tries[i - 1].1),
                    e.code,
                    place(ty, subnet)
                ));
            }
            spec.instance_type = ty.clone();
            spec.subnet_id = subnet.clone();
            let mut rec = journal::intend(ctx, &c.access, journal::INSTANCE, &c.access.region, "")?;
            match st.ec2.run_instance(&spec).await {
                Ok(id) => {
                    journal::created(ctx, &mut rec, &id);
                    self.record = Some(rec);
                    launched = Some(id);
                    break;
                }
                Err(e) => {
                    journal::gone(ctx, &rec);
                    if e.is_capacity() {
                        last = Some(e);
                        continue;
                    }
                    return Err(Error::msg(format!("Error launching source instance: {e}")));
                }
            }
        }
        let Some(id) = launched else {
            let e = last.map(|e| e.to_string()).unwrap_or_default();
            return Err(Error::msg(format!(
                "Error launching source instance: no capacity for any of {}: {e}",
                tries
                    .iter()
                    .map(|(t, s)| place(t, s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        ctx.ui.say("Adding tags to source instance");
        for (k, v) in c.run_tags.iter().chain(
            (!c.run_tags.contains_key("Name"))
                .then_some((&"Name".to_string(), &"Packer Builder".to_string())),
        ) {
            ctx.ui.message(&format!("Adding tag: {k:?}: {v:?}"));
        }
        ctx.ui.message(&format!("Instance ID: {id}"));
        ctx.ui
            .say(&format!("Waiting for instance ({id}) to become ready..."));
        let ec2 = st.ec2.clone();
        let instance = st
            .wait()
            .until(ctx, &format!("instance {id} to run"), || async {
                match ec2.describe_instance(&id).await? {
                    Some(i) if i.state == "running" => Ok(Some(i)),
                    Some(i)
                        if ["shutting-down", "terminated", "stopped", "stopping"]
                            .contains(&i.state.as_str()) =>
                    {
                        Err(Error::msg(format!(
                            "Error waiting for instance ({id}) to become ready: the instance is {}",
                            i.state
                        )))
                    }
                    _ => Ok(None),
                }
            })
            .await?;
        // Packer shows the addresses in debug mode.
        if ctx.opts.debug {
            if !instance.public_dns.is_empty() {
                ctx.ui
                    .message(&format!("Public DNS: {}", instance.public_dns));
            }
            if !instance.public_ip.is_empty() {
                ctx.ui
                    .message(&format!("Public IP: {}", instance.public_ip));
            }
            ctx.ui
                .message(&format!("Private IP: {}", instance.private_ip));
        }
        st.instance = Some(instance);
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        let Some(rec) = journal::to_clean_up(ctx, &mut self.record) else {
            return Ok(());
        };
        ctx.ui.say("Terminating the source AWS instance...");
        match journal::terminate_all(st.ec2.as_ref(), std::slice::from_ref(&rec.id)).await {
            Ok(()) => journal::gone(ctx, &rec),
            Err(e) => ctx.ui.error(&format!(
                "Error terminating instance, may still be around: {e}"
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{launch, ops_only, run_tag, source, Fail, Fx};
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn launches_tagged_waits_until_running_and_terminates_at_cleanup() {
        let fx = Fx::new();
        fx.cloud.pending("running", Some(2));
        fx.cloud.pending("terminated", Some(1));
        let extra = json!({"run_tags": {"Team": "{{ .SourceAMIName }}"}});
        let mut st = fx.state(fx.config(extra).await).await;
        // What the steps before made: a security group.
        let sg = st
            .ec2
            .create_security_group("g", "d", "", &Default::default())
            .await
            .unwrap();
        st.security_groups = vec![sg.clone()];
        let mut steps = [source(), launch()];
        for s in steps.iter_mut() {
            s.run(&fx.ctx, &mut st).await.unwrap();
        }
        let i = st.instance.clone().unwrap();
        assert_eq!(i.state, "running");
        assert!(!i.public_ip.is_empty());
        let spec = fx.cloud.run_spec(&i.id).unwrap();
        assert_eq!(
            (spec.image_id.as_str(), spec.instance_type.as_str()),
            (fx.source.as_str(), "t3.micro")
        );
        assert_eq!(spec.security_group_ids, std::slice::from_ref(&sg));
        let (k, v) = run_tag();
        let tags = fx.cloud.tags_of(&i.id).unwrap();
        assert_eq!(tags.get("Team").map(String::as_str), Some("ubuntu-jammy"));
        assert_eq!(tags.get("Name").map(String::as_str), Some("Packer Builder"));
        assert_eq!(tags.get(&k), Some(&v));
        assert_eq!(spec.volume_tags.get(&k), Some(&v));
        assert_eq!(
            ops_only(&fx.cloud),
            [
                "CreateSecurityGroup",
                "DescribeImages",
                "RunInstances",
                "DescribeInstances",
                "DescribeInstances",
                "DescribeInstances"
            ]
        );
        steps[1]
            .cleanup(&fx.ctx, &mut st, Default::default())
            .await
            .unwrap();
        assert_eq!(
            fx.cloud.instance_state(&i.id).as_deref(),
            Some("terminated")
        );
        assert!(fx.cloud.ops().ends_with(&[
            format!("TerminateInstances {}", i.id),
            format!("DescribeInstances {}", i.id),
            format!("DescribeInstances {}", i.id),
        ]));
        // Only what this step made is gone.
        assert_eq!(fx.cloud.leftovers(), [format!("security group {sg}")]);
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn no_capacity_falls_back_to_the_next_type() {
        let fx = Fx::new();
        fx.cloud
            .fail("RunInstances", "InsufficientInstanceCapacity", Some(1));
        let extra = json!({"fallback_instance_types": ["t3.small"]});
        let mut st = fx.state(fx.config(extra).await).await;
        fx.run(&mut st, vec![source(), launch()]).await.unwrap();
        let i = st.instance.clone().unwrap();
        assert_eq!(i.instance_type, "t3.small");
        assert_eq!(
            fx.cloud
                .ops()
                .into_iter()
                .filter(|o| o.starts_with("RunInstances"))
                .collect::<Vec<_>>(),
            ["RunInstances t3.micro", "RunInstances t3.small"]
        );
        assert!(fx.said().contains(
            "EC2 has no capacity for t3.micro (InsufficientInstanceCapacity); trying t3.small"
        ));
        // The build succeeded: its cleanup still terminates the instance.
        assert_eq!(
            fx.cloud.instance_state(&i.id).as_deref(),
            Some("terminated")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_launch_names_the_step_and_terminates_nothing() {
        let fx = Fx::new();
        fx.cloud
            .fail("RunInstances", "InvalidParameterCombination", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx.failure(&mut st, vec![source(), launch()]).await;
        assert_eq!(
            e.to_string(),
            "Error launching source instance: EC2 RunInstances: InvalidParameterCombination: injected by the test"
        );
        assert_eq!(fx.cloud.count("TerminateInstances"), 0);
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_never_runs_times_out_and_is_terminated() {
        let fx = Fx::new();
        fx.cloud.pending("running", None);
        fx.cloud.pending("terminated", Some(3));
        let mut st = fx.state(fx.config(json!({})).await).await;
        let start = tokio::time::Instant::now();
        let e = fx.failure(&mut st, vec![source(), launch()]).await;
        let id = fx.cloud.instance_ids().pop().unwrap();
        assert_eq!(
            e.to_string(),
            format!("timed out after 2 minutes waiting for instance {id} to run (raise aws_polling or AWS_TIMEOUT_SECONDS)")
        );
        assert!(start.elapsed() >= std::time::Duration::from_secs(120));
        assert_eq!(fx.cloud.instance_state(&id).as_deref(), Some("terminated"));
        assert!(fx.said().contains("Terminating the source AWS instance..."));
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_dies_while_booting_fails_the_step() {
        let fx = Fx::new();
        fx.cloud.ends_as("running", "terminated");
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx.failure(&mut st, vec![source(), launch()]).await;
        let id = fx.cloud.instance_ids().pop().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "Error waiting for instance ({id}) to become ready: the instance is terminated"
            )
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_never_terminates_is_reported_and_stays_journaled() {
        let fx = Fx::new();
        fx.cloud.pending("terminated", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(&mut st, vec![source(), launch(), Box::new(Fail)])
            .await;
        assert_eq!(e.to_string(), "a later step failed");
        let id = st.instance.clone().unwrap().id;
        assert!(
            fx.said().contains(&format!(
                "Error terminating instance, may still be around: timed out after 10 minutes waiting for instance {id} to terminate"
            )),
            "{}",
            fx.said()
        );
        assert_eq!(fx.journaled(), [format!("{} {id}", journal::INSTANCE)]);
    }

    #[test]
    fn subnets_are_tried_before_the_next_type() {
        let t = attempts(&["a".into(), "b".into()], &["s1".into(), "s2".into()]);
        assert_eq!(
            t,
            [("a", "s1"), ("a", "s2"), ("b", "s1"), ("b", "s2")]
                .map(|(x, y)| (x.to_string(), y.to_string()))
        );
        assert_eq!(
            attempts(&["a".into()], &[]),
            [("a".to_string(), String::new())]
        );
    }
}
