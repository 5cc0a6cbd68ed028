//! Evaluating one line as `packer console` does: an HCL expression in the template's scope
//! (variables, locals, path, packer; data sources unknown), printed in console layout.

use std::path::PathBuf;

use crate::diag::{Diagnostics, Files};
use crate::eval::{EvalEnv, Scope};
use crate::secrets::SecretsManager;
use crate::value::Value;

/// Evaluates `line` with the given root names, returning the value or the diagnostics with the
/// files needed to render them (the input is named `<console-input>`). The
/// `aws_secretsmanager*` functions have no client here: see [`eval_line_with`].
pub fn eval_line(
    line: &str,
    names: &[(String, Value)],
    base_dir: PathBuf,
) -> Result<Value, (Diagnostics, Files)> {
    eval_line_with(line, names, base_dir, None)
}

/// [`eval_line`] with the client of the `aws_secretsmanager*` functions.
pub fn eval_line_with(
    line: &str,
    names: &[(String, Value)],
    base_dir: PathBuf,
    secrets_manager: Option<&dyn SecretsManager>,
) -> Result<Value, (Diagnostics, Files)> {
    let mut files = Files::default();
    let id = files.add("<console-input>", line);
    let expr = match crate::syntax::parse_expression(id, line) {
        Ok(e) => e,
        Err(d) => return Err((d, files)),
    };
    let env = EvalEnv {
        secrets_manager,
        ..EvalEnv::new(base_dir)
    };
    let scope = Scope::new(&env, names.to_vec());
    scope.eval(&expr).map_err(|d| (d.into(), files))
}
