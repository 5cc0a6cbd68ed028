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

/// Invalid fixtures whose rejection needs the plugin schema registry (unknown builder types and
/// unknown plugin arguments), which is not wired into loading yet.
fn needs_plugin_schemas(path: &str) -> bool {
    ["hashicorp__packer/command/test-fixtures/validate-invalid"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Entries that Packer rejects too, with the error summary it gives.
fn expected_failure(path: &str) -> Option<&'static str> {
    const EXPECTED: &[(&str, &str)] = &[
        // Packer's own invalid fixtures, with the error Packer gives.
        (
            "hashicorp__packer/hcl2template/testdata/sources/nonexistent_used.pkr.hcl",
            "Unknown source type nonexistent",
        ),
        // Packer's parser tests decode these with mock plugins whose made-up arguments
        // (`int`, `nested_slice`, ...) no real plugin has.
        (
            "hashicorp__packer/hcl2template/testdata/complete",
            "Unsupported argument",
        ),
        (
            "hashicorp__packer/hcl2template/testdata/init/imports",
            "Unsupported argument",
        ),
        // Converted from JSON with `inline` as a string; Packer says "list of string required".
        (
            "hashicorp__packer-plugin-docker/builder/docker/test-fixtures/fix_upload_owner.pkr.hcl",
            "Incorrect attribute value type",
        ),
        (
            "hashicorp__packer/hcl2template/testdata/variables/duplicate_locals",
            "Duplicate local definition",
        ),
        (
            "hashicorp__packer/hcl2template/testdata/variables/duplicate_variable.pkr.hcl",
            "Duplicate variable",
        ),
        (
            "hashicorp__packer/hcl2template/testdata/variables/unknown_key.pkr.hcl",
            "Unsupported argument",
        ),
        (
            "hashicorp__packer/hcl2template/testdata/build/two-error-cleanup-provisioner.pkr.hcl",
            "Only one error-cleanup-provisioner is allowed",
        ),
        (
            "hashicorp__packer/packer_test/core_tests/templates",
            "Duplicate local definition",
        ),
        (
            "hashicorp__packer/packer_test/dag_tests/templates",
            "Unsupported attribute",
        ),
        (
            "hashicorp__packer/hcl2template/testdata/init",
            "Failed to parse source",
        ),
        // Go format-string fixtures: `%q` placeholders are not HCL.
        (
            "hashicorp__packer/datasource/hcp-packer-iteration/test-fixtures/template.pkr.hcl",
            "Invalid HCL syntax",
        ),
        (
            "hashicorp__packer/datasource/hcp-packer-version/test-fixtures/hcp-setup-build.pkr.hcl",
            "Invalid HCL syntax",
        ),
        // A formatter fixture whose build names sources it never declares.
        (
            "hashicorp__packer/hcl2template/testdata/format",
            "Unknown source",
        ),
        // Provisioners interpolate variables whose default is null, and the corpus gives no
        // values: Packer's validate fails the same way.
        (
            "IBM__ibm-spectrum-scale-cloud-install/packer_templates/aws",
            "Invalid template interpolation value",
        ),
        (
            "IBM__ibm-spectrum-scale-cloud-install/packer_templates/azure",
            "Invalid template interpolation value",
        ),
        // Builds a source it never declares.
        (
            "hashicorp__packer-plugin-vagrant/example/vagrant_cloud_postprocessor.pkr.hcl",
            "Unknown source",
        ),
        // Examples converted from JSON that use variables they never declare.
        (
            "hashicorp__packer-plugin-ansible/example/all_options.json.pkr.hcl",
            "Unsupported attribute",
        ),
        (
            "hashicorp__packer-plugin-ansible/example/minimal.json.pkr.hcl",
            "Unsupported attribute",
        ),
        (
            "hashicorp__packer-plugin-ansible/example/scp-to-sftp.json.pkr.hcl",
            "Unsupported attribute",
        ),
        (
            "hashicorp__packer-plugin-ansible/example/scp.json.pkr.hcl",
            "Unsupported attribute",
        ),
        (
            "hashicorp__packer-plugin-ansible/example/sftp.json.pkr.hcl",
            "Unsupported attribute",
        ),
    ];
    EXPECTED.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

#[test]
fn hcl2_corpus_loads() {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    let mut ok = 0;
    let mut failures = Vec::new();
    let mut total = 0;
    let mut waiting = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 || !cols[3].starts_with("hcl2") || needs_plugin_schemas(cols[0]) {
            continue;
        }
        total += 1;
        let path = dir.join(cols[0]);
        // Unset variables stay unknown. Where the entry ships var files beside it (auto var
        // files load by themselves), the first one is given as -var-file, as its README says.
        let mut opts = LoadOptions {
            unset_as_unknown: true,
            ..LoadOptions::default()
        };
        let notes = cols.get(8).copied().unwrap_or_default();
        if let Some(list) = notes.split("var files in dir: ").nth(1) {
            let first = list.split([' ', ';']).next().unwrap_or_default();
            let base = if path.is_dir() {
                path.clone()
            } else {
                path.parent().unwrap().to_path_buf()
            };
            let usable = first.ends_with(".pkrvars.hcl") || first.ends_with(".pkrvars.json");
            if usable && !first.contains(".auto.") && base.join(first).is_file() {
                opts.var_files.push(base.join(first));
            }
        }
        // Values the entry's own CI passes with -var.
        if cols[0] == "actions__runner-images/images/ubuntu/templates" {
            opts.vars.push(("image_os".into(), "ubuntu22".into()));
        }
        let result = load(&path, &opts);
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
        "HCL2 corpus: {ok}/{total} load as Packer does; {} wait only for functions not yet implemented ({:?})",
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
