//! A fake EC2 for tests: one account's instances, volumes, images, snapshots, key pairs,
//! security groups and tags across regions, behind the [`Ec2`] trait. It records every call
//! in order and can be programmed: a state change takes N polls (or never comes, or ends in
//! another state), and any call fails N times (or always) with a given error code. With
//! [`FakeCloud::retry_like_sdk`] each call goes through [`retrying`], as `SdkEc2`'s do.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::time::Instant;

use crate::ec2::{retrying, ApiError, BlockDevice, Ec2, Image, Instance, RunSpec};
use crate::limiter::Limiter;

/// The fake account's id (what `self` means for owners).
pub const ACCOUNT: &str = "123456789012";

type Tags = BTreeMap<String, String>;

/// One call as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The region it went to.
    pub region: String,
    /// The API operation (`RunInstances`).
    pub op: &'static str,
    /// What it was about (an id or a name), or empty.
    pub arg: String,
    /// When, on tokio's clock.
    pub at: Instant,
}

/// A state that becomes `to` after `polls` more describes (`None`: never).
#[derive(Debug, Clone)]
struct Change {
    to: String,
    polls: Option<u32>,
}

#[derive(Debug)]
struct Inst {
    region: String,
    spec: RunSpec,
    state: String,
    change: Option<Change>,
    tags: Tags,
    volumes: Vec<String>,
    n: u64,
}

#[derive(Debug)]
struct Vol {
    region: String,
    tags: Tags,
    attached: Option<String>,
    delete_on_termination: bool,
}

#[derive(Debug)]
struct Img {
    region: String,
    name: String,
    description: String,
    owner: String,
    state: String,
    change: Option<Change>,
    tags: Tags,
    snapshots: Vec<String>,
    encrypted: bool,
    kms_key_id: String,
}

#[derive(Debug)]
struct Group {
    region: String,
    name: String,
    vpc: String,
    tags: Tags,
    ingress: Vec<(u16, Vec<String>)>,
}

#[derive(Debug)]
struct Fault {
    region: Option<String>,
    op: &'static str,
    code: String,
    left: Option<u32>,
}

/// The model behind every region's client.
#[derive(Debug, Default)]
struct World {
    next: u64,
    regions: Vec<String>,
    calls: Vec<Call>,
    faults: Vec<Fault>,
    delays: HashMap<String, Option<u32>>,
    ends_as: HashMap<String, String>,
    seeded: BTreeSet<String>,
    instances: BTreeMap<String, Inst>,
    volumes: BTreeMap<String, Vol>,
    images: BTreeMap<String, Img>,
    snapshots: BTreeMap<String, (String, Tags)>,
    key_pairs: BTreeMap<(String, String), Tags>,
    groups: BTreeMap<String, Group>,
    subnets: BTreeMap<String, String>,
    /// `GetPasswordData` answers by instance id (empty when unset).
    passwords: BTreeMap<String, String>,
}

/// An error the fake answers with (its operation is filled in by the call).
fn refuse(code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        op: "",
        code: code.to_string(),
        message: message.into(),
    }
}

/// `*` matches any run of characters, as EC2's filters do.
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            let Some(tail) = s.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// Advances a pending state by one poll; returns the state reached, if any.
fn poll(state: &mut String, change: &mut Option<Change>) -> Option<String> {
    let c = change.as_mut()?;
    match c.polls {
        Some(0) => {
            *state = c.to.clone();
            *change = None;
            Some(state.clone())
        }
        Some(n) => {
            c.polls = Some(n - 1);
            None
        }
        None => None,
    }
}

