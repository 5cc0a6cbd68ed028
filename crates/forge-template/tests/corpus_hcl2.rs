//! Conformance over ../shared/corpus: every HCL2 entry loads into a build plan as Packer loads
//! it (plugin schemas checked), and the entries Packer rejects fail with Packer's error.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_template::testing::corpus;

/// Entries that Packer rejects too, with the error summary it gives.
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

#[test]
fn hcl2_corpus_loads() {
    corpus::run(
        &forge_testkit::corpus::dir(),
        "HCL2 corpus",
        "hcl2",
        EXPECTED,
        &[],
    );
}
