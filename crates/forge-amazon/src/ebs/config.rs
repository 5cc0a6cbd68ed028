//! The amazon-ebs configuration, with Packer's defaults and checks
//! (builder/common/{access,ami,run,block_device}_config.go, builder/ebs/builder.go), plus
//! forge's capacity fallbacks.

use std::collections::BTreeMap;
use std::time::Duration;

use forge_core::comm::{CommConfig, CommType};
use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::{AmazonEbsBuilder, BlockDevice as BlockArgs, KeyValue};
use forge_template::value::Value;

use crate::access::Access;
use crate::ec2::BlockDevice;

/// `source_ami_filter`.
#[derive(Debug, Clone, Default)]
pub struct AmiFilter {
    /// `filters`.
    pub filters: BTreeMap<String, String>,
    /// `owners`.
    pub owners: Vec<String>,
    /// `most_recent`.
    pub most_recent: bool,
    /// `include_deprecated`.
    pub include_deprecated: bool,
}

/// The builder's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Region and credentials.
    pub access: Access,
    /// `ami_name`.
    pub ami_name: String,
    /// `ami_description`.
    pub ami_description: String,
    /// `ami_regions` (without the build region).
    pub ami_regions: Vec<String>,
    /// `tags` (AMI, and snapshots unless `snapshot_tags` says otherwise).
    pub tags: BTreeMap<String, String>,
    /// `snapshot_tags`.
    pub snapshot_tags: BTreeMap<String, String>,
    /// `run_tags`.
    pub run_tags: BTreeMap<String, String>,
    /// `run_volume_tags`.
    pub run_volume_tags: BTreeMap<String, String>,
    /// `force_deregister`.
    pub force_deregister: bool,
    /// `force_delete_snapshot`.
    pub force_delete_snapshot: bool,
    /// `skip_create_ami`.
    pub skip_create_ami: bool,
    /// `encrypt_boot`.
    pub encrypt_boot: Option<bool>,
    /// `kms_key_id`.
    pub kms_key_id: String,
    /// `region_kms_key_ids`.
    pub region_kms_key_ids: BTreeMap<String, String>,
    /// `ami_block_device_mappings`.
    pub ami_devices: Vec<BlockDevice>,
    /// `launch_block_device_mappings`.
    pub launch_devices: Vec<BlockDevice>,
    /// `source_ami`.
    pub source_ami: String,
    /// `source_ami_filter`.
    pub source_ami_filter: Option<AmiFilter>,
    /// `instance_type`, then forge's `fallback_instance_types`, in order.
    pub instance_types: Vec<String>,
    /// `subnet_id`, then forge's `fallback_subnet_ids`, in order (may be empty).
    pub subnets: Vec<String>,
    /// `vpc_id`.
    pub vpc_id: String,
    /// `availability_zone`.
    pub availability_zone: String,
    /// `security_group_id(s)`.
    pub security_group_ids: Vec<String>,
    /// `temporary_security_group_source_cidrs`.
    pub temp_sg_cidrs: Vec<String>,
    /// `temporary_security_group_source_public_ip`: only this host's public address.
    pub temp_sg_public_ip: bool,
    /// `iam_instance_profile`.
    pub iam_instance_profile: String,
    /// `user_data` / `user_data_file` contents.
    pub user_data: String,
    /// `metadata_options` (+ `imds_support`).
    pub metadata: Option<(String, String, i32, String)>,
    /// `associate_public_ip_address`.
    pub associate_public_ip: Option<bool>,
    /// `ebs_optimized`.
    pub ebs_optimized: bool,
    /// `shutdown_behavior`.
    pub shutdown_behavior: String,
    /// `tenancy`.
    pub tenancy: String,
    /// `disable_stop_instance`.
    pub disable_stop_instance: bool,
    /// `ssh_interface`.
    pub ssh_interface: String,
    /// `ssh_keypair_name`.
    pub ssh_keypair_name: String,
    /// The temporary key pair's name, when forge makes one.
    pub temp_key_name: Option<String>,
    /// `temporary_key_pair_type`: rsa or ed25519.
    pub temp_key_type: String,
    /// How long to wait for EC2 state changes (`aws_polling`, AWS_* environment).
    pub wait: Duration,
    /// Fixed poll interval (`aws_polling.delay_seconds`), else forge's quick backoff.
    pub poll: Option<Duration>,
    /// The communicator (default `ssh`).
    pub comm: CommConfig,
    /// `windows_password_timeout` (20m): how long to wait for the instance's administrator
    /// password over WinRM.
    pub windows_password_timeout: Duration,
    /// `spot_price`: "" on demand, `auto` (up to the on-demand price) or a maximum price.
    pub spot_price: String,
}

