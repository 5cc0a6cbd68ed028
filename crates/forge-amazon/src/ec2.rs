//! The driver around EC2: the calls the Amazon plugins make, as a trait, and its
//! implementation on aws-sdk-ec2. Every call waits for the shared rate limiter, and throttling
//! or transient failures are retried with backoff; other errors come back with the API's
//! code and message.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types as t;
use aws_sdk_ec2::Client;

use crate::limiter::Limiter;

/// The tag every resource forge creates carries, valued with the run's id.
pub const RUN_TAG: &str = "forge:run-id";

/// An EC2 failure: the operation, the API's error code (empty for transport failures) and
/// its message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The operation, as the API names it (`RunInstances`).
    pub op: &'static str,
    /// The API's error code (`InsufficientInstanceCapacity`).
    pub code: String,
    /// What the API said.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            write!(f, "EC2 {}: {}", self.op, self.message)
        } else {
            write!(f, "EC2 {}: {}: {}", self.op, self.code, self.message)
        }
        .and_then(|_| match self.hint() {
            Some(h) => write!(f, " ({h})"),
            None => Ok(()),
        })
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for forge_core::Error {
    fn from(e: ApiError) -> Self {
        forge_core::Error::msg(e.to_string())
    }
}

impl ApiError {
    /// Throttling: wait and try again, more slowly.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_str(),
            "RequestLimitExceeded"
                | "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "SlowDown"
        )
    }

    /// A failure worth another try as it is: the service or the connection hiccupped.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_str(),
            "" | "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
        )
    }

    /// No capacity for this instance type here: another type or zone may work.
    pub fn is_capacity(&self) -> bool {
        matches!(
            self.code.as_str(),
            "InsufficientInstanceCapacity"
                | "InsufficientCapacity"
                | "InsufficientHostCapacity"
                | "Unsupported"
                | "SpotMaxPriceTooLow"
                | "MaxSpotInstanceCountExceeded"
        )
    }

    /// The resource does not exist (any more).
    pub fn is_not_found(&self) -> bool {
        self.code.ends_with(".NotFound")
    }

    /// The credentials were refused.
    pub fn is_auth(&self) -> bool {
        matches!(
            self.code.as_str(),
            "AuthFailure"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "ExpiredToken"
                | "RequestExpired"
                | "InvalidAccessKeyId"
        )
    }

    fn hint(&self) -> Option<&'static str> {
        if self.is_auth() {
            Some("check access_key/secret_key/token, the profile, or the AWS_* environment; expired session tokens must be renewed")
        } else if self.is_throttling() {
            Some("the account's API rate limit was hit and retries did not get through; set FORGE_AWS_RATE lower or run fewer builds at once")
        } else {
            None
        }
    }

    fn transport(op: &'static str, e: impl fmt::Display) -> ApiError {
        ApiError {
            op,
            code: String::new(),
            message: e.to_string(),
        }
    }
}

/// An AMI.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// `ami-…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The owning account.
    pub owner_id: String,
    /// The owner's alias (`amazon`), if any.
    pub owner_alias: String,
    /// ISO 8601 creation time.
    pub creation_date: String,
    /// `available`, `pending`, `failed`, ...
    pub state: String,
    /// The description.
    pub description: String,
    /// `x86_64`, `arm64`, ...
    pub architecture: String,
    /// `ebs` or `instance-store`.
    pub root_device_type: String,
    /// The root device's name.
    pub root_device_name: String,
    /// `hvm` or `paravirtual`.
    pub virtualization_type: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The EBS snapshots behind its block devices.
    pub snapshots: Vec<String>,
}

/// An instance.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    /// The public IPv4 address.
    pub public_ip: String,
    /// The private IPv4 address.
    pub private_ip: String,
    /// The public DNS name.
    pub public_dns: String,
    /// The private DNS name.
    pub private_dns: String,
    /// The instance type.
    pub instance_type: String,
    /// `spot` for a spot instance.
    pub lifecycle: String,
    /// The subnet.
    pub subnet_id: String,
    /// The VPC.
    pub vpc_id: String,
    /// The availability zone.
    pub availability_zone: String,
    /// The volumes attached to it.
    pub volumes: Vec<String>,
}

