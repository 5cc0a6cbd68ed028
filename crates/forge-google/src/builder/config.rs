//! The googlecompute configuration, with Packer's defaults and checks
//! (builder/googlecompute/config.go, lib/common/auth.go). Settings forge does not carry out
//! yet pass `forge validate` and are refused when the build starts, naming each.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use forge_core::comm::{CommConfig, CommType};
use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::plan::parse_duration;
use forge_template::schema::plugins::{Communicator, CustomerEncryptionKey, GooglecomputeBuilder};
use forge_template::schema::ConfigStruct;
use forge_template::value::Value;

use crate::auth::{Source, TokenSource, DEFAULT_SCOPES};

/// What the builder carries out; every other setting given is refused at build start.
const SUPPORTED: &[&str] = &[
    "project_id",
    "zone",
    "region",
    "source_image",
    "source_image_family",
    "source_image_project_id",
    "machine_type",
    "disk_name",
    "disk_size",
    "disk_type",
    "instance_name",
    "image_name",
    "image_description",
    "image_family",
    "image_labels",
    "image_licenses",
    "image_storage_locations",
    "image_project_id",
    "skip_create_image",
    "labels",
    "tags",
    "metadata",
    "metadata_files",
    "startup_script_file",
    "wrap_startup_script",
    "network",
    "subnetwork",
    "network_project_id",
    "omit_external_ip",
    "use_internal_ip",
    "preemptible",
    "on_host_maintenance",
    "service_account_email",
    "scopes",
    "disable_default_service_account",
    "state_timeout",
    "account_file",
    "credentials_file",
    "credentials_json",
    "access_token",
    "custom_endpoints",
    "impersonate_service_account",
    "universe_domain",
    "use_os_login",
    "windows_password_timeout",
    "disk_encryption_key",
    "image_encryption_key",
    "enable_secure_boot",
    "enable_vtpm",
    "enable_integrity_monitoring",
    "accelerator_type",
    "accelerator_count",
    "min_cpu_platform",
    "node_affinity",
    "fallback_zones",
    "oslogin_ssh_username",
    "oslogin_ssh_key_expire_after",
    "use_iap",
    "iap_localhost_port",
    "iap_hashbang",
    "iap_tunnel_launch_wait",
];

/// The arguments given in `v` that this builder does not carry out yet.
pub fn unsupported(v: &Value) -> Vec<String> {
    let comm: Vec<String> = Communicator::schema()
        .fields
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let Some(entries) = v.as_entries() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|(k, val)| {
            !val.is_null()
                && !k.starts_with("packer_")
                && !SUPPORTED.contains(&k.as_str())
                && !comm.iter().any(|c| c == *k)
        })
        .map(|(k, _)| format!("{k}: not supported yet by forge's googlecompute builder"))
        .collect()
}

/// The IAP tunnel settings.
#[derive(Debug, Clone, Default)]
pub struct Iap {
    /// `use_iap`.
    pub use_iap: bool,
    /// `iap_localhost_port` (0: a free port between 8000 and 9000).
    pub localhost_port: u16,
    /// `iap_hashbang` (`/bin/sh`).
    pub hashbang: String,
    /// `iap_tunnel_launch_wait` (30 s; 40 s over WinRM).
    pub launch_wait: Duration,
}

