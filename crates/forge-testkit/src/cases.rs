//! The function conformance rows (tests/functions/cases.tsv, produced by `packer console`; see
//! scripts/console-golden.sh) and the rows allowed to differ (known_differences.txt), for the
//! tests that check them through the evaluator and through `forge console`.

use std::path::Path;

/// One row: an expression and what `packer console` printed for it.
pub struct Case {
    /// The expression.
    pub expr: String,
    /// Packer's output, with `\n`, `\t` and `\\` unescaped.
    pub expected: String,
    /// Whether known_differences.txt lists the row (forge follows newer Packer there).
    pub known_difference: bool,
}

/// Reads every row from the directory holding cases.tsv.
pub fn load(dir: &Path) -> Vec<Case> {
    let cases = std::fs::read_to_string(dir.join("cases.tsv")).expect("cases.tsv");
    let known: Vec<String> = std::fs::read_to_string(dir.join("known_differences.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect();
    cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(expr, expected)| Case {
            expr: expr.to_string(),
            expected: unescape(expected),
            known_difference: known.iter().any(|k| k == expr),
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}
