//! The docker builder and communicator against the real engine.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, Hook, Stream};
use forge_core::{Error, Result};
use forge_docker::driver::{Driver, Engine};
use serde_json::json;
use support::*;

/// What the test hook does with the communicator.
#[derive(Clone, Copy)]
enum Script {
    /// Commands, file and directory transfers both ways.
    Transfers,
    /// One command that exits 3.
    Fail,
    /// A long command (for cancellation).
    Sleep,
    /// Uploads a file and a directory and reports their owners (`owner:<file> <dir file>`).
    Owner,
    /// Nothing.
    Nothing,
}

struct TestHook {
    script: Script,
    out: Mutex<Vec<String>>,
    tmp: std::path::PathBuf,
}

impl TestHook {
    fn new(script: Script) -> Arc<TestHook> {
        Arc::new(TestHook {
            script,
            out: Mutex::new(Vec::new()),
            tmp: tempfile::tempdir().unwrap().keep(),
        })
    }

    async fn run(&self, ctx: &BuildCtx, c: &dyn Communicator, cmd: &str) -> Result<i32> {
        let mut lines = Vec::new();
        let code = c
            .exec(ctx, cmd, &mut |s, l| {
                lines.push(format!(
                    "{}{l}",
                    if s == Stream::Stderr { "E:" } else { "" }
                ))
            })
            .await?;
        self.out.lock().unwrap().extend(lines);
        Ok(code)
    }
}

#[async_trait]
impl Hook for TestHook {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        comm: Option<Arc<dyn Communicator>>,
        _data: &BuildData,
    ) -> Result<()> {
        let c = comm.expect("a communicator");
        match self.script {
            Script::Nothing => Ok(()),
            Script::Owner => {
                let src = self.tmp.join("owned.txt");
                std::fs::write(&src, "x").unwrap();
                c.upload(ctx, "/tmp/owned.txt", &src).await?;
                let d = self.tmp.join("owned-dir");
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join("f"), "y").unwrap();
                c.upload_dir(ctx, "/tmp", &d).await?;
                self.run(
                    ctx,
                    &*c,
                    "echo owner:$(stat -c %U /tmp/owned.txt) $(stat -c %U /tmp/owned-dir/f) $(id -un)",
                )
                .await?;
                Ok(())
            }
            Script::Fail => match self.run(ctx, &*c, "echo failing; exit 3").await? {
                0 => Ok(()),
                n => Err(Error::msg(format!(
                    "Script exited with non-zero exit status: {n}"
                ))),
            },
            Script::Sleep => {
                self.run(ctx, &*c, "sleep 60").await?;
                Ok(())
            }
            Script::Transfers => {
                let code = self
                    .run(
                        ctx,
                        &*c,
                        "echo hello from $(id -un); echo oops >&2; echo made > /marker",
                    )
                    .await?;
                assert_eq!(code, 0);
                assert_eq!(self.run(ctx, &*c, "exit 7").await?, 7);
                // Each command is on its own: no state carries over, a syntax error fails
                // only its command, stdin is empty, an unterminated last line still arrives.
                assert_eq!(self.run(ctx, &*c, "cd /tmp; export FORGE_X=1").await?, 0);
                assert_eq!(
                    self.run(ctx, &*c, "echo \"$(pwd) ${FORGE_X:-unset}\"")
                        .await?,
                    0
                );
                assert_ne!(self.run(ctx, &*c, "if then fi").await?, 0);
                assert_eq!(self.run(ctx, &*c, "cat; printf no-newline").await?, 0);
                assert_eq!(self.run(ctx, &*c, "printf 'a\\n\\nb\\n'").await?, 0);
                {
                    let out = self.out.lock().unwrap();
                    let tail: Vec<&str> =
                        out.iter().rev().take(4).rev().map(String::as_str).collect();
                    assert_eq!(tail, ["no-newline", "a", "", "b"], "{out:?}");
                    assert!(out.contains(&"/ unset".to_string()), "{out:?}");
                }
                // A file, up and back.
                let src = self.tmp.join("a.txt");
                std::fs::write(&src, "payload\n").unwrap();
                c.upload(ctx, "/tmp/up/a.txt", &src).await?;
                assert_eq!(
                    self.run(ctx, &*c, "test \"$(cat /tmp/up/a.txt)\" = payload")
                        .await?,
                    0
                );
                let back = self.tmp.join("back.txt");
                c.download(ctx, "/tmp/up/a.txt", &back).await?;
                assert_eq!(std::fs::read_to_string(&back).unwrap(), "payload\n");
                // A directory, with and without the trailing slash.
                let d = self.tmp.join("tree");
                std::fs::create_dir_all(d.join("sub")).unwrap();
                std::fs::write(d.join("sub/f"), "deep").unwrap();
                c.upload_dir(ctx, "/opt/x", &d).await?;
                let mut slash = d.as_os_str().to_owned();
                slash.push("/");
                c.upload_dir(ctx, "/opt/y", Path::new(&slash)).await?;
                assert_eq!(
                    self.run(
                        ctx,
                        &*c,
                        "test -f /opt/x/tree/sub/f && test -f /opt/y/sub/f"
                    )
                    .await?,
                    0
                );
                let down = self.tmp.join("down");
                c.download_dir(ctx, "/opt/x/tree", &down).await?;
                assert_eq!(std::fs::read_to_string(down.join("sub/f")).unwrap(), "deep");
                Ok(())
            }
        }
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

