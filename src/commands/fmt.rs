//! `forge fmt`: rewrites HCL2 templates and variable files to the canonical layout, with
//! `packer fmt`'s flags, texts, file selection and exit codes (0, 1 on any error, 3 when
//! `-check` finds a file that would change).

use std::io::{Read, Write};

use clap::{ArgAction, Args};
use forge_template::config::files::io_reason;
use forge_template::diag::Files;
use forge_template::format::format_hcl;

use crate::cli::TemplateArgs;

/// `forge fmt [options] PATH...`
#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Check if the input is formatted; exit status 3 if any file would change (implies -write=false).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub check: bool,
    /// Display diffs of formatting changes.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub diff: bool,
    /// Write the result back to the source files (-write=false to leave them alone).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = go_bool)]
    pub write: bool,
    /// Also process files in subdirectories.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub recursive: bool,
    /// Accepted as Packer accepts them, unused by fmt.
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Files or directories; `-` reads standard input and writes the result to standard output.
    #[arg(value_name = "PATH", allow_hyphen_values = true)]
    pub paths: Vec<String>,
}

/// A boolean flag value as Go's `strconv.ParseBool` reads it.
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("parse error: invalid boolean value {s:?}")),
    }
}

const HELP: &str = r#"Usage: forge fmt [options] [TEMPLATE]

  Rewrites all Packer configuration files to a canonical format. Both
  configuration files (.pkr.hcl) and variable files (.pkrvars.hcl) are updated.
  JSON files (.json) are not modified.

  If TEMPLATE is "." the current directory will be used.
  If TEMPLATE is "-" then content will be read from STDIN.

  The given content must be in Packer's HCL2 configuration language; JSON is
  not supported.

Options:
  -check        Check if the input is formatted. Exit status will be 0 if all
                 input is properly formatted and non-zero otherwise.

  -diff         Display diffs of formatting change

  -write=false  Don't write to source files
                (always disabled if using -check)

  -recursive     Also process files in subdirectories. By default, only the
                 given directory (or current directory) is processed."#;

/// One error, as Packer's diagnostics carry it: a summary and a detail.
struct Problem {
    summary: String,
    detail: String,
}

struct Formatter<W: Write> {
    show_diff: bool,
    write: bool,
    recursive: bool,
    out: W,
    problems: Vec<Problem>,
    /// The bytes of formatted output of files that changed (Packer's `bytesModified`).
    modified: usize,
}

/// Runs the command; returns the exit code.
pub fn run(a: &FmtArgs) -> i32 {
    if a.paths.is_empty() {
        println!("{HELP}");
        return 1;
    }
    let stdout = std::io::stdout();
    let mut f = Formatter {
        show_diff: a.diff,
        write: a.write && !a.check,
        recursive: a.recursive,
        out: stdout.lock(),
        problems: Vec::new(),
        modified: 0,
    };
    f.format_paths(&a.paths);
    let _ = f.out.flush();
    if !f.problems.is_empty() {
        print!("{}", render_problems(&f.problems));
        return 1;
    }
    if a.check && f.modified > 0 {
        return 3;
    }
    0
}

/// Renders errors as Packer's diagnostic writer does without source files (80 columns).
fn render_problems(problems: &[Problem]) -> String {
    let mut s = String::new();
    for p in problems {
        s.push_str("Error: ");
        s.push_str(&p.summary);
        s.push_str("\n\n");
        if !p.detail.is_empty() {
            for line in p.detail.split('\n') {
                if line.starts_with(' ') {
                    s.push_str(line);
                } else {
                    s.push_str(&forge_template::diag::go_wordwrap(line, 79));
                }
                s.push('\n');
            }
        }
        s.push('\n');
    }
    s.push('\n');
    s
}

/// Whether a name is one of the files fmt rewrites.
fn is_hcl2_file(name: &str) -> bool {
    name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl")
}

/// Editor and hidden files that fmt skips inside directories.
fn ignored(name: &str) -> bool {
    name.starts_with('.') || name.ends_with('~') || (name.starts_with('#') && name.ends_with('#'))
}

/// Joins and cleans a path lexically, as Go's `filepath.Join` does.
fn go_join(dir: &str, name: &str) -> String {
    let joined = if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    };
    forge_template::functions::go_clean_path(&joined)
}

