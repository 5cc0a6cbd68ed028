//! The emulated Windows machine: a sandboxed C: drive, cmd.exe command lines, PowerShell
//! invocations (Packer's and forge's scripts recognised exactly, plus a small interpreter for
//! uploaded scripts), shutdown/reboot.
//!
//! Anything not understood fails loudly: [`crate::NOT_EMULATED_EXIT`], `forge-wsman: not
//! emulated: ...` on stderr, and the server's record.

pub mod forge_transfer;
mod packer;
mod powershell;
mod windows_update;

use crate::Config;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A boxed future of an exit code.
pub type BoxFut<'a> = Pin<Box<dyn Future<Output = i32> + Send + 'a>>;

/// Extension point: recognises a PowerShell script (decoded `-EncodedCommand`, `-Command` text or
/// a `-File` script's content) and emulates it. Recognisers run after forge's transfer and
/// windows-update scripts and before Packer's scripts and the interpreter.
pub trait Recogniser: Send + Sync {
    /// Name for the record.
    fn name(&self) -> &str;
    /// `Some(run)` when the script is this recogniser's.
    fn recognise<'a>(
        &'a self,
        machine: &'a Arc<Machine>,
        ctx: &'a mut Ctx,
        script: &'a str,
    ) -> Option<BoxFut<'a>>;
}

/// Output of one Receive.
pub(crate) struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit: Option<i32>,
}

#[derive(Default)]
struct IoState {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit: Option<i32>,
    stdin: Vec<u8>,
    stdin_end: bool,
}

/// The streams of one running command.
#[derive(Default)]
pub struct CommandIo {
    st: Mutex<IoState>,
    out: Notify,
    input: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CommandIo {
    /// Appends to stdout.
    pub fn stdout(&self, b: &[u8]) {
        lock(&self.st).stdout.extend_from_slice(b);
        self.out.notify_waiters();
    }
    /// Appends to stderr.
    pub fn stderr(&self, b: &[u8]) {
        lock(&self.st).stderr.extend_from_slice(b);
        self.out.notify_waiters();
    }
    /// Marks the command finished (the first call wins).
    pub fn finish(&self, code: i32) {
        let mut st = lock(&self.st);
        if st.exit.is_none() {
            st.exit = Some(code);
        }
        drop(st);
        self.out.notify_waiters();
    }
    pub(crate) fn push_stdin(&self, data: &[u8], end: bool) {
        let mut st = lock(&self.st);
        st.stdin.extend_from_slice(data);
        st.stdin_end |= end;
        drop(st);
        self.input.notify_waiters();
    }
    /// Waits for the whole of stdin (until a Send with End="true").
    pub async fn read_stdin_all(&self) -> Vec<u8> {
        loop {
            let n = self.input.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut st = lock(&self.st);
                if st.stdin_end {
                    return std::mem::take(&mut st.stdin);
                }
            }
            n.await;
        }
    }
    /// Waits until there is output or the command is done (`None` at the deadline).
    pub(crate) async fn receive(&self, deadline: Instant, max: usize) -> Option<Output> {
        loop {
            let n = self.out.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut st = lock(&self.st);
                if !st.stdout.is_empty() || !st.stderr.is_empty() || st.exit.is_some() {
                    let take_out = st.stdout.len().min(max);
                    let stdout: Vec<u8> = st.stdout.drain(..take_out).collect();
                    let take_err = st.stderr.len().min(max - take_out);
                    let stderr: Vec<u8> = st.stderr.drain(..take_err).collect();
                    let exit = if st.stdout.is_empty() && st.stderr.is_empty() {
                        st.exit
                    } else {
                        None
                    };
                    return Some(Output {
                        stdout,
                        stderr,
                        exit,
                    });
                }
            }
            if tokio::time::timeout_at(deadline.into(), n).await.is_err() {
                return None;
            }
        }
    }
    /// Everything written so far (stdout, stderr), for captured sub-commands.
    pub fn take_all(&self) -> (Vec<u8>, Vec<u8>) {
        let mut st = lock(&self.st);
        (
            std::mem::take(&mut st.stdout),
            std::mem::take(&mut st.stderr),
        )
    }
}

