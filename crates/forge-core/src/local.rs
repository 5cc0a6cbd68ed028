//! Local side effects every plugin shares: temporary files and child processes, each recorded in
//! the journal before it exists, and the reclaimers that remove them after a crash.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::journal::{process_alive, process_start_ticks, Journal, ProcStat, Resource};
use crate::plugin::{BuildCtx, Stream};
use crate::registry::{Origin, ReclaimError, Reclaimer};
use crate::ui::Ui;
use crate::{Error, Result};

/// A temporary file or directory that is removed (and marked deleted in the journal) on drop.
pub struct TempPath {
    path: PathBuf,
    seq: u64,
    journal: Arc<Journal>,
    dir: bool,
    keep: Arc<std::sync::atomic::AtomicBool>,
    persisted: bool,
}

impl TempPath {
    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the path: it is the build's output now, no longer a temporary (the journal
    /// forgets it).
    pub fn persist(mut self) {
        self.persisted = true;
        self.journal.deleted(self.seq);
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.persisted || self.keep.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let r = if self.dir {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::remove_file(&self.path)
        };
        if r.is_ok() || !self.path.exists() {
            self.journal.deleted(self.seq);
        }
    }
}

/// Records `path` in the journal before the caller creates it; the guard removes it on drop.
pub fn track(ctx: &BuildCtx, path: &Path, dir: bool) -> Result<TempPath> {
    let r = ctx.journal_path(if dir { "dir" } else { "file" }, path)?;
    Ok(TempPath {
        path: path.to_path_buf(),
        seq: r.seq,
        journal: ctx.journal.clone(),
        dir,
        keep: ctx.keep_resources.clone(),
        persisted: false,
    })
}

fn random_digits() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom_bytes(&mut b);
    u32::from_le_bytes(b) % 4_000_000_000
}

fn getrandom_bytes(b: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(b)
}

/// A path `<dir>/<prefix><random>` that does not exist yet.
fn fresh_path_in(dir: &Path, prefix: &str) -> Result<PathBuf> {
    (0..16)
        .map(|_| dir.join(format!("{prefix}{}", random_digits())))
        .find(|p| !p.exists())
        .ok_or_else(|| {
            Error::msg(format!(
                "could not pick a free temporary name in {}",
                dir.display()
            ))
        })
}

/// Creates `$TMPDIR/<prefix><random>` holding `content` (mode 0700 when `executable`), journaled
/// first. It is transient: removed on drop even under `-on-error=abort`.
pub fn temp_file(
    ctx: &BuildCtx,
    prefix: &str,
    content: &[u8],
    executable: bool,
) -> Result<TempPath> {
    temp_file_in(ctx, &std::env::temp_dir(), prefix, content, executable)
}

/// Like [`temp_file`], in `dir`.
pub fn temp_file_in(
    ctx: &BuildCtx,
    dir: &Path,
    prefix: &str,
    content: &[u8],
    executable: bool,
) -> Result<TempPath> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = fresh_path_in(dir, prefix)?;
    // A transient file (a script): removed even when the build keeps its resources.
    let mut guard = track(ctx, &path, false)?;
    guard.keep = Default::default();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o700 } else { 0o600 })
        .open(&path)
        .map_err(|e| Error::msg(format!("creating temporary file {}: {e}", path.display())))?;
    f.write_all(content)
        .map_err(|e| Error::msg(format!("writing {}: {e}", path.display())))?;
    Ok(guard)
}

/// Creates a temporary directory `$TMPDIR/<prefix><random>`, journaled first.
pub fn temp_dir(ctx: &BuildCtx, prefix: &str) -> Result<TempPath> {
    temp_dir_in(ctx, &std::env::temp_dir(), prefix)
}

/// Creates a temporary directory `<parent>/<prefix><random>`, journaled first.
pub fn temp_dir_in(ctx: &BuildCtx, parent: &Path, prefix: &str) -> Result<TempPath> {
    let path = fresh_path_in(parent, prefix)?;
    let guard = track(ctx, &path, true)?;
    std::fs::create_dir(&path)
        .map_err(|e| Error::msg(format!("creating {}: {e}", path.display())))?;
    Ok(guard)
}

