//! Plugin declarations: the one place a plugin type is registered. Each plugin crate lists the
//! types it provides in one `plugins()` function, each with the schema `forge validate` checks,
//! the factory `forge build` runs, and the Packer plugin release it follows; the binary merges
//! the lists into a [`PluginSet`], and [`PluginSet::check`] reports where the declarations
//! disagree with the generated schemas or the plugin version list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use forge_template::datasource::{Executor, Executors};
use forge_template::plugins::BuiltinPlugin;
use forge_template::schema::{ConfigStruct, PluginKind, Registry as Schemas, Schema};
use forge_template::secrets::SecretsManager;

use crate::plugin::Connector;
use crate::registry::{
    BuilderFactory, PostProcessorFactory, ProvisionerFactory, Reclaimer, Registry,
};

/// What makes a declared type run.
#[derive(Clone, Copy)]
pub enum Factory {
    /// A builder factory.
    Builder(BuilderFactory),
    /// A provisioner factory.
    Provisioner(ProvisionerFactory),
    /// A post-processor factory.
    PostProcessor(PostProcessorFactory),
    /// A data source, executed while the template loads.
    DataSource(Executor),
    /// None: forge knows the type by its schema only; `forge validate` checks it and
    /// `forge build` refuses it.
    ValidateOnly,
}

impl Factory {
    /// The kind of plugin the factory makes (`None` for [`Factory::ValidateOnly`]).
    pub fn kind(&self) -> Option<PluginKind> {
        Some(match self {
            Factory::Builder(_) => PluginKind::Builder,
            Factory::Provisioner(_) => PluginKind::Provisioner,
            Factory::PostProcessor(_) => PluginKind::PostProcessor,
            Factory::DataSource(_) => PluginKind::DataSource,
            Factory::ValidateOnly => return None,
        })
    }
}

/// One plugin type: its kind and name, its schema, its factory, and the plugin release it
/// follows.
#[derive(Clone, Copy)]
pub struct PluginDecl {
    /// Builder, provisioner, post-processor or data source.
    pub kind: PluginKind,
    /// The type's name in templates (`docker`, `shell-local`, ...).
    pub type_name: &'static str,
    /// Its configuration schema (one of the generated structs in `forge_template::schema`).
    pub schema: fn() -> Schema,
    /// What runs it.
    pub factory: Factory,
    /// The source address of the Packer plugin whose release it follows (its row in
    /// [`forge_template::plugins::BUILTIN_PLUGINS`]); `None` for Packer core and forge's own
    /// types.
    pub plugin: Option<&'static str>,
    /// The compatibility matrix's origin column, when the schema's documentation does not name
    /// the plugin repository.
    pub origin: Option<&'static str>,
}

impl PluginDecl {
    const fn new<S: ConfigStruct>(
        kind: PluginKind,
        type_name: &'static str,
        factory: Factory,
    ) -> PluginDecl {
        PluginDecl {
            kind,
            type_name,
            schema: S::schema,
            factory,
            plugin: None,
            origin: None,
        }
    }

    /// A builder with schema `S`.
    pub const fn builder<S: ConfigStruct>(name: &'static str, f: BuilderFactory) -> PluginDecl {
        PluginDecl::new::<S>(PluginKind::Builder, name, Factory::Builder(f))
    }

    /// A provisioner with schema `S`.
    pub const fn provisioner<S: ConfigStruct>(
        name: &'static str,
        f: ProvisionerFactory,
    ) -> PluginDecl {
        PluginDecl::new::<S>(PluginKind::Provisioner, name, Factory::Provisioner(f))
    }

    /// A post-processor with schema `S`.
    pub const fn post_processor<S: ConfigStruct>(
        name: &'static str,
        f: PostProcessorFactory,
    ) -> PluginDecl {
        PluginDecl::new::<S>(PluginKind::PostProcessor, name, Factory::PostProcessor(f))
    }

    /// A data source with schema `S`.
    pub const fn data_source<S: ConfigStruct>(name: &'static str, f: Executor) -> PluginDecl {
        PluginDecl::new::<S>(PluginKind::DataSource, name, Factory::DataSource(f))
    }

    /// A type forge knows by its schema `S` only.
    pub const fn validate_only<S: ConfigStruct>(
        kind: PluginKind,
        name: &'static str,
    ) -> PluginDecl {
        PluginDecl::new::<S>(kind, name, Factory::ValidateOnly)
    }

    /// The same type, following the Packer plugin at `source`.
    pub const fn from_plugin(self, source: &'static str) -> PluginDecl {
        PluginDecl {
            plugin: Some(source),
            ..self
        }
    }

    /// The same type, with `origin` in the compatibility matrix.
    pub const fn with_origin(self, origin: &'static str) -> PluginDecl {
        PluginDecl {
            origin: Some(origin),
            ..self
        }
    }

    /// Whether `forge build` runs it.
    pub fn runs(&self) -> bool {
        !matches!(self.factory, Factory::ValidateOnly)
    }

    /// `kind type`, for messages.
    fn label(&self) -> String {
        format!("{:?} {:?}", self.kind, self.type_name)
    }
}

/// What a plugin crate contributes: its plugin types, the communicators and resource
/// reclaimers that come with them, and the cloud clients template functions call.
#[derive(Clone, Default)]
pub struct PluginSet {
    /// The plugin types, in declaration order.
    pub decls: Vec<PluginDecl>,
    /// Communicators by type.
    pub connectors: Vec<(&'static str, Arc<dyn Connector>)>,
    /// Reclaimers of the resources its builders create.
    pub reclaimers: Vec<Arc<dyn Reclaimer>>,
    /// The client of the `aws_secretsmanager*` template functions (for
    /// [`forge_template::LoadOptions::secrets_manager`]).
    pub secrets_manager: Option<Arc<dyn SecretsManager>>,
}

impl PluginSet {
    /// A set of these plugin types, with no communicator or reclaimer.
    pub fn of(decls: impl IntoIterator<Item = PluginDecl>) -> PluginSet {
        PluginSet {
            decls: decls.into_iter().collect(),
            ..PluginSet::default()
        }
    }