impl World {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}-{:08x}", self.next)
    }

    /// The change towards `target`, as programmed.
    fn change(&self, target: &str) -> Option<Change> {
        Some(Change {
            to: self
                .ends_as
                .get(target)
                .cloned()
                .unwrap_or_else(|| target.to_string()),
            polls: self.delays.get(target).copied().unwrap_or(Some(0)),
        })
    }

    fn fault(&mut self, region: &str, op: &str) -> Option<String> {
        let f = self.faults.iter_mut().find(|f| {
            f.op == op && f.left != Some(0) && f.region.as_deref().is_none_or(|r| r == region)
        })?;
        if let Some(n) = f.left.as_mut() {
            *n -= 1;
        }
        Some(f.code.clone())
    }

    fn poll_instance(&mut self, id: &str) {
        let Some(i) = self.instances.get_mut(id) else {
            return;
        };
        if poll(&mut i.state, &mut i.change).as_deref() == Some("terminated") {
            for v in i.volumes.clone() {
                let delete = self
                    .volumes
                    .get(&v)
                    .is_some_and(|v| v.delete_on_termination);
                if delete {
                    self.volumes.remove(&v);
                } else if let Some(v) = self.volumes.get_mut(&v) {
                    v.attached = None;
                }
            }
        }
    }

    fn instance(&self, id: &str) -> Result<&Inst, ApiError> {
        self.instances.get(id).ok_or_else(|| {
            refuse(
                "InvalidInstanceID.NotFound",
                format!("The instance ID '{id}' does not exist"),
            )
        })
    }

    fn view(&self, id: &str, i: &Inst) -> Instance {
        let up = !matches!(i.state.as_str(), "terminated" | "shutting-down");
        Instance {
            id: id.to_string(),
            state: i.state.clone(),
            public_ip: if up {
                format!("203.0.113.{}", i.n % 250 + 1)
            } else {
                String::new()
            },
            private_ip: format!("10.0.0.{}", i.n % 250 + 1),
            public_dns: String::new(),
            private_dns: String::new(),
            instance_type: i.spec.instance_type.clone(),
            lifecycle: if i.spec.spot_price.is_some() {
                "spot".into()
            } else {
                String::new()
            },
            subnet_id: i.spec.subnet_id.clone(),
            vpc_id: self
                .subnets
                .get(&i.spec.subnet_id)
                .cloned()
                .unwrap_or_default(),
            availability_zone: format!("{}a", i.region),
            volumes: i.volumes.clone(),
        }
    }

    fn image_view(&self, id: &str, i: &Img) -> Image {
        let alias = (i.owner != ACCOUNT).then(|| i.owner.clone());
        Image {
            id: id.to_string(),
            name: i.name.clone(),
            owner_id: if alias.is_some() {
                "137112412989".into()
            } else {
                ACCOUNT.into()
            },
            owner_alias: alias.unwrap_or_default(),
            creation_date: "2026-01-01T00:00:00.000Z".into(),
            state: i.state.clone(),
            description: i.description.clone(),
            architecture: "x86_64".into(),
            root_device_type: "ebs".into(),
            root_device_name: "/dev/sda1".into(),
            virtualization_type: "hvm".into(),
            tags: i.tags.clone(),
            snapshots: i.snapshots.clone(),
        }
    }

    fn image_matches(i: &Img, owners: &[String], filters: &[(String, Vec<String>)]) -> bool {
        let owned = owners.is_empty()
            || owners
                .iter()
                .any(|o| *o == i.owner || (o == "self" && i.owner == ACCOUNT));
        owned
            && filters.iter().all(|(k, vs)| {
                let have = match k.strip_prefix("tag:") {
                    Some(t) => i.tags.get(t).cloned(),
                    None if k == "name" => Some(i.name.clone()),
                    None if k == "state" => Some(i.state.clone()),
                    None => None,
                };
                have.is_some_and(|h| vs.iter().any(|v| glob(v, &h)))
            })
    }

    /// Registers a pending image of `n` new snapshots in `region`: its id.
    fn register(
        &mut self,
        region: &str,
        name: &str,
        description: &str,
        n: usize,
        tags: &Tags,
    ) -> String {
        let id = self.id("ami");
        let snapshots = self.snapshot(region, n);
        let change = self.change("available");
        self.images.insert(
            id.clone(),
            Img {
                region: region.into(),
                name: name.into(),
                description: description.into(),
                owner: ACCOUNT.into(),
                state: "pending".into(),
                change,
                tags: tags.clone(),
                snapshots,
                encrypted: false,
                kms_key_id: String::new(),
            },
        );
        id
    }

    /// Makes snapshots for an image in `region`.
    fn snapshot(&mut self, region: &str, n: usize) -> Vec<String> {
        (0..n.max(1))
            .map(|_| {
                let id = self.id("snap");
                self.snapshots
                    .insert(id.clone(), (region.to_string(), Tags::new()));
                id
            })
            .collect()
    }
}