/// A block device mapping (launch or AMI).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockDevice {
    /// `/dev/sda1`.
    pub device_name: String,
    /// `ephemeral0`: an instance store volume.
    pub virtual_name: String,
    /// Suppress a device of the AMI.
    pub no_device: bool,
    /// The snapshot to make the volume from.
    pub snapshot_id: String,
    /// `gp2`, `gp3`, `io1`, ...
    pub volume_type: String,
    /// GiB.
    pub volume_size: i32,
    /// Provisioned IOPS.
    pub iops: i32,
    /// Throughput (gp3), MiB/s.
    pub throughput: i32,
    /// Encrypt the volume.
    pub encrypted: Option<bool>,
    /// The KMS key.
    pub kms_key_id: String,
    /// Delete the volume with the instance.
    pub delete_on_termination: bool,
}

/// What to launch.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// The source AMI.
    pub image_id: String,
    /// The instance type.
    pub instance_type: String,
    /// The key pair's name, if any.
    pub key_name: String,
    /// Security groups.
    pub security_group_ids: Vec<String>,
    /// The subnet, if any.
    pub subnet_id: String,
    /// The availability zone, if any.
    pub availability_zone: String,
    /// The instance profile's name, if any.
    pub iam_instance_profile: String,
    /// User data, base64.
    pub user_data: String,
    /// `ebs_optimized`.
    pub ebs_optimized: bool,
    /// Launch block devices.
    pub block_devices: Vec<BlockDevice>,
    /// Tags of the instance.
    pub tags: BTreeMap<String, String>,
    /// Tags of its volumes.
    pub volume_tags: BTreeMap<String, String>,
    /// `metadata_options`: (http_endpoint, http_tokens, hop limit, instance_metadata_tags).
    pub metadata: Option<(String, String, i32, String)>,
    /// `associate_public_ip_address`.
    pub associate_public_ip: Option<bool>,
    /// `shutdown_behavior`.
    pub shutdown_behavior: String,
    /// `tenancy`.
    pub tenancy: String,
    /// A spot instance, with this maximum price (`Some("")`: up to the on-demand price).
    pub spot_price: Option<String>,
}

