//! `forge console`: evaluates expressions in a template's scope, as `packer console` does.
//!
//! HCL2 mode (a `.pkr.hcl`/`.pkr.json` file, a directory, or `-config-type=hcl2` without a
//! template): each line is an HCL expression with `var`, `local`, `path`, `packer`, unknown
//! `source` and `build`, and every function (no `data`). JSON mode (no template, or a legacy
//! JSON one): each line is rendered as a Go template with the legacy `{{ }}` engine.
//!
//! With standard input a pipe, every line is evaluated and only the last result is printed
//! (errors are printed as they happen, and make the exit code 1); otherwise the console is
//! interactive, with line editing and the prompt `> `.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use forge_template::diag::go_wordwrap;
use forge_template::diag::{Diagnostic, Severity};
use forge_template::legacy::{parse_legacy, render, InterpContext};
use forge_template::secrets::SecretsManager;
use forge_template::value::{Type, Value};
use forge_template::{load, BuildPlan};
use indexmap::IndexMap;

use super::inspect::{hcl2_variables, is_legacy_json, printable, scrub, secrets};
use clap::Args;

use crate::cli::TemplateArgs;

/// `forge console`
#[derive(Args, Debug)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Set to 'hcl2' to run in HCL2 mode when no file is passed. Defaults to json.
    #[arg(long = "config-type", default_value = "json")]
    pub config_type: String,
    /// Accepted for Packer compatibility; locals and data sources are always evaluated as a graph.
    #[arg(long = "use-sequential-evaluation")]
    pub use_sequential_evaluation: bool,
    /// The template (optional): a .pkr.hcl or .pkr.json file, a directory, or a legacy JSON template.
    #[arg(value_name = "TEMPLATE")]
    pub template_path: Vec<String>,
}

const HCL2_HELP: &str = r#"Packer console HCL2 Mode.
The Packer console allows you to experiment with Packer interpolations.
You may access variables and functions in the Packer config you called the
console with.

Type in the interpolation to test and hit <enter> to see the result.

"upper(var.foo.id)" would evaluate to the ID of "foo" and uppercase is, if it
exists in your config file.

"variables" will dump all available variables and their values.

To exit the console, type "exit" and hit <enter>, or use Control-C.

/!\ It is not possible to use go templating interpolation like "{{timestamp}}"
with in HCL2 mode."#;

const JSON_HELP: &str = r#"Packer console JSON Mode.
The Packer console allows you to experiment with Packer interpolations.
You may access variables in the Packer config you called the console with.

Type in the interpolation to test and hit <enter> to see the result.

"variables" will dump all available variables and their values.

"{{timestamp}}" will output the timestamp, for example "1559855090".

To exit the console, type "exit" and hit <enter>, or use Control-C.

/!\ If you would like to start console in hcl2 mode without a config you can
use the --config-type=hcl2 option."#;

/// The width Packer's diagnostic writer wraps details at.
const WRAP: usize = 80;

/// What the console evaluates lines against.
enum Evaluator {
    Hcl2 {
        plan: BuildPlan,
        names: Vec<(String, Value)>,
        base_dir: PathBuf,
        /// The client of the `aws_secretsmanager*` functions.
        secrets_manager: Option<Arc<dyn SecretsManager>>,
    },
    Json {
        vars: IndexMap<String, String>,
        template_dir: Option<String>,
        /// The values of sensitive variables, which Packer registers as secrets.
        secrets: Vec<String>,
    },
}

/// One evaluated line: the text to print, whether to stop, the rendered diagnostics and
/// whether any of them is an error.
struct Outcome {
    out: String,
    exit: bool,
    diags: String,
    error: bool,
}

impl Outcome {
    fn text(out: impl Into<String>) -> Outcome {
        Outcome {
            out: out.into(),
            exit: false,
            diags: String::new(),
            error: false,
        }
    }
}

