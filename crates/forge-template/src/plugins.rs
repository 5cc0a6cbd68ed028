//! The Packer plugins forge has built in: for each plugin source, the upstream plugin release
//! whose behaviour forge follows and the components it provides. `forge init` checks a
//! template's `required_plugins` against this table; nothing is ever downloaded.
//!
//! This is the one place these versions are kept: raise a version here when forge catches up
//! with a newer plugin release. Every component listed here has a plugin declaration
//! (`forge_core::decl`); the binary's declaration test fails when the two disagree.

/// One plugin built into forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinPlugin {
    /// The plugin's source address, as `required_plugins` names it.
    pub source: &'static str,
    /// The upstream plugin version forge is compatible with.
    pub version: &'static str,
    /// The builders, provisioners, post-processors and data sources it provides.
    pub components: &'static [&'static str],
}

const fn p(
    source: &'static str,
    version: &'static str,
    components: &'static [&'static str],
) -> BuiltinPlugin {
    BuiltinPlugin {
        source,
        version,
        components,
    }
}

/// Every built-in plugin, sorted by source.
pub const BUILTIN_PLUGINS: &[BuiltinPlugin] = &[
    p(
        "github.com/digitalocean/digitalocean",
        "1.4.1",
        &["digitalocean"],
    ),
    p(
        "github.com/hashicorp/amazon",
        "1.3.9",
        &[
            "amazon-ebs",
            "amazon-ebssurrogate",
            "amazon-ebsvolume",
            "amazon-instance",
            "amazon-chroot",
            "amazon-import",
        ],
    ),
    p(
        "github.com/hashicorp/ansible",
        "1.1.4",
        &["ansible", "ansible-local"],
    ),
    p(
        "github.com/hashicorp/azure",
        "2.3.3",
        &["azure-arm", "azure-chroot"],
    ),
    p(
        "github.com/hashicorp/docker",
        "1.1.2",
        &[
            "docker",
            "docker-import",
            "docker-push",
            "docker-save",
            "docker-tag",
        ],
    ),
    p(
        "github.com/hashicorp/googlecompute",
        "1.1.9",
        &["googlecompute"],
    ),
    p(
        "github.com/hashicorp/hyperv",
        "1.1.4",
        &["hyperv-iso", "hyperv-vmcx"],
    ),
    p("github.com/hashicorp/oracle", "1.1.1", &["oracle-oci"]),
    p(
        "github.com/hashicorp/parallels",
        "1.2.3",
        &["parallels-ipsw", "parallels-iso", "parallels-pvm"],
    ),
    p(
        "github.com/hashicorp/proxmox",
        "1.2.2",
        &["proxmox-iso", "proxmox-clone"],
    ),
    p(
        "github.com/hashicorp/puppet",
        "1.1.1",
        &["puppet-masterless", "puppet-server"],
    ),
    p("github.com/hashicorp/qemu", "1.1.4", &["qemu"]),
    p(
        "github.com/hashicorp/vagrant",
        "1.1.5",
        &["vagrant", "vagrant-cloud", "vagrant-registry"],
    ),
    p(
        "github.com/hashicorp/virtualbox",
        "1.1.2",
        &["virtualbox-iso", "virtualbox-ovf", "virtualbox-vm"],
    ),
    p(
        "github.com/hashicorp/vmware",
        "1.1.0",
        &["vmware-iso", "vmware-vmx"],
    ),
    p(
        "github.com/hashicorp/vsphere",
        "1.4.2",
        &[
            "vsphere",
            "vsphere-clone",
            "vsphere-iso",
            "vsphere-supervisor",
            "vsphere-template",
        ],
    ),
    p("github.com/hetznercloud/hcloud", "1.6.1", &["hcloud"]),
    p(
        "github.com/huaweicloud/huaweicloud",
        "1.1.0",
        &["huaweicloud-ecs"],
    ),
    p("github.com/ibm/ibmcloud", "3.3.0", &["ibmcloud-vpc"]),
    p(
        "github.com/naveenrajm7/utm",
        "0.3.1",
        &["utm-iso", "utm-vagrant"],
    ),
    p(
        "github.com/nutanix-cloud-native/nutanix",
        "1.1.0",
        &["nutanix"],
    ),
    p("github.com/outscale/outscale", "1.3.0", &["outscale-bsu"]),
    p("github.com/ppc64le-cloud/powervs", "0.2.0", &["powervs"]),
    p(
        "github.com/rgl/windows-update",
        "0.16.10",
        &["windows-update"],
    ),
    p(
        "github.com/veertuinc/veertu-anka",
        "3.2.1",
        &["veertu-anka-vm-clone", "veertu-anka-vm-create"],
    ),
    p(
        "github.com/vmware/vsphere",
        "1.4.2",
        &[
            "vsphere",
            "vsphere-clone",
            "vsphere-iso",
            "vsphere-supervisor",
            "vsphere-template",
        ],
    ),
    p("github.com/vultr/vultr", "2.5.0", &["vultr"]),
    p("github.com/yaleuniversity/goss", "3.2.1", &["goss"]),
];

/// The built-in plugin for a source address (compared without regard to case, as GitHub
/// treats owner and repository names).
pub fn builtin(source: &str) -> Option<&'static BuiltinPlugin> {
    let want = source.trim().trim_end_matches('/').to_ascii_lowercase();
    BUILTIN_PLUGINS.iter().find(|p| p.source == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_lowercase_and_parses() {
        for w in BUILTIN_PLUGINS.windows(2) {
            assert!(
                w[0].source < w[1].source,
                "{} then {}",
                w[0].source,
                w[1].source
            );
        }
        for p in BUILTIN_PLUGINS {
            assert_eq!(p.source, p.source.to_ascii_lowercase());
            assert_eq!(crate::version::satisfies(p.version, ">= 0.0.1"), Ok(true));
        }
    }

    #[test]
    fn sources_are_found_whatever_their_case() {
        assert_eq!(
            builtin("github.com/hashicorp/amazon").map(|p| p.version),
            Some("1.3.9")
        );
        assert!(builtin("github.com/YaleUniversity/goss").is_some());
        assert!(builtin("github.com/ethanmdavidson/git").is_none());
    }
}