/// The calls forge makes to EC2 in one region.
#[async_trait]
pub trait Ec2: Send + Sync {
    /// The region this client calls.
    fn region(&self) -> &str;
    /// The region names the account can use.
    async fn describe_regions(&self) -> Result<Vec<String>, ApiError>;
    /// Images by id, owner and filters.
    async fn describe_images(
        &self,
        ids: &[String],
        owners: &[String],
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<Image>, ApiError>;
    /// Creates a key pair and returns its private key.
    async fn create_key_pair(
        &self,
        name: &str,
        key_type: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ApiError>;
    /// Deletes a key pair.
    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError>;
    /// Key pair names carrying tag `key=value`.
    async fn key_pairs_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError>;
    /// The default VPC, if the region has one.
    async fn default_vpc(&self) -> Result<Option<String>, ApiError>;
    /// The VPC of a subnet.
    async fn subnet_vpc(&self, subnet_id: &str) -> Result<String, ApiError>;
    /// Creates a security group and returns its id.
    async fn create_security_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ApiError>;
    /// Lets TCP `port` in from `cidrs`.
    async fn authorize_ingress(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), ApiError>;
    /// Deletes a security group.
    async fn delete_security_group(&self, group_id: &str) -> Result<(), ApiError>;
    /// Security group ids carrying tag `key=value`.
    async fn security_groups_tagged(&self, key: &str, value: &str)
        -> Result<Vec<String>, ApiError>;
    /// Launches one instance and returns its id.
    async fn run_instance(&self, spec: &RunSpec) -> Result<String, ApiError>;
    /// One instance, `None` when EC2 no longer knows it.
    async fn describe_instance(&self, id: &str) -> Result<Option<Instance>, ApiError>;
    /// Instances (not terminated) carrying tag `key=value`.
    async fn instances_tagged(&self, key: &str, value: &str) -> Result<Vec<Instance>, ApiError>;
    /// The instance's encrypted administrator password (base64), empty until Windows has set
    /// it (`GetPasswordData`).
    async fn get_password_data(&self, id: &str) -> Result<String, ApiError>;
    /// Stops an instance.
    async fn stop_instance(&self, id: &str) -> Result<(), ApiError>;
    /// Terminates an instance.
    async fn terminate_instance(&self, id: &str) -> Result<(), ApiError>;
    /// Makes an AMI of a (stopped) instance; returns its id.
    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: &str,
        devices: &[BlockDevice],
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ApiError>;
    /// Copies an AMI from `source_region` into this region; returns the copy's id.
    async fn copy_image(
        &self,
        source_region: &str,
        source_id: &str,
        name: &str,
        description: &str,
        encrypted: bool,
        kms_key_id: &str,
    ) -> Result<String, ApiError>;
    /// Deregisters an AMI.
    async fn deregister_image(&self, id: &str) -> Result<(), ApiError>;
    /// Deletes a snapshot.
    async fn delete_snapshot(&self, id: &str) -> Result<(), ApiError>;
    /// Snapshot ids carrying tag `key=value`.
    async fn snapshots_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError>;
    /// Volume ids (available, not attached) carrying tag `key=value`.
    async fn volumes_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError>;
    /// Deletes a volume.
    async fn delete_volume(&self, id: &str) -> Result<(), ApiError>;
    /// Tags resources.
    async fn create_tags(
        &self,
        ids: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError>;
    /// Image ids used by instances that are not terminated (amazon-ami-management keeps them).
    async fn images_in_use(&self) -> Result<Vec<String>, ApiError>;
}

/// [`Ec2`] on aws-sdk-ec2.
pub struct SdkEc2 {
    client: Client,
    region: String,
    limiter: Arc<Limiter>,
    max_retries: u32,
}

impl SdkEc2 {
    /// A driver over `client`, throttled by `limiter`; `max_retries` 0 is forge's default.
    pub fn new(client: Client, region: String, limiter: Arc<Limiter>, max_retries: u32) -> Self {
        SdkEc2 {
            client,
            region,
            limiter,
            max_retries,
        }
    }

    /// Runs one API call through the limiter, retrying throttling (with backoff) and transient
    /// failures.
    async fn call<T, E, R, F, Fut>(&self, op: &'static str, f: F) -> Result<T, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        retrying(&self.limiter, self.max_retries, || {
            let sent = f();
            async move { sent.await.map_err(|e| to_api_error(op, e)) }
        })
        .await
    }
}

/// Runs `attempt` through `limiter` until it succeeds or fails for good: throttling is retried
/// (slowing the limiter down) up to `max_retries` times (0: forge's default of 11), transient
/// failures up to 3 times, with a backoff from 250 ms doubling up to 20 s; other errors come
/// back at once.
pub async fn retrying<T, F, Fut>(
    limiter: &Limiter,
    max_retries: u32,
    mut attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let tries = if max_retries > 0 { max_retries + 1 } else { 12 };
    let mut backoff = Duration::from_millis(250);
    let mut n = 0;
    loop {
        n += 1;
        limiter.acquire().await;
        let err = match attempt().await {
            Ok(v) => {
                limiter.succeeded();
                return Ok(v);
            }
            Err(e) => e,
        };
        let again = err.is_throttling() || (err.is_transient() && n < 4);
        if !again || n >= tries {
            return Err(err);
        }
        if err.is_throttling() {
            limiter.throttled();
        }
        tracing::info!("{err}; retrying in {backoff:?} (try {n} of {tries})");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(20));
    }
}

fn to_api_error<E, R>(op: &'static str, e: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match &e {
        SdkError::ServiceError(s) => {
            let inner = s.err();
            ApiError {
                op,
                code: inner.code().unwrap_or("").to_string(),
                message: inner
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| inner.to_string()),
            }
        }
        _ => ApiError::transport(op, one_line(&e)),
    }
}

/// An SDK error as one readable line: each cause's own message, outermost first, without
/// the repetitions and the Debug structure the SDK's error context adds.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() && !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cur = err.source();
    }
    out
}

