//! The `docker` builder: starts a container from an image, provisions it through the docker
//! communicator (or ssh), then commits it to an image, exports its filesystem, or discards it.
//! The container is always removed at the end, also after errors and interrupts.

mod artifact;
mod config;
mod step_build;
mod step_commit;
mod step_connect;
mod step_export;
mod step_pull;
mod step_run;
mod step_temp_dir;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{hook_data, ProvisionState, StepProvision};
use forge_core::local::TempPath;
use forge_core::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::Result;
use forge_template::value::Value;

use crate::driver::{Driver, Engine};

pub use artifact::{ExportArtifact, ImportArtifact};
pub use config::{
    parse_run_command, run_spec, BuildConfig, Config, Output, CHANGE_INSTRUCTIONS,
    DEFAULT_RUN_COMMAND,
};

/// Packer's builder id for `docker`.
pub const BUILDER_ID: &str = "packer.docker";
/// The builder id of a committed image (Packer reuses the docker-import post-processor's).
pub const IMPORT_BUILDER_ID: &str = "packer.post-processor.docker-import";

/// The builder.
pub struct DockerBuilder {
    config: Config,
    info: PrepareInfo,
    driver: Option<Arc<dyn Driver>>,
}

impl DockerBuilder {
    /// A builder over a given driver (tests use a fake or a shared engine).
    pub fn with_driver(config: Config, info: PrepareInfo, driver: Arc<dyn Driver>) -> Self {
        DockerBuilder {
            config,
            info,
            driver: Some(driver),
        }
    }
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    let config = Config::prepare(v, info)?;
    Ok(Box::new(DockerBuilder {
        config,
        info: info.clone(),
        driver: None,
    }))
}

/// What the steps share.
pub struct State {
    /// The engine.
    pub driver: Arc<dyn Driver>,
    /// The configuration.
    pub config: Config,
    /// The temporary directory bound into the container.
    pub temp_dir: Option<TempPath>,
    /// The container's id, once running.
    pub container_id: Option<String>,
    /// The container's IP address.
    pub container_ip: String,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// The committed image's id.
    pub image_id: Option<String>,
    /// Generated data (`ImageSha256`, `SourceImageSha256`, `SourceImageDigest`).
    pub generated: BuildData,
}

impl State {
    /// The state before the first step.
    pub(crate) fn new(driver: Arc<dyn Driver>, config: Config) -> State {
        State {
            driver,
            config,
            temp_dir: None,
            container_id: None,
            container_ip: String::new(),
            comm: None,
            image_id: None,
            generated: default_generated(),
        }
    }
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        hook_data(ctx, self.container_id.as_deref(), None, &self.generated)
    }
}

