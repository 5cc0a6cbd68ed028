//! `forge validate -syntax-only` over the whole corpus agrees with what Packer 1.6.6 said about
//! each entry (../shared/corpus/packer166-results.tsv), except where 1.6.6 lacked a feature that
//! newer Packer has (the "version gap" rows): there forge follows newer Packer and accepts. Full
//! `forge validate` is checked against tests/validate_full_corpus.tsv.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::PathBuf;
use std::process::Command;

/// The corpus directory and its packer166-results.tsv.
fn corpus() -> (PathBuf, String) {
    let dir = forge_testkit::corpus::dir();
    let results = std::fs::read_to_string(dir.join("packer166-results.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("packer166-results.tsv").display()));
    (dir, results)
}

/// The columns of each public entry of packer166-results.tsv.
fn public_rows(results: &str) -> impl Iterator<Item = Vec<&str>> {
    results
        .lines()
        .map(|line| line.split('\t').collect::<Vec<&str>>())
        .filter(|cols| cols.first() == Some(&"public") && cols.len() >= 9)
}

#[test]
fn syntax_only_validate_matches_packer_over_the_corpus() {
    let (dir, results) = corpus();
    let (mut same, mut gap, mut total) = (0, 0, 0);
    let mut failures = Vec::new();
    for cols in public_rows(&results) {
        total += 1;
        let (path, packer_rc, notes) = (cols[2], cols[4], cols[8]);
        let out = Command::new(env!("CARGO_BIN_EXE_forge"))
            .args(["validate", "-syntax-only"])
            .arg(dir.join(path))
            .output()
            .expect("run forge");
        let rc = out.status.code().unwrap_or(-1).to_string();
        // Invalid on purpose for newer Packer too: required_plugins with malformed sources.
        let invalid_in_newer = path == "hashicorp__packer/hcl2template/testdata/init";
        let want = if invalid_in_newer {
            "1"
        } else if notes.starts_with("version gap") {
            gap += 1;
            "0"
        } else {
            packer_rc
        };
        if rc == want {
            same += 1;
        } else {
            failures.push(format!(
                "{path}: forge exit {rc}, expected {want} (packer 1.6.6: {packer_rc}, {notes})\n{}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    eprintln!(
        "validate -syntax-only: {same}/{total} agree ({gap} version-gap rows follow newer Packer)"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Full `forge validate` (no `-syntax-only`, no variables set) over the whole corpus, against
/// tests/validate_full_corpus.tsv: every entry packer 1.6.6 accepts passes, and every entry forge
/// rejects is listed with the error forge gives (checked against its output) and why.
#[test]
fn full_validate_over_the_corpus() {
    let (dir, results) = corpus();
    let table = include_str!("validate_full_corpus.tsv");
    // path -> (packer 1.6.6 exit, forge exit, forge's error, reason)
    let mut expected = std::collections::BTreeMap::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "malformed row: {line}");
        expected.insert(cols[0], (cols[1], cols[2], cols[3], cols[4]));
    }
    let (mut total, mut passed, mut packer_ok, mut packer_ok_gap) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for cols in public_rows(&results) {
        total += 1;
        let path = cols[2];
        let Some(&(packer_rc, want_rc, error, reason)) = expected.get(path) else {
            failures.push(format!("{path}: not in tests/validate_full_corpus.tsv"));
            continue;
        };
        // Packer's working directory: the copied repository's root.
        let (root, rel) = path.split_once('/').unwrap_or((path, "."));
        let out = Command::new(env!("CARGO_BIN_EXE_forge"))
            .args(["validate", rel])
            .current_dir(dir.join(root))
            .output()
            .expect("run forge");
        let rc = out.status.code().unwrap_or(-1).to_string();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if packer_rc == "0" {
            packer_ok += 1;
            // Newer Packer refuses what 1.6.6 let through (no build block): forge follows it.
            if rc != "0" && reason.starts_with("version gap:") {
                packer_ok_gap += 1;
            } else if rc != "0" {
                failures.push(format!(
                    "{path}: packer 1.6.6 accepts it, forge exits {rc}\n{text}"
                ));
                continue;
            }
        }
        if rc != want_rc {
            failures.push(format!(
                "{path}: forge exit {rc}, table says {want_rc}\n{text}"
            ));
            continue;
        }
        if rc == "0" {
            passed += 1;
            continue;
        }
        if error.is_empty() || reason.is_empty() || !text.contains(error) {
            failures.push(format!(
                "{path}: rejected without a listed error and reason (table: {error:?} / {reason:?})\n{text}"
            ));
        }
        // No type error Packer would not give.
        if text.contains("invalid type:") {
            failures.push(format!("{path}: a serde type error\n{text}"));
        }
    }
    eprintln!(
        "validate (full): {passed}/{total} pass; of the {packer_ok} packer 1.6.6 accepts, \
         {packer_ok_gap} are refused as newer Packer refuses them (version gap)"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