/// The builder's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `project_id`.
    pub project_id: String,
    /// `zone`.
    pub zone: String,
    /// `region` (the zone's, by default).
    pub region: String,
    /// Whether `region` was given (else it follows the zone).
    pub region_given: bool,
    /// forge's `fallback_zones`: tried in order after `zone` when it has no capacity.
    pub fallback_zones: Vec<String>,
    /// `source_image`.
    pub source_image: String,
    /// `source_image_family`.
    pub source_image_family: String,
    /// `source_image_project_id`, searched in order, then `project_id`.
    pub source_image_project_id: Vec<String>,
    /// `machine_type` (`e2-standard-2`).
    pub machine_type: String,
    /// `disk_name` (the instance's name).
    pub disk_name: String,
    /// `disk_size` in GB (20).
    pub disk_size: i64,
    /// `disk_type` (`pd-standard`).
    pub disk_type: String,
    /// `disk_encryption_key`: the boot disk's key, as the API's `CustomerEncryptionKey`.
    pub disk_encryption_key: Option<serde_json::Value>,
    /// `image_encryption_key`: the image's key, as the API's `CustomerEncryptionKey`.
    pub image_encryption_key: Option<serde_json::Value>,
    /// `enable_secure_boot`, `enable_vtpm`, `enable_integrity_monitoring` (Shielded VM).
    pub shielded: [bool; 3],
    /// `accelerator_type` (a URL, or a name in the zone).
    pub accelerator_type: String,
    /// `accelerator_count`.
    pub accelerator_count: i64,
    /// `min_cpu_platform`.
    pub min_cpu_platform: String,
    /// `node_affinity`, as the API's `SchedulingNodeAffinity` list.
    pub node_affinity: Vec<serde_json::Value>,
    /// `instance_name` (`packer-<uuid>`).
    pub instance_name: String,
    /// `image_name` (`packer-<timestamp>`).
    pub image_name: String,
    /// `image_description` (`Created by Packer`).
    pub image_description: String,
    /// `image_family`.
    pub image_family: String,
    /// `image_labels`.
    pub image_labels: BTreeMap<String, String>,
    /// `image_licenses`.
    pub image_licenses: Vec<String>,
    /// `image_storage_locations`.
    pub image_storage_locations: Vec<String>,
    /// `image_project_id` (`project_id`).
    pub image_project_id: String,
    /// `skip_create_image`.
    pub skip_create_image: bool,
    /// `labels` of the instance and its disk.
    pub labels: BTreeMap<String, String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `metadata`.
    pub metadata: BTreeMap<String, String>,
    /// `metadata_files`: key → file.
    pub metadata_files: BTreeMap<String, String>,
    /// `startup_script_file`.
    pub startup_script_file: String,
    /// `wrap_startup_script` (unset: true).
    pub wrap_startup_script: Option<bool>,
    /// `network` (`default` when neither it nor `subnetwork` is set).
    pub network: String,
    /// `subnetwork`.
    pub subnetwork: String,
    /// `network_project_id` (`project_id`).
    pub network_project_id: String,
    /// `omit_external_ip`.
    pub omit_external_ip: bool,
    /// `use_internal_ip`.
    pub use_internal_ip: bool,
    /// `preemptible`.
    pub preemptible: bool,
    /// `on_host_maintenance` (MIGRATE; TERMINATE when preemptible).
    pub on_host_maintenance: String,
    /// `service_account_email`.
    pub service_account_email: String,
    /// `scopes` of the instance's service account.
    pub scopes: Vec<String>,
    /// `disable_default_service_account`.
    pub disable_default_service_account: bool,
    /// `state_timeout` (5m): how long each operation may take.
    pub state_timeout: Duration,
    /// `windows_password_timeout` (3m): how long the guest agent may take to answer.
    pub windows_password_timeout: Duration,
    /// The credentials, impersonation, universe and endpoints.
    pub auth: Auth,
    /// The Compute Engine endpoint (empty: Google's).
    pub endpoint: String,
    /// The communicator (default `ssh`).
    pub comm: CommConfig,
    /// `use_os_login`.
    pub use_os_login: Option<bool>,
    /// The IAP tunnel.
    pub iap: Iap,
    /// `oslogin_ssh_username` (the profile's primary POSIX user by default).
    pub oslogin_ssh_username: Option<String>,
    /// `oslogin_ssh_key_expire_after` (unset: the key does not expire).
    pub oslogin_ssh_key_expire_after: Option<Duration>,
    /// Arguments this builder does not carry out yet, refused at build start.
    pub unsupported: Vec<String>,
}

/// Packer's rule for image names and families.
pub fn valid_image_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn image_error(what: &str, v: &str) -> String {
    format!("Invalid image {what} {v:?}: The first character must be a lowercase letter, and all following characters must be a dash, lowercase letter, or digit, except the last character, which cannot be a dash")
}

fn label_key_ok(k: &str) -> bool {
    let mut c = k.chars();
    c.next().is_some_and(|f| f.is_lowercase())
        && k.chars().count() <= 63
        && c.all(|x| x.is_lowercase() || x.is_ascii_digit() || x == '_' || x == '-')
}

fn label_value_ok(v: &str) -> bool {
    v.chars().count() <= 63
        && v.chars()
            .all(|x| x.is_lowercase() || x.is_ascii_digit() || x == '_' || x == '-')
}

