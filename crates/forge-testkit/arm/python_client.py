"""The fake ARM (forge_testkit::arm) driven by Microsoft's own Python clients: azure-identity's
ClientSecretCredential (MSAL's client-credentials flow against the fake's Azure AD endpoints)
and the azure-mgmt-* management clients, whose long-running operations are followed with
begin_*().result(). Prints a line per step; any failure raises.

Usage: python_client.py ENDPOINT TENANT CLIENT_ID CLIENT_SECRET SUBSCRIPTION CLIENT_CERT_PEM FEDERATED_TOKEN
(REQUESTS_CA_BUNDLE names the fake's CA, AZURE_POD_IDENTITY_AUTHORITY_HOST the fake as IMDS;
the fake makes VM allocation fail in westus2.)"""

import sys

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import (CertificateCredential, ClientAssertionCredential, ClientSecretCredential,
                            ManagedIdentityCredential)
from azure.keyvault.secrets import SecretClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.deployments import DeploymentsMgmtClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

endpoint, tenant, client_id, secret, sub, cert, federated = sys.argv[1:8]
RG, LOC, RUN = "forge-py-rg", "eastus", {"forge-run": "py-1"}

cred = ClientSecretCredential(tenant, client_id, secret, authority=endpoint, disable_instance_discovery=True)
kw = {"base_url": endpoint}
subs = SubscriptionClient(cred, **kw)
rm = ResourceManagementClient(cred, sub, **kw)
deps = DeploymentsMgmtClient(cred, sub, **kw)
compute = ComputeManagementClient(cred, sub, **kw)
network = NetworkManagementClient(cred, sub, **kw)
vaults = KeyVaultManagementClient(cred, sub, **kw)

s = subs.subscriptions.get(sub)
assert s.subscription_id == sub and s.tenant_id == tenant, s
locations = [l.name for l in subs.subscriptions.list_locations(sub)]
assert LOC in locations, locations
print("token: client secret through the fake's authority; subscription", s.display_name)

# Certificate credentials: MSAL signs a client assertion with the certificate's key.
certcred = CertificateCredential(tenant, client_id, certificate_path=cert, authority=endpoint, disable_instance_discovery=True)
s2 = SubscriptionClient(certcred, **kw).subscriptions.get(sub)
assert s2.subscription_id == sub
print("token: certificate client assertion accepted")

# Federated (OIDC) credentials: a token of the fake's issuer as the client assertion.
fedcred = ClientAssertionCredential(tenant, client_id, lambda: federated, authority=endpoint)
assert SubscriptionClient(fedcred, **kw).subscriptions.get(sub).subscription_id == sub
print("token: federated client assertion accepted")

# Managed identity through IMDS (the fake stands in for it).
mi = ManagedIdentityCredential()
assert SubscriptionClient(mi, **kw).subscriptions.get(sub).subscription_id == sub
print("token: managed identity from IMDS")

g = rm.resource_groups.create_or_update(RG, {"location": LOC, "tags": RUN})
assert g.properties.provisioning_state == "Succeeded", g
assert rm.resource_groups.check_existence(RG)
tagged = [x.name for x in rm.resource_groups.list(filter="tagName eq 'forge-run' and tagValue eq 'py-1'")]
assert tagged == [RG], tagged
print("done: resource group", RG)