/// One command's execution context.
pub struct Ctx {
    /// The user running it.
    pub user: String,
    /// Environment (names case-insensitive).
    pub env: Vec<(String, String)>,
    /// Current directory (a Windows path).
    pub cwd: String,
    /// Its streams.
    pub io: Arc<CommandIo>,
    /// What was not emulated (filled as it runs).
    pub not_emulated: Vec<String>,
    /// PowerShell's `$LastExitCode`.
    pub last_exit: i32,
}

impl Ctx {
    pub(crate) fn new(
        user: String,
        shell_env: &[(String, String)],
        working_dir: Option<String>,
        io: Arc<CommandIo>,
        machine: &Machine,
    ) -> Ctx {
        let mut ctx = Ctx {
            env: Vec::new(),
            cwd: working_dir.unwrap_or_else(|| format!("C:\\Users\\{user}")),
            user,
            io,
            not_emulated: Vec::new(),
            last_exit: 0,
        };
        for (k, v) in machine.base_env(&ctx.user) {
            ctx.set_env(&k, &v);
        }
        for (k, v) in shell_env {
            ctx.set_env(k, v);
        }
        ctx
    }

    /// A context for a captured sub-command (same user, env and directory; its own streams).
    pub fn sub(&self) -> Ctx {
        Ctx {
            user: self.user.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            io: Arc::new(CommandIo::default()),
            not_emulated: Vec::new(),
            last_exit: 0,
        }
    }

    /// An environment variable.
    pub fn env(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// Sets an environment variable.
    pub fn set_env(&mut self, name: &str, value: &str) {
        match self
            .env
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(e) => e.1 = value.to_string(),
            None => self.env.push((name.to_string(), value.to_string())),
        }
    }

    /// Writes a line (CRLF) to stdout.
    pub fn out_line(&self, s: &str) {
        self.io.stdout(format!("{s}\r\n").as_bytes());
    }

    /// Writes a line (CRLF) to stderr.
    pub fn err_line(&self, s: &str) {
        self.io.stderr(format!("{s}\r\n").as_bytes());
    }

    /// Records and reports something not emulated; returns [`crate::NOT_EMULATED_EXIT`].
    pub fn not_emulated(&mut self, what: &str) -> i32 {
        let short: String = what.chars().take(2000).collect();
        self.err_line(&format!("forge-wsman: not emulated: {short}"));
        self.not_emulated.push(short);
        crate::NOT_EMULATED_EXIT
    }

