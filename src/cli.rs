//! Command-line parsing as Packer's Go `flag` package accepts it (`-flag` and `--flag`,
//! `-flag=value` and `-flag value`, `-machine-readable` anywhere), normalised in front of clap,
//! and Packer's exit codes: 0 ok, 1 error, 3 `fmt -check` found changes, 127 unknown command.

use clap::{Args, Parser, Subcommand};

/// The version forge reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Parser, Debug)]
#[command(
    name = "forge",
    about = "forge: a Packer-compatible machine image builder",
    disable_version_flag = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build image(s) from a template.
    Build(crate::commands::build::BuildArgs),
    /// Remove what interrupted or crashed runs left behind (forge only).
    Cleanup(crate::commands::cleanup::CleanupArgs),
    /// Check that a template is valid.
    Validate(ValidateArgs),
    /// Transform a JSON template into an HCL2 configuration.
    #[command(name = "hcl2_upgrade")]
    Hcl2Upgrade(crate::commands::hcl2_upgrade::Hcl2UpgradeArgs),
    /// See components of a template.
    Inspect(crate::commands::inspect::InspectArgs),
    /// Creates a console for testing variable interpolation.
    Console(crate::commands::console::ConsoleArgs),
    /// Print the forge version (and the Packer version it follows).
    Version,
    /// Rewrite HCL2 config files to canonical format.
    Fmt(crate::commands::fmt::FmtArgs),
    /// Resolve the plugins a template requires against forge's built-in plugins.
    Init(crate::commands::init::InitArgs),
    /// Print a shell completion script (forge only).
    Completion(crate::commands::completion::CompletionArgs),
    /// Print or write manual pages in roff (forge only).
    #[command(hide = true)]
    Man(crate::commands::man::ManArgs),
    /// Commands for forge's own development (forge only).
    #[command(hide = true)]
    Internal(crate::commands::internal::InternalArgs),
}

/// Flags shared by the commands that read a template.
#[derive(Args, Debug, Clone, Default)]
pub struct TemplateArgs {
    /// Variable for templates, can be used multiple times: -var 'key=value'.
    #[arg(long = "var", value_name = "key=value")]
    pub vars: Vec<String>,
    /// JSON or HCL2 file containing user variables; can be used multiple times.
    #[arg(long = "var-file", value_name = "path")]
    pub var_files: Vec<String>,
    /// Only these builds (comma-separated globs).
    #[arg(long = "only", value_name = "foo,bar")]
    pub only: Vec<String>,
    /// All builds other than these (comma-separated globs).
    #[arg(long = "except", value_name = "foo,bar")]
    pub except: Vec<String>,
}

/// `forge validate`
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Only check syntax. Do not verify config of the template.
    #[arg(long = "syntax-only")]
    pub syntax_only: bool,
    /// Do not warn about variables set in var files but never declared.
    #[arg(long = "no-warn-undeclared-var")]
    pub no_warn_undeclared_var: bool,
    /// Evaluate data sources (by default their values are unknown while validating).
    #[arg(long = "evaluate-datasources")]
    pub evaluate_datasources: bool,
    /// The template: a .pkr.hcl or .pkr.json file, a directory, or a legacy JSON template.
    #[arg(value_name = "TEMPLATE")]
    pub template_path: String,
}

const COMMANDS: &[(&str, &str)] = &[
    ("build", "build image(s) from template"),
    (
        "cleanup",
        "remove what interrupted or crashed runs left behind",
    ),
    ("completion", "Prints a shell completion script"),
    (
        "console",
        "creates a console for testing variable interpolation",
    ),
    ("fmt", "Rewrites HCL2 config files to canonical format"),
    (
        "hcl2_upgrade",
        "transform a JSON template into an HCL2 configuration",
    ),
    ("init", "Install missing plugins or upgrade plugins"),
    ("inspect", "see components of a template"),
    ("validate", "check that a template is valid"),
    ("version", "Prints the forge version"),
];

/// Commands that work but are left out of the usage text (and of completions).
const HIDDEN: &[&str] = &["man", "internal"];

fn usage() -> String {
    let mut s = String::from(
        "Usage: forge [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n",
    );
    for (name, about) in COMMANDS {
        s.push_str(&format!("    {name:<15} {about}\n"));
    }
    s
}

/// What normalising found besides the arguments clap should see.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Globals {
    /// `-machine-readable` was given (anywhere).
    pub machine_readable: bool,
}

