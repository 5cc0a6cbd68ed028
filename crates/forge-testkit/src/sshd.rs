//! A private OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1 for the SSH communicator's
//! end-to-end tests. Each [`Sshd`] has its own temp dir with its config, host keys, client keys,
//! authorized_keys, pidfile and log, listens on a free high port, and is stopped (with its
//! sessions, and nothing else) when dropped. Everyone logs in as the dedicated user
//! [`USER`], created on first use, with a password and passwordless sudo.
//!
//! Needs root (sshd must switch to the test user). A missing program fails the test with the
//! Debian package to install; `scripts/test.sh` installs them all.
//!
//! ```text
//! use forge_testkit::sshd;
//! let mut s = sshd::Sshd::start(sshd::SshdOptions::pubkey_only());
//! // connect to s.host():s.port() as s.user() with s.key_ed25519() (or s.key_rsa_pem(),
//! // s.key_ed25519_encrypted() + s.passphrase(); s.password() where enabled) ...
//! s.kill_sessions(); // drop every connection, as a dying host would
//! s.restart_after(std::time::Duration::from_secs(2)); // a reboot window
//! assert!(s.log().contains("Accepted publickey"), "{}", s.log());
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test user every server accepts (and the only one).
pub const USER: &str = "forgetest";
/// Its password (also accepted by keyboard-interactive through PAM).
pub const PASSWORD: &str = "forgetest";
/// The passphrase of [`Sshd::key_ed25519_encrypted`].
pub const PASSPHRASE: &str = "forge test passphrase";
/// Debian's SFTP server, the `sftp` subsystem of every server started with `sftp` on.
pub const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
const SSHD: &str = "/usr/sbin/sshd";

/// Fails the test unless it runs as root.
pub fn require_root() {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        panic!("the OpenSSH test bed needs root (sshd switches to the test user {USER}): run the tests as root, as scripts/test.sh does");
    }
}

/// Which features a server offers. [`Default`]: every auth method on, no TCP forwarding,
/// sftp on, sshd's own limits.
#[derive(Clone, Debug)]
pub struct SshdOptions {
    /// `PubkeyAuthentication`.
    pub pubkey: bool,
    /// `PasswordAuthentication` (checked by PAM).
    pub password: bool,
    /// `KbdInteractiveAuthentication`, answered by PAM's password prompt.
    pub keyboard_interactive: bool,
    /// `AllowTcpForwarding` (needed by a bastion, `ssh -D` and tunnels).
    pub tcp_forwarding: bool,
    /// Whether the `sftp` subsystem exists.
    pub sftp: bool,
    /// `MaxStartups` (e.g. "10:30:100"); None keeps sshd's default.
    pub max_startups: Option<String>,
    /// `MaxSessions` (channels per connection); None keeps sshd's default (10).
    pub max_sessions: Option<u32>,
    /// More sshd_config lines. They go before the defaults, so they override them (sshd keeps
    /// the first value of a keyword); from the first `Match` line on they go at the end.
    pub extra: Vec<String>,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            pubkey: true,
            password: true,
            keyboard_interactive: true,
            tcp_forwarding: false,
            sftp: true,
            max_startups: None,
            max_sessions: None,
            extra: Vec::new(),
        }
    }
}

impl SshdOptions {
    /// A jump host: the defaults with TCP forwarding allowed.
    pub fn bastion() -> Self {
        SshdOptions::default().tcp_forwarding(true)
    }
    /// Public keys only.
    pub fn pubkey_only() -> Self {
        SshdOptions::default()
            .password(false)
            .keyboard_interactive(false)
    }
    /// `PubkeyAuthentication` on or off.
    pub fn pubkey(mut self, on: bool) -> Self {
        self.pubkey = on;
        self
    }
    /// `PasswordAuthentication` on or off.
    pub fn password(mut self, on: bool) -> Self {
        self.password = on;
        self
    }
    /// `KbdInteractiveAuthentication` on or off.
    pub fn keyboard_interactive(mut self, on: bool) -> Self {
        self.keyboard_interactive = on;
        self
    }
    /// `AllowTcpForwarding` on or off.
    pub fn tcp_forwarding(mut self, on: bool) -> Self {
        self.tcp_forwarding = on;
        self
    }
    /// The sftp subsystem on or off.
    pub fn sftp(mut self, on: bool) -> Self {
        self.sftp = on;
        self
    }
    /// `MaxStartups`.
    pub fn max_startups(mut self, spec: &str) -> Self {
        self.max_startups = Some(spec.to_string());
        self
    }
    /// `MaxSessions`.
    pub fn max_sessions(mut self, n: u32) -> Self {
        self.max_sessions = Some(n);
        self
    }
    /// Adds one sshd_config line (see [`SshdOptions::extra`]).
    pub fn line(mut self, line: &str) -> Self {
        self.extra.push(line.to_string());
        self
    }
}

