//! The WinRM communicator: waits for the machine (saying why it is not up yet), runs each
//! command in a shell of its own as Packer does (so reboots between commands need no
//! reconnect), streams output, signals Ctrl-C on cancel, and moves files through a command's
//! stdin.

use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_core::comm::WinrmConfig;
use forge_core::plugin::{BuildCtx, Communicator, Stream, DISCONNECTED};
use forge_core::{Error, Result};
use tokio_util::sync::CancellationToken;
use winrm_rs::{Shell, WinrmClient, WinrmError};

use super::client::{self, ENVELOPE_LARGE, ENVELOPE_SMALL};
use super::transfer::{self, LineDecoder};
use crate::lines::Lines;

/// How often the connect loop asks: well under the 0.5 s the first command may lag behind
/// the endpoint answering (Packer waits 5 s between attempts).
const POLL: Duration = Duration::from_millis(250);

/// Packer's connect probe (its `winrm.Powershell` of `echo "WinRM connected."`): the machine
/// is up when the output says so.
const PROBE_SCRIPT: &str = "echo \"WinRM connected.\"";
const PROBE_ANSWER: &str = "WinRM connected.";

/// How long cleanup requests (Signal, Delete) may take before forge stops waiting.
const CLEANUP: Duration = Duration::from_secs(10);

/// A WinRM connection to the machine being built.
pub struct WinrmComm {
    cfg: WinrmConfig,
    client: WinrmClient,
    host: String,
    /// The request size transfers use: [`ENVELOPE_LARGE`] until the server refuses it.
    envelope: AtomicU32,
}

/// Why a command could not run to its end.
enum Failure {
    /// The WinRM exchange failed (before or while the command ran).
    Winrm(WinrmError),
    /// The run was cancelled (the command was signalled).
    Cancelled,
    /// Something on this side failed (reading the local file, ...).
    Local(Error),
}

impl Failure {
    fn into_error(self, what: &str) -> Error {
        match self {
            Failure::Winrm(e) => Error::msg(format!("{what}: {}", client::describe(&e))),
            Failure::Cancelled => Error::Cancelled,
            Failure::Local(e) => e,
        }
    }
}

/// Where a command's output goes, as raw bytes per stream.
type Sink<'a> = dyn FnMut(Stream, &[u8]) -> Result<()> + Send + 'a;

/// The Windows form of `"C:/dir/"`'s test: a destination naming a directory.
fn ends_with_separator(p: &str) -> bool {
    p.ends_with('/') || p.ends_with('\\')
}

impl WinrmComm {
    /// Waits until the machine answers Packer's probe (within `winrm_timeout`).
    pub async fn open(ctx: &BuildCtx, cfg: WinrmConfig) -> Result<WinrmComm> {
        if let Some(pw) = &cfg.password {
            ctx.ui.output().redactor().add(pw);
        }
        let comm = WinrmComm {
            client: client::build(&cfg, ENVELOPE_LARGE)?,
            host: client::host(&cfg),
            envelope: AtomicU32::new(ENVELOPE_LARGE),
            cfg,
        };
        if !comm.cfg.pause_before_connecting.is_zero() {
            comm.wait_for_winrm(ctx, false).await?;
            ctx.ui.say(&format!(
                "Pausing {} before connecting...",
                forge_template::gocompat::duration::format_std(comm.cfg.pause_before_connecting)
            ));
            ctx.sleep(comm.cfg.pause_before_connecting).await?;
        }
        comm.wait_for_winrm(ctx, true).await?;
        Ok(comm)
    }

