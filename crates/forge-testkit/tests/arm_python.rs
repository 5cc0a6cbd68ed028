//! The fake Azure Resource Manager (forge_testkit::arm) checked with independent clients:
//! Microsoft's Python `azure-identity` (MSAL's client-credentials flow with a secret, a
//! certificate and a federated token; a managed identity through IMDS) and `azure-mgmt-*`
//! management clients, from PyPI in /var/tmp/forge-test-azure-py (scripts/test.sh installs them;
//! `FORGE_AZURE_PY` overrides). Through the fake they run a Packer-shaped deployment (and one
//! that fails with nested details), deallocate, generalize and capture the VM, make an image
//! and a gallery image version from it, snapshot the detached OS disk, make a key vault, list
//! by tag and delete it all, following each long-running operation with `begin_*().result()`,
//! after being throttled (429 + Retry-After) on their first calls.

use std::process::Command;

use forge_testkit::arm::{FakeArm, CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION, TENANT};

#[test]
fn microsofts_python_clients_deploy_capture_and_delete_through_the_fake() {
    let python = std::env::var("FORGE_AZURE_PY")
        .unwrap_or_else(|_| "/var/tmp/forge-test-azure-py/bin/python3".into());
    if !std::path::Path::new(&python).exists() {
        panic!("{python} is missing: run scripts/test.sh --setup-only (it pip-installs azure-identity and the azure-mgmt-* clients into /var/tmp/forge-test-azure-py)");
    }
    let arm = FakeArm::start();
    // The first calls are throttled: the clients must honour 429 and Retry-After.
    arm.throttle(2);
    arm.fail_allocation("westus2", None);
    let script = forge_testkit::repo_file("crates/forge-testkit/arm/python_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([
            &arm.endpoint(),
            TENANT,
            CLIENT_ID,
            CLIENT_SECRET,
            SUBSCRIPTION,
        ])
        .arg(arm.client_certificate())
        .arg(arm.federated_token())
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", arm.endpoint())
        .envs(arm.client_env())
        .output()
        .expect("running python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
    for want in [
        "token: client secret through the fake's authority",
        "token: certificate client assertion accepted",
        "token: federated client assertion accepted",
        "token: managed identity from IMDS",
        "done: resource group",
        "failed: deployment DeploymentFailed > ResourceDeploymentFailure > AllocationFailed",
        "refused: public ip in use (PublicIPAddressCannotBeDeleted)",
        "gone: nic, public ip, vnet, nsg",
        "done: os disk left detached, snapshot, deleted both",
        "marketplace: Debian debian-12 12 versions 0.20241004.1889",
        "done: deployment pydeploy",
        "vm: pyvm public ip 127.0.0.1 os disk pyos",
        "refused: generalize while running (OperationNotAllowed)",
        "done: deallocate, generalize",
        "done: capture to pkr-osDisk.vhd",
        "done: image pyimage",
        "replicated to eastus,westus2",
        "refused: gallery not empty",
        "done: key vault pykv",
        "done: vault secret set and read through the data plane",
        "gone: vm (ResourceNotFound)",
        "gone: resource group",
        "python client: ok",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert_eq!(arm.leftovers(), Vec::<String>::new());
    assert!(arm.tokens_issued() >= 1);
    let calls = arm.calls();
    eprintln!("{} calls to the fake", calls.len());
    for want in [
        format!("GET /{TENANT}/v2.0/.well-known/openid-configuration"),
        format!("POST /{TENANT}/oauth2/v2.0/token"),
        format!("PUT /subscriptions/{SUBSCRIPTION}/resourcegroups/forge-py-rg/providers/Microsoft.Resources/deployments/pydeploy"),
        format!("POST /subscriptions/{SUBSCRIPTION}/resourceGroups/forge-py-rg/providers/Microsoft.Compute/virtualMachines/pyvm/deallocate"),
    ] {
        assert!(
            calls.iter().any(|c| c.eq_ignore_ascii_case(&want)),
            "no {want:?} in {calls:#?}"
        );
    }
    // The two throttled calls were retried: four gets of the subscription (one per credential)
    // and the two refused ones.
    let sub_gets = calls
        .iter()
        .filter(|c| **c == format!("GET /subscriptions/{SUBSCRIPTION}"))
        .count();
    assert!(sub_gets >= 6, "{sub_gets} subscription GETs: {calls:#?}");
    assert!(
        calls.iter().any(|c| c.contains("/operations/")),
        "no operation polled: {calls:#?}"
    );
}
