//! The fake Compute Engine (forge_testkit::gce) checked with an independent client: Google's
//! Python `google-cloud-compute` (REST) and `google-auth`'s service-account flow, from PyPI in
//! /var/tmp/forge-test-gce-py (scripts/test.sh installs it; `FORGE_GCE_PY` overrides), create,
//! wait for and delete an instance, a disk and an image through it, read a Windows
//! instance's password through the `windows-keys` exchange, refresh an authorized user's
//! token, impersonate a service account, and (with `google-cloud-os-login`) manage OS Login keys.

use std::process::Command;

use forge_testkit::gce::{FakeGce, PROJECT};

#[test]
fn googles_python_client_creates_waits_for_and_deletes_through_the_fake() {
    let python = std::env::var("FORGE_GCE_PY")
        .unwrap_or_else(|_| "/var/tmp/forge-test-gce-py/bin/python3".into());
    if !std::path::Path::new(&python).exists() {
        panic!("{python} is missing: run scripts/test.sh --setup-only (it pip-installs google-cloud-compute into /var/tmp/forge-test-gce-py)");
    }
    let gce = FakeGce::start();
    gce.add_windows_image("windows-cloud", "windows-server-2022-dc-v1", "windows-2022");
    gce.set_windows_password("Py-agent'pw$1");
    let adc = gce.dir().join("adc.json");
    std::fs::write(&adc, gce.authorized_user_json().to_string()).unwrap();
    let script = forge_testkit::repo_file("crates/forge-testkit/gce/python_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(gce.endpoint())
        .arg(gce.account_file())
        .arg(PROJECT)
        .arg("us-central1-a")
        .arg(gce.windows_password())
        .arg(&adc)
        .arg(forge_testkit::gce::IMPERSONATION_TARGET)
        .output()
        .expect("running python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for want in [
        "token: from the fake's token_uri",
        "done: instance insert",
        "refused: stale fingerprint (412)",
        "refused: disk in use (400)",
        "gone: instance",
        "done: image insert",
        "windows: password decrypted from serial port 4 for py_user",
        "refused: serial port 5 (400)",
        "adc: authorized_user refreshed at the fake's token endpoint",
        "impersonated: forge-target@forge-test.iam.gserviceaccount.com",
        "refused: impersonating another account",
        "refused: another account's login profile (403)",
        "oslogin: imported, listed and deleted a key for forge_builder",
        "python client: ok",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert_eq!(gce.leftovers(), Vec::<String>::new());
    let calls = gce.calls();
    for want in [
        "POST /compute/v1/projects/forge-test/zones/us-central1-a/instances",
        "POST /compute/v1/projects/forge-test/zones/us-central1-a/instances/py-inst/setMetadata",
        "POST /compute/v1/projects/forge-test/global/images",
        "GET /compute/v1/projects/debian-cloud/global/images/family/debian-12",
    ] {
        assert!(calls.iter().any(|c| c == want), "no {want:?} in {calls:#?}");
    }
    assert!(
        calls.iter().any(|c| c.contains("/operations/")),
        "{calls:#?}"
    );
}
