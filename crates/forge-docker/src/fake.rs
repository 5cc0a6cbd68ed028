//! A fake [`Driver`] for the unit tests of the builder steps and the communicator (what Packer's
//! `MockDriver` is to its docker steps). It keeps a small model of the engine (images,
//! containers and whether they run, the files copied in, commits, exports), records every call
//! in order, and can be told to fail a chosen call with the error the real [`Engine`] gives,
//! to answer commands with chosen output and exit codes, or to hang a call until the build is
//! cancelled.
//!
//! [`Engine`]: crate::driver::Engine

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, PrepareInfo, Stream};
use forge_core::ui::Buffer;
use forge_core::{Error, Result};

use crate::builder::{Config, State};
use crate::driver::{Auth, BuildSpec, Driver, ImageInfo, RunSpec, RUN_LABEL};
use crate::shell::{Outcome, Session};

/// A driver operation (a [`Driver`] method; `Start` is the second half of `run`, and
/// `ShellRun` one command in a persistent shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    InspectImage,
    Pull,
    BuildImage,
    Run,
    Start,
    Exec,
    Shell,
    ShellRun,
    Upload,
    UploadBytes,
    Download,
    ContainerUser,
    ContainerIp,
    Commit,
    Export,
    RemoveContainer,
    RemoveImage,
    ContainersOfRun,
}

/// One call, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    InspectImage(String),
    Pull {
        image: String,
        platform: Option<String>,
        /// Server and user name of the credentials.
        auth: Option<(String, String)>,
    },
    BuildImage {
        dockerfile: String,
        args: BTreeMap<String, String>,
        pull: bool,
        platform: Option<String>,
        auth: Option<(String, String)>,
        /// The entries of the context archive.
        context: Vec<String>,
    },
    Run(RunSpec),
    Exec {
        id: String,
        user: Option<String>,
        cmd: Vec<String>,
    },
    Shell {
        id: String,
        user: Option<String>,
    },
    ShellRun {
        id: String,
        user: Option<String>,
        cmd: String,
    },
    /// `upload` (from a file) or `upload_bytes`: the archive's entries, with their uid.
    Upload {
        id: String,
        dir: String,
        entries: Vec<(String, u64)>,
        in_memory: bool,
    },
    Download {
        id: String,
        path: String,
    },
    ContainerUser(String),
    ContainerIp(String),
    Commit {
        id: String,
        changes: Vec<String>,
        author: Option<String>,
        message: Option<String>,
    },
    Export {
        id: String,
        path: PathBuf,
    },
    RemoveContainer(String),
    RemoveImage(String),
    ContainersOfRun(String),
}

impl Call {
    /// The operation.
    pub(crate) fn op(&self) -> Op {
        match self {
            Call::InspectImage(_) => Op::InspectImage,
            Call::Pull { .. } => Op::Pull,
            Call::BuildImage { .. } => Op::BuildImage,
            Call::Run(_) => Op::Run,
            Call::Exec { .. } => Op::Exec,
            Call::Shell { .. } => Op::Shell,
            Call::ShellRun { .. } => Op::ShellRun,
            Call::Upload {
                in_memory: false, ..
            } => Op::Upload,
            Call::Upload { .. } => Op::UploadBytes,
            Call::Download { .. } => Op::Download,
            Call::ContainerUser(_) => Op::ContainerUser,
            Call::ContainerIp(_) => Op::ContainerIp,
            Call::Commit { .. } => Op::Commit,
            Call::Export { .. } => Op::Export,
            Call::RemoveContainer(_) => Op::RemoveContainer,
            Call::RemoveImage(_) => Op::RemoveImage,
            Call::ContainersOfRun(_) => Op::ContainersOfRun,
        }
    }
}

/// A container of the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Container {
    pub(crate) id: String,
    pub(crate) spec: RunSpec,
    pub(crate) running: bool,
    /// Files copied in, by absolute path.
    pub(crate) files: BTreeMap<String, Vec<u8>>,
}

/// A commit of the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Commit {
    pub(crate) container: String,
    pub(crate) image: String,
}

/// The engine's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Model {
    /// Local images by reference (name or id).
    pub(crate) images: BTreeMap<String, ImageInfo>,
    /// Containers by id.
    pub(crate) containers: BTreeMap<String, Container>,
    pub(crate) commits: Vec<Commit>,
    /// Exported containers and where to.
    pub(crate) exports: Vec<(String, PathBuf)>,
}