/// One account across regions; [`FakeCloud::ec2`] gives a region's client.
#[derive(Debug, Default)]
pub struct FakeCloud {
    world: Mutex<World>,
    retry: Mutex<Option<(Arc<Limiter>, u32)>>,
}

impl FakeCloud {
    /// An account with `regions` (each has a default VPC and subnet `subnet-default`).
    pub fn new(regions: &[&str]) -> Arc<FakeCloud> {
        let c = FakeCloud::default();
        {
            let mut w = c.lock();
            w.regions = regions.iter().map(|r| r.to_string()).collect();
            w.subnets
                .insert("subnet-default".into(), "vpc-default".into());
        }
        Arc::new(c)
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client of `region`.
    pub fn ec2(self: &Arc<Self>, region: &str) -> Arc<FakeEc2> {
        Arc::new(FakeEc2 {
            cloud: self.clone(),
            region: region.to_string(),
        })
    }

    /// Every call from now on goes through `SdkEc2`'s retry loop with this limiter.
    pub fn retry_like_sdk(&self, limiter: Arc<Limiter>, max_retries: u32) {
        *self.retry.lock().unwrap_or_else(|e| e.into_inner()) = Some((limiter, max_retries));
    }

    /// An image that exists before the run (not a leftover): its id.
    pub fn add_image(&self, region: &str, name: &str, owner: &str) -> String {
        let mut w = self.lock();
        let id = w.register(region, name, "", 1, &Tags::new());
        if let Some(i) = w.images.get_mut(&id) {
            i.owner = owner.into();
            i.state = "available".into();
            i.change = None;
            let snapshots = i.snapshots.clone();
            w.seeded.extend(snapshots);
        }
        w.seeded.insert(id.clone());
        id
    }

    /// A subnet of `vpc`, existing before the run.
    pub fn add_subnet(&self, subnet: &str, vpc: &str) {
        self.lock().subnets.insert(subnet.into(), vpc.into());
    }

    /// Reaching `target` (`running`, `stopped`, `terminated`, `available`) takes `polls`
    /// describes that still show the state before (`None`: it never comes).
    pub fn pending(&self, target: &str, polls: Option<u32>) {
        self.lock().delays.insert(target.into(), polls);
    }

    /// What should become `target` becomes `instead` (an image `failed`).
    pub fn ends_as(&self, target: &str, instead: &str) {
        self.lock().ends_as.insert(target.into(), instead.into());
    }

    /// `GetPasswordData` for `instance` answers `data` (base64 of the encrypted password).
    pub fn set_password_data(&self, instance: &str, data: &str) {
        self.lock().passwords.insert(instance.into(), data.into());
    }

    /// `op` fails with `code` the next `times` calls (`None`: every call).
    pub fn fail(&self, op: &'static str, code: &str, times: Option<u32>) {
        self.lock().faults.push(Fault {
            region: None,
            op,
            code: code.into(),
            left: times,
        });
    }

    /// [`fail`](FakeCloud::fail), in `region` only.
    pub fn fail_in(&self, region: &str, op: &'static str, code: &str, times: Option<u32>) {
        self.lock().faults.push(Fault {
            region: Some(region.into()),
            op,
            code: code.into(),
            left: times,
        });
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The operations called so far, in order, with what each was about (`TerminateInstances
    /// i-00000004`).
    pub fn ops(&self) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .map(|c| {
                if c.arg.is_empty() {
                    c.op.to_string()
                } else {
                    format!("{} {}", c.op, c.arg)
                }
            })
            .collect()
    }

    /// How many times `op` was called.
    pub fn count(&self, op: &str) -> usize {
        self.lock().calls.iter().filter(|c| c.op == op).count()
    }

    /// What exists that the run made (terminated instances are gone), one line each.
    pub fn leftovers(&self) -> Vec<String> {
        let w = self.lock();
        let fresh = |id: &String| !w.seeded.contains(id);
        let mut out = Vec::new();
        for (id, i) in &w.instances {
            if i.state != "terminated" {
                out.push(format!("instance {id} ({})", i.state));
            }
        }
        out.extend(w.volumes.keys().map(|id| format!("volume {id}")));
        out.extend(
            w.images
                .keys()
                .filter(|i| fresh(i))
                .map(|id| format!("image {id}")),
        );
        out.extend(
            w.snapshots
                .keys()
                .filter(|i| fresh(i))
                .map(|id| format!("snapshot {id}")),
        );
        out.extend(w.key_pairs.keys().map(|(_, k)| format!("key pair {k}")));
        out.extend(w.groups.keys().map(|id| format!("security group {id}")));
        out
    }

    /// The state of an instance, if it exists.
    pub fn instance_state(&self, id: &str) -> Option<String> {
        self.lock().instances.get(id).map(|i| i.state.clone())
    }

    /// Every instance launched, in order.
    pub fn instance_ids(&self) -> Vec<String> {
        self.lock().instances.keys().cloned().collect()
    }

    /// What an instance was launched with.
    pub fn run_spec(&self, id: &str) -> Option<RunSpec> {
        self.lock().instances.get(id).map(|i| i.spec.clone())
    }

    /// The images by name, with (region, id, state, encrypted, kms key).
    pub fn images_named(&self, name: &str) -> Vec<(String, String, String, bool, String)> {
        self.lock()
            .images
            .iter()
            .filter(|(_, i)| i.name == name)
            .map(|(id, i)| {
                (
                    i.region.clone(),
                    id.clone(),
                    i.state.clone(),
                    i.encrypted,
                    i.kms_key_id.clone(),
                )
            })
            .collect()
    }

    /// The tags of any resource (an instance, image, snapshot, volume, group) by id.
    pub fn tags_of(&self, id: &str) -> Option<Tags> {
        let w = self.lock();
        w.instances
            .get(id)
            .map(|i| i.tags.clone())
            .or_else(|| w.images.get(id).map(|i| i.tags.clone()))
            .or_else(|| w.snapshots.get(id).map(|s| s.1.clone()))
            .or_else(|| w.volumes.get(id).map(|v| v.tags.clone()))
            .or_else(|| w.groups.get(id).map(|g| g.tags.clone()))
    }

    /// The ingress rules of a security group: (port, cidrs).
    pub fn ingress_of(&self, id: &str) -> Vec<(u16, Vec<String>)> {
        self.lock()
            .groups
            .get(id)
            .map(|g| g.ingress.clone())
            .unwrap_or_default()
    }
}

/// One region's client of a [`FakeCloud`].
#[derive(Debug)]
pub struct FakeEc2 {
    cloud: Arc<FakeCloud>,
    region: String,
}

impl FakeEc2 {
    /// One attempt: recorded, then failed as programmed, else `f` on the model.
    fn once<T>(
        &self,
        op: &'static str,
        arg: &str,
        f: &impl Fn(&mut World, &str) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut w = self.cloud.lock();
        w.calls.push(Call {
            region: self.region.clone(),
            op,
            arg: arg.to_string(),
            at: Instant::now(),
        });
        let r = match w.fault(&self.region, op) {
            Some(code) => Err(refuse(&code, "injected by the test")),
            None => f(&mut w, &self.region),
        };
        r.map_err(|e| ApiError { op, ..e })
    }

