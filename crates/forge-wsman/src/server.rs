//! The listener, HTTP authentication, message encryption and the WinRS shell resource.

use crate::emulate::{CommandIo, Ctx, Machine};
use crate::http::{read_request, write_response, Request, Response};
use crate::soap::{self, Body, Fault};
use crate::{CommandRecord, Config, ConnectionRecord};
use base64::Engine as _;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const BOUNDARY: &str = "Encrypted Boundary";
const ENCRYPTED_CT: &str =
    "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\"";
/// Exit code of a command stopped by Ctrl-C (STATUS_CONTROL_C_EXIT).
const CTRL_C_EXIT: i32 = 0xC000_013A_u32 as i32;

/// A running server. Dropping it does not stop it: call [`Server::stop`].
pub struct Server {
    inner: Arc<Inner>,
    port: u16,
    cert_pem: Option<String>,
    accept: JoinHandle<()>,
}

struct Cmd {
    io: Arc<CommandIo>,
    task: JoinHandle<()>,
}

struct Shell {
    user: String,
    env: Vec<(String, String)>,
    working_dir: Option<String>,
    operations: usize,
    commands: HashMap<String, Cmd>,
}

#[derive(Default)]
struct State {
    shells: HashMap<String, Shell>,
    commands: Vec<CommandRecord>,
    not_emulated: Vec<String>,
    connections: Vec<ConnectionRecord>,
}

pub(crate) struct Inner {
    config: Config,
    machine: Arc<Machine>,
    state: Mutex<State>,
    requests: AtomicU64,
    boot_id: AtomicU64,
    generation: AtomicU64,
    down: AtomicBool,
    log: Mutex<Option<std::fs::File>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn log(&self, value: serde_json::Value) {
        let mut g = lock(&self.log);
        if let Some(f) = g.as_mut() {
            let _ = writeln!(f, "{value}");
        }
    }

    /// Takes the machine down for the configured time; all shells are lost.
    async fn reboot(self: &Arc<Self>) {
        if self.down.swap(true, Ordering::SeqCst) {
            return;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        let shells: Vec<Shell> = lock(&self.state).shells.drain().map(|(_, s)| s).collect();
        for s in shells {
            for c in s.commands.values() {
                c.task.abort();
            }
        }
        self.machine.clear_shutdown();
        self.machine.restarted();
        self.log(json!({"event": "reboot", "boot_id": self.boot_id.load(Ordering::SeqCst)}));
        tokio::time::sleep(self.config.reboot_duration).await;
        let id = self.boot_id.fetch_add(1, Ordering::SeqCst) + 1;
        self.down.store(false, Ordering::SeqCst);
        self.log(json!({"event": "up", "boot_id": id}));
    }
}

impl Server {
    /// Starts the server on 127.0.0.1 (a free port). Creates the sandbox directory.
    pub async fn start(config: Config) -> std::io::Result<Server> {
        std::fs::create_dir_all(&config.sandbox_root)?;
        let log = match &config.log_file {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        let (reboot_tx, mut reboot_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let machine = Arc::new(Machine::new(&config, reboot_tx));
        let (acceptor, cert_pem) = if config.tls {
            let (a, pem) = crate::tls::acceptor(&config.hostname)?;
            (Some(a), Some(pem))
        } else {
            (None, None)
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let inner = Arc::new(Inner {
            config,
            machine,
            state: Mutex::new(State::default()),
            requests: AtomicU64::new(0),
            boot_id: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            down: AtomicBool::new(false),
            log: Mutex::new(log),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while reboot_rx.recv().await.is_some() {
                match weak.upgrade() {
                    Some(i) => i.reboot().await,
                    None => break,
                }
            }
        });
        let accept_inner = inner.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                if accept_inner.down.load(Ordering::SeqCst) {
                    drop(stream); // rebooting: the connection is dropped
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let inner = accept_inner.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(stream).await {
                                serve(inner, tls, peer.to_string(), true).await;
                            }
                        }
                        None => serve(inner, stream, peer.to_string(), false).await,
                    }
                });
            }
        });
        Ok(Server {
            inner,
            port,
            cert_pem,
            accept,
        })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http(s)://127.0.0.1:PORT/wsman`.
    pub fn url(&self) -> String {
        let scheme = if self.inner.config.tls {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}/wsman", self.port)
    }

    /// The self-signed certificate (PEM) when serving HTTPS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Every command run so far, in order.
    pub fn commands(&self) -> Vec<CommandRecord> {
        lock(&self.inner.state).commands.clone()
    }

    /// Every command (or script line) that was not emulated. A test asserts this is empty.
    pub fn not_emulated(&self) -> Vec<String> {
        lock(&self.inner.state).not_emulated.clone()
    }

    /// Ids of the open shells.
    pub fn open_shells(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.inner.state).shells.keys().cloned().collect();
        v.sort();
        v
    }

    /// Authenticated connections: scheme, user, encryption.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        lock(&self.inner.state).connections.clone()
    }

    /// HTTP requests received (all, including 401s).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Boot id: 1 at start, +1 after each simulated reboot.
    pub fn boot_id(&self) -> u64 {
        self.inner.boot_id.load(Ordering::SeqCst)
    }

    /// Whether the machine is down (rebooting).
    pub fn is_rebooting(&self) -> bool {
        self.inner.down.load(Ordering::SeqCst)
    }

    /// Simulates a reboot now and returns when the machine is back.
    pub async fn reboot(&self) {
        self.inner.reboot().await;
    }

    /// The Windows Update catalogue, installed updates marked.
    pub fn windows_updates(&self) -> Vec<crate::WindowsUpdate> {
        self.inner.machine.windows_updates()
    }

    /// The sandbox path for a Windows path (e.g. `C:\Windows\Temp\x`), for assertions.
    pub fn host_path(&self, windows_path: &str) -> std::path::PathBuf {
        self.inner.machine.host_path(windows_path, "C:\\")
    }

    /// Stops listening and aborts every running command.
    pub async fn stop(self) {
        self.accept.abort();
        let _ = (&mut { self.accept }).await;
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        let shells: Vec<Shell> = lock(&self.inner.state)
            .shells
            .drain()
            .map(|(_, s)| s)
            .collect();
        for s in shells {
            for c in s.commands.values() {
                c.task.abort();
            }
        }
    }
}

