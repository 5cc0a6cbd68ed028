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
/// many calls came before it); by default everything succeeds with status 0.
pub struct FakeComm {
    calls: Mutex<Vec<Call>>,
    script: Mutex<Script>,
    boots: AtomicU64,
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
            calls: Mutex::new(Vec::new()),
            script: Mutex::new(Box::new(script)),
            boots: AtomicU64::new(0),
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
