//! The SSH communicator: waits for the machine, runs commands, moves files, and reconnects
//! after the connection drops (a reboot), saying whether the machine really rebooted.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, Communicator, Stream};
use forge_core::{Error, Result};
use russh::client::Msg;
use russh::Channel;
use tokio::sync::Mutex;

use super::chan::{Chan, Event};
use super::client::{connect_once, Conn, Failure};
use super::config::{SshConfig, Transfer};
use super::{transfer, tunnel};
use crate::lines::Lines;

/// Fastest retry while waiting for the machine: well under the 0.5 s the first command may
/// lag behind sshd being ready.
const POLL_MIN: Duration = Duration::from_millis(100);
/// Slowest retry while waiting.
const POLL_MAX: Duration = Duration::from_millis(200);

/// An SSH connection to the machine being built.
pub struct SshComm {
    pub(super) cfg: SshConfig,
    extra_keys: Vec<String>,
    conn: Mutex<Option<Arc<Conn>>>,
    boot_id: std::sync::Mutex<Option<String>>,
    /// Reconnects that found (or could not rule out) a new boot; see [`Communicator::boots`].
    boots: AtomicU64,
    /// A connection was installed before: later installs are reconnects.
    connected: AtomicBool,
    has_tar: tokio::sync::OnceCell<bool>,
    tunnels: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

impl SshComm {
    /// Waits until the machine answers and logs in.
    pub async fn open(ctx: &BuildCtx, cfg: SshConfig, extra_keys: Vec<String>) -> Result<SshComm> {
        let comm = SshComm {
            cfg,
            extra_keys,
            conn: Mutex::new(None),
            boot_id: std::sync::Mutex::new(None),
            boots: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            has_tar: tokio::sync::OnceCell::new(),
            tunnels: std::sync::Mutex::new(Vec::new()),
        };
        if !comm.cfg.pause_before_connecting.is_zero() {
            // Packer connects once, disconnects, pauses, then connects for good.
            let first = comm.wait_for_ssh(ctx, true).await?;
            drop(first);
            ctx.ui.say(&format!(
                "Pausing {} before connecting...",
                forge_template::gocompat::duration::format_std(comm.cfg.pause_before_connecting)
            ));
            ctx.sleep(comm.cfg.pause_before_connecting).await?;
        }
        let conn = comm.wait_for_ssh(ctx, true).await?;
        if comm.install(ctx, conn).await?.is_none() {
            comm.conn(ctx).await?;
        }
        Ok(comm)
    }

    /// Starts the tunnels and remembers the boot id of a fresh connection.
    /// `None` when the machine turned out to be shutting down (same boot, `stopping`).
    async fn install(&self, ctx: &BuildCtx, conn: Conn) -> Result<Option<Arc<Conn>>> {
        let mut tasks = Vec::new();
        for t in &self.cfg.remote_tunnels {
            conn.handle
                .tcpip_forward("127.0.0.1", t.listen_port.into())
                .await
                .map_err(|e| {
                    Error::msg(format!(
                        "ssh_remote_tunnels: the server refused to listen on port {}: {e}",
                        t.listen_port
                    ))
                })?;
        }
        let conn = Arc::new(conn);
        for t in &self.cfg.local_tunnels {
            tasks.push(tunnel::local(conn.clone(), t.clone()).await?);
        }
        {
            let mut old = self.tunnels.lock().unwrap_or_else(|e| e.into_inner());
            for t in old.drain(..) {
                t.abort();
            }
            *old = tasks;
        }
        let facts = self
            .capture(
                ctx,
                &conn,
                "cat /proc/sys/kernel/random/boot_id 2>/dev/null; systemctl is-system-running 2>/dev/null",
            )
            .await
            .unwrap_or_default();
        let mut lines = facts.lines().map(str::trim);
        let id = lines.next().map(str::to_string).filter(|s| !s.is_empty());
        let stopping = lines.next() == Some("stopping");
        let previous = self
            .boot_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let (Some(before), Some(after)) = (&previous, &id) {
            if before == after && stopping {
                // Still the old boot, on its way down: commands now would die with it.
                let _ = conn
                    .handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                return Ok(None);
            }
            if before == after {
                ctx.ui
                    .message("Reconnected over SSH: the machine has not rebooted (same boot id)");
            } else {
                ctx.ui
                    .message("Reconnected over SSH: the machine rebooted (new boot id)");
            }
        }
        let same_boot = matches!((&previous, &id), (Some(a), Some(b)) if a == b);
        if self.connected.swap(true, Ordering::SeqCst) && !same_boot {
            self.boots.fetch_add(1, Ordering::SeqCst);
        }
        *self.boot_id.lock().unwrap_or_else(|e| e.into_inner()) = id;
        *self.conn.lock().await = Some(conn.clone());
        Ok(Some(conn))
    }