/// A `CustomerEncryptionKey` setting as the API's JSON: one of `kmsKeyName` and `rawKey` (a
/// base64 AES-256 key), checked.
fn encryption_key(
    what: &str,
    k: &Option<CustomerEncryptionKey>,
    errs: &mut Vec<String>,
) -> Option<serde_json::Value> {
    let k = k.as_ref()?;
    let kms = k.kmsKeyName.clone().unwrap_or_default();
    let raw = k.rawKey.clone().unwrap_or_default();
    match (kms.is_empty(), raw.is_empty()) {
        (false, true) => Some(serde_json::json!({"kmsKeyName": kms})),
        (true, false) => {
            use base64::Engine as _;
            let len = base64::engine::general_purpose::STANDARD
                .decode(raw.trim())
                .map(|b| b.len());
            if len != Ok(32) {
                errs.push(format!(
                    "{what}: rawKey must be a 256-bit key in base64 (RFC 4648)"
                ));
            }
            Some(serde_json::json!({"rawKey": raw}))
        }
        (true, true) => {
            errs.push(format!("{what}: set kmsKeyName or rawKey"));
            None
        }
        (false, false) => {
            errs.push(format!(
                "{what}: kmsKeyName and rawKey are mutually exclusive: set one"
            ));
            None
        }
    }
}

/// gcloud's application default credentials file (`gcloud auth application-default
/// login`): in `$CLOUDSDK_CONFIG`, else `~/.config/gcloud`.
pub fn well_known_adc_file() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("CLOUDSDK_CONFIG").filter(|d| !d.is_empty()) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".config/gcloud"),
    };
    Some(dir.join("application_default_credentials.json"))
}

/// The credentials the settings name, read and checked; else the application default
/// credentials (the file `GOOGLE_APPLICATION_CREDENTIALS` names, then gcloud's
/// [`well_known_adc_file`]); `None` when there are none.
pub fn credentials(
    account_file: &str,
    credentials_file: &str,
    credentials_json: &str,
    access_token: &str,
) -> Result<Option<Source>, String> {
    let given = [
        !account_file.is_empty(),
        !credentials_file.is_empty(),
        !credentials_json.is_empty(),
        !access_token.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given > 1 {
        return Err("account_file, credentials_file, credentials_json and access_token are mutually exclusive: set one".into());
    }
    let read = |path: &str, what: &str| -> Result<Option<Source>, String> {
        // Packer's account_file may hold the JSON itself.
        let text = if path.trim_start().starts_with('{') {
            path.to_string()
        } else {
            std::fs::read_to_string(path).map_err(|e| format!("{what}: reading {path}: {e}"))?
        };
        Source::parse(&text, what).map(Some)
    };
    if !access_token.is_empty() {
        return Ok(Some(Source::Token(access_token.to_string())));
    }
    if !account_file.is_empty() {
        return read(account_file, "account_file");
    }
    if !credentials_file.is_empty() {
        return read(credentials_file, "credentials_file");
    }
    if !credentials_json.is_empty() {
        return Source::parse(credentials_json, "credentials_json").map(Some);
    }
    if let Ok(p) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
        if !p.is_empty() {
            return read(&p, "GOOGLE_APPLICATION_CREDENTIALS");
        }
    }
    match well_known_adc_file().filter(|f| f.is_file()) {
        Some(f) => {
            let path = f.display().to_string();
            read(&path, &format!("application default credentials {path}"))
        }
        None => Ok(None),
    }
}

/// The service endpoints a build calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    /// Compute Engine (empty: the client's own, Google's).
    pub compute: String,
    /// IAM Credentials (`generateAccessToken`).
    pub iamcredentials: String,
    /// OS Login.
    pub oslogin: String,
}

/// The `custom_endpoints` forge calls.
const ENDPOINT_KEYS: [&str; 3] = ["compute", "iamcredentials", "oslogin"];