/// A local command.
#[derive(Debug, Clone, Default)]
pub struct LocalCommand {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

/// Starts `cmd` in its own process group with piped output, recorded in the journal before it
/// starts and updated with its pid after.
fn spawn_journaled(
    ctx: &BuildCtx,
    cmd: &LocalCommand,
) -> Result<(tokio::process::Child, u32, Resource)> {
    let Some((prog, args)) = cmd.argv.split_first() else {
        return Err(Error::msg("empty command"));
    };
    let mut c = tokio::process::Command::new(prog);
    c.args(args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    let tag = process_tag();
    c.env(PROCESS_TAG_ENV, &tag);
    let rec = ctx.journal.intend(
        &ctx.name,
        "process",
        "",
        json!({ "argv": cmd.argv, "tag": tag }),
    )?;
    let child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            ctx.journal.deleted(rec.seq);
            return Err(Error::msg(format!("starting {prog}: {e}")));
        }
    };
    let pid = child.id().unwrap_or(0);
    ctx.journal.update(
        rec.seq,
        &pid.to_string(),
        json!({ "pid": pid, "start_ticks": process_start_ticks(pid), "argv": cmd.argv, "tag": tag }),
    );
    Ok((child, pid, rec))
}

/// Runs a local command in its own process group, journaled, passing each output line to
/// `output`; on cancellation the group is terminated. Returns the exit status (-1 when killed
/// by a signal).
pub async fn run_command(
    ctx: &BuildCtx,
    cmd: &LocalCommand,
    output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
) -> Result<i32> {
    let (mut child, pid, rec) = spawn_journaled(ctx, cmd)?;
    let prog = &cmd.argv[0];
    // Whatever ends this future early (a timeout, a dropped build) takes the group down too.
    let mut group = GroupGuard(pid);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::msg(format!("{prog}: its output could not be read")));
    };
    let mut out = BufReader::new(stdout).lines();
    let mut err = BufReader::new(stderr).lines();
    let (mut out_done, mut err_done) = (false, false);
    let status = loop {
        tokio::select! {
            l = out.next_line(), if !out_done => match l {
                Ok(Some(l)) => output(Stream::Stdout, &l),
                _ => out_done = true,
            },
            l = err.next_line(), if !err_done => match l {
                Ok(Some(l)) => output(Stream::Stderr, &l),
                _ => err_done = true,
            },
            s = child.wait(), if out_done && err_done => break s,
            _ = ctx.cancel.cancelled() => {
                terminate_group(pid).await;
                let _ = child.wait().await;
                group.0 = 0;
                ctx.journal.deleted(rec.seq);
                return Err(Error::Cancelled);
            }
        }
    };
    group.0 = 0;
    ctx.journal.deleted(rec.seq);
    let status = status.map_err(|e| Error::msg(format!("waiting for {prog}: {e}")))?;
    Ok(status.code().unwrap_or(-1))
}

/// A long-running local process (a VM, a server) in its own process group, journaled before it
/// starts. Its output lines go to the log, and the last few are kept for error messages.
/// [`Background::stop`] ends it; dropping it kills the group.
pub struct Background {
    pid: u32,
    seq: u64,
    journal: Arc<Journal>,
    child: tokio::process::Child,
    tail: Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
    status: Option<i32>,
}

/// Starts `cmd` in the background.
pub fn spawn_background(ctx: &BuildCtx, cmd: &LocalCommand) -> Result<Background> {
    let (mut child, pid, rec) = spawn_journaled(ctx, cmd)?;
    let prog = &cmd.argv[0];
    let tail: Arc<std::sync::Mutex<std::collections::VecDeque<String>>> = Default::default();
    let name = prog.clone();
    for r in [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        child
            .stderr
            .take()
            .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    ]
    .into_iter()
    .flatten()
    {
        let tail = tail.clone();
        let name = name.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                tracing::debug!("{name}: {l}");
                if let Ok(mut t) = tail.lock() {
                    t.push_back(l);
                    if t.len() > 20 {
                        t.pop_front();
                    }
                }
            }
        });
    }
    Ok(Background {
        pid,
        seq: rec.seq,
        journal: ctx.journal.clone(),
        child,
        tail,
        status: None,
    })
}

impl Background {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its exit status if it has ended (-1 when killed by a signal).
    pub fn exited(&mut self) -> Option<i32> {
        if self.status.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s.code().unwrap_or(-1));
                self.journal.deleted(self.seq);
            }
        }
        self.status
    }

    /// Waits for it to end; its exit status.
    pub async fn wait(&mut self) -> i32 {
        if let Some(s) = self.status {
            return s;
        }
        let s = self
            .child
            .wait()
            .await
            .ok()
            .and_then(|s| s.code())
            .unwrap_or(-1);
        self.status = Some(s);
        self.journal.deleted(self.seq);
        s
    }

    /// Its last output lines.
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|t| Vec::from(t.clone()).join("\n"))
            .unwrap_or_default()
    }

    /// Ends it: SIGTERM to the group, SIGKILL after 2 s.
    pub async fn stop(&mut self) {
        if self.exited().is_none() {
            terminate_group(self.pid).await;
            self.wait().await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // SAFETY: kill(2) on the process group this module created.
            unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        }
    }
}