    /// Retries until a connection is up, the timeout passes or the build is cancelled; each
    /// new reason it is not up yet is shown once.
    async fn wait_for_ssh(&self, ctx: &BuildCtx, first: bool) -> Result<Conn> {
        if first {
            ctx.ui.say("Waiting for SSH to become available...");
        }
        let start = Instant::now();
        let mut delay = POLL_MIN;
        let mut auth_failures = 0u32;
        let mut last: Option<String> = None;
        loop {
            // No attempt outlives ssh_timeout.
            let left = if self.cfg.timeout.is_zero() {
                Duration::from_secs(3600)
            } else {
                self.cfg.timeout.saturating_sub(start.elapsed())
            };
            let attempt = tokio::select! {
                r = tokio::time::timeout(left, connect_once(&self.cfg, &self.extra_keys)) => match r {
                    Ok(r) => r,
                    Err(_) => Err(Failure::NoBanner("the last attempt was still under way".into())),
                },
                _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
            };
            let why = match attempt {
                Ok(conn) => {
                    if first {
                        ctx.ui.say("Connected to SSH!");
                    }
                    return Ok(conn);
                }
                Err(Failure::Fatal(e)) => return Err(Error::msg(format!("SSH: {e}"))),
                Err(Failure::Auth(r)) => {
                    auth_failures += 1;
                    if self.cfg.handshake_attempts > 0
                        && auth_failures >= self.cfg.handshake_attempts
                    {
                        return Err(Error::msg(format!(
                            "SSH authentication failed {auth_failures} times for user {:?} at {}:{}: {r}. Check ssh_username and the password or key.",
                            self.cfg.auth.user, self.cfg.host, self.cfg.port
                        )));
                    }
                    Failure::Auth(r).to_string()
                }
                Err(f) => f.to_string(),
            };
            if last.as_deref() != Some(why.as_str()) {
                ctx.ui.message(&format!("SSH is not up yet: {why}"));
                tracing::info!("ssh {}:{}: {why}", self.cfg.host, self.cfg.port);
                last = Some(why);
            }
            if !self.cfg.timeout.is_zero() && start.elapsed() >= self.cfg.timeout {
                return Err(Error::msg(format!(
                    "Timeout waiting for SSH: not up after {} (ssh_timeout). The last problem at {}:{} was: {}",
                    forge_template::gocompat::duration::format_std(self.cfg.timeout),
                    self.cfg.host,
                    self.cfg.port,
                    last.unwrap_or_default()
                )));
            }
            ctx.sleep(delay).await?;
            delay = (delay * 2).min(POLL_MAX);
        }
    }

    /// The live connection, reconnecting if it dropped.
    pub(super) async fn conn(&self, ctx: &BuildCtx) -> Result<Arc<Conn>> {
        {
            let g = self.conn.lock().await;
            if let Some(c) = g.as_ref() {
                if !c.handle.is_closed() {
                    return Ok(c.clone());
                }
            }
        }
        *self.conn.lock().await = None;
        tracing::info!("ssh connection lost; reconnecting");
        let mut said = false;
        loop {
            let conn = self.wait_for_ssh(ctx, false).await?;
            if let Some(c) = self.install(ctx, conn).await? {
                return Ok(c);
            }
            if !said {
                ctx.ui
                    .message("The machine is shutting down; waiting for it to come back...");
                said = true;
            }
            ctx.sleep(POLL_MAX).await?;
        }
    }