fn builder(cfg: serde_json::Value) -> Box<dyn forge_core::plugin::Builder> {
    forge_docker::builder::factory(&value(cfg), &info()).unwrap_or_else(|e| panic!("{e:?}"))
}

async fn assert_clean(run_id: &str) {
    assert_eq!(
        leftovers(run_id).await,
        Vec::<String>::new(),
        "containers left behind"
    );
}

#[tokio::test]
async fn commit_runs_commands_transfers_files_and_makes_an_image() {
    let img = base_image();
    let ctx = ctx();
    let hook = TestHook::new(Script::Transfers);
    let b = builder(json!({"image": img, "pull": false, "commit": true,
        "changes": ["ENV FORGE_TEST=1", "LABEL forge.test=yes"], "message": "built by forge"}));
    let art = b
        .run(&ctx, hook.clone())
        .await
        .unwrap()
        .expect("an artifact");
    let out = hook.out.lock().unwrap().clone();
    assert!(out.contains(&"hello from root".to_string()), "{out:?}");
    assert!(out.contains(&"E:oops".to_string()), "{out:?}");
    assert_eq!(art.builder_id(), "packer.post-processor.docker-import");
    assert!(art.id().starts_with("sha256:"));
    let e = Engine::connect().await.unwrap();
    let i = e
        .inspect_image(&art.id())
        .await
        .unwrap()
        .expect("the image exists");
    // StepSetDefaults: the image's empty CMD/ENTRYPOINT undo run_command's --entrypoint.
    assert!(i.entrypoint.iter().all(|s| s.is_empty()), "{i:?}");
    assert_clean(&ctx.run_id).await;
    art.destroy().await.unwrap();
    assert!(e.inspect_image(&art.id()).await.unwrap().is_none());
}

#[tokio::test]
async fn export_path_writes_the_root_filesystem() {
    let img = base_image();
    let ctx = ctx();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/fs.tar");
    let b = builder(json!({"image": img, "pull": false,
        "export_path": path.to_string_lossy()}));
    let hook = TestHook::new(Script::Transfers);
    let art = b.run(&ctx, hook).await.unwrap().expect("an artifact");
    assert_eq!(art.builder_id(), "packer.docker");
    assert_eq!(art.id(), "Container");
    assert_eq!(art.files(), vec![path.to_string_lossy().to_string()]);
    let mut names = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(&path).unwrap());
    for e in a.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().to_string());
    }
    for want in ["etc/debian_version", "marker", "opt/x/tree/sub/f"] {
        assert!(
            names.iter().any(|n| n.trim_start_matches("./") == want),
            "{want} missing"
        );
    }
    assert_clean(&ctx.run_id).await;
    art.destroy().await.unwrap();
    assert!(!path.exists());
}

#[tokio::test]
async fn discard_leaves_nothing() {
    let img = base_image();
    let ctx = ctx();
    let b = builder(json!({"image": img, "pull": false, "discard": true}));
    let art = b
        .run(&ctx, TestHook::new(Script::Nothing))
        .await
        .unwrap()
        .expect("Packer's empty export artifact");
    assert_eq!(art.string(), "Exported Docker file: ");
    assert_clean(&ctx.run_id).await;
    assert!(
        ctx.journal.live(None).is_empty(),
        "{:?}",
        ctx.journal.live(None)
    );
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_is_a_clear_error() {
    base_image();
    let ctx = ctx();
    let b = builder(json!({"image": "forge-test/does-not-exist:nope", "discard": true}));
    let err = b
        .run(&ctx, TestHook::new(Script::Nothing))
        .await
        .err()
        .expect("the build fails");
    let m = err.to_string();
    assert!(m.contains("Error pulling Docker image"), "{m}");
    assert!(m.contains("forge-test/does-not-exist"), "{m}");
    assert_clean(&ctx.run_id).await;
    // Without pull, creating the container is what fails.
    let ctx = support::ctx();
    let b =
        builder(json!({"image": "forge-test/does-not-exist:nope", "pull": false, "discard": true}));
    let m = b
        .run(&ctx, TestHook::new(Script::Nothing))
        .await
        .err()
        .expect("the build fails")
        .to_string();
    assert!(m.contains("Error running container"), "{m}");
    assert_clean(&ctx.run_id).await;
    assert!(ctx.journal.live(None).is_empty());
}

#[tokio::test]
async fn a_failing_command_fails_the_build_and_removes_the_container() {
    let img = base_image();
    let ctx = ctx();
    let b = builder(json!({"image": img, "pull": false, "commit": true}));
    let m = b
        .run(&ctx, TestHook::new(Script::Fail))
        .await
        .err()
        .expect("the build fails")
        .to_string();
    assert!(m.contains("non-zero exit status: 3"), "{m}");
    assert_clean(&ctx.run_id).await;
    assert!(ctx.journal.live(None).is_empty());
}

#[tokio::test]
async fn cancelling_stops_a_running_command_promptly() {
    let img = base_image();
    let ctx = ctx();
    let b = builder(json!({"image": img, "pull": false, "discard": true}));
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        cancel.cancel();
    });
    let t = Instant::now();
    let r = b.run(&ctx, TestHook::new(Script::Sleep)).await;
    assert!(matches!(r, Err(Error::Cancelled)), "{:?}", r.err());
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert_clean(&ctx.run_id).await;
}

