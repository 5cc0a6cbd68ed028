//! Test helpers: configurations from JSON, a UI whose output can be read back, and a scripted
//! `Communicator` double that records every call. (End-to-end tests against a real OpenSSH
//! server are added separately.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, Communicator, PrepareInfo, Stream};
use forge_core::ui::{Buffer, Mode, Output, Ui};
use forge_core::{Error, Result};
use forge_template::value::number::Number;
use forge_template::value::Value;

/// A configuration value from JSON.
pub fn value(j: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::dynamic_null(),
        J::Bool(b) => Value::bool(b),
        J::Number(n) => Value::number(Number::parse(&n.to_string()).expect("a number")),
        J::String(s) => Value::string(s),
        J::Array(items) => Value::tuple(items.into_iter().map(value).collect()),
        J::Object(m) => Value::object(m.into_iter().map(|(k, v)| (k, value(v))).collect()),
    }
}

/// What Packer injects: build `null`, builder type `null`.
pub fn info() -> PrepareInfo {
    PrepareInfo {
        build_name: "null".into(),
        builder_type: "null".into(),
        template_dir: ".".into(),
        opts: Default::default(),
        legacy: true,
        connectors: Default::default(),
        warnings: Default::default(),
    }
}

/// A build UI (target `null`, no colour) and the buffer it prints into.
pub fn ui() -> (Ui, Buffer) {
    let buf = Buffer::default();
    let out = Output::new(
        Mode::Human {
            color: false,
            timestamp: false,
        },
        Box::new(buf.clone()),
        forge_core::redact::Redactor::new(),
    );
    (Ui::new(out, "null", None), buf)
}

/// One call the provisioner made.
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

/// What the double answers to one call.
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

    /// Success with these stdout lines.
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
    boots: std::sync::atomic::AtomicU64,
    /// Bytes `download` writes.
    pub remote_files: BTreeMap<String, Vec<u8>>,
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
            boots: Default::default(),
            remote_files: BTreeMap::new(),
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
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

    fn answer(&self, call: Call) -> Reply {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.len();
        let reply = (self.script.lock().unwrap())(&call, n);
        calls.push(call);
        if reply.reboot {
            self.boots
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
        self.boots.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A fresh scratch directory under the system's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "forge-prov-test-{name}-{}-{}",
        std::process::id(),
        getrandom::u32().unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
