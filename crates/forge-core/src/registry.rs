//! The plugin registry: which builder, provisioner and post-processor types this binary can run,
//! and how to reclaim each kind of resource a dead run left behind.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use forge_template::value::Value;

use crate::journal::Resource;
use crate::plugin::{Builder, Connector, PostProcessor, PrepareInfo, Provisioner};

/// Configuration errors, all at once.
pub type PrepareErrors = Vec<String>;

/// Makes a builder from its evaluated configuration.
pub type BuilderFactory = fn(&Value, &PrepareInfo) -> Result<Box<dyn Builder>, PrepareErrors>;
/// Makes a provisioner from its evaluated configuration.
pub type ProvisionerFactory =
    fn(&Value, &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors>;
/// Makes a post-processor from its evaluated configuration.
pub type PostProcessorFactory =
    fn(&Value, &PrepareInfo) -> Result<Box<dyn PostProcessor>, PrepareErrors>;

/// Removes leftovers of one resource kind.
#[async_trait]
pub trait Reclaimer: Send + Sync {
    /// The kinds it handles.
    fn kinds(&self) -> &'static [&'static str];
    /// Removes `r`; `Ok` also when it is already gone.
    async fn reclaim(&self, r: &Resource) -> Result<(), String>;
    /// Finds resources tagged with `run_id` that the journal may not list (created but not yet
    /// recorded), removes them, and says what it removed. `dry_run` only lists.
    async fn sweep(&self, _run_id: &str, _dry_run: bool) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}

/// Every plugin type and reclaimer this binary carries.
#[derive(Default, Clone)]
pub struct Registry {
    /// Builders by type.
    pub builders: BTreeMap<&'static str, BuilderFactory>,
    /// Provisioners by type.
    pub provisioners: BTreeMap<&'static str, ProvisionerFactory>,
    /// Post-processors by type.
    pub post_processors: BTreeMap<&'static str, PostProcessorFactory>,
    /// Communicators by type.
    pub connectors: BTreeMap<&'static str, Arc<dyn Connector>>,
    /// Reclaimers.
    pub reclaimers: Vec<Arc<dyn Reclaimer>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The reclaimer for `kind`.
    pub fn reclaimer(&self, kind: &str) -> Option<&Arc<dyn Reclaimer>> {
        self.reclaimers.iter().find(|r| r.kinds().contains(&kind))
    }
}

/// Decodes a configuration into a typed struct with Packer's weak conversions, as one prepare
/// error.
pub fn decode<T: forge_template::schema::ConfigStruct>(v: &Value) -> Result<T, PrepareErrors> {
    forge_template::schema::decode(v).map_err(|e| vec![e])
}
