//! A fake Azure Resource Manager (and the Azure AD token endpoint in front of it) on
//! 127.0.0.1 over HTTPS, for the `azure-arm` builder's tests. No ARM emulator exists: this one
//! is written from the Azure REST API specifications (resource shapes, the long-running
//! operation protocol, ARM's error shape) for the API versions the Rust `azure_mgmt_*` 0.21
//! crates send by default and those the pinned Python libraries send ([`API_VERSIONS`]).
//!
//! **It is a fake.** It models one subscription ([`SUBSCRIPTION`]) in one tenant ([`TENANT`])
//! with one service principal ([`CLIENT_ID`], secret [`CLIENT_SECRET`] or the certificate
//! [`FakeArm::client_certificate`]), the [`LOCATIONS`] and [`VM_SIZES`]:
//! - subscriptions (get, list locations), resource groups (create, get, head, delete as an
//!   operation that deletes what is in them, list with tag filters), `resources` lists with
//!   tag filters (subscription-wide and per group);
//! - deployments: put (evaluated by the `template` module: parameters, variables and the functions
//!   Packer's templates use), validate, get, cancel, list operations; the template's
//!   resources are created when the deployment's operation ends, in type order (network
//!   security groups, public IPs, virtual networks, NICs, VMs, extensions, vaults, secrets),
//!   and a failing resource fails the deployment with ARM's nested `details`;
//! - Microsoft.Network virtual networks (their subnets become child resources), subnets,
//!   security groups, public IPs (address 127.0.0.1: the "VM" is whatever listens on loopback,
//!   the tests' sshd) and NICs (private address 127.0.0.1 too), each checking the references
//!   they hold, and refusing deletion while another resource uses them (`NicInUse`,
//!   `InUseSubnetCannotBeDeleted`, ...);
//! - Microsoft.Compute virtual machines (put makes the OS disk; get, instanceView, deallocate,
//!   powerOff, start, generalize, capture to a VHD URI, delete leaving the OS disk detached),
//!   extensions, disks, snapshots, images (from a generalized VM, a disk, a snapshot or a blob),
//!   galleries, gallery images and gallery image versions (target regions, replication status),
//!   marketplace images ([`PLATFORM_IMAGES`]: list and get versions; a VM from an image nobody
//!   offers is `PlatformImageNotFound`);
//! - Microsoft.KeyVault vaults (their `vaultUri` is a port of each vault's own on 127.0.0.1)
//!   and their secrets, both through ARM and the data plane (set, get, delete, with the data
//!   plane's bearer challenge); Microsoft.Storage storage accounts as plain resources;
//! - long-running operations: 201/202 with `Azure-AsyncOperation`, `Location` and
//!   `Retry-After` ([`FakeArm::set_retry_after`]); they end after [`FakeArm::set_polls`] polls
//!   (of their status, their result, the resource, or the same PUT sent again), the resource's
//!   `provisioningState` going Creating/Accepted/Running/Deleting → Succeeded/Failed/Canceled,
//!   and their effect lands only then (vault and vault-secret writes and deletes are
//!   synchronous, as in ARM; a new disk or snapshot answers 202);
//! - ARM's errors (`{"error":{"code","message","target","details"}}`), api-version checks
//!   (`MissingApiVersionParameter`, `InvalidApiVersionParameter`, `NoRegisteredProviderFound`),
//!   `x-ms-ratelimit-remaining-subscription-reads/writes` and request ids on every answer;
//! - Azure AD v2.0: OpenID discovery, instance discovery and the client-credentials grant
//!   (secret; a client assertion whose signature is checked against the registered
//!   certificate; or a federated token of the fake's own OIDC issuer,
//!   [`FakeArm::federated_token`]), a managed identity's IMDS token endpoint
//!   ([`FakeArm::imds_token_endpoint`]) and ARM's cloud metadata (`/metadata/endpoints`, for a
//!   `metadata_host`); every ARM call needs a bearer token it issued for ARM's audience
//!   (`https://management.azure.com/`, `https://management.core.windows.net/` or this fake's
//!   own URL as a metadata host), the vault data plane one for `https://vault.azure.net/`.
//!
//! Injections: per-call latency ([`FakeArm::set_latency`]), operations that fail with nested
//! details ([`FakeArm::fail_operation`]), `AllocationFailed` for VMs in a location, of one
//! size or all ([`FakeArm::fail_allocation`]), `SkuNotAvailable` for a size in a location
//! ([`FakeArm::make_sku_unavailable`]), `429` throttling of the next N calls
//! ([`FakeArm::throttle`]) and expired tokens ([`FakeArm::expire_tokens`]).
//!
//! Not modelled: RBAC and Azure Policy (any valid token may do anything), quotas beyond the
//! injections, real disks and blobs (sizes are numbers, VHD URIs are names), the guest (no VM
//! agent, extensions' scripts never run, no boot diagnostics), pagination (lists answer in one
//! page, no `nextLink`), PATCH of resources, `$expand`, ETags and `If-Match`, soft delete and
//! purge of vaults, key vault keys and certificates, resources' managed identities (the
//! `identity` block is stored, not acted on), availability zones and sets,
//! marketplace plans and image terms, template `copy` loops,
//! `reference()`, nested and linked templates, `dependsOn` ordering beyond the type order,
//! the "what-if" API, regional replication taking time (versions replicate at once), and
//! the real Azure hosts (`vaultUri`s and VHD URIs are not served beyond the fake itself),
//! Azure AD's other grants (device code, authorization code, refresh tokens, on-behalf-of)
//! and its v1 endpoint, the Azure CLI, and token claims (access tokens are opaque strings).
//! It is validated with Microsoft's Python clients (`tests/arm_python.rs`), not yet with the
//! Rust `azure_mgmt_*` 0.21 clients it also accepts.

mod aad;
mod deploy;
mod resources;
mod template;
mod vault;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Value};

pub(crate) use crate::wire::{civil, pct_decode, query, read_req, Req};

/// The fake's subscription.
pub const SUBSCRIPTION: &str = "f0e6e000-0000-4000-8000-00000000f0e6";
/// The fake's tenant.
pub const TENANT: &str = "f0e6e000-0000-4000-8000-0000000e7a27";
/// The service principal's application (client) id.
pub const CLIENT_ID: &str = "f0e6e000-0000-4000-8000-0000000c1e27";
/// The service principal's client secret.
pub const CLIENT_SECRET: &str = "forge-fake-arm-client-secret";
/// The subject the service principal's federated credential trusts (what
/// [`FakeArm::federated_token`] says).
pub const FEDERATED_SUBJECT: &str = "repo:forge/forge:ref:refs/heads/main";
/// The locations of the subscription.
pub const LOCATIONS: [&str; 3] = ["eastus", "westus2", "westeurope"];
/// The VM sizes of every location.
pub const VM_SIZES: [&str; 4] = [
    "Standard_B1s",
    "Standard_B2s",
    "Standard_D2s_v3",
    "Standard_DS1_v2",
];

/// The marketplace images every location offers (publisher, offer, sku, version); more with
/// [`FakeArm::add_platform_image`].
pub const PLATFORM_IMAGES: [[&str; 4]; 4] = [
    [
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202410020",
    ],
    ["Canonical", "ubuntu-24_04-lts", "server", "24.04.202411030"],
    ["Debian", "debian-12", "12", "0.20241004.1889"],
    [
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-azure-edition",
        "20348.2762.241006",
    ],
];

