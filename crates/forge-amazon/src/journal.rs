//! Cloud resources in the run's journal: each is recorded (with its region and endpoint,
//! never a secret) before the call that creates it, gets its id once EC2 answers, and is
//! marked deleted when cleanup removes it. The [`Reclaimer`] removes what a dead run left:
//! by id, by the run's tag when the id never came back, or by name for AMI copies, signing
//! with the credentials of the build's configuration as cleanup evaluates it again (else the
//! standard chain: environment, profile, instance role).

use std::time::Duration;

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::registry::{Origin, ReclaimError, Reclaimer};
use forge_core::Result;
use forge_template::value::Value;

use crate::access::{Access, CREDENTIALS_HINT};
use crate::ec2::{ApiError, Ec2, RUN_TAG};

/// An instance.
pub const INSTANCE: &str = "aws-instance";
/// A key pair (id: its name).
pub const KEY_PAIR: &str = "aws-key-pair";
/// A security group.
pub const SECURITY_GROUP: &str = "aws-security-group";
/// An AMI and its snapshots.
pub const IMAGE: &str = "aws-ami";
/// Everything the run tagged in some regions, swept last.
pub const SCOPE: &str = "aws-run-scope";

/// Records that a `kind` is about to be created in `region`; `name` helps find it when its
/// id never came back.
pub fn intend(
    ctx: &BuildCtx,
    access: &Access,
    kind: &str,
    region: &str,
    name: &str,
) -> Result<Resource> {
    let mut data = access.journal_data(region);
    data["run"] = ctx.run_id.clone().into();
    data["name"] = name.into();
    ctx.journal.intend(&ctx.name, kind, "", data)
}

pub use forge_core::journal::{created, gone, to_clean_up};

/// Removes EC2 resources dead runs left.
pub struct AwsReclaimer;

