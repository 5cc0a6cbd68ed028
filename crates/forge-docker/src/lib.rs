//! Docker: the `docker` builder and its communicator, and the docker-import, docker-tag,
//! docker-push and docker-save post-processors, all through the Engine API (bollard).

pub mod builder;
pub mod communicator;
pub mod driver;
#[cfg(test)]
mod fake;
pub mod postprocessors;
pub mod reclaim;
pub mod shell;

use std::sync::Arc;

/// The `docker` builder and post-processors (packer-plugin-docker), with the container
/// reclaimer.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::plugins::*;
    use postprocessors::{import, push, save, tag};
    const SRC: &str = "github.com/hashicorp/docker";
    PluginSet::of([
        PluginDecl::builder::<DockerBuilder>("docker", builder::factory).from_plugin(SRC),
        PluginDecl::post_processor::<DockerImportPostProcessor>("docker-import", import::factory)
            .from_plugin(SRC),
        PluginDecl::post_processor::<DockerTagPostProcessor>("docker-tag", tag::factory)
            .from_plugin(SRC),
        PluginDecl::post_processor::<DockerPushPostProcessor>("docker-push", push::factory)
            .from_plugin(SRC),
        PluginDecl::post_processor::<DockerSavePostProcessor>("docker-save", save::factory)
            .from_plugin(SRC),
    ])
    .reclaimer(Arc::new(reclaim::ContainerReclaimer))
}
