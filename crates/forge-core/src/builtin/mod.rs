//! Builders built into core: `null` (communicator only) and `file`, plus the steps every
//! builder shares (connect, provision).

pub mod common;
pub mod file;
pub mod fixture;
pub mod null;

use crate::registry::Registry;

/// Registers the core builders and the local reclaimer.
pub fn register(r: &mut Registry) {
    r.builders.insert("null", null::factory);
    r.builders.insert("file", file::factory);
    r.builders.insert("forge-fixture", fixture::factory);
    r.reclaimers
        .push(std::sync::Arc::new(crate::local::LocalReclaimer));
}