impl Model {
    fn container(&mut self, id_or_name: &str) -> Option<&mut Container> {
        self.containers
            .values_mut()
            .find(|c| c.id == id_or_name || c.spec.name == id_or_name)
    }
}

/// How the fake answers a command (an exec, or a command in a shell).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    pub(crate) code: i32,
    pub(crate) output: Vec<(Stream, String)>,
    /// The shell ends during the command (a shell command only).
    pub(crate) dies: bool,
}

impl Reply {
    /// Exits with `code`, printing `output`.
    pub(crate) fn code(code: i32, output: &[(Stream, &str)]) -> Reply {
        Reply {
            code,
            output: output.iter().map(|(s, l)| (*s, l.to_string())).collect(),
            dies: false,
        }
    }
    /// The shell ends.
    pub(crate) fn dies() -> Reply {
        Reply {
            dies: true,
            ..Reply::default()
        }
    }
}

struct Fault {
    op: Op,
    skip: usize,
    msg: String,
}

#[derive(Default)]
struct Inner {
    model: Model,
    registry: BTreeMap<String, ImageInfo>,
    calls: Vec<Call>,
    faults: Vec<Fault>,
    replies: Vec<(String, Reply)>,
    hangs: Vec<Op>,
    next: u64,
}

impl Inner {
    fn record(&mut self, c: Call) {
        self.calls.push(c);
    }
    /// The engine's message when a fault is set for this call of `op`.
    fn fault(&mut self, op: Op) -> Option<String> {
        let i = self.faults.iter().position(|f| f.op == op)?;
        if self.faults[i].skip > 0 {
            self.faults[i].skip -= 1;
            return None;
        }
        Some(self.faults.remove(i).msg)
    }
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
    fn reply(&self, cmd: &str) -> Reply {
        self.replies
            .iter()
            .find(|(p, _)| cmd.contains(p.as_str()))
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }
    /// The container a command runs in, running (the engine's errors otherwise).
    fn running(&mut self, id: &str) -> std::result::Result<(), String> {
        match self.model.container(id) {
            None => Err(format!("No such container: {id}")),
            Some(c) if !c.running => Err(format!("container {id} is not running")),
            Some(_) => Ok(()),
        }
    }
}

/// The fake engine.
#[derive(Default)]
pub(crate) struct FakeDriver {
    s: Arc<Mutex<Inner>>,
}

fn lock(s: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn creds(a: Option<&Auth>) -> Option<(String, String)> {
    a.map(|a| (a.server.clone(), a.username.clone()))
}

/// An archive entry: path, uid, contents (files only).
type Entry = (String, u64, Option<Vec<u8>>);

/// The entries of a tar archive.
fn entries(r: impl Read) -> std::io::Result<Vec<Entry>> {
    let mut a = tar::Archive::new(r);
    let mut out = Vec::new();
    for e in a.entries()? {
        let mut e = e?;
        let path = e.path()?.to_string_lossy().into_owned();
        let uid = e.header().uid()?;
        let data = if e.header().entry_type().is_file() {
            let mut b = Vec::new();
            e.read_to_end(&mut b)?;
            Some(b)
        } else {
            None
        };
        out.push((path, uid, data));
    }
    Ok(out)
}

/// A tar archive of `files` (name, contents).
fn archive(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let _ = b.append_data(&mut h, name, data.as_slice());
    }
    b.into_inner().unwrap_or_default()
}

/// `dir` joined with an archive entry's path.
fn join(dir: &str, entry: &str) -> String {
    let e = entry.trim_start_matches("./").trim_end_matches('/');
    let d = dir.trim_end_matches('/');
    if e.is_empty() || e == "." {
        return if d.is_empty() { "/".into() } else { d.into() };
    }
    format!("{d}/{e}")
}

