//! Packer's HCL2 function table (packer-core.md §4): 103 functions with cty's semantics.
//!
//! Every function declares its parameters; [`call`] checks arity, converts arguments to the
//! declared types, short-circuits unknown arguments, and carries sensitive marks from the
//! arguments to the result, so individual functions see plain, known, unmarked values.

use std::path::PathBuf;

use crate::value::{convert, Type, Value};

/// Renders a template file: (source text, file name, variables) to a string value.
pub type RenderTemplate<'a> = dyn Fn(&str, &str, &Value) -> Result<Value, String> + 'a;

/// What a function may reach besides its arguments.
pub struct FuncCtx<'a> {
    /// The directory relative file paths resolve against (`path.root`).
    pub base_dir: PathBuf,
    /// The process start time, for `legacy_isotime` and `legacy_strftime`.
    pub start_time: std::time::SystemTime,
    /// Whether `env` may be called (only in variable defaults).
    pub allow_env: bool,
    /// Renders a template file for `templatefile`: (source text, file name, variables).
    pub render_template: Option<&'a RenderTemplate<'a>>,
    /// Reads environment variables (tests inject their own).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The client of the `aws_secretsmanager*` functions, if any.
    pub secrets_manager: Option<&'a dyn crate::secrets::SecretsManager>,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuncError {
    /// A specific argument is wrong: "Invalid value for \"<param>\" parameter: <message>."
    Arg {
        /// Index of the argument.
        index: usize,
        /// What is wrong, without the trailing period.
        message: String,
    },
    /// The call failed as a whole: "Call to function \"<name>\" failed: <message>."
    Call(String),
}

/// A function's result.
pub type FuncResult = Result<Value, FuncError>;

/// One declared parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Name, as error messages show it.
    pub name: &'static str,
    /// The type arguments are converted to (`Type::Dynamic` takes anything).
    pub ty: Type,
    /// Whether null may be passed.
    pub allow_null: bool,
    /// Whether an unknown may be passed (else the result is unknown).
    pub allow_unknown: bool,
}

impl Param {
    /// A parameter of the given type that rejects null and short-circuits unknowns.
    pub const fn new(name: &'static str, ty: Type) -> Param {
        Param {
            name,
            ty,
            allow_null: false,
            allow_unknown: false,
        }
    }
    /// Lets null through.
    pub const fn nullable(mut self) -> Param {
        self.allow_null = true;
        self
    }
    /// Lets unknown values through to the implementation.
    pub const fn unknowns(mut self) -> Param {
        self.allow_unknown = true;
        self
    }
}

/// The implementation of a function.
pub type Impl = fn(&FuncCtx, &[Value]) -> FuncResult;

/// A function's declaration.
pub struct Function {
    /// Its name in HCL.
    pub name: &'static str,
    /// Fixed parameters.
    pub params: Vec<Param>,
    /// The repeated trailing parameter, if any.
    pub variadic: Option<Param>,
    /// The result type when an argument is unknown (`Type::Dynamic` if it depends).
    pub ret: Type,
    /// The implementation.
    pub imp: Impl,
}

impl Function {
    /// Declares a function.
    pub fn new(name: &'static str, params: Vec<Param>, ret: Type, imp: Impl) -> Function {
        Function {
            name,
            params,
            variadic: None,
            ret,
            imp,
        }
    }
    /// Adds a variadic trailing parameter.
    pub fn variadic(mut self, p: Param) -> Function {
        self.variadic = Some(p);
        self
    }
}

/// Why a call could not be made or failed, ready for a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// The diagnostic summary ("Invalid function argument", "Error in function call", ...).
    pub summary: String,
    /// The diagnostic detail.
    pub detail: String,
    /// The argument the error is about, if one.
    pub arg: Option<usize>,
}

fn registry() -> &'static std::collections::HashMap<&'static str, Function> {
    static REG: std::sync::OnceLock<std::collections::HashMap<&'static str, Function>> =
        std::sync::OnceLock::new();
    REG.get_or_init(|| all().into_iter().map(|f| (f.name, f)).collect())
}

/// Every function Packer's HCL2 has.
fn all() -> Vec<Function> {
    let mut v = Vec::new();
    numeric::register(&mut v);
    string::register(&mut v);
    format::register(&mut v);
    collection::register(&mut v);
    encoding::register(&mut v);
    filesystem::register(&mut v);
    datetime::register(&mut v);
    crypto::register(&mut v);
    ipnet::register(&mut v);
    secrets::register(&mut v);
    v
}