    /// Opens a session channel, reconnecting once if the connection turns out to be gone.
    pub(super) async fn session(&self, ctx: &BuildCtx) -> Result<Channel<Msg>> {
        let conn = self.conn(ctx).await?;
        match conn.handle.channel_open_session().await {
            Ok(ch) => Ok(ch),
            Err(_) => {
                *self.conn.lock().await = None;
                let conn = self.conn(ctx).await?;
                conn.handle
                    .channel_open_session()
                    .await
                    .map_err(|e| Error::msg(format!("SSH: opening a session: {e}")))
            }
        }
    }

    /// Starts `command` on a new channel.
    pub(super) async fn start(&self, ctx: &BuildCtx, command: &str, pty: bool) -> Result<Chan> {
        let ch = self.session(ctx).await?;
        if pty {
            ch.request_pty(
                true,
                "xterm",
                80,
                40,
                0,
                0,
                &[
                    (russh::Pty::ECHO, 0),
                    (russh::Pty::TTY_OP_ISPEED, 14400),
                    (russh::Pty::TTY_OP_OSPEED, 14400),
                ],
            )
            .await
            .map_err(|e| Error::msg(format!("SSH: requesting a pty: {e}")))?;
        }
        ch.exec(true, command)
            .await
            .map_err(|e| Error::msg(format!("SSH: starting {command:?}: {e}")))?;
        Ok(Chan::new(ch))
    }

