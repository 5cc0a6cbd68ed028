//! Builders built into core: `null` (communicator only) and `file`, plus the steps every
//! builder shares (connect, provision); [`plugins`] declares them with the template layer's
//! built-in types.

pub mod common;
pub mod file;
pub mod fixture;
pub mod null;

mod known;

use forge_template::datasource;
use forge_template::schema::{forge, plugins};

use crate::decl::{PluginDecl, PluginSet};
use crate::registry::Registry;

/// The plugin types of core and of the template layer: the `null`, `file` and `forge-fixture`
/// builders, the `null` and `http` data sources, and every type forge knows by schema only;
/// with the local reclaimer.
pub fn plugins() -> PluginSet {
    let mut decls = vec![
        PluginDecl::builder::<plugins::NullBuilder>("null", null::factory),
        PluginDecl::builder::<plugins::FileBuilder>("file", file::factory),
        PluginDecl::builder::<forge::ForgeFixtureBuilder>("forge-fixture", fixture::factory)
            .with_origin("forge (a test builder, not in Packer)"),
        PluginDecl::data_source::<plugins::NullDataSource>("null", datasource::null),
        PluginDecl::data_source::<plugins::HttpDataSource>("http", datasource::http),
    ];
    decls.extend(known::validate_only());
    PluginSet::of(decls).reclaimer(std::sync::Arc::new(crate::local::LocalReclaimer))
}

/// Adds the core builders and the local reclaimer to `r` (for tests that assemble a registry).
pub fn register(r: &mut Registry) {
    plugins().install(r);
}
