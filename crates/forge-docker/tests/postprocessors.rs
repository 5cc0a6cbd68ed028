//! The docker post-processors against the real engine and a real registry (Debian's
//! docker-registry on loopback): import a root filesystem tar, tag, push with and without
//! auth, a push the registry refuses, save.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{docker, registry};

use std::sync::Arc;

use forge_core::artifact::{Artifact, FileArtifact};
use forge_core::plugin::{BuildCtx, PostProcessed, PrepareInfo};
use forge_core::Result;
use forge_docker::postprocessors::{artifact::ImageArtifact, import, push, save, tag, IMPORT_ID};

use forge_core::testing::value;

/// A docker source of an HCL2 template.
fn info() -> PrepareInfo {
    PrepareInfo {
        legacy: false,
        ..forge_core::testing::info("docker")
    }
}

type Factory = forge_core::registry::PostProcessorFactory;

async fn run(
    f: Factory,
    cfg: serde_json::Value,
    input: Arc<dyn Artifact>,
) -> Result<PostProcessed> {
    let pp = f(&value(cfg), &info()).unwrap_or_else(|e| panic!("config: {e:?}"));
    let ctx = BuildCtx::for_test("docker.test");
    pp.post_process(&ctx, &ctx.ui, input).await
}

/// A unique name part for this process and test.
fn uniq(what: &str) -> String {
    format!("{what}-{}", std::process::id())
}

/// A tiny image (one file) imported under `reference`, quick to push.
fn tiny_image(reference: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tar_path = dir.path().join("tiny.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    let data = format!("forge {reference}\n");
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "hello.txt", data.as_bytes()).unwrap();
    b.finish().unwrap();
    drop(b);
    let p = tar_path.to_string_lossy().to_string();
    docker::docker(&["import", &p, reference]);
}

fn image_artifact(id: &str) -> Arc<dyn Artifact> {
    Arc::new(ImageArtifact {
        builder_id: IMPORT_ID.into(),
        id: id.into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn import_a_rootfs_then_tag_and_save() {
    let base = docker::base_image();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs.tar");
    docker::export_rootfs(base, &rootfs);
    let repo = format!("forge-test/pp-import-{}", std::process::id());
    let input: Arc<dyn Artifact> = Arc::new(FileArtifact {
        builder_id: "packer.docker".into(),
        id: "Container".into(),
        files: vec![rootfs.to_string_lossy().into()],
        ..Default::default()
    });
    let out = run(
        import::factory,
        serde_json::json!({
            "repository": repo, "tag": "v1",
            "changes": ["ENV FORGE_PP=1", "CMD [\"/bin/cat\", \"/etc/debian_version\"]"],
        }),
        input,
    )
    .await
    .unwrap();
    assert!(!out.keep && !out.force_override);
    let imported = out.artifact.unwrap();
    assert_eq!(imported.builder_id(), IMPORT_ID);
    assert_eq!(imported.id(), format!("{repo}:v1"));
    let env = docker::docker(&["inspect", "-f", "{{json .Config.Env}}", &imported.id()]);
    assert!(env.contains("FORGE_PP=1"), "{env}");
    let ran = docker::docker(&["run", "--rm", &imported.id()]);
    assert!(ran.starts_with("12."), "{ran}");

    let out = run(
        tag::factory,
        serde_json::json!({"repository": repo, "tags": ["a", "b"], "tag": ["c"], "force": true}),
        imported.clone(),
    )
    .await
    .unwrap();
    assert!(out.keep && out.force_override);
    let tagged = out.artifact.unwrap();
    assert_eq!(tagged.builder_id(), "packer.post-processor.docker-tag");
    assert_eq!(tagged.id(), format!("{repo}:c"));
    for t in ["a", "b", "c"] {
        assert!(docker::image_exists(&format!("{repo}:{t}")), "{t}");
    }
    assert_eq!(
        ImageArtifact::tags_of(tagged.as_ref()),
        vec![
            format!("{repo}:a"),
            format!("{repo}:b"),
            format!("{repo}:c")
        ]
    );
    assert!(tagged.string().contains("with tags"));

    let path = dir.path().join("saved.tar");
    let out = run(
        save::factory,
        serde_json::json!({"path": path.to_string_lossy()}),
        tagged.clone(),
    )
    .await
    .unwrap();
    assert!(out.keep);
    assert_eq!(out.artifact.unwrap().id(), tagged.id());
    let mut names = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(&path).unwrap());
    for e in a.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().to_string());
    }
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    assert!(std::fs::metadata(&path).unwrap().len() > 10 << 20);

    imported.destroy().await.unwrap();
    assert!(!docker::image_exists(&format!("{repo}:v1")));
    docker::remove_images(&[
        format!("{repo}:a"),
        format!("{repo}:b"),
        format!("{repo}:c"),
    ]);
}

