//! A fake Google Compute Engine v1 REST API on 127.0.0.1, for the `googlecompute` builder's
//! tests. No Compute Engine emulator exists: this one is written from the Compute Engine v1 REST
//! reference (resource shapes, operation lifecycle, Google's JSON error shape).
//!
//! **It is a fake.** It models, per project: zones (`us-central1-a`, `-b`, `-c`,
//! `europe-west1-b`), machine types, the `default` network and its subnetworks, firewalls,
//! instances (insert, get, list, delete, stop, setMetadata with fingerprint checks,
//! getGuestAttributes, getSerialPortOutput), disks, images (insert, get, list, delete,
//! getFromFamily), zone and global operations that go PENDING → RUNNING → DONE over
//! [`FakeGce::set_operation_time`] (their effect lands when they are DONE) with `get` and
//! `wait`, list `filter`s on labels and names, and an OAuth2 token endpoint for the JWT bearer
//! grant of a service-account file ([`FakeGce::account_file`]) that checks the RS256 signature,
//! issuer, audience and expiry. Every API call needs one of its tokens, or a JWT the service
//! account signed itself (what Google's client libraries send when they skip the token
//! endpoint).
//!
//! The "instance" is whatever listens on loopback (the tests' sshd): its internal and external
//! IP are 127.0.0.1. What the Google guest environment would do is done by the fake itself:
//! the public keys of `ssh-keys` metadata are served to sshd through
//! [`FakeGce::authorized_keys_command`], and a startup script wrapped by Packer's protocol
//! (`packer-wrapped-startup-script`, `startup-script-status` = `notdone`) is run **on the host**
//! with `/bin/sh` once the instance runs; its exit status sets `startup-script-status` to
//! `done` or `error` (and the guest attribute `packer/startup-script-status`). On an instance
//! booted from a `windows-cloud` image ([`FakeGce::add_windows_image`]), each new `windows-keys`
//! metadata entry is answered as the Windows guest agent does once the setMetadata is done: a
//! JSON line on serial port 4 with the password ([`FakeGce::windows_password`]) encrypted to
//! the entry's key with RSA-OAEP SHA-1 ([`windows_agent_answer`]); no Windows user is made.
//!
//! Not modelled: IAM and permissions (any valid token may do anything), quotas other than the
//! injected capacity errors, regions' own resources other than subnetworks, snapshots, machine
//! images, OS Login's two-factor and organization policies, serial port contents beyond a boot banner on port 1 and the Windows
//! agent's answers on port 4, real disks (sizes are numbers),
//! image deprecation, encryption keys (accepted, not checked), pagination (lists answer in one
//! page), and the `fields` parameter.
//!
//! IAM Credentials' `generateAccessToken` (`/v1/projects/-/serviceAccounts/...`) lets any
//! caller impersonate [`IMPERSONATION_TARGET`] and refuses every other account; the token
//! endpoint also takes the refresh-token grant of [`FakeGce::authorized_user_json`]; the
//! principal behind each call is kept ([`FakeGce::callers`]). The OS Login API (v1:
//! `importSshPublicKey`, `loginProfile`, deleting a key) keeps each caller's own keys, gives
//! one primary POSIX account ([`FakeGce::set_posix_username`]), and an instance with
//! `enable-oslogin` = TRUE takes those keys instead of its `ssh-keys` metadata.
//!
//! Injections: per-call latency ([`FakeGce::set_latency`]), the rate quota
//! ([`FakeGce::throttle`]: 429 `rateLimitExceeded` with `Retry-After`), capacity exhausted in a zone
//! ([`FakeGce::exhaust_zone`]), an operation ending in error ([`FakeGce::fail_operation`]),
//! and expired tokens ([`FakeGce::expire_tokens`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Value};

use crate::wire::{civil, pct_decode, query, read_req, Req};

/// The fake's project.
pub const PROJECT: &str = "forge-test";
/// The projects whose public images the fake knows (`debian-cloud`).
pub const IMAGE_PROJECT: &str = "debian-cloud";
/// The zones of every project.
pub const ZONES: [&str; 4] = [
    "us-central1-a",
    "us-central1-b",
    "us-central1-c",
    "europe-west1-b",
];
/// The machine types of every zone.
pub const MACHINE_TYPES: [&str; 4] = ["e2-micro", "e2-small", "e2-standard-2", "n1-standard-1"];

/// The service account any caller may impersonate (IAM Credentials' generateAccessToken).
pub const IMPERSONATION_TARGET: &str = "forge-target@forge-test.iam.gserviceaccount.com";
/// The authorized user of [`FakeGce::authorized_user_json`] (gcloud's application default
/// credentials).
pub const USER_EMAIL: &str = "forge-user@example.com";
const USER_CLIENT_ID: &str = "764086051850-fake.apps.googleusercontent.com";
const USER_CLIENT_SECRET: &str = "d-FL95Q19q7MQmFpd7hHD0Ty";
const USER_REFRESH_TOKEN: &str = "1//fake-refresh-token";

/// The disk types of every zone.
pub const DISK_TYPES: [&str; 5] = [
    "pd-standard",
    "pd-balanced",
    "pd-ssd",
    "pd-extreme",
    "hyperdisk-balanced",
];
/// The accelerator (GPU) types of every zone.
pub const ACCELERATOR_TYPES: [&str; 3] = ["nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-v100"];
/// The CPU platforms `minCpuPlatform` may name.
pub const CPU_PLATFORMS: [&str; 4] = [
    "Automatic",
    "Intel Cascade Lake",
    "Intel Ice Lake",
    "AMD Milan",
];

/// An operation to fail: its `operationType` (`insert`, `delete`, ...) on a resource kind
/// (`instances`, `disks`, `images`, `firewalls`), `times` times.
#[derive(Clone, Debug)]
struct OpFault {
    kind: String,
    op_type: String,
    code: String,
    message: String,
    times: usize,
}

#[derive(Clone, Debug)]
struct Op {
    body: Value,
    start: Instant,
    duration: Duration,
    /// What happens when it is DONE (nothing when it failed).
    effect: Option<Effect>,
    applied: bool,
}

#[derive(Clone, Debug)]
enum Effect {
    /// A resource becomes ready: its key and the status it gets.
    Ready(String, &'static str),
    /// A resource goes.
    Remove(String),
    /// An instance stops.
    Stop(String),
    /// The guest agent reads an instance's new metadata.
    Agent(String),
}

#[derive(Default)]
struct World {
    /// Resources by key `kind/project/scope/name` (scope: zone, region or `global`).
    res: BTreeMap<String, Value>,
    ops: BTreeMap<String, Op>,
    tokens: HashMap<String, bool>,
    latency: Duration,
    op_time: Duration,
    exhausted: Vec<String>,
    /// Self-signed JWTs are refused too (after [`FakeGce::expire_tokens`]).
    expired_jwts: bool,
    faults: Vec<OpFault>,
    calls: Vec<String>,
    next: u64,
    startup_runs: Vec<String>,
    /// The password the Windows guest agent sets (and encrypts) for `windows-keys`.
    windows_password: String,
    /// Every instance inserted, as first stored.
    instances_made: Vec<Value>,
    /// Whom each token stands for.
    principals: HashMap<String, String>,
    /// Whom each API call came from (the token's principal; `self-signed` for a JWT).
    callers: Vec<String>,
    /// OS Login: each account's imported keys, fingerprint → (key, expirationTimeUsec).
    oslogin_keys: BTreeMap<String, BTreeMap<String, (String, i64)>>,
    /// OS Login: the POSIX user name of every account ([`FakeGce::set_posix_username`]).
    posix_username: String,
    /// Compute Engine calls still to refuse as over the rate quota, and the Retry-After.
    throttle: (usize, u64),
}

struct Shared {
    world: Mutex<World>,
    public_key: Vec<u8>,
    client_email: String,
    port: u16,
    stop: AtomicBool,
    polls: AtomicU64,
    busy_us: AtomicU64,
}

/// The fake Compute Engine; stopped when dropped.
pub struct FakeGce {
    shared: Arc<Shared>,
    private_pem: String,
    dir: PathBuf,
}

fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Seconds-resolution UTC timestamps, in the API's format.
    let secs = d.as_secs();
    let days = secs / 86400;
    let rem = secs % 86400;
    let (y, m, dd) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}-00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Google's JSON error.
fn gerr(code: u16, reason: &str, message: &str) -> (u16, Value) {
    let status = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    };
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status,
            "errors": [{"message": message, "domain": "global", "reason": reason}]}}),
    )
}

fn not_found(what: &str) -> (u16, Value) {
    gerr(
        404,
        "notFound",
        &format!("The resource '{what}' was not found"),
    )
}