    /// A call, retried as `SdkEc2` does when the cloud says so.
    async fn call<T: Send>(
        &self,
        op: &'static str,
        arg: &str,
        f: impl Fn(&mut World, &str) -> Result<T, ApiError> + Send + Sync,
    ) -> Result<T, ApiError> {
        let retry = self
            .cloud
            .retry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let attempt = || std::future::ready(self.once(op, arg, &f));
        match retry {
            Some((limiter, max)) => retrying(&limiter, max, attempt).await,
            None => attempt().await,
        }
    }

    fn tagged(tags: &Tags, key: &str, value: &str) -> bool {
        tags.get(key).is_some_and(|v| v == value)
    }
}

fn in_region<'a, V: 'a>(
    m: &'a BTreeMap<String, V>,
    region: &'a str,
    r: impl Fn(&V) -> &str + 'a,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    m.iter().filter(move |(_, v)| r(v) == region)
}

#[async_trait]
impl Ec2 for FakeEc2 {
    fn region(&self) -> &str {
        &self.region
    }

    async fn describe_regions(&self) -> Result<Vec<String>, ApiError> {
        self.call("DescribeRegions", "", |w, _| Ok(w.regions.clone()))
            .await
    }

    async fn describe_images(
        &self,
        ids: &[String],
        owners: &[String],
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<Image>, ApiError> {
        self.call("DescribeImages", &ids.join(","), |w, region| {
            if let Some(missing) = ids
                .iter()
                .find(|id| w.images.get(*id).is_none_or(|i| i.region != region))
            {
                return Err(refuse(
                    "InvalidAMIID.NotFound",
                    format!("The image id '[{missing}]' does not exist"),
                ));
            }
            let found: Vec<String> = in_region(&w.images, region, |i| &i.region)
                .filter(|(id, i)| {
                    (ids.is_empty() || ids.contains(id)) && World::image_matches(i, owners, filters)
                })
                .map(|(id, _)| id.clone())
                .collect();
            Ok(found
                .iter()
                .filter_map(|id| {
                    let i = w.images.get_mut(id)?;
                    poll(&mut i.state, &mut i.change);
                    let i = w.images.get(id)?;
                    Some(w.image_view(id, i))
                })
                .collect())
        })
        .await
    }

    async fn create_key_pair(
        &self,
        name: &str,
        key_type: &str,
        tags: &Tags,
    ) -> Result<String, ApiError> {
        self.call("CreateKeyPair", name, |w, region| {
            let k = (region.to_string(), name.to_string());
            if w.key_pairs.contains_key(&k) {
                return Err(refuse(
                    "InvalidKeyPair.Duplicate",
                    format!("The keypair '{name}' already exists."),
                ));
            }
            let bits = (key_type == "rsa").then_some(2048);
            let key = forge_comm::ssh::keygen::generate(key_type, bits, name)
                .map_err(|e| refuse("InvalidParameterValue", e.to_string()))?;
            w.key_pairs.insert(k, tags.clone());
            Ok(key.private)
        })
        .await
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        // EC2 deletes a key pair that does not exist without complaint.
        self.call("DeleteKeyPair", name, |w, region| {
            w.key_pairs.remove(&(region.to_string(), name.to_string()));
            Ok(())
        })
        .await
    }

    async fn key_pairs_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError> {
        self.call("DescribeKeyPairs", "", |w, region| {
            Ok(w.key_pairs
                .iter()
                .filter(|((r, _), t)| r == region && Self::tagged(t, key, value))
                .map(|((_, n), _)| n.clone())
                .collect())
        })
        .await
    }

    async fn default_vpc(&self) -> Result<Option<String>, ApiError> {
        self.call("DescribeVpcs", "", |_, _| Ok(Some("vpc-default".into())))
            .await
    }

    async fn subnet_vpc(&self, subnet_id: &str) -> Result<String, ApiError> {
        self.call("DescribeSubnets", subnet_id, |w, _| {
            w.subnets.get(subnet_id).cloned().ok_or_else(|| {
                refuse(
                    "InvalidSubnetID.NotFound",
                    format!("The subnet ID '{subnet_id}' does not exist"),
                )
            })
        })
        .await
    }

    async fn create_security_group(
        &self,
        name: &str,
        _description: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, ApiError> {
        self.call("CreateSecurityGroup", name, |w, region| {
            let vpc = if vpc_id.is_empty() {
                "vpc-default"
            } else {
                vpc_id
            };
            if w.groups
                .values()
                .any(|g| g.region == region && g.name == name && g.vpc == vpc)
            {
                return Err(refuse(
                    "InvalidGroup.Duplicate",
                    format!("The security group '{name}' already exists"),
                ));
            }
            let id = w.id("sg");
            w.groups.insert(
                id.clone(),
                Group {
                    region: region.into(),
                    name: name.into(),
                    vpc: vpc.into(),
                    tags: tags.clone(),
                    ingress: Vec::new(),
                },
            );
            Ok(id)
        })
        .await
    }

    async fn authorize_ingress(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), ApiError> {
        self.call("AuthorizeSecurityGroupIngress", group_id, |w, _| {
            let g = w.groups.get_mut(group_id).ok_or_else(|| {
                refuse(
                    "InvalidGroup.NotFound",
                    format!("The security group '{group_id}' does not exist"),
                )
            })?;
            g.ingress.push((port, cidrs.to_vec()));
            Ok(())
        })
        .await
    }

    async fn delete_security_group(&self, group_id: &str) -> Result<(), ApiError> {
        self.call("DeleteSecurityGroup", group_id, |w, _| {
            if !w.groups.contains_key(group_id) {
                return Err(refuse(
                    "InvalidGroup.NotFound",
                    format!("The security group '{group_id}' does not exist"),
                ));
            }
            if let Some((id, _)) = w.instances.iter().find(|(_, i)| {
                i.state != "terminated" && i.spec.security_group_ids.iter().any(|g| g == group_id)
            }) {
                return Err(refuse(
                    "DependencyViolation",
                    format!("resource {group_id} has a dependent object ({id})"),
                ));
            }
            w.groups.remove(group_id);
            Ok(())
        })
        .await
    }

    async fn security_groups_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, ApiError> {
        self.call("DescribeSecurityGroups", "", |w, region| {
            Ok(in_region(&w.groups, region, |g| &g.region)
                .filter(|(_, g)| Self::tagged(&g.tags, key, value))
                .map(|(id, _)| id.clone())
                .collect())
        })
        .await
    }

    async fn run_instance(&self, spec: &RunSpec) -> Result<String, ApiError> {
        self.call("RunInstances", &spec.instance_type, |w, region| {
            if w.images
                .get(&spec.image_id)
                .is_none_or(|i| i.region != region)
            {
                return Err(refuse(
                    "InvalidAMIID.NotFound",
                    format!("The image id '[{}]' does not exist", spec.image_id),
                ));
            }
            if !spec.key_name.is_empty()
                && !w
                    .key_pairs
                    .contains_key(&(region.to_string(), spec.key_name.clone()))
            {
                return Err(refuse(
                    "InvalidKeyPair.NotFound",
                    format!("The key pair '{}' does not exist", spec.key_name),
                ));
            }
            if let Some(g) = spec
                .security_group_ids
                .iter()
                .find(|g| !w.groups.contains_key(*g))
            {
                return Err(refuse(
                    "InvalidGroup.NotFound",
                    format!("The security group '{g}' does not exist"),
                ));
            }
            if !spec.subnet_id.is_empty() && !w.subnets.contains_key(&spec.subnet_id) {
                return Err(refuse(
                    "InvalidSubnetID.NotFound",
                    format!("The subnet ID '{}' does not exist", spec.subnet_id),
                ));
            }
            let id = w.id("i");
            let root = BlockDevice {
                device_name: "/dev/sda1".into(),
                delete_on_termination: true,
                ..BlockDevice::default()
            };
            let devices: Vec<BlockDevice> = std::iter::once(root)
                .chain(spec.block_devices.iter().cloned())
                .filter(|d| !d.no_device && d.virtual_name.is_empty())
                .collect();
            let mut volumes = Vec::new();
            for d in devices {
                let v = w.id("vol");
                w.volumes.insert(
                    v.clone(),
                    Vol {
                        region: region.into(),
                        tags: spec.volume_tags.clone(),
                        attached: Some(id.clone()),
                        delete_on_termination: d.delete_on_termination,
                    },
                );
                volumes.push(v);
            }
            let change = w.change("running");
            let n = w.next;
            w.instances.insert(
                id.clone(),
                Inst {
                    region: region.into(),
                    spec: spec.clone(),
                    state: "pending".into(),
                    change,
                    tags: spec.tags.clone(),
                    volumes,
                    n,
                },
            );
            Ok(id)
        })
        .await
    }

    async fn describe_instance(&self, id: &str) -> Result<Option<Instance>, ApiError> {
        self.call("DescribeInstances", id, |w, _| {
            w.poll_instance(id);
            Ok(w.instances.get(id).map(|i| w.view(id, i)))
        })
        .await
    }

    async fn get_password_data(&self, id: &str) -> Result<String, ApiError> {
        self.call("GetPasswordData", id, |w, _| {
            if !w.instances.contains_key(id) {
                return Err(refuse(
                    "InvalidInstanceID.NotFound",
                    format!("The instance ID '{id}' does not exist"),
                ));
            }
            Ok(w.passwords.get(id).cloned().unwrap_or_default())
        })
        .await
    }

    async fn instances_tagged(&self, key: &str, value: &str) -> Result<Vec<Instance>, ApiError> {
        self.call("DescribeInstances", "", |w, region| {
            Ok(in_region(&w.instances, region, |i| &i.region)
                .filter(|(_, i)| i.state != "terminated" && Self::tagged(&i.tags, key, value))
                .map(|(id, i)| w.view(id, i))
                .collect())
        })
        .await
    }

    async fn stop_instance(&self, id: &str) -> Result<(), ApiError> {
        self.call("StopInstances", id, |w, _| {
            let state = w.instance(id)?.state.clone();
            if state != "running" && state != "stopped" {
                return Err(refuse(
                    "IncorrectInstanceState",
                    format!("The instance '{id}' is not in a state from which it can be stopped."),
                ));
            }
            let change = w.change("stopped");
            if let Some(i) = w.instances.get_mut(id).filter(|i| i.state == "running") {
                i.state = "stopping".into();
                i.change = change;
            }
            Ok(())
        })
        .await
    }

    async fn terminate_instance(&self, id: &str) -> Result<(), ApiError> {
        self.call("TerminateInstances", id, |w, _| {
            let state = w.instance(id)?.state.clone();
            if state != "terminated" {
                let change = w.change("terminated");
                if let Some(i) = w.instances.get_mut(id) {
                    i.state = "shutting-down".into();
                    i.change = change;
                }
            }
            Ok(())
        })
        .await
    }

    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: &str,
        _devices: &[BlockDevice],
        tags: &Tags,
    ) -> Result<String, ApiError> {
        self.call("CreateImage", instance_id, |w, region| {
            let i = w.instance(instance_id)?;
            if matches!(i.state.as_str(), "terminated" | "shutting-down" | "pending") {
                return Err(refuse(
                    "IncorrectInstanceState",
                    format!("The instance '{instance_id}' is {}", i.state),
                ));
            }
            let volumes = i.volumes.len();
            if w.images
                .values()
                .any(|i| i.region == region && i.name == name)
            {
                return Err(refuse(
                    "InvalidAMIName.Duplicate",
                    format!("AMI name {name} is already in use by another AMI"),
                ));
            }
            let id = w.register(region, name, description, volumes, tags);
            Ok(id)
        })
        .await
    }

    async fn copy_image(
        &self,
        source_region: &str,
        source_id: &str,
        name: &str,
        description: &str,
        encrypted: bool,
        kms_key_id: &str,
    ) -> Result<String, ApiError> {
        self.call("CopyImage", source_id, |w, region| {
            let Some(n) = w
                .images
                .get(source_id)
                .filter(|i| i.region == source_region)
                .map(|i| i.snapshots.len())
            else {
                return Err(refuse(
                    "InvalidAMIID.NotFound",
                    format!("The image id '[{source_id}]' does not exist in {source_region}"),
                ));
            };
            let id = w.register(region, name, description, n, &Tags::new());
            if let Some(i) = w.images.get_mut(&id) {
                i.encrypted = encrypted;
                i.kms_key_id = kms_key_id.into();
            }
            Ok(id)
        })
        .await
    }

    async fn deregister_image(&self, id: &str) -> Result<(), ApiError> {
        self.call("DeregisterImage", id, |w, region| {
            match w.images.get(id) {
                Some(i) if i.region == region => {}
                _ => {
                    return Err(refuse(
                        "InvalidAMIID.NotFound",
                        format!("The image id '[{id}]' does not exist"),
                    ))
                }
            }
            w.images.remove(id);
            Ok(())
        })
        .await
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), ApiError> {
        self.call("DeleteSnapshot", id, |w, _| {
            if !w.snapshots.contains_key(id) {
                return Err(refuse(
                    "InvalidSnapshot.NotFound",
                    format!("The snapshot '{id}' does not exist."),
                ));
            }
            if let Some((ami, _)) = w
                .images
                .iter()
                .find(|(_, i)| i.snapshots.iter().any(|s| s == id))
            {
                return Err(refuse(
                    "InvalidSnapshot.InUse",
                    format!("The snapshot {id} is currently in use by {ami}"),
                ));
            }
            w.snapshots.remove(id);
            Ok(())
        })
        .await
    }

    async fn snapshots_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError> {
        self.call("DescribeSnapshots", "", |w, region| {
            Ok(w.snapshots
                .iter()
                .filter(|(_, (r, t))| r == region && Self::tagged(t, key, value))
                .map(|(id, _)| id.clone())
                .collect())
        })
        .await
    }

    async fn volumes_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError> {
        self.call("DescribeVolumes", "", |w, region| {
            Ok(in_region(&w.volumes, region, |v| &v.region)
                .filter(|(_, v)| v.attached.is_none() && Self::tagged(&v.tags, key, value))
                .map(|(id, _)| id.clone())
                .collect())
        })
        .await
    }

    async fn delete_volume(&self, id: &str) -> Result<(), ApiError> {
        self.call("DeleteVolume", id, |w, _| {
            match w.volumes.get(id) {
                None => {
                    return Err(refuse(
                        "InvalidVolume.NotFound",
                        format!("The volume '{id}' does not exist."),
                    ))
                }
                Some(v) if v.attached.is_some() => {
                    return Err(refuse(
                        "VolumeInUse",
                        format!("Volume {id} is currently attached"),
                    ))
                }
                Some(_) => {}
            }
            w.volumes.remove(id);
            Ok(())
        })
        .await
    }

    async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), ApiError> {
        self.call("CreateTags", &ids.join(","), |w, _| {
            for id in ids {
                let target = w
                    .instances
                    .get_mut(id)
                    .map(|i| &mut i.tags)
                    .or_else(|| w.images.get_mut(id).map(|i| &mut i.tags))
                    .or_else(|| w.snapshots.get_mut(id).map(|s| &mut s.1))
                    .or_else(|| w.volumes.get_mut(id).map(|v| &mut v.tags))
                    .or_else(|| w.groups.get_mut(id).map(|g| &mut g.tags));
                match target {
                    Some(t) => t.extend(tags.clone()),
                    None => return Err(refuse("InvalidID", format!("The ID '{id}' is not valid"))),
                }
            }
            Ok(())
        })
        .await
    }

    async fn images_in_use(&self) -> Result<Vec<String>, ApiError> {
        self.call("DescribeInstances", "", |w, region| {
            Ok(in_region(&w.instances, region, |i| &i.region)
                .filter(|(_, i)| i.state != "terminated")
                .map(|(_, i)| i.spec.image_id.clone())
                .collect())
        })
        .await
    }
}