#[test]
fn configuration_errors_match_packer() {
    let e =
        forge_docker::builder::factory(&value(json!({"commit": true, "discard": true})), &info())
            .err()
            .unwrap();
    assert_eq!(
        e,
        [
            "Image must be specified",
            "Cannot specify more than one of commit, discard, and export_path"
        ]
    );
    let e = forge_docker::builder::factory(&value(json!({"image": "x"})), &info())
        .err()
        .unwrap();
    assert_eq!(
        e,
        ["No instructions given for handling the artifact; expected commit, discard, or export_path"]
    );
    let e = forge_docker::builder::factory(
        &value(json!({"image": "x", "commit": true, "changes": ["RUN rm -rf /"], "export_path": "/tmp"})),
        &info(),
    )
    .err()
    .unwrap();
    assert!(
        e.iter()
            .any(|m| m.contains("RUN is not a valid change command")),
        "{e:?}"
    );
    assert!(
        e.contains(&"export_path must be a file, not a directory".to_string()),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_build_block_makes_the_source_image_from_a_dockerfile() {
    let img = base_image();
    let ctx = ctx();
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("payload.txt"), "from the context\n").unwrap();
    // The Dockerfile lives outside the context, as `path` allows.
    let dockerfile = dir.path().join("Dockerfile.test");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {img}\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting\nCOPY payload.txt /payload.txt\n"
        ),
    )
    .unwrap();
    let b = builder(json!({"commit": true, "build": {
        "path": dockerfile.to_string_lossy(),
        "build_dir": context.to_string_lossy(),
        "arguments": {"GREETING": "hello-build-arg"},
        "pull": false,
    }}));
    let hook = TestHook::new(Script::Nothing);
    let art = b.run(&ctx, hook).await.unwrap().expect("an artifact");
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", &art.id(), "cat", "/greeting", "/payload.txt"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello-build-arg\nfrom the context\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean(&ctx.run_id).await;
    art.destroy().await.unwrap();

    // A Dockerfile that fails says why, with the build's output.
    std::fs::write(
        &dockerfile,
        format!("FROM {img}\nRUN echo building; exit 5\n"),
    )
    .unwrap();
    let ctx = support::ctx();
    let b = builder(json!({"discard": true, "build": {
        "path": dockerfile.to_string_lossy(),
        "build_dir": context.to_string_lossy(),
        "pull": false,
    }}));
    let m = b
        .run(&ctx, TestHook::new(Script::Nothing))
        .await
        .err()
        .expect("the build fails")
        .to_string();
    assert!(m.contains("docker build failed"), "{m}");
    assert!(m.contains("returned a non-zero code: 5"), "{m}");
    assert!(m.contains("building"), "{m}");
    assert_clean(&ctx.run_id).await;
}

#[test]
fn build_block_checks_match_packer() {
    let e = forge_docker::builder::factory(
        &value(json!({"image": "x", "commit": true,
            "build": {"path": "/nonexistent/Dockerfile", "build_dir": "/etc/hostname"}})),
        &info(),
    )
    .err()
    .unwrap();
    assert!(
        e.iter()
            .any(|m| m.starts_with("failed to stat file \"/nonexistent/Dockerfile\"")),
        "{e:?}"
    );
    assert!(
        e.contains(&"specified build_dir \"/etc/hostname\" is not a directory".to_string()),
        "{e:?}"
    );
    assert!(
        e.contains(&"`image` cannot be specified with a build config".to_string()),
        "{e:?}"
    );
}

#[tokio::test]
async fn uploads_belong_to_the_containers_user_unless_told_otherwise() {
    let img = base_image();
    let run_as = |fix: bool| {
        json!({"image": img, "pull": false, "discard": true, "fix_upload_owner": fix,
            "run_command": ["-d", "-i", "-t", "--user", "nobody", "--entrypoint=/bin/sh", "--", "{{.Image}}"]})
    };
    for (fix, want) in [
        (true, "owner:nobody nobody nobody"),
        (false, "owner:root root nobody"),
    ] {
        let ctx = ctx();
        let hook = TestHook::new(Script::Owner);
        builder(run_as(fix)).run(&ctx, hook.clone()).await.unwrap();
        let out = hook.out.lock().unwrap().clone();
        assert!(
            out.contains(&want.to_string()),
            "fix_upload_owner={fix}: {out:?}"
        );
        assert_clean(&ctx.run_id).await;
    }
}
