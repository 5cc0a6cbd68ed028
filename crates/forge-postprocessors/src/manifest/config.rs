//! The `manifest` configuration.

use std::collections::BTreeMap;

use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::ManifestPostProcessor;
use forge_template::value::Value;

/// Packer's default manifest path.
pub const DEFAULT_OUTPUT: &str = "packer-manifest.json";

/// The checked configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    /// The manifest file (`output`).
    pub output: String,
    /// Record files by base name only (`strip_path`).
    pub strip_path: bool,
    /// Leave `build_time` out (`strip_time`).
    pub strip_time: bool,
    /// Extra data, `{{ }}`-rendered with the build's generated data (`custom_data`).
    pub custom_data: Option<BTreeMap<String, String>>,
}

impl Config {
    /// Decodes and checks `v`.
    pub fn from_value(v: &Value) -> Result<Config, PrepareErrors> {
        let c: ManifestPostProcessor = decode(v)?;
        let output = c
            .output
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| DEFAULT_OUTPUT.to_string());
        crate::common::check_template(&output).map_err(|e| vec![e])?;
        Ok(Config {
            output,
            strip_path: c.strip_path.unwrap_or(false),
            strip_time: c.strip_time.unwrap_or(false),
            custom_data: c.custom_data,
        })
    }
}
