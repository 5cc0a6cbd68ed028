//! The plugin traits (builder, provisioner, post-processor, data source, communicator) and the
//! context every plugin receives.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::events::Events;
use crate::journal::Journal;
use crate::timeline::Timeline;
use crate::ui::Ui;
use crate::{Error, Result};

/// What to do when a build step fails (`-on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Clean up everything (the default).
    #[default]
    Cleanup,
    /// Leave everything as it is.
    Abort,
    /// Ask: clean up, abort, or retry the step.
    Ask,
    /// Like abort, but run the `error-cleanup-provisioner`.
    RunCleanupProvisioner,
}

impl OnError {
    /// Parses the flag value; `""` is cleanup.
    pub fn parse(s: &str) -> Option<OnError> {
        Some(match s {
            "" | "cleanup" => OnError::Cleanup,
            "abort" => OnError::Abort,
            "ask" => OnError::Ask,
            "run-cleanup-provisioner" => OnError::RunCleanupProvisioner,
            _ => return None,
        })
    }

    /// The flag's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Cleanup => "cleanup",
            OnError::Abort => "abort",
            OnError::Ask => "ask",
            OnError::RunCleanupProvisioner => "run-cleanup-provisioner",
        }
    }
}

/// Run-wide switches plugins may look at.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `-debug`: pause between steps.
    pub debug: bool,
    /// `-force`: replace existing output.
    pub force: bool,
    /// `-on-error`.
    pub on_error: OnError,
}

/// Values a build generates while it runs: `build.*` in HCL2, `{{ .X }}` / `{{ build `X` }}` in
/// legacy templates (`ID`, `Host`, `PackerRunUUID`, ...).
pub type BuildData = BTreeMap<String, String>;

/// Everything a plugin may touch while a build runs.
pub struct BuildCtx {
    /// The build's name (`[build.]type.name`).
    pub name: String,
    /// The builder type.
    pub builder_type: String,
    /// The source's name (`packer_build_name`).
    pub source_name: String,
    /// The build's UI.
    pub ui: Ui,
    /// Cancelled on interrupt; every wait takes it.
    pub cancel: CancellationToken,
    /// The run's resource journal.
    pub journal: Arc<Journal>,
    /// The run's event stream.
    pub events: Arc<Events>,
    /// Run options.
    pub opts: RunOptions,
    /// The run id (`PACKER_RUN_UUID`).
    pub run_id: String,
    /// The template's directory.
    pub template_dir: PathBuf,
    /// The build's phases.
    pub timeline: Timeline,
    /// Set when the build aborts without cleanup (`-on-error=abort`): temporary resources are
    /// then kept for inspection (and for `forge cleanup`).
    pub keep_resources: Arc<std::sync::atomic::AtomicBool>,
}

impl BuildCtx {
    /// Runs `fut` until it finishes, the run is cancelled, or `deadline` passes; the error says
    /// what was awaited and for how long.
    pub async fn wait<T>(
        &self,
        what: &str,
        deadline: Duration,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::select! {
            r = tokio::time::timeout(deadline, fut) => match r {
                Ok(r) => r,
                Err(_) => Err(Error::msg(format!(
                    "timed out after {} waiting for {what}",
                    crate::durafmt::format(deadline)
                ))),
            },
            _ = self.cancel.cancelled() => Err(Error::Cancelled),
        }
    }

    /// Asks the user (debug pauses, `-on-error=ask`, breakpoints); `None` when the run is
    /// cancelled while waiting for the answer.
    pub async fn ask(&self, prompt: &str) -> Option<String> {
        tokio::select! {
            a = self.ui.ask(prompt) => Some(a),
            _ = self.cancel.cancelled() => None,
        }
    }