    /// Adds a reclaimer.
    pub fn reclaimer(mut self, r: Arc<dyn Reclaimer>) -> PluginSet {
        self.reclaimers.push(r);
        self
    }

    /// Sets the client of the `aws_secretsmanager*` template functions.
    pub fn secrets_manager(mut self, c: Arc<dyn SecretsManager>) -> PluginSet {
        self.secrets_manager = Some(c);
        self
    }

    /// Adds a communicator.
    pub fn connector(mut self, name: &'static str, c: Arc<dyn Connector>) -> PluginSet {
        self.connectors.push((name, c));
        self
    }

    /// Every set's contributions, in order.
    pub fn merge(sets: impl IntoIterator<Item = PluginSet>) -> PluginSet {
        let mut all = PluginSet::default();
        for s in sets {
            all.decls.extend(s.decls);
            all.connectors.extend(s.connectors);
            all.reclaimers.extend(s.reclaimers);
            // One client per cloud: the first set that has one gives it.
            all.secrets_manager = all.secrets_manager.or(s.secrets_manager);
        }
        all
    }

    /// The declaration of a type.
    pub fn get(&self, kind: PluginKind, name: &str) -> Option<&PluginDecl> {
        self.decls
            .iter()
            .find(|d| d.kind == kind && d.type_name == name)
    }

    /// The runtime registry: every factory, communicator and reclaimer.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::new();
        self.install(&mut r);
        r
    }

    /// Adds every factory, communicator and reclaimer to `r`.
    pub fn install(&self, r: &mut Registry) {
        for d in &self.decls {
            match d.factory {
                Factory::Builder(f) => {
                    r.builders.insert(d.type_name, f);
                }
                Factory::Provisioner(f) => {
                    r.provisioners.insert(d.type_name, f);
                }
                Factory::PostProcessor(f) => {
                    r.post_processors.insert(d.type_name, f);
                }
                Factory::DataSource(f) => {
                    r.data_sources.insert(d.type_name, f);
                }
                Factory::ValidateOnly => {}
            }
        }
        for (name, c) in &self.connectors {
            r.connectors.insert(name, c.clone());
        }
        r.reclaimers.extend(self.reclaimers.iter().cloned());
    }

    /// The schema registry of the declared types: what each declaration points at.
    pub fn schemas(&self) -> Schemas {
        let mut r = Schemas::new();
        for d in &self.decls {
            r.register_schema(d.kind, d.type_name, (d.schema)());
        }
        r
    }

    /// The data sources the template loader executes (for
    /// [`forge_template::LoadOptions::datasources`]).
    pub fn datasources(&self) -> Executors {
        self.decls
            .iter()
            .filter_map(|d| match d.factory {
                Factory::DataSource(f) => Some((d.type_name, f)),
                _ => None,
            })
            .collect()
    }

    /// Every disagreement between the declarations, the schema registry and the plugin
    /// version list: a type declared twice, a declaration whose factory is of another kind, a
    /// declaration without its schema (or pointing at another one than the registry holds), a
    /// schema nothing declares, and a version-list component or plugin that no declaration
    /// matches. Empty when all agree.
    pub fn check(&self, schemas: &Schemas, versions: &[BuiltinPlugin]) -> Vec<String> {
        let mut errs = Vec::new();
        let mut seen = BTreeSet::new();
        for d in &self.decls {
            if !seen.insert((d.kind, d.type_name)) {
                errs.push(format!("{} is declared twice", d.label()));
            }
            if let Some(k) = d.factory.kind().filter(|k| *k != d.kind) {
                errs.push(format!("{} has a {k:?} factory", d.label()));
            }
            match schemas.get(d.kind, d.type_name) {
                None => errs.push(format!("{} has no schema in the registry", d.label())),
                Some(s) if *s != (d.schema)() => errs.push(format!(
                    "{} points at schema {} but the registry holds {}",
                    d.label(),
                    (d.schema)().name,
                    s.name
                )),
                Some(_) => {}
            }
            if let Some(src) = d.plugin {
                match versions.iter().find(|p| p.source == src) {
                    None => errs.push(format!(
                        "{} follows plugin {src}, which the version list lacks",
                        d.label()
                    )),
                    Some(p) if !p.components.contains(&d.type_name) => errs.push(format!(
                        "{} follows plugin {src}, whose version-list row does not list it",
                        d.label()
                    )),
                    Some(_) => {}
                }
            }
        }
        for kind in PluginKind::ALL {
            for name in schemas.names(kind) {
                if self.get(kind, name).is_none() {
                    errs.push(format!("{kind:?} {name:?} has a schema but no declaration"));
                }
            }
        }
        let declared: BTreeMap<&str, Vec<&PluginDecl>> =
            self.decls.iter().fold(BTreeMap::new(), |mut m, d| {
                m.entry(d.type_name).or_default().push(d);
                m
            });
        for p in versions {
            for c in p.components {
                match declared.get(c) {
                    None => errs.push(format!(
                        "{c:?} is in the version list ({}) but no declaration has it",
                        p.source
                    )),
                    Some(ds) if ds.iter().all(|d| d.plugin.is_none()) => errs.push(format!(
                        "{c:?} is in the version list ({}) but its declaration names no plugin",
                        p.source
                    )),
                    Some(_) => {}
                }
            }
        }
        errs
    }
}
