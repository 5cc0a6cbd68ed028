//! The Docker test bed (forge-testkit: docker, registry) works, checked with the docker
//! CLI: the base image runs, containers are found by label and name prefix and removed, and the
//! private registry takes pushes, with and without basic auth.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{docker, registry};

use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn base_image_runs_and_containers_are_found_and_removed() {
    let image = docker::base_image();
    assert_eq!(image, docker::BASE_IMAGE);
    let v = docker::docker(&["run", "--rm", image, "cat", "/etc/debian_version"]);
    assert!(v.starts_with("12."), "{v}");

    let label = format!("forge.run-id=testbed-{}", std::process::id());
    let name = format!("forge-testbed-{}", std::process::id());
    let id = docker::run_detached(image, &["--label", &label, "--name", &name]);
    assert_eq!(docker::containers_with_label(&label), vec![id.clone()]);
    assert!(docker::containers_named("forge-testbed-").contains(&name));
    docker::remove_containers(&[&id]);
    assert!(docker::containers_with_label(&label).is_empty());
    assert!(!docker::containers_named(&name).contains(&name));
}

/// `docker --config dir login` to the registry; whether it succeeded.
fn login(dir: &std::path::Path, server: &str, user: &str, pass: &str) -> bool {
    let mut c = Command::new("docker")
        .arg("--config")
        .arg(dir)
        .args(["login", "-u", user, "--password-stdin", server])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker login");
    c.stdin.take().unwrap().write_all(pass.as_bytes()).unwrap();
    c.wait().unwrap().success()
}

#[test]
fn registry_takes_pushes_with_and_without_auth() {
    let image = docker::base_image();
    for auth in [None, Some(("forge", "s3cret"))] {
        let r = registry::Registry::start(auth);
        let cfg = tempfile_dir();
        if auth.is_some() {
            assert!(
                r.get("/v2/_catalog").0 == 200,
                "the helper's own requests log in"
            );
            assert!(!login(&cfg, &r.addr(), "forge", "wrong"));
            assert!(login(&cfg, &r.addr(), "forge", "s3cret"));
        }
        let reference = format!("{}/testbed/base:{}", r.addr(), std::process::id());
        docker::docker(&["tag", image, &reference]);
        let c = cfg.to_string_lossy().to_string();
        docker::docker(&["--config", &c, "push", &reference]);
        assert!(r.has_tag("testbed/base", &std::process::id().to_string()));
        docker::remove_images(&[&reference]);
        let _ = std::fs::remove_dir_all(&cfg);
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "forge-testbed-docker.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
