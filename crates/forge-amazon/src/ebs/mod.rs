//! The `amazon-ebs` builder: launches an instance from a source AMI, provisions it over SSH,
//! stops it and registers an AMI of it, copied to `ami_regions`. Steps and cleanup order
//! follow Packer's builder/ebs/builder.go; every resource is journaled and tagged with the
//! run's id so `forge cleanup` finds it after a crash.

mod artifact;
mod config;
#[cfg(test)]
mod fixture;
mod step_ami_copy;
mod step_cleanup_volumes;
mod step_connect;
mod step_create_ami;
mod step_deregister;
mod step_get_password;
mod step_key_pair;
mod step_pre_validate;
mod step_run_instance;
mod step_scope;
mod step_security_group;
mod step_source_ami;
mod step_stop;
mod step_tags;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{
    hook_data, ProvisionState, StepCleanupTempKeys, StepProvision, TempKeyState,
};
use forge_core::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo, TempKey};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::Result;
use forge_template::value::Value;

use crate::ec2::{Ec2, Image, Instance, RUN_TAG};
use crate::wait::Wait;

pub use artifact::AmiArtifact;
pub use config::{check_ami_name, AmiFilter, Config};
pub use step_source_ami::find_image;

/// Packer's builder id for amazon-ebs.
pub const BUILDER_ID: &str = "mitchellh.amazonebs";

/// The builder.
pub struct EbsBuilder {
    config: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    Ok(Box::new(EbsBuilder {
        config: Config::prepare(v, info)?,
        info: info.clone(),
    }))
}

/// What the steps share.
pub struct State {
    /// The configuration.
    pub config: Arc<Config>,
    /// EC2 in the build region.
    pub ec2: Arc<dyn Ec2>,
    /// The source AMI.
    pub source: Option<Image>,
    /// The key pair the instance is launched with.
    pub key_name: String,
    /// The temporary key, when forge made one.
    pub temp_key: Option<TempKey>,
    /// The security groups of the instance.
    pub security_groups: Vec<String>,
    /// The running instance.
    pub instance: Option<Instance>,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// The administrator password GetPasswordData gave (over WinRM without `winrm_password`).
    pub winrm_password: Option<String>,
    /// AMIs made, by region.
    pub amis: BTreeMap<String, String>,
    /// Generated data (`SourceAMI`, `SourceAMIName`, ...).
    pub generated: BuildData,
}

impl State {
    /// The state of a build with configuration `config`, before its first step.
    pub fn new(config: Arc<Config>, ec2: Arc<dyn Ec2>) -> State {
        State {
            config,
            ec2,
            source: None,
            key_name: String::new(),
            temp_key: None,
            security_groups: Vec::new(),
            instance: None,
            comm: None,
            winrm_password: None,
            amis: BTreeMap::new(),
            generated: BuildData::new(),
        }
    }

    /// How long and how often to wait for EC2.
    pub fn wait(&self) -> Wait {
        Wait {
            deadline: self.config.wait,
            fixed: self.config.poll,
        }
    }

    /// Tags for a resource forge creates: the user's, plus the run's id.
    pub fn tagged(ctx: &BuildCtx, user: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut t = user.clone();
        t.insert(RUN_TAG.into(), ctx.run_id.clone());
        t
    }
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        hook_data(
            ctx,
            self.instance.as_ref().map(|i| i.id.as_str()),
            None,
            &self.generated,
        )
    }
}

impl TempKeyState for State {
    fn temp_key_slot(&mut self) -> &mut Option<TempKey> {
        &mut self.temp_key
    }
}