struct Conn {
    peer: String,
    tls: bool,
    pending: Option<ntlm_pending::Pending>,
    ntlm: Option<(String, crate::ntlm::Session)>,
    encrypted_recorded: bool,
}

mod ntlm_pending {
    pub(super) struct Pending {
        pub challenge: crate::ntlm::Challenge,
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    inner: Arc<Inner>,
    stream: S,
    peer: String,
    tls: bool,
) {
    let generation = inner.generation.load(Ordering::SeqCst);
    let mut stream = BufReader::new(stream);
    let mut conn = Conn {
        peer,
        tls,
        pending: None,
        ntlm: None,
        encrypted_recorded: false,
    };
    loop {
        let req = match read_request(&mut stream).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        if inner.generation.load(Ordering::SeqCst) != generation
            || inner.down.load(Ordering::SeqCst)
        {
            return; // rebooted or stopped: drop the connection
        }
        inner.requests.fetch_add(1, Ordering::SeqCst);
        let resp = handle(&inner, &mut conn, req).await;
        if inner.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if write_response(stream.get_mut(), &resp).await.is_err() || resp.close {
            return;
        }
    }
}

fn unauthorized(config: &Config) -> Response {
    let mut r = Response::new(401);
    if config.ntlm {
        r = r.header("WWW-Authenticate", "Negotiate");
    }
    if config.basic {
        r = r.header("WWW-Authenticate", "Basic realm=\"WSMAN\"");
    }
    r
}

fn record_connection(inner: &Inner, conn: &Conn, scheme: &str, user: &str, encrypted: bool) {
    let rec = ConnectionRecord {
        peer: conn.peer.clone(),
        scheme: scheme.into(),
        user: user.into(),
        encrypted,
        tls: conn.tls,
    };
    let mut st = lock(&inner.state);
    if !st.connections.contains(&rec) {
        inner.log(json!({"event": "connection", "connection": rec}));
        st.connections.push(rec);
    }
}

fn filetime_now() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() + 11_644_473_600) * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}

