//! Legacy JSON templates: the `{{ }}` interpolation engine, the template model with Packer's
//! parse and validation rules, and user-variable resolution.

pub mod interp;
pub mod template;
pub mod vars;

pub use interp::{render, InterpContext, InterpError, SecretSource};
pub use template::{parse_legacy, LegacyError, LegacyTemplate};
pub use vars::{resolve_variables, resolve_variables_with, ResolvedVars, VarOptions};

/// The Packer version forge reports compatibility with (`{{ packer_version }}`,
/// `min_packer_version` checks).
pub const PACKER_COMPAT_VERSION: &str = "1.16.0";
