//! StepBuild: with a `build {}` block, builds the source image from a Dockerfile and runs the
//! build from it. The built image stays (the committed image depends on it), except when the
//! container is discarded.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::config::BuildConfig;
use super::{Output, State};
use crate::driver::BuildSpec;

pub(super) struct StepBuild {
    pub(super) build: BuildConfig,
    pub(super) built: Option<String>,
}

/// The `.dockerignore` rules of a context: `(exception, pattern)` in file order.
fn ignore_rules(dir: &Path) -> Vec<(bool, String)> {
    let text = std::fs::read_to_string(dir.join(".dockerignore")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (neg, p) = match l.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, l),
            };
            let p = forge_template::functions::go_clean_path(p);
            (neg, p.trim_start_matches('/').to_string())
        })
        .collect()
}

/// Whether `rel` is excluded: the last rule matching it, or one of its parent directories,
/// decides (Docker's pattern matcher).
fn ignored(rules: &[(bool, String)], rel: &str) -> bool {
    let mut out = false;
    for (neg, pat) in rules {
        let mut hit = false;
        let mut p = rel;
        loop {
            if forge_template::functions::glob_match(pat, p) {
                hit = true;
                break;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        if hit {
            out = !neg;
        }
    }
    out
}

/// Writes the context directory as a tar into `to`, leaving out what `.dockerignore` excludes
/// and forge's own temporary files (`skip`: TMPDIR may lie inside the context); returns the
/// Dockerfile's path inside the context. A Dockerfile outside the context travels in the tar
/// under a name of its own, as with the docker CLI.
fn context_tar(b: &BuildConfig, to: &Path, skip: &[PathBuf]) -> std::io::Result<String> {
    fn add(
        t: &mut tar::Builder<std::fs::File>,
        root: &Path,
        dir: &Path,
        rules: &[(bool, String)],
        skip: &[PathBuf],
    ) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        let descend_ignored = rules.iter().any(|(neg, _)| *neg);
        for e in entries {
            let p = e.path();
            if skip.iter().any(|s| p.starts_with(s)) {
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let is_dir = e.file_type()?.is_dir();
            let skip_it = ignored(rules, &rel);
            if is_dir {
                if !skip_it {
                    t.append_dir(&rel, &p)?;
                }
                if !skip_it || descend_ignored {
                    add(t, root, &p, rules, skip)?;
                }
            } else if !skip_it {
                t.append_path_with_name(&p, &rel)?;
            }
        }
        Ok(())
    }
    let mut t = tar::Builder::new(std::fs::File::create(to)?);
    t.follow_symlinks(false);
    let rules = ignore_rules(&b.dir);
    let mut skip = skip.to_vec();
    skip.push(to.to_path_buf());
    add(&mut t, &b.dir, &b.dir, &rules, &skip)?;
    let name = match b.dockerfile.strip_prefix(&b.dir) {
        Ok(rel) => {
            let rel = rel.to_string_lossy().into_owned();
            // The Dockerfile always travels, even when ignored.
            if ignored(&rules, &rel) {
                t.append_path_with_name(&b.dockerfile, &rel)?;
            }
            rel
        }
        Err(_) => {
            let name = ".forge-dockerfile".to_string();
            t.append_path_with_name(&b.dockerfile, &name)?;
            name
        }
    };
    t.into_inner()?.sync_all()?;
    Ok(name)
}

#[async_trait]
impl Step<State> for StepBuild {
    fn name(&self) -> &'static str {
        "stepBuild"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Building base image...");
        let a = &st.config.args;
        let auth = super::step_pull::login(ctx, &st.config);
        let dir = st
            .temp_dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .ok_or_else(|| Error::msg("stepBuild: no temporary directory"))?;
        // The context travels from the build's own temporary directory; it is not shared with
        // the container, which has not started yet.
        let tar_path = dir.join(".forge-build-context.tar");
        let b = self.build.clone();
        let tp = tar_path.clone();
        let skip = vec![dir.clone()];
        let dockerfile = tokio::task::spawn_blocking(move || context_tar(&b, &tp, &skip))
            .await
            .map_err(|e| Error::msg(format!("packing the build context: {e}")))?
            .map_err(|e| {
                Error::msg(format!(
                    "packing the build context {}: {e}",
                    self.build.dir.display()
                ))
            })?;
        let spec = BuildSpec {
            context_tar: tar_path.clone(),
            dockerfile,
            args: self.build.args.clone(),
            pull: self.build.pull,
            platform: a.platform.clone().filter(|p| !p.is_empty()),
            auth,
        };
        let r = st.driver.build_image(ctx, &spec).await;
        let _ = std::fs::remove_file(&tar_path);
        let id = r?;
        ctx.ui.say(&format!("Finished building base image {id:?}"));
        st.config.args.image = Some(id.clone());
        self.built = Some(id);
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        let Some(id) = self.built.take() else {
            return Ok(());
        };
        if st.config.output != Output::Discard {
            ctx.ui.say("final image is not discarded, removing the built image will fail because of existing dependencies, skipping cleanup for docker build.");
            return Ok(());
        }
        if let Err(e) = st.driver.remove_image(&id).await {
            ctx.ui.say(&format!("failed to remove image {id:?}: {e}"));
            ctx.ui.say("if you have other images using this dockerfile, this is expected and can safely be ignored.");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules_as_docker() {
        let rules = vec![
            (false, "*.log".to_string()),
            (false, "build".to_string()),
            (false, "**/secret*".to_string()),
            (true, "build/keep.txt".to_string()),
        ];
        assert!(ignored(&rules, "a.log"));
        assert!(!ignored(&rules, "sub/a.log"));
        assert!(ignored(&rules, "build/x/y"));
        assert!(!ignored(&rules, "build/keep.txt"));
        assert!(ignored(&rules, "deep/down/secret.key"));
        assert!(!ignored(&rules, "src/main.rs"));
    }

    #[test]
    fn context_tar_skips_ignored_and_own_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for (p, c) in [
            ("Dockerfile", "FROM x\n"),
            (".dockerignore", "*.log\nDockerfile\ntmp\n"),
            ("app/main.txt", "main"),
            ("debug.log", "log"),
            ("tmp/forge/scratch", "mine"),
        ] {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), c).unwrap();
        }
        std::fs::create_dir_all(root.join("own")).unwrap();
        let b = BuildConfig {
            dockerfile: root.join("Dockerfile"),
            dir: root.to_path_buf(),
            args: Default::default(),
            pull: false,
        };
        let out = root.join("own/ctx.tar");
        let name = context_tar(&b, &out, &[root.join("own")]).unwrap();
        assert_eq!(name, "Dockerfile");
        let mut a = tar::Archive::new(std::fs::File::open(&out).unwrap());
        let mut names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".dockerignore", "Dockerfile", "app", "app/main.txt"]
        );
    }
}

