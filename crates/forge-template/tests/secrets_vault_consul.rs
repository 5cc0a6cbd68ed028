//! `vault` and `consul_key` against FAKE Vault and Consul servers.
//!
//! Neither server can run here: Vault and Consul are in neither Debian's archive nor PyPI (only
//! clients such as hvac are), and nothing else can be downloaded. So these tests serve the two
//! HTTP APIs from a tiny std::net server built from the public API documentation:
//! - Vault KV v2 "Read secret version" (`GET /v1/<mount>/data/<path>[?version=N]`): the fields
//!   under `data.data`, with `data.metadata`; a deleted version answers 404 with `data.data`
//!   null. KV v1 "Read secret" (`GET /v1/<mount>/<path>`): the fields under `data`. Errors are
//!   `{"errors": [...]}`: 403 `permission denied` for a bad `X-Vault-Token`, 404 with an empty
//!   list for a missing path.
//! - Consul KV "Read key" (`GET /v1/kv/<key>`): a JSON array of entries whose `Value` is base64
//!   (or null), 404 with an empty body for a missing key, 403 `ACL not found` for a bad
//!   `X-Consul-Token`.
//!
//! The fakes answer only what the docs describe; forge's clients run unchanged against them.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use indexmap::IndexMap;

use forge_template::legacy::{render, InterpContext, SecretSource};
use forge_template::secrets::Secrets;
use forge_template::value::Value;

/// One test at a time: the HCL2 test sets the process environment.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A request as the fake saw it.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    /// Path and query.
    target: String,
    /// Names lower-cased.
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = fn(&Req) -> (u16, String);

