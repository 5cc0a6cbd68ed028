//! Packer templates, HCL2 and legacy JSON: parsing, evaluation with Packer's semantics, and the
//! typed build plan that the engine runs.

// Lets `plugin_config!` name this crate the same way inside it as outside.
extern crate self as forge_template;

pub mod config;
pub mod console;
pub mod datasource;
pub mod diag;
pub mod eval;
pub mod format;
pub mod functions;
pub mod gocompat;
pub mod gotemplate;
pub mod json;
pub mod late;
pub mod legacy;
mod legacy_plan;
pub mod plan;
pub mod plugins;
pub mod schema;
pub mod secrets;
pub mod syntax;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod typeexpr;
pub mod upgrade;
pub mod value;
pub mod version;

pub use config::{check_syntax, load, load_hcl_text, parse_var_flag, LoadOptions, Loaded};
pub use plan::BuildPlan;

/// The time this process started, as `timestamp`-like legacy functions see it.
pub fn start_time() -> std::time::SystemTime {
    static START: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::SystemTime::now)
}
