//! Shared helpers for the docker tests: the local base image (forge-testkit's), configurations
//! from JSON, build contexts with their own run id.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too
#![allow(dead_code)]

use forge_core::plugin::{BuildCtx, PrepareInfo};

/// The base image every test starts from (no registry is reachable here), made once per
/// machine by forge-testkit's docker bed.
pub use forge_testkit::docker::base_image;

#[allow(unused_imports)] // not every test crate builds values
pub use forge_core::testing::value;

/// What Packer injects for a `docker` source.
pub fn info() -> PrepareInfo {
    forge_core::testing::info("docker")
}

/// A build context with a fresh run id.
pub fn ctx() -> BuildCtx {
    forge_core::testing::ctx("docker").0
}

/// Names of the containers still labelled with the run.
pub async fn leftovers(run_id: &str) -> Vec<String> {
    use forge_docker::driver::Driver;
    let e = forge_docker::driver::Engine::connect()
        .await
        .expect("engine");
    e.containers_of_run(run_id).await.expect("list containers")
}
