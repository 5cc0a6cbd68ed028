//! `forge inspect`: the components of a template in Packer's layout (HCL2 mode and JSON mode).
//! Initialisation errors are ignored, as Packer ignores them: unset variables show as
//! `<unknown>` and whatever loaded is printed. Sensitive values are scrubbed from the output the
//! way Packer's UI scrubs registered secrets.

use std::path::Path;

use forge_template::legacy::{parse_legacy, LegacyTemplate};
use forge_template::value::Value;
use forge_template::{load, BuildPlan};

use clap::Args;

use crate::cli::TemplateArgs;

/// `forge inspect`
#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Accepted for Packer compatibility; locals and data sources are always evaluated as a graph.
    #[arg(long = "use-sequential-evaluation")]
    pub use_sequential_evaluation: bool,
    /// The template: a .pkr.hcl or .pkr.json file, a directory, or a legacy JSON template.
    #[arg(value_name = "TEMPLATE")]
    pub template_path: Vec<String>,
}

/// What Packer's UI prints instead of a secret.
const SENSITIVE: &str = "<sensitive>";

/// Runs the command; returns the exit code.
pub fn run(a: &InspectArgs) -> i32 {
    let [template] = a.template_path.as_slice() else {
        eprintln!("{}", USAGE);
        return 1;
    };
    let opts = match super::validate::lenient_load_options(&a.template, &crate::plugins::all()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let path = Path::new(template);
    if is_legacy_json(path) {
        return inspect_json(path, &opts);
    }
    let loaded = load(path, &opts);
    let Some(plan) = loaded.plan else {
        print!("{}", loaded.diags.render(&loaded.files));
        return 1;
    };
    print!("{}", scrub(&hcl2_inspect(&plan), &secrets(&plan)));
    0
}

const USAGE: &str = "Usage: forge inspect TEMPLATE\n\n  Inspects a template, parsing and outputting the components a template\n  defines. This does not validate the contents of a template (other than\n  basic syntax by necessity).";

/// Whether Packer reads this path as a legacy JSON template (`GetConfigType`).
pub(crate) fn is_legacy_json(path: &Path) -> bool {
    let name = path.to_string_lossy();
    !(path.is_dir() || name.ends_with(".pkr.hcl") || name.ends_with(".pkr.json"))
}

/// A value as Packer prints it (`PrintableCtyValue`): `<unknown>` unless wholly known, else the
/// console layout, with sensitivity marks removed (the secret filter hides them later).
pub(crate) fn printable(v: &Value) -> String {
    if !v.is_wholly_known() {
        return "<unknown>".to_string();
    }
    v.clone().unmark_deep().0.to_console_string()
}

/// The strings Packer registers as secrets: every known string inside a sensitive variable's
/// value, with CRLF normalised, and each of its non-empty lines.
pub(crate) fn secrets(plan: &BuildPlan) -> Vec<String> {
    let mut out = Vec::new();
    for (name, v) in &plan.variables {
        if plan.sensitive_variables.contains(name) {
            collect_secrets(v, &mut out);
        }
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

fn collect_secrets(v: &Value, out: &mut Vec<String>) {
    if let Some(s) = v.as_str() {
        if s.is_empty() {
            return;
        }
        out.push(s.to_string());
        let normalized = s.replace("\r\n", "\n");
        out.extend(
            normalized
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
        out.push(normalized);
        return;
    }
    for c in v.children() {
        collect_secrets(c, out);
    }
}

/// Replaces every secret in `text` with `<sensitive>` (longest first).
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), SENSITIVE);
        }
    }
    out
}

/// `variables` as Packer's HCL2 mode prints them (console `variables` and inspect).
pub(crate) fn hcl2_variables(plan: &BuildPlan) -> String {
    let mut out = String::from("> input-variables:\n\n");
    let mut vars: Vec<&(String, Value)> = plan.variables.iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in vars {
        out.push_str(&format!(
            "var.{k}: {}\n",
            forge_template::value::quote(&printable(v))
        ));
    }
    out.push_str("\n> local-variables:\n\n");
    let mut locals: Vec<&(String, Value)> = plan.locals.iter().collect();
    locals.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in locals {
        out.push_str(&format!(
            "local.{k}: {}\n",
            forge_template::value::quote(&printable(v))
        ));
    }
    out
}