/// Kills a process group when dropped (unless its pid was set to 0).
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0 != 0 {
            // SAFETY: kill(2) on the process group this module created.
            unsafe { libc::kill(-(self.0 as i32), libc::SIGKILL) };
        }
    }
}

/// Output lines to a UI the way Packer's local commands show them: stdout as messages, stderr
/// as errors.
pub fn to_ui(ui: &Ui) -> impl FnMut(Stream, &str) + Send + '_ {
    move |s, l| match s {
        Stream::Stdout => ui.message(l),
        Stream::Stderr => ui.error(l),
    }
}

/// Whether any live (non-zombie) process belongs to process group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
        pid.and_then(ProcStat::read)
            .is_some_and(|s| s.pgrp == pgid && !s.is_dead())
    })
}

/// The environment variable that marks a journaled process and everything it starts, so that
/// a process whose pid never reached the journal (forge was killed between its spawn and the
/// journal's update) is still found.
pub const PROCESS_TAG_ENV: &str = "FORGE_PROCESS_TAG";

/// A new, unique process tag.
pub fn process_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The process groups of the live processes whose environment carries `tag`.
pub fn tagged_groups(tag: &str) -> Vec<u32> {
    let want = format!("{PROCESS_TAG_ENV}={tag}");
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut groups: Vec<u32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
        })
        .filter_map(ProcStat::read)
        .filter(|s| !s.is_dead())
        .map(|s| s.pgrp)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// SIGTERM to the process group, then SIGKILL if it lingers (zombies waiting for a reaper do
/// not count).
pub async fn terminate_group(pid: u32) {
    if pid == 0 {
        return;
    }
    let pgid = -(pid as i32);
    // SAFETY: kill(2) on a process group we created; no memory is involved.
    unsafe { libc::kill(pgid, libc::SIGTERM) };
    for _ in 0..100 {
        if !group_alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: as above.
    unsafe { libc::kill(pgid, libc::SIGKILL) };
}

/// Reclaims local files, directories and processes.
pub struct LocalReclaimer;

#[async_trait]
impl Reclaimer for LocalReclaimer {
    fn kinds(&self) -> &'static [&'static str] {
        &["file", "dir", "process"]
    }

    async fn reclaim(&self, r: &Resource, _: &Origin) -> std::result::Result<(), ReclaimError> {
        match r.kind.as_str() {
            "file" | "dir" => {
                let p = r.data["path"].as_str().unwrap_or(&r.id);
                let path = Path::new(p);
                let res = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                match res {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("removing {p}: {e}").into()),
                }
            }
            "process" => {
                let pid = r.data["pid"].as_u64().unwrap_or(0) as u32;
                if pid == 0 {
                    // Killed before its pid was journaled: found by its tag.
                    if let Some(tag) = r.data["tag"].as_str() {
                        for group in tagged_groups(tag) {
                            terminate_group(group).await;
                        }
                    }
                    return Ok(());
                }
                // The leader, checked by its start time against pid reuse; or, once the leader
                // is gone, whatever is left in the group it led.
                if process_alive(pid, r.data["start_ticks"].as_u64()) || group_alive(pid) {
                    terminate_group(pid).await;
                }
                Ok(())
            }
            k => Err(format!("no reclaimer for {k}").into()),
        }
    }
}

/// The name of user `uid` in the password database (`getpwuid_r`, safe from any thread).
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getpwuid_r writes into `pwd` and `buf` (whose length we pass) and sets `res` to
    // `&pwd` or null; `pw_name` points into `buf`, which outlives its use here.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut res);
        if rc != 0 || res.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process whose pid never reached the journal is found, with its children, by its tag.
    #[tokio::test]
    async fn a_process_is_found_by_its_tag() {
        use std::os::unix::process::CommandExt as _;
        let tag = process_tag();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30; :"])
            .env(PROCESS_TAG_ENV, &tag)
            .process_group(0)
            .spawn()
            .expect("sh");
        let pid = child.id();
        let mut groups = Vec::new();
        for _ in 0..100 {
            groups = tagged_groups(&tag);
            if !groups.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(groups, [pid]);
        assert!(tagged_groups(&process_tag()).is_empty());
        let r = Resource {
            seq: 1,
            build: "b".into(),
            kind: "process".into(),
            id: String::new(),
            data: json!({ "argv": ["sh"], "tag": tag }),
        };
        LocalReclaimer
            .reclaim(&r, &Origin::default())
            .await
            .expect("reclaimed");
        let _ = child.wait();
        assert!(tagged_groups(&tag).is_empty());
        assert!(!group_alive(pid));
    }
}