    /// Expands cmd's `%NAME%` references (unknown ones stay as they are).
    pub fn expand_percent(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            match after.find('%') {
                Some(j) if j > 0 && !after[..j].contains(' ') => {
                    let name = &after[..j];
                    match self.env(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push('%');
                            out.push_str(name);
                            out.push('%');
                        }
                    }
                    rest = &after[j + 1..];
                }
                _ => {
                    out.push('%');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

enum ShutdownState {
    None,
    Scheduled(tokio::task::AbortHandle),
    InProgress,
}

/// The emulated machine.
pub struct Machine {
    root: PathBuf,
    hostname: String,
    users: Vec<(String, String)>,
    registry_keys: Vec<String>,
    env: Vec<(String, String)>,
    reboot_tx: tokio::sync::mpsc::UnboundedSender<()>,
    shutdown: Mutex<ShutdownState>,
    recognisers: Mutex<Vec<Arc<dyn Recogniser>>>,
    updates: Mutex<UpdateState>,
}

/// The Windows Update catalogue and whether an install waits for a restart.
#[derive(Default)]
struct UpdateState {
    catalogue: Vec<crate::WindowsUpdate>,
    pending_restart: bool,
}

impl Machine {
    pub(crate) fn new(
        config: &Config,
        reboot_tx: tokio::sync::mpsc::UnboundedSender<()>,
    ) -> Machine {
        Machine {
            root: config.sandbox_root.clone(),
            hostname: config.hostname.clone(),
            users: config.users.clone(),
            registry_keys: config.registry_keys.clone(),
            env: config
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            reboot_tx,
            shutdown: Mutex::new(ShutdownState::None),
            recognisers: Mutex::new(Vec::new()),
            updates: Mutex::new(UpdateState {
                catalogue: config.windows_updates.clone(),
                pending_restart: false,
            }),
        }
    }

    /// Adds a script recogniser (see [`Recogniser`]).
    pub fn add_recogniser(&self, r: Arc<dyn Recogniser>) {
        lock(&self.recognisers).push(r);
    }

    /// The Windows Update catalogue as it stands (installed ones marked).
    pub fn windows_updates(&self) -> Vec<crate::WindowsUpdate> {
        lock(&self.updates).catalogue.clone()
    }

    /// Installs the catalogue's updates titled `titles`; whether one of them needs a restart
    /// (which is then pending until the machine restarts).
    pub fn install_updates(&self, titles: &[String]) -> bool {
        let mut st = lock(&self.updates);
        let mut restart = false;
        for u in st
            .catalogue
            .iter_mut()
            .filter(|u| titles.contains(&u.title))
        {
            u.installed = true;
            restart |= u.reboot_required;
        }
        st.pending_restart |= restart;
        restart
    }

    /// Whether installed updates wait for a restart.
    pub fn updates_pending_restart(&self) -> bool {
        lock(&self.updates).pending_restart
    }

    /// The machine has restarted.
    pub(crate) fn restarted(&self) {
        lock(&self.updates).pending_restart = false;
    }

    /// The machine's host name.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Whether `user`/`password` is one of the machine's accounts.
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        let bare = |n: &str| -> String {
            let n = n.rsplit('\\').next().unwrap_or(n);
            n.split('@').next().unwrap_or(n).to_string()
        };
        self.users
            .iter()
            .any(|(u, p)| bare(u).eq_ignore_ascii_case(&bare(user)) && p == password)
    }

    /// Whether a registry key exists (`HKLM:\X`, `HKLM:X` and `HKEY_LOCAL_MACHINE\X` compare equal).
    pub fn registry_key_exists(&self, key: &str) -> bool {
        let norm = |k: &str| -> String {
            let k = k.trim().replace('/', "\\").to_ascii_lowercase();
            let k = k
                .strip_prefix("registry::")
                .map(str::to_string)
                .unwrap_or(k)
                .replacen("hkey_local_machine", "hklm:", 1);
            let k = k.replacen("hklm:\\", "hklm:", 1);
            k.trim_end_matches('\\').to_string()
        };
        let want = norm(key);
        self.registry_keys.iter().any(|k| norm(k) == want)
    }

    fn base_env(&self, user: &str) -> Vec<(String, String)> {
        let profile = format!("C:\\Users\\{user}");
        let temp = format!("{profile}\\AppData\\Local\\Temp");
        // A logged-on user has a profile with its temporary directory; the machine has its own.
        for dir in [temp.as_str(), "C:\\Windows\\Temp"] {
            let _ = std::fs::create_dir_all(self.host_path(dir, "C:\\"));
        }
        let mut v = vec![
            ("SystemRoot".to_string(), "C:\\Windows".to_string()),
            ("windir".into(), "C:\\Windows".into()),
            ("SystemDrive".into(), "C:".into()),
            ("ProgramFiles".into(), "C:\\Program Files".into()),
            ("ProgramData".into(), "C:\\ProgramData".into()),
            ("COMPUTERNAME".into(), self.hostname.to_uppercase()),
            ("USERNAME".into(), user.to_string()),
            ("USERPROFILE".into(), profile.clone()),
            ("HOMEDRIVE".into(), "C:".into()),
            ("HOMEPATH".into(), format!("\\Users\\{user}")),
            ("APPDATA".into(), format!("{profile}\\AppData\\Roaming")),
            ("LOCALAPPDATA".into(), format!("{profile}\\AppData\\Local")),
            ("TEMP".into(), temp.clone()),
            ("TMP".into(), temp),
            ("PATH".into(), "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\".into()),
            ("PATHEXT".into(), ".COM;.EXE;.BAT;.CMD;.VBS;.JS;.PS1".into()),
            ("OS".into(), "Windows_NT".into()),
        ];
        v.extend(self.env.iter().cloned());
        v
    }

    /// Maps a Windows path (absolute, or relative to `cwd`) into the sandbox. Paths are
    /// case-insensitive: existing entries are matched whatever their case.
    pub fn host_path(&self, win: &str, cwd: &str) -> PathBuf {
        let p = win.trim().trim_matches('"').replace('/', "\\");
        let full = if p.len() >= 2 && p.as_bytes()[1] == b':' {
            p[2..].to_string()
        } else if p.starts_with('\\') {
            p
        } else {
            let c = cwd.replace('/', "\\");
            let c = if c.len() >= 2 && c.as_bytes()[1] == b':' {
                c[2..].to_string()
            } else {
                c
            };
            format!("{c}\\{p}")
        };
        let mut parts: Vec<&str> = Vec::new();
        for comp in full.split('\\') {
            match comp {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut out = self.root.clone();
        for comp in parts {
            let comp = comp.trim_end_matches([' ', '.']);
            let comp = if comp.is_empty() { "." } else { comp };
            let actual = std::fs::read_dir(&out).ok().and_then(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .find(|n| n.eq_ignore_ascii_case(comp))
            });
            out.push(actual.unwrap_or_else(|| comp.to_string()));
        }
        out
    }

    /// The Windows form of a sandbox path.
    pub fn windows_path(&self, host: &Path) -> String {
        let rel = host.strip_prefix(&self.root).unwrap_or(host);
        let mut s = String::from("C:");
        for c in rel.components() {
            s.push('\\');
            s.push_str(&c.as_os_str().to_string_lossy());
        }
        if s == "C:" {
            s.push('\\');
        }
        s
    }

    pub(crate) fn clear_shutdown(&self) {
        let mut s = lock(&self.shutdown);
        if let ShutdownState::Scheduled(h) = &*s {
            h.abort();
        }
        *s = ShutdownState::None;
    }

    /// Starts a simulated reboot after `delay` (the reboot itself takes the configured time).
    /// Returns Windows' shutdown.exe code: 0, or 1190/1115 when one is already scheduled or in
    /// progress.
    pub fn schedule_reboot(self: &Arc<Self>, delay: Duration) -> i32 {
        let mut s = lock(&self.shutdown);
        match &*s {
            ShutdownState::Scheduled(_) => return 1190,
            ShutdownState::InProgress => return 1115,
            ShutdownState::None => {}
        }
        let me = self.clone();
        // A shutdown with no delay is in progress at once; the listener goes down shortly after.
        let wait = if delay.is_zero() {
            Duration::from_millis(300)
        } else {
            delay
        };
        if delay.is_zero() {
            *s = ShutdownState::InProgress;
        }
        let task = tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            *lock(&me.shutdown) = ShutdownState::InProgress;
            let _ = me.reboot_tx.send(());
        });
        if !delay.is_zero() {
            *s = ShutdownState::Scheduled(task.abort_handle());
        }
        0
    }

    /// `shutdown /a`: 0, or 1116 when no shutdown is scheduled.
    pub fn abort_shutdown(&self) -> i32 {
        let mut s = lock(&self.shutdown);
        match &*s {
            ShutdownState::Scheduled(h) => {
                h.abort();
                *s = ShutdownState::None;
                0
            }
            ShutdownState::InProgress => 1115,
            ShutdownState::None => 1116,
        }
    }

    /// Runs one cmd.exe command line.
    pub fn run_line<'a>(self: Arc<Self>, ctx: &'a mut Ctx, line: &'a str) -> BoxFut<'a> {
        Box::pin(async move { self.cmd_line(ctx, line).await })
    }

    async fn cmd_line(self: &Arc<Self>, ctx: &mut Ctx, line: &str) -> i32 {
        let line = line.trim();
        // forge's and Packer's PowerShell invocations are taken whole (their arguments may
        // contain `&&`-like text inside quotes or base64).
        let mut code = 0;
        for (i, (part, op)) in split_chain(line).into_iter().enumerate() {
            if i > 0 && op == "&&" && code != 0 {
                break;
            }
            if i > 0 && op == "||" && code == 0 {
                break;
            }
            code = self.cmd_single(ctx, &part).await;
            ctx.set_env("ERRORLEVEL", &code.to_string());
        }
        code
    }

    async fn cmd_single(self: &Arc<Self>, ctx: &mut Ctx, part: &str) -> i32 {
        // Trailing spaces stay: cmd's `echo a & echo b` prints "a " (with the space).
        let expanded = ctx.expand_percent(part.trim_start());
        let s = expanded.trim_start().trim_start_matches('@').trim_start();
        if s.trim_end().is_empty() {
            return 0;
        }
        let words = cmd_words(s);
        let first = words.first().map(|w| unquote(w)).unwrap_or_default();
        let prog = first
            .rsplit(['\\', '/'])
            .next()
            .unwrap_or(&first)
            .to_ascii_lowercase();
        let rest = s[words.first().map(|w| w.len()).unwrap_or(0)..].trim_start();
        match prog.as_str() {
            "rem" | "::" => 0,
            "echo" | "echo." => self.cmd_echo(ctx, s).await,
            "set" => {
                // `set "A=1" & ...` sets "1"; `set A=1 & ...` sets "1 ", as cmd does.
                let a = if rest.starts_with('"') {
                    unquote(rest)
                } else {
                    rest.to_string()
                };
                match a.split_once('=') {
                    Some((k, v)) => {
                        ctx.set_env(k.trim(), v);
                        0
                    }
                    None => ctx.not_emulated(s),
                }
            }
            "cmd" | "cmd.exe" => {
                let r = rest.trim_start();
                let lower = r.to_ascii_lowercase();
                if let Some(x) = lower
                    .strip_prefix("/c")
                    .or_else(|| lower.strip_prefix("/s /c"))
                {
                    let off = r.len() - x.len();
                    let inner = unquote(r[off..].trim());
                    let m = self.clone();
                    m.run_line(ctx, &inner).await
                } else {
                    ctx.not_emulated(s)
                }
            }
            "exit" => {
                let r = rest
                    .trim_start_matches("/b")
                    .trim_start_matches("/B")
                    .trim();
                r.parse().unwrap_or(0)
            }
            "shutdown" | "shutdown.exe" => self.cmd_shutdown(ctx, &words[1..]),
            "powershell" | "powershell.exe" | "pwsh" | "pwsh.exe" => {
                let args: Vec<String> = words[1..].to_vec();
                powershell::invoke(self, ctx, &args, s).await
            }
            p if p.ends_with(".bat") || p.ends_with(".cmd") => self.run_batch(ctx, &first).await,
            p if p.ends_with(".ps1") => {
                let path = first.clone();
                powershell::run_file(self, ctx, &path, s).await
            }
            _ => ctx.not_emulated(s),
        }
    }

    async fn cmd_echo(self: &Arc<Self>, ctx: &mut Ctx, s: &str) -> i32 {
        // echo TEXT [>|>> "FILE"]
        let body = if s.len() > 4 { &s[4..] } else { "" };
        let (text, redirect) = split_redirect(body);
        let text = if let Some(t) = text.strip_prefix('.') {
            t.to_string()
        } else {
            text.strip_prefix(' ').unwrap_or(text).to_string()
        };
        let lower = text.trim().to_ascii_lowercase();
        if redirect.is_none() && (lower == "off" || lower == "on") {
            return 0;
        }
        let out = format!("{text}\r\n");
        match redirect {
            None => {
                ctx.io.stdout(out.as_bytes());
                0
            }
            Some((append, file)) => {
                let path = self.host_path(&unquote(&file), &ctx.cwd);
                let res = (|| -> std::io::Result<()> {
                    use std::io::Write as _;
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(append)
                        .write(true)
                        .truncate(!append)
                        .open(&path)?;
                    f.write_all(out.as_bytes())
                })();
                match res {
                    Ok(()) => 0,
                    Err(_) => {
                        ctx.err_line("The system cannot find the path specified.");
                        1
                    }
                }
            }
        }
    }

    fn cmd_shutdown(self: &Arc<Self>, ctx: &mut Ctx, args: &[String]) -> i32 {
        let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
        if lower.iter().any(|a| a == "/a" || a == "-a") {
            let code = self.abort_shutdown();
            if code == 1116 {
                ctx.err_line("Unable to abort the system shutdown because no shutdown was in progress.(1116)");
            }
            return code;
        }
        if lower
            .iter()
            .any(|a| a == "/r" || a == "-r" || a == "/s" || a == "-s")
        {
            let mut delay = 30u64;
            if let Some(i) = lower.iter().position(|a| a == "/t" || a == "-t") {
                delay = lower.get(i + 1).and_then(|t| t.parse().ok()).unwrap_or(30);
            }
            let code = self.schedule_reboot(Duration::from_secs(delay));
            match code {
                1190 => ctx.err_line("A system shutdown has already been scheduled.(1190)"),
                1115 => ctx.err_line("A system shutdown is in progress.(1115)"),
                _ => {}
            }
            return code;
        }
        ctx.not_emulated(&format!("shutdown {}", args.join(" ")))
    }

    /// Runs a .bat/.cmd file.
    pub async fn run_batch(self: &Arc<Self>, ctx: &mut Ctx, path: &str) -> i32 {
        let host = self.host_path(path, &ctx.cwd);
        let Ok(content) = std::fs::read(&host) else {
            ctx.err_line(&format!(
                "'{path}' is not recognized as an internal or external command,\r\noperable program or batch file."
            ));
            return 9009;
        };
        let text = String::from_utf8_lossy(&content).into_owned();
        let mut code = 0;
        for raw in text.lines() {
            let line = raw.trim();
            let l = line.trim_start_matches('@').to_ascii_lowercase();
            if line.is_empty() || l.starts_with("rem ") || l == "rem" || l.starts_with("::") {
                continue;
            }
            if l == "echo off" || l == "echo on" {
                continue;
            }
            if let Some(r) = l.strip_prefix("exit") {
                let r = r.trim().trim_start_matches("/b").trim();
                return if r.is_empty() {
                    code
                } else {
                    let r = ctx.expand_percent(r);
                    r.trim().parse().unwrap_or(code)
                };
            }
            let m = self.clone();
            code = m.run_line(ctx, line).await;
        }
        code
    }
}

/// Splits a cmd line at `&&`, `||` and `&` outside double quotes: (part, operator before it).
fn split_chain(line: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut op: &'static str = "";
    let mut in_q = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_q = !in_q;
        }
        if !in_q && c == '^' && i + 1 < chars.len() {
            cur.push(c);
            cur.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if !in_q && (c == '&' || (c == '|' && chars.get(i + 1) == Some(&'|'))) {
            let two = chars.get(i + 1) == Some(&c);
            out.push((std::mem::take(&mut cur), op));
            op = match (c, two) {
                ('&', true) => "&&",
                ('&', false) => "&",
                _ => "||",
            };
            i += if two { 2 } else { 1 };
            continue;
        }
        cur.push(c);
        i += 1;
    }
    out.push((cur, op));
    out.into_iter()
        .filter(|(p, _)| !p.trim().is_empty())
        .collect()
}

/// Splits a command line into words; quotes are kept on the words.
fn cmd_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    for c in s.chars() {
        if c == '"' {
            in_q = !in_q;
            cur.push(c);
        } else if c.is_whitespace() && !in_q {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Removes double quotes (cmd style).
fn unquote(s: &str) -> String {
    s.trim().replace('"', "")
}

/// Splits `TEXT > FILE` / `TEXT >> FILE` (the last redirection outside quotes).
fn split_redirect(s: &str) -> (&str, Option<(bool, String)>) {
    let mut in_q = false;
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'"' {
            in_q = !in_q;
        } else if b[i] == b'>' && !in_q {
            let append = b.get(i + 1) == Some(&b'>');
            let file = s[i + if append { 2 } else { 1 }..].trim().to_string();
            let text = s[..i].strip_suffix(' ').map(|t| t.to_string());
            // cmd keeps the space before `>` in the echoed text
            let _ = text;
            return (&s[..i], Some((append, file)));
        }
    }
    (s, None)
}

/// For `powershell ... -EncodedCommand X`: the decoded script.
pub fn encoded_script(line: &str) -> Option<String> {
    let words = cmd_words(line);
    let first = words.first()?.to_ascii_lowercase();
    let first = first.trim_matches('"');
    let prog = first.rsplit(['\\', '/']).next().unwrap_or(first);
    if !matches!(prog, "powershell" | "powershell.exe" | "pwsh" | "pwsh.exe") {
        return None;
    }
    let i = words.iter().position(|w| {
        let w = w.to_ascii_lowercase();
        matches!(
            w.as_str(),
            "-encodedcommand" | "-enc" | "-e" | "-ec" | "/encodedcommand"
        )
    })?;
    decode_utf16_b64(words.get(i + 1)?)
}

/// Decodes base64 of UTF-16LE text.
pub fn decode_utf16_b64(s: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim().trim_matches('"'))
        .ok()?;
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_words() {
        let c = split_chain(r#"set "A=1" && set "B=2" && "c:/x y/s.cmd""#);
        assert_eq!(c.len(), 3);
        assert_eq!(c[2].1, "&&");
        assert_eq!(cmd_words(r#"a "b c" d"#), vec!["a", "\"b c\"", "d"]);
        let (t, r) = split_redirect(r#" QUJD >> "%TEMP%\x.tmp""#);
        assert_eq!(t, " QUJD ");
        assert_eq!(r, Some((true, "\"%TEMP%\\x.tmp\"".into())));
    }

    /// A machine on `dir` and a command context of the user `packer` on it.
    /// (The receiver keeps the machine's event channel open.)
    #[allow(clippy::type_complexity)]
    fn machine(
        dir: &Path,
    ) -> (
        Arc<Machine>,
        Arc<CommandIo>,
        Ctx,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        let config = Config {
            sandbox_root: dir.to_path_buf(),
            ..Config::default()
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let m = Arc::new(Machine::new(&config, tx));
        let io = Arc::new(CommandIo::default());
        let ctx = Ctx::new("packer".into(), &[], None, io.clone(), &m);
        (m, io, ctx, rx)
    }

    #[tokio::test]
    async fn echo_keeps_the_space_before_an_ampersand() {
        let dir = tempfile::tempdir().unwrap();
        let (m, io, mut ctx, _rx) = machine(dir.path());
        let code = m
            .run_line(&mut ctx, "echo a & echo b& set X=1 & exit 4")
            .await;
        assert_eq!(code, 4);
        assert_eq!(io.take_all().0, b"a \r\nb\r\n");
        assert_eq!(ctx.env("X").as_deref(), Some("1 "));
    }

    #[tokio::test]
    async fn test_path_guards_its_body() {
        let dir = tempfile::tempdir().unwrap();
        let (m, io, mut ctx, _rx) = machine(dir.path());
        std::fs::create_dir_all(m.host_path("c:/Windows/Temp", "C:\\")).unwrap();
        std::fs::write(m.host_path("c:/Windows/Temp/e.ps1", "C:\\"), "x").unwrap();
        let script = "if (Test-Path c:/Windows/Temp/e.ps1) {Remove-Item c:/Windows/Temp/e.ps1}\n\
                      if (Test-Path c:/nothing) {exit 3}\n\
                      & { Write-Output block; exit $LastExitCode }\nWrite-Output not-reached";
        assert_eq!(powershell::interpret(&m, &mut ctx, script).await, 0);
        assert!(!m.host_path("c:/Windows/Temp/e.ps1", "C:\\").exists());
        assert_eq!(io.take_all().0, b"block\r\n");
    }

    #[test]
    fn encoded() {
        use base64::Engine as _;
        let b: Vec<u8> = "echo hi"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let line = format!(
            "powershell -NoProfile -EncodedCommand {}",
            base64::engine::general_purpose::STANDARD.encode(b)
        );
        assert_eq!(encoded_script(&line).as_deref(), Some("echo hi"));
        assert_eq!(encoded_script("cmd /c dir"), None);
    }
}