impl FakeDriver {
    /// An engine with no images and no containers.
    pub(crate) fn new() -> Arc<FakeDriver> {
        Arc::new(FakeDriver::default())
    }
    /// A local image.
    pub(crate) fn with_image(self: &Arc<Self>, name: &str, info: ImageInfo) -> Arc<Self> {
        lock(&self.s).model.images.insert(name.into(), info);
        self.clone()
    }
    /// An image a pull can fetch.
    pub(crate) fn in_registry(self: &Arc<Self>, name: &str, info: ImageInfo) -> Arc<Self> {
        lock(&self.s).registry.insert(name.into(), info);
        self.clone()
    }
    /// Fails the next call of `op` with the engine's message `msg` (wrapped as [`Engine`]
    /// wraps it).
    ///
    /// [`Engine`]: crate::driver::Engine
    pub(crate) fn fail(&self, op: Op, msg: &str) {
        self.fail_nth(op, 0, msg);
    }
    /// Fails the call of `op` after `skip` successful ones.
    pub(crate) fn fail_nth(&self, op: Op, skip: usize, msg: &str) {
        lock(&self.s).faults.push(Fault {
            op,
            skip,
            msg: msg.into(),
        });
    }
    /// Answers commands containing `pattern` with `reply` (first match wins; default exit 0).
    pub(crate) fn reply(&self, pattern: &str, reply: Reply) {
        lock(&self.s).replies.push((pattern.into(), reply));
    }
    /// Makes calls of `op` (one that takes the build context) wait until the build is
    /// cancelled.
    pub(crate) fn hang(&self, op: Op) {
        lock(&self.s).hangs.push(op);
    }
    /// Every call so far, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        lock(&self.s).calls.clone()
    }
    /// The operations called so far, in order.
    pub(crate) fn ops(&self) -> Vec<Op> {
        self.calls().iter().map(Call::op).collect()
    }
    /// The calls of one operation.
    pub(crate) fn calls_of(&self, op: Op) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.op() == op).collect()
    }
    /// The engine's state now.
    pub(crate) fn model(&self) -> Model {
        lock(&self.s).model.clone()
    }
    /// Starts container `name` from local image `base` (made when missing) as `user`; its id.
    pub(crate) async fn running(&self, name: &str, user: Option<&str>) -> String {
        lock(&self.s)
            .model
            .images
            .entry("base".into())
            .or_insert_with(|| image("sha256:b"));
        let spec = RunSpec {
            name: name.into(),
            image: "base".into(),
            user: user.map(str::to_string),
            ..RunSpec::default()
        };
        self.run(&spec).await.expect("a running container")
    }
    /// Puts a file into a container (as if a command had made it).
    pub(crate) fn put_file(&self, id: &str, path: &str, data: &[u8]) {
        if let Some(c) = lock(&self.s).model.container(id) {
            c.files.insert(path.into(), data.to_vec());
        }
    }

    async fn hung(&self, ctx: &BuildCtx, op: Op) -> Result<()> {
        let hangs = lock(&self.s).hangs.contains(&op);
        if hangs {
            ctx.cancel.cancelled().await;
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    fn upload_entries(
        &self,
        id: &str,
        dir: &str,
        list: std::io::Result<Vec<Entry>>,
        in_memory: bool,
    ) -> Result<()> {
        let mut s = lock(&self.s);
        let list = list.unwrap_or_default();
        s.record(Call::Upload {
            id: id.into(),
            dir: dir.into(),
            entries: list.iter().map(|(p, u, _)| (p.clone(), *u)).collect(),
            in_memory,
        });
        let op = if in_memory {
            Op::UploadBytes
        } else {
            Op::Upload
        };
        let ctx = |m: String| Error::msg(format!("copying into the container's {dir}: {m}"));
        if let Some(m) = s.fault(op) {
            return Err(ctx(m));
        }
        let Some(c) = s.model.container(id) else {
            return Err(ctx(format!("No such container: {id}")));
        };
        for (p, _, data) in list {
            if let Some(d) = data {
                c.files.insert(join(dir, &p), d);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Driver for FakeDriver {
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        let mut s = lock(&self.s);
        s.record(Call::InspectImage(image.into()));
        if let Some(m) = s.fault(Op::InspectImage) {
            return Err(Error::msg(format!("inspecting image {image}: {m}")));
        }
        let m = &s.model.images;
        Ok(m.get(image)
            .or_else(|| m.values().find(|i| i.id == image))
            .cloned())
    }

    async fn pull(
        &self,
        ctx: &BuildCtx,
        image: &str,
        platform: Option<&str>,
        auth: Option<&Auth>,
    ) -> Result<()> {
        lock(&self.s).record(Call::Pull {
            image: image.into(),
            platform: platform.map(str::to_string),
            auth: creds(auth),
        });
        self.hung(ctx, Op::Pull).await?;
        let mut s = lock(&self.s);
        if let Some(m) = s.fault(Op::Pull) {
            return Err(Error::msg(format!("pulling {image}: {m}")));
        }
        let Some(i) = s.registry.get(image).cloned() else {
            return Err(Error::msg(format!(
                "pulling {image}: pull access denied for {image}, repository does not exist or may require 'docker login'"
            )));
        };
        s.model.images.insert(image.into(), i);
        Ok(())
    }

    async fn build_image(&self, ctx: &BuildCtx, spec: &BuildSpec) -> Result<String> {
        let context = std::fs::File::open(&spec.context_tar).and_then(entries);
        lock(&self.s).record(Call::BuildImage {
            dockerfile: spec.dockerfile.clone(),
            args: spec.args.clone(),
            pull: spec.pull,
            platform: spec.platform.clone(),
            auth: creds(spec.auth.as_ref()),
            context: context
                .as_ref()
                .map(|l| l.iter().map(|(p, _, _)| p.clone()).collect())
                .unwrap_or_default(),
        });
        if let Err(e) = context {
            return Err(Error::msg(format!(
                "reading {}: {e}",
                spec.context_tar.display()
            )));
        }
        self.hung(ctx, Op::BuildImage).await?;
        let mut s = lock(&self.s);
        if let Some(m) = s.fault(Op::BuildImage) {
            return Err(Error::msg(format!(
                "docker build failed: {m}; output:\nStep 1/2 : FROM base"
            )));
        }
        let id = format!("sha256:built{}", s.next());
        let info = ImageInfo {
            id: id.clone(),
            ..ImageInfo::default()
        };
        s.model.images.insert(id.clone(), info);
        Ok(id)
    }

    async fn run(&self, spec: &RunSpec) -> Result<String> {
        let mut s = lock(&self.s);
        s.record(Call::Run(spec.clone()));
        let create =
            |m: String| Error::msg(format!("creating a container from {}: {m}", spec.image));
        if let Some(m) = s.fault(Op::Run) {
            return Err(create(m));
        }
        if s.model.container(&spec.name).is_some() {
            return Err(create(format!(
                "Conflict. The container name \"/{}\" is already in use",
                spec.name
            )));
        }
        let known = s.model.images.contains_key(&spec.image)
            || s.model.images.values().any(|i| i.id == spec.image);
        if !known {
            return Err(create(format!("No such image: {}", spec.image)));
        }
        let id = format!("container{}", s.next());
        let start = s.fault(Op::Start);
        s.model.containers.insert(
            id.clone(),
            Container {
                id: id.clone(),
                spec: spec.clone(),
                running: start.is_none(),
                files: BTreeMap::new(),
            },
        );
        if let Some(m) = start {
            return Err(Error::msg(format!("starting container {}: {m}", spec.name)));
        }
        Ok(id)
    }

    async fn exec(
        &self,
        ctx: &BuildCtx,
        id: &str,
        user: Option<&str>,
        cmd: &[String],
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        let reply = {
            let mut s = lock(&self.s);
            s.record(Call::Exec {
                id: id.into(),
                user: user.map(str::to_string),
                cmd: cmd.to_vec(),
            });
            let fail = s.fault(Op::Exec).map_or_else(|| s.running(id), Err);
            if let Err(m) = fail {
                return Err(Error::msg(format!(
                    "creating an exec in the container: {m}"
                )));
            }
            s.reply(&cmd.join(" "))
        };
        self.hung(ctx, Op::Exec).await?;
        for (st, l) in &reply.output {
            output(*st, l);
        }
        Ok(reply.code)
    }

    async fn shell(&self, id: &str, user: Option<&str>) -> Result<Box<dyn Session>> {
        let mut s = lock(&self.s);
        s.record(Call::Shell {
            id: id.into(),
            user: user.map(str::to_string),
        });
        let fail = s.fault(Op::Shell).map_or_else(|| s.running(id), Err);
        if let Err(m) = fail {
            return Err(Error::msg(format!(
                "creating a shell in the container: {m}"
            )));
        }
        Ok(Box::new(FakeSession {
            s: self.s.clone(),
            id: id.into(),
            user: user.map(str::to_string),
        }))
    }

    async fn upload(&self, ctx: &BuildCtx, id: &str, dir: &str, tar: &Path) -> Result<()> {
        self.hung(ctx, Op::Upload).await?;
        let list = std::fs::File::open(tar).and_then(entries);
        self.upload_entries(id, dir, list, false)
    }

    async fn upload_bytes(&self, ctx: &BuildCtx, id: &str, dir: &str, tar: Vec<u8>) -> Result<()> {
        self.hung(ctx, Op::UploadBytes).await?;
        self.upload_entries(id, dir, entries(tar.as_slice()), true)
    }

    async fn download(&self, id: &str, path: &str, to: &Path) -> Result<()> {
        let mut s = lock(&self.s);
        s.record(Call::Download {
            id: id.into(),
            path: path.into(),
        });
        let daemon = |m: String| Error::msg(format!("Error response from daemon: {m}"));
        if let Some(m) = s.fault(Op::Download) {
            return Err(daemon(m));
        }
        let Some(c) = s.model.container(id) else {
            return Err(daemon(format!("No such container: {id}")));
        };
        // As the archive endpoint: entries rooted at the path's last part.
        let p = path.trim_end_matches('/');
        let base = p.rsplit('/').next().unwrap_or_default().to_string();
        let files: Vec<(String, Vec<u8>)> = c
            .files
            .iter()
            .filter_map(|(f, d)| {
                if f == p {
                    Some((base.clone(), d.clone()))
                } else {
                    let rest = f.strip_prefix(&format!("{p}/"))?;
                    Some((format!("{base}/{rest}"), d.clone()))
                }
            })
            .collect();
        if files.is_empty() {
            return Err(daemon(format!(
                "Could not find the file {path} in container {id}"
            )));
        }
        std::fs::write(to, archive(&files))
            .map_err(|e| Error::msg(format!("writing {}: {e}", to.display())))
    }

    async fn container_user(&self, id: &str) -> Result<String> {
        let mut s = lock(&self.s);
        s.record(Call::ContainerUser(id.into()));
        let m = s.fault(Op::ContainerUser);
        match (m, s.model.container(id)) {
            (Some(m), _) => Err(Error::msg(format!("inspecting the container: {m}"))),
            (None, None) => Err(Error::msg(format!(
                "inspecting the container: No such container: {id}"
            ))),
            (None, Some(c)) => Ok(c.spec.user.clone().unwrap_or_default()),
        }
    }

    async fn container_ip(&self, id: &str) -> Result<String> {
        let mut s = lock(&self.s);
        s.record(Call::ContainerIp(id.into()));
        let m = s.fault(Op::ContainerIp);
        match (m, s.model.container(id)) {
            (Some(m), _) => Err(Error::msg(format!("inspecting the container: {m}"))),
            (None, None) => Err(Error::msg(format!(
                "inspecting the container: No such container: {id}"
            ))),
            (None, Some(c)) => Ok(format!("172.17.0.{}", c.id.len())),
        }
    }

    async fn commit(
        &self,
        id: &str,
        changes: &[String],
        author: Option<&str>,
        message: Option<&str>,
    ) -> Result<String> {
        let mut s = lock(&self.s);
        s.record(Call::Commit {
            id: id.into(),
            changes: changes.to_vec(),
            author: author.map(str::to_string),
            message: message.map(str::to_string),
        });
        let m = s.fault(Op::Commit);
        let container = s.model.container(id).map(|c| c.id.clone());
        let container = match (m, container) {
            (Some(m), _) => return Err(Error::msg(format!("committing the container: {m}"))),
            (None, None) => {
                return Err(Error::msg(format!(
                    "committing the container: No such container: {id}"
                )))
            }
            (None, Some(c)) => c,
        };
        let image = format!("sha256:commit{}", s.next());
        s.model.images.insert(
            image.clone(),
            ImageInfo {
                id: image.clone(),
                ..ImageInfo::default()
            },
        );
        s.model.commits.push(Commit {
            container,
            image: image.clone(),
        });
        Ok(image)
    }

    async fn export(&self, ctx: &BuildCtx, id: &str, path: &Path) -> Result<()> {
        lock(&self.s).record(Call::Export {
            id: id.into(),
            path: path.into(),
        });
        let write = |b: &[u8]| {
            std::fs::write(path, b)
                .map_err(|e| Error::msg(format!("creating {}: {e}", path.display())))
        };
        // As the engine's stream: the file exists before the first byte arrives.
        write(b"partial")?;
        self.hung(ctx, Op::Export).await?;
        let mut s = lock(&self.s);
        if let Some(m) = s.fault(Op::Export) {
            return Err(Error::msg(format!("exporting the container: {m}")));
        }
        let Some(c) = s.model.container(id) else {
            return Err(Error::msg(format!(
                "exporting the container: No such container: {id}"
            )));
        };
        let files: Vec<(String, Vec<u8>)> = c
            .files
            .iter()
            .map(|(p, d)| (p.trim_start_matches('/').to_string(), d.clone()))
            .collect();
        let cid = c.id.clone();
        write(&archive(&files))?;
        s.model.exports.push((cid, path.into()));
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let mut s = lock(&self.s);
        s.record(Call::RemoveContainer(id.into()));
        if let Some(m) = s.fault(Op::RemoveContainer) {
            return Err(Error::msg(format!("removing container {id}: {m}")));
        }
        s.model
            .containers
            .retain(|_, c| c.id != id && c.spec.name != id);
        Ok(())
    }

    async fn remove_image(&self, id: &str) -> Result<()> {
        let mut s = lock(&self.s);
        s.record(Call::RemoveImage(id.into()));
        if let Some(m) = s.fault(Op::RemoveImage) {
            return Err(Error::msg(format!("removing image {id}: {m}")));
        }
        s.model.images.retain(|k, i| k != id && i.id != id);
        Ok(())
    }

    async fn containers_of_run(&self, run_id: &str) -> Result<Vec<String>> {
        let mut s = lock(&self.s);
        s.record(Call::ContainersOfRun(run_id.into()));
        if let Some(m) = s.fault(Op::ContainersOfRun) {
            return Err(Error::msg(format!("listing containers: {m}")));
        }
        let label = (RUN_LABEL.to_string(), run_id.to_string());
        Ok(s.model
            .containers
            .values()
            .filter(|c| c.spec.labels.contains(&label))
            .map(|c| c.spec.name.clone())
            .collect())
    }
}

/// A persistent shell of the fake: each command is recorded and answered by the replies.
struct FakeSession {
    s: Arc<Mutex<Inner>>,
    id: String,
    user: Option<String>,
}

#[async_trait]
impl Session for FakeSession {
    async fn run(
        &mut self,
        ctx: &BuildCtx,
        cmd: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<Outcome> {
        let (reply, hangs) = {
            let mut s = lock(&self.s);
            s.record(Call::ShellRun {
                id: self.id.clone(),
                user: self.user.clone(),
                cmd: cmd.into(),
            });
            // A removed or stopped container, or a fault, ends the shell.
            if s.fault(Op::ShellRun).is_some() || s.running(&self.id).is_err() {
                return Ok(Outcome::ShellDied);
            }
            (s.reply(cmd), s.hangs.contains(&Op::ShellRun))
        };
        if hangs {
            ctx.cancel.cancelled().await;
            return Err(Error::Cancelled);
        }
        for (st, l) in &reply.output {
            output(*st, l);
        }
        Ok(if reply.dies {
            Outcome::ShellDied
        } else {
            Outcome::Exited(reply.code)
        })
    }
}

pub(crate) use forge_core::testing::value;

/// What Packer injects for a `docker` source.
pub(crate) fn info() -> PrepareInfo {
    forge_core::testing::info("docker")
}

/// The builder's configuration from JSON (which must be valid).
pub(crate) fn config(j: serde_json::Value) -> Config {
    Config::prepare(&value(j), &info()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// A build context with a fresh run id, and the buffer its UI prints into.
pub(crate) fn ctx() -> (BuildCtx, Buffer) {
    forge_core::testing::ctx("docker")
}

/// The steps' state over `driver` with configuration `c`.
pub(crate) fn state(driver: &Arc<FakeDriver>, c: Config) -> State {
    State::new(driver.clone(), c)
}

/// A source image with a command and an entrypoint.
pub(crate) fn image(id: &str) -> ImageInfo {
    ImageInfo {
        id: id.into(),
        digest: Some(format!("example/base@sha256:{}", id.len())),
        cmd: vec!["bash".into()],
        entrypoint: vec!["/entry".into()],
    }
}

/// Gives the state a temporary directory of its own (what StepTempDir does).
pub(crate) fn with_temp_dir(ctx: &BuildCtx, st: &mut State) {
    let d = tempfile::tempdir().expect("a temporary directory").keep();
    st.temp_dir = Some(forge_core::local::track(ctx, &d, true).expect("journaled"));
}

/// The entry names of the tar archive `path`.
pub(crate) fn tar_names(path: &Path) -> Vec<String> {
    let f = std::fs::File::open(path).expect("the archive");
    entries(f)
        .expect("a tar archive")
        .into_iter()
        .map(|(p, _, _)| p)
        .collect()
}