fn last(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// `projects/p/global/images/x` (any prefix) → (project, name); `.../family/f` → family.
fn image_ref(url: &str, default_project: &str) -> (String, String, bool) {
    let parts: Vec<&str> = url.trim_start_matches('/').split('/').collect();
    let project = parts
        .iter()
        .position(|p| *p == "projects")
        .and_then(|i| parts.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_else(|| default_project.to_string());
    let family = parts.len() >= 2 && parts[parts.len() - 2] == "family";
    (project, last(url).to_string(), family)
}

/// A metadata fingerprint: 8 bytes in URL-safe base64, as the API gives them (Google's Rust
/// client refuses the standard alphabet's `+` and `/`).
fn fingerprint(seed: &str) -> String {
    let n: u64 = seed.parse().unwrap_or(0);
    base64::engine::general_purpose::URL_SAFE
        .encode(n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes())
}

fn unb64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// Whether `r` passes a list filter: `labels.k = "v"`, `name = "x"`, joined with AND.
fn passes(r: &Value, filter: &str) -> bool {
    filter
        .split(" AND ")
        .map(|c| c.trim().trim_start_matches('(').trim_end_matches(')'))
        .filter(|c| !c.is_empty())
        .all(|c| {
            let (k, v) = match c.split_once("!=") {
                Some(_) => return true,
                None => match c.split_once('=') {
                    Some((k, v)) => (k.trim(), v.trim().trim_matches('"')),
                    None => return true,
                },
            };
            let got = match k.strip_prefix("labels.") {
                Some(l) => r["labels"][l].as_str(),
                None => r[k].as_str(),
            };
            got == Some(v)
        })
}

impl FakeGce {
    /// Starts the fake on a free loopback port. Needs `openssl` (the service account's key).
    pub fn start() -> FakeGce {
        crate::require::program("openssl", "openssl");
        let dir = crate::sshd::fresh_dir("forge-fake-gce");
        let key = dir.join("sa.pem");
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .output()
            .expect("running openssl genpkey");
        assert!(
            out.status.success(),
            "openssl genpkey: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let private_pem = std::fs::read_to_string(&key).unwrap();
        let der = pem_der(&private_pem);
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key");
        use ring::signature::KeyPair;
        let public_key = pair.public_key().as_ref().to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                op_time: Duration::from_millis(300),
                windows_password: format!(
                    "Fk-{:x}!",
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .subsec_nanos()
                ),
                ..World::default()
            }),
            public_key,
            client_email: format!("forge-builder@{PROJECT}.iam.gserviceaccount.com"),
            port,
            stop: AtomicBool::new(false),
            polls: AtomicU64::new(0),
            busy_us: AtomicU64::new(0),
        });
        shared.seed();
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || s.serve(conn));
            }
        });
        FakeGce {
            shared,
            private_pem,
            dir,
        }
    }

    /// The API's base URL (`http://127.0.0.1:port`); paths are `/compute/v1/projects/...`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.port)
    }

    /// The OAuth2 token endpoint.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.endpoint())
    }

    /// The service account's e-mail.
    pub fn client_email(&self) -> &str {
        &self.shared.client_email
    }

    /// The service account's private key (PKCS#8 PEM): a secret the tests look for in output.
    pub fn private_key(&self) -> &str {
        &self.private_pem
    }

    /// Writes a service-account key file whose `token_uri` is the fake's, and returns its path.
    pub fn account_file(&self) -> PathBuf {
        let p = self.dir.join("account.json");
        std::fs::write(&p, self.account_json().to_string()).unwrap();
        p
    }

    /// The service-account key file's JSON.
    pub fn account_json(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef",
            "private_key": self.private_pem,
            "client_email": self.shared.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
        })
    }

    /// Latency added to every API call.
    pub fn set_latency(&self, d: Duration) {
        self.shared.world().latency = d;
    }

    /// How long an operation takes from PENDING to DONE (default 300 ms; a third PENDING).
    pub fn set_operation_time(&self, d: Duration) {
        self.shared.world().op_time = d;
    }

    /// Instance inserts in `zone` end with ZONE_RESOURCE_POOL_EXHAUSTED.
    pub fn exhaust_zone(&self, zone: &str) {
        self.shared.world().exhausted.push(zone.to_string());
    }

    /// The next `times` operations `op_type` (`insert`, `delete`, `stop`) on `kind`
    /// (`instances`, `disks`, `images`, `firewalls`) end DONE with error `code`.
    pub fn fail_operation(&self, kind: &str, op_type: &str, code: &str, times: usize) {
        self.shared.world().faults.push(OpFault {
            kind: kind.into(),
            op_type: op_type.into(),
            code: code.into(),
            message: format!("{code}: injected by the test"),
            times,
        });
    }

    /// Every token issued so far, and every self-signed JWT, stops working (401
    /// UNAUTHENTICATED), as when they expired.
    pub fn expire_tokens(&self) {
        let mut w = self.shared.world();
        w.expired_jwts = true;
        for v in w.tokens.values_mut() {
            *v = false;
        }
    }

    /// Adds an image (READY) to `project`, in `family` when not empty.
    pub fn add_image(&self, project: &str, name: &str, family: &str) {
        let mut w = self.shared.world();
        let id = w.id();
        let port = self.shared.port;
        w.res.insert(
            format!("images/{project}/global/{name}"),
            json!({"kind": "compute#image", "id": id, "name": name, "family": family,
                "status": "READY", "diskSizeGb": "10", "creationTimestamp": now_rfc3339(),
                "selfLink": format!("http://127.0.0.1:{port}/compute/v1/projects/{project}/global/images/{name}"),
                "labels": {}, "archiveSizeBytes": "1000000"}),
        );
    }

    /// Adds a Windows image (READY, licensed from `windows-cloud`): instances booted from it
    /// run the fake's Windows guest agent.
    pub fn add_windows_image(&self, project: &str, name: &str, family: &str) {
        self.add_image(project, name, family);
        let port = self.shared.port;
        if let Some(i) = self
            .shared
            .world()
            .res
            .get_mut(&format!("images/{project}/global/{name}"))
        {
            i["licenses"] = json!([format!("http://127.0.0.1:{port}/compute/v1/projects/windows-cloud/global/licenses/windows-server-2022-dc")]);
        }
    }

    /// An `authorized_user` credentials file as `gcloud auth application-default login`
    /// writes it, its `token_uri` pointing at the fake.
    pub fn authorized_user_json(&self) -> Value {
        json!({"type": "authorized_user", "client_id": USER_CLIENT_ID,
            "client_secret": USER_CLIENT_SECRET, "refresh_token": USER_REFRESH_TOKEN,
            "token_uri": self.token_uri(), "universe_domain": "googleapis.com", "account": ""})
    }

    /// Refuses the next `calls` Compute Engine calls with 429 `rateLimitExceeded` and
    /// `Retry-After: retry_after_secs`.
    pub fn throttle(&self, calls: usize, retry_after_secs: u64) {
        self.shared.world().throttle = (calls, retry_after_secs);
    }

    /// Makes every account's OS Login POSIX user name `name` (the tests' sshd user).
    pub fn set_posix_username(&self, name: &str) {
        self.shared.world().posix_username = name.to_string();
    }

    /// The OS Login keys imported for `account`, by fingerprint.
    pub fn oslogin_keys(&self, account: &str) -> Vec<String> {
        self.shared
            .world()
            .oslogin_keys
            .get(account)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whom each API call so far came from: the service account, [`USER_EMAIL`],
    /// [`IMPERSONATION_TARGET`], or `self-signed` (a JWT the service account signed).
    pub fn callers(&self) -> Vec<String> {
        self.shared.world().callers.clone()
    }

    /// Every instance inserted (the API's view when it was made), the deleted ones too.
    pub fn instances_made(&self) -> Vec<Value> {
        self.shared.world().instances_made.clone()
    }

    /// The password the Windows guest agent sets for `windows-keys` requests.
    pub fn windows_password(&self) -> String {
        self.shared.world().windows_password.clone()
    }

    /// Makes the Windows guest agent set `pw` (a test's WinRM server knows it).
    pub fn set_windows_password(&self, pw: &str) {
        self.shared.world().windows_password = pw.to_string();
    }

    /// The API calls so far, as `METHOD path` (no query).
    pub fn calls(&self) -> Vec<String> {
        self.shared.world().calls.clone()
    }

    /// The time the fake spent answering (its latency and operation waits included): a
    /// serial client's floor.
    pub fn busy(&self) -> Duration {
        Duration::from_micros(self.shared.busy_us.load(Ordering::SeqCst))
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.world().tokens.len()
    }

    /// How many operation polls (`get` or `wait`) were answered.
    pub fn operation_polls(&self) -> u64 {
        self.shared.polls.load(Ordering::SeqCst)
    }

    /// The scripts the fake ran as startup scripts.
    pub fn startup_scripts_run(&self) -> Vec<String> {
        self.shared.world().startup_runs.clone()
    }

    /// A resource's JSON: `kind` is `instances`, `disks`, `images` or `firewalls`.
    pub fn get(&self, kind: &str, project: &str, scope: &str, name: &str) -> Option<Value> {
        let mut w = self.shared.world();
        w.tick(self.shared.port);
        w.res
            .get(&format!("{kind}/{project}/{scope}/{name}"))
            .cloned()
    }

    /// Instances, disks and firewalls left, and images made in [`PROJECT`], as `kind name`.
    pub fn leftovers(&self) -> Vec<String> {
        let mut w = self.shared.world();
        w.tick(self.shared.port);
        w.res
            .iter()
            .filter(|(k, v)| {
                let kind = k.split('/').next().unwrap_or("");
                let made = ["instances", "disks", "firewalls"].contains(&kind)
                    && !v["seeded"].as_bool().unwrap_or(false);
                made || (kind == "images" && k.starts_with(&format!("images/{PROJECT}/")))
            })
            .map(|(k, _)| {
                let mut p = k.split('/');
                let kind = p.next().unwrap_or("");
                format!(
                    "{} {}",
                    kind.trim_end_matches('s'),
                    k.rsplit('/').next().unwrap_or("")
                )
            })
            .collect()
    }

    /// Writes a root-owned AuthorizedKeysCommand that prints the public keys of every
    /// instance's `ssh-keys` metadata, as the guest agent would install them.
    pub fn authorized_keys_command(&self) -> String {
        let path = format!(
            "/usr/local/libexec/forge-test-gce-keys-{}",
            self.shared.port
        );
        std::fs::create_dir_all("/usr/local/libexec").expect("creating /usr/local/libexec");
        let script = format!(
            "#!/bin/sh\ncurl -fsS '{}/_fake/ssh-keys'\n",
            self.endpoint()
        );
        std::fs::write(&path, script).expect("writing the keys command");
        let _ = std::process::Command::new("chmod")
            .args(["0755", &path])
            .status();
        path
    }

    /// The directory of the fake's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for FakeGce {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.shared.port));
    }
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .expect("PEM base64")
}