fn map(m: &Option<BTreeMap<String, String>>, kv: &[KeyValue]) -> BTreeMap<String, String> {
    let mut out = m.clone().unwrap_or_default();
    for t in kv {
        out.insert(
            t.key.clone().unwrap_or_default(),
            t.value.clone().unwrap_or_default(),
        );
    }
    out
}

fn devices(list: &[BlockArgs]) -> Vec<BlockDevice> {
    list.iter()
        .map(|b| BlockDevice {
            device_name: b.device_name.clone().unwrap_or_default(),
            virtual_name: b.virtual_name.clone().unwrap_or_default(),
            no_device: b.no_device.unwrap_or(false),
            snapshot_id: b.snapshot_id.clone().unwrap_or_default(),
            volume_type: b.volume_type.clone().unwrap_or_default(),
            volume_size: b.volume_size.unwrap_or(0) as i32,
            iops: b.iops.unwrap_or(0) as i32,
            throughput: b.throughput.unwrap_or(0) as i32,
            encrypted: b.encrypted,
            kms_key_id: b.kms_key_id.clone().unwrap_or_default(),
            delete_on_termination: b.delete_on_termination.unwrap_or(false),
        })
        .collect()
}

/// Packer's AMI name rule: 3–128 characters of `[A-Za-z0-9()[] ./-'@_]`.
pub fn check_ami_name(name: &str) -> Option<String> {
    if name.len() < 3 || name.len() > 128 {
        return Some("ami_name must be between 3 and 128 characters long".into());
    }
    let bad = name
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c)));
    bad.then(|| {
        "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.".into()
    })
}

fn env_secs(k: &str) -> Option<u64> {
    std::env::var(k).ok().and_then(|v| v.trim().parse().ok())
}

impl Config {
    /// Decodes and checks the configuration; every problem at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: AmazonEbsBuilder = decode(v)?;
        let mut errs = Vec::new();
        let access = Access::prepare(crate::access_args!(a), &mut errs);
        let s = |x: &Option<String>| x.clone().unwrap_or_default();

        let ami_name = s(&a.ami_name);
        // Packer reports an empty name twice: missing, and too short.
        if ami_name.is_empty() {
            errs.push("ami_name must be specified".into());
        }
        if let Some(e) = check_ami_name(&ami_name) {
            errs.push(e);
        }
        let source_ami = s(&a.source_ami);
        let source_ami_filter = a.source_ami_filter.as_ref().map(|f| AmiFilter {
            filters: f.filters.clone().unwrap_or_default(),
            owners: f.owners.clone().unwrap_or_default(),
            most_recent: f.most_recent.unwrap_or(false),
            include_deprecated: f.include_deprecated.unwrap_or(false),
        });
        if source_ami.is_empty() && source_ami_filter.is_none() {
            errs.push("A source_ami or source_ami_filter must be specified".into());
        }
        if let Some(f) = &source_ami_filter {
            if f.owners.is_empty() {
                errs.push("For security reasons, you must declare an owner using source_ami_filter.owners.".into());
            }
        }
        let instance_type = s(&a.instance_type);
        let spot_types = a.spot_instance_types.clone().unwrap_or_default();
        if instance_type.is_empty() && spot_types.is_empty() {
            errs.push("An instance_type must be specified".into());
        }
        let mut instance_types: Vec<String> = Vec::new();
        instance_types.extend((!instance_type.is_empty()).then_some(instance_type));
        instance_types.extend(spot_types);
        instance_types.extend(a.fallback_instance_types.clone().unwrap_or_default());
        instance_types.dedup();

        let mut subnets: Vec<String> = Vec::new();
        subnets.extend(a.subnet_id.clone().filter(|s| !s.is_empty()));
        subnets.extend(a.fallback_subnet_ids.clone().unwrap_or_default());

