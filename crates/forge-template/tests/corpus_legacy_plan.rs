//! Conformance over ../shared/corpus: every legacy JSON entry that is not invalid on purpose loads into
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

/// Entries that Packer rejects too, with the error summary forge gives.
fn expected_failure(path: &str) -> Option<&'static str> {
    // These image-builder templates take most of their variables from var files kept elsewhere in
    // their repository (`-var-file` from images/capi/packer/config), so their defaults refer to
    // variables nothing declares; Packer fails them the same way without those files.
    const EXPECTED: &[(&str, &str)] = &[
        (
            "kubernetes-sigs__image-builder/images/capi/packer/ami/packer-windows.json",
            "Invalid template",
        ),
        (
            "kubernetes-sigs__image-builder/images/capi/packer/gce/packer.json",
            "Invalid template",
        ),
        (
            "kubernetes-sigs__image-builder/images/capi/packer/huaweicloud/packer.json",
            "Invalid template",
        ),
        (
            "kubernetes-sigs__image-builder/images/capi/packer/nutanix/packer-windows.json",
            "Invalid template",
        ),
        (
            "kubernetes-sigs__image-builder/images/capi/packer/ova/packer-windows.json",
            "Invalid template",
        ),
        (
            "kubernetes-sigs__image-builder/images/capi/packer/vultr/packer.json",
            "Invalid template",
        ),
    ];
    EXPECTED.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

#[test]
fn legacy_json_corpus_loads() {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    let mut ok = 0;
    let mut failures = Vec::new();
    let mut total = 0;
    let mut waiting = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 || !cols[3].starts_with("json") || invalid_on_purpose(cols[0]) {
            continue;
        }
        total += 1;
        let path = dir.join(cols[0]);
        // Required variables get a value; unset typed ones stay unknown.
        let mut opts = LoadOptions {
            unset_as_unknown: true,
            ..LoadOptions::default()
        };
        for v in cols
            .get(7)
            .unwrap_or(&"")
            .split(',')
            .filter(|v| !v.is_empty())
        {
            opts.vars.push((v.to_string(), "1".to_string()));
        }
        let mut result = load(&path, &opts);
        let rejected: Vec<String> = result
            .diags
            .errors()
            .filter(|d| d.summary == "Invalid argument value for -var variable")
            .filter_map(|d| d.detail.split("value for ").nth(1))
            .filter_map(|s| s.split(' ').next())
            .map(str::to_string)
            .collect();
        if !rejected.is_empty() {
            opts.vars.retain(|(k, _)| !rejected.contains(k));
            result = load(&path, &opts);
        }
        // A value that fails a validation rule: leave every required variable unknown.
        if result
            .diags
            .errors()
            .any(|d| d.summary == "Invalid value for -var variable")
        {
            opts.vars.clear();
            result = load(&path, &opts);
        }
        if let Some(want) = expected_failure(cols[0]) {
            let got: Vec<&str> = result.diags.errors().map(|d| d.summary.as_str()).collect();
            if got.contains(&want) {
                ok += 1;
            } else {
                failures.push(format!(
                    "{}: expected the error {want:?}, got {got:?}",
                    cols[0]
                ));
            }
            continue;
        }
        // While the function table is incomplete, a template that fails only because it calls a
        // function forge does not have yet is counted apart; any other error fails the test.
        let missing = forge_template::functions::missing();
        let only_missing_functions = result.plan.is_none()
            && result.diags.errors().all(|d| {
                d.summary == "Call to unknown function"
                    && missing
                        .iter()
                        .any(|f| d.detail == format!("There is no function named {f:?}."))
            });
        if result.plan.is_some() {
            ok += 1;
        } else if only_missing_functions {
            waiting.push(cols[0].to_string());
        } else {
            failures.push(format!(
                "{}:\n{}",
                cols[0],
                result.diags.render(&result.files)
            ));
        }
    }
    eprintln!(
        "legacy JSON corpus: {ok}/{total} load as Packer does; {} wait only for functions not yet implemented ({:?})",
        waiting.len(),
        forge_template::functions::missing()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
