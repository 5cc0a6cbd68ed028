//! moto's EC2 emulator in server mode, started on a free loopback port for one test and
//! stopped after it, with a small fault-injecting HTTP proxy in front (throttling, capacity
//! errors) and an sshd that accepts every key pair moto knows, as EC2 injects key pairs into
//! instances. Needs python3 with `moto[server]` (scripts/test.sh installs it) and curl; a
//! missing piece fails the test with what to install.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The administrator password moto's Windows instances report through `GetPasswordData`.
pub const WINDOWS_PASSWORD: &str = "Moto-Adm1n!pw";

/// moto's server, with one fix: `GetPasswordData` answers as EC2 does, the Windows password
/// encrypted (RSA, PKCS#1 v1.5) to the instance's key pair and base64-encoded (moto itself
/// answers random text, which no key decrypts); empty for other instances or keys.
const SERVER: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
import moto.ec2.models.windows as windows

def get_password_data(self, instance_id):
    inst = self.get_instance(instance_id)
    kp = self.key_pairs.get(inst.key_name) if inst.key_name else None
    if inst.platform != "windows" or kp is None:
        return ""
    pub = serialization.load_ssh_public_key(kp.material_public)
    if not isinstance(pub, rsa.RSAPublicKey):
        return ""
    return base64.b64encode(pub.encrypt(PASSWORD.encode(), padding.PKCS1v15())).decode()

windows.WindowsBackend.get_password_data = get_password_data
from moto.server import main
main(sys.argv[1:])
"#;

const INSTALL: &str =
    "the AWS tests need moto's server: pip install 'moto[server]' (scripts/test.sh installs it)";

