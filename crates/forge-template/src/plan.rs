//! The build plan: what `forge build` runs, one entry per build × source, each plugin's
//! configuration evaluated and checked against its schema.

use std::time::Duration;

use crate::diag::{Files, Span};
use crate::syntax::Body;
use crate::value::Value;

/// Everything a template asks to build.
#[derive(Clone, Debug, Default)]
pub struct BuildPlan {
    /// The files the template came from (for diagnostics at run time).
    pub files: Files,
    /// Input variables and their final values, in name order.
    pub variables: Vec<(String, Value)>,
    /// Locals and their values, in name order.
    pub locals: Vec<(String, Value)>,
    /// Names of sensitive variables.
    pub sensitive_variables: Vec<String>,
    /// The builds, in the order Packer starts them.
    pub builds: Vec<PlannedBuild>,
    /// Root names in scope for late (build-time) evaluation: `var`, `local`, `data`, `path`, ...
    pub scope: Vec<(String, Value)>,
    /// Whether the template was a legacy JSON template.
    pub legacy_json: bool,
    /// `required_plugins` entries: (local name, source, version constraint).
    pub required_plugins: Vec<RequiredPlugin>,
    /// The HCL2 `build` blocks as written (before expansion per source and before `-only` and
    /// `-except`), for `inspect`. Empty for legacy JSON templates.
    pub build_blocks: Vec<BuildBlockSummary>,
}

/// What `packer inspect` lists for one `build` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildBlockSummary {
    /// `name`, when set.
    pub name: Option<String>,
    /// `description`, when set.
    pub description: Option<String>,
    /// The sources, `type.name` (the build-level name when a source block renames it).
    pub sources: Vec<String>,
    /// The provisioners, `type` or `type.name`.
    pub provisioners: Vec<String>,
    /// The post-processor chains, each item `type` or `type.name`.
    pub post_processors: Vec<Vec<String>>,
}

/// One `required_plugins` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredPlugin {
    /// The local name.
    pub name: String,
    /// `github.com/hashicorp/amazon`
    pub source: String,
    /// The version constraint.
    pub version: String,
}

/// One build × source.
#[derive(Clone, Debug)]
pub struct PlannedBuild {
    /// The build block's name, if any.
    pub build_name: Option<String>,
    /// The name Packer shows and `-only` matches: `[buildname.]type.name`.
    pub name: String,
    /// The builder type.
    pub builder_type: String,
    /// The source block's own name (what `packer_build_name` and the manifest use).
    pub source_name: String,
    /// The name within this build (`name = ...` in a build-level source block, else the source name).
    pub local_name: String,
    /// The builder's configuration.
    pub builder: PluginConfig,
    /// Provisioners that apply to this source, in order.
    pub provisioners: Vec<PlannedProvisioner>,
    /// The error-cleanup provisioner.
    pub error_cleanup_provisioner: Option<PlannedProvisioner>,
    /// Post-processor chains that apply to this source.
    pub post_processors: Vec<Vec<PlannedPostProcessor>>,
    /// The build block's description.
    pub description: Option<String>,
}

/// A plugin's configuration.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    /// The plugin type (`null`, `shell`, `manifest`, ...).
    pub plugin_type: String,
    /// The evaluated configuration: an object of arguments; blocks become lists of objects.
    /// Parts that depend on the running build (`build.*`) are unknown.
    pub config: Value,
    /// The unevaluated body, to re-evaluate with build-time values.
    pub body: Option<Body>,
    /// Where the block is.
    pub span: Span,
}

/// A provisioner with Packer's common fields.
#[derive(Clone, Debug)]
pub struct PlannedProvisioner {
    /// `name`
    pub name: Option<String>,
    /// The plugin configuration, with `override` applied.
    pub config: PluginConfig,
    /// `pause_before`
    pub pause_before: Option<Duration>,
    /// `max_retries`
    pub max_retries: u32,
    /// `timeout`
    pub timeout: Option<Duration>,
    /// `continue_on_error`
    pub continue_on_error: bool,
}

/// A post-processor with Packer's common fields.
#[derive(Clone, Debug)]
pub struct PlannedPostProcessor {
    /// `name`
    pub name: Option<String>,
    /// The plugin configuration.
    pub config: PluginConfig,
    /// `keep_input_artifact`, when set.
    pub keep_input_artifact: Option<bool>,
}

/// A non-negative Go duration (`1h2m3.5s`, `300ms`), surrounding space ignored; `None` when
/// [`crate::gocompat::duration::parse`] refuses it or it is negative.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let ns = crate::gocompat::duration::parse(s.trim()).ok()?;
    u64::try_from(ns).ok().map(Duration::from_nanos)
}