/// The API versions accepted, by resource type prefix (lower case): the Rust `azure_mgmt_*`
/// 0.21 crates' defaults (resources 2021-04-01, subscriptions 2021-01-01, compute 2024-07-01 /
/// disks 2024-03-02 / galleries 2023-07-03, network 2024-03-01, storage 2023-05-01, key vault
/// 2019-09-01), the pinned Python libraries' (azure-mgmt-resource 2025-04-01, -deployments
/// 2026-06-01, -subscriptions 2022-12-01, compute 2026-04-01 / 2026-03-02 / 2026-03-03,
/// network 2026-03-01, key vault 2026-05-15) and those Packer's deployment templates name
/// (compute 2023-03-01, network 2023-04-01, key vault 2022-07-01).
pub const API_VERSIONS: [(&str, &[&str]); 8] = [
    (
        "microsoft.resources",
        &[
            "2021-01-01",
            "2021-04-01",
            "2022-12-01",
            "2025-04-01",
            "2026-06-01",
        ],
    ),
    ("microsoft.compute/disks", &["2024-03-02", "2026-03-02"]),
    ("microsoft.compute/snapshots", &["2024-03-02", "2026-03-02"]),
    ("microsoft.compute/galleries", &["2023-07-03", "2026-03-03"]),
    (
        "microsoft.compute",
        &["2023-03-01", "2024-07-01", "2026-04-01"],
    ),
    (
        "microsoft.network",
        &["2023-04-01", "2024-03-01", "2026-03-01"],
    ),
    (
        "microsoft.keyvault",
        &["2019-09-01", "2022-07-01", "2026-05-15"],
    ),
    ("microsoft.storage", &["2023-05-01"]),
];

/// The vault data plane's API versions (what Key Vault clients send; azure-keyvault-secrets
/// 4.12 sends 2026-04-01).
const VAULT_API_VERSIONS: [&str; 9] = [
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2026-04-01",
];