/// A running sshd; dropping it stops it and its sessions and removes its dir (kept, with the
/// log printed, when the test is failing).
pub struct Sshd {
    dir: PathBuf,
    port: u16,
    opts: SshdOptions,
    child: Option<Child>,
}

impl Sshd {
    /// Starts a server with `opts`; panics (with sshd's log) when it does not come up.
    pub fn start(opts: SshdOptions) -> Sshd {
        require_root();
        crate::require::path(SSHD, "openssh-server");
        crate::require::path("/usr/bin/ssh-keygen", "openssh-client");
        ensure_user();
        fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let _ = fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755));

        let dir = fresh_dir("forge-sshd");
        generate_keys(&dir);
        let scratch = dir.join("scratch");
        fs::create_dir(&scratch).expect("create scratch dir");
        chown_to_user(&scratch);

        let mut sshd = Sshd {
            dir,
            port: 0,
            opts,
            child: None,
        };
        let mut last = String::new();
        for _ in 0..8 {
            sshd.port = crate::free_port();
            sshd.write_config();
            match sshd.spawn() {
                Ok(()) => return sshd,
                Err(log) if log.contains("Address already in use") => last = log,
                Err(log) => panic!("sshd did not start:\n{log}"),
            }
        }
        panic!("sshd found no free port:\n{last}");
    }

    /// The listening port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }
    /// "127.0.0.1".
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    /// "127.0.0.1:port".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// The login user ([`USER`]).
    pub fn user(&self) -> &'static str {
        USER
    }
    /// The user's password ([`PASSWORD`]).
    pub fn password(&self) -> &'static str {
        PASSWORD
    }
    /// The unencrypted ed25519 client key (OpenSSH format).
    pub fn key_ed25519(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    /// The unencrypted RSA client key, PEM ("BEGIN RSA PRIVATE KEY").
    pub fn key_rsa_pem(&self) -> PathBuf {
        self.dir.join("id_rsa")
    }
    /// The ed25519 client key encrypted with [`Sshd::passphrase`].
    pub fn key_ed25519_encrypted(&self) -> PathBuf {
        self.dir.join("id_ed25519_enc")
    }
    /// The passphrase of the encrypted key ([`PASSPHRASE`]).
    pub fn passphrase(&self) -> &'static str {
        PASSPHRASE
    }
    /// The public half of a client key path ("<key>.pub"), as one authorized_keys line.
    pub fn public_key(&self, key: &Path) -> String {
        let mut p = key.as_os_str().to_owned();
        p.push(".pub");
        fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("read {}: {e}", p.to_string_lossy()))
            .trim()
            .to_string()
    }
    /// The server's host public keys (ed25519, then RSA), one per line.
    pub fn host_public_keys(&self) -> Vec<String> {
        ["ssh_host_ed25519_key.pub", "ssh_host_rsa_key.pub"]
            .iter()
            .map(|f| {
                fs::read_to_string(self.dir.join(f))
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect()
    }
    /// A known_hosts file naming this server's host keys (`[127.0.0.1]:port ...`).
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
    /// The server's authorized_keys file (the client keys above).
    pub fn authorized_keys(&self) -> PathBuf {
        self.dir.join("authorized_keys")
    }
    /// Authorizes one more public key line from now on (e.g. a builder's temporary key).
    pub fn authorize_key(&self, public_key: &str) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.authorized_keys())
            .expect("open authorized_keys");
        writeln!(f, "{}", public_key.trim()).expect("append to authorized_keys");
    }
    /// The server's own directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// An empty directory owned by the test user, for uploads.
    pub fn scratch(&self) -> PathBuf {
        self.dir.join("scratch")
    }
    /// The test user's home directory.
    pub fn home(&self) -> PathBuf {
        PathBuf::from(format!("/home/{USER}"))
    }
    /// Where sshd logs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }
    /// sshd's log so far (LogLevel VERBOSE), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    /// The listening sshd's pid (0 while stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }
    /// The sftp-server binary ([`SFTP_SERVER`]).
    pub fn sftp_server(&self) -> &'static str {
        SFTP_SERVER
    }
    /// The options the server was started with.
    pub fn options(&self) -> &SshdOptions {
        &self.opts
    }

    /// An ssh_config block `Host <alias>` for this server: key auth with the ed25519 key, host
    /// key pinned to [`Sshd::known_hosts`], no prompts.
    pub fn ssh_config(&self, alias: &str) -> String {
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {USER}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  \
             BatchMode yes\n  LogLevel ERROR\n",
            self.port,
            self.key_ed25519().display(),
            self.known_hosts().display()
        )
    }

    /// An OpenSSH `ssh` command logged in to this server with the ed25519 key; append the
    /// remote command with `.arg(...)`.
    pub fn ssh(&self) -> Command {
        crate::require::path("/usr/bin/ssh", "openssh-client");
        let mut c = Command::new("/usr/bin/ssh");
        c.args(["-F", "/dev/null", "-p", &self.port.to_string(), "-i"])
            .arg(self.key_ed25519())
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"])
            .arg(format!("{USER}@127.0.0.1"))
            .stdin(Stdio::null());
        c
    }

    /// Pids of this server's sessions (every live process under the listening sshd).
    pub fn session_pids(&self) -> Vec<u32> {
        match self.pid() {
            0 => Vec::new(),
            pid => descendants(pid),
        }
    }

    /// Kills (SIGKILL) every session of this server, as a host dropping its connections
    /// mid-transfer would; the server keeps accepting. Returns how many processes it killed.
    pub fn kill_sessions(&self) -> usize {
        match self.pid() {
            0 => 0,
            pid => kill_below(pid),
        }
    }

    /// Stops the server and its sessions; the port stays reserved for [`Sshd::start_again`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Stopped, the listener forks no new sessions while they are killed; once it is gone
        // they would no longer be found under it.
        signal(&[child.id()], "STOP");
        kill_below(child.id());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the stopped server again on the same port, with the same keys and config.
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        if let Err(log) = self.spawn() {
            panic!("sshd did not start again on port {}:\n{log}", self.port);
        }
    }

    /// Stop, then start on the same port (a reboot with no downtime to speak of).
    pub fn restart(&mut self) {
        self.restart_after(Duration::ZERO);
    }

    /// Stop, wait `down` (connections are refused meanwhile), start on the same port.
    pub fn restart_after(&mut self, down: Duration) {
        self.stop();
        std::thread::sleep(down);
        self.start_again();
    }

    fn write_config(&self) {
        let d = &self.dir;
        let o = &self.opts;
        let yn = |b: bool| if b { "yes" } else { "no" };
        let split = o
            .extra
            .iter()
            .position(|l| l.trim_start().to_ascii_lowercase().starts_with("match "))
            .unwrap_or(o.extra.len());
        let mut c = String::new();
        for l in &o.extra[..split] {
            c += &format!("{l}\n");
        }
        c += &format!(
            "Port {}\nListenAddress 127.0.0.1\n\
             HostKey {}\nHostKey {}\nPidFile {}\n\
             AuthorizedKeysFile {}\nStrictModes no\nAllowUsers {USER}\nPermitRootLogin no\n\
             PubkeyAuthentication {}\nPasswordAuthentication {}\nKbdInteractiveAuthentication {}\n\
             UsePAM yes\nUseDNS no\nPrintMotd no\nPrintLastLog no\n\
             AllowTcpForwarding {}\nX11Forwarding no\nPermitTunnel no\nGatewayPorts no\n\
             LogLevel VERBOSE\n",
            self.port,
            d.join("ssh_host_ed25519_key").display(),
            d.join("ssh_host_rsa_key").display(),
            d.join("sshd.pid").display(),
            d.join("authorized_keys").display(),
            yn(o.pubkey),
            yn(o.password),
            yn(o.keyboard_interactive),
            yn(o.tcp_forwarding),
        );
        if let Some(m) = &o.max_startups {
            c += &format!("MaxStartups {m}\n");
        }
        if let Some(n) = o.max_sessions {
            c += &format!("MaxSessions {n}\n");
        }
        if o.sftp {
            c += &format!("Subsystem sftp {SFTP_SERVER}\n");
        }
        if sshd_version() >= (9, 8) {
            // Newer sshd penalizes clients whose sessions die, which tests do on purpose.
            c += "PerSourcePenalties no\n";
        }
        for l in &o.extra[split..] {
            c += &format!("{l}\n");
        }
        let path = d.join("sshd_config");
        fs::write(&path, c).expect("write sshd_config");
        let known: String = self
            .host_public_keys()
            .iter()
            .map(|k| format!("[127.0.0.1]:{} {k}\n", self.port))
            .collect();
        fs::write(self.known_hosts(), known).expect("write known_hosts");
        let t = Command::new(SSHD)
            .arg("-t")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("run sshd -t");
        if !t.status.success() {
            panic!(
                "sshd rejects its config {}:\n{}",
                path.display(),
                String::from_utf8_lossy(&t.stderr)
            );
        }
    }

    /// Runs sshd in the foreground (so it is our child) and waits until it listens; Err holds
    /// the log when it exits first.
    fn spawn(&mut self) -> Result<(), String> {
        let marker = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let before = self.log().matches(&marker).count();
        let out = File::create(self.dir.join("sshd.out")).expect("create sshd.out");
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(self.dir.join("sshd_config"))
            .arg("-E")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("run {SSHD}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.log().matches(&marker).count() > before {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let out = fs::read_to_string(self.dir.join("sshd.out")).unwrap_or_default();
                return Err(format!("sshd exited ({status}):\n{}{out}", self.log()));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("sshd did not listen within 15 s:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "sshd on port {} kept in {}; its log:\n{}",
                self.port,
                self.dir.display(),
                self.log()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Creates the test user once per process, under a lock shared by all test processes:
/// account, password, passwordless sudo.
fn ensure_user() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        crate::require::path("/usr/sbin/useradd", "passwd");
        crate::require::path("/usr/sbin/chpasswd", "passwd");
        crate::require::path("/usr/bin/sudo", "sudo");
        let lock = File::create("/tmp/.forge-testuser.lock").expect("create the user lock file");
        lock.lock().expect("lock the user lock file");
        let exists = Command::new("id")
            .args(["-u", USER])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            run(Command::new("/usr/sbin/useradd").args(["-m", "-s", "/bin/bash", USER]));
        }
        let mut chpasswd = Command::new("/usr/sbin/chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd");
        writeln!(chpasswd.stdin.take().unwrap(), "{USER}:{PASSWORD}").unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd failed");
        let sudoers = format!("/etc/sudoers.d/{USER}");
        let rule = format!("{USER} ALL=(ALL) NOPASSWD:ALL\n");
        if fs::read_to_string(&sudoers).ok().as_deref() != Some(&rule) {
            let tmp = format!("{sudoers}.tmp");
            fs::write(&tmp, &rule).expect("write sudoers rule");
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o440)).unwrap();
            fs::rename(&tmp, &sudoers).expect("install sudoers rule");
        }
    });
}