impl World {
    fn id(&mut self) -> String {
        self.next += 1;
        format!("{}", 4_000_000_000_000_000_000u64 + self.next)
    }

    /// Applies the effects of operations that are DONE.
    fn tick(&mut self, port: u16) {
        let now = Instant::now();
        let mut effects = Vec::new();
        for op in self.ops.values_mut() {
            if !op.applied && now >= op.start + op.duration {
                op.applied = true;
                if let Some(e) = op.effect.clone() {
                    effects.push(e);
                }
            }
        }
        for e in effects {
            match e {
                Effect::Ready(k, status) => {
                    if let Some(r) = self.res.get_mut(&k) {
                        if !status.is_empty() {
                            r["status"] = status.into();
                        }
                    }
                    if k.starts_with("instances/") {
                        self.start_guest(&k, port);
                    }
                }
                Effect::Remove(k) => {
                    if let Some(r) = self.res.remove(&k) {
                        if k.starts_with("instances/") {
                            self.detach_disks(&r, &k);
                        }
                    }
                }
                Effect::Stop(k) => {
                    if let Some(r) = self.res.get_mut(&k) {
                        r["status"] = "TERMINATED".into();
                    }
                }
                Effect::Agent(k) => self.windows_agent(&k),
            }
        }
    }

    fn detach_disks(&mut self, instance: &Value, _key: &str) {
        let me = instance["selfLink"].as_str().unwrap_or("").to_string();
        let mut gone = Vec::new();
        for d in instance["disks"].as_array().cloned().unwrap_or_default() {
            let src = d["source"].as_str().unwrap_or("");
            let key = disk_key(src);
            if d["autoDelete"].as_bool().unwrap_or(false) {
                gone.push(key.clone());
            }
            if let Some(disk) = self.res.get_mut(&key) {
                if let Some(users) = disk["users"].as_array_mut() {
                    users.retain(|u| u.as_str() != Some(&me));
                }
            }
        }
        for k in gone {
            self.res.remove(&k);
        }
    }

    /// The Windows guest agent: answers each `windows-keys` entry it has not answered yet on
    /// serial port 4 (instances booted from a `windows-cloud` image only).
    fn windows_agent(&mut self, key: &str) {
        let pw = self.windows_password.clone();
        let Some(inst) = self.res.get_mut(key) else {
            return;
        };
        if inst["windows"] != true {
            return;
        }
        let entries = windows_keys_entries(&inst["metadata"]);
        for e in entries {
            let done = inst["answered"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == e.as_str()));
            if done {
                continue;
            }
            if let Some(line) = windows_agent_answer(&e, &pw) {
                let mut port4 = inst["serial4"].as_str().unwrap_or_default().to_string();
                port4.push_str(&line);
                port4.push('\n');
                inst["serial4"] = port4.into();
            }
            if !inst["answered"].is_array() {
                inst["answered"] = json!([]);
            }
            if let Some(a) = inst["answered"].as_array_mut() {
                a.push(e.into());
            }
        }
    }

    /// Runs a wrapped startup script the way Packer's wrapper would, then sets its status.
    fn start_guest(&mut self, key: &str, _port: u16) {
        let Some(inst) = self.res.get(key) else {
            return;
        };
        let items = inst["metadata"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let get = |k: &str| {
            items
                .iter()
                .find(|i| i["key"] == k)
                .and_then(|i| i["value"].as_str())
                .map(str::to_string)
        };
        let (Some(script), Some(status)) = (
            get("packer-wrapped-startup-script"),
            get("startup-script-status"),
        ) else {
            return;
        };
        if status != "notdone" {
            return;
        }
        self.startup_runs.push(script.clone());
        let ok = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let result = if ok { "done" } else { "error" };
        let fp = self.id();
        if let Some(inst) = self.res.get_mut(key) {
            set_item(&mut inst["metadata"], "startup-script-status", result);
            inst["metadata"]["fingerprint"] = fingerprint(&fp).into();
            inst["guestAttributes"]["packer/startup-script-status"] = result.into();
        }
    }
}

/// The entries (one JSON object a line) of the `windows-keys` item of an instance's
/// `metadata`.
pub fn windows_keys_entries(metadata: &Value) -> Vec<String> {
    metadata["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["key"] == "windows-keys")
        .filter_map(|i| i["value"].as_str())
        .flat_map(|v| v.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// The Windows guest agent's answer to one `windows-keys` entry (a JSON object with
/// `userName`, `modulus`, `exponent`, `email`, `expireOn`): the JSON line it writes to serial
/// port 4, with `password` encrypted to the entry's key (RSA-OAEP, SHA-1 for the hash and
/// MGF1, base64), or with an `errorMessage` when the entry cannot be used. `None` for an entry
/// that has expired (the agent ignores those).
pub fn windows_agent_answer(entry: &str, password: &str) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let req: Value = match serde_json::from_str(entry) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                json!({"errorMessage": format!("invalid windows-keys entry: {e}")}).to_string(),
            )
        }
    };
    // Both UTC RFC 3339: the first 19 characters compare as times.
    let now = now_rfc3339();
    if let Some(exp) = req["expireOn"].as_str().filter(|e| e.len() >= 19) {
        if exp[..19] < now[..19] {
            return None;
        }
    }
    let field = |k: &str| req[k].as_str().unwrap_or_default().to_string();
    let (user, modulus, exponent) = (field("userName"), field("modulus"), field("exponent"));
    let mut answer = json!({"userName": user, "modulus": modulus, "exponent": exponent,
        "hashFunction": "sha1"});
    let key = match (b64.decode(&modulus), b64.decode(&exponent)) {
        _ if user.is_empty() => Err("userName is empty".to_string()),
        (Ok(n), Ok(e)) if !n.is_empty() && !e.is_empty() => {
            let n = rsa::BoxedUint::from_be_slice_vartime(&n);
            let e = rsa::BoxedUint::from_be_slice_vartime(&e);
            rsa::RsaPublicKey::new(n, e).map_err(|e| format!("invalid key: {e}"))
        }
        _ => Err("modulus and exponent must be base64".to_string()),
    };
    let sealed = key.and_then(|k| {
        k.encrypt(
            &mut rand::rng(),
            rsa::Oaep::<sha1::Sha1>::new(),
            password.as_bytes(),
        )
        .map_err(|e| format!("encrypting the password: {e}"))
    });
    match sealed {
        Ok(c) => {
            answer["passwordFound"] = true.into();
            answer["encryptedPassword"] = b64.encode(c).into();
        }
        Err(e) => answer["errorMessage"] = e.into(),
    }
    Some(answer.to_string())
}

/// A `CustomerEncryptionKey` as the API keeps it (its `kmsKeyName`, or the `sha256` of its
/// `rawKey`), `Null` when none is given, or the API's error for a malformed one.
fn customer_key(k: &Value, field: &str) -> Result<Value, (u16, Value)> {
    if k.is_null() {
        return Ok(Value::Null);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    match (k["kmsKeyName"].as_str(), k["rawKey"].as_str()) {
        (Some(kms), None) => Ok(json!({"kmsKeyName": kms})),
        (None, Some(raw)) => {
            let bytes = b64.decode(raw).ok().filter(|b| b.len() == 32).ok_or_else(|| {
                gerr(400, "customerEncryptionKeyIsIncorrectlyFormatted",
                    &format!("Key for field '{field}.rawKey' is incorrectly formatted: it must be a 256-bit key in RFC 4648 base64"))
            })?;
            let sha = ring::digest::digest(&ring::digest::SHA256, &bytes);
            Ok(json!({"sha256": b64.encode(sha.as_ref())}))
        }
        _ => Err(gerr(
            400,
            "invalid",
            &format!("Invalid value for field '{field}': exactly one of kmsKeyName and rawKey must be set"),
        )),
    }
}

/// The API's error for an instance's Shielded VM, accelerator and CPU platform settings that
/// its zone or boot image cannot meet; `body` with Shielded VM's defaults otherwise.
fn check_instance_options(body: &mut Value, z: &str, boot_image: &Value) -> Option<(u16, Value)> {
    let sh = &mut body["shieldedInstanceConfig"];
    if sh.is_object() {
        let on = [
            "enableSecureBoot",
            "enableVtpm",
            "enableIntegrityMonitoring",
        ]
        .iter()
        .any(|k| sh[k] == true);
        let uefi = boot_image["guestOsFeatures"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["type"] == "UEFI_COMPATIBLE"));
        if on && !uefi {
            return Some(gerr(400, "invalid", &format!(
                "Invalid resource usage: 'Shielded VM options need a boot image with the UEFI_COMPATIBLE guest OS feature; {} does not have it.'",
                boot_image["name"].as_str().unwrap_or("the image")
            )));
        }
        // Unset, secure boot is off and vTPM and integrity monitoring are on.
        for (k, d) in [
            ("enableSecureBoot", false),
            ("enableVtpm", true),
            ("enableIntegrityMonitoring", true),
        ] {
            if sh[k].is_null() {
                sh[k] = d.into();
            }
        }
        if sh["enableIntegrityMonitoring"] == true && sh["enableVtpm"] == false {
            return Some(gerr(
                400,
                "invalid",
                "Invalid resource usage: 'Integrity monitoring requires vTPM to be enabled.'",
            ));
        }
    }
    for (j, a) in body["guestAccelerators"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let t = a["acceleratorType"].as_str().unwrap_or("");
        let parts: Vec<&str> = t.split('/').collect();
        let tz = parts
            .iter()
            .position(|p| *p == "zones")
            .and_then(|i| parts.get(i + 1))
            .copied()
            .unwrap_or(z);
        if !ACCELERATOR_TYPES.contains(&last(t)) || tz != z {
            return Some(gerr(400, "invalid", &format!(
                "Invalid value for field 'resource.guestAccelerators[{j}].acceleratorType': '{t}'. Accelerator type '{}' does not exist in zone '{z}'.",
                last(t)
            )));
        }
        if body["scheduling"]["onHostMaintenance"] != "TERMINATE" {
            return Some(gerr(400, "invalid", "Invalid resource usage: 'Instances with guest accelerators do not support live migration.'"));
        }
    }
    if let Some(p) = body["minCpuPlatform"].as_str() {
        if !CPU_PLATFORMS.contains(&p) {
            return Some(gerr(
                400,
                "invalid",
                &format!(
                "Invalid value for field 'resource.minCpuPlatform': '{p}'. Unknown CPU platform."
            ),
            ));
        }
    }
    None
}