fn ignore_missing(r: std::result::Result<(), ApiError>) -> std::result::Result<(), String> {
    match r {
        Err(e) if !e.is_not_found() => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Terminates instances and waits until they are gone (security groups can go only then).
pub async fn terminate_all(ec2: &dyn Ec2, ids: &[String]) -> std::result::Result<(), String> {
    for id in ids {
        ignore_missing(ec2.terminate_instance(id).await)?;
    }
    for id in ids {
        crate::wait::until_plain(
            Duration::from_secs(600),
            &format!("instance {id} to terminate"),
            || async {
                Ok(match ec2.describe_instance(id).await? {
                    None => Some(()),
                    Some(i) if i.state == "terminated" => Some(()),
                    Some(_) => None,
                })
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Deletes a security group, retrying while instances still hold it.
pub async fn delete_security_group(ec2: &dyn Ec2, id: &str) -> std::result::Result<(), String> {
    crate::wait::until_plain(
        Duration::from_secs(300),
        &format!("security group {id} to be deletable"),
        || async {
            match ec2.delete_security_group(id).await {
                Ok(()) => Ok(Some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) if e.code == "DependencyViolation" => Ok(None),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await
    .map_err(|e| e.to_string())
}

/// Deregisters an AMI and deletes its snapshots.
pub async fn delete_image(ec2: &dyn Ec2, id: &str) -> std::result::Result<Vec<String>, String> {
    let images = match ec2.describe_images(&[id.to_string()], &[], &[]).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    ignore_missing(ec2.deregister_image(id).await)?;
    let snaps: Vec<String> = images.into_iter().flat_map(|i| i.snapshots).collect();
    for s in &snaps {
        ignore_missing(ec2.delete_snapshot(s).await)?;
    }
    Ok(snaps)
}

async fn sweep(
    ec2: &dyn Ec2,
    run: &str,
    what: &mut Vec<String>,
) -> std::result::Result<(), String> {
    let e = |e: ApiError| e.to_string();
    let instances: Vec<String> = ec2
        .instances_tagged(RUN_TAG, run)
        .await
        .map_err(e)?
        .into_iter()
        .map(|i| i.id)
        .collect();
    terminate_all(ec2, &instances).await?;
    what.extend(instances.iter().map(|i| format!("instance {i}")));
    for k in ec2.key_pairs_tagged(RUN_TAG, run).await.map_err(e)? {
        ignore_missing(ec2.delete_key_pair(&k).await)?;
        what.push(format!("key pair {k}"));
    }
    for g in ec2.security_groups_tagged(RUN_TAG, run).await.map_err(e)? {
        delete_security_group(ec2, &g).await?;
        what.push(format!("security group {g}"));
    }
    let filter = [(format!("tag:{RUN_TAG}"), vec![run.to_string()])];
    for i in ec2
        .describe_images(&[], &["self".into()], &filter)
        .await
        .map_err(e)?
    {
        delete_image(ec2, &i.id).await?;
        what.push(format!("AMI {}", i.id));
    }
    for s in ec2.snapshots_tagged(RUN_TAG, run).await.map_err(e)? {
        ignore_missing(ec2.delete_snapshot(&s).await)?;
        what.push(format!("snapshot {s}"));
    }
    for v in ec2.volumes_tagged(RUN_TAG, run).await.map_err(e)? {
        ignore_missing(ec2.delete_volume(&v).await)?;
        what.push(format!("volume {v}"));
    }
    Ok(())
}

/// The access to remove `r` with: the journal's region and endpoint, and the credentials of
/// the configuration of the build that created it, when an Amazon builder's is known.
async fn access_for(r: &Resource, origin: &Origin) -> std::result::Result<Access, ReclaimError> {
    let journal = Access::from_journal(&r.data);
    let mut access = match amazon_config(origin) {
        None => journal.clone(),
        Some(c) => Access::from_config(c).map_err(|e| {
            ReclaimError::Failed(format!("the configuration of build {}: {e}", origin.build))
        })?,
    };
    access.region = journal.region;
    if !journal.endpoint.is_empty() {
        access.endpoint = journal.endpoint;
    }
    access.skip_region_validation = true;
    access
        .check_credentials()
        .await
        .map_err(|reason| ReclaimError::NoCredentials {
            reason,
            hint: CREDENTIALS_HINT.into(),
        })?;
    Ok(access)
}

fn amazon_config(origin: &Origin) -> Option<&Value> {
    origin
        .config
        .as_ref()
        .filter(|_| origin.builder_type.starts_with("amazon-"))
}

#[async_trait]
impl Reclaimer for AwsReclaimer {
    fn kinds(&self) -> &'static [&'static str] {
        &[INSTANCE, KEY_PAIR, SECURITY_GROUP, IMAGE, SCOPE]
    }

    fn secrets(&self, config: &Value) -> Vec<String> {
        Access::from_config(config)
            .map(|a| a.secrets())
            .unwrap_or_default()
    }

    async fn reclaim(
        &self,
        r: &Resource,
        origin: &Origin,
    ) -> std::result::Result<(), ReclaimError> {
        let access = access_for(r, origin).await?;
        let run = r.data["run"].as_str().unwrap_or_default();
        let name = r.data["name"].as_str().unwrap_or_default();
        if r.kind == SCOPE {
            for region in r.data["regions"].as_array().cloned().unwrap_or_default() {
                let ec2 = access.ec2(region.as_str().unwrap_or_default()).await;
                sweep(ec2.as_ref(), run, &mut Vec::new()).await?;
            }
            return Ok(());
        }
        let ec2 = access.ec2("").await;
        let ec2 = ec2.as_ref();
        let e = |e: ApiError| e.to_string();
        match r.kind.as_str() {
            INSTANCE => {
                let ids = if r.id.is_empty() {
                    ec2.instances_tagged(RUN_TAG, run)
                        .await
                        .map_err(e)?
                        .into_iter()
                        .map(|i| i.id)
                        .collect()
                } else {
                    vec![r.id.clone()]
                };
                Ok(terminate_all(ec2, &ids).await?)
            }
            KEY_PAIR => {
                let key = if r.id.is_empty() { name } else { &r.id };
                Ok(ignore_missing(ec2.delete_key_pair(key).await)?)
            }
            SECURITY_GROUP => {
                let ids = if r.id.is_empty() {
                    ec2.security_groups_tagged(RUN_TAG, run).await.map_err(e)?
                } else {
                    vec![r.id.clone()]
                };
                for g in ids {
                    delete_security_group(ec2, &g).await?;
                }
                Ok(())
            }
            IMAGE => {
                let ids = if r.id.is_empty() {
                    // The copy's id never came back: AMI names are unique per region.
                    let f = [("name".to_string(), vec![name.to_string()])];
                    ec2.describe_images(&[], &["self".into()], &f)
                        .await
                        .map_err(e)?
                        .into_iter()
                        .map(|i| i.id)
                        .collect()
                } else {
                    vec![r.id.clone()]
                };
                for id in ids {
                    delete_image(ec2, &id).await?;
                }
                Ok(())
            }
            k => Err(format!("no reclaimer for {k}").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::RunSpec;
    use crate::fake::FakeCloud;
    use std::collections::BTreeMap;

    fn run_tags(run: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(RUN_TAG.to_string(), run.to_string())])
    }

    #[tokio::test(start_paused = true)]
    async fn a_security_group_is_deleted_once_the_instance_holding_it_is_gone() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        let ec2 = cloud.ec2("us-east-1");
        let image = cloud.add_image("us-east-1", "base", "amazon");
        let sg = ec2
            .create_security_group("g", "d", "", &BTreeMap::new())
            .await
            .unwrap();
        let spec = RunSpec {
            image_id: image,
            security_group_ids: vec![sg.clone()],
            ..RunSpec::default()
        };
        let id = ec2.run_instance(&spec).await.unwrap();
        let other = ec2.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(20)).await;
            terminate_all(other.as_ref(), &[id]).await.unwrap();
        });
        let start = tokio::time::Instant::now();
        delete_security_group(ec2.as_ref(), &sg).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(20));
        assert!(cloud.count("DeleteSecurityGroup") > 2);
        assert_eq!(cloud.leftovers(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn what_is_already_gone_is_not_an_error() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        let ec2 = cloud.ec2("us-east-1");
        delete_security_group(ec2.as_ref(), "sg-gone")
            .await
            .unwrap();
        assert_eq!(
            delete_image(ec2.as_ref(), "ami-gone").await.unwrap(),
            Vec::<String>::new()
        );
        terminate_all(ec2.as_ref(), &["i-gone".to_string()])
            .await
            .unwrap();
        cloud.fail("DeregisterImage", "UnauthorizedOperation", None);
        let image = cloud.add_image("us-east-1", "base", crate::fake::ACCOUNT);
        assert_eq!(
            delete_image(ec2.as_ref(), &image).await.unwrap_err(),
            "EC2 DeregisterImage: UnauthorizedOperation: injected by the test"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_removes_everything_tagged_with_the_run_and_nothing_else() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("terminated", Some(2));
        let ec2 = cloud.ec2("us-east-1");
        let image = cloud.add_image("us-east-1", "base", "amazon");
        let mine = run_tags("run-1");
        ec2.create_key_pair("k1", "ed25519", &mine).await.unwrap();
        ec2.create_key_pair("k2", "ed25519", &run_tags("run-2"))
            .await
            .unwrap();
        let sg = ec2
            .create_security_group("g", "d", "", &mine)
            .await
            .unwrap();
        let spec = RunSpec {
            image_id: image,
            security_group_ids: vec![sg],
            tags: mine.clone(),
            volume_tags: mine.clone(),
            block_devices: vec![crate::ec2::BlockDevice {
                device_name: "/dev/sdb".into(),
                ..Default::default()
            }],
            ..RunSpec::default()
        };
        let id = ec2.run_instance(&spec).await.unwrap();
        ec2.describe_instance(&id).await.unwrap();
        let ami = ec2.create_image(&id, "made", "", &[], &mine).await.unwrap();
        let mut what = Vec::new();
        sweep(ec2.as_ref(), "run-1", &mut what).await.unwrap();
        assert_eq!(cloud.leftovers(), ["key pair k2"]);
        assert_eq!(what[0], format!("instance {id}"));
        assert!(what.contains(&"key pair k1".to_string()));
        assert!(what.contains(&format!("AMI {ami}")));
        assert!(
            what.iter().any(|w| w.starts_with("volume vol-")),
            "{what:?}"
        );
    }
}