/// The resource types the fake knows, as ARM spells them.
const TYPES: [&str; 17] = [
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/publicIPAddresses",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/virtualNetworks/subnets",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.Compute/disks",
    "Microsoft.Compute/snapshots",
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Compute/virtualMachines/extensions",
    "Microsoft.Compute/images",
    "Microsoft.Compute/galleries",
    "Microsoft.Compute/galleries/images",
    "Microsoft.Compute/galleries/images/versions",
    "Microsoft.KeyVault/vaults",
    "Microsoft.KeyVault/vaults/secrets",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Resources/deployments",
];

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn now_rfc3339() -> String {
    let secs = now_secs();
    let (y, m, d) = civil((secs / 86400) as i64);
    let r = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

fn unb64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// An answer: status, extra headers and a JSON body (none for 202/204 and HEAD).
pub(crate) struct Resp {
    code: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Resp {
    fn json(code: u16, body: Value) -> Resp {
        Resp {
            code,
            headers: Vec::new(),
            body: Some(body),
        }
    }
    fn empty(code: u16) -> Resp {
        Resp {
            code,
            headers: Vec::new(),
            body: None,
        }
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// ARM's error answer.
fn err(code: u16, ecode: &str, message: &str) -> Resp {
    Resp::json(code, json!({"error": {"code": ecode, "message": message}}))
}

fn not_found(ty: &str, name: &str, group: &str) -> Resp {
    err(404, "ResourceNotFound", &format!("The Resource '{ty}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"))
}

/// An issued access token.
struct Token {
    aud: String,
    expired: bool,
}

#[derive(Clone, Debug)]
enum Effect {
    /// The resource (key) is ready: `provisioningState` Succeeded, side effects done.
    Ready(String),
    /// The resource and what is under it go.
    Remove(String),
    /// A VM's power state changes.
    Power(String, &'static str),
    /// A deployment's resources are created.
    Deploy(String),
}

#[derive(Clone, Debug)]
struct Op {
    ns: String,
    location: String,
    api: String,
    polls_left: u32,
    status: &'static str,
    effect: Effect,
    /// The failure it ends in.
    fail: Option<Value>,
    /// What the `Location` URL answers when it is done.
    result: Option<Value>,
    start: String,
    end: Option<String>,
}

#[derive(Clone, Debug)]
struct Fault {
    ty: String,
    method: String,
    code: String,
    message: String,
    times: usize,
}

#[derive(Default)]
struct World {
    /// Resources (and resource groups) by lower-case id; hidden state under `_fake`.
    res: BTreeMap<String, Value>,
    ops: BTreeMap<String, Op>,
    tokens: HashMap<String, Token>,
    /// Vault secrets by `vault/name`: their versions, oldest first.
    secrets: BTreeMap<String, Vec<Value>>,
    latency: Duration,
    polls: u32,
    retry_after: u64,
    throttle: usize,
    faults: Vec<Fault>,
    /// Locations (and sizes, `None` for all) where VMs cannot be allocated.
    no_alloc: Vec<(String, Option<String>)>,
    no_sku: Vec<(String, String)>,
    /// Each vault's data-plane port (its `vaultUri` is `https://127.0.0.1:port/`).
    vault_ports: BTreeMap<String, u16>,
    /// Vault listeners bound but not yet served.
    new_listeners: Vec<(String, TcpListener)>,
    /// Marketplace images: publisher, offer, sku, version.
    platform_images: Vec<[String; 4]>,
    calls: Vec<String>,
    next: u64,
    reads: u64,
    writes: u64,
}

impl World {
    fn id(&mut self) -> String {
        self.next += 1;
        format!(
            "f0e6e{:03}-0000-4000-8000-{:012x}",
            self.next % 1000,
            self.next
        )
    }
}

struct Shared {
    world: Mutex<World>,
    port: u16,
    stop: AtomicBool,
    /// The registered client certificate: its RSA public key and thumbprints.
    cert_key: Vec<u8>,
    cert_sha1: Vec<u8>,
    cert_sha256: Vec<u8>,
    /// The public key of the fake's OIDC issuer (federated credentials).
    oidc_key: Vec<u8>,
}

/// The fake ARM; stopped when dropped.
pub struct FakeArm {
    shared: Arc<Shared>,
    dir: PathBuf,
    oidc: ring::signature::RsaKeyPair,
}

fn pem_der(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = pem
        .split(&begin)
        .nth(1)
        .and_then(|r| r.split(&end).next())
        .unwrap_or_default();
    let body: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM base64")
}

/// A new 2048-bit RSA key (from `openssl genpkey`).
fn rsa_key() -> ring::signature::RsaKeyPair {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("running openssl genpkey");
    assert!(
        out.status.success(),
        "openssl genpkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ring::signature::RsaKeyPair::from_pkcs8(&pem_der(
        &String::from_utf8_lossy(&out.stdout),
        "PRIVATE KEY",
    ))
    .expect("a PKCS#8 RSA key")
}

impl FakeArm {
    /// Starts the fake on a free loopback port. Needs `openssl` (the client certificate).
    pub fn start() -> FakeArm {
        crate::require::program("openssl", "openssl");
        let dir = crate::sshd::fresh_dir("forge-fake-arm");
        let (key, cert) = (dir.join("client-key.pem"), dir.join("client-cert.pem"));
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=forge-fake-arm-client",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("running openssl req");
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key_pem = std::fs::read_to_string(&key).unwrap();
        let cert_pem = std::fs::read_to_string(&cert).unwrap();
        std::fs::write(dir.join("client.pem"), format!("{key_pem}{cert_pem}")).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&pem_der(&key_pem, "PRIVATE KEY"))
            .expect("a PKCS#8 RSA key");
        use ring::signature::KeyPair;
        let cert_der = pem_der(&cert_pem, "CERTIFICATE");
        let oidc = rsa_key();
        let (tls, ca_pem) = tls::server_config();
        std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                polls: 2,
                retry_after: 1,
                reads: 12000,
                writes: 1200,
                platform_images: PLATFORM_IMAGES
                    .iter()
                    .map(|i| i.map(str::to_string))
                    .collect(),
                ..World::default()
            }),
            port,
            stop: AtomicBool::new(false),
            cert_key: pair.public_key().as_ref().to_vec(),
            cert_sha1: ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_der)
                .as_ref()
                .to_vec(),
            cert_sha256: ring::digest::digest(&ring::digest::SHA256, &cert_der)
                .as_ref()
                .to_vec(),
            oidc_key: oidc.public_key().as_ref().to_vec(),
        });
        let s = shared.clone();
        std::thread::spawn(move || s.accept(listener, tls, None));
        FakeArm { shared, dir, oidc }
    }

    /// The base URL (`https://127.0.0.1:port`): ARM's endpoint, the Azure AD authority host,
    /// the metadata host and IMDS (each vault's data plane has a port of its own).
    pub fn endpoint(&self) -> String {
        self.shared.endpoint()
    }

    /// The environment that points Azure's clients at the fake with the service principal's
    /// secret: `AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`, `AZURE_SUBSCRIPTION_ID`, and the CA through `SSL_CERT_FILE` and
    /// `REQUESTS_CA_BUNDLE`.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        let ca = self.ca_file().display().to_string();
        vec![
            ("AZURE_AUTHORITY_HOST", self.endpoint()),
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
            ("SSL_CERT_FILE", ca.clone()),
            ("REQUESTS_CA_BUNDLE", ca),
        ]
    }

    /// The PEM file of the CA that signed the fake's certificate (for `REQUESTS_CA_BUNDLE`,
    /// `SSL_CERT_FILE` or a client's root store).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The service principal's certificate and private key in one PEM file (what
    /// certificate credentials read).
    pub fn client_certificate(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    /// A token of the fake's OIDC issuer for [`FEDERATED_SUBJECT`] (audience
    /// `api://AzureADTokenExchange`, ten minutes): what a CI system hands a workload for a
    /// federated (OIDC) client assertion.
    pub fn federated_token(&self) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let now = now_secs();
        let h = b64(
            json!({"alg": "RS256", "typ": "JWT", "kid": "forge-fake-oidc"})
                .to_string()
                .as_bytes(),
        );
        let c = b64(json!({"iss": self.oidc_issuer(), "sub": FEDERATED_SUBJECT, "aud": "api://AzureADTokenExchange",
            "iat": now, "nbf": now, "exp": now + 600}).to_string().as_bytes());
        let mut sig = vec![0; self.oidc.public().modulus_len()];
        self.oidc
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                format!("{h}.{c}").as_bytes(),
                &mut sig,
            )
            .expect("signing the federated token");
        format!("{h}.{c}.{}", b64(&sig))
    }

    /// The issuer of [`FakeArm::federated_token`].
    pub fn oidc_issuer(&self) -> String {
        self.shared.oidc_issuer()
    }

    /// The managed identity token endpoint (IMDS's `/metadata/identity/oauth2/token`, on
    /// this fake over HTTPS; it wants the `Metadata: true` header).
    pub fn imds_token_endpoint(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.endpoint())
    }

    /// Adds `d` before every answer.
    pub fn set_latency(&self, d: Duration) {
        self.shared.world().latency = d;
    }

    /// How many polls an operation takes (2 by default; 0 ends it at once).
    pub fn set_polls(&self, n: u32) {
        self.shared.world().polls = n;
    }

    /// The `Retry-After` seconds of operations and throttling (1 by default).
    pub fn set_retry_after(&self, secs: u64) {
        self.shared.world().retry_after = secs;
    }

    /// The next `n` ARM calls answer 429 `SubscriptionRequestsThrottled`.
    pub fn throttle(&self, n: usize) {
        self.shared.world().throttle = n;
    }

    /// The next `times` operations `method` (`PUT`, `DELETE` or an action such as
    /// `deallocate`) on resources of type `ty` (such as `Microsoft.Compute/virtualMachines`)
    /// end Failed with `code`, its `message` and a nested detail; in a deployment, the
    /// resource's creation fails and so does the deployment.
    pub fn fail_operation(&self, ty: &str, method: &str, code: &str, message: &str, times: usize) {
        self.shared.world().faults.push(Fault {
            ty: ty.to_ascii_lowercase(),
            method: method.to_ascii_lowercase(),
            code: code.into(),
            message: message.into(),
            times,
        });
    }

    /// VMs created in `location` (of `size`, or any size) end in `AllocationFailed`.
    pub fn fail_allocation(&self, location: &str, size: Option<&str>) {
        self.shared.world().no_alloc.push((
            location.to_ascii_lowercase(),
            size.map(str::to_ascii_lowercase),
        ));
    }

    /// `size` cannot be had in `location`: creating such a VM is refused with `SkuNotAvailable`.
    pub fn make_sku_unavailable(&self, location: &str, size: &str) {
        self.shared
            .world()
            .no_sku
            .push((location.to_ascii_lowercase(), size.to_ascii_lowercase()));
    }

    /// Adds a marketplace image version to every location.
    pub fn add_platform_image(&self, publisher: &str, offer: &str, sku: &str, version: &str) {
        self.shared
            .world()
            .platform_images
            .push([publisher, offer, sku, version].map(str::to_string));
    }

    /// Every token issued so far is expired (401 `ExpiredAuthenticationToken`).
    pub fn expire_tokens(&self) {
        for t in self.shared.world().tokens.values_mut() {
            t.expired = true;
        }
    }

    /// The calls so far, as `METHOD /path` (no query).
    pub fn calls(&self) -> Vec<String> {
        self.shared.world().calls.clone()
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.world().tokens.len()
    }

    /// A resource (or resource group) by id, as ARM answers it.
    pub fn get(&self, id: &str) -> Option<Value> {
        self.shared
            .world()
            .res
            .get(&id.to_ascii_lowercase())
            .map(public)
    }

    /// The ids of every resource group and resource the fake holds.
    pub fn leftovers(&self) -> Vec<String> {
        self.shared
            .world()
            .res
            .values()
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The value of a vault secret's latest version.
    pub fn secret(&self, vault: &str, name: &str) -> Option<String> {
        let w = self.shared.world();
        let v = w.secrets.get(&format!(
            "{}/{}",
            vault.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        ))?;
        v.last()
            .and_then(|s| s["value"].as_str())
            .map(str::to_string)
    }

    /// The directory of the fake's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for FakeArm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let ports: Vec<u16> = self.shared.world().vault_ports.values().copied().collect();
        for p in ports.into_iter().chain([self.shared.port]) {
            let _ = TcpStream::connect(("127.0.0.1", p));
        }
    }
}

mod tls {
    //! The fake's certificate: a CA made at start and a server certificate it signs for
    //! 127.0.0.1 and localhost.
    use std::sync::Arc;

    pub(super) fn server_config() -> (Arc<rustls::ServerConfig>, String) {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "forge fake ARM test CA");
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("params");
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        leaf.use_authority_key_identifier_extension = true;
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = leaf.signed_by(&key, &issuer).expect("server certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("TLS config");
        (Arc::new(config), ca_cert.pem())
    }
}