/// Rewrites Go-style flags into what clap parses: `-machine-readable` is taken out wherever it
/// is; every `-name` flag before the first positional argument becomes `--name` (Go stops at
/// the first positional, so later arguments are left alone).
pub fn normalize(args: Vec<String>) -> (Vec<String>, Globals) {
    let mut g = Globals::default();
    let mut out = Vec::with_capacity(args.len());
    let mut flags_done = false;
    let mut expect_value = false;
    for a in args {
        if a == "-machine-readable" || a == "--machine-readable" {
            g.machine_readable = true;
            continue;
        }
        if out.is_empty() || flags_done {
            out.push(a);
            continue;
        }
        if expect_value {
            expect_value = false;
            out.push(a);
            continue;
        }
        if a == "--" {
            flags_done = true;
            out.push(a);
        } else if let Some(rest) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            if rest.is_empty() {
                // A lone "-" is a positional (standard input).
                flags_done = true;
                out.push(a);
                continue;
            }
            let name = rest.split('=').next().unwrap_or(rest);
            expect_value = !rest.contains('=') && takes_value(name);
            out.push(format!("--{rest}"));
            if name == "h" || name == "help" {
                out.pop();
                out.push("--help".into());
            }
        } else {
            flags_done = true;
            out.push(a);
        }
    }
    (out, g)
}

/// Flags whose value may follow as the next argument.
fn takes_value(name: &str) -> bool {
    matches!(
        name,
        "var"
            | "var-file"
            | "only"
            | "except"
            | "on-error"
            | "parallel-builds"
            | "config-type"
            | "output-file"
            | "color"
            | "events"
            | "dir"
    )
}

/// Runs forge with these arguments and returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    let (args, globals) = normalize(args);
    match args.first().map(String::as_str) {
        None => {
            eprint!("{}", usage());
            return 127;
        }
        Some("-v" | "--version" | "-version") => {
            return crate::commands::version::run();
        }
        Some("-h" | "--help" | "-help") => {
            print!("{}", usage());
            return 0;
        }
        Some(cmd) if !COMMANDS.iter().any(|(n, _)| *n == cmd) && !HIDDEN.contains(&cmd) => {
            eprint!("{}", usage());
            return 127;
        }
        _ => {}
    }
    let cli = match Cli::try_parse_from(std::iter::once("forge".to_string()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
        }
    };
    match cli.command {
        Command::Build(a) => crate::commands::build::run(&a, globals.machine_readable),
        Command::Cleanup(a) => crate::commands::cleanup::run(&a),
        Command::Validate(a) => crate::commands::validate::run(&a),
        Command::Hcl2Upgrade(a) => crate::commands::hcl2_upgrade::run(&a),
        Command::Inspect(a) => crate::commands::inspect::run(&a),
        Command::Console(a) => crate::commands::console::run(&a),
        Command::Version => crate::commands::version::run(),
        Command::Fmt(a) => crate::commands::fmt::run(&a),
        Command::Init(a) => crate::commands::init::run(&a),
        Command::Completion(a) => {
            crate::commands::completion::run(&a, <Cli as clap::CommandFactory>::command())
        }
        Command::Man(a) => crate::commands::man::run(&a, <Cli as clap::CommandFactory>::command()),
        Command::Internal(a) => crate::commands::internal::run(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(args: &[&str]) -> (Vec<String>, bool) {
        let (a, g) = normalize(args.iter().map(|s| s.to_string()).collect());
        (a, g.machine_readable)
    }

    #[test]
    fn go_style_flags_become_clap_flags() {
        let (a, mr) = n(&[
            "validate",
            "-var",
            "a=1",
            "-var-file=x.hcl",
            "-syntax-only",
            "t.pkr.hcl",
        ]);
        assert_eq!(
            a,
            [
                "validate",
                "--var",
                "a=1",
                "--var-file=x.hcl",
                "--syntax-only",
                "t.pkr.hcl"
            ]
        );
        assert!(!mr);
        let (a, mr) = n(&["validate", "t.pkr.hcl", "-machine-readable"]);
        assert_eq!(a, ["validate", "t.pkr.hcl"]);
        assert!(mr);
        let (a, _) = n(&["validate", "--only", "x", "-h"]);
        assert_eq!(a, ["validate", "--only", "x", "--help"]);
        // After the first positional, Go's flag parsing stops.
        let (a, _) = n(&["validate", "t.pkr.hcl", "-var", "a=1"]);
        assert_eq!(a, ["validate", "t.pkr.hcl", "-var", "a=1"]);
    }
}