# A template shaped like the one Packer's azure-arm builder sends.
template = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {k: {"type": "string"} for k in ["vmName", "vmSize", "nicName", "nsgName", "publicIPAddressName",
                                                   "subnetName", "virtualNetworkName", "osDiskName", "adminUsername"]}
    | {"adminPassword": {"type": "securestring"}, "commandToExecute": {"type": "string", "defaultValue": ""}},
    "variables": {
        "location": "[resourceGroup().location]",
        "computeApiVersion": "2023-03-01",
        "networkApiVersion": "2023-04-01",
        "vnetID": "[resourceId(resourceGroup().name, 'Microsoft.Network/virtualNetworks', parameters('virtualNetworkName'))]",
        "subnetRef": "[concat(variables('vnetID'),'/subnets/',parameters('subnetName'))]",
        "sshKeyPath": "[concat('/home/',parameters('adminUsername'),'/.ssh/authorized_keys')]",
    },
    "resources": [
        {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/publicIPAddresses",
         "name": "[parameters('publicIPAddressName')]", "location": "[variables('location')]", "tags": RUN,
         "properties": {"publicIPAllocationMethod": "Static"}, "sku": {"name": "Standard"}},
        {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/networkSecurityGroups",
         "name": "[parameters('nsgName')]", "location": "[variables('location')]", "tags": RUN,
         "properties": {"securityRules": []}},
        {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/virtualNetworks",
         "name": "[parameters('virtualNetworkName')]", "location": "[variables('location')]", "tags": RUN,
         "dependsOn": ["[concat('Microsoft.Network/networkSecurityGroups/', parameters('nsgName'))]"],
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                        "subnets": [{"name": "[parameters('subnetName')]", "properties": {
                            "addressPrefix": "10.0.0.0/24",
                            "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', parameters('nsgName'))]"}}}]}},
        {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/networkInterfaces",
         "name": "[parameters('nicName')]", "location": "[variables('location')]", "tags": RUN,
         "properties": {"ipConfigurations": [{"name": "ipconfig", "properties": {
             "privateIPAllocationMethod": "Dynamic",
             "publicIPAddress": {"id": "[resourceId('Microsoft.Network/publicIPAddresses', parameters('publicIPAddressName'))]"},
             "subnet": {"id": "[variables('subnetRef')]"}}}]}},
        {"apiVersion": "[variables('computeApiVersion')]", "type": "Microsoft.Compute/virtualMachines",
         "name": "[parameters('vmName')]", "location": "[variables('location')]", "tags": RUN,
         "properties": {
             "hardwareProfile": {"vmSize": "[parameters('vmSize')]"},
             "osProfile": {"computerName": "[parameters('vmName')]", "adminUsername": "[parameters('adminUsername')]",
                           "adminPassword": "[parameters('adminPassword')]",
                           "linuxConfiguration": {"ssh": {"publicKeys": [{"path": "[variables('sshKeyPath')]", "keyData": ""}]}}},
             "storageProfile": {"imageReference": {"publisher": "Debian", "offer": "debian-12", "sku": "12", "version": "latest"},
                                "osDisk": {"name": "[parameters('osDiskName')]", "createOption": "FromImage", "caching": "ReadWrite"}},
             "networkProfile": {"networkInterfaces": [{"id": "[resourceId('Microsoft.Network/networkInterfaces', parameters('nicName'))]"}]}}},
        {"apiVersion": "[variables('computeApiVersion')]", "condition": "[not(empty(parameters('commandToExecute')))]",
         "type": "Microsoft.Compute/virtualMachines/extensions", "name": "[concat(parameters('vmName'), '/extension-customscript')]",
         "location": "[variables('location')]", "properties": {"publisher": "Microsoft.Compute"}},
    ],
}
params = {k: {"value": v} for k, v in {
    "vmName": "pyvm", "vmSize": "Standard_B1s", "nicName": "pyni", "nsgName": "pysg", "publicIPAddressName": "pyip",
    "subnetName": "pysn", "virtualNetworkName": "pyvn", "osDiskName": "pyos", "adminUsername": "packer",
    "adminPassword": "Pyth0n-secret!"}.items()}
body = {"properties": {"mode": "Incremental", "template": template, "parameters": params}, "tags": RUN}
versions = [i.name for i in compute.virtual_machine_images.list(LOC, "Debian", "debian-12", "12")]
assert versions, versions
print("marketplace: Debian debian-12 12 versions", ",".join(versions))
v = deps.deployments.begin_validate(RG, "pydeploy", body).result()
assert v.properties.provisioning_state == "Succeeded", v
d = deps.deployments.begin_create_or_update(RG, "pydeploy", body).result()
assert d.properties.provisioning_state == "Succeeded", d
print("done: deployment", d.name, len(d.properties.output_resources), "resources")

vm = compute.virtual_machines.get(RG, "pyvm")
assert vm.properties.hardware_profile.vm_size == "Standard_B1s", vm
assert vm.properties.os_profile.admin_password is None, "the password came back"
ip = network.public_ip_addresses.get(RG, "pyip")
assert ip.ip_address == "127.0.0.1", ip
print("vm:", vm.name, "public ip", ip.ip_address, "os disk", vm.properties.storage_profile.os_disk.name)

# A deployment whose VM cannot be allocated fails, with ARM's nested details.
body2 = {"properties": {"mode": "Incremental", "template": template, "parameters": params | {
    "vmName": {"value": "pyvm2"}, "nicName": {"value": "pyni2"}, "publicIPAddressName": {"value": "pyip2"},
    "osDiskName": {"value": "pyos2"}}}}
rm.resource_groups.create_or_update(RG + "-west", {"location": "westus2", "tags": RUN})
try:
    deps.deployments.begin_create_or_update(RG + "-west", "pyfail", body2).result()
    raise AssertionError("the deployment with no capacity succeeded")
except HttpResponseError as e:
    inner = e.error.details[0].details[0].code
    assert (e.error.code, inner) == ("DeploymentFailed", "AllocationFailed"), e
    print("failed: deployment %s > %s > %s" % (e.error.code, e.error.details[0].code, inner))
failed = deps.deployments.get(RG + "-west", "pyfail")
assert failed.properties.provisioning_state == "Failed", failed
rm.resource_groups.begin_delete(RG + "-west").result()

try:
    compute.virtual_machines.generalize(RG, "pyvm")
    raise AssertionError("generalize of a running VM was taken")
except HttpResponseError as e:
    assert e.error.code == "OperationNotAllowed", e
    print("refused: generalize while running (%s)" % e.error.code)