/// What ARM never answers: secrets in requests, and the fake's hidden state.
fn public(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("_fake");
    }
    if let Some(p) = v
        .pointer_mut("/properties/osProfile")
        .and_then(Value::as_object_mut)
    {
        p.remove("adminPassword");
        p.remove("customData");
    }
    if v["type"] == "Microsoft.KeyVault/vaults/secrets" {
        if let Some(p) = v["properties"].as_object_mut() {
            p.remove("value");
        }
    }
    v
}

fn state(v: &Value) -> &str {
    v["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("Succeeded")
}

fn set_state(v: &mut Value, s: &str) {
    if !v["properties"].is_object() {
        v["properties"] = json!({});
    }
    v["properties"]["provisioningState"] = json!(s);
}

/// The canonical spelling of a resource type, if the fake knows it.
fn known_type(ty: &str) -> Option<&'static str> {
    TYPES.iter().find(|t| t.eq_ignore_ascii_case(ty)).copied()
}

fn versions_for(ty: &str) -> &'static [&'static str] {
    let ty = ty.to_ascii_lowercase();
    API_VERSIONS
        .iter()
        .find(|(p, _)| ty.starts_with(p))
        .map(|(_, v)| *v)
        .unwrap_or(&[])
}

/// The api-version check ARM makes before anything else.
fn check_api_version(req: &Req, ty: &str) -> Option<Resp> {
    let Some(v) = req.query.get("api-version") else {
        return Some(err(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let shape = v.len() >= 10
        && v.as_bytes()[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Some(err(
            400,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                versions_for(ty).join(",")
            ),
        ));
    }
    let known = versions_for(ty);
    if known.contains(&v.as_str()) {
        return None;
    }
    let short = ty.split('/').skip(1).collect::<Vec<_>>().join("/");
    Some(err(
        400,
        "NoRegisteredProviderFound",
        &format!("No registered resource provider found for location '{}' and API version '{v}' for type '{short}'. The supported api-versions are '{}'. The supported locations are '{}'.", LOCATIONS[0], known.join(", "), LOCATIONS.join(", ")),
    ))
}

/// A `$filter` ARM's lists take: `tagName eq 'k' [and tagValue eq 'v']`, `resourceType eq 't'`,
/// `name eq 'n'`, joined by `and`.
fn filter_ok(v: &Value, filter: &str) -> Result<bool, Resp> {
    let mut ok = true;
    let mut tag_name: Option<String> = None;
    for clause in filter.split(" and ") {
        let parts: Vec<&str> = clause.trim().splitn(3, ' ').collect();
        let [field, "eq", lit] = parts.as_slice() else {
            return Err(err(
                400,
                "InvalidFilterInQueryString",
                &format!(
                    "Invalid $filter '{filter}': only 'eq' clauses joined by 'and' are supported."
                ),
            ));
        };
        let lit = lit.trim().trim_matches('\'').to_string();
        match field.to_ascii_lowercase().as_str() {
            "tagname" => {
                ok &= v["tags"]
                    .as_object()
                    .is_some_and(|t| t.keys().any(|k| k.eq_ignore_ascii_case(&lit)));
                tag_name = Some(lit);
            }
            "tagvalue" => {
                let Some(n) = &tag_name else {
                    return Err(err(
                        400,
                        "InvalidFilterInQueryString",
                        "tagValue needs a tagName before it.",
                    ));
                };
                ok &= v["tags"].as_object().is_some_and(|t| {
                    t.iter()
                        .any(|(k, x)| k.eq_ignore_ascii_case(n) && x == &json!(lit))
                });
            }
            "resourcetype" => {
                ok &= v["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&lit))
            }
            "name" => {
                ok &= v["name"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&lit))
            }
            other => {
                return Err(err(
                    400,
                    "InvalidFilterInQueryString",
                    &format!("Invalid $filter: the field '{other}' is not supported."),
                ))
            }
        }
    }
    Ok(ok)
}

impl Shared {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn oidc_issuer(&self) -> String {
        format!("{}/oidc", self.endpoint())
    }

    /// Accepts connections on `listener`: ARM's, or the data plane of `vault`.
    fn accept(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        vault: Option<String>,
    ) {
        for conn in listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (s, tls, vault) = (self.clone(), tls.clone(), vault.clone());
            std::thread::spawn(move || s.serve(conn, tls, vault));
        }
    }

    fn serve(
        self: Arc<Self>,
        conn: TcpStream,
        tls: Arc<rustls::ServerConfig>,
        vault: Option<String>,
    ) {
        let _ = conn.set_nodelay(true);
        let Ok(server) = rustls::ServerConnection::new(tls.clone()) else {
            return;
        };
        let mut r = BufReader::new(rustls::StreamOwned::new(server, conn));
        while let Some(mut req) = read_req(&mut r) {
            // ARM's paths are matched decoded; a `+` in one is itself.
            req.path = pct_decode(&req.path.replace('+', "%2B"));
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let latency = self.world().latency;
            if !latency.is_zero() {
                std::thread::sleep(latency);
            }
            if let Some(v) = &vault {
                req.path = format!("/_vault/{v}{}", req.path);
            }
            let resp = self.handle(&req);
            let fresh = std::mem::take(&mut self.world().new_listeners);
            for (name, l) in fresh {
                let (s, tls) = (self.clone(), tls.clone());
                std::thread::spawn(move || s.accept(l, tls, Some(name)));
            }
            let text = match (&resp.body, req.method.as_str()) {
                (_, "HEAD") | (None, _) => String::new(),
                (Some(b), _) => b.to_string(),
            };
            let mut head = format!("HTTP/1.1 {} {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n", resp.code, reason(resp.code), text.len());
            for (k, v) in &resp.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let w = r.get_mut();
            if w.write_all(head.as_bytes()).is_err()
                || w.write_all(text.as_bytes()).is_err()
                || w.flush().is_err()
            {
                return;
            }
        }
    }

    fn handle(&self, req: &Req) -> Resp {
        self.world()
            .calls
            .push(format!("{} {}", req.method, req.path));
        if let Some(r) = self.aad(req) {
            return r;
        }
        if req.path.starts_with("/_vault/") {
            return self.vault(req);
        }
        if let Some(r) = self.auth(
            req,
            &[
                "https://management.azure.com/",
                "https://management.core.windows.net/",
                &format!("{}/", self.endpoint()),
            ],
        ) {
            let why = r
                .body
                .as_ref()
                .and_then(|b| b["error"]["message"].as_str())
                .unwrap_or_default()
                .replace('"', "'");
            return r.header(
                "WWW-Authenticate",
                format!("Bearer authorization_uri=\"{}/{TENANT}\", error=\"invalid_token\", error_description=\"{why}\"", self.endpoint()),
            );
        }
        let mut w = self.world();
        let read = matches!(req.method.as_str(), "GET" | "HEAD");
        let (kind, left) = if read {
            w.reads = w.reads.saturating_sub(1);
            ("reads", w.reads)
        } else {
            w.writes = w.writes.saturating_sub(1);
            ("writes", w.writes)
        };
        w.next += 1;
        let rid = format!("f0e6e000-0000-4000-8000-{:012x}", w.next);
        let retry = w.retry_after;
        let resp = if w.throttle > 0 {
            w.throttle -= 1;
            err(429, "SubscriptionRequestsThrottled", &format!("Number of '{}' requests for subscription '{SUBSCRIPTION}' actor '{CLIENT_ID}' exceeded. Please try again after '{retry}' seconds after additional tokens are available.", &kind[..kind.len() - 1]))
                .header("Retry-After", retry.to_string())
        } else {
            self.route(&mut w, req)
        };
        resp.header(
            &format!("x-ms-ratelimit-remaining-subscription-{kind}"),
            left.to_string(),
        )
        .header("x-ms-request-id", rid.clone())
        .header("x-ms-correlation-request-id", rid)
    }

    /// The bearer token check: `None` when the call may go on.
    fn auth(&self, req: &Req, audiences: &[&str]) -> Option<Resp> {
        let h = req
            .headers
            .get("authorization")
            .map(String::as_str)
            .unwrap_or("");
        let Some(tok) = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
        else {
            return Some(err(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let w = self.world();
        match w.tokens.get(tok.trim()) {
            None => Some(err(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )),
            Some(t) if t.expired => Some(err(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )),
            Some(t) if !audiences.iter().any(|a| a.eq_ignore_ascii_case(&t.aud)) => Some(err(
                401,
                "InvalidAuthenticationTokenAudience",
                &format!(
                    "The access token has been obtained for wrong audience or resource '{}'.",
                    t.aud
                ),
            )),
            Some(_) => None,
        }
    }

    fn route(&self, w: &mut World, req: &Req) -> Resp {
        let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        if l.first() != Some(&"subscriptions") {
            return err(
                404,
                "NotFound",
                &format!(
                    "No HTTP resource was found that matches the request URI '{}'.",
                    req.path
                ),
            );
        }
        if l.len() == 1 {
            return check_api_version(req, "Microsoft.Resources")
                .unwrap_or_else(|| Resp::json(200, json!({"value": [self.subscription()]})));
        }
        if l[1] != SUBSCRIPTION {
            return err(
                404,
                "SubscriptionNotFound",
                &format!("The subscription '{}' could not be found.", segs[1]),
            );
        }
        // Operation monitors carry the api-version of the call that started them.
        if l.len() == 8
            && l[2] == "providers"
            && l[4] == "locations"
            && matches!(l[6], "operations" | "operationresults")
        {
            return self.poll(w, segs[7], l[6] == "operationresults");
        }
        let ty = if l.len() > 5 && l[4] == "providers" {
            let types: Vec<&str> = segs[6..].iter().step_by(2).copied().collect();
            format!("{}/{}", segs[5], types.join("/"))
        } else if l.len() == 5 && l[2] == "providers" {
            format!("{}/{}", segs[3], segs[4])
        } else if l.len() > 5 && l[2] == "providers" {
            segs[3].to_string()
        } else {
            "Microsoft.Resources".to_string()
        };
        if let Some(r) = check_api_version(req, &ty) {
            return r;
        }
        match (req.method.as_str(), &l[2..]) {
            ("GET", []) => Resp::json(200, self.subscription()),
            ("GET", ["locations"]) => Resp::json(
                200,
                json!({"value": LOCATIONS.iter().map(|n| json!({"id": format!("/subscriptions/{SUBSCRIPTION}/locations/{n}"),
                    "name": n, "displayName": n, "regionalDisplayName": n, "type": "Region",
                    "metadata": {"regionType": "Physical"}})).collect::<Vec<_>>()}),
            ),
            ("GET", ["resources"]) => {
                self.list(w, req, &format!("/subscriptions/{SUBSCRIPTION}/"), None)
            }
            ("GET", ["resourcegroups"]) => {
                let mut out = Vec::new();
                for v in w
                    .res
                    .values()
                    .filter(|v| v["type"] == "Microsoft.Resources/resourceGroups")
                {
                    match filter_ok(
                        v,
                        req.query.get("$filter").map(String::as_str).unwrap_or(""),
                    ) {
                        Ok(true) => out.push(public(v)),
                        Ok(false) => {}
                        Err(e) if req.query.contains_key("$filter") => return e,
                        Err(_) => out.push(public(v)),
                    }
                }
                Resp::json(200, json!({"value": out}))
            }
            (_, ["resourcegroups", _]) => self.group(w, req, segs[3]),
            ("GET", ["resourcegroups", _, "resources"]) => {
                let Some(g) = w.res.get(&group_key(segs[3])) else {
                    return group_missing(segs[3]);
                };
                let prefix = format!(
                    "{}/",
                    g["id"].as_str().unwrap_or_default().to_ascii_lowercase()
                );
                self.list(w, req, &prefix, None)
            }
            (
                "GET",
                ["providers", "microsoft.compute", "locations", loc, "publishers", _, "artifacttypes", "vmimage", "offers", _, "skus", _, "versions", rest @ ..],
            ) if rest.len() <= 1 => self.platform_image(
                w,
                loc,
                segs[7],
                segs[11],
                segs[13],
                rest.first().map(|_| segs[15]),
            ),
            ("GET", ["providers", _, _]) => match known_type(&ty) {
                Some(t) => self.list(w, req, &format!("/subscriptions/{SUBSCRIPTION}/"), Some(t)),
                None => bad_type(&ty),
            },
            (_, ["resourcegroups", _, "providers", _, ..]) if l.len() >= 7 => {
                self.resource(w, req, &segs)
            }
            _ => err(
                404,
                "NotFound",
                &format!(
                    "No HTTP resource was found that matches the request URI '{}'.",
                    req.path
                ),
            ),
        }
    }

    /// `.../publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{s}/versions[/{v}]`.
    fn platform_image(
        &self,
        w: &World,
        loc: &str,
        publisher: &str,
        offer: &str,
        sku: &str,
        version: Option<&str>,
    ) -> Resp {
        let versions = platform_versions(w, publisher, offer, sku);
        let id = |v: &str| {
            format!("/Subscriptions/{SUBSCRIPTION}/Providers/Microsoft.Compute/Locations/{loc}/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions/{v}")
        };
        let os = if publisher.eq_ignore_ascii_case("MicrosoftWindowsServer") {
            "Windows"
        } else {
            "Linux"
        };
        if !LOCATIONS.contains(&loc.to_ascii_lowercase().as_str()) {
            return err(
                404,
                "NoRegisteredProviderFound",
                &format!("The location '{loc}' is not available."),
            );
        }
        match version {
            None => Resp::json(
                200,
                json!(versions
                    .iter()
                    .map(|v| json!({"location": loc, "name": v, "id": id(v)}))
                    .collect::<Vec<_>>()),
            ),
            Some(v) => match versions.iter().find(|x| x.eq_ignore_ascii_case(v)) {
                Some(v) => Resp::json(
                    200,
                    json!({"location": loc, "name": v, "id": id(v),
                    "properties": {"osDiskImage": {"operatingSystem": os, "sizeInGb": 30}, "hyperVGeneration": if sku.contains("gen2") { "V2" } else { "V1" },
                        "architecture": "x64", "dataDiskImages": []}}),
                ),
                None => err(404, "NotFound", "Artifact: VMImage was not found."),
            },
        }
    }

    fn subscription(&self) -> Value {
        json!({"id": format!("/subscriptions/{SUBSCRIPTION}"), "subscriptionId": SUBSCRIPTION, "tenantId": TENANT,
            "displayName": "forge fake subscription", "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
            "authorizationSource": "RoleBased"})
    }

    fn list(&self, w: &World, req: &Req, prefix: &str, ty: Option<&str>) -> Resp {
        let filter = req.query.get("$filter").map(String::as_str).unwrap_or("");
        let mut out = Vec::new();
        for (k, v) in &w.res {
            if !k.starts_with(prefix)
                || v["type"] == "Microsoft.Resources/resourceGroups"
                || v["type"] == "Microsoft.Resources/deployments"
            {
                continue;
            }
            if ty.is_some_and(|t| v["type"] != t) {
                continue;
            }
            if !filter.is_empty() {
                match filter_ok(v, filter) {
                    Ok(false) => continue,
                    Err(e) => return e,
                    Ok(true) => {}
                }
            }
            out.push(public(v));
        }
        Resp::json(200, json!({"value": out}))
    }

    fn group(&self, w: &mut World, req: &Req, name: &str) -> Resp {
        let key = group_key(name);
        match req.method.as_str() {
            "HEAD" => Resp::empty(if w.res.contains_key(&key) { 204 } else { 404 }),
            "GET" => w
                .res
                .get(&key)
                .map(|g| Resp::json(200, public(g)))
                .unwrap_or_else(|| group_missing(name)),
            "PUT" | "PATCH" => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
                let existing = w.res.get(&key).cloned();
                if existing.as_ref().is_some_and(|g| state(g) == "Deleting") {
                    return err(409, "ResourceGroupBeingDeleted", &format!("The resource group '{name}' is in deprovisioning state and cannot perform this operation."));
                }
                let location = body["location"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .or_else(|| {
                        existing
                            .as_ref()
                            .and_then(|g| g["location"].as_str().map(str::to_string))
                    });
                let Some(location) = location else {
                    return err(
                        400,
                        "LocationRequired",
                        "The location property is required for this definition.",
                    );
                };
                if !LOCATIONS.contains(&location.as_str()) {
                    return err(400, "LocationNotAvailableForResourceGroup", &format!("The provided location '{location}' is not available for resource group. List of available regions is '{}'.", LOCATIONS.join(",")));
                }
                let tags = if body["tags"].is_object() {
                    body["tags"].clone()
                } else {
                    existing
                        .as_ref()
                        .map(|g| g["tags"].clone())
                        .unwrap_or(json!({}))
                };
                let id = existing
                    .as_ref()
                    .and_then(|g| g["id"].as_str().map(str::to_string))
                    .unwrap_or_else(|| {
                        format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}")
                    });
                let g = json!({"id": id, "name": id.rsplit('/').next().unwrap_or(name), "type": "Microsoft.Resources/resourceGroups",
                    "location": location, "tags": tags, "properties": {"provisioningState": "Succeeded"}});
                w.res.insert(key, g.clone());
                Resp::json(if existing.is_some() { 200 } else { 201 }, g)
            }
            "DELETE" => {
                let Some(g) = w.res.get_mut(&key) else {
                    return group_missing(name);
                };
                set_state(g, "Deleting");
                let loc = g["location"].as_str().unwrap_or(LOCATIONS[0]).to_string();
                let api = req.query.get("api-version").cloned().unwrap_or_default();
                self.start_op(
                    w,
                    "Microsoft.Resources",
                    &loc,
                    &api,
                    Effect::Remove(key),
                    None,
                    None,
                )
            }
            _ => method_not_allowed(req),
        }
    }

    /// Starts an operation and answers for it: 202 (or `initial` with its status) with the
    /// monitor headers.
    #[allow(clippy::too_many_arguments)]
    fn start_op(
        &self,
        w: &mut World,
        ns: &str,
        location: &str,
        api: &str,
        effect: Effect,
        fail: Option<Value>,
        initial: Option<(u16, Value)>,
    ) -> Resp {
        let id = w.id();
        let op = Op {
            ns: ns.into(),
            location: location.into(),
            api: api.into(),
            polls_left: w.polls,
            status: "InProgress",
            effect,
            fail,
            result: None,
            start: now_rfc3339(),
            end: None,
        };
        w.ops.insert(id.clone(), op);
        if w.polls == 0 {
            self.finish(w, &id);
        }
        let base = format!(
            "{}/subscriptions/{SUBSCRIPTION}/providers/{ns}/locations/{location}",
            self.endpoint()
        );
        let resp = match initial {
            Some((code, body)) => Resp::json(code, body),
            None => Resp::empty(202),
        };
        resp.header(
            "Azure-AsyncOperation",
            format!("{base}/operations/{id}?api-version={api}"),
        )
        .header(
            "Location",
            format!("{base}/operationResults/{id}?api-version={api}"),
        )
        .header("Retry-After", w.retry_after.to_string())
    }

    /// A poll of operation `id`'s status (or result): counts towards its end.
    fn poll(&self, w: &mut World, id: &str, result: bool) -> Resp {
        let Some(op) = w.ops.get_mut(id) else {
            return err(
                404,
                "OperationNotFound",
                &format!("The operation '{id}' was not found."),
            );
        };
        if op.status == "InProgress" {
            op.polls_left = op.polls_left.saturating_sub(1);
            if op.polls_left == 0 {
                self.finish(w, id);
            } else if let Effect::Deploy(k) = &op.effect {
                let k = k.clone();
                if let Some(d) = w.res.get_mut(&k) {
                    set_state(d, "Running");
                }
            }
        }
        let Some(op) = w.ops.get(id) else {
            return err(404, "OperationNotFound", id);
        };
        let retry = w.retry_after.to_string();
        if result {
            let base = format!(
                "{}/subscriptions/{SUBSCRIPTION}/providers/{}/locations/{}",
                self.endpoint(),
                op.ns,
                op.location
            );
            // Each answer carries `status` too: the Rust `azure_mgmt_*` 0.21 clients read it
            // from the Location monitor.
            return match op.status {
                "InProgress" => Resp::json(202, json!({"status": "InProgress"}))
                    .header(
                        "Location",
                        format!("{base}/operationResults/{id}?api-version={}", op.api),
                    )
                    .header("Retry-After", retry),
                "Succeeded" => {
                    let mut v = op.result.clone().unwrap_or(json!({}));
                    v["status"] = json!("Succeeded");
                    Resp::json(200, v)
                }
                status => Resp::json(
                    409,
                    json!({"status": status, "error": op.fail.clone().unwrap_or(json!({"code": "Canceled", "message": "The operation was canceled."}))}),
                ),
            };
        }
        let mut body = json!({"id": format!("/subscriptions/{SUBSCRIPTION}/providers/{}/locations/{}/operations/{id}", op.ns, op.location),
            "name": id, "status": op.status, "startTime": op.start});
        if let Some(e) = &op.end {
            body["endTime"] = json!(e);
        }
        if op.status == "Failed" {
            body["error"] = op.fail.clone().unwrap_or(Value::Null);
        }
        if let Some(r) = &op.result {
            body["properties"] = json!({"output": r});
        }
        let resp = Resp::json(200, body);
        if op.status == "InProgress" {
            resp.header("Retry-After", retry)
        } else {
            resp
        }
    }

    /// Ends operation `id`: its effect lands, or the failure it was set to end in.
    fn finish(&self, w: &mut World, id: &str) {
        let Some(op) = w.ops.get(id).cloned() else {
            return;
        };
        if op.status != "InProgress" {
            return;
        }
        let mut status = "Succeeded";
        let mut fail = op.fail.clone();
        let mut result = None;
        match (&op.effect, &fail) {
            (Effect::Ready(k), Some(_)) => {
                if let Some(r) = w.res.get_mut(k) {
                    set_state(r, "Failed");
                }
                status = "Failed";
            }
            (Effect::Ready(k), None) => {
                self.ready(w, k);
                result = w.res.get(k).map(public);
            }
            (Effect::Remove(k), None) => {
                let k = k.clone();
                remove_tree(w, &k);
            }
            (Effect::Power(k, p), None) => {
                if let Some(vm) = w.res.get_mut(k) {
                    vm["_fake"]["power"] = json!(p);
                    if *p == "captured" {
                        vm["_fake"]["power"] = json!("deallocated");
                        result = vm["_fake"]["capture"]
                            .clone()
                            .as_object()
                            .map(|o| Value::Object(o.clone()));
                    }
                }
            }
            (Effect::Deploy(k), None) => {
                let k = k.clone();
                match self.deploy(w, &k) {
                    Ok(()) => {
                        if let Some(d) = w.res.get_mut(&k) {
                            set_state(d, "Succeeded");
                        }
                        result = w.res.get(&k).map(public);
                    }
                    Err(e) => {
                        if let Some(d) = w.res.get_mut(&k) {
                            set_state(d, "Failed");
                            d["properties"]["error"] = e.clone();
                        }
                        fail = Some(e);
                        status = "Failed";
                    }
                }
            }
            (Effect::Deploy(k), Some(e)) => {
                if let Some(d) = w.res.get_mut(k) {
                    set_state(d, "Failed");
                    d["properties"]["error"] = e.clone();
                }
                status = "Failed";
            }
            (Effect::Remove(k), Some(_)) => {
                if let Some(r) = w.res.get_mut(k) {
                    set_state(r, "Failed");
                }
                status = "Failed";
            }
            (_, Some(_)) => status = "Failed",
        }
        if let Some(op) = w.ops.get_mut(id) {
            op.status = status;
            op.fail = fail;
            op.result = result;
            op.end = Some(now_rfc3339());
        }
    }

    /// Counts a GET of a resource as a poll of the operations running on it.
    fn poll_resource(&self, w: &mut World, key: &str) {
        let running: Vec<String> = w
            .ops
            .iter()
            .filter(|(_, o)| {
                o.status == "InProgress"
                    && matches!(&o.effect, Effect::Ready(k) | Effect::Deploy(k) if k == key)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in running {
            self.poll(w, &id, false);
        }
    }

    /// A resource under a resource group: `segs` is the whole path.
    fn resource(&self, w: &mut World, req: &Req, segs: &[&str]) -> Resp {
        let group = segs[3];
        let ns = segs[5];
        let rest = &segs[6..];
        let Some(g) = w.res.get(&group_key(group)).cloned() else {
            return group_missing(group);
        };
        // rest: type/name pairs, then perhaps an action or a collection.
        let pairs = rest.len() / 2;
        let types: Vec<&str> = rest.iter().step_by(2).copied().collect();
        let full_ty = format!("{ns}/{}", types.join("/"));
        let pair_ty = format!("{ns}/{}", types[..pairs].join("/"));
        let gid = g["id"].as_str().unwrap_or_default().to_string();
        let id_of = |n: usize| format!("{gid}/providers/{ns}/{}", rest[..n].join("/"));
        if rest.len() % 2 == 1 {
            // A collection or an action on the resource before it.
            if let Some(t) = known_type(&full_ty) {
                if req.method != "GET" {
                    return err(405, "MethodNotAllowed", "Collections only answer GET.");
                }
                let prefix = if pairs == 0 {
                    format!("{}/", gid.to_ascii_lowercase())
                } else {
                    format!("{}/", id_of(pairs * 2).to_ascii_lowercase())
                };
                return self.list(w, req, &prefix, Some(t));
            }
            let Some(t) = known_type(&pair_ty) else {
                return bad_type(&full_ty);
            };
            let key = id_of(pairs * 2).to_ascii_lowercase();
            let action = rest[rest.len() - 1].to_ascii_lowercase();
            if t == "Microsoft.Resources/deployments"
                && action == "validate"
                && req.method == "POST"
            {
                return self.validate(w, &g, &id_of(pairs * 2), req);
            }
            if !w.res.contains_key(&key) {
                return not_found(t, rest[rest.len() - 2], group);
            }
            return self.action(w, req, t, &key, &action);
        }
        let Some(t) = known_type(&full_ty) else {
            return bad_type(&full_ty);
        };
        let id = id_of(rest.len());
        let key = id.to_ascii_lowercase();
        let name = rest[rest.len() - 1];
        match req.method.as_str() {
            "GET" | "HEAD" => {
                self.poll_resource(w, &key);
                match w.res.get(&key) {
                    Some(v) => Resp::json(200, public(v)),
                    None if t == "Microsoft.Resources/deployments" => err(
                        404,
                        "DeploymentNotFound",
                        &format!("Deployment '{name}' could not be found."),
                    ),
                    None => not_found(t, name, group),
                }
            }
            "PUT" => {
                let body: Value = match serde_json::from_slice(&req.body) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        return err(
                            400,
                            "InvalidRequestContent",
                            "The request content was invalid and could not be deserialized.",
                        )
                    }
                };
                let api = req.query.get("api-version").cloned().unwrap_or_default();
                if let Some(r) = self.put_again(w, &key) {
                    return r;
                }
                if t == "Microsoft.Resources/deployments" {
                    return self.put_deployment(w, &g, &id, name, body, &api);
                }
                let existed = w.res.contains_key(&key);
                let v = match self.prepare(w, t, &id, body) {
                    Ok(v) => v,
                    Err(e) => return e,
                };
                let loc = v["location"].as_str().unwrap_or(LOCATIONS[0]).to_string();
                let mut v = v;
                set_state(&mut v, if existed { "Updating" } else { "Creating" });
                let fail = take_fault(w, t, "put").or_else(|| alloc_failure(w, t, &v));
                w.res.insert(key.clone(), v.clone());
                // Vault secrets are written at once (not a long-running operation).
                if t == "Microsoft.KeyVault/vaults/secrets" {
                    self.ready(w, &key);
                    let v = w.res.get(&key).map(public).unwrap_or_default();
                    return Resp::json(if existed { 200 } else { 201 }, v);
                }
                // The disk resource provider answers a new disk or snapshot with 202.
                let created = match t {
                    "Microsoft.Compute/disks" | "Microsoft.Compute/snapshots" => 202,
                    _ => 201,
                };
                self.start_op(
                    w,
                    ns,
                    &loc,
                    &api,
                    Effect::Ready(key),
                    fail,
                    Some((if existed { 200 } else { created }, public(&v))),
                )
            }
            "DELETE" => {
                let Some(v) = w.res.get(&key).cloned() else {
                    return Resp::empty(204);
                };
                if let Some(e) = delete_conflict(w, t, &key, &v) {
                    return e;
                }
                // Vaults and their secrets are deleted at once.
                if matches!(
                    t,
                    "Microsoft.KeyVault/vaults" | "Microsoft.KeyVault/vaults/secrets"
                ) {
                    remove_tree(w, &key);
                    return Resp::empty(200);
                }
                let api = req.query.get("api-version").cloned().unwrap_or_default();
                let loc = v["location"].as_str().unwrap_or(LOCATIONS[0]).to_string();
                if let Some(r) = w.res.get_mut(&key) {
                    set_state(r, "Deleting");
                }
                let fail = take_fault(w, t, "delete");
                self.start_op(w, ns, &loc, &api, Effect::Remove(key), fail, None)
            }
            _ => method_not_allowed(req),
        }
    }
}

impl Resp {
    /// Sets ARM's `target` on an error answer.
    fn target(mut self, target: &str) -> Resp {
        if let Some(e) = self.body.as_mut().and_then(|b| b.get_mut("error")) {
            e["target"] = json!(target);
        }
        self
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        429 => "Too Many Requests",
        _ => "Error",
    }
}

/// A vault's data-plane base URL: a port of its own on 127.0.0.1 (Key Vault clients want the
/// vault at the root of its host), bound on first use.
fn vault_base(w: &mut World, vault: &str) -> String {
    if let Some(p) = w.vault_ports.get(vault) {
        return format!("https://127.0.0.1:{p}");
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("a loopback port for a vault");
    let port = l.local_addr().expect("the vault's port").port();
    w.vault_ports.insert(vault.to_string(), port);
    w.new_listeners.push((vault.to_string(), l));
    format!("https://127.0.0.1:{port}")
}

/// The versions of a marketplace image (none when it is not offered).
fn platform_versions(w: &World, publisher: &str, offer: &str, sku: &str) -> Vec<String> {
    w.platform_images
        .iter()
        .filter(|[p, o, s, _]| {
            p.eq_ignore_ascii_case(publisher)
                && o.eq_ignore_ascii_case(offer)
                && s.eq_ignore_ascii_case(sku)
        })
        .map(|i| i[3].clone())
        .collect()
}

/// The resource id at `path` in `v`, if any, must exist (what network resources check).
fn check_ref(w: &World, v: &Value, path: &str, id: &str) -> Result<(), Resp> {
    match v.pointer(path).and_then(Value::as_str) {
        Some(r) if !w.res.contains_key(&r.to_ascii_lowercase()) => Err(err(400, "InvalidResourceReference", &format!("Resource {r} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."))),
        _ => Ok(()),
    }
}

fn method_not_allowed(req: &Req) -> Resp {
    err(
        405,
        "MethodNotAllowed",
        &format!(
            "The requested resource does not support http method '{}'.",
            req.method
        ),
    )
}

fn group_key(name: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourcegroups/{name}").to_ascii_lowercase()
}

fn group_missing(name: &str) -> Resp {
    err(
        404,
        "ResourceGroupNotFound",
        &format!("Resource group '{name}' could not be found."),
    )
}

fn bad_type(ty: &str) -> Resp {
    let (ns, t) = ty.split_once('/').unwrap_or((ty, ""));
    err(400, "InvalidResourceType", &format!("The resource type '{t}' could not be found in the namespace '{ns}' for api version in the fake."))
}

/// Removes `key` and everything under it.
fn remove_tree(w: &mut World, key: &str) {
    let prefix = format!("{key}/");
    let gone: Vec<String> = w
        .res
        .keys()
        .filter(|k| *k == key || k.starts_with(&prefix))
        .cloned()
        .collect();
    for k in gone {
        if let Some(v) = w.res.remove(&k) {
            // A deleted VM leaves its OS disk detached (unless its deleteOption is Delete).
            if v["type"] == "Microsoft.Compute/virtualMachines" {
                let os = &v["properties"]["storageProfile"]["osDisk"];
                if let Some(d) = os["managedDisk"]["id"].as_str() {
                    let dk = d.to_ascii_lowercase();
                    if os["deleteOption"] == "Delete" {
                        w.res.remove(&dk);
                    } else if let Some(disk) = w.res.get_mut(&dk) {
                        disk["properties"]["diskState"] = json!("Unattached");
                        if let Some(o) = disk.as_object_mut() {
                            o.remove("managedBy");
                        }
                    }
                }
            }
            if v["type"] == "Microsoft.KeyVault/vaults" {
                let vault = v["name"].as_str().unwrap_or_default().to_ascii_lowercase();
                w.secrets
                    .retain(|k, _| !k.starts_with(&format!("{vault}/")));
            }
        }
    }
}

/// What ARM refuses to delete: a disk a VM holds; a NIC, VNet, subnet, NSG or public IP
/// another resource uses; a gallery or gallery image with children.
fn delete_conflict(w: &World, t: &str, key: &str, v: &Value) -> Option<Resp> {
    let name = v["name"].as_str().unwrap_or_default();
    match t {
        "Microsoft.Compute/disks" if v["properties"]["diskState"] == "Attached" => Some(err(
            409,
            "OperationNotAllowed",
            &format!(
                "Disk {name} is attached to VM {}.",
                v["managedBy"].as_str().unwrap_or_default()
            ),
        )),
        "Microsoft.Network/networkInterfaces"
        | "Microsoft.Network/virtualNetworks"
        | "Microsoft.Network/virtualNetworks/subnets"
        | "Microsoft.Network/networkSecurityGroups"
        | "Microsoft.Network/publicIPAddresses" => {
            let user = referenced_by(w, key)?;
            let id = v["id"].as_str().unwrap_or_default();
            let (code, msg) = match t {
                "Microsoft.Network/networkInterfaces" => ("NicInUse", format!("Network Interface {id} is used by existing resource {user}. In order to delete the network interface, it must be dissociated from the resource.")),
                "Microsoft.Network/networkSecurityGroups" => ("InUseNetworkSecurityGroupCannotBeDeleted", format!("Network security group {id} cannot be deleted because it is in use by the following resources: {user}.")),
                "Microsoft.Network/publicIPAddresses" => ("PublicIPAddressCannotBeDeleted", format!("Public IP address {id} can not be deleted since it is still allocated to resource {user}.")),
                _ => ("InUseSubnetCannotBeDeleted", format!("Subnet of {id} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.")),
            };
            Some(err(400, code, &msg))
        }
        "Microsoft.Compute/galleries" | "Microsoft.Compute/galleries/images" => {
            let prefix = format!("{key}/");
            w.res.keys().any(|k| k.starts_with(&prefix)).then(|| err(409, "CannotDeleteResource", &format!("Can not delete resource before nested resources are deleted: '{name}' is not empty.")))
        }
        _ => None,
    }
}

/// The id of a resource outside `key`'s tree whose properties refer to `key` or to something
/// under it (what ARM's network provider refuses deletes for).
fn referenced_by(w: &World, key: &str) -> Option<String> {
    let (exact, under) = (format!("\"{key}\""), format!("\"{key}/"));
    let inside = format!("{key}/");
    w.res.iter().find_map(|(k, r)| {
        // A deployment's record of what it made does not hold anything.
        if k == key || k.starts_with(&inside) || r["type"] == "Microsoft.Resources/deployments" {
            return None;
        }
        let text = r["properties"].to_string().to_ascii_lowercase();
        (text.contains(&exact) || text.contains(&under))
            .then(|| r["id"].as_str().unwrap_or(k).to_string())
    })
}

/// Takes an injected failure for `method` on type `t`: ARM's error with a nested detail.
fn take_fault(w: &mut World, t: &str, method: &str) -> Option<Value> {
    let f = w
        .faults
        .iter_mut()
        .find(|f| f.times > 0 && f.ty.eq_ignore_ascii_case(t) && f.method == method)?;
    f.times -= 1;
    Some(
        json!({"code": f.code, "message": f.message, "details": [{"code": "InternalOperationError", "message": format!("{} (an injected failure of {method} on {t})", f.message)}]}),
    )
}

fn alloc_failure(w: &World, t: &str, v: &Value) -> Option<Value> {
    let loc = v["location"].as_str().unwrap_or_default();
    let size = v["properties"]["hardwareProfile"]["vmSize"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let no_room = w
        .no_alloc
        .iter()
        .any(|(l, s)| l == loc && s.as_ref().is_none_or(|s| *s == size));
    (t == "Microsoft.Compute/virtualMachines" && no_room).then(|| {
        json!({"code": "AllocationFailed", "message": format!("Allocation failed. We do not have sufficient capacity for the requested VM size in this region ({loc}). Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance")})
    })
}

/// The order a deployment creates its resources in.
fn rank(t: &str) -> usize {
    TYPES
        .iter()
        .position(|x| x.eq_ignore_ascii_case(t))
        .unwrap_or(TYPES.len())
}

#[cfg(test)]
mod tests;