impl Evaluator {
    fn evaluate(&self, line: &str) -> Outcome {
        match line {
            "" => return Outcome::text(""),
            "exit" => {
                return Outcome {
                    exit: true,
                    ..Outcome::text("")
                }
            }
            _ => {}
        }
        match self {
            Evaluator::Hcl2 {
                plan,
                names,
                base_dir,
                secrets_manager,
            } => match line {
                "help" => Outcome::text(HCL2_HELP),
                "variables" => Outcome::text(hcl2_variables(plan)),
                _ => match forge_template::console::eval_line_with(
                    line,
                    names,
                    base_dir.clone(),
                    secrets_manager.as_deref(),
                ) {
                    Ok(v) => Outcome::text(printable(&v)),
                    Err((diags, _files)) => Outcome {
                        diags: diags.0.iter().map(render_console_diag).collect(),
                        error: diags.has_errors(),
                        ..Outcome::text("")
                    },
                },
            },
            Evaluator::Json {
                vars, template_dir, ..
            } => match line {
                "help" => Outcome::text(JSON_HELP),
                "variables" => {
                    let mut keys: Vec<&String> = vars.keys().collect();
                    keys.sort();
                    let mut s = String::from("\n");
                    for k in keys {
                        s.push_str(&format!("{k}: {},\n", vars[k]));
                    }
                    Outcome::text(s)
                }
                _ => {
                    let mut ctx = InterpContext::new(vars);
                    ctx.template_dir = template_dir.clone();
                    match render(line, &ctx) {
                        Ok(s) => Outcome::text(s),
                        // Packer gives this diagnostic no severity: it prints as "???????"
                        // and is not an error.
                        Err(e) => Outcome {
                            diags: format!(
                                "???????: Interpolation error\n\n{}\n\n",
                                go_wordwrap(&e.message, WRAP)
                            ),
                            ..Outcome::text("")
                        },
                    }
                }
            },
        }
    }

    fn secrets(&self) -> Vec<String> {
        match self {
            Evaluator::Hcl2 { plan, .. } => secrets(plan),
            Evaluator::Json { secrets, .. } => secrets.clone(),
        }
    }
}

/// A diagnostic as Packer's HCL text writer prints it without the source files: the input
/// is one line, so the position is always line 1.
fn render_console_diag(d: &Diagnostic) -> String {
    let sev = match d.severity {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
    };
    let mut out = format!("{sev}: {}\n\n", d.summary);
    out.push_str("  on <console-input> line 1:\n  (source code not available)\n\n");
    if !d.detail.is_empty() {
        out.push_str(&go_wordwrap(&d.detail, WRAP));
        out.push_str("\n\n");
    }
    out
}

/// Runs the command; returns the exit code.
pub fn run(a: &ConsoleArgs) -> i32 {
    let opts = match super::validate::lenient_load_options(&a.template, &crate::plugins::all()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let path = match a.template_path.as_slice() {
        [p] if p != "-" => Some(PathBuf::from(p)),
        _ => None,
    };
    let hcl2 = match &path {
        Some(p) => !is_legacy_json(p),
        None => match a.config_type.as_str() {
            "json" => false,
            "hcl2" => true,
            other => {
                println!("\"\": config type {other:?} is not valid");
                return 1;
            }
        },
    };
    let evaluator = if hcl2 {
        let plan = match &path {
            Some(p) => {
                let loaded = load(p, &opts);
                match loaded.plan {
                    Some(plan) => plan,
                    None => {
                        print!("{}", loaded.diags.render(&loaded.files));
                        return 1;
                    }
                }
            }
            None => empty_hcl2_plan(),
        };
        hcl2_evaluator(plan, opts.secrets_manager.clone())
    } else {
        match json_evaluator(path.as_deref(), &opts) {
            Ok(e) => e,
            Err(msg) => {
                println!("{msg}");
                return 1;
            }
        }
    };
    if stdin_is_pipe() {
        piped(&evaluator)
    } else {
        interactive(&evaluator)
    }
}

/// The scope of an HCL2 template without one: no variables, `path.root` empty.
fn empty_hcl2_plan() -> BuildPlan {
    let cwd = std::env::current_dir()
        .map(|d| d.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let path_obj = Value::object(BTreeMap::from([
        ("cwd".to_string(), Value::string(cwd)),
        ("root".to_string(), Value::string("")),
    ]));
    let packer_obj = Value::object(BTreeMap::from([
        (
            "version".to_string(),
            Value::string(forge_template::config::PACKER_COMPAT_VERSION),
        ),
        ("iterationID".to_string(), Value::unknown(Type::String)),
        (
            "versionFingerprint".to_string(),
            Value::unknown(Type::String),
        ),
    ]));
    BuildPlan {
        scope: vec![
            ("var".to_string(), Value::object(BTreeMap::new())),
            ("path".to_string(), path_obj),
            ("packer".to_string(), packer_obj),
            ("local".to_string(), Value::object(BTreeMap::new())),
        ],
        ..BuildPlan::default()
    }
}

/// Packer's `NilContext`: the plan's scope without `data`, with unknown `source` and `build`.
fn hcl2_evaluator(plan: BuildPlan, secrets_manager: Option<Arc<dyn SecretsManager>>) -> Evaluator {
    let mut names: Vec<(String, Value)> = plan
        .scope
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "data" | "source" | "build"))
        .cloned()
        .collect();
    names.push((
        "source".to_string(),
        Value::object(BTreeMap::from([
            ("type".to_string(), Value::unknown(Type::String)),
            ("name".to_string(), Value::unknown(Type::String)),
        ])),
    ));
    names.push((
        "build".to_string(),
        Value::unknown(Type::Object(BTreeMap::new())),
    ));
    let base_dir = names
        .iter()
        .find(|(k, _)| k == "path")
        .and_then(|(_, v)| v.as_entries().and_then(|m| m.get("root")).cloned())
        .and_then(|v| v.as_str().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    Evaluator::Hcl2 {
        plan,
        names,
        base_dir,
        secrets_manager,
    }
}

/// JSON mode: the template's user variables as resolved (their defaults if resolving failed).
fn json_evaluator(
    path: Option<&Path>,
    opts: &forge_template::LoadOptions,
) -> Result<Evaluator, String> {
    let Some(path) = path else {
        return Ok(Evaluator::Json {
            vars: IndexMap::new(),
            template_dir: None,
            secrets: Vec::new(),
        });
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Failed to parse template: open {}: {e}", path.display()))?;
    let template = parse_legacy(&text).map_err(|errs| {
        let msgs: Vec<String> = errs.into_iter().map(|e| e.message).collect();
        format!("Failed to parse template: {}", msgs.join("\n"))
    })?;
    let loaded = load(path, opts);
    let vars: IndexMap<String, String> = match &loaded.plan {
        Some(plan) => plan
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        None => template
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.default.clone()))
            .collect(),
    };
    let template_dir = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_string_lossy().into_owned()));
    let secrets = loaded.plan.as_ref().map(secrets).unwrap_or_default();
    Ok(Evaluator::Json {
        vars,
        template_dir,
        secrets,
    })
}