fn set_item(md: &mut Value, key: &str, value: &str) {
    if !md["items"].is_array() {
        md["items"] = json!([]);
    }
    if let Some(items) = md["items"].as_array_mut() {
        items.retain(|i| i["key"] != key);
        items.push(json!({"key": key, "value": value}));
    }
}

fn disk_key(url: &str) -> String {
    let parts: Vec<&str> = url.split('/').collect();
    let find = |w: &str| {
        parts
            .iter()
            .position(|p| *p == w)
            .and_then(|i| parts.get(i + 1))
            .copied()
            .unwrap_or("")
    };
    format!("disks/{}/{}/{}", find("projects"), find("zones"), last(url))
}

impl Shared {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn link(&self, rest: &str) -> String {
        format!("http://127.0.0.1:{}/compute/v1/{rest}", self.port)
    }

    fn seed(&self) {
        let mut w = self.world();
        let seeded = |v: Value| {
            let mut v = v;
            v["seeded"] = true.into();
            v
        };
        for p in [PROJECT, IMAGE_PROJECT] {
            w.res.insert(
                format!("networks/{p}/global/default"),
                seeded(json!({"kind": "compute#network", "name": "default",
                    "selfLink": self.link(&format!("projects/{p}/global/networks/default"))})),
            );
            for region in ["us-central1", "europe-west1"] {
                w.res.insert(
                    format!("subnetworks/{p}/{region}/default"),
                    seeded(json!({"kind": "compute#subnetwork", "name": "default",
                        "region": region, "ipCidrRange": "10.128.0.0/20",
                        "network": self.link(&format!("projects/{p}/global/networks/default")),
                        "selfLink": self.link(&format!("projects/{p}/regions/{region}/subnetworks/default"))})),
                );
            }
        }
        drop(w);
        let port = self.port;
        let mut w = self.world();
        for (name, family, secs) in [
            ("debian-12-bookworm-v20240101", "debian-12", 1),
            ("debian-12-bookworm-v20240201", "debian-12", 2),
            ("debian-11-bullseye-v20240101", "debian-11", 3),
        ] {
            let id = w.id();
            w.res.insert(
                format!("images/{IMAGE_PROJECT}/global/{name}"),
                json!({"kind": "compute#image", "id": id, "name": name, "family": family,
                    "status": "READY", "diskSizeGb": "10",
                    "creationTimestamp": format!("2024-0{secs}-01T00:00:00.000-00:00"),
                    "licenses": [format!("http://127.0.0.1:{port}/compute/v1/projects/{IMAGE_PROJECT}/global/licenses/{family}")],
                    "guestOsFeatures": [{"type": "UEFI_COMPATIBLE"}, {"type": "VIRTIO_SCSI_MULTIQUEUE"}],
                    "selfLink": format!("http://127.0.0.1:{port}/compute/v1/projects/{IMAGE_PROJECT}/global/images/{name}"),
                    "labels": {}}),
            );
        }
    }

