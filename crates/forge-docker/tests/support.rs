//! Shared helpers for the docker tests: the local base image, configurations from JSON, build
//! contexts with their own run id.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too
#![allow(dead_code)]

use std::process::Command;

use forge_core::plugin::{BuildCtx, PrepareInfo};
use forge_template::value::number::Number;
use forge_template::value::Value;

/// The base image every test starts from (no registry is reachable here).
pub const BASE: &str = "forge-test/debian:bookworm";

/// Makes [`BASE`] once (debootstrap + docker import), under a lock so parallel tests do not race.
/// A missing component fails the test with an install hint.
pub fn base_image() -> &'static str {
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    assert!(
        ok(Command::new("docker").arg("version").stdout(std::process::Stdio::null())),
        "the docker tests need a running Docker engine and its CLI: apt-get install docker.io, start dockerd"
    );
    let inspect = || {
        ok(Command::new("docker")
            .args(["image", "inspect", BASE])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()))
    };
    if inspect() {
        return BASE;
    }
    assert!(
        ok(Command::new("sh").args(["-c", "command -v debootstrap && command -v flock"])),
        "making {BASE} needs debootstrap and flock: apt-get install debootstrap util-linux"
    );
    let script = format!(
        "docker image inspect {BASE} >/dev/null 2>&1 && exit 0; \
         d=$(mktemp -d /tmp/forge-debian-XXXXXX) && \
         debootstrap --variant=minbase bookworm \"$d\" http://deb.debian.org/debian >/dev/null && \
         tar -C \"$d\" -c . | docker import - {BASE} >/dev/null; r=$?; rm -rf \"$d\"; exit $r"
    );
    assert!(
        ok(Command::new("flock").args(["/tmp/.forge-debian-base.lock", "sh", "-c", &script])),
        "could not make {BASE} with debootstrap (is http://deb.debian.org reachable?)"
    );
    BASE
}

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

/// What Packer injects for a `docker` source.
pub fn info() -> PrepareInfo {
    PrepareInfo {
        build_name: "docker".into(),
        builder_type: "docker".into(),
        template_dir: ".".into(),
        opts: Default::default(),
        legacy: true,
        connectors: Default::default(),
        warnings: Default::default(),
    }
}

/// A build context with a fresh run id.
pub fn ctx() -> BuildCtx {
    let mut c = BuildCtx::for_test("docker");
    c.run_id = format!("t{}", uuid::Uuid::new_v4().simple());
    c
}

/// Names of the containers still labelled with the run.
pub async fn leftovers(run_id: &str) -> Vec<String> {
    use forge_docker::driver::Driver;
    let e = forge_docker::driver::Engine::connect()
        .await
        .expect("engine");
    e.containers_of_run(run_id).await.expect("list containers")
}
