//! Google Compute Engine: the `googlecompute` builder, on the official
//! google-cloud-compute-v1 client, with one rate limiter per project and every resource
//! labelled with the run's id and journaled before it is created, for `forge cleanup`.

pub mod auth;
pub mod builder;
pub mod compute;
#[cfg(test)]
pub(crate) mod fake;
pub mod journal;
pub mod limiter;
pub mod oslogin;

use std::sync::Arc;

/// The `googlecompute` builder (packer-plugin-googlecompute) and the Compute Engine
/// reclaimer.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::plugins;
    PluginSet::of([PluginDecl::builder::<plugins::GooglecomputeBuilder>(
        "googlecompute",
        builder::factory,
    )
    .from_plugin("github.com/hashicorp/googlecompute")])
    .reclaimer(Arc::new(journal::GceReclaimer))
}