async fn handle(inner: &Arc<Inner>, conn: &mut Conn, req: Request) -> Response {
    let config = &inner.config;
    let path = req.path.split('?').next().unwrap_or_default();
    if !path.eq_ignore_ascii_case("/wsman") {
        return Response::new(404);
    }
    if req.method != "POST" {
        return Response::new(405);
    }
    // Authentication.
    let mut user: Option<String> = None;
    let mut basic = false;
    if let Some(auth) = req.header("authorization") {
        let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
        let token = token.trim();
        if scheme.eq_ignore_ascii_case("basic") && config.basic {
            let decoded = B64
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let ok = decoded
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .and_then(|(u, p)| {
                    config
                        .users
                        .iter()
                        .find(|(cu, cp)| bare(cu).eq_ignore_ascii_case(bare(u)) && cp == p)
                        .map(|(cu, _)| cu.clone())
                });
            match ok {
                Some(u) => {
                    user = Some(u);
                    basic = true;
                }
                None => return unauthorized(config),
            }
        } else if (scheme.eq_ignore_ascii_case("negotiate") || scheme.eq_ignore_ascii_case("ntlm"))
            && config.ntlm
        {
            let Ok(raw) = B64.decode(token) else {
                return unauthorized(config);
            };
            match crate::ntlm::message_type(&raw) {
                Some((1, _)) => {
                    let mut sc = [0u8; 8];
                    if getrandom::fill(&mut sc).is_err() {
                        return Response::new(500);
                    }
                    match crate::ntlm::challenge(&raw, &config.hostname, sc, filetime_now()) {
                        Ok(ch) => {
                            let msg = B64.encode(&ch.message);
                            conn.pending = Some(ntlm_pending::Pending { challenge: ch });
                            conn.ntlm = None;
                            return Response::new(401)
                                .header("WWW-Authenticate", format!("{scheme} {msg}"));
                        }
                        Err(_) => return unauthorized(config),
                    }
                }
                Some((3, _)) => {
                    let Some(p) = conn.pending.take() else {
                        return unauthorized(config);
                    };
                    match crate::ntlm::authenticate(&p.challenge, &raw, &config.users) {
                        Ok(a) => {
                            conn.ntlm = Some((a.user.clone(), a.session));
                            conn.encrypted_recorded = false;
                        }
                        Err(e) => {
                            inner.log(json!({"event": "auth_failed", "scheme": "NTLM", "peer": conn.peer, "why": e.to_string()}));
                            return unauthorized(config);
                        }
                    }
                }
                _ => return unauthorized(config),
            }
        } else {
            return unauthorized(config);
        }
    }
    if user.is_none() {
        match &conn.ntlm {
            Some((u, _)) => user = Some(u.clone()),
            None => return unauthorized(config),
        }
    }
    let user = user.unwrap_or_default();
    // The body: sealed or plain.
    let ct = req
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let encrypted = ct.starts_with("multipart/encrypted");
    let xml = if encrypted {
        let Some((_, session)) = conn.ntlm.as_mut().filter(|_| !basic) else {
            return Response::new(400);
        };
        match unwrap_encrypted(&req.body, session) {
            Ok(x) => x,
            Err(why) => {
                inner.log(json!({"event": "bad_encrypted_body", "peer": conn.peer, "why": why}));
                return Response::new(400);
            }
        }
    } else {
        if req.body.is_empty() {
            record_connection(
                inner,
                conn,
                if basic { "Basic" } else { "NTLM" },
                &user,
                false,
            );
            return Response::new(200);
        }
        if !conn.tls && !config.allow_unencrypted {
            // Windows refuses plaintext over HTTP when AllowUnencrypted is false.
            inner.log(json!({"event": "refused_unencrypted", "peer": conn.peer}));
            return unauthorized(config);
        }
        req.body.clone()
    };
    if !conn.encrypted_recorded || basic {
        record_connection(
            inner,
            conn,
            if basic { "Basic" } else { "NTLM" },
            &user,
            encrypted,
        );
        conn.encrypted_recorded = true;
    }
    let (status, body) = soap_response(inner, &user, &xml).await;
    if encrypted {
        let Some((_, session)) = conn.ntlm.as_mut() else {
            return Response::new(500);
        };
        let mut r = Response::new(status).header("Content-Type", ENCRYPTED_CT);
        r.body = wrap_encrypted(body.as_bytes(), session);
        r
    } else {
        let mut r =
            Response::new(status).header("Content-Type", "application/soap+xml;charset=UTF-8");
        r.body = body.into_bytes();
        r
    }
}

