//! The registry of plugin types and their schemas.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::{ConfigStruct, Schema};

/// The four kinds of plugin a template configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PluginKind {
    /// A `source` block (a builder).
    Builder,
    /// A `provisioner` block.
    Provisioner,
    /// A `post-processor` block.
    PostProcessor,
    /// A `data` block.
    DataSource,
}

impl PluginKind {
    /// All kinds.
    pub const ALL: [PluginKind; 4] = [
        PluginKind::Builder,
        PluginKind::Provisioner,
        PluginKind::PostProcessor,
        PluginKind::DataSource,
    ];
}

/// Plugin types by kind, each with its configuration schema.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: BTreeMap<(PluginKind, String), Schema>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Every plugin type forge knows, with its schema.
    pub fn builtin() -> &'static Registry {
        static BUILTIN: OnceLock<Registry> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut r = Registry::new();
            super::plugins::register_all(&mut r);
            super::older::register_all(&mut r);
            super::forge::register_all(&mut r);
            r
        })
    }

    /// Registers (or replaces) the config struct of a plugin type.
    pub fn register<T: ConfigStruct>(&mut self, kind: PluginKind, name: &str) {
        self.register_schema(kind, name, T::schema());
    }

    /// Registers (or replaces) a plugin type's schema directly.
    pub fn register_schema(&mut self, kind: PluginKind, name: &str, schema: Schema) {
        self.entries.insert((kind, name.to_string()), schema);
    }

    /// The schema of a plugin type.
    pub fn get(&self, kind: PluginKind, name: &str) -> Option<&Schema> {
        self.entries.get(&(kind, name.to_string()))
    }

    /// The registered types of one kind, sorted.
    pub fn names(&self, kind: PluginKind) -> Vec<&str> {
        self.entries
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
            .collect()
    }
}

/// The schema of a built-in plugin type.
pub fn lookup(kind: PluginKind, name: &str) -> Option<&'static Schema> {
    Registry::builtin().get(kind, name)
}

/// The built-in plugin types of one kind, sorted.
pub fn known(kind: PluginKind) -> Vec<&'static str> {
    Registry::builtin().names(kind)
}
