//! Docker: the `docker` builder and its communicator, and the docker-import, docker-tag,
//! docker-push and docker-save post-processors, all through the Engine API (bollard).

pub mod builder;
pub mod communicator;
pub mod driver;
pub mod postprocessors;
pub mod reclaim;
pub mod shell;

use std::sync::Arc;

/// Registers the `docker` builder, the post-processors and the container reclaimer.
pub fn register(r: &mut forge_core::Registry) {
    r.builders.insert("docker", builder::factory);
    postprocessors::register(r);
    r.reclaimers.push(Arc::new(reclaim::ContainerReclaimer));
}
