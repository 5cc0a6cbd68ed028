//! Legacy JSON templates mapped onto the same build plan as HCL2.

use std::path::Path;

use crate::config::{LoadOptions, Loaded};
use crate::diag::{Diagnostic, Files};

/// Loads a legacy JSON template.
pub fn load_legacy(path: &Path, _opts: &LoadOptions, files: Files) -> Loaded {
    Loaded {
        plan: None,
        diags: Diagnostic::error(
            "Legacy JSON templates are not wired into the plan yet",
            format!("{} is a legacy JSON template.", path.display()),
        )
        .into(),
        files,
    }
}