impl Endpoints {
    /// `custom_endpoints`, else the services of `universe_domain` (`googleapis.com`); the
    /// keys forge does not call are refused, by name.
    pub fn of(custom: &BTreeMap<String, String>, universe: &str) -> (Endpoints, Vec<String>) {
        let ud = if universe.is_empty() {
            "googleapis.com"
        } else {
            universe
        };
        let pick = |k: &str, default: String| {
            custom
                .get(k)
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or(default)
        };
        let compute = pick(
            "compute",
            if ud == "googleapis.com" {
                String::new()
            } else {
                format!("https://compute.{ud}")
            },
        );
        let e = Endpoints {
            compute: compute.trim_end_matches("/compute/v1").to_string(),
            iamcredentials: pick("iamcredentials", format!("https://iamcredentials.{ud}")),
            oslogin: pick("oslogin", format!("https://oslogin.{ud}")),
        };
        let refused = custom
            .keys()
            .filter(|k| !ENDPOINT_KEYS.contains(&k.as_str()))
            .map(|k| format!("custom_endpoints.{k}: not supported yet by forge's googlecompute builder ({} are)", ENDPOINT_KEYS.join(", ")))
            .collect();
        (e, refused)
    }
}

/// How a build authenticates: its credentials, the service account it impersonates, the
/// universe and the endpoints.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// The credentials (`None`: none given and no application default credentials).
    pub source: Option<Source>,
    /// `impersonate_service_account`.
    pub impersonate: String,
    /// `universe_domain` (`googleapis.com`).
    pub universe: String,
    /// The endpoints.
    pub endpoints: Endpoints,
}

impl Auth {
    /// The authentication settings of a googlecompute configuration, and the
    /// `custom_endpoints` forge refuses.
    pub fn of(a: &GooglecomputeBuilder) -> Result<(Auth, Vec<String>), String> {
        let au = &a.authentication;
        let s = |x: &Option<String>| x.clone().unwrap_or_default();
        let source = credentials(
            &s(&au.account_file),
            &s(&au.credentials_file),
            &s(&au.credentials_json),
            &s(&au.access_token),
        )?;
        let universe = match s(&a.universe_domain) {
            u if u.is_empty() => "googleapis.com".to_string(),
            u => u,
        };
        let (endpoints, refused) =
            Endpoints::of(&a.custom_endpoints.clone().unwrap_or_default(), &universe);
        Ok((
            Auth {
                source,
                impersonate: s(&au.impersonate_service_account),
                universe,
                endpoints,
            },
            refused,
        ))
    }

    /// A token source for Packer's scopes, or why there is none.
    pub fn tokens(&self) -> Result<TokenSource, String> {
        let source = self.source.clone().ok_or_else(|| {
            "no Google credentials: set account_file, credentials_file, credentials_json or access_token, point GOOGLE_APPLICATION_CREDENTIALS at a credentials file, or run `gcloud auth application-default login` (the metadata server's credentials of a Compute Engine host are not supported yet by forge's googlecompute builder)".to_string()
        })?;
        let mut t = TokenSource::new(
            source,
            DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
        );
        if !self.impersonate.is_empty() {
            t.impersonate = Some((
                self.impersonate.clone(),
                self.endpoints.iamcredentials.clone(),
            ));
        }
        t.universe = self.universe.clone();
        Ok(t)
    }

    /// The secrets of the credentials, for the redactor.
    pub fn secrets(&self) -> Vec<String> {
        self.source
            .as_ref()
            .map(Source::secrets)
            .unwrap_or_default()
    }
}

impl Config {
    /// Decodes and checks the configuration; every problem at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: GooglecomputeBuilder = decode(v)?;
        let mut errs: Vec<String> = Vec::new();
        let s = |x: &Option<String>| x.clone().unwrap_or_default();

        // Packer's required settings, in the order validate reports them.
        let project_id = s(&a.project_id);
        if project_id.is_empty() {
            errs.push("a project_id must be specified".into());
        }
        let source_image = s(&a.source_image);
        let source_image_family = s(&a.source_image_family);
        if source_image.is_empty() && source_image_family.is_empty() {
            errs.push("a source_image or source_image_family must be specified".into());
        }
        let zone = s(&a.zone);
        if zone.is_empty() {
            errs.push("a zone must be specified".into());
        }
        let region_given = !s(&a.region).is_empty();
        let fallback_zones = a.fallback_zones.clone().unwrap_or_default();
        for (i, f) in fallback_zones.iter().enumerate() {
            if f.is_empty() || *f == zone || fallback_zones[..i].contains(f) {
                errs.push(format!(
                    "fallback_zones: {f:?} must be a zone other than zone and the zones before it"
                ));
            }
        }
        let region = match s(&a.region) {
            r if !r.is_empty() => r,
            _ if zone.len() > 2 => zone[..zone.len() - 2].to_string(),
            _ => String::new(),
        };