    /// Probes every [`POLL`] until the probe's output says the machine is up, reporting each
    /// new reason it is not; the timeout names the last one.
    async fn wait_for_winrm(&self, ctx: &BuildCtx, first: bool) -> Result<()> {
        if first {
            ctx.ui.say("Waiting for WinRM to become available...");
        }
        let start = Instant::now();
        let mut last: Option<String> = None;
        loop {
            let left = self.cfg.timeout.saturating_sub(start.elapsed());
            let mut out = Vec::new();
            let attempt = tokio::time::timeout(
                left.max(Duration::from_millis(1)),
                self.run(
                    &ctx.cancel,
                    &packer_powershell(PROBE_SCRIPT),
                    None,
                    &mut |s, d| {
                        if s == Stream::Stdout {
                            out.extend_from_slice(d);
                        }
                        Ok(())
                    },
                ),
            )
            .await;
            let why = match attempt {
                Err(_) => "the last attempt was still under way".to_string(),
                Ok(Err(Failure::Cancelled)) => return Err(Error::Cancelled),
                Ok(Err(Failure::Local(e))) => return Err(e),
                Ok(Err(Failure::Winrm(e))) => client::why(&self.cfg, &e).await,
                Ok(Ok(code)) => {
                    let text = String::from_utf8_lossy(&out);
                    if text.contains(PROBE_ANSWER) {
                        if first {
                            for l in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                                ctx.ui.message(l);
                            }
                            ctx.ui.say("Connected to WinRM!");
                        }
                        return Ok(());
                    }
                    format!("the probe exited with status {code} without printing {PROBE_ANSWER:?}")
                }
            };
            if last.as_deref() != Some(why.as_str()) {
                ctx.ui.message(&format!("WinRM is not up yet: {why}"));
                tracing::info!("winrm {}:{}: {why}", self.cfg.host, self.cfg.port);
                last = Some(why);
            }
            if start.elapsed() >= self.cfg.timeout {
                return Err(Error::msg(format!(
                    "Timeout waiting for WinRM: not up after {} (winrm_timeout). The last problem at {} was: {}",
                    forge_template::gocompat::duration::format_std(self.cfg.timeout),
                    client::endpoint(&self.cfg),
                    last.unwrap_or_default()
                )));
            }
            ctx.sleep(POLL).await?;
        }
    }

    /// Runs `command` in a shell of its own: feeds `stdin` (when given) in envelope-sized
    /// lines, passes output to `sink`, and returns the exit status. Cancelling signals the
    /// command (Ctrl-C) and deletes the shell.
    async fn run(
        &self,
        cancel: &CancellationToken,
        command: &str,
        stdin: Option<&mut (dyn Read + Send)>,
        sink: &mut Sink<'_>,
    ) -> std::result::Result<i32, Failure> {
        let shell = tokio::select! {
            s = self.client.open_shell(&self.host) => s.map_err(Failure::Winrm)?,
            _ = cancel.cancelled() => return Err(Failure::Cancelled),
        };
        let r = self.run_in(cancel, &shell, command, stdin, sink).await;
        // The shell goes whatever happened; a machine that went away takes it along.
        let _ = tokio::time::timeout(CLEANUP, shell.close()).await;
        r
    }

    async fn run_in(
        &self,
        cancel: &CancellationToken,
        shell: &Shell<'_>,
        command: &str,
        stdin: Option<&mut (dyn Read + Send)>,
        sink: &mut Sink<'_>,
    ) -> std::result::Result<i32, Failure> {
        let id = tokio::select! {
            r = shell.start_command(command, &[]) => r.map_err(Failure::Winrm)?,
            _ = cancel.cancelled() => return Err(Failure::Cancelled),
        };
        let mut send_error = None;
        if let Some(input) = stdin {
            let size = transfer::chunk_size(self.envelope.load(Ordering::Relaxed));
            let mut cur = read_full(input, size).map_err(Failure::Local)?;
            loop {
                let next = if cur.len() == size {
                    read_full(input, size).map_err(Failure::Local)?
                } else {
                    Vec::new()
                };
                let last = next.is_empty();
                let data = if cur.is_empty() {
                    Vec::new()
                } else {
                    transfer::line(&cur)
                };
                let sent = tokio::select! {
                    r = shell.send_input(&id, &data, last) => r,
                    _ = cancel.cancelled() => {
                        interrupt(shell, &id).await;
                        return Err(Failure::Cancelled);
                    }
                };
                if let Err(e) = sent {
                    // A refused envelope is retried smaller by the caller; the shell goes.
                    if client::is_too_large(&e) {
                        return Err(Failure::Winrm(e));
                    }
                    // A command that ended early says why in its output; look there first,
                    // but not for longer than a clean-up.
                    interrupt(shell, &id).await;
                    send_error = Some(e);
                    break;
                }
                if last {
                    break;
                }
                cur = next;
            }
        }
        let deadline = tokio::time::Instant::now() + CLEANUP;
        loop {
            let got = tokio::select! {
                r = shell.receive_next(&id) => r,
                _ = tokio::time::sleep_until(deadline), if send_error.is_some() => {
                    return Err(Failure::Winrm(send_error.take().unwrap_or_else(|| unreachable!())));
                }
                _ = cancel.cancelled() => {
                    interrupt(shell, &id).await;
                    return Err(Failure::Cancelled);
                }
            };
            match got {
                Ok(o) => {
                    if !o.stdout.is_empty() {
                        sink(Stream::Stdout, &o.stdout).map_err(Failure::Local)?;
                    }
                    if !o.stderr.is_empty() {
                        sink(Stream::Stderr, &o.stderr).map_err(Failure::Local)?;
                    }
                    if o.done {
                        let code = o.exit_code.unwrap_or(0);
                        return match send_error {
                            Some(e) => Err(Failure::Winrm(e)),
                            None => Ok(code),
                        };
                    }
                }
                Err(e) if client::is_timed_out(&e) => continue,
                Err(e) => return Err(Failure::Winrm(send_error.unwrap_or(e))),
            }
        }
    }

    /// Runs a transfer script, feeding `stdin`; retries once with the small envelope when the
    /// server refuses the large one. Non-zero exits fail with the script's error output.
    async fn transfer<R: Read + Seek + Send>(
        &self,
        cancel: &CancellationToken,
        what: &str,
        script: &str,
        mut stdin: Option<&mut R>,
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        let command = transfer::powershell_command(script);
        loop {
            let envelope = self.envelope.load(Ordering::Relaxed);
            let mut err = Vec::new();
            let r = {
                let mut both = |s: Stream, d: &[u8]| -> Result<()> {
                    match s {
                        Stream::Stdout => sink(s, d),
                        Stream::Stderr => {
                            err.extend_from_slice(d);
                            Ok(())
                        }
                    }
                };
                let input = stdin.as_mut().map(|r| &mut **r as &mut (dyn Read + Send));
                self.run(cancel, &command, input, &mut both).await
            };
            match r {
                Ok(0) => return Ok(()),
                Ok(code) => {
                    let text = String::from_utf8_lossy(&err);
                    let text = text.trim();
                    return Err(Error::msg(if text.is_empty() {
                        format!("{what}: exit status {code}")
                    } else {
                        format!("{what}: {text}")
                    }));
                }
                // (Parts in flight together each retry once.)
                Err(Failure::Winrm(e))
                    if client::is_too_large(&e) && envelope != ENVELOPE_SMALL =>
                {
                    if self.envelope.swap(ENVELOPE_SMALL, Ordering::Relaxed) != ENVELOPE_SMALL {
                        tracing::info!("winrm: the server refused {ENVELOPE_LARGE}-byte envelopes; using {ENVELOPE_SMALL}");
                    }
                    if let Some(r) = stdin.as_mut() {
                        r.rewind().map_err(|e| Error::msg(format!("{what}: {e}")))?;
                    }
                }
                Err(f) => return Err(f.into_error(what)),
            }
        }
    }
}