/// Host keys (ed25519, RSA) and client keys (ed25519, RSA in PEM, passphrase-protected
/// ed25519), generated at once; the client keys go to authorized_keys.
fn generate_keys(dir: &Path) {
    let keys: [(&str, &[&str], &str); 5] = [
        ("ssh_host_ed25519_key", &["-t", "ed25519"], ""),
        ("ssh_host_rsa_key", &["-t", "rsa", "-b", "2048"], ""),
        ("id_ed25519", &["-t", "ed25519"], ""),
        ("id_rsa", &["-t", "rsa", "-b", "2048", "-m", "PEM"], ""),
        ("id_ed25519_enc", &["-t", "ed25519"], PASSPHRASE),
    ];
    let children: Vec<_> = keys
        .iter()
        .map(|(name, args, pass)| {
            let c = Command::new("/usr/bin/ssh-keygen")
                .arg("-q")
                .args(*args)
                .args(["-C", &format!("forge-test-{name}"), "-N", pass, "-f"])
                .arg(dir.join(name))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run ssh-keygen");
            (name, c)
        })
        .collect();
    for (name, c) in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut auth = String::new();
    for k in ["id_ed25519", "id_rsa", "id_ed25519_enc"] {
        auth += &fs::read_to_string(dir.join(format!("{k}.pub"))).unwrap();
    }
    let path = dir.join("authorized_keys");
    fs::write(&path, auth).expect("write authorized_keys");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
}