/// The python with moto: `$FORGE_PYTHON` (scripts/test.sh sets it), else `python3` on PATH.
pub fn python() -> String {
    std::env::var("FORGE_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// A running moto server.
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
    /// What moto holds from the start (its own snapshots of its public images).
    baseline: Vec<String>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Moto {
    /// Starts moto; `auth_after` turns IAM authentication on after that many calls.
    pub fn start(auth_after: Option<usize>) -> Moto {
        let ok = Command::new(python())
            .args(["-c", "import moto.server, boto3, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "{INSTALL} (python3 cannot import moto.server, boto3 and flask)"
        );
        let port = crate::free_port();
        let log = std::env::temp_dir().join(format!("forge-moto-ec2-{port}.log"));
        let out = std::fs::File::create(&log).expect("moto log");
        let mut cmd = Command::new(python());
        let server = format!("PASSWORD = {WINDOWS_PASSWORD:?}\n{SERVER}");
        cmd.args(["-c", &server, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("moto log"))
            .stderr(out);
        if let Some(n) = auth_after {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{INSTALL}: {e}"));
        let mut m = Moto {
            child,
            port,
            log,
            baseline: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(s)) = m.child.try_wait() {
                panic!("moto exited ({s}): {}\n{INSTALL}", m.log());
            }
            assert!(Instant::now() < deadline, "moto did not listen within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        if auth_after.is_none() {
            m.baseline = ["us-east-1", "us-west-2"]
                .iter()
                .flat_map(|r| m.leftovers(r))
                .collect();
        }
        m
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// moto's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One EC2 query action (form-encoded `params`) in `region`, with moto's relaxed
    /// signature; the XML answer.
    pub fn query(&self, region: &str, params: &str) -> String {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-H",
                &format!("Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0"),
                "--data",
                &format!("{params}&Version=2016-11-15"),
                &format!("{}/", self.endpoint()),
            ])
            .output()
            .expect("curl is needed for the EC2 tests: apt-get install --no-install-recommends curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a Secrets Manager secret holding `value` (moto's relaxed signature, as
    /// [`Moto::query`]).
    pub fn create_secret(&self, name: &str, value: &str) {
        let body = serde_json::json!({ "Name": name, "SecretString": value }).to_string();
        let out = Command::new("curl")
            .args([
                "-sS",
                "-f",
                "-H",
                "Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
                "-H",
                "X-Amz-Target: secretsmanager.CreateSecret",
                "-H",
                "Content-Type: application/x-amz-json-1.1",
                "--data",
                &body,
                &format!("{}/", self.endpoint()),
            ])
            .output()
            .expect("curl is needed for the moto tests: apt-get install --no-install-recommends curl");
        assert!(
            out.status.success(),
            "creating secret {name} in moto failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every `<tag>value</tag>` in an answer.
    pub fn values(xml: &str, tag: &str) -> Vec<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        xml.split(&open)
            .skip(1)
            .filter_map(|s| s.split(&close).next().map(str::to_string))
            .collect()
    }

    /// What is left in `region` of what builds create: running instances, key pairs, security
    /// groups other than default, AMIs and snapshots owned by the account, available volumes.
    pub fn leftovers(&self, region: &str) -> Vec<String> {
        let mut left = Vec::new();
        let inst = self.query(region, "Action=DescribeInstances");
        for chunk in inst.split("<item>").filter(|c| c.contains("<instanceId>")) {
            let id = Self::values(chunk, "instanceId");
            let state = Self::values(chunk, "name");
            if let (Some(id), Some(s)) = (id.first(), state.first()) {
                if s != "terminated" {
                    left.push(format!("instance {id} ({s})"));
                }
            }
        }
        left.extend(
            Self::values(&self.query(region, "Action=DescribeKeyPairs"), "keyName")
                .into_iter()
                .map(|k| format!("key pair {k}")),
        );
        left.extend(
            Self::values(
                &self.query(region, "Action=DescribeSecurityGroups"),
                "groupName",
            )
            .into_iter()
            .filter(|g| g != "default")
            .map(|g| format!("security group {g}")),
        );
        left.extend(
            Self::values(
                &self.query(region, "Action=DescribeImages&Owner.1=self"),
                "imageId",
            )
            .into_iter()
            .map(|i| format!("AMI {i}")),
        );
        left.extend(
            Self::values(
                &self.query(region, "Action=DescribeSnapshots&Owner.1=self"),
                "snapshotId",
            )
            .into_iter()
            .map(|s| format!("snapshot {s}")),
        );
        left.extend(
            Self::values(
                &self.query(
                    region,
                    "Action=DescribeVolumes&Filter.1.Name=status&Filter.1.Value.1=available",
                ),
                "volumeId",
            )
            .into_iter()
            .map(|v| format!("volume {v}")),
        );
        left.retain(|l| !self.baseline.contains(l));
        left
    }

    /// A source AMI moto ships with (its name).
    pub fn some_image(&self, region: &str) -> (String, String) {
        let xml = self.query(region, "Action=DescribeImages&Owner.1=amazon");
        let chunk = xml
            .split("<item>")
            .find(|c| c.contains("<imageId>") && c.contains("<rootDeviceType>ebs"))
            .expect("moto lists no amazon-owned EBS image");
        (
            Self::values(chunk, "imageId")[0].clone(),
            Self::values(chunk, "name")[0].clone(),
        )
    }

    /// (id, name) of an amazon-owned Windows EBS image (its instances have the `windows`
    /// platform, so GetPasswordData answers for them).
    pub fn windows_image(&self, region: &str) -> (String, String) {
        let xml = self.query(region, "Action=DescribeImages&Owner.1=amazon");
        let chunk = xml
            .split("<item>")
            .find(|c| {
                c.contains("<imageId>")
                    && c.contains("<rootDeviceType>ebs")
                    && c.contains("<platform>windows")
            })
            .expect("moto lists no amazon-owned Windows EBS image");
        (
            Self::values(chunk, "imageId")[0].clone(),
            Self::values(chunk, "name")[0].clone(),
        )
    }

    /// Writes a root-owned AuthorizedKeysCommand that prints every public key moto knows.
    pub fn authorized_keys_command(&self) -> String {
        let path = format!("/usr/local/libexec/forge-test-moto-keys-{}", self.port);
        std::fs::create_dir_all("/usr/local/libexec").expect("creating /usr/local/libexec");
        let script = format!(
            "#!/bin/sh\nfor r in us-east-1 us-west-2; do curl -fsS -H \"Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/$r/ec2/aws4_request, SignedHeaders=host, Signature=0\" '{}/?Action=DescribeKeyPairs&IncludePublicKey=true&Version=2016-11-15' | sed -n 's/.*<publicKey>\\([^<]*\\)<.*/\\1/p'; done\n",
            self.endpoint()
        );
        std::fs::write(&path, script).expect("writing the keys command");
        let _ = Command::new("chmod").args(["0755", &path]).status();
        path
    }
}

/// A fault to inject: requests whose body contains `needle` get `code` (HTTP `status`),
/// `times` times (`None`: always).
#[derive(Clone, Debug)]
pub struct Fault {
    /// Text the request body must contain.
    pub needle: String,
    /// The EC2 error code answered.
    pub code: String,
    /// The HTTP status answered.
    pub status: u16,
    /// How many requests get the fault (`None`: all).
    pub times: Option<u32>,
}

#[derive(Default)]
struct ProxyState {
    faults: Vec<Fault>,
    /// Actions seen, with whether a fault answered them.
    seen: Vec<(String, bool)>,
    /// Every request body.
    bodies: Vec<String>,
}

/// The fault-injecting proxy in front of moto.
pub struct FaultProxy {
    port: u16,
    state: Arc<Mutex<ProxyState>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (host:port).
    pub fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listen");
        let port = listener.local_addr().expect("addr").port();
        let state: Arc<Mutex<ProxyState>> = Default::default();
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream_port, &st);
                });
            }
        });
        FaultProxy { port, state }
    }

    /// The endpoint to give forge.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Adds a fault.
    pub fn inject(&self, f: Fault) {
        self.state.lock().unwrap().faults.push(f);
    }

    /// Every request so far: its head, then its (form-encoded) body.
    pub fn bodies(&self) -> Vec<String> {
        self.state.lock().unwrap().bodies.clone()
    }

    /// (action, faulted) of every request so far.
    pub fn seen(&self) -> Vec<(String, bool)> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn read_message(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

fn serve(conn: TcpStream, upstream: u16, st: &Mutex<ProxyState>) -> std::io::Result<()> {
    let mut client = BufReader::new(conn);
    while let Some((head, body)) = read_message(&mut client)? {
        let text = String::from_utf8_lossy(&body).to_string();
        let action = text
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .unwrap_or("")
            .to_string();
        let fault = {
            let mut s = st.lock().unwrap();
            let hit = s
                .faults
                .iter_mut()
                .find(|f| text.contains(&f.needle) && f.times != Some(0));
            let fault = hit.map(|f| {
                if let Some(n) = f.times.as_mut() {
                    *n -= 1;
                }
                f.clone()
            });
            s.seen.push((action.clone(), fault.is_some()));
            s.bodies.push(format!("{head}{text}"));
            fault
        };
        let out = client.get_mut();
        if let Some(f) = fault {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>injected by the test proxy</Message></Error></Errors><RequestID>forge-test</RequestID></Response>",
                f.code
            );
            write!(
                out,
                "HTTP/1.1 {} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{xml}",
                f.status,
                xml.len()
            )?;
            continue;
        }
        let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
        up.write_all(head.as_bytes())?;
        up.write_all(&body)?;
        let mut upr = BufReader::new(up);
        let Some((rhead, rbody)) = read_message(&mut upr)? else {
            return Ok(());
        };
        out.write_all(rhead.as_bytes())?;
        out.write_all(&rbody)?;
    }
    Ok(())
}

impl Moto {
    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}