fn bare(name: &str) -> &str {
    let name = name.rsplit('\\').next().unwrap_or(name);
    name.split('@').next().unwrap_or(name)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Unwraps an MS-WSMV encrypted body: its OriginalContent length, then the octet-stream part of
/// a u32 signature length, the signature and the sealed message.
fn unwrap_encrypted(body: &[u8], session: &mut crate::ntlm::Session) -> Result<Vec<u8>, String> {
    let lower: Vec<u8> = body.iter().map(|b| b.to_ascii_lowercase()).collect();
    let len_at = find(&lower, b"length=").ok_or("no OriginalContent Length")? + 7;
    let digits: String = body[len_at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    let length: usize = digits.parse().map_err(|_| "bad Length")?;
    let oct = find(&lower, b"application/octet-stream").ok_or("no octet-stream part")?;
    let nl = find(&body[oct..], b"\n").ok_or("truncated")? + oct + 1;
    let data = &body[nl..];
    if data.len() < 4 {
        return Err("truncated".into());
    }
    let sig_len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if sig_len != 16 || data.len() < 4 + sig_len + length {
        return Err("bad signature length or truncated message".into());
    }
    let sig = &data[4..20];
    let sealed = &data[20..20 + length];
    session.unseal(sealed, sig).map_err(|e| e.to_string())
}

fn wrap_encrypted(msg: &[u8], session: &mut crate::ntlm::Session) -> Vec<u8> {
    let (sig, sealed) = session.seal(msg);
    let mut out = format!(
        "--{BOUNDARY}\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={}\r\n--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n",
        msg.len()
    )
    .into_bytes();
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&sig);
    out.extend_from_slice(&sealed);
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn fault(inner: &Inner, relates: &str, f: Fault) -> (u16, String) {
    inner.log(json!({"event": "fault", "subcode": f.subcode, "code": f.wsman_code}));
    (500, f.to_xml(relates, &inner.config.hostname))
}

async fn soap_response(inner: &Arc<Inner>, user: &str, xml: &[u8]) -> (u16, String) {
    let config = &inner.config;
    if config.fail_with_500 {
        return fault(
            inner,
            "uuid:00000000-0000-0000-0000-000000000000",
            Fault::internal(),
        );
    }
    let text = String::from_utf8_lossy(xml);
    if xml.len() > config.max_envelope_size {
        let relates = roxmltree::Document::parse(&text)
            .ok()
            .and_then(|d| {
                d.descendants()
                    .find(|n| n.tag_name().name() == "MessageID")
                    .and_then(|n| n.text().map(str::to_string))
            })
            .unwrap_or_default();
        return fault(
            inner,
            &relates,
            Fault::max_envelope_size(config.max_envelope_size),
        );
    }
    let req = match soap::parse_request(&text) {
        Ok(r) => r,
        Err(e) => return fault(inner, "", Fault::malformed(&e.0)),
    };
    let rel = req.message_id.clone();
    if !matches!(req.body, Body::Other)
        && !req.resource_uri.eq_ignore_ascii_case(soap::RESOURCE_CMD)
    {
        return fault(
            inner,
            &rel,
            Fault::unsupported(&format!("resource {}", req.resource_uri)),
        );
    }
    let shell_id = req.shell_id.clone().unwrap_or_default();
    match req.body {
        Body::Create { env, working_dir } => {
            let mut st = lock(&inner.state);
            let count = st
                .shells
                .values()
                .filter(|s| s.user.eq_ignore_ascii_case(user))
                .count();
            if count >= config.max_shells_per_user {
                drop(st);
                return fault(inner, &rel, Fault::max_shells(config.max_shells_per_user));
            }
            let id = uuid::Uuid::new_v4().to_string().to_uppercase();
            st.shells.insert(
                id.clone(),
                Shell {
                    user: user.to_string(),
                    env,
                    working_dir,
                    operations: 0,
                    commands: HashMap::new(),
                },
            );
            drop(st);
            inner.log(json!({"event": "shell_created", "shell_id": id, "user": user}));
            let body = format!(
                concat!(
                    "<x:ResourceCreated><a:Address>http://{host}:5985/wsman</a:Address><a:ReferenceParameters>",
                    "<w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">{id}</w:Selector>",
                    "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>",
                    "<rsp:Shell><rsp:ShellId>{id}</rsp:ShellId><rsp:Name>Runspace1</rsp:Name><rsp:ResourceUri>{uri}</rsp:ResourceUri>",
                    "<rsp:Owner>{user}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:ProcessId>4242</rsp:ProcessId>",
                    "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>",
                    "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut>",
                    "<rsp:Locale>en-US</rsp:Locale><rsp:DataLocale>en-US</rsp:DataLocale><rsp:CompressionMode>NoCompression</rsp:CompressionMode>",
                    "<rsp:ProfileLoaded>Yes</rsp:ProfileLoaded><rsp:Encoding>UTF8</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode>",
                    "<rsp:State>Connected</rsp:State><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
                ),
                host = soap::escape(&config.hostname.to_lowercase()),
                uri = soap::RESOURCE_CMD,
                id = id,
                user = soap::escape(user),
            );
            (
                200,
                soap::envelope(
                    "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
                    &rel,
                    &body,
                ),
            )
        }
        Body::Delete => {
            let removed = lock(&inner.state).shells.remove(&shell_id);
            match removed {
                Some(s) => {
                    for c in s.commands.values() {
                        c.task.abort();
                    }
                    inner.log(json!({"event": "shell_deleted", "shell_id": shell_id}));
                    (
                        200,
                        soap::envelope(
                            "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
                            &rel,
                            "",
                        ),
                    )
                }
                None => fault(inner, &rel, Fault::unknown_shell(&shell_id)),
            }
        }
        Body::Command {
            command_id,
            command,
            arguments,
        } => {
            let mut st = lock(&inner.state);
            let Some(shell) = st.shells.get_mut(&shell_id) else {
                drop(st);
                return fault(inner, &rel, Fault::unknown_shell(&shell_id));
            };
            if shell.operations >= config.max_operations_per_shell {
                drop(st);
                return fault(
                    inner,
                    &rel,
                    Fault::max_operations(config.max_operations_per_shell),
                );
            }
            shell.operations += 1;
            let id = command_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string().to_uppercase());
            let mut line = command.clone();
            for a in &arguments {
                line.push(' ');
                line.push_str(a);
            }
            let io = Arc::new(CommandIo::default());
            let ctx = Ctx::new(
                user.to_string(),
                &shell.env,
                shell.working_dir.clone(),
                io.clone(),
                &inner.machine,
            );
            let record = CommandRecord {
                shell_id: shell_id.clone(),
                command_id: id.clone(),
                user: user.to_string(),
                command_line: line.clone(),
                script: crate::emulate::encoded_script(&line),
                exit_code: None,
                not_emulated: false,
            };
            let index = st.commands.len();
            st.commands.push(record);
            let task_inner = inner.clone();
            let task_io = io.clone();
            let task = tokio::spawn(async move {
                let mut ctx = ctx;
                let code = task_inner.machine.clone().run_line(&mut ctx, &line).await;
                let missing = std::mem::take(&mut ctx.not_emulated);
                {
                    let mut st = lock(&task_inner.state);
                    if let Some(r) = st.commands.get_mut(index) {
                        r.exit_code = Some(code);
                        r.not_emulated = !missing.is_empty();
                    }
                    st.not_emulated.extend(missing);
                    if let Some(r) = st.commands.get(index) {
                        task_inner.log(json!({"event": "command", "command": r}));
                    }
                }
                task_io.finish(code);
            });
            let shell = st.shells.get_mut(&shell_id);
            if let Some(shell) = shell {
                shell.commands.insert(id.clone(), Cmd { io, task });
            }
            drop(st);
            let body = format!(
                "<rsp:CommandResponse><rsp:CommandId>{id}</rsp:CommandId></rsp:CommandResponse>"
            );
            (
                200,
                soap::envelope(
                    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse",
                    &rel,
                    &body,
                ),
            )
        }
        Body::Send(streams) => {
            let st = lock(&inner.state);
            let Some(shell) = st.shells.get(&shell_id) else {
                drop(st);
                return fault(inner, &rel, Fault::unknown_shell(&shell_id));
            };
            for s in &streams {
                let cid = s.command_id.clone().unwrap_or_default();
                let Some(cmd) = shell.commands.get(&cid) else {
                    drop(st);
                    return fault(inner, &rel, Fault::unknown_command(&cid));
                };
                cmd.io.push_stdin(&s.data, s.end);
            }
            drop(st);
            (
                200,
                soap::envelope(
                    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse",
                    &rel,
                    "<rsp:SendResponse/>",
                ),
            )
        }
        Body::Receive { command_id } => {
            let cid = command_id.unwrap_or_default();
            let io = {
                let st = lock(&inner.state);
                let Some(shell) = st.shells.get(&shell_id) else {
                    drop(st);
                    return fault(inner, &rel, Fault::unknown_shell(&shell_id));
                };
                match shell.commands.get(&cid) {
                    Some(c) => c.io.clone(),
                    None => {
                        drop(st);
                        return fault(inner, &rel, Fault::unknown_command(&cid));
                    }
                }
            };
            let timeout = req
                .operation_timeout
                .unwrap_or(Duration::from_secs(60))
                .min(config.max_operation_timeout);
            // Keep the response within the client's MaxEnvelopeSize (base64 grows by 4/3).
            let client_max = req.max_envelope_size.unwrap_or(153_600).max(8192);
            let max_bytes = (client_max - 4096) / 4 * 3;
            match io.receive(Instant::now() + timeout, max_bytes).await {
                None => fault(inner, &rel, Fault::timed_out()),
                Some(out) => {
                    let mut body = String::from("<rsp:ReceiveResponse>");
                    for (name, data) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                        if !data.is_empty() {
                            body.push_str(&format!(
                                "<rsp:Stream Name=\"{name}\" CommandId=\"{cid}\">{}</rsp:Stream>",
                                B64.encode(data)
                            ));
                        }
                    }
                    match out.exit {
                        Some(code) => {
                            body.push_str(&format!(
                                concat!(
                                    "<rsp:Stream Name=\"stdout\" CommandId=\"{cid}\" End=\"true\"></rsp:Stream>",
                                    "<rsp:Stream Name=\"stderr\" CommandId=\"{cid}\" End=\"true\"></rsp:Stream>",
                                    "<rsp:CommandState CommandId=\"{cid}\" State=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done\">",
                                    "<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>"
                                ),
                                cid = soap::escape(&cid),
                                code = code
                            ));
                        }
                        None => body.push_str(&format!(
                            "<rsp:CommandState CommandId=\"{}\" State=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running\"></rsp:CommandState>",
                            soap::escape(&cid)
                        )),
                    }
                    body.push_str("</rsp:ReceiveResponse>");
                    (200, soap::envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", &rel, &body))
                }
            }
        }
        Body::Signal { command_id, code } => {
            let cid = command_id.unwrap_or_default();
            let mut st = lock(&inner.state);
            let Some(shell) = st.shells.get_mut(&shell_id) else {
                drop(st);
                return fault(inner, &rel, Fault::unknown_shell(&shell_id));
            };
            let terminate = code.eq_ignore_ascii_case(soap::SIGNAL_TERMINATE);
            let ctrl_c = code.eq_ignore_ascii_case(soap::SIGNAL_CTRL_C);
            if terminate {
                if let Some(c) = shell.commands.remove(&cid) {
                    c.task.abort();
                    c.io.finish(CTRL_C_EXIT);
                }
            } else if ctrl_c {
                match shell.commands.get(&cid) {
                    Some(c) => {
                        c.task.abort();
                        c.io.finish(CTRL_C_EXIT);
                    }
                    None => {
                        drop(st);
                        return fault(inner, &rel, Fault::unknown_command(&cid));
                    }
                }
            }
            drop(st);
            inner.log(
                json!({"event": "signal", "shell_id": shell_id, "command_id": cid, "code": code}),
            );
            (
                200,
                soap::envelope(
                    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse",
                    &rel,
                    "<rsp:SignalResponse/>",
                ),
            )
        }
        Body::Other => fault(
            inner,
            &rel,
            Fault::unsupported(&format!("action {}", req.action)),
        ),
    }
}
