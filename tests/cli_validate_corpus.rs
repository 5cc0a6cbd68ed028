//! `forge validate -syntax-only` over the whole corpus agrees with what Packer 1.6.6 said about
//! each entry (../shared/corpus/packer166-results.tsv), except where 1.6.6 lacked a feature that
//! newer Packer has (the "version gap" rows): there forge follows newer Packer and accepts.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn syntax_only_validate_matches_packer_over_the_corpus() {
    let dir = std::env::var_os("FORGE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let results = std::fs::read_to_string(dir.join("packer166-results.tsv")).unwrap_or_else(|_| {
        panic!(
            "the template corpus is expected at {} (set FORGE_CORPUS)",
            dir.display()
        )
    });
    let (mut same, mut gap, mut total) = (0, 0, 0);
    let mut failures = Vec::new();
    for line in results.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.first() != Some(&"public") || cols.len() < 9 {
            continue;
        }
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