impl<W: Write> Formatter<W> {
    fn format_paths(&mut self, paths: &[String]) {
        for path in paths {
            let is_dir = path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_dir());
            if !is_dir {
                self.format_file(path);
                continue;
            }
            if !self.format_dir(path) {
                return;
            }
        }
    }

    /// Formats the files of a directory (and, with -recursive, of its subdirectories).
    /// Returns false when the directory could not be read, which ends the run as in Packer.
    fn format_dir(&mut self, path: &str) -> bool {
        let entries = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(e) => {
                self.problems.push(Problem {
                    summary: "Cannot read hcl directory".into(),
                    detail: format!("open {path}: {}", io_reason(&e)),
                });
                return false;
            }
        };
        let mut entries: Vec<(String, bool)> = entries
            .iter()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.file_type().is_ok_and(|t| t.is_dir()),
                )
            })
            .collect();
        entries.sort();
        for (name, is_dir) in entries {
            if ignored(&name) {
                continue;
            }
            let file = go_join(path, &name);
            if is_dir {
                if self.recursive {
                    // Packer formats a subdirectory as a path of its own: an unreadable one
                    // stops only that subdirectory.
                    let _ = self.format_dir(&file);
                }
                continue;
            }
            if is_hcl2_file(&file) {
                self.format_file(&file);
            }
        }
        true
    }

    fn format_file(&mut self, path: &str) {
        match self.process(path) {
            Ok(n) => self.modified += n,
            Err(detail) => self.problems.push(Problem {
                summary: format!("encountered an error while formatting {path}"),
                detail,
            }),
        }
    }

    /// Formats one file (or standard input); returns the size of the new text when it changed.
    fn process(&mut self, path: &str) -> Result<usize, String> {
        let stdin = path == "-";
        if !stdin && !is_hcl2_file(path) {
            return Err(format!("file {path} is not a HCL file"));
        }
        let input = if stdin {
            // Packer turns diffs off for good once it reads standard input.
            self.show_diff = false;
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("failed to read {path}: {e}"))?;
            buf
        } else {
            std::fs::read(path)
                .map_err(|e| format!("failed to open {path}: open {path}: {}", io_reason(&e)))?
        };
        let text = String::from_utf8(input.clone()).map_err(|_| {
            parse_failure(&[format!(
                "{path}:1,1-1: Invalid UTF-8; The file is not valid UTF-8 text."
            )])
        })?;
        let formatted =
            format_hcl(&text).map_err(|e| parse_failure(&error_points(path, &text, &e)))?;
        if formatted.as_bytes() == input.as_slice() {
            if stdin {
                let _ = self.out.write_all(&input);
            }
            return Ok(0);
        }
        if !stdin {
            let _ = writeln!(self.out, "{path}");
        }
        if self.write {
            if stdin {
                let _ = self.out.write_all(formatted.as_bytes());
            } else {
                std::fs::write(path, formatted.as_bytes())
                    .map_err(|e| format!("open {path}: {}", io_reason(&e)))?;
            }
        }
        if self.show_diff {
            let _ = self
                .out
                .write_all(unified_diff(&text, &formatted, path).as_bytes());
        }
        Ok(formatted.len())
    }
}

/// The error points of a file that does not parse, as HCL names them:
/// `file:line,col-col: Summary; Detail`.
fn error_points(path: &str, text: &str, e: &forge_template::format::FormatError) -> Vec<String> {
    let mut files = Files::default();
    let id = files.add(path, text);
    if let Err(diags) = forge_template::syntax::parse_hcl_body(id, text) {
        let points: Vec<String> = diags
            .errors()
            .map(|d| {
                let at = d
                    .subject
                    .map(|s| files.range_string(s))
                    .unwrap_or_else(|| format!("{path}:{},{}-{}", e.line, e.column, e.column + 1));
                format!("{at}: {}; {}", d.summary, d.detail)
            })
            .collect();
        if !points.is_empty() {
            return points;
        }
    }
    vec![format!(
        "{path}:{},{}-{}: Invalid HCL syntax; {}.",
        e.line,
        e.column,
        e.column + 1,
        e.message
    )]
}

/// The text of a list of errors as Go's multierror prints it.
fn parse_failure(points: &[String]) -> String {
    let head = if points.len() == 1 {
        "1 error occurred:".to_string()
    } else {
        format!("{} errors occurred:", points.len())
    };
    let list: Vec<String> = points.iter().map(|p| format!("\t* {p}")).collect();
    format!("{head}\n{}\n\n", list.join("\n"))
}

/// `diff -u --label=old/PATH --label=new/PATH` of the two texts.
fn unified_diff(old: &str, new: &str, path: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("old/{path}"), &format!("new/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_joined_like_go() {
        assert_eq!(go_join(".", "a.pkr.hcl"), "a.pkr.hcl");
        assert_eq!(go_join("./d/", "a.pkr.hcl"), "d/a.pkr.hcl");
        assert_eq!(go_join("/x/../y", "a"), "/y/a");
        assert_eq!(go_join("../d", "a"), "../d/a");
    }

    #[test]
    fn file_selection() {
        assert!(is_hcl2_file("a.pkr.hcl"));
        assert!(is_hcl2_file("a.auto.pkrvars.hcl"));
        assert!(!is_hcl2_file("a.pkr.json"));
        assert!(ignored(".a.pkr.hcl") && ignored("a.pkr.hcl~") && ignored("#a.pkr.hcl#"));
        assert!(!ignored("a#.pkr.hcl"));
    }

    #[test]
    fn wraps_like_packer() {
        assert_eq!(
            forge_template::diag::go_wordwrap("aaa bbb ccc", 7),
            "aaa bbb\nccc"
        );
        assert_eq!(forge_template::diag::go_wordwrap("\t* x", 79), "\t* x");
        assert_eq!(
            forge_template::diag::go_wordwrap(&"x".repeat(100), 79),
            "x".repeat(100)
        );
    }

    #[test]
    fn go_bools() {
        assert_eq!(go_bool("F"), Ok(false));
        assert_eq!(go_bool("1"), Ok(true));
        assert!(go_bool("yes").is_err());
    }
}