    fn serve(self: Arc<Self>, conn: TcpStream) {
        let _ = conn.set_nodelay(true);
        let Ok(w) = conn.try_clone() else { return };
        let mut r = BufReader::new(conn);
        let mut w = w;
        while let Some(req) = read_req(&mut r) {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let began = Instant::now();
            let latency = self.world().latency;
            if !latency.is_zero() && req.path != "/_fake/ssh-keys" {
                std::thread::sleep(latency);
            }
            let (code, body) = self.handle(&req);
            if req.path != "/_fake/ssh-keys" {
                self.busy_us
                    .fetch_add(began.elapsed().as_micros() as u64, Ordering::SeqCst);
            }
            let text = body.to_string();
            let reason = match code {
                200 => "OK",
                400 => "Bad Request",
                401 => "Unauthorized",
                404 => "Not Found",
                409 => "Conflict",
                412 => "Precondition Failed",
                429 => "Too Many Requests",
                _ => "Error",
            };
            let ctype = if req.path == "/_fake/ssh-keys" {
                "text/plain"
            } else {
                "application/json; charset=UTF-8"
            };
            let text = if req.path == "/_fake/ssh-keys" {
                body.as_str().unwrap_or("").to_string()
            } else {
                text
            };
            let retry = if code == 429 {
                format!("Retry-After: {}\r\n", self.world().throttle.1)
            } else {
                String::new()
            };
            let head = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n{retry}Content-Length: {}\r\n\r\n",
                text.len()
            );
            if w.write_all(head.as_bytes()).is_err() || w.write_all(text.as_bytes()).is_err() {
                return;
            }
            let _ = w.flush();
        }
    }

    fn handle(&self, req: &Req) -> (u16, Value) {
        if req.path == "/token" {
            return self.token(req);
        }
        if req.path == "/_fake/ssh-keys" {
            return (200, Value::String(self.ssh_keys()));
        }
        let iam = req.path.strip_prefix("/v1/projects/-/serviceAccounts/");
        {
            let mut w = self.world();
            w.calls.push(format!("{} {}", req.method, req.path));
        }
        let auth = req
            .headers
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::to_string);
        let valid = auth.as_ref().is_some_and(|t| {
            self.world().tokens.get(t).copied().unwrap_or(false) || self.self_signed(t)
        });
        if !valid {
            return gerr(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            );
        }
        {
            let mut w = self.world();
            let who = auth
                .as_ref()
                .and_then(|t| w.principals.get(t).cloned())
                .unwrap_or_else(|| "self-signed".into());
            w.callers.push(who);
        }
        if let Some(rest) = iam {
            return self.generate_access_token(req, rest);
        }
        {
            let mut w = self.world();
            if w.throttle.0 > 0 && req.path.starts_with("/compute/") {
                w.throttle.0 -= 1;
                return (
                    429,
                    json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                        "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'.",
                        "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded",
                            "message": "Rate Limit Exceeded"}]}}),
                );
            }
        }
        if let Some(rest) = req.path.strip_prefix("/v1/users/") {
            let me = auth
                .as_ref()
                .and_then(|t| self.world().principals.get(t).cloned())
                .unwrap_or_else(|| self.client_email.clone());
            return self.os_login(req, &pct_decode(rest), &me);
        }
        let path = req
            .path
            .trim_start_matches('/')
            .trim_start_matches("compute/v1/");
        let p: Vec<&str> = path.split('/').collect();
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    return gerr(
                        400,
                        "parseError",
                        &format!("Invalid JSON payload received. {e}"),
                    )
                }
            }
        };
        let m = req.method.as_str();
        let mut w = self.world();
        w.tick(self.port);
        match (m, p.as_slice()) {
            ("GET", ["projects", pr, "zones"]) => (
                200,
                json!({"kind": "compute#zoneList", "items": ZONES.iter().map(|z| self.zone(pr, z)).collect::<Vec<_>>()}),
            ),
            ("GET", ["projects", pr, "zones", z]) => {
                if ZONES.contains(z) {
                    (200, self.zone(pr, z))
                } else {
                    not_found(&format!("projects/{pr}/zones/{z}"))
                }
            }
            ("GET", ["projects", pr, "zones", z, "machineTypes", mt]) => {
                if ZONES.contains(z) && MACHINE_TYPES.contains(mt) {
                    (
                        200,
                        json!({"kind": "compute#machineType", "name": mt, "zone": z,
                            "guestCpus": 2, "memoryMb": 8192,
                            "selfLink": self.link(&format!("projects/{pr}/zones/{z}/machineTypes/{mt}"))}),
                    )
                } else {
                    not_found(&format!("projects/{pr}/zones/{z}/machineTypes/{mt}"))
                }
            }
            ("GET", ["projects", pr, "global", "networks", n]) => {
                self.fetch(&w, &format!("networks/{pr}/global/{n}"))
            }
            ("GET", ["projects", pr, "regions", r, "subnetworks", s]) => {
                self.fetch(&w, &format!("subnetworks/{pr}/{r}/{s}"))
            }
            ("GET", ["projects", pr, "global", "firewalls", f]) => {
                self.fetch(&w, &format!("firewalls/{pr}/global/{f}"))
            }
            ("GET", ["projects", pr, "global", "firewalls"]) => {
                self.list(&w, "firewalls", pr, "global", req)
            }
            ("POST", ["projects", pr, "global", "firewalls"]) => {
                self.insert_simple(&mut w, "firewalls", pr, "global", body, "compute#firewall")
            }
            ("DELETE", ["projects", pr, "global", "firewalls", f]) => {
                self.delete(&mut w, "firewalls", pr, "global", f)
            }
            // Images.
            ("GET", ["projects", pr, "global", "images", "family", f]) => {
                let newest = w
                    .res
                    .iter()
                    .filter(|(k, v)| {
                        k.starts_with(&format!("images/{pr}/global/"))
                            && v["family"] == *f
                            && v["status"] == "READY"
                    })
                    .map(|(_, v)| v.clone())
                    .max_by_key(|v| v["creationTimestamp"].as_str().unwrap_or("").to_string());
                match newest {
                    Some(v) => (200, v),
                    None => not_found(&format!("projects/{pr}/global/images/family/{f}")),
                }
            }
            ("GET", ["projects", pr, "global", "images", i]) => {
                self.fetch(&w, &format!("images/{pr}/global/{i}"))
            }
            ("GET", ["projects", pr, "global", "images"]) => {
                self.list(&w, "images", pr, "global", req)
            }
            ("POST", ["projects", pr, "global", "images"]) => self.insert_image(&mut w, pr, body),
            ("DELETE", ["projects", pr, "global", "images", i]) => {
                self.delete(&mut w, "images", pr, "global", i)
            }
            // Disks.
            ("GET", ["projects", pr, "zones", z, "disks", d]) => {
                self.fetch(&w, &format!("disks/{pr}/{z}/{d}"))
            }
            ("GET", ["projects", pr, "zones", z, "disks"]) => self.list(&w, "disks", pr, z, req),
            ("POST", ["projects", pr, "zones", z, "disks"]) => {
                if !ZONES.contains(z) {
                    return not_found(&format!("projects/{pr}/zones/{z}"));
                }
                let mut b = body;
                b["status"] = "CREATING".into();
                b["zone"] = self.link(&format!("projects/{pr}/zones/{z}")).into();
                b["users"] = json!([]);
                self.insert_simple(&mut w, "disks", pr, z, b, "compute#disk")
            }
            ("DELETE", ["projects", pr, "zones", z, "disks", d]) => {
                let key = format!("disks/{pr}/{z}/{d}");
                if let Some(disk) = w.res.get(&key) {
                    if disk["users"].as_array().is_some_and(|u| !u.is_empty()) {
                        return gerr(400, "resourceInUseByAnotherResource", &format!(
                            "The disk resource 'projects/{pr}/zones/{z}/disks/{d}' is already being used by '{}'",
                            disk["users"][0].as_str().unwrap_or("")));
                    }
                }
                self.delete(&mut w, "disks", pr, z, d)
            }
            // Instances.
            ("GET", ["projects", pr, "zones", z, "instances", i]) => self
                .fetch(&w, &format!("instances/{pr}/{z}/{i}"))
                .map_body(|mut v| {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("guestAttributes");
                    }
                    v
                }),
            ("GET", ["projects", pr, "zones", z, "instances"]) => {
                self.list(&w, "instances", pr, z, req)
            }
            ("POST", ["projects", pr, "zones", z, "instances"]) => {
                self.insert_instance(&mut w, pr, z, body)
            }
            ("DELETE", ["projects", pr, "zones", z, "instances", i]) => {
                self.delete(&mut w, "instances", pr, z, i)
            }
            ("POST", ["projects", pr, "zones", z, "instances", i, "stop"]) => {
                let key = format!("instances/{pr}/{z}/{i}");
                if !w.res.contains_key(&key) {
                    return not_found(&format!("projects/{pr}/zones/{z}/instances/{i}"));
                }
                if let Some(r) = w.res.get_mut(&key) {
                    r["status"] = "STOPPING".into();
                }
                let link = w.res[&key]["selfLink"].clone();
                self.operation(
                    &mut w,
                    "instances",
                    "stop",
                    pr,
                    Some(*z),
                    &link,
                    Some(Effect::Stop(key)),
                )
            }
            ("POST", ["projects", pr, "zones", z, "instances", i, "setMetadata"]) => {
                let key = format!("instances/{pr}/{z}/{i}");
                let Some(inst) = w.res.get(&key) else {
                    return not_found(&format!("projects/{pr}/zones/{z}/instances/{i}"));
                };
                if body["fingerprint"] != inst["metadata"]["fingerprint"] {
                    return gerr(
                        412,
                        "conditionNotMet",
                        "Supplied fingerprint does not match current metadata fingerprint.",
                    );
                }
                let link = inst["selfLink"].clone();
                let fp = w.id();
                if let Some(r) = w.res.get_mut(&key) {
                    r["metadata"] = json!({"kind": "compute#metadata",
                        "fingerprint": fingerprint(&fp),
                        "items": body["items"].clone()});
                }
                self.operation(
                    &mut w,
                    "instances",
                    "setMetadata",
                    pr,
                    Some(*z),
                    &link,
                    Some(Effect::Agent(key)),
                )
            }
            ("GET", ["projects", pr, "zones", z, "instances", i, "getGuestAttributes"]) => {
                let key = format!("instances/{pr}/{z}/{i}");
                let Some(inst) = w.res.get(&key) else {
                    return not_found(&format!("projects/{pr}/zones/{z}/instances/{i}"));
                };
                let qp = req.query.get("queryPath").cloned().unwrap_or_default();
                let items: Vec<Value> = inst["guestAttributes"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, _)| k.starts_with(qp.trim_end_matches('/')))
                            .map(|(k, v)| {
                                let (ns, key) = k.split_once('/').unwrap_or(("", k));
                                json!({"namespace": ns, "key": key, "value": v})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if items.is_empty() {
                    return not_found(&format!(
                        "projects/{pr}/zones/{z}/instances/{i}/guestAttributes/{qp}"
                    ));
                }
                (
                    200,
                    json!({"kind": "compute#guestAttributes", "queryPath": qp,
                    "queryValue": {"items": items}}),
                )
            }
            ("GET", ["projects", pr, "zones", z, "instances", i, "serialPort"]) => {
                let key = format!("instances/{pr}/{z}/{i}");
                if !w.res.contains_key(&key) {
                    return not_found(&format!("projects/{pr}/zones/{z}/instances/{i}"));
                }
                let port = match req.query.get("port").map(|p| p.parse::<u8>()) {
                    None => 1,
                    Some(Ok(p)) if (1..=4).contains(&p) => p,
                    Some(_) => {
                        return gerr(
                            400,
                            "invalid",
                            &format!(
                                "Invalid value for field 'port': '{}'. Must be between 1 and 4.",
                                req.query["port"]
                            ),
                        )
                    }
                };
                let contents = match port {
                    1 => format!("fake boot of {i}\nforge-fake-gce login: "),
                    4 => w.res[&key]["serial4"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    _ => String::new(),
                };
                let start = req
                    .query
                    .get("start")
                    .and_then(|s| s.parse::<usize>().ok())
                    .unwrap_or(0)
                    .min(contents.len());
                (
                    200,
                    json!({"kind": "compute#serialPortOutput", "contents": &contents[start..],
                    "start": start.to_string(), "next": contents.len().to_string()}),
                )
            }
            // Operations.
            ("GET", ["projects", pr, "zones", z, "operations", o])
            | ("POST", ["projects", pr, "zones", z, "operations", o, "wait"]) => {
                let wait = m == "POST";
                drop(w);
                self.poll_op(pr, Some(*z), o, wait)
            }
            ("GET", ["projects", pr, "global", "operations", o])
            | ("POST", ["projects", pr, "global", "operations", o, "wait"]) => {
                let wait = m == "POST";
                drop(w);
                self.poll_op(pr, None, o, wait)
            }
            _ => gerr(
                404,
                "notFound",
                &format!("The fake has no method {m} {}", req.path),
            ),
        }
    }

    fn zone(&self, pr: &str, z: &str) -> Value {
        let region = z.rsplit_once('-').map(|(r, _)| r).unwrap_or(z);
        json!({"kind": "compute#zone", "name": z, "status": "UP",
            "region": self.link(&format!("projects/{pr}/regions/{region}")),
            "selfLink": self.link(&format!("projects/{pr}/zones/{z}"))})
    }

    fn fetch(&self, w: &World, key: &str) -> (u16, Value) {
        match w.res.get(key) {
            Some(v) => (200, public(v)),
            None => {
                let mut p = key.split('/');
                let kind = p.next().unwrap_or("");
                let pr = p.next().unwrap_or("");
                let scope = p.next().unwrap_or("");
                let name = p.next().unwrap_or("");
                let scope = match kind {
                    "images" | "firewalls" | "networks" => "global".to_string(),
                    "subnetworks" => format!("regions/{scope}"),
                    _ => format!("zones/{scope}"),
                };
                not_found(&format!("projects/{pr}/{scope}/{kind}/{name}"))
            }
        }
    }

    fn list(&self, w: &World, kind: &str, pr: &str, scope: &str, req: &Req) -> (u16, Value) {
        let prefix = format!("{kind}/{pr}/{scope}/");
        let filter = req.query.get("filter").cloned().unwrap_or_default();
        let items: Vec<Value> = w
            .res
            .iter()
            .filter(|(k, v)| k.starts_with(&prefix) && passes(v, &filter))
            .map(|(_, v)| public(v))
            .collect();
        (
            200,
            json!({"kind": format!("compute#{}List", kind.trim_end_matches('s')), "items": items}),
        )
    }

    fn exists_check(&self, w: &World, key: &str, what: &str) -> Option<(u16, Value)> {
        w.res.contains_key(key).then(|| {
            gerr(
                409,
                "alreadyExists",
                &format!("The resource '{what}' already exists"),
            )
        })
    }

    fn insert_simple(
        &self,
        w: &mut World,
        kind: &str,
        pr: &str,
        scope: &str,
        body: Value,
        ty: &str,
    ) -> (u16, Value) {
        let Some(name) = body["name"].as_str().map(str::to_string) else {
            return gerr(
                400,
                "required",
                "Required field 'resource.name' not specified",
            );
        };
        if !valid_name(&name) {
            return gerr(400, "invalid", &format!(
                "Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"));
        }
        let scope_path = if scope == "global" {
            "global".to_string()
        } else {
            format!("zones/{scope}")
        };
        let what = format!("projects/{pr}/{scope_path}/{kind}/{name}");
        if let Some(e) = self.exists_check(w, &format!("{kind}/{pr}/{scope}/{name}"), &what) {
            return e;
        }
        let mut b = body;
        let id = w.id();
        b["kind"] = ty.into();
        b["id"] = id.into();
        b["creationTimestamp"] = now_rfc3339().into();
        b["selfLink"] = self.link(&what).into();
        if b.get("status").is_none() && kind == "disks" {
            b["status"] = "CREATING".into();
        }
        let key = format!("{kind}/{pr}/{scope}/{name}");
        let link = b["selfLink"].clone();
        w.res.insert(key.clone(), b);
        let z = (scope != "global").then_some(scope);
        let ready = if kind == "disks" { "READY" } else { "" };
        self.operation(
            w,
            kind,
            "insert",
            pr,
            z,
            &link,
            Some(if ready.is_empty() {
                Effect::Ready(key, "")
            } else {
                Effect::Ready(key, "READY")
            }),
        )
    }

    fn delete(&self, w: &mut World, kind: &str, pr: &str, scope: &str, name: &str) -> (u16, Value) {
        let key = format!("{kind}/{pr}/{scope}/{name}");
        let Some(r) = w.res.get_mut(&key) else {
            return self.fetch(w, &key);
        };
        if kind == "instances" {
            r["status"] = "STOPPING".into();
        }
        let link = r["selfLink"].clone();
        let z = (scope != "global").then_some(scope);
        self.operation(w, kind, "delete", pr, z, &link, Some(Effect::Remove(key)))
    }

    fn insert_image(&self, w: &mut World, pr: &str, body: Value) -> (u16, Value) {
        let src = body["sourceDisk"].as_str().unwrap_or("").to_string();
        if src.is_empty() {
            return gerr(400, "required", "Required field 'sourceDisk' not specified");
        }
        let dk = disk_key(&src);
        let dk = if dk.starts_with("disks//") {
            // A partial URL: zones/z/disks/d.
            let parts: Vec<&str> = src.split('/').collect();
            let z = parts
                .iter()
                .position(|p| *p == "zones")
                .and_then(|i| parts.get(i + 1))
                .copied()
                .unwrap_or("");
            format!("disks/{pr}/{z}/{}", last(&src))
        } else {
            dk
        };
        let Some(disk) = w.res.get(&dk) else {
            return gerr(
                404,
                "notFound",
                &format!("The resource '{src}' was not found"),
            );
        };
        let busy = disk["users"].as_array().is_some_and(|u| !u.is_empty());
        if busy && body["forceCreate"] != true {
            return gerr(
                400,
                "resourceInUseByAnotherResource",
                &format!(
                    "The disk resource '{src}' is already being used by '{}'",
                    disk["users"][0].as_str().unwrap_or("")
                ),
            );
        }
        let given = match customer_key(&body["sourceDiskEncryptionKey"], "sourceDiskEncryptionKey")
        {
            Ok(k) => k,
            Err(e) => return e,
        };
        if let Some(sha) = disk["diskEncryptionKey"]["sha256"].as_str() {
            if given["sha256"].as_str() != Some(sha) {
                return gerr(400, "resourceIsEncryptedWithCustomerEncryptionKey", &format!(
                    "The resource '{src}' is encrypted with a customer-supplied encryption key: give that key in sourceDiskEncryptionKey"
                ));
            }
        }
        let image_key = match customer_key(&body["imageEncryptionKey"], "imageEncryptionKey") {
            Ok(k) => k,
            Err(e) => return e,
        };
        let size = disk["sizeGb"].clone();
        let mut b = body;
        b["imageEncryptionKey"] = image_key;
        if let Some(o) = b.as_object_mut() {
            o.remove("sourceDiskEncryptionKey");
            if o["imageEncryptionKey"].is_null() {
                o.remove("imageEncryptionKey");
            }
        }
        b["status"] = "PENDING".into();
        b["diskSizeGb"] = size;
        b["sourceDisk"] = disk["selfLink"].clone();
        self.insert_simple(w, "images", pr, "global", b, "compute#image")
            .map_body(|v| v)
            .fix_ready(w)
    }

    fn insert_instance(&self, w: &mut World, pr: &str, z: &str, body: Value) -> (u16, Value) {
        if !ZONES.contains(&z) {
            return not_found(&format!("projects/{pr}/zones/{z}"));
        }
        let Some(name) = body["name"].as_str().map(str::to_string) else {
            return gerr(
                400,
                "required",
                "Required field 'resource.name' not specified",
            );
        };
        if !valid_name(&name) {
            return gerr(400, "invalid", &format!("Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"));
        }
        let what = format!("projects/{pr}/zones/{z}/instances/{name}");
        if let Some(e) = self.exists_check(w, &format!("instances/{pr}/{z}/{name}"), &what) {
            return e;
        }
        let mt = last(body["machineType"].as_str().unwrap_or("")).to_string();
        if !MACHINE_TYPES.contains(&mt.as_str()) {
            return gerr(400, "invalid", &format!("Invalid value for field 'resource.machineType': '{}'. Machine type with name '{mt}' does not exist in zone '{z}'.", body["machineType"].as_str().unwrap_or("")));
        }
        let inst_link = self.link(&what);
        let mut disks = Vec::new();
        let mut new_disks = Vec::new();
        let mut windows = false;
        let mut boot_image = Value::Null;
        for (i, d) in body["disks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let mut d = d;
            if let Some(src) = d["source"].as_str() {
                let k = disk_key(src);
                if !w.res.contains_key(&k) {
                    return gerr(
                        404,
                        "notFound",
                        &format!("The resource '{src}' was not found"),
                    );
                }
                d["source"] = w.res[&k]["selfLink"].clone();
                disks.push(d);
                continue;
            }
            let ip = d["initializeParams"].clone();
            if let Some(t) = ip["diskType"].as_str() {
                if !DISK_TYPES.contains(&last(t)) {
                    return gerr(400, "invalid", &format!(
                        "Invalid value for field 'resource.disks[{i}].initializeParams.diskType': '{t}'. The referenced diskType resource cannot be found."
                    ));
                }
            }
            let dkey_enc = match customer_key(
                &d["diskEncryptionKey"],
                &format!("resource.disks[{i}].diskEncryptionKey"),
            ) {
                Ok(k) => k,
                Err(e) => return e,
            };
            let dname = ip["diskName"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if i == 0 {
                        name.clone()
                    } else {
                        format!("{name}-{i}")
                    }
                });
            let mut size = ip["diskSizeGb"]
                .as_str()
                .map(str::to_string)
                .or_else(|| ip["diskSizeGb"].as_i64().map(|n| n.to_string()));
            if let Some(img) = ip["sourceImage"].as_str() {
                let (ipr, iname, family) = image_ref(img, pr);
                let found = if family {
                    w.res
                        .iter()
                        .filter(|(k, v)| {
                            k.starts_with(&format!("images/{ipr}/global/"))
                                && v["family"] == iname.as_str()
                                && v["status"] == "READY"
                        })
                        .map(|(_, v)| v.clone())
                        .max_by_key(|v| v["creationTimestamp"].as_str().unwrap_or("").to_string())
                } else {
                    w.res.get(&format!("images/{ipr}/global/{iname}")).cloned()
                };
                let Some(found) = found else {
                    return gerr(
                        404,
                        "notFound",
                        &format!("The resource '{img}' was not found"),
                    );
                };
                if size.is_none() {
                    size = found["diskSizeGb"].as_str().map(str::to_string);
                }
                if i == 0 {
                    boot_image = found.clone();
                    windows = found["licenses"].as_array().is_some_and(|l| {
                        l.iter().any(|u| {
                            u.as_str()
                                .is_some_and(|u| u.contains("/projects/windows-cloud/"))
                        })
                    });
                }
            }
            let dkey = format!("disks/{pr}/{z}/{dname}");
            if w.res.contains_key(&dkey) {
                return gerr(
                    409,
                    "alreadyExists",
                    &format!("The resource 'projects/{pr}/zones/{z}/disks/{dname}' already exists"),
                );
            }
            let dlink = self.link(&format!("projects/{pr}/zones/{z}/disks/{dname}"));
            let id = w.id();
            let mut disk = json!({"kind": "compute#disk", "id": id, "name": dname,
                "sizeGb": size.unwrap_or_else(|| "10".into()),
                "type": ip["diskType"].clone(), "sourceImage": ip["sourceImage"].clone(),
                "labels": ip["labels"].clone(), "status": "CREATING",
                "creationTimestamp": now_rfc3339(),
                "zone": self.link(&format!("projects/{pr}/zones/{z}")),
                "users": [inst_link.clone()], "selfLink": dlink.clone()});
            if !dkey_enc.is_null() {
                disk["diskEncryptionKey"] = dkey_enc.clone();
            }
            new_disks.push((dkey, disk));
            let mut att = json!({"kind": "compute#attachedDisk", "index": i, "boot": d["boot"].clone(),
                "autoDelete": d["autoDelete"].as_bool().unwrap_or(false), "source": dlink,
                "deviceName": d["deviceName"].as_str().unwrap_or(&dname), "type": "PERSISTENT"});
            if let Some(m) = d["mode"].as_str() {
                att["mode"] = m.into();
            }
            if !dkey_enc.is_null() {
                att["diskEncryptionKey"] = dkey_enc;
            }
            disks.push(att);
        }
        let mut nics = Vec::new();
        for (i, n) in body["networkInterfaces"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![json!({})])
            .into_iter()
            .enumerate()
        {
            let net = n["network"]
                .as_str()
                .map(last)
                .unwrap_or("default")
                .to_string();
            let net_pr = n["network"]
                .as_str()
                .map(|u| image_ref(u, pr).0)
                .unwrap_or_else(|| pr.to_string());
            if !w
                .res
                .contains_key(&format!("networks/{net_pr}/global/{net}"))
            {
                return gerr(
                    404,
                    "notFound",
                    &format!(
                        "The resource 'projects/{net_pr}/global/networks/{net}' was not found"
                    ),
                );
            }
            let mut nic = json!({"kind": "compute#networkInterface", "name": format!("nic{i}"),
                "network": self.link(&format!("projects/{net_pr}/global/networks/{net}")),
                "networkIP": "127.0.0.1"});
            if let Some(s) = n["subnetwork"].as_str() {
                nic["subnetwork"] = s.into();
            }
            if let Some(acs) = n["accessConfigs"].as_array() {
                nic["accessConfigs"] = acs
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        a["kind"] = "compute#accessConfig".into();
                        a["natIP"] = "127.0.0.1".into();
                        a
                    })
                    .collect();
            }
            nics.push(nic);
        }
        let mut inst = body.clone();
        if let Some(e) = check_instance_options(&mut inst, z, &boot_image) {
            return e;
        }
        let id = w.id();
        let fp = w.id();
        inst["kind"] = "compute#instance".into();
        inst["id"] = id.into();
        inst["status"] = "PROVISIONING".into();
        inst["zone"] = self.link(&format!("projects/{pr}/zones/{z}")).into();
        inst["machineType"] = self
            .link(&format!("projects/{pr}/zones/{z}/machineTypes/{mt}"))
            .into();
        inst["selfLink"] = inst_link.clone().into();
        inst["creationTimestamp"] = now_rfc3339().into();
        inst["disks"] = disks.into();
        inst["networkInterfaces"] = nics.into();
        inst["metadata"] = json!({"kind": "compute#metadata", "fingerprint": fingerprint(&fp),
            "items": body["metadata"]["items"].clone()});
        if inst["metadata"]["items"].is_null() {
            inst["metadata"]["items"] = json!([]);
        }
        inst["guestAttributes"] = json!({});
        inst["windows"] = windows.into();
        let key = format!("instances/{pr}/{z}/{name}");
        let exhausted = w.exhausted.iter().any(|e| e == z);
        // The resources exist from the call on; a failed operation takes them away again.
        for (k, v) in &new_disks {
            w.res.insert(k.clone(), v.clone());
        }
        w.instances_made.push(public(&inst));
        w.res.insert(key.clone(), inst);
        if exhausted {
            for (k, _) in &new_disks {
                w.res.remove(k);
            }
            w.res.remove(&key);
            return self.failed_op(w, "instances", "insert", pr, Some(z), &inst_link,
                "ZONE_RESOURCE_POOL_EXHAUSTED",
                &format!("The zone 'projects/{pr}/zones/{z}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later."));
        }
        let r = self.operation(
            w,
            "instances",
            "insert",
            pr,
            Some(z),
            &Value::from(inst_link.clone()),
            Some(Effect::Ready(key.clone(), "RUNNING")),
        );
        // Disks are READY when the instance is; a failed insert takes them too.
        let failed = w.ops.values().last().is_some_and(|o| o.effect.is_none());
        for (k, _) in new_disks {
            if failed {
                w.res.remove(&k);
            } else if let Some(d) = w.res.get_mut(&k) {
                d["status"] = "READY".into();
            }
        }
        if failed {
            w.res.remove(&key);
        }
        r
    }

    /// Makes an operation for a call; an injected fault makes it end in error.
    #[allow(clippy::too_many_arguments)]
    fn operation(
        &self,
        w: &mut World,
        kind: &str,
        op_type: &str,
        pr: &str,
        zone: Option<&str>,
        target: &Value,
        effect: Option<Effect>,
    ) -> (u16, Value) {
        if let Some(f) = w
            .faults
            .iter_mut()
            .find(|f| f.kind == kind && f.op_type == op_type && f.times > 0)
        {
            f.times -= 1;
            let (code, msg) = (f.code.clone(), f.message.clone());
            // The effect of a failed insert is undone; others have none.
            if let Some(Effect::Ready(k, _)) = &effect {
                w.res.remove(k);
            }
            return self.failed_op(
                w,
                kind,
                op_type,
                pr,
                zone,
                target.as_str().unwrap_or(""),
                &code,
                &msg,
            );
        }
        let r = self.new_op(w, op_type, pr, zone, target.as_str().unwrap_or(""), None);
        if let Some(op) = w.ops.get_mut(r.1["name"].as_str().unwrap_or("")) {
            op.effect = effect;
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn failed_op(
        &self,
        w: &mut World,
        _kind: &str,
        op_type: &str,
        pr: &str,
        zone: Option<&str>,
        target: &str,
        code: &str,
        message: &str,
    ) -> (u16, Value) {
        self.new_op(
            w,
            op_type,
            pr,
            zone,
            target,
            Some(json!({"errors": [{"code": code, "message": message}]})),
        )
    }

    fn new_op(
        &self,
        w: &mut World,
        op_type: &str,
        pr: &str,
        zone: Option<&str>,
        target: &str,
        error: Option<Value>,
    ) -> (u16, Value) {
        let id = w.id();
        let name = format!("operation-{id}");
        let scope = match zone {
            Some(z) => format!("zones/{z}"),
            None => "global".into(),
        };
        let mut body = json!({"kind": "compute#operation", "id": id, "name": name,
            "operationType": op_type, "targetLink": target, "status": "PENDING", "progress": 0,
            "insertTime": now_rfc3339(),
            "selfLink": self.link(&format!("projects/{pr}/{scope}/operations/{name}"))});
        if let Some(z) = zone {
            body["zone"] = self.link(&format!("projects/{pr}/zones/{z}")).into();
        }
        if let Some(e) = error {
            body["error"] = e;
            body["httpErrorStatusCode"] = 400.into();
            body["httpErrorMessage"] = "BAD REQUEST".into();
        }
        let duration = w.op_time;
        w.ops.insert(
            name.clone(),
            Op {
                body: body.clone(),
                start: Instant::now(),
                duration,
                effect: None,
                applied: false,
            },
        );
        (200, body)
    }

    fn op_view(op: &Op) -> Value {
        let mut b = op.body.clone();
        let el = op.start.elapsed();
        if el >= op.duration {
            b["status"] = "DONE".into();
            b["progress"] = 100.into();
            b["endTime"] = now_rfc3339().into();
            if b.get("error").is_some() {
                b["progress"] = 100.into();
            }
        } else if el >= op.duration / 3 {
            b["status"] = "RUNNING".into();
            b["progress"] = ((el.as_millis() * 100 / op.duration.as_millis().max(1)) as u64).into();
            b["startTime"] = now_rfc3339().into();
        } else {
            // PENDING operations carry no error yet.
            if let Some(o) = b.as_object_mut() {
                o.remove("error");
                o.remove("httpErrorStatusCode");
                o.remove("httpErrorMessage");
            }
        }
        if b["status"] != "DONE" {
            if let Some(o) = b.as_object_mut() {
                o.remove("error");
                o.remove("httpErrorStatusCode");
                o.remove("httpErrorMessage");
            }
        }
        b
    }

    fn poll_op(&self, pr: &str, zone: Option<&str>, name: &str, wait: bool) -> (u16, Value) {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut w = self.world();
            w.tick(self.port);
            let Some(op) = w.ops.get(name) else {
                let scope = zone
                    .map(|z| format!("zones/{z}"))
                    .unwrap_or("global".into());
                return not_found(&format!("projects/{pr}/{scope}/operations/{name}"));
            };
            let v = Self::op_view(op);
            if !wait || v["status"] == "DONE" || Instant::now() >= deadline {
                return (200, v);
            }
            let left = (op.start + op.duration).saturating_duration_since(Instant::now());
            drop(w);
            std::thread::sleep(
                left.min(Duration::from_millis(50))
                    .max(Duration::from_millis(5)),
            );
        }
    }

    fn ssh_keys(&self) -> String {
        let w = self.world();
        let mut out = String::new();
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64;
        for (k, v) in &w.res {
            if !k.starts_with("instances/") {
                continue;
            }
            let items = v["metadata"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let oslogin = items.iter().any(|i| {
                i["key"] == "enable-oslogin"
                    && i["value"]
                        .as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            });
            if oslogin {
                // The guest takes OS Login's keys (unexpired) instead of the metadata's.
                for (key, exp) in w.oslogin_keys.values().flat_map(|m| m.values()) {
                    if *exp == 0 || *exp > now_us {
                        out.push_str(key);
                        out.push('\n');
                    }
                }
                continue;
            }
            for i in items {
                if i["key"] != "ssh-keys" {
                    continue;
                }
                for line in i["value"].as_str().unwrap_or("").lines() {
                    if let Some((_, key)) = line.split_once(':') {
                        out.push_str(key.trim());
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// Whether `jwt` is a valid self-signed JWT of the service account (what Google's client
    /// libraries send instead of fetching a token).
    fn self_signed(&self, jwt: &str) -> bool {
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return false;
        }
        let (Some(sig), Some(claims)) = (unb64url(parts[2]), unb64url(parts[1])) else {
            return false;
        };
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        );
        let msg = format!("{}.{}", parts[0], parts[1]);
        let claims: Value = serde_json::from_slice(&claims).unwrap_or(Value::Null);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        key.verify(msg.as_bytes(), &sig).is_ok()
            && claims["iss"] == self.client_email.as_str()
            && claims["exp"].as_i64().is_some_and(|e| e > now)
            && !self.world().expired_jwts
    }

    /// The OAuth2 JWT bearer grant (RFC 7523) of a service account.
    /// A new token for `principal`, valid for an hour.
    fn issue(&self, principal: &str) -> String {
        let mut w = self.world();
        let id = w.id();
        let token = format!("ya29.fake-{id}");
        w.tokens.insert(token.clone(), true);
        w.principals.insert(token.clone(), principal.to_string());
        token
    }

    /// The OS Login API (v1) for `me`'s own login profile: `importSshPublicKey`,
    /// `loginProfile`, and deleting a key by fingerprint (the SHA-256 of the key, hex).
    fn os_login(&self, req: &Req, rest: &str, me: &str) -> (u16, Value) {
        let err = |code: u16, status: &str, msg: &str| {
            (
                code,
                json!({"error": {"code": code, "message": msg, "status": status}}),
            )
        };
        let (user, tail) = match rest.split_once(':') {
            Some((u, m)) if !u.contains('/') => (u.to_string(), format!(":{m}")),
            _ => match rest.split_once('/') {
                Some((u, t)) => (u.to_string(), t.to_string()),
                None => (rest.to_string(), String::new()),
            },
        };
        if user != me {
            return err(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "The caller does not have permission to manage the login profile of {user}"
                ),
            );
        }
        let mut w = self.world();
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64;
        match (req.method.as_str(), tail.as_str()) {
            ("POST", ":importSshPublicKey") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let key = body["key"].as_str().unwrap_or_default().trim().to_string();
                let parts: Vec<&str> = key.split_whitespace().collect();
                let blob_ok = parts.len() >= 2
                    && base64::engine::general_purpose::STANDARD
                        .decode(parts[1])
                        .is_ok();
                if !blob_ok || !parts[0].starts_with("ssh-") && !parts[0].starts_with("ecdsa-") {
                    return err(400, "INVALID_ARGUMENT", "Invalid SSH key.");
                }
                if req.query.get("projectId").is_none_or(|p| p.is_empty()) {
                    return err(
                        400,
                        "INVALID_ARGUMENT",
                        "projectId is required to get a POSIX account.",
                    );
                }
                let exp = body["expirationTimeUsec"]
                    .as_str()
                    .and_then(|e| e.parse::<i64>().ok())
                    .or_else(|| body["expirationTimeUsec"].as_i64())
                    .unwrap_or(0);
                if exp != 0 && exp <= now_us {
                    return err(
                        400,
                        "INVALID_ARGUMENT",
                        "expirationTimeUsec is in the past.",
                    );
                }
                let fp = ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>();
                w.oslogin_keys
                    .entry(user.clone())
                    .or_default()
                    .insert(fp, (key, exp));
                let profile = Self::login_profile(&w, &user, req.query.get("projectId"));
                (200, json!({"loginProfile": profile}))
            }
            ("GET", "loginProfile") => (
                200,
                Self::login_profile(&w, &user, req.query.get("projectId")),
            ),
            ("DELETE", t) if t.starts_with("sshPublicKeys/") => {
                let fp = &t["sshPublicKeys/".len()..];
                match w.oslogin_keys.get_mut(&user).and_then(|k| k.remove(fp)) {
                    Some(_) => (200, json!({})),
                    None => err(
                        404,
                        "NOT_FOUND",
                        &format!("users/{user}/sshPublicKeys/{fp} not found"),
                    ),
                }
            }
            _ => err(
                404,
                "NOT_FOUND",
                &format!("The fake has no method {} {}", req.method, req.path),
            ),
        }
    }

    fn login_profile(w: &World, user: &str, project: Option<&String>) -> Value {
        let keys: serde_json::Map<String, Value> = w
            .oslogin_keys
            .get(user)
            .into_iter()
            .flatten()
            .map(|(fp, (k, exp))| {
                let mut v = json!({"key": k, "fingerprint": fp,
                    "name": format!("users/{user}/sshPublicKeys/{fp}")});
                if *exp != 0 {
                    v["expirationTimeUsec"] = exp.to_string().into();
                }
                (fp.clone(), v)
            })
            .collect();
        let posix = if w.posix_username.is_empty() {
            user.split('@')
                .next()
                .unwrap_or(user)
                .replace(['.', '-'], "_")
        } else {
            w.posix_username.clone()
        };
        json!({"name": user, "sshPublicKeys": keys, "posixAccounts": [{
            "primary": true, "username": posix, "uid": "1001", "gid": "1001",
            "homeDirectory": format!("/home/{posix}"), "operatingSystemType": "LINUX",
            "accountId": project.cloned().unwrap_or_default(),
            "name": format!("users/{user}/projects/{}", project.cloned().unwrap_or_default())}]})
    }

    /// IAM Credentials' `generateAccessToken`: a token for [`IMPERSONATION_TARGET`] (the
    /// only service account any caller may impersonate here).
    fn generate_access_token(&self, req: &Req, rest: &str) -> (u16, Value) {
        let Some(email) = rest.strip_suffix(":generateAccessToken") else {
            return gerr(
                404,
                "notFound",
                &format!("The fake has no method {}", req.path),
            );
        };
        let email = pct_decode(email);
        let err = |code: u16, status: &str, msg: &str| {
            (
                code,
                json!({"error": {"code": code, "message": msg, "status": status}}),
            )
        };
        if req.method != "POST" {
            return err(405, "METHOD_NOT_ALLOWED", "generateAccessToken is a POST");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if body["scope"].as_array().is_none_or(|s| s.is_empty()) {
            return err(400, "INVALID_ARGUMENT", "Scope required.");
        }
        if email != IMPERSONATION_TARGET {
            return err(403, "PERMISSION_DENIED", &format!(
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist). ({email})"
            ));
        }
        let token = self.issue(&email);
        let expire = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64
            + 3600;
        let (y, m, d) = civil(expire.div_euclid(86400));
        let t = expire.rem_euclid(86400);
        (
            200,
            json!({"accessToken": token, "expireTime": format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", t / 3600, t % 3600 / 60, t % 60)}),
        )
    }

    /// The refresh-token grant of the fake's authorized user ([`FakeGce::authorized_user_json`]).
    fn refresh_grant(&self, form: &BTreeMap<String, String>) -> (u16, Value) {
        let f = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        if f("client_id") != USER_CLIENT_ID || f("client_secret") != USER_CLIENT_SECRET {
            return (
                401,
                json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
            );
        }
        if f("refresh_token") != USER_REFRESH_TOKEN {
            return (
                400,
                json!({"error": "invalid_grant", "error_description": "Bad Request"}),
            );
        }
        let token = self.issue(USER_EMAIL);
        (
            200,
            json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                "scope": f("scope")}),
        )
    }

    fn token(&self, req: &Req) -> (u16, Value) {
        let bad = |d: &str| {
            (
                400,
                json!({"error": "invalid_grant", "error_description": d}),
            )
        };
        let form = query(&String::from_utf8_lossy(&req.body));
        if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
            return self.refresh_grant(&form);
        }
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return (
                400,
                json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}),
            );
        }
        let jwt = form.get("assertion").cloned().unwrap_or_default();
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return bad("Invalid JWT: not three parts");
        }
        let header: Value = unb64url(parts[0])
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if header["alg"] != "RS256" {
            return bad("Invalid JWT: alg must be RS256");
        }
        let Some(sig) = unb64url(parts[2]) else {
            return bad("Invalid JWT Signature.");
        };
        let msg = format!("{}.{}", parts[0], parts[1]);
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        );
        if key.verify(msg.as_bytes(), &sig).is_err() {
            return bad("Invalid JWT Signature.");
        }
        let claims: Value = unb64url(parts[1])
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if claims["iss"] != self.client_email.as_str() {
            return bad("Invalid JWT: iss is not the service account");
        }
        let token_uri = format!("http://127.0.0.1:{}/token", self.port);
        // Google takes its token endpoint's well-known names too (google-auth sends one of
        // them whatever the token_uri).
        let aud = claims["aud"].as_str().unwrap_or_default();
        if aud != token_uri
            && ![
                "https://oauth2.googleapis.com/token",
                "https://www.googleapis.com/oauth2/v4/token",
                "https://accounts.google.com/o/oauth2/token",
            ]
            .contains(&aud)
        {
            return bad("Invalid JWT: aud must be the token URI");
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap_or(0),
            claims["exp"].as_i64().unwrap_or(0),
        );
        if exp <= now || iat > now + 300 || exp - iat > 3600 {
            return bad("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
        }
        if claims["scope"].as_str().unwrap_or("").is_empty() {
            return bad("Invalid OAuth scope or ID token audience provided.");
        }
        let token = self.issue(&self.client_email);
        (
            200,
            json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
        )
    }
}

