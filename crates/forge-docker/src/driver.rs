//! The Docker Engine, as the builder and the communicator need it: a small trait (so steps can be
//! tested with a fake) and its real implementation over the Engine API (bollard).

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CommitContainerOptionsBuilder, CreateContainerOptionsBuilder,
    CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use forge_core::plugin::{BuildCtx, Stream};
use forge_core::{Error, Result};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

/// The label every container forge starts carries: the run id.
pub const RUN_LABEL: &str = "forge.run-id";

/// What forge needs to know of an image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageInfo {
    /// `sha256:...`.
    pub id: String,
    /// The first repo digest (`repo@sha256:...`), if any.
    pub digest: Option<String>,
    /// The image's `Cmd`.
    pub cmd: Vec<String>,
    /// The image's `Entrypoint`.
    pub entrypoint: Vec<String>,
}

/// Registry credentials for a pull.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// Registry server.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A container to create and start (`docker run`'s flags, as Engine API fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSpec {
    /// The container's name (known before creation, for the journal).
    pub name: String,
    /// The image.
    pub image: String,
    /// Entrypoint (`--entrypoint`); empty keeps the image's.
    pub entrypoint: Vec<String>,
    /// Command after the image.
    pub cmd: Vec<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub open_stdin: bool,
    /// `-u`.
    pub user: Option<String>,
    /// `-e`.
    pub env: Vec<String>,
    /// Binds `host:container[:opts]` (`-v`).
    pub binds: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--device` (`host[:container[:perms]]`).
    pub devices: Vec<String>,
    /// `--tmpfs` (`path[:opts]`).
    pub tmpfs: Vec<String>,
    /// `--runtime`.
    pub runtime: Option<String>,
    /// `--platform`.
    pub platform: Option<String>,
    /// Labels (the run id among them).
    pub labels: Vec<(String, String)>,
}

/// An image to build from a Dockerfile (`docker build`).
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    /// The build context: a local tar of the context directory, the Dockerfile inside it.
    pub context_tar: std::path::PathBuf,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// Build args.
    pub args: std::collections::BTreeMap<String, String>,
    /// Pull newer base images first.
    pub pull: bool,
    /// `--platform`.
    pub platform: Option<String>,
    /// Registry credentials for the base images.
    pub auth: Option<Auth>,
}

/// The engine operations the docker builder and communicator use.
#[async_trait]
pub trait Driver: Send + Sync {
    /// Inspects an image; `None` when it does not exist locally.
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>>;
    /// Pulls `image`, streaming progress to a progress bar.
    async fn pull(
        &self,
        ctx: &BuildCtx,
        image: &str,
        platform: Option<&str>,
        auth: Option<&Auth>,
    ) -> Result<()>;
    /// Builds an image from a Dockerfile; returns its id. On failure the error carries the
    /// build's last output lines.
    async fn build_image(&self, ctx: &BuildCtx, spec: &BuildSpec) -> Result<String>;
    /// Creates and starts a container; returns its id.
    async fn run(&self, spec: &RunSpec) -> Result<String>;
    /// Runs `cmd` in the container, passing output lines on; returns the exit code.
    async fn exec(
        &self,
        ctx: &BuildCtx,
        id: &str,
        user: Option<&str>,
        cmd: &[String],
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32>;
    /// Starts a persistent shell in the container (see [`crate::shell`]).
    async fn shell(&self, id: &str, user: Option<&str>) -> Result<Box<dyn crate::shell::Session>>;
    /// Extracts the tar archive in the local file `tar` into the container's directory `dir`.
    async fn upload(&self, ctx: &BuildCtx, id: &str, dir: &str, tar: &Path) -> Result<()>;
    /// Extracts an in-memory tar archive into the container's directory `dir`.
    async fn upload_bytes(&self, ctx: &BuildCtx, id: &str, dir: &str, tar: Vec<u8>) -> Result<()>;
    /// Writes a tar archive of the container's `path` into the local file `to`.
    async fn download(&self, id: &str, path: &str, to: &Path) -> Result<()>;
    /// The container's configured user (empty for root).
    async fn container_user(&self, id: &str) -> Result<String>;
    /// The container's IP address on its first network (empty when it has none).
    async fn container_ip(&self, id: &str) -> Result<String>;
    /// Commits the container; returns the image id.
    async fn commit(
        &self,
        id: &str,
        changes: &[String],
        author: Option<&str>,
        message: Option<&str>,
    ) -> Result<String>;
    /// Streams the container's filesystem as a tar into `path`.
    async fn export(&self, ctx: &BuildCtx, id: &str, path: &Path) -> Result<()>;
    /// Kills and removes a container; `Ok` when it is already gone.
    async fn remove_container(&self, id: &str) -> Result<()>;
    /// Removes an image.
    async fn remove_image(&self, id: &str) -> Result<()>;
    /// Names of the containers labelled with `run_id`.
    async fn containers_of_run(&self, run_id: &str) -> Result<Vec<String>>;
}

/// The real engine, through the local socket (`DOCKER_HOST` honoured).
pub struct Engine {
    docker: Docker,
}

fn api(what: &str, e: bollard::errors::Error) -> Error {
    Error::msg(format!("{what}: {}", engine_message(&e)))
}

/// The engine's own message of an error (not bollard's wrapper text).
fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        e => e.to_string(),
    }
}

fn not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl Engine {
    /// Connects to the local engine and agrees on an API version.
    pub async fn connect() -> Result<Engine> {
        let hint = "is the Docker daemon running, and may this user use its socket? (DOCKER_HOST selects another engine)";
        let d = Docker::connect_with_defaults()
            .map_err(|e| Error::msg(format!("connecting to the Docker engine: {e}; {hint}")))?;
        let docker = d
            .negotiate_version()
            .await
            .map_err(|e| Error::msg(format!("connecting to the Docker engine: {e}; {hint}")))?;
        Ok(Engine { docker })
    }
}

fn split_opts(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (s.to_string(), String::new()),
    }
}

/// The create body for a run spec.
pub fn create_body(spec: &RunSpec) -> ContainerCreateBody {
    let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let devices = spec
        .devices
        .iter()
        .map(|d| {
            let p: Vec<&str> = d.split(':').collect();
            bollard::models::DeviceMapping {
                path_on_host: p.first().map(|s| s.to_string()),
                path_in_container: Some(p.get(1).unwrap_or(&p[0]).to_string()),
                cgroup_permissions: Some(p.get(2).unwrap_or(&"rwm").to_string()),
            }
        })
        .collect::<Vec<_>>();
    let tmpfs: HashMap<String, String> = spec.tmpfs.iter().map(|t| split_opts(t)).collect();
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: nonempty(&spec.entrypoint),
        cmd: nonempty(&spec.cmd),
        tty: Some(spec.tty),
        open_stdin: Some(spec.open_stdin),
        attach_stdin: Some(false),
        user: spec.user.clone(),
        env: nonempty(&spec.env),
        labels: Some(spec.labels.iter().cloned().collect()),
        host_config: Some(HostConfig {
            binds: nonempty(&spec.binds),
            privileged: Some(spec.privileged),
            cap_add: nonempty(&spec.cap_add),
            cap_drop: nonempty(&spec.cap_drop),
            devices: (!devices.is_empty()).then_some(devices),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            runtime: spec.runtime.clone(),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    }
}

/// Splits a byte buffer into complete lines, keeping the unfinished rest.
pub(crate) fn take_lines(buf: &mut Vec<u8>, mut f: impl FnMut(&str)) {
    while let Some(i) = buf.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        let s = String::from_utf8_lossy(&line[..i]);
        f(s.trim_end_matches('\r'));
    }
}

/// The pids of `pid` and its descendants on this host (for stopping a cancelled exec).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat.get(i + 2..))
                .and_then(|r| r.split(' ').nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parents.push((p, pp));
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// Stops an exec's processes on the host (the Engine API cannot signal an exec).
async fn kill_exec(docker: &Docker, exec_id: &str) {
    if let Ok(i) = docker.inspect_exec(exec_id).await {
        if let Some(pid) = i.pid.filter(|p| *p > 0) {
            for p in process_tree(pid as u32).into_iter().rev() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &p.to_string()])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

/// What a started, attached exec gives: its id, its output, its stdin.
type Attached = (
    String,
    std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = std::result::Result<
                        bollard::container::LogOutput,
                        bollard::errors::Error,
                    >,
                > + Send,
        >,
    >,
    std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
);

impl Engine {
    /// Creates and starts an exec of `cmd` with its output (and, with `stdin`, its input)
    /// attached; `what` names it in errors.
    async fn start_exec_attached(
        &self,
        id: &str,
        user: Option<&str>,
        cmd: Vec<String>,
        stdin: bool,
        what: &str,
    ) -> Result<Attached> {
        let e = self
            .docker
            .create_exec(
                id,
                CreateExecOptions::<String> {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(stdin),
                    tty: Some(false),
                    cmd: Some(cmd),
                    user: user.filter(|u| !u.is_empty()).map(str::to_string),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| api(&format!("creating {what} in the container"), e))?;
        let started = self
            .docker
            .start_exec(&e.id, None)
            .await
            .map_err(|e| api(&format!("starting {what} in the container"), e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(Error::msg(format!("{what} started detached")));
        };
        Ok((e.id, output, input))
    }
}

/// A persistent `/bin/sh` exec (see [`crate::shell`]).
struct EngineSession {
    docker: Docker,
    exec_id: String,
    nonce: String,
    input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = std::result::Result<
                        bollard::container::LogOutput,
                        bollard::errors::Error,
                    >,
                > + Send,
        >,
    >,
}

#[async_trait]
impl crate::shell::Session for EngineSession {
    async fn run(
        &mut self,
        ctx: &BuildCtx,
        cmd: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<crate::shell::Outcome> {
        use crate::shell::{command_line, Demux, Outcome};
        let line = command_line(cmd, &self.nonce);
        let sent = async {
            self.input.write_all(line.as_bytes()).await?;
            self.input.flush().await
        };
        if sent.await.is_err() {
            return Ok(Outcome::ShellDied);
        }
        let mut d = Demux::new(&self.nonce);
        loop {
            if let Some(code) = d.done() {
                return Ok(Outcome::Exited(code));
            }
            let item = tokio::select! {
                i = self.output.next() => i,
                _ = ctx.cancel.cancelled() => {
                    kill_exec(&self.docker, &self.exec_id).await;
                    return Err(Error::Cancelled);
                }
            };
            match item {
                None | Some(Err(_)) => {
                    d.flush(output);
                    return Ok(Outcome::ShellDied);
                }
                Some(Ok(bollard::container::LogOutput::StdErr { message })) => {
                    d.feed(Stream::Stderr, &message, output)
                }
                Some(Ok(m)) => d.feed(Stream::Stdout, &m.into_bytes(), output),
            }
        }
    }
}

#[async_trait]
impl Driver for Engine {
    async fn shell(&self, id: &str, user: Option<&str>) -> Result<Box<dyn crate::shell::Session>> {
        let (exec_id, output, input) = self
            .start_exec_attached(id, user, vec!["/bin/sh".into()], true, "a shell")
            .await?;
        Ok(Box::new(EngineSession {
            docker: self.docker.clone(),
            exec_id,
            nonce: crate::shell::nonce(),
            input,
            output,
        }))
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        match self.docker.inspect_image(image).await {
            Ok(i) => {
                let cfg = i.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: i.id.unwrap_or_default(),
                    digest: i.repo_digests.and_then(|d| d.into_iter().next()),
                    cmd: cfg.cmd.unwrap_or_default(),
                    entrypoint: cfg.entrypoint.unwrap_or_default(),
                }))
            }
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(api(&format!("inspecting image {image}"), e)),
        }
    }

    async fn pull(
        &self,
        ctx: &BuildCtx,
        image: &str,
        platform: Option<&str>,
        auth: Option<&Auth>,
    ) -> Result<()> {
        let mut o = CreateImageOptionsBuilder::default().from_image(image);
        if !image.contains('@') && !image.rsplit('/').next().unwrap_or("").contains(':') {
            o = o.tag("latest");
        }
        if let Some(p) = platform {
            o = o.platform(p);
        }
        let creds = auth.map(|a| DockerCredentials {
            username: Some(a.username.clone()),
            password: Some(a.password.clone()),
            serveraddress: Some(a.server.clone()),
            ..DockerCredentials::default()
        });
        let mut s = self.docker.create_image(Some(o.build()), None, creds);
        let pb = ctx.ui.progress(0, &format!("pulling {image}"));
        let mut layers: HashMap<String, (u64, u64)> = HashMap::new();
        let r = loop {
            let item = tokio::select! {
                i = s.next() => i,
                _ = ctx.cancel.cancelled() => break Err(Error::Cancelled),
            };
            match item {
                None => break Ok(()),
                Some(Err(e)) => break Err(api(&format!("pulling {image}"), e)),
                Some(Ok(info)) => {
                    if let (Some(id), Some(d)) = (info.id, info.progress_detail) {
                        if let (Some(c), Some(t)) = (d.current, d.total) {
                            layers.insert(id, (c.max(0) as u64, t.max(0) as u64));
                            let (c, t) = layers
                                .values()
                                .fold((0, 0), |(a, b), (c, t)| (a + c, b + t));
                            pb.set_length(t);
                            pb.set_position(c);
                        }
                    }
                }
            }
        };
        pb.finish_and_clear();
        r
    }

    async fn build_image(&self, ctx: &BuildCtx, spec: &BuildSpec) -> Result<String> {
        let (f, len) = open_body(&spec.context_tar).await?;
        let pb = ctx.ui.progress(len, "sending the build context");
        let args: HashMap<String, String> = spec.args.clone().into_iter().collect();
        let mut o = BuildImageOptionsBuilder::default()
            .dockerfile(&spec.dockerfile)
            .buildargs(&args)
            .rm(true)
            .forcerm(true);
        if spec.pull {
            o = o.pull("1");
        }
        if let Some(p) = &spec.platform {
            o = o.platform(p);
        }
        let creds = spec.auth.as_ref().map(|a| {
            HashMap::from([(
                a.server.clone(),
                DockerCredentials {
                    username: Some(a.username.clone()),
                    password: Some(a.password.clone()),
                    serveraddress: Some(a.server.clone()),
                    ..DockerCredentials::default()
                },
            )])
        });
        let mut s = self.docker.build_image(
            o.build(),
            creds,
            Some(bollard::body_stream(file_body(f, pb.clone()))),
        );
        // The build's own output, kept for the error message and the log.
        let mut tail: std::collections::VecDeque<String> = Default::default();
        let mut buf = Vec::new();
        let mut id = None;
        let r = loop {
            let item = tokio::select! {
                i = s.next() => i,
                _ = ctx.cancel.cancelled() => break Err(Error::Cancelled),
            };
            match item {
                None => break Ok(()),
                Some(Err(e)) => break Err(Error::msg(engine_message(&e))),
                Some(Ok(info)) => {
                    if let Some(e) = info.error_detail.and_then(|d| d.message) {
                        break Err(Error::msg(e));
                    }
                    if let Some(i) = info.aux.and_then(|a| a.id) {
                        id = Some(i);
                    }
                    buf.extend_from_slice(info.stream.unwrap_or_default().as_bytes());
                    take_lines(&mut buf, |l| {
                        tracing::debug!(target: "docker", "build: {l}");
                        tail.push_back(l.to_string());
                        if tail.len() > 20 {
                            tail.pop_front();
                        }
                    });
                }
            }
        };
        pb.finish_and_clear();
        let out = || Vec::from(tail.clone()).join("\n");
        match (r, id) {
            (Err(Error::Cancelled), _) => Err(Error::Cancelled),
            (Err(m), _) => Err(Error::msg(format!(
                "docker build failed: {m}; output:\n{}",
                out()
            ))),
            (Ok(()), Some(id)) => Ok(id),
            (Ok(()), None) => Err(Error::msg(format!(
                "docker build ended without an image id; output:\n{}",
                out()
            ))),
        }
    }

    async fn run(&self, spec: &RunSpec) -> Result<String> {
        let mut o = CreateContainerOptionsBuilder::default().name(&spec.name);
        if let Some(p) = &spec.platform {
            o = o.platform(p);
        }
        let c = self
            .docker
            .create_container(Some(o.build()), create_body(spec))
            .await
            .map_err(|e| api(&format!("creating a container from {}", spec.image), e))?;
        self.docker
            .start_container(&c.id, None)
            .await
            .map_err(|e| api(&format!("starting container {}", spec.name), e))?;
        Ok(c.id)
    }

    async fn exec(
        &self,
        ctx: &BuildCtx,
        id: &str,
        user: Option<&str>,
        cmd: &[String],
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        let (exec_id, mut out, _) = self
            .start_exec_attached(id, user, cmd.to_vec(), false, "an exec")
            .await?;
        let (mut ob, mut eb) = (Vec::new(), Vec::new());
        loop {
            let item = tokio::select! {
                i = out.next() => i,
                _ = ctx.cancel.cancelled() => {
                    kill_exec(&self.docker, &exec_id).await;
                    return Err(Error::Cancelled);
                }
            };
            match item {
                None => break,
                Some(Err(err)) => return Err(api("reading the command's output", err)),
                Some(Ok(bollard::container::LogOutput::StdErr { message })) => {
                    eb.extend_from_slice(&message);
                    take_lines(&mut eb, |l| output(Stream::Stderr, l));
                }
                Some(Ok(m)) => {
                    ob.extend_from_slice(&m.into_bytes());
                    take_lines(&mut ob, |l| output(Stream::Stdout, l));
                }
            }
        }
        for (b, s) in [(ob, Stream::Stdout), (eb, Stream::Stderr)] {
            if !b.is_empty() {
                output(s, String::from_utf8_lossy(&b).trim_end_matches('\r'));
            }
        }
        // The exit code can lag the end of the stream by a moment.
        for _ in 0..50 {
            let i = self
                .docker
                .inspect_exec(&exec_id)
                .await
                .map_err(|e| api("reading the command's exit status", e))?;
            if i.running != Some(true) {
                return Ok(i.exit_code.unwrap_or(-1) as i32);
            }
            ctx.sleep(std::time::Duration::from_millis(20)).await?;
        }
        Err(Error::msg("the command's exit status never arrived"))
    }

    async fn upload_bytes(&self, ctx: &BuildCtx, id: &str, dir: &str, tar: Vec<u8>) -> Result<()> {
        let o = UploadToContainerOptionsBuilder::default().path(dir).build();
        let r = tokio::select! {
            r = self.docker.upload_to_container(id, Some(o), bollard::body_full(tar.into())) => r,
            _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
        };
        r.map_err(|e| api(&format!("copying into the container's {dir}"), e))
    }

    async fn upload(&self, ctx: &BuildCtx, id: &str, dir: &str, tar: &Path) -> Result<()> {
        let (f, len) = open_body(tar).await?;
        let pb = ctx.ui.progress(len, &format!("uploading to {dir}"));
        let o = UploadToContainerOptionsBuilder::default().path(dir).build();
        let r = tokio::select! {
            r = self.docker.upload_to_container(id, Some(o), bollard::body_stream(file_body(f, pb.clone()))) => r,
            _ = ctx.cancel.cancelled() => { pb.finish_and_clear(); return Err(Error::Cancelled) }
        };
        pb.finish_and_clear();
        r.map_err(|e| api(&format!("copying into the container's {dir}"), e))
    }

    async fn download(&self, id: &str, path: &str, to: &Path) -> Result<()> {
        let o = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut s = self.docker.download_from_container(id, Some(o));
        let mut f = tokio::fs::File::create(to)
            .await
            .map_err(|e| Error::msg(format!("creating {}: {e}", to.display())))?;
        while let Some(c) = s.next().await {
            // The docker CLI's words, which Packer's messages carry.
            let c = c.map_err(|e| {
                Error::msg(format!(
                    "Error response from daemon: {}",
                    engine_message(&e)
                ))
            })?;
            f.write_all(&c)
                .await
                .map_err(|e| Error::msg(format!("writing {}: {e}", to.display())))?;
        }
        f.flush()
            .await
            .map_err(|e| Error::msg(format!("writing {}: {e}", to.display())))
    }

    async fn container_user(&self, id: &str) -> Result<String> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| api("inspecting the container", e))?;
        Ok(c.config.and_then(|c| c.user).unwrap_or_default())
    }

    async fn container_ip(&self, id: &str) -> Result<String> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| api("inspecting the container", e))?;
        let n = c.network_settings.unwrap_or_default();
        Ok(n.networks
            .unwrap_or_default()
            .into_values()
            .filter_map(|e| e.ip_address)
            .find(|ip| !ip.is_empty())
            .unwrap_or_default())
    }

    async fn commit(
        &self,
        id: &str,
        changes: &[String],
        author: Option<&str>,
        message: Option<&str>,
    ) -> Result<String> {
        let mut o = CommitContainerOptionsBuilder::default()
            .container(id)
            .pause(true);
        if !changes.is_empty() {
            o = o.changes(&changes.join("\n"));
        }
        if let Some(a) = author.filter(|a| !a.is_empty()) {
            o = o.author(a);
        }
        if let Some(m) = message.filter(|m| !m.is_empty()) {
            o = o.comment(m);
        }
        let r = self
            .docker
            .commit_container(o.build(), bollard::models::ContainerConfig::default())
            .await
            .map_err(|e| api("committing the container", e))?;
        Ok(r.id)
    }

    async fn export(&self, ctx: &BuildCtx, id: &str, path: &Path) -> Result<()> {
        // The root filesystem's size: the bar's (approximate) total.
        let size = self
            .docker
            .inspect_container(
                id,
                Some(bollard::query_parameters::InspectContainerOptions { size: true }),
            )
            .await
            .ok()
            .and_then(|c| c.size_root_fs)
            .unwrap_or(0)
            .max(0) as u64;
        let mut s = self.docker.export_container(id);
        let mut f = tokio::fs::File::create(path)
            .await
            .map_err(|e| Error::msg(format!("creating {}: {e}", path.display())))?;
        let pb = ctx
            .ui
            .progress(size, &format!("exporting to {}", path.display()));
        let r: Result<()> = async {
            loop {
                let c = tokio::select! {
                    c = s.next() => c,
                    _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                };
                let Some(c) = c else { break };
                let c = c.map_err(|e| api("exporting the container", e))?;
                pb.inc(c.len() as u64);
                f.write_all(&c)
                    .await
                    .map_err(|e| Error::msg(format!("writing {}: {e}", path.display())))?;
            }
            f.flush()
                .await
                .map_err(|e| Error::msg(format!("writing {}: {e}", path.display())))
        }
        .await;
        pb.finish_and_clear();
        r
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let k = KillContainerOptionsBuilder::default()
            .signal("KILL")
            .build();
        let _ = self.docker.kill_container(id, Some(k)).await;
        let o = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(o)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            // Removal already under way (a concurrent cleanup): fine.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                ref message,
            }) if message.contains("already in progress") => Ok(()),
            Err(e) => Err(api(&format!("removing container {id}"), e)),
        }
    }

    async fn remove_image(&self, id: &str) -> Result<()> {
        let o = RemoveImageOptionsBuilder::default().force(true).build();
        match self.docker.remove_image(id, Some(o), None).await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(api(&format!("removing image {id}"), e)),
        }
    }

    async fn containers_of_run(&self, run_id: &str) -> Result<Vec<String>> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{RUN_LABEL}={run_id}")])]);
        let o = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let cs = self
            .docker
            .list_containers(Some(o))
            .await
            .map_err(|e| api("listing containers", e))?;
        Ok(cs
            .into_iter()
            .filter_map(|c| {
                c.names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .or(c.id)
            })
            .collect())
    }
}

/// A request body streaming a local file, counting its bytes on a progress bar.
fn file_body(
    f: tokio::fs::File,
    pb: indicatif::ProgressBar,
) -> impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static {
    let body = futures_util::stream::unfold(f, move |mut f| {
        let pb = pb.clone();
        async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 256 * 1024];
            match f.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    pb.inc(n as u64);
                    Some((bytes::Bytes::from(buf), f))
                }
            }
        }
    });
    body
}

/// Opens a local file for a request body; its length.
async fn open_body(path: &Path) -> Result<(tokio::fs::File, u64)> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::msg(format!("reading {}: {e}", path.display())))?;
    let len = f.metadata().await.map(|m| m.len()).unwrap_or(0);
    Ok((f, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks() {
        let mut b = b"a\r\nb".to_vec();
        let mut got = Vec::new();
        take_lines(&mut b, |l| got.push(l.to_string()));
        b.extend_from_slice(b"c\n");
        take_lines(&mut b, |l| got.push(l.to_string()));
        assert_eq!(got, ["a", "bc"]);
        assert!(b.is_empty());
    }

    #[test]
    fn create_body_maps_flags() {
        let spec = RunSpec {
            name: "n".into(),
            image: "i".into(),
            entrypoint: vec!["/bin/sh".into()],
            tty: true,
            open_stdin: true,
            binds: vec!["/tmp/x:/packer-files".into()],
            tmpfs: vec!["/run:size=1m".into()],
            devices: vec!["/dev/fuse".into()],
            labels: vec![(RUN_LABEL.into(), "r".into())],
            ..RunSpec::default()
        };
        let b = create_body(&spec);
        assert_eq!(b.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(b.tty, Some(true));
        let h = b.host_config.unwrap();
        assert_eq!(h.binds.unwrap(), ["/tmp/x:/packer-files"]);
        assert_eq!(h.tmpfs.unwrap()["/run"], "size=1m");
        assert_eq!(
            h.devices.unwrap()[0].path_in_container.as_deref(),
            Some("/dev/fuse")
        );
        assert_eq!(b.labels.unwrap()[RUN_LABEL], "r");
    }
}
