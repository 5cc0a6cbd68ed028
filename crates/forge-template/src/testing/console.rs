//! Test helper: evaluates one expression with forge's real evaluator, the way `packer console`
//! does, for the function unit tests and the console conformance rows.

use crate::eval::{EvalEnv, Scope};
use crate::functions::CallError;
use crate::value::Value;

/// The environment tests see: only `FORGE_TEST_ENV=hello`.
fn test_env(name: &str) -> Option<String> {
    (name == "FORGE_TEST_ENV").then(|| "hello".to_string())
}

/// Where relative paths resolve, and whether `env()` may be called; the start time is fixed
/// (2020-09-13T12:26:40Z) so legacy time functions are reproducible.
pub struct TestCtx {
    base_dir: std::path::PathBuf,
    allow_env: bool,
}

/// A context rooted at `base_dir`.
pub fn test_ctx(base_dir: std::path::PathBuf, allow_env: bool) -> TestCtx {
    TestCtx {
        base_dir,
        allow_env,
    }
}

/// Parses and evaluates `src`; an error keeps the diagnostic's summary and detail.
pub fn eval_str(ctx: &TestCtx, src: &str) -> Result<Value, CallError> {
    let to_err = |d: &crate::diag::Diagnostic| CallError {
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        arg: None,
    };
    let expr = crate::syntax::parse_expression(0, src).map_err(|d| to_err(&d.0[0]))?;
    let env = EvalEnv {
        base_dir: ctx.base_dir.clone(),
        start_time: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
        allow_env: ctx.allow_env,
        env: &test_env,
        allow_templatefile: true,
        secrets_manager: None,
    };
    Scope::new(&env, Vec::new())
        .eval(&expr)
        .map_err(|d| to_err(&d))
}

/// The console rendering of a result: the value, or `Error: <detail>`.
pub fn render(r: &Result<Value, CallError>) -> String {
    match r {
        Ok(v) => v.to_console_string(),
        Err(e) => format!("Error: {}", e.detail),
    }
}
