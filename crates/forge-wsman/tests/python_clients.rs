//! forge-wsman against independent, real WinRM clients: pywinrm and pypsrp's WinRS layer (from
//! PyPI), so the fake is not shaped only by forge's own client. Basic over HTTP, NTLM with
//! MS-WSMV message encryption (and `AllowUnencrypted` off), HTTPS (certificate ignored, and
//! trusted as a CA bundle), wrong passwords, shell environment/working directory/stdin,
//! operation timeouts, Ctrl-C, quota faults; after every client, no shell is left open.
//!
//! The clients run in the python named by `FORGE_WINRM_PY` (scripts/test.sh makes it); the
//! helper script `tests/python/clients.py` reports what they got as JSON and the assertions are
//! made here. pypsrp's PSRP layer (RunspacePool) is not modelled by forge-wsman and not tested.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use forge_wsman::{Config, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const USER: &str = "Administrator";
const PASSWORD: &str = "Py-Cl1ents&<'\"x";
const HOSTNAME: &str = "PYCLIENTS";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/clients.py");
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// WS-Man fault codes (MS-WSMV / winerror.h): operation timeout, MaxShellsPerUser,
/// MaxOperationsPerShell (both quota violations), MaxEnvelopeSize exceeded.
const TIMED_OUT: u64 = 2150858793;
const MAX_SHELLS: u64 = 2150859174;
const MAX_OPERATIONS: u64 = 2150859173;
const MAX_ENVELOPE: u64 = 2150859025;
/// STATUS_CONTROL_C_EXIT as a signed exit code.
const CTRL_C_EXIT: i64 = 0xC000_013A_u32 as i32 as i64;

/// The python with pywinrm and pypsrp (`FORGE_WINRM_PY`); fails the test when it is unset or
/// lacks them.
fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let fix =
            "run `scripts/test.sh --setup-only` (it makes /var/tmp/forge-test-winrm-py), then \
                   FORGE_WINRM_PY=/var/tmp/forge-test-winrm-py/bin/python3; or make one yourself: \
                   `python3 -m venv DIR && DIR/bin/pip install pywinrm==0.5.0 pypsrp==0.9.1`";
        let Some(py) = std::env::var_os("FORGE_WINRM_PY") else {
            panic!("FORGE_WINRM_PY is not set: it names a python3 with pywinrm and pypsrp; {fix}");
        };
        let py = PathBuf::from(py);
        let out = std::process::Command::new(&py)
            .args(["-c", "import winrm, pypsrp.wsman, pypsrp.shell"])
            .output();
        match out {
            Ok(o) if o.status.success() => py,
            Ok(o) => panic!(
                "FORGE_WINRM_PY={} cannot import pywinrm and pypsrp ({}); {fix}",
                py.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("FORGE_WINRM_PY={} does not run: {e}; {fix}", py.display()),
        }
    })
}

/// Runs `clients.py` for `client` with `conn` and `ops`; its answer (one result per op).
async fn drive(client: &str, conn: Value, ops: Value) -> Vec<Value> {
    use tokio::io::AsyncWriteExt as _;
    let request = json!({"client": client, "conn": conn, "ops": ops}).to_string();
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(SCRIPT)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for v in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ] {
        cmd.env_remove(v).env_remove(v.to_ascii_lowercase());
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("clients.py took over 3 minutes")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "clients.py {client} failed ({}): {stderr}",
        out.status
    );
    let answer: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("clients.py's answer is not JSON ({e}); stderr: {stderr}"));
    assert_eq!(
        answer.len(),
        ops.as_array().map_or(0, Vec::len),
        "{answer:?}"
    );
    answer
}

/// A result's (exit code, stdout, stderr); fails when the client raised.
fn ran(r: &Value) -> (i64, String, String) {
    assert!(r.get("error").is_none(), "the client raised: {r}");
    (
        r["rc"]
            .as_i64()
            .unwrap_or_else(|| panic!("no exit code: {r}")),
        r["stdout"].as_str().unwrap().to_string(),
        r["stderr"].as_str().unwrap().to_string(),
    )
}

/// A result's error class and message; fails when the client did not raise.
fn raised(r: &Value) -> (String, String) {
    let class = r["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {r}"));
    (
        class.to_string(),
        r["message"].as_str().unwrap().to_string(),
    )
}