/// Every function name Packer's HCL2 has (packer-core.md §4), the target of this table.
pub const PACKER_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "log",
    "max",
    "min",
    "parseint",
    "pow",
    "signum",
    "sum",
    "chomp",
    "endswith",
    "format",
    "formatlist",
    "indent",
    "join",
    "lower",
    "regex",
    "regexall",
    "regex_replace",
    "replace",
    "split",
    "startswith",
    "strcontains",
    "strrev",
    "substr",
    "title",
    "trim",
    "trimprefix",
    "trimsuffix",
    "trimspace",
    "upper",
    "alltrue",
    "anytrue",
    "chunklist",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "distinct",
    "element",
    "flatten",
    "index",
    "length",
    "keys",
    "lookup",
    "merge",
    "range",
    "reverse",
    "setintersection",
    "setproduct",
    "setunion",
    "slice",
    "sort",
    "values",
    "zipmap",
    "base64decode",
    "base64encode",
    "base64gzip",
    "csvdecode",
    "jsondecode",
    "jsonencode",
    "textdecodebase64",
    "textencodebase64",
    "urlencode",
    "yamldecode",
    "yamlencode",
    "abspath",
    "basename",
    "dirname",
    "file",
    "filebase64",
    "fileexists",
    "fileset",
    "pathexpand",
    "templatefile",
    "formatdate",
    "timeadd",
    "timestamp",
    "legacy_isotime",
    "legacy_strftime",
    "rfc3339_parse",
    "unix_timestamp_parse",
    "bcrypt",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "rsadecrypt",
    "uuidv4",
    "uuidv5",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnet",
    "cidrsubnets",
    "can",
    "try",
    "convert",
    "aws_secretsmanager",
    "aws_secretsmanager_raw",
    "consul_key",
    "vault",
    "env",
];

/// Packer functions forge does not have yet.
pub fn missing() -> Vec<&'static str> {
    PACKER_FUNCTIONS
        .iter()
        .copied()
        .filter(|f| !exists(f))
        .collect()
}

/// Whether a function of that name exists.
pub fn exists(name: &str) -> bool {
    registry().contains_key(name) || matches!(name, "can" | "try" | "convert")
}

/// All function names, sorted.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = registry().keys().copied().collect();
    v.extend(["can", "try", "convert"]);
    v.sort_unstable();
    v
}

/// Calls `name` with already evaluated arguments. `can`, `try` and `convert` take expressions
/// and are handled by the evaluator.
pub fn call(ctx: &FuncCtx, name: &str, args: Vec<Value>) -> Result<Value, CallError> {
    // `env` only exists where Packer puts it in scope (variable defaults).
    let found = registry()
        .get(name)
        .filter(|_| name != "env" || ctx.allow_env);
    let Some(f) = found else {
        return Err(CallError {
            summary: "Call to unknown function".into(),
            detail: format!("There is no function named {name:?}."),
            arg: None,
        });
    };
    let n = args.len();
    if n < f.params.len() {
        let missing = &f.params[n];
        return Err(CallError {
            summary: "Not enough function arguments".into(),
            detail: format!(
                "Function {:?} expects {}{} argument(s). Missing value for {:?}.",
                name,
                if f.variadic.is_some() {
                    "at least "
                } else {
                    ""
                },
                f.params.len(),
                missing.name
            ),
            arg: None,
        });
    }
    if n > f.params.len() && f.variadic.is_none() {
        return Err(CallError {
            summary: "Too many function arguments".into(),
            detail: format!(
                "Function {:?} expects only {} argument(s).",
                name,
                f.params.len()
            ),
            arg: Some(f.params.len()),
        });
    }
    let mut mark = false;
    let mut unknown = false;
    let mut conv = Vec::with_capacity(n);
    for (i, a) in args.into_iter().enumerate() {
        let p = f
            .params
            .get(i)
            .or(f.variadic.as_ref())
            .expect("arity checked");
        if a.is_null() && !p.allow_null {
            return Err(CallError {
                summary: "Invalid function argument".into(),
                detail: format!(
                    "Invalid value for {:?} parameter: argument must not be null.",
                    p.name
                ),
                arg: Some(i),
            });
        }
        let (a, m) = a.unmark_deep();
        mark |= m;
        if a.is_unknown_deep() && !p.allow_unknown {
            unknown = true;
        }
        let c = convert(&a, &p.ty).map_err(|e| CallError {
            summary: "Invalid function argument".into(),
            detail: format!("Invalid value for {:?} parameter: {e}.", p.name),
            arg: Some(i),
        })?;
        conv.push(c);
    }
    if unknown {
        return Ok(Value::unknown(f.ret.clone()).marked(mark));
    }
    match (f.imp)(ctx, &conv) {
        Ok(v) => Ok(v.marked(mark)),
        Err(FuncError::Arg { index, message }) => {
            let pname = f
                .params
                .get(index)
                .or(f.variadic.as_ref())
                .map(|p| p.name)
                .unwrap_or("?");
            Err(CallError {
                summary: "Invalid function argument".into(),
                detail: format!("Invalid value for {pname:?} parameter: {message}."),
                arg: Some(index),
            })
        }
        Err(FuncError::Call(message)) => Err(CallError {
            summary: "Error in function call".into(),
            detail: format!("Call to function {name:?} failed: {message}."),
            arg: None,
        }),
    }
}