/// Whether standard input is a named pipe (Packer's `StdinPiped`).
fn stdin_is_pipe() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .map(|m| m.file_type().is_fifo())
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        use std::io::IsTerminal;
        !std::io::stdin().is_terminal()
    }
}

/// Evaluates every line of standard input; prints diagnostics as they come and the last
/// result at the end. The exit code is that of the last line that had diagnostics.
fn piped(ev: &Evaluator) -> i32 {
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 1;
    }
    let text = String::from_utf8_lossy(&input);
    let secrets = ev.secrets();
    let mut last = String::new();
    let mut ret = 0;
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let o = ev.evaluate(line.trim());
        if !o.diags.is_empty() {
            println!("{}", scrub(&o.diags, &secrets));
            ret = i32::from(o.error);
        }
        last = o.out;
    }
    println!("{}", scrub(&last, &secrets));
    ret
}

/// The interactive console: a line editor with history, each result printed after its line.
fn interactive(ev: &Evaluator) -> i32 {
    use rustyline::error::ReadlineError;
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(r) => r,
        Err(e) => {
            println!("Error initializing console: {e}");
            return 1;
        }
    };
    let secrets = ev.secrets();
    loop {
        match rl.readline("> ") {
            Ok(line) => {
                let _ = rl.add_history_entry(line.as_str());
                let o = ev.evaluate(&line);
                let mut ret = 0;
                if !o.diags.is_empty() {
                    println!("{}", scrub(&o.diags, &secrets));
                    ret = i32::from(o.error);
                }
                if o.exit {
                    return ret;
                }
                println!("{}", scrub(&o.out, &secrets));
            }
            Err(ReadlineError::Interrupted) => return 0,
            Err(ReadlineError::Eof) => {
                println!("exit");
                return 0;
            }
            Err(e) => {
                println!("Error initializing console: {e}");
                return 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use forge_template::diag::go_wordwrap;

    #[test]
    fn wraps_like_go_wordwrap() {
        assert_eq!(go_wordwrap("a b c", 3), "a b\nc");
        assert_eq!(go_wordwrap("abcdef gh", 4), "abcdef\ngh");
        assert_eq!(go_wordwrap("a\nb", 80), "a\nb");
        let long = "template: root:1:2: executing \"root\" at <template_dir>: error calling template_dir: template path not available";
        assert_eq!(
            go_wordwrap(long, 80),
            "template: root:1:2: executing \"root\" at <template_dir>: error calling\ntemplate_dir: template path not available"
        );
    }
}