compute.virtual_machines.begin_deallocate(RG, "pyvm").result()
view = compute.virtual_machines.instance_view(RG, "pyvm")
codes = [s.code for s in view.statuses]
assert "PowerState/deallocated" in codes, codes
compute.virtual_machines.generalize(RG, "pyvm")
print("done: deallocate, generalize")

cap = compute.virtual_machines.begin_capture(RG, "pyvm", {"vhdPrefix": "pkr", "destinationContainerName": "images", "overwriteVhds": True}).result()
uri = cap.resources[0]["properties"]["storageProfile"]["osDisk"]["image"]["uri"]
assert uri.endswith(".vhd") and "/images/pkr-osDisk." in uri, uri
print("done: capture to", uri.rsplit("/", 1)[-1].split(".")[0] + ".vhd")

image = compute.images.begin_create_or_update(
    RG, "pyimage", {"location": LOC, "tags": RUN, "properties": {"sourceVirtualMachine": {"id": vm.id}}}).result()
assert image.properties.storage_profile.os_disk.os_state == "Generalized", image
print("done: image", image.name)

gal = compute.galleries.begin_create_or_update(RG, "pygallery", {"location": LOC, "tags": RUN, "properties": {"description": "forge"}}).result()
gi = compute.gallery_images.begin_create_or_update(RG, "pygallery", "pydef", {
    "location": LOC, "tags": RUN, "properties": {"osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V1",
                                                 "identifier": {"publisher": "forge", "offer": "test", "sku": "py"}}}).result()
ver = compute.gallery_image_versions.begin_create_or_update(RG, "pygallery", "pydef", "1.0.0", {
    "location": LOC, "tags": RUN, "properties": {
        "storageProfile": {"source": {"id": image.id}},
        "publishingProfile": {"targetRegions": [{"name": "eastus", "regionalReplicaCount": 1}, {"name": "westus2", "regionalReplicaCount": 1}]}}}).result()
regions = sorted(s.region for s in ver.properties.replication_status.summary)
assert regions == ["eastus", "westus2"], ver.properties.replication_status
print("done: gallery image version", gal.name, gi.name, ver.name, "replicated to", ",".join(regions))

try:
    compute.galleries.begin_delete(RG, "pygallery").result()
    raise AssertionError("a gallery with images was deleted")
except HttpResponseError as e:
    print("refused: gallery not empty (%s)" % e.error.code)

kv = vaults.vaults.begin_create_or_update(RG, "pykv", {"location": LOC, "tags": RUN, "properties": {
    "tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": []}}).result()
assert kv.properties.vault_uri.startswith("https://127.0.0.1:"), kv.properties.vault_uri
print("done: key vault", kv.name)
# The vault's data plane, at the URI the vault reports (a port of the fake's, not
# *.vault.azure.net, hence no challenge-resource check).
secrets = SecretClient(kv.properties.vault_uri, cred, verify_challenge_resource=False)
secrets.set_secret("winrm-cert", "not-a-real-certificate")
assert secrets.get_secret("winrm-cert").value == "not-a-real-certificate"
print("done: vault secret set and read through the data plane")

tagged = sorted(r.name for r in rm.resources.list(filter="tagName eq 'forge-run' and tagValue eq 'py-1'"))
assert {"pyvm", "pyip", "pyimage", "pygallery"} <= set(tagged), tagged
print("listed by tag:", len(tagged), "resources")

compute.virtual_machines.begin_delete(RG, "pyvm").result()
try:
    compute.virtual_machines.get(RG, "pyvm")
    raise AssertionError("the VM is still there")
except ResourceNotFoundError as e:
    print("gone: vm (%s)" % e.error.code)

# The network goes in reverse order; a public IP a NIC holds is refused first.
try:
    network.public_ip_addresses.begin_delete(RG, "pyip").result()
    raise AssertionError("a public IP in use was deleted")
except HttpResponseError as e:
    print("refused: public ip in use (%s)" % e.error.code)
network.network_interfaces.begin_delete(RG, "pyni").result()
network.public_ip_addresses.begin_delete(RG, "pyip").result()
network.virtual_networks.begin_delete(RG, "pyvn").result()
network.network_security_groups.begin_delete(RG, "pysg").result()
print("gone: nic, public ip, vnet, nsg")

disk = compute.disks.get(RG, "pyos")
assert disk.properties.disk_state == "Unattached", disk.properties.disk_state
snap = compute.snapshots.begin_create_or_update(RG, "pysnap", {"location": LOC, "tags": RUN, "properties": {
    "creationData": {"createOption": "Copy", "sourceResourceId": disk.id}}}).result()
assert snap.properties.disk_size_gb == disk.properties.disk_size_gb, snap
compute.snapshots.begin_delete(RG, "pysnap").result()
compute.disks.begin_delete(RG, "pyos").result()
print("done: os disk left detached, snapshot, deleted both")

rm.resource_groups.begin_delete(RG).result()
assert not rm.resource_groups.check_existence(RG)
print("gone: resource group")
print("python client: ok")
