//! Shared helpers for the docker tests: the local base image (forge-testkit's), configurations
//! from JSON, build contexts with their own run id.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too
#![allow(dead_code)]

use forge_core::plugin::{BuildCtx, PrepareInfo};
use forge_template::value::Value;

/// The base image every test starts from (no registry is reachable here), made once per
/// machine by forge-testkit's docker bed.
pub use forge_testkit::docker::base_image;

/// A configuration value from JSON.
pub fn value(j: serde_json::Value) -> Value {
    forge_template::functions::value_from_json(j).expect("a JSON value forge reads")
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
