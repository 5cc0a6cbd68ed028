//! Conformance over ../shared/corpus: every legacy JSON entry loads into a build plan.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_template::testing::corpus;

/// Entries that Packer rejects too, with the error summary forge gives; each was checked against
/// Packer 1.6.6 (`packer validate` with the entry's required variables set), which gives the
/// same summary: builds of plugins no release has (Packer's own test fixtures), and arguments no
/// plugin accepts. Packer also rejects some others in plugin-specific preparation (required
/// settings of each builder), which is the builders' work, not the template layer's.
const EXPECTED: &[(&str, &str)] = &[
    // These image-builder templates take most of their variables from var files kept elsewhere
    // in their repository (`-var-file` from images/capi/packer/config), so their defaults refer
    // to variables nothing declares. Packer fails them with the same detail (and an empty
    // summary); forge's summary says "Invalid template".
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
    (
        "hashicorp__packer/command/test-fixtures/fix/template.json",
        "Failed to initialize build \"dummy\"",
    ),
    (
        "hashicorp__packer/command/test-fixtures/hcl2_upgrade/unknown_builder/input.json",
        "Failed to initialize build \"potatoes\"",
    ),
    (
        "hashicorp__packer/command/test-fixtures/parallel/1lock.json",
        "Failed to initialize build \"build0\"",
    ),
    (
        "hashicorp__packer/command/test-fixtures/parallel/2lock-4wg.json",
        "Failed to initialize build \"build0\"",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-ignore-template-variable.json",
        "Failed to initialize build \"test\"",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-names-basic.json",
        "Failed to initialize build \"something\"",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-prov-retry.json",
        "Failed to initialize build \"test\"",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-var-build-name.json",
        "Failed to initialize build \"test\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_10.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_2008_r2.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_2008_r2_core.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_2012.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_2012_r2.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_2012_r2_hyperv.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "joefitzgerald__packer-windows/windows_2016.json",
        "Failed to prepare build: \"parallels-iso\"",
    ),
    (
        "upperstream__packer-templates/debian/debian-8.7/debian-8.7-amd64-xorg.json",
        "Failed to prepare build: \"esxi-iso\"",
    ),
    (
        "upperstream__packer-templates/freebsd/freebsd-10.3/freebsd-10.3-release-docker.json",
        "Failed to prepare build: \"virtualbox-iso\"",
    ),
    (
        "upperstream__packer-templates/openbsd/openbsd-6.0/openbsd-6.0-minimal.json",
        "Failed to prepare build: \"esxi-iso\"",
    ),
    (
        "upperstream__packer-templates/openbsd/openbsd-6.1/openbsd-6.1-minimal.json",
        "Failed to prepare build: \"esxi-iso\"",
    ),
    (
        "upperstream__packer-templates/opensuse/leap-42.3/opensuse-leap-42.3-docker.json",
        "Failed to prepare build: \"esxi-iso\"",
    ),
    (
        "upperstream__packer-templates/ubuntu/ubuntu-12.04/ubuntu-12.04-server-minimal.json",
        "Failed to prepare build: \"esxi-iso\"",
    ),
    (
        "hashicorp__packer/command/test-fixtures/validate-invalid/bad_provisioner.json",
        "Failed to prepare build: \"file\"",
    ),
];

#[test]
fn legacy_json_corpus_loads() {
    corpus::run(
        &forge_testkit::corpus::dir(),
        "legacy JSON corpus",
        "json",
        EXPECTED,
        &[],
    );
}
