//! Real proxies on loopback for the SSH communicator's proxy tests, each stopped on drop:
//! SOCKS5 through OpenSSH's dynamic forwarding (`ssh -N -D`, no auth) or Debian's Dante
//! (`danted`, optional username/password auth against the system accounts), and HTTP CONNECT
//! through Debian's tinyproxy (optional Basic auth).

use std::fs::{self, File};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;
use crate::require::path as require;
use crate::sshd::{descendants, fresh_dir, signal, Sshd, PASSWORD, USER};

/// One proxy process (with its children) on 127.0.0.1.
struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd(port, dir)` on fresh ports until one is listening; `what` names it in
    /// failure messages.
    fn start(what: &str, prefix: &str, cmd: &dyn Fn(u16, &Path) -> Command) -> Daemon {
        let dir = fresh_dir(prefix);
        let log = dir.join("proxy.log");
        let mut last = String::new();
        for _ in 0..8 {
            let port = free_port();
            let out = File::create(&log).expect("create proxy log");
            let mut child = cmd(port, &dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("run {what}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("{what} exited ({status}):\n{}", logs(&dir));
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Daemon {
                        child,
                        dir,
                        port,
                        log,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{what} did not listen within 15 s:\n{}", logs(&dir));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !last.contains("in use") {
                break;
            }
        }
        panic!("{what} did not start:\n{last}");
    }

    fn stop(&mut self) {
        // Its children (Dante's) are found while it still lives, and killed after it.
        let below = descendants(self.child.id());
        signal(&[self.child.id()], "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        signal(&below, "KILL");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "proxy on port {} kept in {}; its log:\n{}",
                self.port,
                self.dir.display(),
                logs(&self.dir)
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// Every `*.log` file in `dir`, each under its name.
fn logs(dir: &Path) -> String {
    let mut names: Vec<_> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| format!("--- {}\n{}", p.display(), read(p)))
        .collect()
}

/// A SOCKS5 proxy on 127.0.0.1.
pub struct SocksProxy {
    daemon: Daemon,
    auth: Option<(String, String)>,
}

impl SocksProxy {
    /// OpenSSH's dynamic forwarding (`ssh -N -D`) through `via`, which must allow TCP
    /// forwarding ([`crate::sshd::SshdOptions::bastion`]). No proxy authentication.
    pub fn ssh(via: &Sshd) -> SocksProxy {
        require("/usr/bin/ssh", "openssh-client");
        let daemon = Daemon::start("ssh -D", "forge-socks-ssh", &|port, dir| {
            let mut c = Command::new("/usr/bin/ssh");
            c.args(["-F", "/dev/null", "-N", "-D", &format!("127.0.0.1:{port}")])
                .args(["-p", &via.port().to_string(), "-i"])
                .arg(via.key_ed25519())
                .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
                .args([
                    "-o",
                    "ExitOnForwardFailure=yes",
                    "-o",
                    "StrictHostKeyChecking=yes",
                ])
                .arg("-o")
                .arg(format!(
                    "UserKnownHostsFile={}",
                    via.known_hosts().display()
                ))
                .args([
                    "-o",
                    "ServerAliveInterval=15",
                    "-o",
                    "LogLevel=DEBUG2",
                    "-E",
                ])
                .arg(dir.join("ssh.log"))
                .arg(format!("{USER}@127.0.0.1"));
            c
        });
        SocksProxy { daemon, auth: None }
    }

    /// Dante (`danted`), allowing CONNECT to loopback only. With `auth`, clients must log in
    /// with the test user's system account ([`USER`] / [`PASSWORD`]); else no auth.
    pub fn dante(auth: bool) -> SocksProxy {
        require("/usr/sbin/danted", "dante-server");
        let daemon = Daemon::start("danted", "forge-socks-dante", &|port, dir| {
            let conf = dir.join("danted.conf");
            fs::write(
                &conf,
                format!(
                    "logoutput: {log}\n\
                     internal: 127.0.0.1 port = {port}\n\
                     external: 127.0.0.1\n\
                     clientmethod: none\n\
                     socksmethod: {method}\n\
                     user.privileged: root\n\
                     user.unprivileged: nobody\n\
                     client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
                     socks pass {{\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: connect\n  log: connect disconnect error\n}}\n",
                    log = dir.join("danted.log").display(),
                    method = if auth { "username" } else { "none" },
                ),
            )
            .expect("write danted.conf");
            let mut c = Command::new("/usr/sbin/danted");
            c.arg("-f")
                .arg(&conf)
                .args(["-N", "1", "-p"])
                .arg(dir.join("danted.pid"));
            c
        });
        let auth = auth.then(|| (USER.to_string(), PASSWORD.to_string()));
        SocksProxy { daemon, auth }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.daemon.port
    }
    /// "127.0.0.1:port".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.daemon.port)
    }
    /// The username and password it asks for, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }
    /// The proxy's logs (ssh's or Dante's), for failure messages and to check it was used.
    pub fn log(&self) -> String {
        logs(&self.daemon.dir)
    }
}

/// An HTTP CONNECT proxy (tinyproxy) on 127.0.0.1.
pub struct HttpProxy {
    daemon: Daemon,
    auth: Option<(String, String)>,
}

impl HttpProxy {
    /// Allows CONNECT to `connect_ports` only (every port when empty), from loopback.
    pub fn start(connect_ports: &[u16]) -> HttpProxy {
        Self::launch(connect_ports, None)
    }

    /// Like [`HttpProxy::start`], and requires Basic auth with `user` / `password`.
    pub fn with_basic_auth(connect_ports: &[u16], user: &str, password: &str) -> HttpProxy {
        Self::launch(
            connect_ports,
            Some((user.to_string(), password.to_string())),
        )
    }

    fn launch(connect_ports: &[u16], auth: Option<(String, String)>) -> HttpProxy {
        require("/usr/bin/tinyproxy", "tinyproxy");
        let daemon = Daemon::start("tinyproxy", "forge-http-proxy", &|port, dir| {
            let mut conf = format!(
                "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 600\nMaxClients 100\n\
                 User nobody\nGroup nogroup\nLogLevel Info\nDisableViaHeader Yes\n"
            );
            for p in connect_ports {
                conf += &format!("ConnectPort {p}\n");
            }
            if let Some((u, p)) = &auth {
                conf += &format!("BasicAuth {u} {p}\n");
            }
            let path = dir.join("tinyproxy.conf");
            fs::write(&path, conf).expect("write tinyproxy.conf");
            // -d: foreground, logging to stderr (the daemon's log file).
            let mut c = Command::new("/usr/bin/tinyproxy");
            c.arg("-d").arg("-c").arg(&path);
            c
        });
        HttpProxy { daemon, auth }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.daemon.port
    }
    /// "127.0.0.1:port".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.daemon.port)
    }
    /// The Basic auth username and password it asks for, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }
    /// tinyproxy's log (one "CONNECT" line per tunnel), for failure messages and checks.
    pub fn log(&self) -> String {
        read(&self.daemon.log)
    }
}