fn filter(name: &str, values: &[String]) -> t::Filter {
    t::Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn tag_filter(key: &str, value: &str) -> t::Filter {
    filter(&format!("tag:{key}"), &[value.to_string()])
}

fn tag_spec(kind: t::ResourceType, tags: &BTreeMap<String, String>) -> Option<t::TagSpecification> {
    (!tags.is_empty()).then(|| {
        t::TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(to_tags(tags)))
            .build()
    })
}

fn to_tags(tags: &BTreeMap<String, String>) -> Vec<t::Tag> {
    tags.iter()
        .map(|(k, v)| t::Tag::builder().key(k).value(v).build())
        .collect()
}

fn from_tags(tags: &[t::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn to_mapping(d: &BlockDevice) -> t::BlockDeviceMapping {
    let mut b = t::BlockDeviceMapping::builder().device_name(&d.device_name);
    if d.no_device {
        return b.no_device("").build();
    }
    if !d.virtual_name.is_empty() {
        return b.virtual_name(&d.virtual_name).build();
    }
    let mut e = t::EbsBlockDevice::builder().delete_on_termination(d.delete_on_termination);
    if !d.snapshot_id.is_empty() {
        e = e.snapshot_id(&d.snapshot_id);
    }
    if !d.volume_type.is_empty() {
        e = e.volume_type(t::VolumeType::from(d.volume_type.as_str()));
    }
    if d.volume_size > 0 {
        e = e.volume_size(d.volume_size);
    }
    if d.iops > 0 {
        e = e.iops(d.iops);
    }
    if d.throughput > 0 {
        e = e.throughput(d.throughput);
    }
    if let Some(enc) = d.encrypted {
        e = e.encrypted(enc);
    }
    if !d.kms_key_id.is_empty() {
        e = e.kms_key_id(&d.kms_key_id);
    }
    b = b.ebs(e.build());
    b.build()
}

fn to_image(i: &t::Image) -> Image {
    Image {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        owner_id: i.owner_id().unwrap_or_default().to_string(),
        owner_alias: i.image_owner_alias().unwrap_or_default().to_string(),
        creation_date: i.creation_date().unwrap_or_default().to_string(),
        state: i
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        description: i.description().unwrap_or_default().to_string(),
        architecture: i
            .architecture()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        root_device_type: i
            .root_device_type()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        root_device_name: i.root_device_name().unwrap_or_default().to_string(),
        virtualization_type: i
            .virtualization_type()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        tags: from_tags(i.tags()),
        snapshots: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
            .collect(),
    }
}

fn to_instance(i: &t::Instance) -> Instance {
    Instance {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        public_ip: i.public_ip_address().unwrap_or_default().to_string(),
        private_ip: i.private_ip_address().unwrap_or_default().to_string(),
        public_dns: i.public_dns_name().unwrap_or_default().to_string(),
        private_dns: i.private_dns_name().unwrap_or_default().to_string(),
        instance_type: i
            .instance_type()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        lifecycle: i
            .instance_lifecycle()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        subnet_id: i.subnet_id().unwrap_or_default().to_string(),
        vpc_id: i.vpc_id().unwrap_or_default().to_string(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        volumes: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs().and_then(|e| e.volume_id()).map(str::to_string))
            .collect(),
    }
}

#[async_trait]
impl Ec2 for SdkEc2 {
    fn region(&self) -> &str {
        &self.region
    }

    async fn describe_regions(&self) -> Result<Vec<String>, ApiError> {
        let out = self
            .call("DescribeRegions", || {
                self.client.describe_regions().all_regions(true).send()
            })
            .await?;
        Ok(out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect())
    }

    async fn describe_images(
        &self,
        ids: &[String],
        owners: &[String],
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<Image>, ApiError> {
        let fs: Vec<t::Filter> = filters.iter().map(|(k, v)| filter(k, v)).collect();
        let out = self
            .call("DescribeImages", || {
                self.client
                    .describe_images()
                    .set_image_ids((!ids.is_empty()).then(|| ids.to_vec()))
                    .set_owners((!owners.is_empty()).then(|| owners.to_vec()))
                    .set_filters((!fs.is_empty()).then(|| fs.clone()))
                    .send()
            })
            .await?;
        Ok(out.images().iter().map(to_image).collect())
    }

    async fn create_key_pair(
        &self,
        name: &str,
        key_type: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ApiError> {
        let out = self
            .call("CreateKeyPair", || {
                self.client
                    .create_key_pair()
                    .key_name(name)
                    .key_type(t::KeyType::from(key_type))
                    .set_tag_specifications(
                        tag_spec(t::ResourceType::KeyPair, tags).map(|s| vec![s]),
                    )
                    .send()
            })
            .await?;
        Ok(out.key_material().unwrap_or_default().to_string())
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), ApiError> {
        self.call("DeleteKeyPair", || {
            self.client.delete_key_pair().key_name(name).send()
        })
        .await
        .map(drop)
    }

    async fn key_pairs_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError> {
        let out = self
            .call("DescribeKeyPairs", || {
                self.client
                    .describe_key_pairs()
                    .filters(tag_filter(key, value))
                    .send()
            })
            .await?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| k.key_name().map(str::to_string))
            .collect())
    }

    async fn default_vpc(&self) -> Result<Option<String>, ApiError> {
        let out = self
            .call("DescribeVpcs", || {
                self.client
                    .describe_vpcs()
                    .filters(filter("is-default", &["true".into()]))
                    .send()
            })
            .await?;
        Ok(out
            .vpcs()
            .first()
            .and_then(|v| v.vpc_id().map(str::to_string)))
    }

    async fn subnet_vpc(&self, subnet_id: &str) -> Result<String, ApiError> {
        let out = self
            .call("DescribeSubnets", || {
                self.client.describe_subnets().subnet_ids(subnet_id).send()
            })
            .await?;
        Ok(out
            .subnets()
            .first()
            .and_then(|s| s.vpc_id())
            .unwrap_or_default()
            .to_string())
    }

    async fn create_security_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ApiError> {
        let out = self
            .call("CreateSecurityGroup", || {
                self.client
                    .create_security_group()
                    .group_name(name)
                    .description(description)
                    .set_vpc_id((!vpc_id.is_empty()).then(|| vpc_id.to_string()))
                    .set_tag_specifications(
                        tag_spec(t::ResourceType::SecurityGroup, tags).map(|s| vec![s]),
                    )
                    .send()
            })
            .await?;
        Ok(out.group_id().unwrap_or_default().to_string())
    }

    async fn authorize_ingress(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), ApiError> {
        let perm = t::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port.into())
            .to_port(port.into())
            .set_ip_ranges(Some(
                cidrs
                    .iter()
                    .map(|c| t::IpRange::builder().cidr_ip(c).build())
                    .collect(),
            ))
            .build();
        self.call("AuthorizeSecurityGroupIngress", || {
            self.client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(perm.clone())
                .send()
        })
        .await
        .map(drop)
    }

    async fn delete_security_group(&self, group_id: &str) -> Result<(), ApiError> {
        self.call("DeleteSecurityGroup", || {
            self.client
                .delete_security_group()
                .group_id(group_id)
                .send()
        })
        .await
        .map(drop)
    }

    async fn security_groups_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, ApiError> {
        let out = self
            .call("DescribeSecurityGroups", || {
                self.client
                    .describe_security_groups()
                    .filters(tag_filter(key, value))
                    .send()
            })
            .await?;
        Ok(out
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }

    async fn run_instance(&self, s: &RunSpec) -> Result<String, ApiError> {
        let mut specs = Vec::new();
        specs.extend(tag_spec(t::ResourceType::Instance, &s.tags));
        specs.extend(tag_spec(t::ResourceType::Volume, &s.volume_tags));
        let metadata = s.metadata.as_ref().map(|(endpoint, tokens, hops, tags)| {
            let mut m = t::InstanceMetadataOptionsRequest::builder();
            if !endpoint.is_empty() {
                m = m.http_endpoint(t::InstanceMetadataEndpointState::from(endpoint.as_str()));
            }
            if !tokens.is_empty() {
                m = m.http_tokens(t::HttpTokensState::from(tokens.as_str()));
            }
            if *hops > 0 {
                m = m.http_put_response_hop_limit(*hops);
            }
            if !tags.is_empty() {
                m = m.instance_metadata_tags(t::InstanceMetadataTagsState::from(tags.as_str()));
            }
            m.build()
        });
        let placement = (!s.availability_zone.is_empty() || !s.tenancy.is_empty()).then(|| {
            let mut p = t::Placement::builder();
            if !s.availability_zone.is_empty() {
                p = p.availability_zone(&s.availability_zone);
            }
            if !s.tenancy.is_empty() {
                p = p.tenancy(t::Tenancy::from(s.tenancy.as_str()));
            }
            p.build()
        });
        // A public address asked for explicitly goes through a network interface spec.
        let nic = s.associate_public_ip.map(|public| {
            t::InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .associate_public_ip_address(public)
                .set_subnet_id((!s.subnet_id.is_empty()).then(|| s.subnet_id.clone()))
                .set_groups(Some(s.security_group_ids.clone()))
                .delete_on_termination(true)
                .build()
        });
        let out = self
            .call("RunInstances", || {
                let mut r = self
                    .client
                    .run_instances()
                    .image_id(&s.image_id)
                    .instance_type(t::InstanceType::from(s.instance_type.as_str()))
                    .min_count(1)
                    .max_count(1)
                    .set_key_name((!s.key_name.is_empty()).then(|| s.key_name.clone()))
                    .set_user_data((!s.user_data.is_empty()).then(|| s.user_data.clone()))
                    .set_tag_specifications((!specs.is_empty()).then(|| specs.clone()))
                    .set_metadata_options(metadata.clone())
                    .set_placement(placement.clone())
                    .set_block_device_mappings(
                        (!s.block_devices.is_empty())
                            .then(|| s.block_devices.iter().map(to_mapping).collect()),
                    );
                if s.ebs_optimized {
                    r = r.ebs_optimized(true);
                }
                if let Some(price) = &s.spot_price {
                    let mut o = t::SpotMarketOptions::builder()
                        .spot_instance_type(t::SpotInstanceType::OneTime)
                        .instance_interruption_behavior(t::InstanceInterruptionBehavior::Terminate);
                    if !price.is_empty() {
                        o = o.max_price(price);
                    }
                    r = r.instance_market_options(
                        t::InstanceMarketOptionsRequest::builder()
                            .market_type(t::MarketType::Spot)
                            .spot_options(o.build())
                            .build(),
                    );
                }
                if !s.shutdown_behavior.is_empty() {
                    r = r.instance_initiated_shutdown_behavior(t::ShutdownBehavior::from(
                        s.shutdown_behavior.as_str(),
                    ));
                }
                if !s.iam_instance_profile.is_empty() {
                    r = r.iam_instance_profile(
                        t::IamInstanceProfileSpecification::builder()
                            .name(&s.iam_instance_profile)
                            .build(),
                    );
                }
                match &nic {
                    Some(n) => r = r.network_interfaces(n.clone()),
                    None => {
                        r = r
                            .set_subnet_id((!s.subnet_id.is_empty()).then(|| s.subnet_id.clone()))
                            .set_security_group_ids(
                                (!s.security_group_ids.is_empty())
                                    .then(|| s.security_group_ids.clone()),
                            )
                    }
                }
                r.send()
            })
            .await?;
        out.instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_string)
            .ok_or_else(|| ApiError::transport("RunInstances", "no instance in the answer"))
    }

    async fn describe_instance(&self, id: &str) -> Result<Option<Instance>, ApiError> {
        match self
            .call("DescribeInstances", || {
                self.client.describe_instances().instance_ids(id).send()
            })
            .await
        {
            Ok(out) => Ok(out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(to_instance)
                .next()),
            Err(e) if e.code == "InvalidInstanceID.NotFound" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_password_data(&self, id: &str) -> Result<String, ApiError> {
        let out = self
            .call("GetPasswordData", || {
                self.client.get_password_data().instance_id(id).send()
            })
            .await?;
        Ok(out.password_data().unwrap_or_default().trim().to_string())
    }

    async fn instances_tagged(&self, key: &str, value: &str) -> Result<Vec<Instance>, ApiError> {
        let out = self
            .call("DescribeInstances", || {
                self.client
                    .describe_instances()
                    .filters(tag_filter(key, value))
                    .send()
            })
            .await?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(to_instance)
            .filter(|i| i.state != "terminated")
            .collect())
    }

    async fn stop_instance(&self, id: &str) -> Result<(), ApiError> {
        self.call("StopInstances", || {
            self.client.stop_instances().instance_ids(id).send()
        })
        .await
        .map(drop)
    }

    async fn terminate_instance(&self, id: &str) -> Result<(), ApiError> {
        self.call("TerminateInstances", || {
            self.client.terminate_instances().instance_ids(id).send()
        })
        .await
        .map(drop)
    }

    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: &str,
        devices: &[BlockDevice],
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ApiError> {
        let mut specs = Vec::new();
        // Snapshots are tagged once the image exists (moto refuses snapshot specs here).
        specs.extend(tag_spec(t::ResourceType::Image, tags));
        let out = self
            .call("CreateImage", || {
                self.client
                    .create_image()
                    .instance_id(instance_id)
                    .name(name)
                    .set_description((!description.is_empty()).then(|| description.to_string()))
                    .set_block_device_mappings(
                        (!devices.is_empty()).then(|| devices.iter().map(to_mapping).collect()),
                    )
                    .set_tag_specifications((!specs.is_empty()).then(|| specs.clone()))
                    .send()
            })
            .await?;
        Ok(out.image_id().unwrap_or_default().to_string())
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
        let out = self
            .call("CopyImage", || {
                let mut r = self
                    .client
                    .copy_image()
                    .source_region(source_region)
                    .source_image_id(source_id)
                    .name(name)
                    .set_description((!description.is_empty()).then(|| description.to_string()));
                if encrypted {
                    r = r.encrypted(true);
                }
                if !kms_key_id.is_empty() {
                    r = r.kms_key_id(kms_key_id);
                }
                r.send()
            })
            .await?;
        Ok(out.image_id().unwrap_or_default().to_string())
    }

    async fn deregister_image(&self, id: &str) -> Result<(), ApiError> {
        self.call("DeregisterImage", || {
            self.client.deregister_image().image_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), ApiError> {
        self.call("DeleteSnapshot", || {
            self.client.delete_snapshot().snapshot_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn snapshots_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError> {
        let out = self
            .call("DescribeSnapshots", || {
                self.client
                    .describe_snapshots()
                    .owner_ids("self")
                    .filters(tag_filter(key, value))
                    .send()
            })
            .await?;
        Ok(out
            .snapshots()
            .iter()
            .filter_map(|s| s.snapshot_id().map(str::to_string))
            .collect())
    }

    async fn volumes_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, ApiError> {
        let out = self
            .call("DescribeVolumes", || {
                self.client
                    .describe_volumes()
                    .filters(tag_filter(key, value))
                    .filters(filter("status", &["available".into()]))
                    .send()
            })
            .await?;
        Ok(out
            .volumes()
            .iter()
            .filter_map(|v| v.volume_id().map(str::to_string))
            .collect())
    }

    async fn delete_volume(&self, id: &str) -> Result<(), ApiError> {
        self.call("DeleteVolume", || {
            self.client.delete_volume().volume_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn create_tags(
        &self,
        ids: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        if ids.is_empty() || tags.is_empty() {
            return Ok(());
        }
        self.call("CreateTags", || {
            self.client
                .create_tags()
                .set_resources(Some(ids.to_vec()))
                .set_tags(Some(to_tags(tags)))
                .send()
        })
        .await
        .map(drop)
    }

    async fn images_in_use(&self) -> Result<Vec<String>, ApiError> {
        let out = self
            .call("DescribeInstances", || {
                self.client
                    .describe_instances()
                    .filters(filter(
                        "instance-state-name",
                        &["pending", "running", "shutting-down", "stopping", "stopped"]
                            .map(String::from),
                    ))
                    .send()
            })
            .await?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.image_id().map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::config::http::HttpResponse;
    use aws_sdk_ec2::operation::describe_regions::DescribeRegionsError;

    #[derive(Debug)]
    struct Cause;
    impl fmt::Display for Cause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no credentials\n  found in chain")
        }
    }
    impl std::error::Error for Cause {}

    #[derive(Debug)]
    struct Loading(Cause);
    impl fmt::Display for Loading {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an error occurred while loading credentials")
        }
    }
    impl std::error::Error for Loading {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// Runs `retrying` over answers `codes` (then success), recording when each try went.
    async fn tries(
        limiter: &Limiter,
        max_retries: u32,
        codes: &[&str],
    ) -> (Result<u32, ApiError>, Vec<Duration>) {
        let start = tokio::time::Instant::now();
        let at = std::sync::Mutex::new(Vec::new());
        let r = retrying(limiter, max_retries, || {
            let n = {
                let mut at = at.lock().unwrap();
                at.push(start.elapsed());
                at.len()
            };
            let answer = match codes.get(n - 1) {
                Some(code) => Err(ApiError {
                    op: "RunInstances",
                    code: code.to_string(),
                    message: "the test says so".into(),
                }),
                None => Ok(n as u32),
            };
            async move { answer }
        })
        .await;
        (r, at.into_inner().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_with_a_doubling_backoff_and_slows_the_limiter() {
        let l = Limiter::new(10.0);
        let (r, at) = tries(&l, 0, &["RequestLimitExceeded", "Throttling", "SlowDown"]).await;
        assert_eq!(r.unwrap(), 4);
        assert_eq!(l.throttled_count(), 3);
        assert!(l.rate() < 10.0, "{}", l.rate());
        // Each gap is the backoff plus the slowed limiter's wait (at most 2 s at its slowest).
        for (i, backoff) in [250, 500, 1000].into_iter().enumerate() {
            let gap = at[i + 1] - at[i];
            let backoff = Duration::from_millis(backoff);
            assert!(
                gap >= backoff && gap <= backoff + Duration::from_secs(2),
                "{at:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_without_end_gives_up_after_max_retries_with_the_rate_hint() {
        let l = Limiter::new(10.0);
        let codes = ["RequestLimitExceeded"; 20];
        let (r, at) = tries(&l, 0, &codes).await;
        assert_eq!(at.len(), 12, "forge's default: 11 retries");
        assert_eq!(
            r.unwrap_err().to_string(),
            "EC2 RunInstances: RequestLimitExceeded: the test says so (the account's API rate limit was hit and retries did not get through; set FORGE_AWS_RATE lower or run fewer builds at once)"
        );
        // The backoff stops doubling at 20 s.
        let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps[7] >= Duration::from_secs(20), "{gaps:?}");
        assert!(gaps[10] < Duration::from_secs(23), "{gaps:?}");
        let (r, at) = tries(&Limiter::new(10.0), 2, &codes).await;
        assert_eq!(at.len(), 3, "max_retries 2");
        assert!(r.unwrap_err().is_throttling());
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_get_three_more_tries() {
        let l = Limiter::new(10.0);
        let (r, at) = tries(&l, 0, &["InternalError", "", "Unavailable"]).await;
        assert_eq!(r.unwrap(), 4);
        assert_eq!(l.throttled_count(), 0);
        assert_eq!(at[1] - at[0], Duration::from_millis(250));
        let (r, at) = tries(&l, 0, &["InternalError"; 5]).await;
        assert_eq!(at.len(), 4);
        assert_eq!(
            r.unwrap_err().to_string(),
            "EC2 RunInstances: InternalError: the test says so"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_come_back_at_once() {
        let l = Limiter::new(10.0);
        let (r, at) = tries(&l, 0, &["InvalidAMIID.NotFound", "Throttling"]).await;
        assert_eq!(at, [Duration::ZERO]);
        let e = r.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(
            e.to_string(),
            "EC2 RunInstances: InvalidAMIID.NotFound: the test says so"
        );
    }

    #[test]
    fn failures_before_the_service_answers_are_one_line_without_debug() {
        let e: SdkError<DescribeRegionsError, HttpResponse> =
            SdkError::construction_failure(Loading(Cause));
        let text = to_api_error("DescribeRegions", e).to_string();
        assert_eq!(
            text,
            "EC2 DescribeRegions: failed to construct request: an error occurred while loading credentials: no credentials found in chain"
        );
        assert!(!text.contains("Loading") && !text.contains('\n'), "{text}");
    }
}