#[cfg(test)]
mod fake_tests {
    use super::*;
    use crate::fake::{config, ctx, state, with_temp_dir, Call, FakeDriver, Op};
    use serde_json::json;
    use std::sync::Arc;

    /// A context directory with a Dockerfile, the state after StepTempDir, and the step.
    fn setup(
        fake: &Arc<FakeDriver>,
        ctx: &BuildCtx,
        output: serde_json::Value,
    ) -> (tempfile::TempDir, State, StepBuild) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Dockerfile"), "FROM base\n").unwrap();
        std::fs::write(d.path().join("app.txt"), "app").unwrap();
        let mut j = json!({"platform": "linux/amd64", "build": {
            "path": d.path().join("Dockerfile").to_string_lossy(),
            "build_dir": d.path().to_string_lossy(),
            "arguments": {"V": "1"},
        }});
        j.as_object_mut()
            .unwrap()
            .extend(output.as_object().unwrap().clone());
        let c = config(j);
        let build = c.build.clone().unwrap();
        let mut st = state(fake, c);
        with_temp_dir(ctx, &mut st);
        (d, st, StepBuild { build, built: None })
    }

    #[tokio::test]
    async fn builds_the_source_image_from_the_context() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new();
        let (_d, mut st, mut step) = setup(&fake, &ctx, json!({"commit": true}));
        step.run(&ctx, &mut st).await.unwrap();
        let id = step.built.clone().unwrap();
        assert_eq!(
            fake.calls(),
            [Call::BuildImage {
                dockerfile: "Dockerfile".into(),
                args: [("V".to_string(), "1".to_string())].into(),
                pull: true,
                platform: Some("linux/amd64".into()),
                auth: None,
                context: vec!["Dockerfile".into(), "app.txt".into()],
            }]
        );
        assert_eq!(st.config.image(), id);
        assert!(fake.model().images.contains_key(&id));
        assert!(ui
            .text()
            .contains(&format!("Finished building base image {id:?}")));
        // The context archive does not outlive the step.
        let tmp = st.temp_dir.as_ref().unwrap().path();
        assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
        // A committed image depends on the built one: it stays.
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert_eq!(fake.ops(), [Op::BuildImage]);
        assert!(fake.model().images.contains_key(&id));
    }

    #[tokio::test]
    async fn a_discarded_build_removes_the_built_image_once() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let (_d, mut st, mut step) = setup(&fake, &ctx, json!({"discard": true}));
        step.run(&ctx, &mut st).await.unwrap();
        let id = step.built.clone().unwrap();
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert_eq!(fake.calls_of(Op::RemoveImage), [Call::RemoveImage(id)]);
        assert!(fake.model().images.is_empty());
    }

    #[tokio::test]
    async fn a_failed_removal_is_only_reported() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new();
        let (_d, mut st, mut step) = setup(&fake, &ctx, json!({"discard": true}));
        step.run(&ctx, &mut st).await.unwrap();
        let id = step.built.clone().unwrap();
        fake.fail(
            Op::RemoveImage,
            "conflict: unable to delete (image has dependent child images)",
        );
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(ui.text().contains(&format!(
            "failed to remove image {id:?}: removing image {id}: conflict: unable to delete"
        )));
    }

    #[tokio::test]
    async fn a_failed_build_stops_leaves_no_context_and_nothing_to_clean() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let (_d, mut st, mut step) = setup(&fake, &ctx, json!({"discard": true}));
        fake.fail(
            Op::BuildImage,
            "The command '/bin/sh -c exit 5' returned a non-zero code: 5",
        );
        let m = step.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert!(
            m.starts_with("docker build failed: The command '/bin/sh -c exit 5' returned a non-zero code: 5; output:\n"),
            "{m}"
        );
        assert!(step.built.is_none());
        assert_eq!(st.config.image(), "");
        let tmp = st.temp_dir.as_ref().unwrap().path();
        assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert_eq!(fake.ops(), [Op::BuildImage]);
    }
}
