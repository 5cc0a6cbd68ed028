//! The Docker test bed: a Debian base image in the local engine (nothing can be pulled here),
//! plus helpers to find and remove what tests leave behind. Uses the docker CLI.
//!
//! [`base_image`] makes sure `forge-test/debian:bookworm` exists, building it once per machine
//! when missing (scripts/docker-base-image.sh: `debootstrap --variant=minbase bookworm` piped
//! into `docker import`), under an flock on [`LOCK`] so that parallel test processes build it
//! only once. A missing docker or debootstrap fails the test with the Debian package to install
//! (`scripts/test.sh` installs them).
//!
//! ```text
//! use forge_testkit::docker;
//! let image = docker::base_image(); // "forge-test/debian:bookworm"
//! let id = docker::run_detached(image, &["--label", "forge.run-id=t1"]);
//! assert_eq!(docker::containers_with_label("forge.run-id=t1"), vec![id.clone()]);
//! docker::remove_containers(&[id]);
//! docker::remove_images(&["forge-test/x:1"]);
//! ```

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The base image's fixed tag.
pub const BASE_IMAGE: &str = "forge-test/debian:bookworm";
/// The base image with python3 (what Ansible needs on a machine), for the Ansible tests.
pub const PYTHON_IMAGE: &str = "forge-test/debian-python3:bookworm";
/// The lock every process takes before building the base image.
pub const LOCK: &str = "/tmp/.forge-debian-base.lock";
const MIRROR: &str = "http://deb.debian.org/debian";

/// Runs `docker args...`, returning trimmed stdout; panics with stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running docker {args:?}: {e}"));
    if !out.status.success() {
        panic!(
            "docker {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the engine has image `reference`.
pub fn image_exists(reference: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The base image's tag, after making sure the engine has it (built once per machine).
pub fn base_image() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| ensure(BASE_IMAGE, ""));
    BASE_IMAGE
}

/// [`PYTHON_IMAGE`]'s tag, after making sure the engine has it (built once per machine).
pub fn python_image() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| ensure(PYTHON_IMAGE, "python3"));
    PYTHON_IMAGE
}

/// Checks the engine answers, then builds `tag` (with the extra Debian packages `include`)
/// unless it has it.
fn ensure(tag: &str, include: &str) {
    crate::require::program("docker", "docker.io");
    let ping = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match ping {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Docker engine does not answer (is dockerd running?): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("running docker: {e}"),
    }
    if !image_exists(tag) {
        build(tag, include);
    }
}

/// Under an flock on [`LOCK`], and only if no other process built it meanwhile: runs
/// scripts/docker-base-image.sh (debootstrap a minbase bookworm, with `include`, then
/// `docker import` it as `tag`), the script scripts/quickstart.sh uses too.
fn build(tag: &str, include: &str) {
    crate::require::program("debootstrap", "debootstrap");
    crate::require::program("flock", "util-linux");
    eprintln!("building {tag} with debootstrap (once per machine)...");
    let script = crate::repo_file("scripts/docker-base-image.sh");
    let out = Command::new("flock")
        .arg(LOCK)
        .arg("sh")
        .arg(&script)
        .arg(tag)
        .env("MIRROR", MIRROR)
        .env("INCLUDE", include)
        .output()
        .unwrap_or_else(|e| panic!("running flock {LOCK} sh {}: {e}", script.display()));
    if !out.status.success() || !image_exists(tag) {
        panic!(
            "building {tag} failed ({}; debootstrap needs root and {MIRROR}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Starts `image` detached (`sleep infinity`) with extra `docker run` args; returns its id.
pub fn run_detached(image: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[image, "sleep", "infinity"]);
    docker(&args)
}

/// Ids of every container (running or not) carrying `label` (`key=value` or `key`).
pub fn containers_with_label(label: &str) -> Vec<String> {
    let f = format!("label={label}");
    lines(&docker(&["ps", "-aq", "--no-trunc", "--filter", &f]))
}

/// Names of every container whose name starts with `prefix` (e.g. `forge-`).
pub fn containers_named(prefix: &str) -> Vec<String> {
    lines(&docker(&["ps", "-a", "--format", "{{.Names}}"]))
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Force-removes containers by id or name (missing ones are ignored).
pub fn remove_containers<S: AsRef<str>>(ids: &[S]) {
    for id in ids {
        let _ = Command::new("docker")
            .args(["rm", "-f", id.as_ref()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes images by tag or id (missing ones are ignored; shared layers stay).
pub fn remove_images<S: AsRef<str>>(refs: &[S]) {
    for r in refs {
        let _ = Command::new("docker")
            .args(["rmi", "-f", r.as_ref()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Exports a fresh container of `image` into the tar file `dst` (`docker export`): a root
/// filesystem as the docker builder's `export_path` produces.
pub fn export_rootfs(image: &str, dst: &Path) {
    let id = docker(&["create", image, "true"]);
    let d = dst.to_string_lossy();
    let r = Command::new("docker")
        .args(["export", "-o", &d, &id])
        .status();
    remove_containers(&[&id]);
    let st = r.unwrap_or_else(|e| panic!("running docker export: {e}"));
    assert!(st.success(), "docker export {image} failed: {st}");
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