/// Packer's `winrm.Powershell`: the script, progress bars off, as `powershell.exe
/// -EncodedCommand`.
fn packer_powershell(script: &str) -> String {
    format!(
        "powershell.exe -EncodedCommand {}",
        transfer::encode(&format!(
            "$ProgressPreference = 'SilentlyContinue';{script}"
        ))
    )
}

/// Signals Ctrl-C to a running command, within [`CLEANUP`].
async fn interrupt(shell: &Shell<'_>, id: &str) {
    let _ = tokio::time::timeout(CLEANUP, shell.signal_ctrl_c(id)).await;
}

/// Reads up to `n` bytes (fewer only at the end).
fn read_full(r: &mut (dyn Read + Send), n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::msg(format!("reading the upload: {e}"))),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

fn open(p: &Path) -> Result<std::fs::File> {
    std::fs::File::open(p).map_err(|e| {
        Error::msg(forge_template::gocompat::os_error(
            "open",
            &p.to_string_lossy(),
            &e,
        ))
    })
}

#[async_trait]
impl Communicator for WinrmComm {
    async fn exec(
        &self,
        ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        let (mut out, mut err) = (Lines::default(), Lines::default());
        let r = self
            .run(&ctx.cancel, command, None, &mut |s, d| {
                let lines = match s {
                    Stream::Stdout => out.push(d),
                    Stream::Stderr => err.push(d),
                };
                lines.iter().for_each(|l| output(s, l));
                Ok(())
            })
            .await;
        out.flush().iter().for_each(|l| output(Stream::Stdout, l));
        err.flush().iter().for_each(|l| output(Stream::Stderr, l));
        match r {
            Ok(code) => Ok(code),
            // The command started and the machine went away (a reboot): Packer's status.
            Err(Failure::Winrm(e)) if client::is_transport(&e) => {
                tracing::info!("winrm: {command:?}: {}", client::describe(&e));
                Ok(DISCONNECTED)
            }
            Err(f) => Err(f.into_error("WinRM")),
        }
    }

    fn facts(&self) -> forge_core::plugin::BuildData {
        let pw = self.cfg.password.clone().unwrap_or_default();
        let mut d = forge_core::plugin::BuildData::new();
        d.insert("Host".into(), self.cfg.host.clone());
        d.insert("Port".into(), self.cfg.port.to_string());
        d.insert("User".into(), self.cfg.user.clone());
        d.insert("Password".into(), pw.clone());
        d.insert("WinRMPassword".into(), pw);
        d.insert("ConnType".into(), "winrm".into());
        d
    }

