//! Test doubles for the crates built on forge-core (compiled for forge-core's own tests and, for
//! other crates, with the `testing` feature their dev-dependencies turn on).
//!
//! [`FakeComm`] is a scripted [`Communicator`]: it records every call and answers each from a
//! script, so steps and provisioners can be tested without a machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::plugin::{BuildCtx, Communicator, Stream};
use crate::{Error, Result};

/// One call made to a [`FakeComm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `exec(command)`.
    Exec(String),
    /// `upload(dst, src)`, with the bytes `src` held at the time.
    Upload(String, PathBuf, Vec<u8>),
    /// `upload_dir(dst, src)`.
    UploadDir(String, PathBuf),
    /// `download(src, dst)`.
    Download(String, PathBuf),
    /// `download_dir(src, dst)`.
    DownloadDir(String, PathBuf),
}

/// What a [`FakeComm`] answers to one call.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Output lines an `exec` prints.
    pub output: Vec<(Stream, String)>,
    /// The exit status (for `exec`), or the error.
    pub result: Result<i32>,
    /// The machine rebooted just before this call was answered.
    pub reboot: bool,
}

impl Reply {
    /// Success with exit status `code`.
    pub fn code(code: i32) -> Reply {
        Reply {
            output: Vec::new(),
            result: Ok(code),
            reboot: false,
        }
    }

    /// A failure with `msg`.
    pub fn fail(msg: &str) -> Reply {
        Reply {
            output: Vec::new(),
            result: Err(Error::msg(msg)),
            reboot: false,
        }
    }

    /// Success with these output lines.
    pub fn out(lines: &[(Stream, &str)]) -> Reply {
        Reply {
            output: lines.iter().map(|(s, l)| (*s, l.to_string())).collect(),
            result: Ok(0),
            reboot: false,
        }
    }

    /// The same reply, answered from a freshly booted machine.
    pub fn after_reboot(mut self) -> Reply {
        self.reboot = true;
        self
    }
}

type Script = Box<dyn FnMut(&Call, usize) -> Reply + Send>;

/// A communicator that records calls and answers each from a script (given the call and how
/// many calls came before it); by default everything succeeds with status 0. Clones share the
/// record and the script (so a test can hand one to a provisioner as an `Arc` and read the
/// other).
#[derive(Clone)]
pub struct FakeComm {
    calls: std::sync::Arc<Mutex<Vec<Call>>>,
    script: std::sync::Arc<Mutex<Script>>,
    boots: std::sync::Arc<AtomicU64>,
    /// Bytes `download` writes, by remote path (nothing for other paths).
    pub remote_files: BTreeMap<String, Vec<u8>>,
}

impl Default for FakeComm {
    fn default() -> Self {
        FakeComm::new()
    }
}