fn hcl2_inspect(plan: &BuildPlan) -> String {
    let mut out = String::from("Packer Inspect: HCL2 mode\n\n");
    out.push_str(&hcl2_variables(plan));
    out.push('\n');
    out.push_str("> builds:\n");
    for (i, b) in plan.build_blocks.iter().enumerate() {
        match &b.name {
            Some(n) => out.push_str(&format!("\n  > {n}:\n")),
            None => out.push_str(&format!("\n  > <unnamed build {i}>:\n")),
        }
        if let Some(d) = &b.description {
            out.push_str(&format!("\n  > Description: {d}\n"));
        }
        out.push_str("\n    sources:\n");
        if b.sources.is_empty() {
            out.push_str("\n      <no source>\n");
        }
        for s in &b.sources {
            out.push_str(&format!("\n      {s}\n"));
        }
        out.push_str("\n    provisioners:\n\n");
        if b.provisioners.is_empty() {
            out.push_str("      <no provisioner>\n");
        }
        for p in &b.provisioners {
            out.push_str(&format!("      {p}\n"));
        }
        out.push_str("\n    post-processors:\n");
        if b.post_processors.is_empty() {
            out.push_str("\n      <no post-processor>\n");
        }
        for (j, chain) in b.post_processors.iter().enumerate() {
            out.push_str(&format!("\n      {j}:\n"));
            for pp in chain {
                out.push_str(&format!("        {pp}\n"));
            }
        }
    }
    out.push('\n');
    out
}

fn inspect_json(path: &Path, opts: &forge_template::LoadOptions) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            println!("Failed to parse template: open {}: {}", path.display(), e);
            return 1;
        }
    };
    let template = match parse_legacy(&text) {
        Ok(t) => t,
        Err(errs) => {
            let msgs: Vec<String> = errs.into_iter().map(|e| e.message).collect();
            println!("Failed to parse template: {}", msgs.join("\n"));
            return 1;
        }
    };
    // Initialisation (variable resolution) only matters for the secrets it registers.
    let loaded = load(path, opts);
    let secrets = loaded.plan.as_ref().map(secrets).unwrap_or_default();
    print!("{}", scrub(&json_inspect(&template), &secrets));
    0
}

/// Packer's JSON-mode layout (`Core.InspectConfig`); Go map order is replaced by name order.
fn json_inspect(t: &LegacyTemplate) -> String {
    let mut out = String::from("Packer Inspect: JSON mode\n");
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        out.push_str(&format!("Description:\n\n{d}\n\n"));
    }
    let sensitive_defaults: Vec<&str> = t
        .sensitive_variables
        .iter()
        .filter_map(|s| t.variables.get(&s.value).map(|v| v.default.as_str()))
        .collect();
    let shown_default = |d: &str| -> String {
        if sensitive_defaults.contains(&d) {
            SENSITIVE.to_string()
        } else {
            d.to_string()
        }
    };
    if t.variables.is_empty() {
        out.push_str("Variables:\n\n  <No variables>\n");
    } else {
        let mut keys: Vec<&String> = t.variables.keys().collect();
        keys.sort();
        let required: Vec<&&String> = keys.iter().filter(|k| t.variables[**k].required).collect();
        if !required.is_empty() {
            out.push_str("Required variables:\n\n");
            for k in &required {
                out.push_str(&format!("  {k}\n"));
            }
            out.push('\n');
        }
        out.push_str("Optional variables and their defaults:\n\n");
        let max = keys.iter().map(|k| k.len()).max().unwrap_or(0);
        for k in keys {
            let v = &t.variables[k];
            if v.required {
                continue;
            }
            let pad = " ".repeat(max - k.len());
            out.push_str(&format!("  {k}{pad} = {}\n", shown_default(&v.default)));
        }
    }
    out.push('\n');
    out.push_str("Builders:\n\n");
    if t.builders.is_empty() {
        out.push_str("  <No builders>\n");
    } else {
        let mut builders: Vec<_> = t.builders.iter().collect();
        builders.sort_by(|a, b| a.name.cmp(&b.name));
        let max = builders.iter().map(|b| b.name.len()).max().unwrap_or(0);
        for b in builders {
            let pad = " ".repeat(max - b.name.len());
            let mut line = format!("  {}{pad}", b.name);
            if b.name != b.builder_type {
                line.push_str(&format!(" ({})", b.builder_type));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str("Provisioners:\n\n");
    if t.provisioners.is_empty() {
        out.push_str("  <No provisioners>\n");
    }
    for p in &t.provisioners {
        out.push_str(&format!("  {}\n", p.provisioner_type));
    }
    out.push_str("\nNote: If your build names contain user variables or template\nfunctions such as 'timestamp', these are processed at build time,\nand therefore only show in their raw form here.\n");
    out
}