/// A loopback HTTP/1.1 server answering one request per connection; stopped on drop.
struct Fake {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Req>>>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    fn start(handler: Handler) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = conn {
                    serve(stream, handler, &seen2);
                }
            }
        });
        Fake {
            port,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn last(&self) -> Req {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request reached the fake")
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: Handler, seen: &Mutex<Vec<Req>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let req = Req {
        method,
        target,
        headers,
    };
    let (status, body) = handler(&req);
    seen.lock().unwrap().push(req);
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Other",
    };
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = out.flush();
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

// ---------------------------------------------------------------------------------------------
// Fake Vault (KV v1 mounted at kv/, KV v2 at secret/), token "root-token".
// ---------------------------------------------------------------------------------------------

fn vault_fake(req: &Req) -> (u16, String) {
    if req.method != "GET" {
        return (405, r#"{"errors":["unsupported operation"]}"#.into());
    }
    if req.header("x-vault-token") != Some("root-token") {
        return (403, r#"{"errors":["permission denied"]}"#.into());
    }
    let envelope = |data: serde_json::Value| {
        serde_json::json!({
            "request_id": "5e246671-ec05-6fc8-9f93-4fe4512f34ab",
            "lease_id": "", "renewable": false, "lease_duration": 0,
            "data": data, "wrap_info": null, "warnings": null, "auth": null
        })
        .to_string()
    };
    let metadata = |version: u64, deleted: &str| {
        serde_json::json!({
            "created_time": "2018-03-22T02:24:06.945319214Z", "custom_metadata": null,
            "deletion_time": deleted, "destroyed": false, "version": version
        })
    };
    match req.target.as_str() {
        "/v1/secret/data/app" | "/v1/secret/data/app?version=2" => (
            200,
            envelope(serde_json::json!({
                "data": {"user": "admin", "password": "v2pass"},
                "metadata": metadata(2, "")
            })),
        ),
        "/v1/secret/data/app?version=1" => (
            200,
            envelope(serde_json::json!({
                "data": {"password": "old"}, "metadata": metadata(1, "")
            })),
        ),
        "/v1/secret/data/numbers" => (
            200,
            envelope(serde_json::json!({
                "data": {"port": 5432}, "metadata": metadata(1, "")
            })),
        ),
        "/v1/secret/data/gone" => (
            404,
            envelope(serde_json::json!({
                "data": null, "metadata": metadata(3, "2018-03-22T02:30:00.000000000Z")
            })),
        ),
        "/v1/kv/app" => (
            200,
            serde_json::json!({
                "request_id": "9f2a5ba7-0c1c-1ccc-9c31-bb4d8a72a77e", "lease_id": "",
                "renewable": false, "lease_duration": 2764800,
                "data": {"password": "v1pass"}, "wrap_info": null, "warnings": null, "auth": null
            })
            .to_string(),
        ),
        _ => (404, r#"{"errors":[]}"#.into()),
    }
}

fn vault_with(addr: &str, token: Option<&str>) -> Secrets {
    let mut vars = vec![("VAULT_ADDR", addr.to_string())];
    if let Some(t) = token {
        vars.push(("VAULT_TOKEN", t.to_string()));
    }
    Secrets::from_vars(vars)
}

#[test]
fn vault_kv_v2_and_v1() {
    let _g = serial();
    let fake = Fake::start(vault_fake);
    let v = vault_with(&fake.url(), Some("root-token"));
    assert_eq!(v.vault("secret/data/app", "password").unwrap(), "v2pass");
    let r = fake.last();
    assert_eq!(r.target, "/v1/secret/data/app");
    assert_eq!(r.header("x-vault-token"), Some("root-token"));
    assert_eq!(v.vault("secret/data/app", "user").unwrap(), "admin");
    assert_eq!(
        v.vault("/secret/data/app?version=1", "password").unwrap(),
        "old"
    );
    assert_eq!(v.vault("kv/app", "password").unwrap(), "v1pass");

    // The namespace goes in its header.
    let ns = Secrets::from_vars([
        ("VAULT_ADDR", fake.url()),
        ("VAULT_TOKEN", "root-token".into()),
        ("VAULT_NAMESPACE", "team-a".into()),
    ]);
    assert_eq!(ns.vault("kv/app", "password").unwrap(), "v1pass");
    assert_eq!(fake.last().header("x-vault-namespace"), Some("team-a"));

    // The token helper's file when VAULT_TOKEN is unset.
    let home = std::env::temp_dir().join(format!("forge-vault-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".vault-token"), "root-token\n").unwrap();
    let from_file = Secrets::from_vars([
        ("VAULT_ADDR", fake.url()),
        ("HOME", home.to_str().unwrap().to_string()),
    ]);
    assert_eq!(from_file.vault("kv/app", "password").unwrap(), "v1pass");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn vault_errors() {
    let _g = serial();
    let fake = Fake::start(vault_fake);
    let v = vault_with(&fake.url(), Some("root-token"));

    // Missing key: KV v2 and KV v1 answers differ, as in Packer.
    assert_eq!(
        v.vault("secret/data/app", "nope").unwrap_err(),
        "Vault path does not contain the requested key"
    );
    let e = v.vault("kv/app", "nope").unwrap_err();
    assert!(
        e.starts_with("Vault data was empty at the given path."),
        "{e}"
    );

    // Missing path.
    let e = v.vault("secret/data/missing", "password").unwrap_err();
    assert!(
        e.starts_with("Vault Secret does not exist at the given path"),
        "{e}"
    );
    assert!(
        e.contains(&format!("{}/v1/secret/data/missing", fake.url())),
        "{e}"
    );

    // A deleted KV v2 version.
    let e = v.vault("secret/data/gone", "password").unwrap_err();
    assert!(
        e.starts_with("Vault path does not contain the requested key"),
        "{e}"
    );
    assert!(e.contains("deleted"), "{e}");

    // A value that is not a string.
    let e = v.vault("secret/data/numbers", "port").unwrap_err();
    assert!(e.contains("not a string"), "{e}");

    // A token Vault refuses.
    let bad = vault_with(&fake.url(), Some("wrong"));
    let e = bad.vault("secret/data/app", "password").unwrap_err();
    eprintln!("vault forbidden: {e}");
    assert!(
        e.starts_with("Error reading vault secret: Error making API request."),
        "{e}"
    );
    assert!(
        e.contains(&format!("URL: GET {}/v1/secret/data/app", fake.url())),
        "{e}"
    );
    assert!(e.contains("Code: 403."), "{e}");
    assert!(e.contains("* permission denied"), "{e}");

    // No token at all: nothing is sent.
    let e = vault_with(&fake.url(), None)
        .vault("secret/data/app", "password")
        .unwrap_err();
    assert!(
        e.starts_with("Must set VAULT_TOKEN env var in order to use vault template function"),
        "{e}"
    );

    // Nothing listening.
    let port = closed_port();
    let gone = vault_with(&format!("http://127.0.0.1:{port}"), Some("root-token"));
    let e = gone.vault("secret/data/app", "password").unwrap_err();
    eprintln!("vault unreachable: {e}");
    assert!(
        e.starts_with(&format!(
            "Error reading vault secret: Get \"http://127.0.0.1:{port}/v1/secret/data/app\": "
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Fake Consul, ACL token "consul-token".
// ---------------------------------------------------------------------------------------------

fn consul_fake(req: &Req) -> (u16, String) {
    if req.header("x-consul-token") != Some("consul-token") {
        return (403, "ACL not found".into());
    }
    let (path, _query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let entry = |key: &str, value: Option<&str>| {
        let v = value.map(|s| base64::engine::general_purpose::STANDARD.encode(s));
        serde_json::json!([{
            "LockIndex": 0, "Key": key, "Flags": 0, "Value": v,
            "CreateIndex": 100, "ModifyIndex": 200
        }])
        .to_string()
    };
    match path {
        "/v1/kv/app/config" => (200, entry("app/config", Some("max_conns=10"))),
        "/v1/kv/app/empty" => (200, entry("app/empty", None)),
        "/v1/kv/app/with%20space" => (200, entry("app/with space", Some("spaced"))),
        _ => (404, String::new()),
    }
}

fn consul_with(addr: &str, token: Option<&str>) -> Secrets {
    let mut vars = vec![("CONSUL_HTTP_ADDR", addr.to_string())];
    if let Some(t) = token {
        vars.push(("CONSUL_HTTP_TOKEN", t.to_string()));
    }
    Secrets::from_vars(vars)
}

#[test]
fn consul_kv() {
    let _g = serial();
    let fake = Fake::start(consul_fake);
    // CONSUL_HTTP_ADDR is host:port without a scheme, as Consul's default is.
    let c = consul_with(&format!("127.0.0.1:{}", fake.port), Some("consul-token"));
    assert_eq!(c.consul_key("app/config").unwrap(), "max_conns=10");
    let r = fake.last();
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/v1/kv/app/config");
    assert_eq!(r.header("x-consul-token"), Some("consul-token"));
    assert_eq!(c.consul_key("/app/config").unwrap(), "max_conns=10");
    assert_eq!(c.consul_key("app/with space").unwrap(), "spaced");

    // With a scheme, a namespace and a partition.
    let ns = Secrets::from_vars([
        ("CONSUL_HTTP_ADDR", fake.url()),
        ("CONSUL_HTTP_TOKEN", "consul-token".into()),
        ("CONSUL_NAMESPACE", "team-a".into()),
        ("CONSUL_PARTITION", "p1".into()),
    ]);
    assert_eq!(ns.consul_key("app/config").unwrap(), "max_conns=10");
    assert_eq!(
        fake.last().target,
        "/v1/kv/app/config?ns=team-a&partition=p1"
    );
}

#[test]
fn consul_errors() {
    let _g = serial();
    let fake = Fake::start(consul_fake);
    let c = consul_with(&fake.url(), Some("consul-token"));
    let e = c.consul_key("app/missing").unwrap_err();
    assert!(
        e.starts_with("key does not exist at the given path: app/missing"),
        "{e}"
    );
    assert_eq!(
        c.consul_key("app/empty").unwrap_err(),
        "value is empty at path app/empty"
    );

    let bad = consul_with(&fake.url(), Some("wrong"));
    let e = bad.consul_key("app/config").unwrap_err();
    eprintln!("consul forbidden: {e}");
    assert!(
        e.starts_with("error reading consul key: Unexpected response code: 403 (ACL not found)"),
        "{e}"
    );
    let e = consul_with(&fake.url(), None)
        .consul_key("app/config")
        .unwrap_err();
    assert!(e.contains("403"), "{e}");

    let port = closed_port();
    let gone = consul_with(&format!("127.0.0.1:{port}"), Some("consul-token"));
    let e = gone.consul_key("app/config").unwrap_err();
    eprintln!("consul unreachable: {e}");
    assert!(
        e.starts_with(&format!(
            "error reading consul key: Get \"http://127.0.0.1:{port}/v1/kv/app/config\": "
        )),
        "{e}"
    );
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Both template languages, configured from the process environment.
// ---------------------------------------------------------------------------------------------

#[test]
fn template_functions_read_the_environment() {
    let _g = serial();
    let vault = Fake::start(vault_fake);
    let consul = Fake::start(consul_fake);
    // Safe: every test in this binary holds SERIAL, so no other thread reads the environment.
    std::env::set_var("VAULT_ADDR", vault.url());
    std::env::set_var("VAULT_TOKEN", "root-token");
    std::env::set_var("CONSUL_HTTP_ADDR", consul.url());
    std::env::set_var("CONSUL_HTTP_TOKEN", "consul-token");
    for k in [
        "VAULT_NAMESPACE",
        "VAULT_SKIP_VERIFY",
        "VAULT_CACERT",
        "CONSUL_HTTP_SSL",
        "CONSUL_NAMESPACE",
        "CONSUL_PARTITION",
        "CONSUL_HTTP_AUTH",
    ] {
        std::env::remove_var(k);
    }
    let eval = |line: &str| {
        forge_template::console::eval_line(line, &[], std::env::temp_dir())
            .map_err(|(d, files)| d.render(&files))
    };
    assert_eq!(
        eval(r#"vault("secret/data/app", "password")"#).unwrap(),
        Value::string("v2pass")
    );
    assert_eq!(
        eval(r#"consul_key("app/config")"#).unwrap(),
        Value::string("max_conns=10")
    );
    let e = eval(r#"vault("secret/data/missing", "password")"#).unwrap_err();
    eprintln!("HCL2 vault missing path:\n{e}");
    assert!(
        e.contains(
            "Call to function \"vault\" failed: Vault Secret does not exist at the given path"
        ),
        "{e}"
    );
    let e = eval(r#"consul_key("app/missing")"#).unwrap_err();
    assert!(
        e.contains("Call to function \"consul_key\" failed: key does not exist at the given path: app/missing"),
        "{e}"
    );

    // The legacy engine with the backend made from the same environment.
    let backend = Secrets::from_env();
    let vars = IndexMap::new();
    let mut ctx = InterpContext::new(&vars);
    ctx.env_allowed = true;
    ctx.secrets = Some(&backend);
    assert_eq!(
        render(
            "{{ vault `secret/data/app` `user` }}:{{ consul_key `app/config` }}",
            &ctx
        )
        .unwrap(),
        "admin:max_conns=10"
    );
    let e = render("{{ vault `secret/data/app` `nope` }}", &ctx).unwrap_err();
    assert!(
        e.message
            .ends_with("error calling vault: Vault path does not contain the requested key"),
        "{}",
        e.message
    );

    // Unreachable through the function table too.
    drop(vault);
    let e = eval(r#"vault("secret/data/app", "password")"#).unwrap_err();
    assert!(
        e.contains("Error reading vault secret: Get \"http://127.0.0.1:"),
        "{e}"
    );
    for k in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "CONSUL_HTTP_ADDR",
        "CONSUL_HTTP_TOKEN",
    ] {
        std::env::remove_var(k);
    }
}