        let user_data = match (s(&a.user_data), s(&a.user_data_file)) {
            (d, f) if !d.is_empty() && !f.is_empty() => {
                errs.push("Only one of user_data or user_data_file can be specified.".into());
                String::new()
            }
            (_, f) if !f.is_empty() => match std::fs::read(&f) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    errs.push(format!("user_data_file not found: {f}: {e}"));
                    String::new()
                }
            },
            (d, _) => d,
        };

        let imds = s(&a.imds_support);
        if !imds.is_empty() && imds != "v2.0" {
            errs.push(r#"imds_support: must be "v2.0" or empty"#.into());
        }
        let metadata = a.metadata_options.as_ref().map(|m| {
            let tokens = s(&m.http_tokens);
            if !tokens.is_empty() && tokens != "optional" && tokens != "required" {
                errs.push("http_tokens must be one of \"optional\" or \"required\"".into());
            }
            (
                s(&m.http_endpoint),
                tokens,
                m.http_put_response_hop_limit.unwrap_or(0) as i32,
                s(&m.instance_metadata_tags),
            )
        });

        let ssh_interface = s(&a.ssh_interface);
        if ![
            "",
            "public_ip",
            "private_ip",
            "public_dns",
            "private_dns",
            "ipv6",
        ]
        .contains(&ssh_interface.as_str())
        {
            if ssh_interface == "session_manager" {
                errs.push("ssh_interface = \"session_manager\" needs AWS Session Manager, which forge does not support yet".into());
            } else {
                errs.push(format!("Unknown interface type: {ssh_interface}"));
            }
        }

        let comm = CommConfig::prepare_into(&a.communicator, CommType::Ssh, info, &mut errs);
        let c = &a.communicator;
        let ssh_keypair_name = s(&c.ssh_keypair_name);
        let has = |x: &Option<String>| x.as_deref().is_some_and(|x| !x.is_empty());
        if !ssh_keypair_name.is_empty()
            && !has(&c.ssh_private_key_file)
            && !c.ssh_agent_auth.unwrap_or(false)
        {
            errs.push(
                "ssh_private_key_file must be provided to use the ssh_keypair_name option".into(),
            );
        }
        // Packer makes the temporary key pair whatever the communicator, unless a key or a
        // password is given: over WinRM it decrypts the instance's administrator password.
        let temp_key_name = match &comm {
            CommConfig::Winrm(w) if ssh_keypair_name.is_empty() && w.password.is_none() => Some(
                c.temporary_key_pair_name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| format!("packer_{}", uuid::Uuid::new_v4())),
            ),
            _ => comm
                .ssh()
                .filter(|_| comm.wants_temp_key())
                .map(|s| s.temp_key.name()),
        };
        let windows_password_timeout = match a
            .windows_password_timeout
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            None => Duration::from_secs(20 * 60),
            Some(t) => forge_template::plan::parse_duration(t).unwrap_or_else(|| {
                errs.push(format!(
                    "windows_password_timeout: time: invalid duration {t:?}"
                ));
                Duration::ZERO
            }),
        };
        let temp_key_type = c
            .temporary_key_pair_type
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "rsa".into());
        if temp_key_type != "rsa" && temp_key_type != "ed25519" {
            errs.push(format!(
                "temporary_key_pair_type: expected \"rsa\" or \"ed25519\", got {temp_key_type:?}"
            ));
        }

        let kms_key_id = s(&a.kms_key_id);
        let encrypt_boot = a.encrypt_boot;
        if !kms_key_id.is_empty() && encrypt_boot != Some(true) {
            errs.push("If you have set kms_key_id, encrypt_boot must also be true.".into());
        }
        let region_kms_key_ids = a.region_kms_key_ids.clone().unwrap_or_default();
        let ami_regions: Vec<String> = a
            .ami_regions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| *r != access.region)
            .collect();
        if !region_kms_key_ids.is_empty() {
            for r in &ami_regions {
                if !region_kms_key_ids.contains_key(r) {
                    errs.push(format!(
                        "Region {r} is in ami_regions but not in region_kms_key_ids"
                    ));
                }
            }
        }

        // Waits: aws_polling, then AWS_POLL_DELAY_SECONDS / AWS_MAX_ATTEMPTS / AWS_TIMEOUT_SECONDS.
        let p = a.aws_polling.as_ref();
        let delay = p
            .and_then(|p| p.delay_seconds)
            .map(|d| d.max(0) as u64)
            .or_else(|| env_secs("AWS_POLL_DELAY_SECONDS"));
        let attempts = p
            .and_then(|p| p.max_attempts)
            .map(|d| d.max(0) as u64)
            .or_else(|| env_secs("AWS_MAX_ATTEMPTS"));
        let wait = match (env_secs("AWS_TIMEOUT_SECONDS"), delay, attempts) {
            (Some(t), _, _) => Duration::from_secs(t),
            (None, d, n) => Duration::from_secs(d.unwrap_or(15) * n.unwrap_or(40)),
        };

        let mut security_group_ids = a.security_group_ids.clone().unwrap_or_default();
        security_group_ids.extend(a.security_group_id.clone().filter(|s| !s.is_empty()));

        if a.temporary_security_group_source_public_ip == Some(true)
            && a.temporary_security_group_source_cidrs
                .as_ref()
                .is_some_and(|c| !c.is_empty())
        {
            errs.push("temporary_security_group_source_cidrs and temporary_security_group_source_public_ip cannot both be set".into());
        }
        let spot_price = s(&a.spot_price);
        if !spot_price.is_empty() && spot_price != "auto" && spot_price.parse::<f64>().is_err() {
            errs.push(format!(
                "spot_price: {spot_price:?} is neither \"auto\" nor a price"
            ));
        }
        if a.spot_instance_types
            .as_ref()
            .is_some_and(|t| !t.is_empty())
        {
            if !s(&a.instance_type).is_empty() {
                errs.push("instance_type and spot_instance_types cannot both be set".into());
            }
            if spot_price.is_empty() {
                errs.push("spot_instance_types requires spot_price".into());
            }
        }

        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Config {
            access,
            ami_name,
            ami_description: s(&a.ami_description),
            ami_regions,
            tags: map(&a.tags, &a.tag),
            snapshot_tags: map(&a.snapshot_tags, &a.snapshot_tag),
            run_tags: map(&a.run_tags, &a.run_tag),
            run_volume_tags: {
                let mut m = a.run_volume_tags.clone().unwrap_or_default();
                for t in &a.run_volume_tag {
                    m.insert(s(&t.name), s(&t.value));
                }
                m
            },
            force_deregister: a.force_deregister.unwrap_or(false),
            force_delete_snapshot: a.force_delete_snapshot.unwrap_or(false),
            skip_create_ami: a.skip_create_ami.unwrap_or(false),
            encrypt_boot,
            kms_key_id,
            region_kms_key_ids,
            ami_devices: devices(&a.ami_block_device_mappings),
            launch_devices: devices(&a.launch_block_device_mappings),
            source_ami,
            source_ami_filter,
            instance_types,
            subnets,
            vpc_id: s(&a.vpc_id),
            availability_zone: s(&a.availability_zone),
            security_group_ids,
            temp_sg_cidrs: a
                .temporary_security_group_source_cidrs
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| vec!["0.0.0.0/0".into()]),
            temp_sg_public_ip: a.temporary_security_group_source_public_ip.unwrap_or(false),
            iam_instance_profile: s(&a.iam_instance_profile),
            user_data,
            metadata: match (metadata, imds.as_str()) {
                (Some(m), _) => Some(m),
                (None, "v2.0") => Some((String::new(), "required".into(), 0, String::new())),
                (None, _) => None,
            },
            associate_public_ip: a.associate_public_ip_address,
            ebs_optimized: a.ebs_optimized.unwrap_or(false),
            shutdown_behavior: s(&a.shutdown_behavior),
            tenancy: s(&a.tenancy),
            disable_stop_instance: a.disable_stop_instance.unwrap_or(false),
            ssh_interface,
            ssh_keypair_name,
            temp_key_name,
            temp_key_type,
            wait,
            poll: delay.map(Duration::from_secs),
            comm,
            windows_password_timeout,
            spot_price,
        })
    }

    /// Every region the AMI ends up in, build region first.
    pub fn all_regions(&self) -> Vec<String> {
        let mut r = vec![self.access.region.clone()];
        r.extend(self.ami_regions.iter().cloned());
        r
    }
}