    /// Sleeps for `d` unless the run is cancelled first.
    pub async fn sleep(&self, d: Duration) -> Result<()> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancel.cancelled() => Err(Error::Cancelled),
        }
    }

    /// Records a local temporary file or directory in the journal before it is created; the
    /// returned guard marks it deleted.
    pub fn journal_path(&self, kind: &str, path: &Path) -> Result<crate::journal::Resource> {
        let p = path.to_string_lossy();
        self.journal
            .intend(&self.name, kind, &p, serde_json::json!({ "path": p }))
    }

    /// A context for unit tests: a hidden UI, an in-memory journal, no events.
    pub fn for_test(name: &str) -> BuildCtx {
        let out = crate::ui::Output::new(
            crate::ui::Mode::Human {
                color: false,
                timestamp: false,
            },
            Box::new(crate::ui::Buffer::default()),
            crate::redact::Redactor::new(),
        );
        BuildCtx {
            name: name.to_string(),
            builder_type: name.split('.').next().unwrap_or(name).to_string(),
            source_name: name.rsplit('.').next().unwrap_or(name).to_string(),
            ui: Ui::new(out, name, None),
            cancel: CancellationToken::new(),
            journal: Journal::in_memory("test"),
            events: Events::disabled(),
            opts: RunOptions::default(),
            run_id: "test".into(),
            template_dir: PathBuf::from("."),
            timeline: Timeline::default(),
            keep_resources: Default::default(),
        }
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The exit status Packer reports when the connection dropped during a command.
pub const DISCONNECTED: i32 = 2_300_218;

/// How provisioners reach the machine being built (ssh, winrm, docker exec, ...).
#[async_trait]
pub trait Communicator: Send + Sync {
    /// Runs `command`, passing output lines to `output`; returns the exit status, or
    /// [`DISCONNECTED`] when the connection dropped.
    async fn exec(
        &self,
        ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32>;
    /// Uploads the local file `src` to `dst`.
    async fn upload(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()>;
    /// Uploads the local directory `src` to `dst` (Packer's trailing-slash rules).
    async fn upload_dir(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()>;
    /// Downloads the remote file `src` to the local `dst`.
    async fn download(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()>;
    /// Downloads the remote directory `src` into the local `dst`.
    async fn download_dir(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()>;
    /// Closes the connection (the default does nothing).
    async fn disconnect(&self) {}
    /// The SSH settings this communicator reached the machine with: the address and port it
    /// connected to, its credentials (the build's temporary key among them), bastion and proxy.
    /// Tools that connect on their own (Ansible) use them; `None` when it is not SSH.
    fn ssh_settings(&self) -> Option<crate::comm::ssh::SshConfig> {
        None
    }
    /// Packer's connection facts for `build.*`: `Host`, `Port`, `User`, `Password`,
    /// `ConnType` (and `WinRMPassword` over WinRM). Empty by default.
    fn facts(&self) -> BuildData {
        BuildData::new()
    }
    /// How many times a reconnect has found the machine freshly booted; a change between two
    /// calls means what the first left in volatile places (like `/tmp`) may be gone.
    fn boots(&self) -> u64 {
        0
    }
}

/// Runs the build's provisioners; builders call it from their provisioning step.
#[async_trait]
pub trait Hook: Send + Sync {
    /// Runs every provisioner in order; the first error stops.
    async fn provision(
        &self,
        ctx: &BuildCtx,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()>;
    /// Runs the `error-cleanup-provisioner`, if any.
    async fn cleanup_provision(
        &self,
        ctx: &BuildCtx,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()>;
}

/// A builder: makes the machine, hands it to the hook, produces an artifact.
#[async_trait]
pub trait Builder: Send + Sync {
    /// Runs the build; `None` is a build with nothing to keep.
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>>;
}

/// A provisioner: changes the machine through the communicator (or locally).
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Provisions.
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()>;
}

/// A post-processor's result (Packer's `(artifact, keep, forceOverride)`).
pub struct PostProcessed {
    /// The new artifact; `None` ends the chain silently.
    pub artifact: Option<Arc<dyn Artifact>>,
    /// Whether the input artifact is kept by default.
    pub keep: bool,
    /// Whether `keep` wins over a user's `keep_input_artifact = false`.
    pub force_override: bool,
}

/// A post-processor: turns an artifact into another.
#[async_trait]
pub trait PostProcessor: Send + Sync {
    /// Processes `input`.
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed>;
}

/// A data source: evaluated before builds, its result read as `data.<type>.<name>`.
#[async_trait]
pub trait DataSource: Send + Sync {
    /// Fetches the data.
    async fn execute(&self) -> Result<serde_json::Value>;
}

/// A key pair a builder generated for this build (Packer's temporary key pair).
#[derive(Clone)]
pub struct TempKey {
    /// The key's name (`temporary_key_pair_name`), also the public key's comment.
    pub name: String,
    /// The public key as an `authorized_keys` line (`build.SSHPublicKey`).
    pub public: String,
    /// The private key in OpenSSH PEM form (`build.SSHPrivateKey`).
    pub private: String,
}

impl TempKey {
    /// Adds `SSHPublicKey` and `SSHPrivateKey` to a build's generated data.
    pub fn add_to(&self, data: &mut BuildData) {
        data.insert("SSHPublicKey".into(), self.public.clone());
        data.insert("SSHPrivateKey".into(), self.private.clone());
    }
}

/// What a builder asks a connector to reach.
pub struct ConnectRequest {
    /// The communicator settings, decoded when the builder was prepared.
    pub comm: crate::comm::CommConfig,
    /// The machine's address.
    pub host: String,
    /// The port to reach (the communicator's, or one the builder forwarded).
    pub port: u16,
    /// The build's temporary key pair, when the builder made one.
    pub temp_key: Option<TempKey>,
}

/// Opens a communicator of one type (`ssh`, `winrm`, ...).
#[async_trait]
pub trait Connector: Send + Sync {
    /// Whether `pem` is a private key this communicator can use (`origin` names it in the
    /// error), asked while the settings are checked.
    fn check_private_key(&self, _pem: &str, _origin: &str) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Whether the communicator supports the algorithm `name`.
    fn supports(&self, _what: crate::comm::Algorithm, _name: &str) -> bool {
        true
    }
    /// Connects, waiting (cancellably, up to the configured timeout) until the machine
    /// answers.
    async fn connect(&self, ctx: &BuildCtx, req: &ConnectRequest) -> Result<Arc<dyn Communicator>>;
    /// Generates a key pair of `kind` (`rsa`, `ed25519`, ...) named `name`.
    fn generate_key(&self, kind: &str, _bits: Option<u32>, _name: &str) -> Result<TempKey> {
        Err(Error::msg(format!(
            "this communicator cannot generate {kind} key pairs"
        )))
    }
}

/// What a plugin knows when it is configured (Packer's injected `packer_*` fields).
#[derive(Clone)]
pub struct PrepareInfo {
    /// `packer_build_name` (the source's name).
    pub build_name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
    /// The template's directory.
    pub template_dir: PathBuf,
    /// Run options.
    pub opts: RunOptions,
    /// Whether the template is a legacy JSON one.
    pub legacy: bool,
    /// Communicators by type.
    pub connectors: Arc<BTreeMap<&'static str, Arc<dyn Connector>>>,
    /// Warnings found while configuring (printed before the builds start).
    pub warnings: Arc<std::sync::Mutex<Vec<String>>>,
}

impl PrepareInfo {
    /// Records a configuration warning.
    pub fn warn(&self, w: impl Into<String>) {
        if let Ok(mut v) = self.warnings.lock() {
            v.push(w.into());
        }
    }
}

/// Plugin declarations (one registration per plugin type).
pub use crate::decl::{Factory, PluginDecl, PluginSet};
