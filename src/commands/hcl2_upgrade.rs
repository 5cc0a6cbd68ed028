//! `forge hcl2_upgrade`: translates a legacy JSON template to HCL2 as Packer 1.16 does, into
//! `-output-file` (default `TEMPLATE.pkr.hcl` beside it, i.e. the template path + `.pkr.hcl`).

use std::io::Write;
use std::path::Path;

use forge_template::legacy::template::LegacyError;
use forge_template::parse_var_flag;
use forge_template::upgrade::{hcl2_upgrade_report, UpgradeOptions, FILE_HEADER};

use clap::Args;

use crate::cli::TemplateArgs;

/// `forge hcl2_upgrade`
#[derive(Args, Debug)]
pub struct Hcl2UpgradeArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    /// File where to put the hcl2 generated config. Defaults to JSON_TEMPLATE.pkr.hcl
    #[arg(long = "output-file", value_name = "path")]
    pub output_file: Option<String>,
    /// Adds helper annotations with information about the generated HCL2 blocks.
    #[arg(long = "with-annotations")]
    pub with_annotations: bool,
    /// The legacy JSON template.
    #[arg(value_name = "TEMPLATE")]
    pub template_path: String,
}

/// Packer's message when the file is not a legacy JSON template.
const PARSE_FAILED: &str = "Failed to parse file as legacy JSON template: if you are using an HCL template, check your file extensions; they should be either *.pkr.hcl or *.pkr.json; see the docs for more details: https://www.packer.io/docs/templates/hcl_templates. \nOriginal error: ";

/// Runs the command; returns the exit code.
pub fn run(a: &Hcl2UpgradeArgs) -> i32 {
    for v in &a.template.vars {
        if let Err(e) = parse_var_flag(v) {
            println!("{e}");
            return 1;
        }
    }
    let output = a
        .output_file
        .clone()
        .unwrap_or_else(|| format!("{}.pkr.hcl", a.template_path));
    // Like Packer, the output file is created (and the header written) before the template is
    // read, so a template that fails leaves it behind.
    let out_path = Path::new(&output);
    if let Some(dir) = out_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            println!("Failed to create output directory: {e}");
            return 1;
        }
    }
    let mut file = match std::fs::File::create(out_path) {
        Ok(f) => f,
        Err(e) => {
            println!("Failed to create output file: {e}");
            return 1;
        }
    };
    let src = match std::fs::read(&a.template_path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            return fail(
                &mut file,
                a.with_annotations,
                &format!("open {}: {reason}", a.template_path),
            );
        }
    };
    let opts = UpgradeOptions {
        with_annotations: a.with_annotations,
    };
    match hcl2_upgrade_report(&src, &opts) {
        Ok(up) => {
            if let Err(e) = file.write_all(up.hcl.as_bytes()) {
                println!("Failed to write to file: {e}");
                return 1;
            }
            for e in &up.errors {
                println!("{e}");
            }
            let ret = i32::from(!up.errors.is_empty());
            println!("Successfully created {output}. Exit {ret}");
            ret
        }
        Err(errs) => fail(&mut file, a.with_annotations, &describe(&src, &errs)),
    }
}

fn fail(file: &mut std::fs::File, annotations: bool, err: &str) -> i32 {
    if annotations {
        let _ = file.write_all(FILE_HEADER.as_bytes());
    }
    println!("{PARSE_FAILED}{err}");
    println!("Failed to get config from JSON");
    1
}

/// The SDK's error text: JSON syntax errors with the line and a caret, others as a list.
fn describe(src: &str, errs: &[LegacyError]) -> String {
    if let [e] = errs {
        if e.message.starts_with("Error parsing JSON: ") {
            // encoding/json's offset counts the offending byte.
            let off = (e.offset + 1).min(src.len());
            let bytes = src.as_bytes();
            let (mut line, mut col) = (1usize, 0usize);
            let (mut last, mut this) = (Vec::new(), Vec::new());
            for &b in &bytes[..off] {
                if b == b'\n' {
                    last = std::mem::take(&mut this);
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                    this.push(b);
                }
            }
            let mut hl = String::new();
            if line > 1 {
                hl.push_str(&format!(
                    "{:5}: {}\n",
                    line - 1,
                    String::from_utf8_lossy(&last)
                ));
            }
            hl.push_str(&format!("{line:5}: {}\n", String::from_utf8_lossy(&this)));
            hl.push_str(&format!("{}^\n", " ".repeat(col + 5)));
            return format!(
                "{}\nAt line {line}, column {col} (offset {off}):\n{hl}",
                e.message
            );
        }
        return e.message.clone();
    }
    let mut s = format!("{} errors occurred:\n", errs.len());
    for e in errs {
        s.push_str(&format!("\t* {}\n", e.message));
    }
    s.push('\n');
    s
}
