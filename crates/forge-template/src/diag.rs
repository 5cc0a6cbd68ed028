//! Diagnostics: what went wrong, where (file:line:col), and Packer's way of printing it with a
//! code frame.

use std::fmt;
use std::sync::Arc;

/// An index into [`Files`].
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// Start byte offset.
    pub start: u32,
    /// End byte offset (exclusive).
    pub end: u32,
}

impl Span {
    /// A span over `range` in `file`.
    pub fn new(file: FileId, range: std::ops::Range<usize>) -> Span {
        Span {
            file,
            start: range.start as u32,
            end: range.end as u32,
        }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        if other.file != self.file {
            return self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One loaded source file.
#[derive(Debug)]
pub struct SourceFile {
    /// The name diagnostics show (the path as given).
    pub name: String,
    /// Its text.
    pub text: String,
    line_starts: Vec<usize>,
}

/// Every file a template was read from, so spans can be turned into lines and columns.
#[derive(Clone, Debug, Default)]
pub struct Files {
    files: Vec<Arc<SourceFile>>,
}

impl Files {
    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(Arc::new(SourceFile {
            name: name.into(),
            text,
            line_starts,
        }));
        (self.files.len() - 1) as FileId
    }
    /// The file with that id.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id as usize).map(|f| f.as_ref())
    }
    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: u32) -> (usize, usize) {
        let Some(f) = self.get(id) else {
            return (1, 1);
        };
        let offset = (offset as usize).min(f.text.len());
        let line = f.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = f.line_starts[line - 1];
        let col = f
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }
    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, id: FileId, line: usize) -> Option<&str> {
        let f = self.get(id)?;
        let start = *f.line_starts.get(line.checked_sub(1)?)?;
        let end = f
            .line_starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(f.text.len());
        f.text.get(start..end).map(|s| s.trim_end_matches('\r'))
    }
    /// A span as HCL prints a range: `file:line,col-col`, or `file:line,col-line,col` when it
    /// crosses lines.
    pub fn range_string(&self, span: Span) -> String {
        let (l1, c1) = self.line_col(span.file, span.start);
        let (l2, c2) = self.line_col(span.file, span.end);
        let name = self.get(span.file).map(|f| f.name.as_str()).unwrap_or("?");
        if l1 == l2 {
            format!("{name}:{l1},{c1}-{c2}")
        } else {
            format!("{name}:{l1},{c1}-{l2},{c2}")
        }
    }

    /// `file:line:col` for a span.
    pub fn position(&self, span: Span) -> String {
        let (l, c) = self.line_col(span.file, span.start);
        let name = self.get(span.file).map(|f| f.name.as_str()).unwrap_or("?");
        format!("{name}:{l}:{c}")
    }
}

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Stops the command.
    Error,
    /// Printed, but the command goes on.
    Warning,
}

/// One problem found in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line: what is wrong.
    pub summary: String,
    /// The longer explanation, with what to do.
    pub detail: String,
    /// Where.
    pub subject: Option<Span>,
    /// The enclosing block, shown as "in BLOCK" (e.g. `source "null" "x"`).
    pub context: Option<String>,
}

impl Diagnostic {
    /// An error.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            subject: None,
            context: None,
        }
    }
    /// A warning.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }
    /// Sets where it happened.
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.subject = Some(span);
        self
    }
    /// Sets where it happened, unless already set.
    pub fn at_default(mut self, span: Span) -> Diagnostic {
        self.subject.get_or_insert(span);
        self
    }
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic the way Packer does, with the position as `file:line:col`:
    ///
    /// ```text
    /// Error: Unsupported argument
    ///
    ///   on example.pkr.hcl line 3, column 5:
    ///    3:   foo = 1
    ///
    /// An argument named "foo" is not expected here.
    /// ```
    pub fn render(&self, files: &Files) -> String {
        let mut out = String::new();
        out.push_str(match self.severity {
            Severity::Error => "Error: ",
            Severity::Warning => "Warning: ",
        });
        out.push_str(&self.summary);
        out.push_str("\n\n");
        if let Some(span) = self.subject {
            let (line, col) = files.line_col(span.file, span.start);
            let name = files.get(span.file).map(|f| f.name.as_str()).unwrap_or("?");
            out.push_str(&format!("  on {name} line {line}"));
            if let Some(ctx) = &self.context {
                out.push_str(&format!(", in {ctx}"));
            }
            out.push_str(&format!(" (column {col}):\n"));
            match files.line_text(span.file, line) {
                Some(src) => {
                    out.push_str(&format!("{line:>4}: {src}\n"));
                    let end_col = if files.line_col(span.file, span.end).0 == line {
                        files.line_col(span.file, span.end).1
                    } else {
                        src.chars().count() + 1
                    };
                    let width = end_col.saturating_sub(col).max(1);
                    out.push_str(&format!(
                        "      {}{}\n",
                        " ".repeat(col - 1),
                        "^".repeat(width)
                    ));
                }
                None => out.push_str("  (source code not available)\n"),
            }
            out.push('\n');
        }
        if !self.detail.is_empty() {
            out.push_str(&self.detail);
            out.push('\n');
        }
        out
    }
}

/// Word-wraps `s` so lines stay within `lim` characters where words allow, as the
/// `go-wordwrap` package Packer's diagnostic writer uses: breaks replace the spaces before a
/// word that would overflow; existing newlines are kept; longer words are left whole.
pub fn go_wordwrap(s: &str, lim: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut current, mut word, mut space) = (0usize, String::new(), String::new());
    let (mut word_len, mut space_len) = (0usize, 0usize);
    for c in s.chars() {
        if c == '\n' {
            if word.is_empty() {
                if current + space_len <= lim {
                    out.push_str(&space);
                }
            } else {
                out.push_str(&space);
                out.push_str(&word);
            }
            space.clear();
            word.clear();
            space_len = 0;
            word_len = 0;
            out.push('\n');
            current = 0;
        } else if c.is_whitespace() && c != '\u{a0}' {
            if space.is_empty() || !word.is_empty() {
                current += space_len + word_len;
                out.push_str(&space);
                out.push_str(&word);
                space.clear();
                word.clear();
                space_len = 0;
                word_len = 0;
            }
            space.push(c);
            space_len += 1;
        } else {
            word.push(c);
            word_len += 1;
            if current + space_len + word_len > lim && word_len < lim {
                out.push('\n');
                current = 0;
                space.clear();
                space_len = 0;
            }
        }
    }
    if word.is_empty() {
        if current + space_len <= lim {
            out.push_str(&space);
        }
    } else {
        out.push_str(&space);
        out.push_str(&word);
    }
    out
}

/// A list of diagnostics, errors and warnings together, as Packer reports them all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// Adds all of another list.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Renders all of them, separated by blank lines.
    pub fn render(&self, files: &Files) -> String {
        self.0
            .iter()
            .map(|d| d.render(files))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.summary, self.detail)
    }
}