#[tokio::test]
async fn wrong_input_artifacts_are_refused_with_packers_messages() {
    let file: Arc<dyn Artifact> = Arc::new(FileArtifact {
        builder_id: "packer.file".into(),
        ..Default::default()
    });
    let e = run(
        import::factory,
        serde_json::json!({"repository": "x"}),
        file.clone(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("Unknown artifact type: packer.file\nCan only import from Docker builder"),
        "{e}"
    );
    let e = run(
        tag::factory,
        serde_json::json!({"repository": "x"}),
        file.clone(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("Can only tag from Docker builder artifacts."),
        "{e}"
    );
    let e = run(push::factory, serde_json::json!({}), file.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("Can only import from docker-import and docker-tag artifacts."),
        "{e}"
    );
    let e = run(
        save::factory,
        serde_json::json!({"path": "/nonexistent/x.tar"}),
        file,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("Can only save Docker builder artifacts."), "{e}");
    let e = run(
        save::factory,
        serde_json::json!({"path": "/nonexistent/x.tar"}),
        image_artifact("forge-test/none:x"),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(e.starts_with("Error creating output file:"), "{e}");
}

#[tokio::test]
async fn push_to_an_open_registry_with_tags() {
    let r = registry::Registry::start(None);
    let repo = format!("{}/forge/{}", r.addr(), uniq("open"));
    tiny_image(&format!("{repo}:first"));
    let tagged = run(
        tag::factory,
        serde_json::json!({"repository": repo, "tags": ["t1", "t2"]}),
        image_artifact(&format!("{repo}:first")),
    )
    .await
    .unwrap()
    .artifact
    .unwrap();
    let out = run(push::factory, serde_json::json!({}), tagged)
        .await
        .unwrap();
    assert!(out.keep && !out.force_override);
    let pushed = out.artifact.unwrap();
    assert_eq!(pushed.builder_id(), IMPORT_ID);
    let name = repo.split_once('/').unwrap().1;
    for t in ["t1", "t2"] {
        assert!(r.has_tag(name, t), "{t}: {}", r.log());
    }
    let digest = pushed.state("generated_data").unwrap()["Digest"].clone();
    assert!(digest.as_str().unwrap().starts_with("sha256:"), "{digest}");
    docker::remove_images(&[
        format!("{repo}:first"),
        format!("{repo}:t1"),
        format!("{repo}:t2"),
    ]);
}

#[tokio::test]
async fn push_with_login_and_refused_credentials() {
    let r = registry::Registry::start(Some(("forge", "s3cret")));
    let repo = format!("{}/forge/{}", r.addr(), uniq("auth"));
    let reference = format!("{repo}:1");
    tiny_image(&reference);
    let login = |pass: &str| {
        serde_json::json!({
            "login": true, "login_server": r.addr(),
            "login_username": "forge", "login_password": pass,
        })
    };

    let e = run(push::factory, login("wrong"), image_artifact(&reference))
        .await
        .err()
        .expect("a wrong password is refused")
        .to_string();
    assert!(
        e.starts_with(&format!("Error pushing {reference}: ")),
        "{e}"
    );
    assert!(e.contains("rejected the credentials of \"forge\""), "{e}");

    let e = run(
        push::factory,
        serde_json::json!({}),
        image_artifact(&reference),
    )
    .await
    .err()
    .expect("no credentials is refused")
    .to_string();
    assert!(e.contains("set login = true"), "{e}");

    let out = run(push::factory, login("s3cret"), image_artifact(&reference))
        .await
        .unwrap();
    assert_eq!(out.artifact.unwrap().id(), reference);
    assert!(
        r.has_tag(repo.split_once('/').unwrap().1, "1"),
        "{}",
        r.log()
    );
    docker::remove_images(&[reference]);
}
