//! The vSphere test bed: forge's vCenter simulator (govmomi's simulator model, built from
//! `crates/forge-testkit/vcsim/main.go` by `scripts/test.sh` into
//! `/var/tmp/forge-test-vcsim/vcsim`, or `FORGE_VCSIM`), started on a free loopback port for
//! one test and stopped when dropped (its standard input closes, so it also ends with a test
//! process that dies).
//!
//! The default inventory (govmomi's VPX model): datacenter `DC0`, cluster `DC0_C0` with hosts
//! `DC0_C0_H0..2`, standalone host `DC0_H0`, datastore `LocalDS_0`, network `VM Network`, and
//! the VMs `DC0_H0_VM0`, `DC0_H0_VM1`, `DC0_C0_RP0_VM0`, `DC0_C0_RP0_VM1` (powered on, usable
//! as clone sources). Every powered-on VM reports [`VcsimOptions::guest_ip`] as its guest IP.
//! The keys typed on VMs' consoles (`PutUsbScanCodes`, which govmomi 0.24 does not implement:
//! main.go answers it) are recorded for [`Vcsim::keys`].
//!
//! ```text
//! let sim = forge_testkit::vcsim::Vcsim::start(Default::default());
//! // vcenter_server = sim.server(), username = sim.username(), password = sim.password(),
//! // insecure_connection = true (a self-signed certificate)
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where `scripts/test.sh` builds the simulator when `FORGE_VCSIM` is not set.
pub const DEFAULT_BINARY: &str = "/var/tmp/forge-test-vcsim/vcsim";
/// The user the simulator accepts.
pub const USERNAME: &str = "forge@vsphere.local";
/// Its password.
pub const PASSWORD: &str = "Forge-vcsim-1!";

/// The simulator's binary: `FORGE_VCSIM`, else [`DEFAULT_BINARY`]. Fails the test, saying how
/// to build it, when it is missing.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("FORGE_VCSIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BINARY));
    if !path.is_file() {
        panic!(
            "the vCenter simulator is missing at {}: run `scripts/test.sh --setup-only` as root \
             (it installs Debian's golang-go and golang-github-vmware-govmomi-dev with \
             apt-get install --no-install-recommends, and builds crates/forge-testkit/vcsim/main.go \
             into {DEFAULT_BINARY}), or point FORGE_VCSIM at such a build",
            path.display()
        );
    }
    path
}

/// The inventory to simulate. [`Default`]: govmomi's VPX model as described above.
#[derive(Clone, Debug)]
pub struct VcsimOptions {
    /// Datacenters (`DC0`, `DC1`, ...).
    pub datacenters: u32,
    /// Clusters per datacenter.
    pub clusters: u32,
    /// Hosts per cluster.
    pub cluster_hosts: u32,
    /// Standalone hosts per datacenter.
    pub hosts: u32,
    /// VMs per host and per cluster resource pool.
    pub vms: u32,
    /// Datastores.
    pub datastores: u32,
    /// The guest IP every powered-on VM reports (`None`: no VM gets one).
    pub guest_ip: Option<String>,
    /// Serve plain HTTP instead of HTTPS with a self-signed certificate.
    pub plain_http: bool,
}

impl Default for VcsimOptions {
    fn default() -> Self {
        VcsimOptions {
            datacenters: 1,
            clusters: 1,
            cluster_hosts: 3,
            hosts: 1,
            vms: 2,
            datastores: 1,
            guest_ip: Some("127.0.0.1".to_string()),
            plain_http: false,
        }
    }
}

/// A running simulator.
pub struct Vcsim {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
    log: PathBuf,
    calls: PathBuf,
    keys: PathBuf,
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        // Closing stdin stops it cleanly (it removes its datastores' temporary directories).
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                let _ = std::fs::remove_file(&self.calls);
                let _ = std::fs::remove_file(&self.keys);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(&self.calls);
        let _ = std::fs::remove_file(&self.keys);
    }
}

impl Vcsim {
    /// Starts the simulator on a free loopback port and waits until it listens.
    pub fn start(opts: VcsimOptions) -> Vcsim {
        let bin = binary();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log = std::env::temp_dir().join(format!(
            "forge-vcsim-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let err = std::fs::File::create(&log).expect("the vcsim log");
        let calls = log.with_extension("calls.json");
        let keys = log.with_extension("keys.jsonl");
        let mut cmd = Command::new(&bin);
        cmd.args(["-listen", "127.0.0.1:0", "-stdin-eof"])
            .args(["-username", USERNAME, "-password", PASSWORD])
            .args(["-dc", &opts.datacenters.to_string()])
            .args(["-cluster", &opts.clusters.to_string()])
            .args(["-cluster-host", &opts.cluster_hosts.to_string()])
            .args(["-host", &opts.hosts.to_string()])
            .args(["-vm", &opts.vms.to_string()])
            .args(["-ds", &opts.datastores.to_string()])
            .args(["-guest-ip", opts.guest_ip.as_deref().unwrap_or("")])
            .arg("-calls")
            .arg(&calls)
            .arg("-keys")
            .arg(&keys)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err);
        if opts.plain_http {
            cmd.arg("-http");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("vcsim's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut sim = Vcsim {
            child,
            stdin,
            url: String::new(),
            log,
            calls,
            keys,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.trim().contains("://") => sim.url = line.trim().to_string(),
            Ok(_) => panic!("vcsim exited without printing its URL: {}", sim.log_text()),
            Err(_) => panic!(
                "vcsim did not print its URL within 60 s: {}",
                sim.log_text()
            ),
        }
        sim
    }

    /// The SDK URL (`https://127.0.0.1:PORT/sdk`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`: what a template's `vcenter_server` takes.
    pub fn server(&self) -> String {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest).to_string()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in vcsim's URL")
    }

    /// The user it accepts ([`USERNAME`]).
    pub fn username(&self) -> &'static str {
        USERNAME
    }

    /// That user's password ([`PASSWORD`]).
    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// What it logged so far (stderr).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The SOAP requests it has answered, by method (what a client's round trips were).
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        std::fs::read(&self.calls)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The key events `PutUsbScanCodes` calls typed, in order: one JSON object each, with
    /// `vm` (its name), `power` (its power state then), `usbHidCode` and the modifiers sent
    /// (`leftShift`, `leftControl`, ...). govmomi 0.24 does not implement the call; this test
    /// bed's main.go answers it and records them.
    pub fn keys(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.keys)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