/// A server with the test's account and host name, its C: drive in `dir/c`.
async fn server(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut c = Config {
        users: vec![(USER.into(), PASSWORD.into())],
        sandbox_root: dir.join("c"),
        hostname: HOSTNAME.into(),
        log_file: Some(dir.join("wsman.log")),
        ..Config::default()
    };
    tweak(&mut c);
    Server::start(c).await.unwrap()
}

/// After a client: no shell open, nothing unemulated.
fn after_client(s: &Server) {
    assert_eq!(s.open_shells(), Vec::<String>::new(), "shells left open");
    assert_eq!(s.not_emulated(), Vec::<String>::new());
}

/// The server log's fault codes.
fn logged_faults(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("wsman.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "fault")
        .filter_map(|v| v["code"].as_u64())
        .collect()
}

/// `powershell -EncodedCommand` arguments for `script`.
fn encoded(script: &str) -> Vec<String> {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    ["-NoProfile", "-NonInteractive", "-EncodedCommand"]
        .iter()
        .map(|s| s.to_string())
        .chain([B64.encode(utf16)])
        .collect()
}

/// forge's upload script for `dst` (stdin: base64 lines).
fn upload_script(dst: &str) -> String {
    format!("# forge:upload\n$dst = '{dst}'\n")
}

fn pywinrm_conn(s: &Server, transport: &str) -> Value {
    json!({"url": s.url(), "user": USER, "password": PASSWORD, "transport": transport})
}

fn pypsrp_conn(s: &Server, auth: &str, encryption: &str) -> Value {
    json!({"server": "127.0.0.1", "port": s.port(), "username": USER, "password": PASSWORD,
           "ssl": false, "auth": auth, "encryption": encryption, "no_proxy": true})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_basic_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    std::fs::create_dir_all(s.host_path("C:\\work")).unwrap();
    let env_script = "$env:FORGE_GREETING = \"hi from env\"\n\
                      Write-Output \"greeting=$env:FORGE_GREETING user=$env:USERNAME\"\n\
                      Write-Output $env:COMPUTERNAME";
    let payload = b"uploaded through pywinrm's send_command_input\x00\xff";
    let (half1, half2) = payload.split_at(20);
    let ops = json!([
        {"op": "run_cmd", "command": "echo", "args": ["hello", "from", "pywinrm"]},
        {"op": "run_cmd", "command": "cmd.exe", "args": ["/c", "exit 3"]},
        {"op": "run_ps", "script": "Write-Output 'to stdout'\nWrite-Error 'to stderr'\nexit 7"},
        {"op": "run_ps", "script": env_script},
        {"op": "run_ps", "script": "Set-Content -Path 'C:\\note.txt' -Value 'written by pywinrm'"},
        {"op": "run_ps", "script":
            "[System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes(\"C:\\note.txt\"))"},
        {"op": "shell", "command": "powershell", "args": encoded(&upload_script("C:\\up\\data.bin")),
         "stdin": [format!("{}\r\n", B64.encode(half1)), format!("{}\r\n", B64.encode(half2))]},
        {"op": "shell", "command": "cmd", "args": ["/c", "echo %FORGE_SHELL_VAR%"],
         "env": {"FORGE_SHELL_VAR": "from open_shell"}},
        {"op": "shell", "command": "powershell",
         "args": encoded("Set-Content -Path 'relative.txt' -Value $env:FORGE_SHELL_VAR"),
         "env": {"FORGE_SHELL_VAR": "in the working directory"}, "cwd": "C:\\work"},
        {"op": "run_ps", "script": "Start-Sleep -Seconds 3\nWrite-Output 'slept'",
         "kwargs": {"operation_timeout_sec": 1, "read_timeout_sec": 2}},
    ]);
    let r = drive("pywinrm", pywinrm_conn(&s, "basic"), ops).await;
    after_client(&s);

    assert_eq!(
        ran(&r[0]),
        (0, "hello from pywinrm\r\n".into(), String::new())
    );
    assert_eq!(ran(&r[1]).0, 3);
    let (rc, out, err) = ran(&r[2]);
    assert_eq!((rc, out.as_str()), (7, "to stdout\r\n"));
    assert!(err.contains("to stderr"), "{err:?}");
    assert_eq!(
        ran(&r[3]),
        (
            0,
            format!("greeting=hi from env user={USER}\r\n{HOSTNAME}\r\n"),
            String::new()
        )
    );
    assert_eq!(ran(&r[4]).0, 0);
    let note = std::fs::read(s.host_path("C:\\note.txt")).unwrap();
    assert_eq!(note, b"written by pywinrm\r\n");
    let (rc, out, _) = ran(&r[5]);
    assert_eq!(rc, 0);
    assert_eq!(B64.decode(out.trim()).unwrap(), note, "read back");
    assert_eq!(ran(&r[6]).0, 0, "{}", r[6]);
    assert_eq!(
        std::fs::read(s.host_path("C:\\up\\data.bin")).unwrap(),
        payload
    );
    assert_eq!(ran(&r[7]), (0, "from open_shell\r\n".into(), String::new()));
    assert_eq!(ran(&r[8]).0, 0);
    assert_eq!(
        std::fs::read_to_string(s.host_path("C:\\work\\relative.txt")).unwrap(),
        "in the working directory\r\n"
    );
    // The 3 s sleep outlived pywinrm's 1 s OperationTimeout: it got the timeout fault and
    // polled again.
    assert_eq!(ran(&r[9]), (0, "slept\r\n".into(), String::new()));
    assert!(logged_faults(dir.path()).contains(&TIMED_OUT));

    let cmds = s.commands();
    assert_eq!(cmds.len(), 10);
    assert_eq!(cmds[0].command_line, "echo hello from pywinrm");
    assert_eq!(cmds[3].script.as_deref(), Some(env_script));
    assert!(cmds.iter().all(|c| c.user == USER && c.exit_code.is_some()));
    let conns = s.connections();
    assert!(!conns.is_empty());
    assert!(conns
        .iter()
        .all(|c| c.scheme == "Basic" && !c.encrypted && !c.tls && c.user == USER));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_ntlm_with_message_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.allow_unencrypted = false).await;
    let mut conn = pywinrm_conn(&s, "ntlm");
    conn["message_encryption"] = json!("always");
    let ops = json!([
        {"op": "run_cmd", "command": "cmd.exe", "args": ["/c", "echo sealed& exit 4"]},
        {"op": "run_ps", "script": "Write-Output \"user=$env:USERNAME\"\nexit 0"},
        // AllowUnencrypted is off: a plaintext body over HTTP is refused with 401.
        {"op": "run_cmd", "command": "echo", "args": ["x"], "kwargs": {"transport": "basic", "message_encryption": "auto"}},
        {"op": "run_cmd", "command": "echo", "args": ["x"], "kwargs": {"message_encryption": "never"}},
    ]);
    let r = drive("pywinrm", conn, ops).await;
    after_client(&s);
    assert_eq!(ran(&r[0]), (4, "sealed\r\n".into(), String::new()));
    assert_eq!(ran(&r[1]), (0, format!("user={USER}\r\n"), String::new()));
    for refused in &r[2..4] {
        let (class, msg) = raised(refused);
        assert_eq!(class, "InvalidCredentialsError", "{msg}");
        assert_eq!(refused["code"], 401);
    }
    assert_eq!(s.commands().len(), 2);
    let conns = s.connections();
    assert!(
        conns
            .iter()
            .any(|c| c.scheme == "NTLM" && c.encrypted && c.user == USER && !c.tls),
        "{conns:?}"
    );
    assert!(conns.iter().all(|c| c.scheme == "NTLM"), "{conns:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_both_clients() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.tls = true).await;
    let ca = dir.path().join("server.pem");
    std::fs::write(&ca, s.cert_pem().unwrap()).unwrap();
    let ca = ca.to_str().unwrap();
    let mut conn = pywinrm_conn(&s, "ssl");
    conn["server_cert_validation"] = json!("ignore");
    let echo = json!({"op": "run_cmd", "command": "echo", "args": ["over", "tls"]});
    let mut trusted = echo.clone();
    trusted["kwargs"] = json!({"server_cert_validation": "validate", "ca_trust_path": ca});
    let mut untrusted = echo.clone();
    untrusted["kwargs"] = json!({"server_cert_validation": "validate", "ca_trust_path": null});
    let mut ntlm = echo.clone();
    ntlm["kwargs"] = json!({"transport": "ntlm"});
    let r = drive("pywinrm", conn, json!([echo, trusted, untrusted, ntlm])).await;
    after_client(&s);
    for i in [0, 1, 3] {
        assert_eq!(
            ran(&r[i]),
            (0, "over tls\r\n".into(), String::new()),
            "op {i}"
        );
    }
    // Without the certificate as a CA, the self-signed certificate is rejected.
    let (_, msg) = raised(&r[2]);
    assert!(msg.contains("CERTIFICATE_VERIFY_FAILED"), "{msg}");

    let mut conn = pypsrp_conn(&s, "basic", "never");
    conn["ssl"] = json!(true);
    conn["cert_validation"] = json!(ca);
    let ops = json!([{"op": "process", "exe": "cmd.exe", "args": ["/c", "echo pypsrp over tls"]}]);
    let r = drive("pypsrp", conn, ops).await;
    after_client(&s);
    assert_eq!(ran(&r[0]), (0, "pypsrp over tls\r\n".into(), String::new()));
    let conns = s.connections();
    assert!(conns.iter().all(|c| c.tls && !c.encrypted), "{conns:?}");
    assert!(conns.iter().any(|c| c.scheme == "Basic"));
    assert!(conns.iter().any(|c| c.scheme == "NTLM"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_http_401() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let mut conn = pywinrm_conn(&s, "basic");
    conn["password"] = json!("not the password");
    let echo = json!({"op": "run_cmd", "command": "echo", "args": ["x"]});
    let mut ntlm = echo.clone();
    ntlm["kwargs"] = json!({"transport": "ntlm"});
    let mut ntlm_sealed = echo.clone();
    ntlm_sealed["kwargs"] = json!({"transport": "ntlm", "message_encryption": "always"});
    let r = drive("pywinrm", conn, json!([echo, ntlm, ntlm_sealed])).await;
    for (i, res) in r.iter().enumerate() {
        let (class, msg) = raised(res);
        assert_eq!(class, "InvalidCredentialsError", "op {i}: {msg}");
        // pywinrm raises this with that message only for an HTTP 401.
        assert!(msg.contains("rejected by the server"), "op {i}: {msg}");
    }
    let mut conn = pypsrp_conn(&s, "ntlm", "always");
    conn["password"] = json!("not the password");
    let r = drive(
        "pypsrp",
        conn,
        json!([{"op": "process", "exe": "cmd.exe", "args": ["/c", "echo x"]}]),
    )
    .await;
    assert_eq!(raised(&r[0]).0, "AuthenticationError");
    after_client(&s);
    assert!(s.commands().is_empty());
    assert!(s.connections().is_empty(), "{:?}", s.connections());
    s.stop().await;
}

/// pypsrp's WinRS layer (`WSMan` + `WinRS` + `Process`) with `conn`: echo, exit codes, stderr,
/// shell environment and working directory, stdin.
async fn pypsrp_winrs(s: &Server, conn: Value) {
    std::fs::create_dir_all(s.host_path("C:\\psrp")).unwrap();
    let payload = b"stdin through pypsrp's Process.send\r\n\x01\x02";
    let ops = json!([
        {"op": "process", "exe": "cmd.exe", "args": ["/c", "echo hello from pypsrp"]},
        {"op": "process", "exe": "cmd.exe", "args": ["/c", "exit 42"]},
        {"op": "process", "exe": "powershell",
         "args": encoded("Write-Output 'out'\nWrite-Error 'err'\nexit 5")},
        {"op": "process", "exe": "powershell",
         "args": encoded("Write-Output \"$env:FORGE_PSRP_VAR\"\nSet-Content -Path 'cwd.txt' -Value 'here'"),
         "env": {"FORGE_PSRP_VAR": "from WinRS environment"}, "cwd": "C:\\psrp"},
        {"op": "process", "exe": "powershell", "args": encoded(&upload_script("C:\\psrp\\in.bin")),
         "stdin": format!("{}\r\n", B64.encode(payload))},
    ]);
    let r = drive("pypsrp", conn, ops).await;
    after_client(s);
    assert_eq!(
        ran(&r[0]),
        (0, "hello from pypsrp\r\n".into(), String::new())
    );
    assert_eq!(ran(&r[1]).0, 42);
    let (rc, out, err) = ran(&r[2]);
    assert_eq!((rc, out.as_str()), (5, "out\r\n"));
    assert!(err.contains("err"), "{err:?}");
    assert_eq!(
        ran(&r[3]),
        (0, "from WinRS environment\r\n".into(), String::new())
    );
    assert_eq!(
        std::fs::read_to_string(s.host_path("C:\\psrp\\cwd.txt")).unwrap(),
        "here\r\n"
    );
    assert_eq!(ran(&r[4]).0, 0, "{}", r[4]);
    assert_eq!(
        std::fs::read(s.host_path("C:\\psrp\\in.bin")).unwrap(),
        payload
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_winrs_basic() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    pypsrp_winrs(&s, pypsrp_conn(&s, "basic", "never")).await;

    // Ctrl-C stops a running command (STATUS_CONTROL_C_EXIT) well before its 30 s sleep ends.
    let started = Instant::now();
    let ops = json!([{"op": "ctrl_c", "exe": "powershell",
                      "args": encoded("Start-Sleep -Seconds 30")}]);
    let r = drive("pypsrp", pypsrp_conn(&s, "basic", "never"), ops).await;
    after_client(&s);
    assert_eq!(ran(&r[0]).0, CTRL_C_EXIT);
    assert!(started.elapsed() < Duration::from_secs(20));
    let conns = s.connections();
    assert!(conns.iter().all(|c| c.scheme == "Basic" && !c.encrypted));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_winrs_ntlm_with_message_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.allow_unencrypted = false).await;
    pypsrp_winrs(&s, pypsrp_conn(&s, "ntlm", "always")).await;
    // pypsrp's default auth, Negotiate (SPNEGO), falls back to NTLM without Kerberos.
    let ops = json!([{"op": "process", "exe": "cmd.exe", "args": ["/c", "echo negotiated"]}]);
    let r = drive("pypsrp", pypsrp_conn(&s, "negotiate", "auto"), ops).await;
    after_client(&s);
    assert_eq!(ran(&r[0]), (0, "negotiated\r\n".into(), String::new()));
    let conns = s.connections();
    assert!(
        conns
            .iter()
            .any(|c| c.scheme == "NTLM" && c.encrypted && c.user == USER),
        "{conns:?}"
    );
    assert!(conns.iter().all(|c| c.scheme == "NTLM"), "{conns:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_faults_reach_pypsrp() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| {
        c.max_shells_per_user = 2;
        c.max_operations_per_shell = 2;
        c.max_envelope_size = 8192;
    })
    .await;
    let big = "A".repeat(12_000);
    let ops = json!([
        {"op": "shells", "n": 3},
        {"op": "processes", "n": 3, "exe": "cmd.exe", "args": ["/c", "echo op"]},
        {"op": "process", "exe": "powershell", "args": encoded(&upload_script("C:\\big.bin")),
         "stdin": big},
    ]);
    let r = drive("pypsrp", pypsrp_conn(&s, "basic", "never"), ops).await;
    after_client(&s);
    let shells = r[0].as_array().unwrap();
    assert!(shells[0].get("opened").is_some() && shells[1].get("opened").is_some());
    assert_eq!(raised(&shells[2]).0, "WSManFaultError");
    assert_eq!(shells[2]["code"], MAX_SHELLS, "{}", shells[2]);
    let procs = r[1].as_array().unwrap();
    assert_eq!(ran(&procs[0]), (0, "op\r\n".into(), String::new()));
    assert_eq!(ran(&procs[1]).0, 0);
    assert_eq!(raised(&procs[2]).0, "WSManFaultError");
    assert_eq!(procs[2]["code"], MAX_OPERATIONS, "{}", procs[2]);
    assert_eq!(raised(&r[2]).0, "WSManFaultError");
    assert_eq!(r[2]["code"], MAX_ENVELOPE, "{}", r[2]);
    assert!(!s.host_path("C:\\big.bin").exists());
    s.stop().await;
}