    /// Runs a short command on `conn` and returns its stdout.
    async fn capture(&self, _ctx: &BuildCtx, conn: &Conn, command: &str) -> Result<String> {
        let ch = conn
            .handle
            .channel_open_session()
            .await
            .map_err(|e| Error::msg(e.to_string()))?;
        ch.exec(true, command)
            .await
            .map_err(|e| Error::msg(e.to_string()))?;
        let mut c = Chan::new(ch);
        let mut out = Vec::new();
        loop {
            match c.next().await {
                Event::Stdout(d) => out.extend_from_slice(&d),
                Event::Stderr(_) => {}
                Event::End => break,
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Runs `command`, returning its status and stdout (for transfers' own helpers).
    pub(super) async fn run_quiet(&self, ctx: &BuildCtx, command: &str) -> Result<(u32, String)> {
        let mut c = self.start(ctx, command, false).await?;
        let mut out = Vec::new();
        loop {
            match c.next().await {
                Event::Stdout(d) => out.extend_from_slice(&d),
                Event::Stderr(_) => {}
                Event::End => break,
            }
        }
        let code = c.exit.unwrap_or(forge_core::plugin::DISCONNECTED as u32);
        if code != 0 && !c.stderr.is_empty() {
            out.extend_from_slice(&c.stderr);
        }
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    }

    /// Runs a transfer, ending it when the build is cancelled or the connection it started on
    /// drops (a write waiting for the peer's window would otherwise wait for ever).
    async fn guard(
        &self,
        ctx: &BuildCtx,
        fut: impl std::future::Future<Output = Result<()>>,
    ) -> Result<()> {
        let conn = self.conn(ctx).await?;
        let dropped = async {
            while !conn.handle.is_closed() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            r = fut => r,
            _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
            _ = dropped => Err(Error::msg(format!(
                "the SSH connection to {}:{} was lost during the transfer",
                self.cfg.host, self.cfg.port
            ))),
        }
    }

    /// Whether the remote side has `tar` (asked once).
    pub(super) async fn has_tar(&self, ctx: &BuildCtx) -> bool {
        *self
            .has_tar
            .get_or_init(|| async {
                matches!(
                    self.run_quiet(ctx, "command -v tar >/dev/null 2>&1").await,
                    Ok((0, _))
                )
            })
            .await
    }
}

#[async_trait]
impl Communicator for SshComm {
    fn facts(&self) -> forge_core::plugin::BuildData {
        let mut d = forge_core::plugin::BuildData::new();
        d.insert("Host".into(), self.cfg.host.clone());
        d.insert("Port".into(), self.cfg.port.to_string());
        d.insert("User".into(), self.cfg.auth.user.clone());
        d.insert(
            "Password".into(),
            self.cfg.auth.password.clone().unwrap_or_default(),
        );
        d.insert("ConnType".into(), "ssh".into());
        d
    }

    fn ssh_settings(&self) -> Option<forge_core::comm::ssh::SshConfig> {
        let mut cfg = self.cfg.clone();
        cfg.auth.keys_pem.extend(self.extra_keys.iter().cloned());
        Some(cfg)
    }

    async fn exec(
        &self,
        ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        let mut c = self.start(ctx, command, self.cfg.pty).await?;
        let (mut out, mut err) = (Lines::default(), Lines::default());
        let idle = self.cfg.read_write_timeout;
        loop {
            let ev = tokio::select! {
                ev = c.next() => ev,
                _ = ctx.cancel.cancelled() => {
                    c.close().await;
                    return Err(Error::Cancelled);
                }
                _ = tokio::time::sleep(idle.unwrap_or(Duration::MAX)), if idle.is_some() => {
                    c.close().await;
                    return Err(Error::msg(format!(
                        "SSH: no traffic from {command:?} for ssh_read_write_timeout ({})",
                        forge_template::gocompat::duration::format_std(idle.unwrap_or_default())
                    )));
                }
            };
            match ev {
                Event::Stdout(d) => out.push(&d).iter().for_each(|l| output(Stream::Stdout, l)),
                Event::Stderr(d) => err.push(&d).iter().for_each(|l| output(Stream::Stderr, l)),
                Event::End => break,
            }
        }
        if let Some(l) = out.flush() {
            output(Stream::Stdout, &l);
        }
        if let Some(l) = err.flush() {
            output(Stream::Stderr, &l);
        }
        Ok(match c.exit {
            Some(code) => code as i32,
            None => forge_core::plugin::DISCONNECTED,
        })
    }

    async fn upload(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        self.guard(ctx, async {
            match self.cfg.transfer {
                Transfer::Scp => transfer::scp_upload(self, ctx, dst, src).await,
                Transfer::Sftp => transfer::sftp_upload(self, ctx, dst, src).await,
            }
        })
        .await
    }

    async fn upload_dir(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        let tar = self.has_tar(ctx).await;
        self.guard(ctx, async {
            match (tar, self.cfg.transfer) {
                (true, _) => transfer::tar_upload(self, ctx, dst, src).await,
                (false, Transfer::Scp) => transfer::scp_upload_dir(self, ctx, dst, src).await,
                (false, Transfer::Sftp) => transfer::sftp_upload_dir(self, ctx, dst, src).await,
            }
        })
        .await
    }

    async fn download(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        self.guard(ctx, async {
            match self.cfg.transfer {
                Transfer::Scp => transfer::scp_download(self, ctx, src, dst).await,
                Transfer::Sftp => transfer::sftp_download(self, ctx, src, dst).await,
            }
        })
        .await
    }

    async fn download_dir(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let tar = self.has_tar(ctx).await;
        self.guard(ctx, async {
            match (tar, self.cfg.transfer) {
                (true, _) => transfer::tar_download(self, ctx, src, dst).await,
                (false, Transfer::Scp) => transfer::scp_download_dir(self, ctx, src, dst).await,
                (false, Transfer::Sftp) => transfer::sftp_download_dir(self, ctx, src, dst).await,
            }
        })
        .await
    }

    async fn disconnect(&self) {
        for t in self
            .tunnels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
        if let Some(c) = self.conn.lock().await.take() {
            let _ = c
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            if let Some(b) = &c.bastion {
                let _ = b
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
            }
        }
    }

    fn boots(&self) -> u64 {
        self.boots.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks() {
        let mut l = Lines::default();
        let mut got = l.push(b"a\r\nb");
        got.extend(l.push(b"c\nd"));
        got.extend(l.flush());
        assert_eq!(got, ["a", "bc", "d"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
    }
}
