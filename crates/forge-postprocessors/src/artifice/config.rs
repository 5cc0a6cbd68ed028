//! The `artifice` configuration.

use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::ArtificePostProcessor;
use forge_template::value::Value;

/// The checked configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The new artifact's files: paths or Go glob patterns (`files`, required).
    pub files: Vec<String>,
}

impl Config {
    /// Decodes and checks `v`: `files` must list something, and every pattern must parse.
    pub fn from_value(v: &Value) -> Result<Config, PrepareErrors> {
        let c: ArtificePostProcessor = decode(v)?;
        let files = c.files.unwrap_or_default();
        if files.is_empty() {
            return Err(vec!["No files specified in artifice configuration".into()]);
        }
        let errs: Vec<String> = files
            .iter()
            .filter_map(|f| {
                forge_core::glob::check(f)
                    .err()
                    .map(|e| format!("Bad pattern in files: {f:?}: {e}"))
            })
            .collect();
        if errs.is_empty() {
            Ok(Config { files })
        } else {
            Err(errs)
        }
    }
}
