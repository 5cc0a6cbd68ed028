//! The plugin types forge knows by their schema only: `forge validate` checks their
//! configuration as their plugins would, and `forge build` refuses them.

use forge_template::schema::PluginKind::{Builder, PostProcessor, Provisioner};
use forge_template::schema::{older, plugins};

use crate::decl::PluginDecl;

/// Every validate-only type, with the plugin it follows when the version list has it.
pub(super) fn validate_only() -> Vec<PluginDecl> {
    vec![
        PluginDecl::validate_only::<plugins::AmazonEbssurrogateBuilder>(
            Builder,
            "amazon-ebssurrogate",
        )
        .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::validate_only::<plugins::AmazonEbsvolumeBuilder>(Builder, "amazon-ebsvolume")
            .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::validate_only::<plugins::AmazonInstanceBuilder>(Builder, "amazon-instance")
            .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::validate_only::<plugins::AmazonChrootBuilder>(Builder, "amazon-chroot")
            .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::validate_only::<plugins::AzureArmBuilder>(Builder, "azure-arm")
            .from_plugin("github.com/hashicorp/azure"),
        PluginDecl::validate_only::<plugins::AzureChrootBuilder>(Builder, "azure-chroot")
            .from_plugin("github.com/hashicorp/azure"),
        PluginDecl::validate_only::<plugins::DigitaloceanBuilder>(Builder, "digitalocean")
            .from_plugin("github.com/digitalocean/digitalocean"),
        PluginDecl::validate_only::<plugins::HcloudBuilder>(Builder, "hcloud")
            .from_plugin("github.com/hetznercloud/hcloud"),
        PluginDecl::validate_only::<plugins::HuaweicloudEcsBuilder>(Builder, "huaweicloud-ecs")
            .from_plugin("github.com/huaweicloud/huaweicloud"),
        PluginDecl::validate_only::<plugins::HypervIsoBuilder>(Builder, "hyperv-iso")
            .from_plugin("github.com/hashicorp/hyperv"),
        PluginDecl::validate_only::<plugins::HypervVmcxBuilder>(Builder, "hyperv-vmcx")
            .from_plugin("github.com/hashicorp/hyperv"),
        PluginDecl::validate_only::<plugins::IbmcloudVpcBuilder>(Builder, "ibmcloud-vpc")
            .from_plugin("github.com/ibm/ibmcloud"),
        PluginDecl::validate_only::<plugins::NutanixBuilder>(Builder, "nutanix")
            .from_plugin("github.com/nutanix-cloud-native/nutanix"),
        PluginDecl::validate_only::<plugins::OracleOciBuilder>(Builder, "oracle-oci")
            .from_plugin("github.com/hashicorp/oracle"),
        PluginDecl::validate_only::<plugins::OutscaleBsuBuilder>(Builder, "outscale-bsu")
            .from_plugin("github.com/outscale/outscale"),
        PluginDecl::validate_only::<plugins::ParallelsIpswBuilder>(Builder, "parallels-ipsw")
            .from_plugin("github.com/hashicorp/parallels"),
        PluginDecl::validate_only::<plugins::ParallelsIsoBuilder>(Builder, "parallels-iso")
            .from_plugin("github.com/hashicorp/parallels"),
        PluginDecl::validate_only::<plugins::ParallelsPvmBuilder>(Builder, "parallels-pvm")
            .from_plugin("github.com/hashicorp/parallels"),
        PluginDecl::validate_only::<plugins::PowervsBuilder>(Builder, "powervs")
            .from_plugin("github.com/ppc64le-cloud/powervs"),
        PluginDecl::validate_only::<plugins::ProxmoxIsoBuilder>(Builder, "proxmox-iso")
            .from_plugin("github.com/hashicorp/proxmox"),
        PluginDecl::validate_only::<plugins::ProxmoxCloneBuilder>(Builder, "proxmox-clone")
            .from_plugin("github.com/hashicorp/proxmox"),
        PluginDecl::validate_only::<plugins::UtmIsoBuilder>(Builder, "utm-iso")
            .from_plugin("github.com/naveenrajm7/utm"),
        PluginDecl::validate_only::<plugins::VeertuAnkaVmCloneBuilder>(
            Builder,
            "veertu-anka-vm-clone",
        )
        .from_plugin("github.com/veertuinc/veertu-anka"),
        PluginDecl::validate_only::<plugins::VeertuAnkaVmCloneBuilder>(
            Builder,
            "veertu-anka-vm-create",
        )
        .from_plugin("github.com/veertuinc/veertu-anka"),
        PluginDecl::validate_only::<plugins::VirtualboxIsoBuilder>(Builder, "virtualbox-iso")
            .from_plugin("github.com/hashicorp/virtualbox"),
        PluginDecl::validate_only::<plugins::VirtualboxVmBuilder>(Builder, "virtualbox-vm")
            .from_plugin("github.com/hashicorp/virtualbox"),
        PluginDecl::validate_only::<older::VmwareIsoWithEsxi>(Builder, "vmware-iso")
            .from_plugin("github.com/hashicorp/vmware"),
        PluginDecl::validate_only::<older::VmwareVmxWithEsxi>(Builder, "vmware-vmx")
            .from_plugin("github.com/hashicorp/vmware"),
        PluginDecl::validate_only::<plugins::VsphereSupervisorBuilder>(
            Builder,
            "vsphere-supervisor",
        )
        .from_plugin("github.com/hashicorp/vsphere"),
        PluginDecl::validate_only::<plugins::VultrBuilder>(Builder, "vultr")
            .from_plugin("github.com/vultr/vultr"),
        PluginDecl::validate_only::<plugins::TesterDynamicBuilder>(Builder, "tester-dynamic"),
        PluginDecl::validate_only::<plugins::HcpSbomProvisioner>(Provisioner, "hcp-sbom"),
        PluginDecl::validate_only::<plugins::GossProvisioner>(Provisioner, "goss")
            .from_plugin("github.com/yaleuniversity/goss"),
        PluginDecl::validate_only::<plugins::PuppetMasterlessProvisioner>(
            Provisioner,
            "puppet-masterless",
        )
        .from_plugin("github.com/hashicorp/puppet"),
        PluginDecl::validate_only::<plugins::PuppetServerProvisioner>(Provisioner, "puppet-server")
            .from_plugin("github.com/hashicorp/puppet"),
        PluginDecl::validate_only::<plugins::VagrantPostProcessor>(PostProcessor, "vagrant")
            .from_plugin("github.com/hashicorp/vagrant"),
        PluginDecl::validate_only::<plugins::VagrantCloudPostProcessor>(
            PostProcessor,
            "vagrant-cloud",
        )
        .from_plugin("github.com/hashicorp/vagrant"),
        PluginDecl::validate_only::<plugins::VagrantRegistryPostProcessor>(
            PostProcessor,
            "vagrant-registry",
        )
        .from_plugin("github.com/hashicorp/vagrant"),
        PluginDecl::validate_only::<plugins::AmazonImportPostProcessor>(
            PostProcessor,
            "amazon-import",
        )
        .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::validate_only::<plugins::VagrantPostProcessor>(PostProcessor, "utm-vagrant")
            .from_plugin("github.com/naveenrajm7/utm"),
        PluginDecl::validate_only::<plugins::AmazonEbsBuilder>(Builder, "amazon-v3-ebs"),
    ]
}
