//! A private Docker registry (Debian's docker-registry, /usr/bin/docker-registry) on
//! 127.0.0.1:<free port>, with its own config and storage in a temp dir, optionally behind
//! htpasswd basic auth (bcrypt entries made by apache2-utils' htpasswd). Plain HTTP works
//! because the engine trusts registries on 127.0.0.0/8 as insecure by default. Stopped (and its
//! storage removed) when dropped.
//!
//! ```text
//! use forge_testkit::registry;
//! let r = registry::Registry::start(Some(("user", "secret")));
//! let reference = format!("{}/forge/x:1", r.addr()); // "127.0.0.1:PORT/forge/x:1"
//! // docker push reference with the user's credentials ...
//! assert!(r.has_tag("forge/x", "1"));
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const REGISTRY: &str = "/usr/bin/docker-registry";
const HTPASSWD: &str = "/usr/bin/htpasswd";

/// A running registry.
pub struct Registry {
    child: Child,
    dir: PathBuf,
    port: u16,
    auth: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry; with `auth`, only that user and password may push or pull.
    pub fn start(auth: Option<(&str, &str)>) -> Registry {
        for (path, pkg) in [(REGISTRY, "docker-registry"), (HTPASSWD, "apache2-utils")] {
            if !Path::new(path).exists() {
                panic!(
                    "{path} is missing: install Debian's {pkg} (apt-get install --no-install-recommends {pkg}); \
                     scripts/test.sh installs everything the tests need"
                );
            }
        }
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "forge-registry.{}.{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("storage")).expect("registry temp dir");
        let port = crate::free_port();
        let mut auth_cfg = String::new();
        if let Some((user, pass)) = auth {
            let out = Command::new(HTPASSWD)
                .args(["-Bbn", user, pass])
                .output()
                .expect("running htpasswd");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.join("htpasswd"), &out.stdout).expect("writing htpasswd");
            auth_cfg = format!(
                "auth:\n  htpasswd:\n    realm: forge-test\n    path: {}\n",
                dir.join("htpasswd").display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  \
             filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  \
             addr: 127.0.0.1:{port}\n{auth_cfg}",
            dir.join("storage").display()
        );
        std::fs::write(dir.join("config.yml"), config).expect("writing registry config");
        let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut r = Registry {
            child,
            dir,
            port,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        r.wait_ready();
        r
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Whether `repo` has `tag` (asks `/v2/<repo>/tags/list`, with the credentials if any).
    pub fn has_tag(&self, repo: &str, tag: &str) -> bool {
        let (status, body) = self.get(&format!("/v2/{repo}/tags/list"));
        status == 200 && body.contains(&format!("\"{tag}\""))
    }

    /// A GET on the registry: status code and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = match TcpStream::connect(("127.0.0.1", self.port)) {
            Ok(s) => s,
            Err(_) => return (0, String::new()),
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let auth = self
            .auth
            .as_ref()
            .map(|(u, p)| format!("Authorization: Basic {}\r\n", base64(&format!("{u}:{p}"))))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{auth}Connection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        (status, body.to_string())
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("docker-registry exited ({st}): {}", self.log());
            }
            let (status, _) = self.get("/v2/");
            if status == 200 || status == 401 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not answer within 20s: {}", self.log());
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