    async fn upload(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        let mut dst = dst.to_string();
        if ends_with_separator(&dst) {
            if let Some(name) = src.file_name() {
                dst.push_str(&name.to_string_lossy());
            }
        }
        let what = format!("Upload of {} to {dst}", src.display());
        let mut f = open(src)?;
        let len = f
            .metadata()
            .map_err(|e| Error::msg(format!("{what}: {e}")))?
            .len();
        let chunk = transfer::chunk_size(self.envelope.load(Ordering::Relaxed));
        let parts = transfer::parts(len, chunk);
        if parts.len() == 1 {
            let script = transfer::upload_script(&dst);
            return self
                .transfer(
                    &ctx.cancel,
                    &what,
                    &script,
                    Some(&mut f),
                    &mut |_, _| Ok(()),
                )
                .await;
        }
        // Several commands in flight, each writing its range of the file.
        let local = |e: std::io::Error| Error::msg(format!("{what}: {e}"));
        let mut readers = Vec::new();
        for (start, n) in &parts {
            // Each part reads through a handle (and file position) of its own.
            let part = transfer::Part::new(open(src)?, *start, *n).map_err(local)?;
            readers.push((*start, part));
        }
        let sends = readers.iter_mut().map(|(start, r)| {
            let script = transfer::upload_part_script(&dst, *start);
            let what = &what;
            async move {
                self.transfer(&ctx.cancel, what, &script, Some(r), &mut |_, _| Ok(()))
                    .await
            }
        });
        let sent = futures_util::future::join_all(sends).await;
        let mut r = sent.into_iter().collect::<Result<Vec<()>>>().map(drop);
        if r.is_ok() {
            r = self
                .transfer(
                    &ctx.cancel,
                    &what,
                    &transfer::commit_script(&dst, len),
                    None::<&mut std::fs::File>,
                    &mut |_, _| Ok(()),
                )
                .await;
        }
        if r.is_err() {
            // Also after an interrupt: the discard is not cancelled.
            let never = CancellationToken::new();
            let script = transfer::discard_script(&dst);
            let mut quiet = |_: Stream, _: &[u8]| Ok(());
            let discard = self.transfer(
                &never,
                &what,
                &script,
                None::<&mut std::fs::File>,
                &mut quiet,
            );
            let _ = tokio::time::timeout(CLEANUP, discard).await;
        }
        r
    }

    async fn upload_dir(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        // Packer: `src` without a trailing slash lands as dst\basename(src).
        let text = src.to_string_lossy();
        let dst = if text.ends_with('/') {
            dst.to_string()
        } else {
            let base = forge_template::gocompat::path::base(&text);
            format!("{}\\{base}", dst.trim_end_matches(['/', '\\']))
        };
        let archive =
            tempfile::tempfile().map_err(|e| Error::msg(format!("temporary file: {e}")))?;
        let mut archive = transfer::zip_dir(src, archive)?;
        archive
            .rewind()
            .map_err(|e| Error::msg(format!("temporary file: {e}")))?;
        self.transfer(
            &ctx.cancel,
            &format!("Upload of {} to {dst}", src.display()),
            &transfer::unzip_script(&dst),
            Some(&mut archive),
            &mut |_, _| Ok(()),
        )
        .await
    }

    async fn download(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let mut f = std::fs::File::create(dst).map_err(|e| {
            Error::msg(forge_template::gocompat::os_error(
                "open",
                &dst.to_string_lossy(),
                &e,
            ))
        })?;
        let mut dec = LineDecoder::default();
        self.transfer(
            &ctx.cancel,
            &format!("Download of {src}"),
            &transfer::download_script(src),
            None::<&mut std::fs::File>,
            &mut |_, d| dec.push(d, &mut f),
        )
        .await?;
        dec.finish(&mut f)?;
        f.flush()
            .map_err(|e| Error::msg(format!("{}: {e}", dst.display())))
    }

    async fn download_dir(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let mut archive =
            tempfile::tempfile().map_err(|e| Error::msg(format!("temporary file: {e}")))?;
        let mut dec = LineDecoder::default();
        self.transfer(
            &ctx.cancel,
            &format!("Download of {src}"),
            &transfer::download_dir_script(src),
            None::<&mut std::fs::File>,
            &mut |_, d| dec.push(d, &mut archive),
        )
        .await?;
        dec.finish(&mut archive)?;
        archive
            .rewind()
            .map_err(|e| Error::msg(format!("temporary file: {e}")))?;
        transfer::unzip_into(archive, dst)
    }
}