/// A fresh, world-traversable directory under the temp dir (sshd reads authorized_keys there
/// as the test user).
pub fn fresh_dir(prefix: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create temp dir");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Live (not zombie) processes below `root`, parents first.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Some((state, ppid)) = crate::proc_state(pid) else {
            continue;
        };
        if !matches!(state, 'Z' | 'X') {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            out.push(c);
            queue.push(c);
        }
    }
    out
}

/// Kills (SIGKILL) every process below `root`, stopping each generation first so that none
/// escapes by forking; returns how many it killed.
pub fn kill_below(root: u32) -> usize {
    let mut killed = std::collections::HashSet::new();
    for _ in 0..100 {
        let mut pids = descendants(root);
        if pids.is_empty() {
            break;
        }
        signal(&pids, "STOP");
        pids.extend(descendants(root));
        signal(&pids, "KILL");
        killed.extend(pids);
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.len()
}

/// Sends `sig` (a name such as "TERM") to `pids`.
pub fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn chown_to_user(path: &Path) {
    run(Command::new("chown")
        .arg(format!("{USER}:{USER}"))
        .arg(path));
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// sshd's (major, minor) version, from `sshd -V`.
fn sshd_version() -> (u32, u32) {
    static V: OnceLock<(u32, u32)> = OnceLock::new();
    *V.get_or_init(|| {
        let out = Command::new(SSHD).arg("-V").output().expect("run sshd -V");
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let v = text
            .split("OpenSSH_")
            .nth(1)
            .unwrap_or("")
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()
            .unwrap_or("");
        let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    })
}