fn public(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("seeded");
        o.remove("guestAttributes");
        o.remove("windows");
        o.remove("serial4");
        o.remove("answered");
    }
    v
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

trait MapBody {
    fn map_body(self, f: impl FnOnce(Value) -> Value) -> Self;
    fn fix_ready(self, w: &mut World) -> Self;
}

impl MapBody for (u16, Value) {
    fn map_body(self, f: impl FnOnce(Value) -> Value) -> Self {
        if self.0 == 200 {
            (self.0, f(self.1))
        } else {
            self
        }
    }
    /// An image insert's operation makes the image READY.
    fn fix_ready(self, w: &mut World) -> Self {
        if let Some(op) = self.1["name"].as_str().and_then(|n| w.ops.get_mut(n)) {
            if let Some(Effect::Ready(_, s)) = &mut op.effect {
                *s = "READY";
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_labels_and_names() {
        let r = json!({"name": "a", "labels": {"forge-run": "x"}});
        assert!(passes(&r, "labels.forge-run = \"x\""));
        assert!(passes(&r, "labels.forge-run=x AND name=a"));
        assert!(!passes(&r, "labels.forge-run = \"y\""));
        assert!(passes(&r, ""));
    }

    #[test]
    fn names_follow_the_pattern() {
        assert!(valid_name("packer-1"));
        assert!(!valid_name("Packer"));
        assert!(!valid_name("a-"));
        assert!(!valid_name("1a"));
    }
}
