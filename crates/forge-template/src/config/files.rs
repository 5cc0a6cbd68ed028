//! Which files a template path means, as Packer decides (`GetHCL2Files`), and reading them.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};

/// What a path given on the command line holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    /// HCL2: these config files, then these auto-loaded variable files.
    Hcl2 {
        /// `*.pkr.hcl` then `*.pkr.json`, each in lexical order.
        files: Vec<PathBuf>,
        /// `*.auto.pkrvars.hcl` / `.json` (only when the path is a directory).
        auto_var_files: Vec<PathBuf>,
        /// `path.root`.
        root: PathBuf,
    },
    /// A legacy JSON template.
    LegacyJson(PathBuf),
}

fn sorted_with_suffix(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
                && !p.is_dir()
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Decides how to read `path` (Packer's `GetConfigType` and `GetHCL2Files`).
pub fn classify(path: &Path) -> Result<TemplateKind, Diagnostics> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(
            "Failed to read template",
            format!("Could not read {shown}: {}.", io_reason(&e)),
        )
    })?;
    if meta.is_dir() {
        let read = |s| {
            sorted_with_suffix(path, s).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Failed to read directory",
                    format!("Could not list {shown}: {}.", io_reason(&e)),
                ))
            })
        };
        let mut files = read(".pkr.hcl")?;
        files.extend(read(".pkr.json")?);
        if files.is_empty() {
            return Err(Diagnostic::error(
                "Could not find any config file in ".to_string() + &shown.to_string(),
                "A config file must be suffixed with `.pkr.hcl` or `.pkr.json`. A folder can be referenced.",
            )
            .into());
        }
        let mut auto_var_files = read(".auto.pkrvars.hcl")?;
        auto_var_files.extend(read(".auto.pkrvars.json")?);
        return Ok(TemplateKind::Hcl2 {
            files,
            auto_var_files,
            root: path.to_path_buf(),
        });
    }
    let name = path.to_string_lossy();
    if name.ends_with(".pkr.hcl") || name.ends_with(".pkr.json") {
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        return Ok(TemplateKind::Hcl2 {
            files: vec![path.to_path_buf()],
            auto_var_files: Vec::new(),
            root,
        });
    }
    Ok(TemplateKind::LegacyJson(path.to_path_buf()))
}

/// A short human reason for an I/O error.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads a file as UTF-8 text, with an actionable error.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(
            "Failed to read file",
            format!(
                "The file {} could not be read: {}.",
                path.display(),
                io_reason(&e)
            ),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Diagnostic::error(
            "Invalid file encoding",
            format!("The file {} is not valid UTF-8 text.", path.display()),
        )
    })
}