/// Locks `m`, ignoring poisoning (a failed test thread must not hide what was recorded).
fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeComm {
    /// Everything succeeds.
    pub fn new() -> FakeComm {
        FakeComm::scripted(|_, _| Reply::code(0))
    }

    /// Answers from `script`.
    pub fn scripted(script: impl FnMut(&Call, usize) -> Reply + Send + 'static) -> FakeComm {
        FakeComm {
            calls: Default::default(),
            script: std::sync::Arc::new(Mutex::new(Box::new(script))),
            boots: Default::default(),
            remote_files: BTreeMap::new(),
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The commands run so far.
    pub fn commands(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Exec(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The uploads so far: destination and the bytes sent, as text (lossy).
    pub fn uploads(&self) -> Vec<(String, String)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Upload(dst, _, bytes) => {
                    Some((dst, String::from_utf8_lossy(&bytes).into_owned()))
                }
                _ => None,
            })
            .collect()
    }

    fn answer(&self, call: Call) -> Reply {
        let mut calls = lock(&self.calls);
        let n = calls.len();
        let reply = (lock(&self.script))(&call, n);
        calls.push(call);
        if reply.reboot {
            self.boots.fetch_add(1, Ordering::SeqCst);
        }
        reply
    }
}

#[async_trait]
impl Communicator for FakeComm {
    async fn exec(
        &self,
        _ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        let reply = self.answer(Call::Exec(command.to_string()));
        for (s, l) in reply.output {
            output(s, &l);
        }
        reply.result
    }

    async fn upload(&self, _ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        let bytes = std::fs::read(src).unwrap_or_default();
        let call = Call::Upload(dst.to_string(), src.to_path_buf(), bytes);
        self.answer(call).result.map(drop)
    }

    async fn upload_dir(&self, _ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        let call = Call::UploadDir(dst.to_string(), src.to_path_buf());
        self.answer(call).result.map(drop)
    }

    async fn download(&self, _ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let reply = self.answer(Call::Download(src.to_string(), dst.to_path_buf()));
        if reply.result.is_ok() {
            let bytes = self.remote_files.get(src).cloned().unwrap_or_default();
            std::fs::write(dst, bytes).map_err(|e| Error::msg(e.to_string()))?;
        }
        reply.result.map(drop)
    }

    async fn download_dir(&self, _ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let call = Call::DownloadDir(src.to_string(), dst.to_path_buf());
        self.answer(call).result.map(drop)
    }

    fn boots(&self) -> u64 {
        self.boots.load(Ordering::SeqCst)
    }
}

/// A configuration value from JSON (which must be one forge reads).
pub fn value(j: serde_json::Value) -> forge_template::value::Value {
    forge_template::functions::value_from_json(j)
        .unwrap_or_else(|e| panic!("not a JSON value forge reads: {e}"))
}

/// What Packer injects when a plugin of a legacy JSON template is configured for a build of
/// type and name `builder`.
pub fn info(builder: &str) -> crate::plugin::PrepareInfo {
    crate::plugin::PrepareInfo {
        build_name: builder.into(),
        builder_type: builder.into(),
        template_dir: ".".into(),
        opts: Default::default(),
        legacy: true,
        connectors: Default::default(),
        warnings: Default::default(),
    }
}

/// A build UI for `target` (no colour, no timestamps) and the buffer it prints into.
pub fn ui(target: &str) -> (crate::ui::Ui, crate::ui::Buffer) {
    let buf = crate::ui::Buffer::default();
    let out = crate::ui::Output::new(
        crate::ui::Mode::Human {
            color: false,
            timestamp: false,
        },
        Box::new(buf.clone()),
        crate::redact::Redactor::new(),
    );
    (crate::ui::Ui::new(out, target, None), buf)
}

/// A build context for `name` with a fresh run id, whose UI prints into the returned buffer.
pub fn ctx(name: &str) -> (BuildCtx, crate::ui::Buffer) {
    let (ui, buf) = ui(name);
    let mut c = BuildCtx::for_test(name);
    c.ui = ui;
    c.run_id = format!("t{}", uuid::Uuid::new_v4().simple());
    (c, buf)
}

/// A real [`Communicator`] to this machine: commands run under `sh -c` (in their own process
/// group, like every local command of forge), files are copied with `cp -a`. It stands in for a
/// machine where a test needs real command semantics (exit codes, output, files) and no remote
/// system: the ansible adapter's and ansible-local's tests drive real Ansible through it.
#[derive(Debug, Default)]
pub struct LocalComm;

impl LocalComm {
    async fn sh(&self, ctx: &BuildCtx, argv: Vec<String>) -> Result<()> {
        let cmd = crate::local::LocalCommand {
            argv,
            ..Default::default()
        };
        let mut lines = Vec::new();
        let code =
            crate::local::run_command(ctx, &cmd, &mut |_, l| lines.push(l.to_string())).await?;
        match code {
            0 => Ok(()),
            c => Err(Error::msg(format!(
                "{} exited {c}: {}",
                cmd.argv.join(" "),
                lines.join("\n")
            ))),
        }
    }
}

#[async_trait]
impl Communicator for LocalComm {
    async fn exec(
        &self,
        ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        let cmd = crate::local::LocalCommand {
            argv: vec!["sh".into(), "-c".into(), command.into()],
            ..Default::default()
        };
        crate::local::run_command(ctx, &cmd, output).await
    }

    async fn upload(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        let src = src.to_string_lossy().into_owned();
        self.sh(ctx, vec!["cp".into(), src, dst.into()]).await
    }

    async fn upload_dir(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        // Packer's rule: `src/` copies the contents, `src` the directory itself.
        let s = src.to_string_lossy().into_owned();
        let from = if s.ends_with('/') { format!("{s}.") } else { s };
        let mk = vec!["mkdir".into(), "-p".into(), dst.into()];
        self.sh(ctx, mk).await?;
        self.sh(ctx, vec!["cp".into(), "-a".into(), from, dst.into()])
            .await
    }

    async fn download(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let dst = dst.to_string_lossy().into_owned();
        self.sh(ctx, vec!["cp".into(), src.into(), dst]).await
    }

    async fn download_dir(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let from = if src.ends_with('/') {
            format!("{src}.")
        } else {
            src.to_string()
        };
        let dst = dst.to_string_lossy().into_owned();
        let mk = vec!["mkdir".into(), "-p".into(), dst.clone()];
        self.sh(ctx, mk).await?;
        self.sh(ctx, vec!["cp".into(), "-a".into(), from, dst])
            .await
    }
}
