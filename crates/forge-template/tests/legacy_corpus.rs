//! Parses every legacy JSON template of the shared corpus and compares with Packer 1.6.6.
//!
//! The corpus is read in place from `$FORGE_CORPUS`, or `<CARGO_MANIFEST_DIR>/../../../shared/corpus`.
//! `MANIFEST.tsv` lists the templates (format column `json`); `packer166-results.tsv` holds what
//! `packer validate -syntax-only` said about each one.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::collections::HashMap;
use std::path::Path;

use forge_template::json::{line_col, JsonKind, JsonValue};
use forge_template::legacy::interp::{render, validate, InterpContext};
use forge_template::legacy::parse_legacy;

/// Rows of a TSV file with a header line (lines starting with `#` are skipped), as maps.
fn read_tsv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    let header: Vec<&str> = lines.next().expect("TSV header").split('\t').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t').chain(std::iter::repeat("")))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Reasons a template can fail `packer validate` that are not about template syntax.
fn unrelated_failure(notes: &str, first_error: &str) -> bool {
    let text = format!("{notes} {first_error}").to_lowercase();
    [
        "plugin",
        "unknown builder",
        "unknown provisioner",
        "unknown post-processor",
        "required variable",
        "variable not set",
        "version gap",
    ]
    .iter()
    .any(|k| text.contains(k))
}

fn collect_strings<'v>(v: &'v JsonValue, out: &mut Vec<&'v JsonValue>) {
    match &v.kind {
        JsonKind::String(_) => out.push(v),
        JsonKind::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        JsonKind::Object(members) => members.iter().for_each(|m| collect_strings(&m.value, out)),
        _ => {}
    }
}

#[test]
fn legacy_corpus_conformance() {
    let dir = forge_testkit::corpus::dir();
    let manifest = dir.join("MANIFEST.tsv");
    let results: HashMap<String, HashMap<String, String>> =
        read_tsv(&dir.join("packer166-results.tsv"))
            .into_iter()
            .map(|r| (r["path"].clone(), r))
            .collect();

    let mut total = 0;
    let mut must_pass = 0;
    let mut passed = 0;
    let mut must_fail = 0;
    let mut failed_as_expected = 0;
    let mut template_strings = 0;
    let mut bad_template_strings = Vec::new();
    let mut problems = Vec::new();

    for row in read_tsv(&manifest) {
        if row["format"] != "json" {
            continue;
        }
        total += 1;
        let rel = &row["path"];
        let path = dir.join(rel);
        let src = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{rel}: cannot read: {e}"));
                continue;
            }
        };
        let Some(res) = results.get(rel) else {
            problems.push(format!("{rel}: no row in packer166-results.tsv"));
            continue;
        };
        let rc = res.get("validate_rc").map(String::as_str).unwrap_or("");
        let notes = res.get("notes").map(String::as_str).unwrap_or("");
        let first_error = res
            .get("validate_first_error")
            .map(String::as_str)
            .unwrap_or("");
        let expect_ok = rc == "0" || unrelated_failure(notes, first_error);
        let invalid_on_purpose = !expect_ok && rel.starts_with("hashicorp__packer/");

        // Truncated input is an error value, never a panic.
        for cut in (0..src.len())
            .step_by(97)
            .filter(|&c| src.is_char_boundary(c))
        {
            let _ = parse_legacy(&src[..cut]);
        }
        let parsed = parse_legacy(&src);
        match (&parsed, expect_ok) {
            (Ok(t), true) => {
                must_pass += 1;
                passed += 1;
                // Also check that every `{{ }}` string is a well-formed template.
                let mut strings = Vec::new();
                collect_strings(&t.root, &mut strings);
                for s in strings {
                    let text = s.as_str().unwrap_or_default();
                    if text.contains("{{") {
                        template_strings += 1;
                        // Rendering may fail (missing context) but must never panic.
                        let no_vars = indexmap::IndexMap::new();
                        let mut ctx = InterpContext::new(&no_vars);
                        ctx.keep_unknown_fields = true;
                        let _ = render(text, &ctx);
                        if let Err(e) = validate(text) {
                            let (l, c) = line_col(&src, s.span.start);
                            bad_template_strings.push(format!("{rel}:{l}:{c}: {}", e.message));
                        }
                    }
                }
            }
            (Err(errs), true) => {
                must_pass += 1;
                let msgs: Vec<String> = errs
                    .iter()
                    .map(|e| {
                        let (l, c) = line_col(&src, e.offset);
                        format!("{rel}:{l}:{c}: {}", e.message)
                    })
                    .collect();
                problems.push(format!(
                    "Packer accepts it but forge does not: {}",
                    msgs.join("; ")
                ));
            }
            (Err(_), false) => {
                if invalid_on_purpose {
                    must_fail += 1;
                    failed_as_expected += 1;
                }
            }
            (Ok(_), false) => {
                if invalid_on_purpose {
                    must_fail += 1;
                    problems.push(format!(
                        "{rel}: Packer rejects it ({first_error}) but forge accepts it"
                    ));
                }
            }
        }
    }

    eprintln!(
        "legacy corpus: {total} JSON templates; {passed}/{must_pass} that Packer 1.6.6 accepts parse; \
         {failed_as_expected}/{must_fail} invalid-on-purpose hashicorp/packer fixtures fail; \
         {} of {template_strings} {{{{ }}}} strings fail to parse",
        bad_template_strings.len()
    );
    for b in &bad_template_strings {
        eprintln!("  template string: {b}");
    }
    assert!(
        total > 0,
        "no legacy JSON templates listed in {}",
        manifest.display()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(bad_template_strings.is_empty(), "bad template strings");
}