        let image_name = match s(&a.image_name) {
            n if !n.is_empty() => n,
            _ => format!(
                "packer-{}",
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs()
            ),
        };
        if !valid_image_name(&image_name) {
            errs.push(image_error("name", &image_name));
        }
        if image_name.len() > 63 {
            errs.push("Invalid image name: Must not be longer than 63 characters".into());
        }
        let image_family = s(&a.image_family);
        if image_family.len() > 63 {
            errs.push("Invalid image family: Must not be longer than 63 characters".into());
        }
        if !image_family.is_empty() && !valid_image_name(&image_family) {
            errs.push(image_error("family", &image_family));
        }
        let image_storage_locations = a.image_storage_locations.clone().unwrap_or_default();
        if image_storage_locations.len() > 1 {
            errs.push("Invalid image storage locations: Must not have more than 1 region".into());
        }
        let image_labels = a.image_labels.clone().unwrap_or_default();
        for (k, v) in &image_labels {
            if !label_key_ok(k) {
                errs.push(format!(
                    "key {k:?} must match regex \"^\\\\p{{Ll}}[\\\\p{{Ll}}0-9_-]{{0,62}}$\""
                ));
            }
            if !label_value_ok(v) {
                errs.push(format!(
                    "value {v:?} for key {k:?} must match regex \"^[\\\\p{{Ll}}0-9_-]{{0,63}}$\""
                ));
            }
        }

        let preemptible = a.preemptible.unwrap_or(false);
        let mut on_host_maintenance = s(&a.on_host_maintenance);
        if on_host_maintenance == "MIGRATE" && preemptible {
            errs.push(
                "on_host_maintenance must be TERMINATE when using preemptible instances.".into(),
            );
        }
        if preemptible {
            on_host_maintenance = "TERMINATE".into();
        } else if on_host_maintenance.is_empty() {
            on_host_maintenance = "MIGRATE".into();
        }
        if on_host_maintenance != "MIGRATE" && on_host_maintenance != "TERMINATE" {
            errs.push("on_host_maintenance must be one of MIGRATE or TERMINATE.".into());
        }

        let accelerator_count = a.accelerator_count.unwrap_or(0);
        let accelerator_type = s(&a.accelerator_type);
        if accelerator_count > 0 && accelerator_type.is_empty() {
            errs.push(
                "'accelerator_type' must be set when 'accelerator_count' is more than 0".into(),
            );
        }
        if accelerator_count > 0 && on_host_maintenance != "TERMINATE" {
            errs.push("'on_host_maintenance' must be set to 'TERMINATE' when 'accelerator_count' is more than 0".into());
        }
        let disk_encryption_key =
            encryption_key("disk_encryption_key", &a.disk_encryption_key, &mut errs);
        let image_encryption_key =
            encryption_key("image_encryption_key", &a.image_encryption_key, &mut errs);
        let mut node_affinity = Vec::new();
        for (i, n) in a.node_affinity.iter().enumerate() {
            let op = s(&n.operator);
            if op != "IN" && op != "NOT_IN" {
                errs.push(format!(
                    "node_affinity[{i}]: operator must be IN or NOT_IN, not {op:?}"
                ));
            }
            if s(&n.key).is_empty() {
                errs.push(format!("node_affinity[{i}]: a key must be specified"));
            }
            node_affinity.push(serde_json::json!({"key": s(&n.key), "operator": op,
                "values": n.values.clone().unwrap_or_default()}));
        }

        let omit_external_ip = a.omit_external_ip.unwrap_or(false);
        let use_internal_ip = a.use_internal_ip.unwrap_or(false);
        if omit_external_ip && !use_internal_ip {
            errs.push("'use_internal_ip' must be true if 'omit_external_ip' is true".into());
        }
        let disable_default_service_account = a.disable_default_service_account.unwrap_or(false);
        let service_account_email = s(&a.service_account_email);
        if disable_default_service_account && !service_account_email.is_empty() {
            errs.push("you may not specify a 'service_account_email' when 'disable_default_service_account' is true".into());
        }

