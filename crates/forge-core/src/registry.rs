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

/// The build a resource came from, as its reclaimer sees it: `forge cleanup` evaluates the
/// template the journal names again (with the same variable sources), and a running build
/// passes its own configuration. Credentials live only here, in memory, never in the journal.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The build's name (`amazon-ebs.x`), as the journal records it.
    pub build: String,
    /// The builder's type; empty when the template could not be evaluated.
    pub builder_type: String,
    /// The builder's evaluated configuration; `None` when the template could not be evaluated,
    /// and the reclaimer falls back on what the journal and the environment say.
    pub config: Option<Value>,
    /// The build's post-processors (type, evaluated configuration), for resources a
    /// post-processor made (an imported VM) and the credentials in its configuration.
    pub post_processors: Vec<(String, Value)>,
}

/// Why a resource could not be removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReclaimError {
    /// No usable credentials reached the service. `hint` says where else they may come from
    /// (`set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`); `reason` is the provider's own.
    NoCredentials {
        /// The credential provider's reason, one line.
        reason: String,
        /// The environment or files that would provide credentials.
        hint: String,
    },
    /// Any other failure, one line.
    Failed(String),
}

impl std::fmt::Display for ReclaimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReclaimError::NoCredentials { reason, .. } => write!(f, "no credentials: {reason}"),
            ReclaimError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<String> for ReclaimError {
    fn from(m: String) -> Self {
        ReclaimError::Failed(m)
    }
}

/// Removes leftovers of one resource kind.
#[async_trait]
pub trait Reclaimer: Send + Sync {
    /// The kinds it handles.
    fn kinds(&self) -> &'static [&'static str];
    /// Removes `r`, with a client built from `origin` (the configuration of the build that
    /// created it, when known); `Ok` also when it is already gone.
    async fn reclaim(&self, r: &Resource, origin: &Origin) -> Result<(), ReclaimError>;
    /// The secrets in a builder configuration this reclaimer reads (to mask in every output).
    fn secrets(&self, _config: &Value) -> Vec<String> {
        Vec::new()
    }
    /// Finds resources labelled with `run_id` that the journal may not list (created but not
    /// yet recorded), removes them, and says what it removed. `dry_run` only lists. For local
    /// daemons: a cloud sweep needs credentials, so a cloud journals its sweep as a resource
    /// of the build (and gets the build's [`Origin`]).
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
    /// Data sources by type (the template loader runs them; see
    /// [`crate::decl::PluginSet::datasources`]).
    pub data_sources: forge_template::datasource::Executors,
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