mod collection;
mod crypto;
pub(crate) mod datetime;
mod encoding;
mod filesystem;

pub use encoding::from_json as value_from_json;
/// Go's `filepath.Clean` for slash-separated paths.
pub use encoding::json_string as go_json_string;
pub use filesystem::clean as go_clean_path;
pub use filesystem::glob_match;
mod format;
mod ipnet;
mod numeric;
mod secrets;
mod string;
mod yaml;

/// Shorthand for declaring a parameter.
pub(crate) fn p(name: &'static str, ty: Type) -> Param {
    Param::new(name, ty)
}

/// The string argument at `i` (empty when it is not a known string).
pub(crate) fn arg_str(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or("")
}

/// The number argument at `i` (zero when it is not a known number).
pub(crate) fn arg_num(a: &[Value], i: usize) -> crate::value::Number {
    a.get(i)
        .and_then(Value::as_number)
        .cloned()
        .unwrap_or_else(|| crate::value::Number::from_i64(0))
}

/// The message gocty gives when a number does not fit a Go `int`.
pub(crate) const WHOLE_NUMBER: &str =
    "value must be a whole number, between -9223372036854775808 and 9223372036854775807";

/// The number argument at `i` as a Go `int`, with gocty's error text.
pub(crate) fn arg_int(a: &[Value], i: usize) -> Result<i64, String> {
    let n = arg_num(a, i);
    if !n.is_integer() {
        return Err(WHOLE_NUMBER.to_string());
    }
    n.to_i64().ok_or_else(|| WHOLE_NUMBER.to_string())
}

/// An argument error.
pub(crate) fn arg_err(index: usize, message: impl Into<String>) -> FuncError {
    FuncError::Arg {
        index,
        message: message.into(),
    }
}

/// A call error.
pub(crate) fn call_err(message: impl Into<String>) -> FuncError {
    FuncError::Call(message.into())
}

/// Converts every value to one unified type; `None` when empty or not unifiable.
pub(crate) fn unify_values(items: &[Value]) -> Option<(Type, Vec<Value>)> {
    if items.is_empty() {
        return None;
    }
    let types: Vec<Type> = items.iter().map(Value::ty).collect();
    let t = crate::value::unify(&types)?;
    let out: Option<Vec<Value>> = items.iter().map(|v| convert(v, &t).ok()).collect();
    Some((t, out?))
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::testing::console::{eval_str, render, test_ctx};

    /// Evaluates `src` and returns its console rendering, panicking on error.
    pub fn call_ok(src: &str) -> String {
        let ctx = test_ctx(std::env::temp_dir(), true);
        match eval_str(&ctx, src) {
            Ok(v) => v.to_console_string(),
            Err(e) => panic!("{src}: {}", e.detail),
        }
    }

    /// Evaluates `src` in `dir` and returns the rendering (`Error: ...` on failure).
    pub fn eval_in(dir: &std::path::Path, src: &str) -> String {
        let ctx = test_ctx(dir.to_path_buf(), true);
        render(&eval_str(&ctx, src))
    }

    /// Evaluates `src`, which must fail, and returns the error detail.
    pub fn call_err_detail(src: &str) -> String {
        let ctx = test_ctx(std::env::temp_dir(), true);
        match eval_str(&ctx, src) {
            Ok(v) => panic!("{src}: expected an error, got {}", v.to_console_string()),
            Err(e) => e.detail,
        }
    }
}
