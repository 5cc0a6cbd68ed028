//! Conformance over ../shared/corpus: every HCL2 entry that is not invalid on purpose loads into
//! a build plan, given the variables it requires.

use std::path::PathBuf;

use forge_template::{load, LoadOptions};

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("FORGE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "the template corpus is expected at {} (set FORGE_CORPUS to its path)",
        dir.display()
    );
    dir
}

/// Entries Packer itself rejects on purpose (invalid fixtures), by path prefix.
fn invalid_on_purpose(path: &str) -> bool {
    [
        "hashicorp__packer/hcl2template/testdata/variables/duplicate_",
        "hashicorp__packer/hcl2template/testdata/variables/unknown_key",
        "hashicorp__packer/hcl2template/testdata/sources/nonexistent_used",
        "hashicorp__packer/hcl2template/testdata/build/two-error-cleanup-provisioner",
        "hashicorp__packer/command/test-fixtures/validate-invalid",
        "hashicorp__packer/packer_test/dag_tests",
        "hashicorp__packer/packer_test/core_tests",
        "hashicorp__packer/hcl2template/testdata/init",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

#[test]
fn hcl2_corpus_loads() {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    let mut ok = 0;
    let mut failures = Vec::new();
    let mut total = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 || !cols[3].starts_with("hcl2") || invalid_on_purpose(cols[0]) {
            continue;
        }
        total += 1;
        let path = dir.join(cols[0]);
        let mut opts = LoadOptions::default();
        let mut result = load(&path, &opts);
        // Give required variables a value: a string first, then list and map forms.
        for _ in 0..20 {
            let mut changed = false;
            for d in result.diags.errors() {
                if let Some(name) = d.summary.strip_prefix("Unset variable ") {
                    let name = name.trim_matches('"').to_string();
                    opts.vars.push((name, "1".into()));
                    changed = true;
                } else if d.summary == "Invalid argument value for -var variable" {
                    let name = d
                        .detail
                        .split("value for ")
                        .nth(1)
                        .and_then(|s| s.split(' ').next())
                        .unwrap_or_default()
                        .to_string();
                    if let Some(v) = opts.vars.iter_mut().find(|(k, _)| *k == name) {
                        v.1 = match v.1.as_str() {
                            "1" => "[]".into(),
                            "[]" => "{}".into(),
                            _ => continue,
                        };
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
            result = load(&path, &opts);
        }
        if result.plan.is_some() {
            ok += 1;
        } else {
            failures.push(format!(
                "{}:\n{}",
                cols[0],
                result.diags.render(&result.files)
            ));
        }
    }
    eprintln!("HCL2 corpus: {ok}/{total} load");
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
