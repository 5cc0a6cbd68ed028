//! `hcl2_upgrade` over ../shared/corpus: every legacy JSON entry translates, and the HCL2 it
//! gives parses and loads into a build plan (what `forge validate` checks), except the entries
//! listed below, whose templates use something HCL2 cannot express.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_template::upgrade::{hcl2_upgrade, UpgradeOptions};
use forge_template::{load_hcl_text, LoadOptions};

/// Entries whose translation does not load, with the reason. Packer's own translation of each
/// has the same problem: these are things a legacy template can do that HCL2 cannot express
/// (weakly typed strings, variables declared only in var files, `build` in builders) or
/// plugins and arguments that no current release has.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "awslabs__amazon-eks-ami/templates/al2023/template.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere); arguments the current plugins no longer accept",
    ),
    (
        "boxcutter__ubuntu/ubuntu.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "hashicorp__packer/command/test-fixtures/fix/template.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/command/test-fixtures/hcl2_upgrade/unknown_builder/input.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/command/test-fixtures/parallel/1lock.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/command/test-fixtures/parallel/2lock-4wg.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/command/test-fixtures/validate-invalid/bad_provisioner.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-ignore-template-variable.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-names-basic.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-prov-retry.json",
        "test-only plugin types no release has",
    ),
    (
        "hashicorp__packer/packer/test-fixtures/build-var-build-name.json",
        "test-only plugin types no release has; `{{build `X`}}` in a builder becomes build.X, which sources cannot read",
    ),
    (
        "hashicorp__packer-plugin-amazon/builder/ebs/test-fixtures/interpolated_run_tags.json",
        "`{{build `X`}}` in a builder becomes build.X, which sources cannot read",
    ),
    (
        "hashicorp__packer-plugin-docker/builder/docker/test-fixtures/fix_upload_owner.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "hashicorp__packer-plugin-vsphere/examples/builder/vsphere-iso/ubuntu/ubuntu-16.04.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "hashicorp__packer-plugin-vsphere/examples/builder/vsphere-iso/windows/windows-10.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "joefitzgerald__packer-windows/windows_10.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "joefitzgerald__packer-windows/windows_2008_r2.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "joefitzgerald__packer-windows/windows_2008_r2_core.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "joefitzgerald__packer-windows/windows_2012.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "joefitzgerald__packer-windows/windows_2012_r2.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "joefitzgerald__packer-windows/windows_2012_r2_hyperv.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "joefitzgerald__packer-windows/windows_2016.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/ami/packer-windows.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/digitalocean/packer.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/gce/packer.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/hcloud/packer.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/huaweicloud/packer.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/nutanix/packer-windows.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere); arguments the current plugins no longer accept",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/oci/packer.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere); arguments the current plugins no longer accept",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/outscale/packer-flatcar.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/ova/packer-windows.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/powervs/packer.json",
        "reads variables it never declares (given by var files elsewhere); arguments the current plugins no longer accept",
    ),
    (
        "kubernetes-sigs__image-builder/images/capi/packer/vultr/packer.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "shinesolutions__packer-aem/templates/packer/aws/author-publish-dispatcher.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not); reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "shinesolutions__packer-aem/templates/packer/docker/generic.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "StefanScherer__packer-windows/windows_10.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "StefanScherer__packer-windows/windows_11.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "StefanScherer__packer-windows/windows_11_insider.json",
        "string variables where the plugin wants a list/bool/number (JSON decodes weakly, HCL2 does not)",
    ),
    (
        "upperstream__packer-templates/alpine/alpine-3.12/alpine-3.12-dwm.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "upperstream__packer-templates/alpine/alpine-3.14/alpine-3.14-ansible.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "upperstream__packer-templates/debian/debian-8.7/debian-8.7-amd64-xorg.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "upperstream__packer-templates/freebsd/freebsd-10.3/freebsd-10.3-release-docker.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "upperstream__packer-templates/freebsd/freebsd-13.0/freebsd-13.0-release-ansible.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "upperstream__packer-templates/openbsd/openbsd-6.0/openbsd-6.0-minimal.json",
        "reads variables it never declares (given by var files elsewhere); arguments the current plugins no longer accept",
    ),
    (
        "upperstream__packer-templates/openbsd/openbsd-6.1/openbsd-6.1-minimal.json",
        "reads variables it never declares (given by var files elsewhere); arguments the current plugins no longer accept",
    ),
    (
        "upperstream__packer-templates/openbsd/openbsd-7.0/openbsd-7.0-minimal.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "upperstream__packer-templates/openbsd/openbsd-7.1/openbsd-7.1-xfce.json",
        "reads variables it never declares (given by var files elsewhere)",
    ),
    (
        "upperstream__packer-templates/opensuse/leap-42.3/opensuse-leap-42.3-docker.json",
        "arguments the current plugins no longer accept",
    ),
    (
        "upperstream__packer-templates/ubuntu/ubuntu-12.04/ubuntu-12.04-server-minimal.json",
        "arguments the current plugins no longer accept",
    ),
];

#[test]
fn corpus_json_entries_upgrade_to_loadable_hcl2() {
    let dir = forge_testkit::corpus::dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    let (mut ok, mut total, mut excepted) = (0, 0, 0);
    let mut failures = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 || cols[3] != "json" {
            continue;
        }
        total += 1;
        let path = dir.join(cols[0]);
        let src = std::fs::read_to_string(&path).expect("read entry");
        let exception = EXCEPTIONS.iter().find(|(p, _)| *p == cols[0]);
        let hcl = match hcl2_upgrade(&src, &UpgradeOptions::default()) {
            Ok(h) => h,
            Err(e) => {
                if exception.is_some() {
                    excepted += 1;
                } else {
                    failures.push(format!("{}: does not translate: {e:?}", cols[0]));
                }
                continue;
            }
        };
        let name = format!("{}.pkr.hcl", path.display());
        let root = path.parent().expect("entry dir");
        let opts = LoadOptions {
            unset_as_unknown: true,
            ..LoadOptions::default()
        };
        let loaded = load_hcl_text(&name, &hcl, root, &opts);
        match (loaded.plan.is_some(), exception) {
            (true, None) => ok += 1,
            (true, Some(_)) => failures.push(format!(
                "{}: listed as an exception but its translation loads",
                cols[0]
            )),
            (false, Some(_)) => excepted += 1,
            (false, None) => failures.push(format!(
                "{}:\n{}",
                cols[0],
                loaded.diags.render(&loaded.files)
            )),
        }
    }
    eprintln!("hcl2_upgrade: {ok}/{total} load, {excepted} listed exceptions");
    assert!(total > 0, "no legacy JSON entries in the corpus manifest");
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