        let startup_script_file = s(&a.startup_script_file);
        let mut wrap_startup_script = a.wrap_startup_script;
        if !startup_script_file.is_empty() {
            if let Err(e) = std::fs::metadata(&startup_script_file) {
                errs.push(format!("startup_script_file: {e}"));
            }
            wrap_startup_script.get_or_insert(true);
        }

        let state_timeout = match a.state_timeout.as_deref().filter(|t| !t.is_empty()) {
            None => Duration::from_secs(300),
            Some(t) => match parse_duration(t) {
                Some(d) if !d.is_zero() => d,
                Some(_) => Duration::from_secs(300),
                None => {
                    errs.push(format!("state_timeout: time: invalid duration {t:?}"));
                    Duration::from_secs(300)
                }
            },
        };

        let windows_password_timeout = match a
            .windows_password_timeout
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            None => Duration::from_secs(180),
            Some(t) => match parse_duration(t) {
                Some(d) if !d.is_zero() => d,
                Some(_) => Duration::from_secs(180),
                None => {
                    errs.push(format!(
                        "windows_password_timeout: time: invalid duration {t:?}"
                    ));
                    Duration::from_secs(180)
                }
            },
        };

        let oslogin_ssh_key_expire_after = match a
            .oslogin_ssh_key_expire_after
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            None => None,
            Some(t) => match parse_duration(t) {
                Some(d) if !d.is_zero() => Some(d),
                _ => {
                    errs.push(format!(
                        "oslogin_ssh_key_expire_after: time: invalid duration {t:?}"
                    ));
                    None
                }
            },
        };

        let ic = &a.iap_config;
        let localhost_port = ic.iap_localhost_port.unwrap_or(0);
        if !(0..=65535).contains(&localhost_port) {
            errs.push(format!(
                "iap_localhost_port: {localhost_port} is not a port"
            ));
        }

        let comm = CommConfig::prepare_into(&a.communicator, CommType::Ssh, info, &mut errs);
        let winrm = matches!(comm, CommConfig::Winrm(_));

        let (auth, refused_endpoints) = match Auth::of(&a) {
            Ok(x) => x,
            Err(e) => {
                errs.push(e);
                (Auth::default(), Vec::new())
            }
        };

        let network = s(&a.network);
        let subnetwork = s(&a.subnetwork);
        let instance_name = match s(&a.instance_name) {
            n if !n.is_empty() => n,
            _ => format!("packer-{}", uuid::Uuid::new_v4()),
        };
        let disk_name = match s(&a.disk_name) {
            n if !n.is_empty() => n,
            _ => instance_name.clone(),
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut unsupported = unsupported(v);
        unsupported.extend(refused_endpoints);
        Ok(Config {
            network_project_id: match s(&a.network_project_id) {
                n if !n.is_empty() => n,
                _ => project_id.clone(),
            },
            image_project_id: match s(&a.image_project_id) {
                n if !n.is_empty() => n,
                _ => project_id.clone(),
            },
            project_id,
            zone,
            region,
            region_given,
            fallback_zones,
            source_image,
            source_image_family,
            source_image_project_id: a.source_image_project_id.clone().unwrap_or_default(),
            machine_type: match s(&a.machine_type) {
                m if !m.is_empty() => m,
                _ => "e2-standard-2".into(),
            },
            disk_name,
            disk_size: a.disk_size.filter(|d| *d > 0).unwrap_or(20),
            disk_type: match s(&a.disk_type) {
                t if !t.is_empty() => t,
                _ => "pd-standard".into(),
            },
            disk_encryption_key,
            image_encryption_key,
            shielded: [
                a.enable_secure_boot.unwrap_or(false),
                a.enable_vtpm.unwrap_or(false),
                a.enable_integrity_monitoring.unwrap_or(false),
            ],
            accelerator_type,
            accelerator_count,
            min_cpu_platform: s(&a.min_cpu_platform),
            node_affinity,
            instance_name,
            image_name,
            image_description: match s(&a.image_description) {
                d if !d.is_empty() => d,
                _ => "Created by Packer".into(),
            },
            image_family,
            image_labels,
            image_licenses: a.image_licenses.clone().unwrap_or_default(),
            image_storage_locations,
            skip_create_image: a.skip_create_image.unwrap_or(false),
            labels: a.labels.clone().unwrap_or_default(),
            tags: a.tags.clone().unwrap_or_default(),
            metadata: a.metadata.clone().unwrap_or_default(),
            metadata_files: a.metadata_files.clone().unwrap_or_default(),
            startup_script_file,
            wrap_startup_script,
            network: if network.is_empty() && subnetwork.is_empty() {
                "default".into()
            } else {
                network
            },
            subnetwork,
            omit_external_ip,
            use_internal_ip,
            preemptible,
            on_host_maintenance,
            service_account_email,
            scopes: a
                .scopes
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
            disable_default_service_account,
            state_timeout,
            windows_password_timeout,
            endpoint: auth.endpoints.compute.clone(),
            auth,
            comm,
            iap: Iap {
                use_iap: ic.use_iap.unwrap_or(false),
                localhost_port: localhost_port.clamp(0, 65535) as u16,
                hashbang: ic
                    .iap_hashbang
                    .clone()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "/bin/sh".into()),
                launch_wait: Duration::from_secs(match ic.iap_tunnel_launch_wait {
                    Some(w) if w > 0 => w as u64,
                    _ if winrm => 40,
                    _ => 30,
                }),
            },
            use_os_login: a.use_os_login,
            oslogin_ssh_username: a.oslogin_ssh_username.clone().filter(|u| !u.is_empty()),
            oslogin_ssh_key_expire_after,
            unsupported,
        })
    }

    /// The secrets of the configuration, for the redactor.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = self.auth.secrets();
        for k in [&self.disk_encryption_key, &self.image_encryption_key]
            .into_iter()
            .flatten()
        {
            if let Some(raw) = k["rawKey"].as_str() {
                out.push(raw.to_string());
            }
        }
        out
    }

    /// This configuration in `zone` (its region too, unless `region` was given).
    pub fn in_zone(&self, zone: &str) -> Config {
        let mut c = self.clone();
        c.zone = zone.to_string();
        if !self.region_given && zone.len() > 2 {
            c.region = zone[..zone.len() - 2].to_string();
        }
        c
    }

    /// The login user of the `ssh-keys` metadata.
    pub fn ssh_user(&self) -> String {
        self.comm.user().unwrap_or_default().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_follow_googles_pattern() {
        assert!(valid_image_name("packer-123"));
        assert!(valid_image_name("a"));
        for bad in ["", "Packer", "1abc", "abc-", "a_b", "a.b"] {
            assert!(!valid_image_name(bad), "{bad}");
        }
    }

    #[test]
    fn labels_follow_googles_pattern() {
        assert!(label_key_ok("env") && label_value_ok("prod-1") && label_value_ok(""));
        assert!(!label_key_ok("Env") && !label_key_ok("1x") && !label_value_ok("A"));
    }

    #[test]
    fn endpoints_follow_custom_endpoints_then_the_universe() {
        let none = BTreeMap::new();
        let (e, r) = Endpoints::of(&none, "");
        assert_eq!(e.compute, "");
        assert_eq!(e.iamcredentials, "https://iamcredentials.googleapis.com");
        assert!(r.is_empty());
        let (e, _) = Endpoints::of(&none, "example-cloud.net");
        assert_eq!(e.compute, "https://compute.example-cloud.net");
        assert_eq!(e.oslogin, "https://oslogin.example-cloud.net");
        let custom = BTreeMap::from([
            (
                "compute".to_string(),
                "http://127.0.0.1:9/compute/v1/".to_string(),
            ),
            ("storage".to_string(), "http://x".to_string()),
        ]);
        let (e, r) = Endpoints::of(&custom, "example-cloud.net");
        assert_eq!(e.compute, "http://127.0.0.1:9");
        assert_eq!(r, ["custom_endpoints.storage: not supported yet by forge's googlecompute builder (compute, iamcredentials, oslogin are)"]);
    }

    #[test]
    fn credentials_are_exclusive_and_read() {
        assert!(credentials("a", "", "", "t")
            .unwrap_err()
            .contains("mutually exclusive"));
        assert!(matches!(
            credentials("", "", "", "ya29.t").unwrap(),
            Some(Source::Token(_))
        ));
        let e = credentials("/no/such/key.json", "", "", "").unwrap_err();
        assert!(
            e.starts_with("account_file: reading /no/such/key.json:"),
            "{e}"
        );
    }
}