fn default_generated() -> BuildData {
    [
        ("ImageSha256", "ERR_IMAGE_SHA256_NOT_FOUND"),
        ("SourceImageDigest", "ERR_SOURCE_IMAGE_DIGEST_NOT_FOUND"),
        ("SourceImageSha256", "ERR_SOURCE_IMAGE_SHA256_NOT_FOUND"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[async_trait]
impl Builder for DockerBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let driver = match &self.driver {
            Some(d) => d.clone(),
            None => Arc::new(
                Engine::connect()
                    .await
                    .map_err(|e| e.context("docker builder"))?,
            ) as Arc<dyn Driver>,
        };
        let c = &self.config;
        let mut state = State::new(driver.clone(), c.clone());
        let mut steps: Vec<Box<dyn Step<State>>> =
            vec![Box::new(step_temp_dir::StepTempDir::default())];
        if let Some(b) = &c.build {
            steps.push(Box::new(step_build::StepBuild {
                build: b.clone(),
                built: None,
            }));
        }
        if c.pull {
            steps.push(Box::new(step_pull::StepPull));
        }
        steps.push(Box::new(step_run::StepRun::default()));
        steps.push(step_connect::step(c, &self.info));
        steps.push(Box::new(StepProvision { hook }));
        match &c.output {
            Output::Commit => steps.push(Box::new(step_commit::StepCommit)),
            Output::Export(_) => steps.push(Box::new(step_export::StepExport)),
            Output::Discard => {}
        }
        run_steps(ctx, &mut state, &mut steps).await?;
        Ok(match &c.output {
            Output::Commit => state.image_id.clone().map(|id| {
                Arc::new(ImportArtifact {
                    id,
                    driver,
                    generated: state.generated.clone(),
                }) as Arc<dyn Artifact>
            }),
            // Packer returns an export artifact with an empty path for a discarded container,
            // and lists it among the build's artifacts.
            Output::Export(_) | Output::Discard => Some(Arc::new(ExportArtifact {
                path: match &c.output {
                    Output::Export(p) => p.clone(),
                    _ => String::new(),
                },
                generated: state.generated.clone(),
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{config, ctx, image, info, Call, FakeDriver, Op};
    use forge_core::plugin::Communicator;
    use forge_core::Error;
    use serde_json::json;

    /// A provisioner run: commands (a non-zero exit fails, as the shell provisioner), then
    /// an upload of a small file to `/tmp/hello.txt`.
    struct TestHook {
        cmds: Vec<&'static str>,
        upload: bool,
    }

    #[async_trait]
    impl Hook for TestHook {
        async fn provision(
            &self,
            ctx: &BuildCtx,
            comm: Option<Arc<dyn Communicator>>,
            _: &BuildData,
        ) -> Result<()> {
            let c = comm.expect("a communicator");
            for cmd in &self.cmds {
                let code = c.exec(ctx, cmd, &mut |_, _| {}).await?;
                if code != 0 {
                    return Err(forge_core::Error::msg(format!(
                        "Script exited with non-zero exit status: {code}"
                    )));
                }
            }
            if self.upload {
                let d = tempfile::tempdir().unwrap();
                std::fs::write(d.path().join("hello.txt"), "hello").unwrap();
                c.upload(ctx, "/tmp/hello.txt", &d.path().join("hello.txt"))
                    .await?;
            }
            Ok(())
        }
        async fn cleanup_provision(
            &self,
            _: &BuildCtx,
            _: Option<Arc<dyn Communicator>>,
            _: &BuildData,
        ) -> Result<()> {
            Ok(())
        }
    }

    fn hook(cmds: &[&'static str], upload: bool) -> Arc<dyn Hook> {
        Arc::new(TestHook {
            cmds: cmds.to_vec(),
            upload,
        })
    }

    async fn build(
        fake: &Arc<FakeDriver>,
        j: serde_json::Value,
        hook: Arc<dyn Hook>,
        ctx: &BuildCtx,
    ) -> Result<Option<Arc<dyn Artifact>>> {
        let b = DockerBuilder::with_driver(config(j), info(), fake.clone());
        b.run(ctx, hook).await
    }

    /// The shared temporary directory, from the container's binds.
    fn shared_dir(fake: &FakeDriver) -> std::path::PathBuf {
        let Call::Run(spec) = fake.calls_of(Op::Run).remove(0) else {
            unreachable!()
        };
        let b = spec
            .binds
            .iter()
            .find(|b| b.ends_with(":/packer-files"))
            .unwrap();
        b.trim_end_matches(":/packer-files").into()
    }

    /// Nothing of the build is left: no container, no temporary directory, no journal entry.
    async fn assert_clean(fake: &FakeDriver, ctx: &BuildCtx) {
        assert_eq!(
            fake.containers_of_run(&ctx.run_id).await.unwrap(),
            Vec::<String>::new()
        );
        assert!(fake.model().containers.is_empty());
        if !fake.calls_of(Op::Run).is_empty() {
            assert!(!shared_dir(fake).exists());
        }
        assert!(
            ctx.journal.live(None).is_empty(),
            "{:?}",
            ctx.journal.live(None)
        );
    }

    #[tokio::test]
    async fn a_commit_build_pulls_runs_provisions_commits_and_removes_the_container() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().in_registry("example/base", image("sha256:src"));
        let art = build(
            &fake,
            json!({"image": "example/base", "commit": true, "changes": ["ENV A=1"],
                "message": "m", "author": "a"}),
            hook(&["echo hi"], true),
            &ctx,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            fake.ops(),
            [
                Op::Pull,
                Op::InspectImage,
                Op::Run,
                Op::ContainerIp,
                Op::ContainerUser,
                Op::Shell,
                Op::ShellRun,
                Op::Shell,
                Op::ShellRun,
                Op::UploadBytes,
                Op::InspectImage,
                Op::Commit,
                Op::RemoveContainer,
            ]
        );
        let id = fake.model().commits[0].container.clone();
        assert_eq!(
            fake.calls_of(Op::Commit),
            [Call::Commit {
                id: id.clone(),
                changes: ["ENV A=1", "CMD [\"bash\"]", "ENTRYPOINT [\"/entry\"]"]
                    .map(String::from)
                    .to_vec(),
                author: Some("a".into()),
                message: Some("m".into()),
            }]
        );
        assert_eq!(
            fake.calls_of(Op::RemoveContainer),
            [Call::RemoveContainer(id)]
        );
        let image = fake.model().commits[0].image.clone();
        assert_eq!(art.builder_id(), IMPORT_BUILDER_ID);
        assert_eq!(art.id(), image);
        let data = art.state("generated_data").unwrap();
        assert_eq!(data["ImageSha256"], image.as_str());
        assert_eq!(data["SourceImageSha256"], "sha256:src");
        assert_clean(&fake, &ctx).await;
        // Destroying the artifact removes the image, and only then.
        assert!(fake.model().images.contains_key(&image));
        art.destroy().await.unwrap();
        assert_eq!(
            fake.calls_of(Op::RemoveImage),
            [Call::RemoveImage(image.clone())]
        );
        assert!(!fake.model().images.contains_key(&image));
        assert!(fake.model().images.contains_key("example/base"));
    }

    #[tokio::test]
    async fn an_export_build_writes_the_containers_files() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("fs.tar");
        let art = build(
            &fake,
            json!({"image": "base", "pull": false, "export_path": path.to_string_lossy()}),
            hook(&[], true),
            &ctx,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            fake.ops(),
            [
                Op::Run,
                Op::ContainerIp,
                Op::ContainerUser,
                Op::Shell,
                Op::ShellRun,
                Op::UploadBytes,
                Op::Export,
                Op::RemoveContainer,
            ]
        );
        assert_eq!(art.builder_id(), BUILDER_ID);
        assert_eq!(art.files(), [path.to_string_lossy().to_string()]);
        assert_eq!(crate::fake::tar_names(&path), ["tmp/hello.txt"]);
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn a_discard_build_leaves_nothing() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        let art = build(
            &fake,
            json!({"image": "base", "pull": false, "discard": true}),
            hook(&["true"], false),
            &ctx,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            fake.ops(),
            [
                Op::Run,
                Op::ContainerIp,
                Op::ContainerUser,
                Op::Shell,
                Op::ShellRun,
                Op::RemoveContainer,
            ]
        );
        assert_eq!(art.string(), "Exported Docker file: ");
        assert!(fake.model().commits.is_empty() && fake.model().exports.is_empty());
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn a_discarded_dockerfile_build_removes_its_image_after_the_container() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Dockerfile"), "FROM base\n").unwrap();
        build(
            &fake,
            json!({"discard": true, "build": {
                "path": d.path().join("Dockerfile").to_string_lossy(),
                "build_dir": d.path().to_string_lossy()}}),
            hook(&[], false),
            &ctx,
        )
        .await
        .unwrap();
        assert_eq!(
            fake.ops(),
            [
                Op::BuildImage,
                Op::Run,
                Op::ContainerIp,
                Op::ContainerUser,
                Op::RemoveContainer,
                Op::RemoveImage,
            ]
        );
        assert!(fake.model().images.is_empty());
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn a_failing_provisioner_stops_the_build_before_the_commit() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        fake.reply("exit 3", crate::fake::Reply::code(3, &[]));
        let m = build(
            &fake,
            json!({"image": "base", "pull": false, "commit": true}),
            hook(&["exit 3", "never"], false),
            &ctx,
        )
        .await
        .err()
        .unwrap()
        .to_string();
        assert_eq!(m, "Script exited with non-zero exit status: 3");
        let ops = fake.ops();
        assert!(!ops.contains(&Op::Commit), "{ops:?}");
        assert_eq!(ops.last(), Some(&Op::RemoveContainer));
        assert_eq!(fake.calls_of(Op::RemoveContainer).len(), 1);
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn a_failed_commit_fails_the_build_and_removes_the_container() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        fake.fail(Op::Commit, "No such container");
        let m = build(
            &fake,
            json!({"image": "base", "pull": false, "commit": true}),
            hook(&[], false),
            &ctx,
        )
        .await
        .err()
        .unwrap()
        .to_string();
        assert_eq!(
            m,
            "Error committing container: committing the container: No such container"
        );
        assert!(fake.model().commits.is_empty());
        assert_eq!(fake.calls_of(Op::RemoveContainer).len(), 1);
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn a_failed_pull_starts_no_container() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let r = build(
            &fake,
            json!({"image": "missing", "discard": true}),
            hook(&[], false),
            &ctx,
        )
        .await;
        assert!(r.is_err());
        assert_eq!(fake.ops(), [Op::Pull]);
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn an_interrupted_build_leaves_no_container() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        fake.hang(Op::ShellRun);
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            cancel.cancel();
        });
        let r = build(
            &fake,
            json!({"image": "base", "pull": false, "commit": true}),
            hook(&["sleep 600"], false),
            &ctx,
        )
        .await;
        assert!(matches!(r, Err(Error::Cancelled)), "{:?}", r.err());
        let ops = fake.ops();
        assert!(!ops.contains(&Op::Commit), "{ops:?}");
        assert_eq!(fake.calls_of(Op::RemoveContainer).len(), 1);
        assert_clean(&fake, &ctx).await;
    }

    #[tokio::test]
    async fn an_interrupted_export_leaves_no_container_and_no_file() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().with_image("base", image("sha256:b"));
        fake.hang(Op::Export);
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("fs.tar");
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            cancel.cancel();
        });
        let r = build(
            &fake,
            json!({"image": "base", "pull": false, "export_path": path.to_string_lossy()}),
            hook(&[], false),
            &ctx,
        )
        .await;
        assert!(matches!(r, Err(Error::Cancelled)), "{:?}", r.err());
        assert!(!path.exists());
        assert_eq!(fake.calls_of(Op::RemoveContainer).len(), 1);
        assert_clean(&fake, &ctx).await;
    }
}