#[async_trait]
impl Builder for EbsBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = Arc::new(self.config.clone());
        for s in c.access.secrets() {
            ctx.ui.output().redactor().add(&s);
        }
        let mut state = State::new(c.clone(), c.access.ec2("").await);
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(step_scope::StepRunScope { scope: None }),
            Box::new(step_pre_validate::StepPreValidate),
            Box::new(step_source_ami::StepSourceAmiInfo),
            Box::new(step_key_pair::StepKeyPair { record: None }),
            Box::new(step_security_group::StepSecurityGroup { record: None }),
            Box::new(step_cleanup_volumes::StepCleanupVolumes),
            Box::new(step_run_instance::StepRunSourceInstance { record: None }),
            Box::new(step_get_password::StepGetPassword {
                poll: c.poll.unwrap_or(step_get_password::POLL),
            }),
        ];
        if !c.comm.is_none() {
            steps.push(step_connect::step(&c, &self.info));
        }
        steps.push(Box::new(StepProvision { hook }));
        steps.push(Box::new(StepCleanupTempKeys {
            clear: c.comm.ssh().is_some_and(|s| s.clear_authorized_keys),
        }));
        if !c.disable_stop_instance {
            steps.push(Box::new(step_stop::StepStopInstance));
        }
        steps.push(Box::new(step_deregister::StepDeregisterAmi));
        if !c.skip_create_ami {
            steps.push(Box::new(step_create_ami::StepCreateAmi {
                records: Vec::new(),
            }));
            steps.push(Box::new(step_ami_copy::StepAmiRegionCopy {
                records: Vec::new(),
            }));
            steps.push(Box::new(step_tags::StepCreateTags));
        }
        run_steps(ctx, &mut state, &mut steps).await?;
        if state.amis.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(AmiArtifact {
            amis: state.amis.clone(),
            access: c.access.clone(),
            generated: state.generated.clone(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{self, Fx};
    use super::*;
    use forge_core::plugin::Communicator;
    use serde_json::json;
    use std::time::Duration;

    /// Provisioners that succeed, or fail.
    struct Provisioners(bool);

    #[async_trait]
    impl Hook for Provisioners {
        async fn provision(
            &self,
            _ctx: &BuildCtx,
            _comm: Option<Arc<dyn Communicator>>,
            _data: &BuildData,
        ) -> Result<()> {
            if self.0 {
                Ok(())
            } else {
                Err(forge_core::Error::msg(
                    "Script exited with non-zero exit status: 1",
                ))
            }
        }
        async fn cleanup_provision(
            &self,
            _ctx: &BuildCtx,
            _comm: Option<Arc<dyn Communicator>>,
            _data: &BuildData,
        ) -> Result<()> {
            Ok(())
        }
    }

    async fn build(
        fx: &Fx,
        extra: serde_json::Value,
        provisioners_pass: bool,
    ) -> Result<Option<Arc<dyn Artifact>>> {
        let b = EbsBuilder {
            config: fx.config(extra).await,
            info: fixture::info(),
        };
        b.run(&fx.ctx, Arc::new(Provisioners(provisioners_pass)))
            .await
    }

    /// The calls that change something, in order.
    fn changes(fx: &Fx) -> Vec<&'static str> {
        fx.cloud
            .calls()
            .iter()
            .map(|c| c.op)
            .filter(|op| !op.starts_with("Describe"))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_good_build_leaves_only_its_amis() {
        let fx = Fx::new();
        fx.cloud.pending("running", Some(2));
        fx.cloud.pending("available", Some(3));
        let a = build(&fx, json!({"ami_regions": ["us-west-2"]}), true)
            .await
            .unwrap()
            .unwrap();
        let mut want: Vec<String> = fx
            .cloud
            .images_named("forge-test-ami")
            .into_iter()
            .map(|(region, id, ..)| format!("{region}:{id}"))
            .collect();
        want.sort();
        assert_eq!(a.id(), want.join(","));
        let left = fx.cloud.leftovers();
        assert_eq!(
            left.iter().filter(|l| l.starts_with("image ")).count(),
            2,
            "{left:?}"
        );
        assert!(
            left.iter()
                .all(|l| l.starts_with("image ") || l.starts_with("snapshot ")),
            "{left:?}"
        );
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_failing_midway_removes_everything_it_made() {
        let fx = Fx::new();
        fx.cloud.pending("available", Some(1));
        fx.cloud.pending("terminated", Some(2));
        fx.cloud
            .fail_in("us-west-2", "CopyImage", "InvalidRequest", None);
        let e = build(&fx, json!({"ami_regions": ["us-west-2"]}), true)
            .await
            .err()
            .unwrap();
        assert!(
            e.to_string().starts_with("Error Copying AMI (ami-")
                && e.to_string().ends_with(
                    ") to region (us-west-2): EC2 CopyImage: InvalidRequest: injected by the test"
                ),
            "{e}"
        );
        assert_eq!(
            changes(&fx),
            [
                "CreateSecurityGroup",
                "AuthorizeSecurityGroupIngress",
                "RunInstances",
                "StopInstances",
                "CreateImage",
                "CreateTags",
                "CopyImage",
                "DeregisterImage",
                "DeleteSnapshot",
                "TerminateInstances",
                "DeleteSecurityGroup",
            ]
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_provisioner_terminates_the_instance_and_removes_the_temporaries() {
        let fx = Fx::new();
        let extra = json!({"launch_block_device_mappings": [
            {"device_name": "/dev/sdb", "volume_size": 10, "delete_on_termination": false}]});
        let e = build(&fx, extra, false).await.err().unwrap();
        assert_eq!(e.to_string(), "Script exited with non-zero exit status: 1");
        assert_eq!(fx.cloud.count("CreateImage"), 0);
        assert_eq!(fx.cloud.count("DeleteVolume"), 1);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_never_runs_fails_the_build_and_the_key_pair_goes_too() {
        let fx = Fx::new();
        fx.cloud.pending("running", None);
        let extra = json!({"communicator": "ssh", "ssh_username": "ubuntu",
            "temporary_key_pair_type": "ed25519"});
        let e = build(&fx, extra, true).await.err().unwrap();
        assert!(
            e.to_string()
                .starts_with("timed out after 2 minutes waiting for instance i-"),
            "{e}"
        );
        assert_eq!(fx.cloud.count("CreateKeyPair"), 1);
        assert_eq!(fx.cloud.count("DeleteKeyPair"), 1);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupted_build_stops_waiting_and_removes_everything() {
        let fx = Fx::new();
        fx.cloud.pending("available", None);
        let cancel = fx.ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            cancel.cancel();
        });
        let start = tokio::time::Instant::now();
        let e = build(&fx, json!({}), true).await.err().unwrap();
        assert_eq!(e, forge_core::Error::Cancelled);
        assert!(
            start.elapsed() < Duration::from_secs(31),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(fx.cloud.count("DeregisterImage"), 1);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
        assert!(fx.cloud.images_named("forge-test-ami").is_empty());
    }
}
