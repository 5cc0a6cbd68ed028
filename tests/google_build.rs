//! googlecompute end to end against forge-testkit's fake Compute Engine (a fake: see its doc
//! comment), with a real sshd standing in for the instance: it accepts the keys of every
//! instance's `ssh-keys` metadata, so the builder's temporary key really logs in and the shell
//! provisioner really runs. The service-account flow is real: the account file's `token_uri`
//! points at the fake, which checks the RS256 signature.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::time::Duration;

use forge_testkit::build::{self, Out, Rng, Sandbox};
use forge_testkit::gce::{FakeGce, PROJECT};
use forge_testkit::sshd::{self, Sshd, SshdOptions};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

/// An sshd that accepts the keys of the fake's instances.
fn instance(g: &FakeGce) -> Sshd {
    sshd::require_root();
    let cmd = g.authorized_keys_command();
    Sshd::start(
        SshdOptions::pubkey_only()
            .line(&format!("AuthorizedKeysCommand {cmd} %u"))
            .line("AuthorizedKeysCommandUser nobody"),
    )
}

/// An HCL2 template: one googlecompute source with `extra` arguments, a shell provisioner
/// (`provision`: its inline commands) and a manifest.
fn template(g: &FakeGce, s: &Sshd, extra: &str, provision: &str) -> String {
    format!(
        r#"
source "googlecompute" "fake" {{
  project_id              = "{PROJECT}"
  zone                    = "us-central1-a"
  source_image_family     = "debian-12"
  source_image_project_id = ["debian-cloud"]
  account_file            = "{account}"
  custom_endpoints        = {{ compute = "{endpoint}" }}
  ssh_username            = "{user}"
  ssh_port                = {port}
  ssh_timeout             = "30s"
  state_timeout           = "1m"
  {extra}
}}

build {{
  sources = ["source.googlecompute.fake"]
  provisioner "shell" {{
    inline = [{provision}]
  }}
  post-processor "manifest" {{
    output = "manifest.json"
  }}
}}
"#,
        account = g.account_file().display(),
        endpoint = g.endpoint(),
        user = s.user(),
        port = s.port(),
    )
}

fn provision_file(s: &Sshd) -> String {
    format!(
        "\"echo provisioned-on-$(hostname) > {}/provisioned-${{build.ID}}\"",
        s.home().display()
    )
}

fn build(sb: &Sandbox, force: bool) -> Out {
    let mut args = vec!["build", "-color=false"];
    if force {
        args.push("-force");
    }
    args.push("t.pkr.hcl");
    sb.run(&args, None, &[])
}

fn all(out: &Out) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

/// Builds, expecting a failure that says `want`; the output.
fn build_fails(sb: &Sandbox, want: &str) -> String {
    let out = build(sb, false);
    let text = all(&out);
    assert_ne!(out.code, 0, "{text}");
    assert!(text.contains(want), "missing {want:?} in:\n{text}");
    text
}

/// Nothing of the run in the fake but the images `keep` names, no journal, nothing in TMPDIR.
fn assert_clean(g: &FakeGce, sb: &Sandbox, keep: &[&str], what: &str, output: &str) {
    let left: Vec<String> = g
        .leftovers()
        .into_iter()
        .filter(|l| !keep.iter().any(|k| l == &format!("image {k}")))
        .collect();
    assert!(
        left.is_empty(),
        "{what}: left in the fake: {left:?}\n{output}"
    );
    let j = sb.journals();
    assert!(j.is_empty(), "{what}: journals left: {j:?}\n{output}");
    let tmp = sb.tmp_leftovers();
    assert!(tmp.is_empty(), "{what}: left in TMPDIR: {tmp:?}\n{output}");
}

#[test]
fn an_image_is_built_with_its_manifest_and_nothing_else_is_left() {
    let g = FakeGce::start();
    let s = instance(&g);
    let t = template(
        &g,
        &s,
        r#"image_name = "forge-image-1"
  image_family = "forge"
  image_labels = { app = "forge" }
  labels = { role = "build" }
  startup_script_file = "startup.sh""#,
        &provision_file(&s),
    );
    let startup = format!("touch {}/startup-ran\n", s.home().display());
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t), ("startup.sh", &startup)]);
    let out = build(&sb, false);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}\nsshd:\n{}", s.log());
    for want in [
        "==> googlecompute.fake: Checking image does not exist...",
        "==> googlecompute.fake: Creating temporary rsa SSH key for instance...",
        "==> googlecompute.fake: Using image: debian-12-bookworm-v20240201",
        "==> googlecompute.fake: Creating instance...",
        "==> googlecompute.fake: Waiting for any running startup script to finish...",
        "googlecompute.fake: Startup script successfully finished.",
        "==> googlecompute.fake: Deleting instance...",
        "==> googlecompute.fake: Creating image...",
        "==> googlecompute.fake: Deleting disk...",
        "A disk image was created in the 'forge-test' project: forge-image-1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // The key and the token never reach the output.
    let key_line = g.private_key().lines().nth(1).unwrap();
    assert!(
        !text.contains(key_line),
        "the private key reached the output"
    );
    assert!(!text.contains("ya29.fake-"), "a token reached the output");
    // The provisioner and the startup script (run by the fake as the guest would) ran.
    assert!(std::fs::read_dir(s.home()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("provisioned-")));
    assert!(s.home().join("startup-ran").exists());
    // The manifest has Packer's builder id and the image.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("manifest.json")).unwrap()).unwrap();
    let b = &manifest["builds"][0];
    assert_eq!(b["builder_type"], "googlecompute", "{manifest}");
    assert_eq!(b["artifact_id"], "forge-image-1", "{manifest}");
    // The image carries the user's labels and the run's, and the family.
    let img = g.get("images", PROJECT, "global", "forge-image-1").unwrap();
    assert_eq!(img["status"], "READY");
    assert_eq!(img["family"], "forge");
    assert_eq!(img["labels"]["app"], "forge");
    assert!(img["labels"]["forge-run"].as_str().is_some(), "{img}");
    assert_clean(&g, &sb, &["forge-image-1"], "good build", &text);
    let calls = g.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.ends_with("/operations/")
                || c.contains("/operations/") && c.ends_with("/wait")),
        "{calls:#?}"
    );

    // Again: the image exists; -force replaces it.
    build_fails(
        &sb,
        "Image forge-image-1 already exists in project forge-test.",
    );
    let out = build(&sb, true);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    assert!(
        text.contains("Deleting existing image forge-image-1 (-force)..."),
        "{text}"
    );
    assert_clean(&g, &sb, &["forge-image-1"], "forced build", &text);
}

#[test]
fn an_image_name_against_googles_pattern_fails_validate() {
    let g = FakeGce::start();
    let s = Sshd::start(SshdOptions::pubkey_only());
    let t = template(&g, &s, r#"image_name = "Forge_Image""#, "\"true\"");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = sb.run(&["validate", "t.pkr.hcl"], None, &[]);
    let text = all(&out);
    assert_ne!(out.code, 0, "{text}");
    assert!(
        text.contains(
            "Invalid image name \"Forge_Image\": The first character must be a lowercase letter"
        ),
        "{text}"
    );
    assert!(
        g.calls().is_empty(),
        "validate called the API: {:?}",
        g.calls()
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_full_cleanup() {
    let g = FakeGce::start();
    let s = instance(&g);
    let script = |body: &str| format!("#!/bin/sh\n{body}\n");
    // (what, extra settings, fault to inject, startup script, expected error)
    type Fault = fn(&FakeGce);
    let cases: Vec<(&str, String, Fault, String, &str)> = vec![
        (
            "missing project",
            String::new(),
            |_| {},
            String::new(),
            "a project_id must be specified",
        ),
        (
            "unknown family",
            "image_name = \"forge-bad-1\"".into(),
            |_| {},
            String::new(),
            "Error getting source image for instance creation: no image in family no-such-family in projects debian-cloud, forge-test",
        ),
        (
            "operation error",
            "image_name = \"forge-bad-2\"".into(),
            |g| g.fail_operation("instances", "insert", "QUOTA_EXCEEDED", 1),
            String::new(),
            "Error creating instance: QUOTA_EXCEEDED: QUOTA_EXCEEDED: injected by the test",
        ),
        (
            "no capacity",
            "image_name = \"forge-bad-3\"".into(),
            |g| g.exhaust_zone("us-central1-a"),
            String::new(),
            "Error creating instance: ZONE_RESOURCE_POOL_EXHAUSTED: The zone 'projects/forge-test/zones/us-central1-a' does not have enough resources",
        ),
        (
            "image operation error",
            "image_name = \"forge-bad-4\"".into(),
            |g| g.fail_operation("images", "insert", "INTERNAL_ERROR", 1),
            String::new(),
            "Error waiting for image: INTERNAL_ERROR: INTERNAL_ERROR: injected by the test",
        ),
        (
            "startup script error",
            "image_name = \"forge-bad-5\"\n  startup_script_file = \"startup.sh\"".into(),
            |_| {},
            script("exit 3"),
            "Error waiting for startup script to finish: Startup script exited with error.",
        ),
    ];
    for (what, extra, fault, startup, want) in cases {
        let g2 = FakeGce::start();
        // Capacity stays exhausted: that case gets a fake of its own.
        let g = if what == "no capacity" { &g2 } else { &g };
        fault(g);
        let mut t = template(g, &s, &extra, "\"true\"");
        if what == "missing project" {
            t = t.replace(&format!("project_id              = \"{PROJECT}\""), "");
        }
        if what == "unknown family" {
            t = t.replace("\"debian-12\"", "\"no-such-family\"");
        }
        let mut files = vec![("t.pkr.hcl", t.as_str())];
        if !startup.is_empty() {
            files.push(("startup.sh", startup.as_str()));
        }
        let sb = Sandbox::new(FORGE, &files);
        let out = build(&sb, false);
        let text = all(&out);
        assert_ne!(out.code, 0, "{what}: {text}");
        assert!(text.contains(want), "{what}: missing {want:?} in:\n{text}");
        assert!(!text.contains("panicked"), "{what}: {text}");
        assert_clean(g, &sb, &[], what, &text);
    }
}

#[test]
fn an_expired_service_account_token_is_replaced_and_an_expired_access_token_named() {
    let g = FakeGce::start();
    let s = instance(&g);
    // The token expires while the provisioner runs: forge fetches a new one from the key
    // file's token_uri and goes on.
    let t = template(
        &g,
        &s,
        "image_name = \"forge-expired\"",
        &format!("\"touch {}/expire-now\", \"sleep 2\"", s.home().display()),
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
    let flag = s.home().join("expire-now");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !flag.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    g.expire_tokens();
    let status = child.wait().unwrap();
    let text = sb.spawned_output();
    let _ = std::fs::remove_file(&flag);
    assert!(status.success(), "{text}");
    assert_eq!(g.tokens_issued(), 2, "no new token after the first expired");
    assert_clean(&g, &sb, &["forge-expired"], "expired token", &text);

    // A fixed access_token that expired cannot be replaced: the first call says so.
    let t = template(&g, &s, "image_name = \"forge-expired-2\"", "\"true\"").replace(
        &format!(
            "account_file            = \"{}\"",
            g.account_file().display()
        ),
        "access_token            = \"ya29.expired-token\"",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let text = build_fails(&sb, "Error checking for an existing image forge-expired-2: googleapi: Error 401: Request had invalid authentication credentials");
    assert!(
        !text.contains("ya29.expired-token"),
        "the token reached the output:\n{text}"
    );
    assert_clean(&g, &sb, &["forge-expired"], "expired access token", &text);
}

/// A build slowed by a provisioner pause, so interrupts land in every phase.
fn slow_template(g: &FakeGce, s: &Sshd, name: &str) -> String {
    template(g, s, &format!("image_name = \"{name}\""), "\"sleep 1\"")
}

#[test]
fn interrupts_at_random_points_leave_nothing_of_the_run() {
    let g = FakeGce::start();
    let s = instance(&g);
    let sb = Sandbox::new(
        FORGE,
        &[("t.pkr.hcl", &slow_template(&g, &s, "forge-int-probe"))],
    );
    let start = std::time::Instant::now();
    let out = build(&sb, false);
    assert_eq!(out.code, 0, "{}", all(&out));
    let whole = start.elapsed();
    let mut rng = Rng::new();
    let mut kept = vec!["forge-int-probe".to_string()];
    for round in 0..20 {
        let name = format!("forge-int-{round}");
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &slow_template(&g, &s, &name))]);
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
        let at = Duration::from_millis(rng.below(whole.as_millis() as u64));
        std::thread::sleep(at);
        build::signal(child.id(), "INT");
        let status = child.wait().unwrap();
        let text = sb.spawned_output();
        if status.success() {
            // The build finished before the interrupt: its image is its result.
            kept.push(name.clone());
        }
        let all_keep: Vec<&str> = kept.iter().map(String::as_str).collect();
        assert_clean(
            &g,
            &sb,
            &all_keep,
            &format!("round {round}, SIGINT after {at:?}"),
            &text,
        );
    }
}

#[test]
fn sigkill_then_forge_cleanup_leaves_nothing_of_the_run() {
    let g = FakeGce::start();
    let s = instance(&g);
    let mut rng = Rng::new();
    let mut kept: Vec<String> = Vec::new();
    for round in 0..5 {
        let name = format!("forge-kill-{round}");
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &slow_template(&g, &s, &name))]);
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
        // Kill once the instance is being made (or a little after).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !sb.spawned_output().contains("Creating instance...")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(rng.below(1500)));
        build::signal(child.id(), "KILL");
        let _ = child.wait();
        // Operations forge started finish on their own.
        std::thread::sleep(Duration::from_millis(500));
        let text = sb.spawned_output();
        let out = sb.run(&["cleanup"], None, &[]);
        assert_eq!(
            out.code,
            0,
            "round {round}: cleanup failed:\n{}\nbuild:\n{text}",
            all(&out)
        );
        if text.contains(&format!("project: {name}")) {
            // The build finished before the kill: its image is its result.
            kept.push(name.clone());
        }
        let keep: Vec<&str> = kept.iter().map(String::as_str).collect();
        assert_clean(
            &g,
            &sb,
            &keep,
            &format!("round {round}"),
            &format!("cleanup:\n{}\nbuild:\n{text}", all(&out)),
        );
    }
}

/// The password the fake's Windows guest agent sets: quotes, a dollar and markup, so that
/// every layer must carry it, and it must never be shown.
const AGENT_PASSWORD: &str = "Gc3'\"agent$pw<&>";

#[test]
fn a_windows_build_gets_its_winrm_password_from_the_guest_agent_and_never_shows_it() {
    let g = FakeGce::start();
    g.add_windows_image(
        "windows-cloud",
        "windows-server-2022-dc-v20240101",
        "windows-2022",
    );
    g.set_windows_password(AGENT_PASSWORD);
    // The "instance": forge-wsman (a WS-Management server emulating Windows) on loopback,
    // whose user has the password the agent sets.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let c = tempfile::tempdir().unwrap();
    let server = rt
        .block_on(forge_wsman::Server::start(forge_wsman::Config {
            users: vec![("packer_user".into(), AGENT_PASSWORD.into())],
            sandbox_root: c.path().to_path_buf(),
            ..forge_wsman::Config::default()
        }))
        .unwrap();
    let t = format!(
        r#"
source "googlecompute" "win" {{
  project_id              = "{PROJECT}"
  zone                    = "us-central1-a"
  source_image_family     = "windows-2022"
  source_image_project_id = ["windows-cloud"]
  account_file            = "{account}"
  custom_endpoints        = {{ compute = "{endpoint}" }}
  image_name              = "forge-windows-1"
  communicator            = "winrm"
  winrm_username          = "packer_user"
  winrm_port              = {port}
  winrm_timeout           = "30s"
  state_timeout           = "1m"
}}

build {{
  sources = ["source.googlecompute.win"]
  provisioner "powershell" {{
    inline = ["Write-Output \"provisioned over winrm\""]
  }}
}}
"#,
        account = g.account_file().display(),
        endpoint = g.endpoint(),
        port = server.port(),
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb, false);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    for want in [
        "==> googlecompute.win: Creating windows user for instance...",
        "googlecompute.win: Waiting for windows password to complete...",
        "googlecompute.win: Created password.",
        "googlecompute.win: provisioned over winrm",
        "A disk image was created in the 'forge-test' project: forge-windows-1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        !text.contains(AGENT_PASSWORD) && !text.contains("agent$pw"),
        "the password reached the output:\n{text}"
    );
    // The exchange went through the API: the key into metadata, the answer from port 4.
    let calls = g.calls();
    for want in ["/setMetadata", "/serialPort"] {
        assert!(
            calls.iter().any(|c| c.ends_with(want)),
            "no {want}: {calls:#?}"
        );
    }
    // The provisioner ran on the machine, logged in with the agent's password.
    assert!(!server.commands().is_empty());
    assert_clean(&g, &sb, &["forge-windows-1"], "windows build", &text);
    rt.block_on(server.stop());
}

/// A 256-bit customer-supplied key, base64.
const RAW_KEY: &str = "Zm9yZ2UtdGVzdC1rZXktMzItYnl0ZXMtbG9uZy4uLi4=";

#[test]
fn disk_keys_shielded_vm_accelerators_and_cpu_platform_reach_the_instance_and_image() {
    let g = FakeGce::start();
    let s = instance(&g);
    let t = template(
        &g,
        &s,
        &format!(
            r#"image_name = "forge-disks-1"
  disk_type = "pd-ssd"
  disk_encryption_key {{
    rawKey = "{RAW_KEY}"
  }}
  image_encryption_key {{
    kmsKeyName = "projects/{PROJECT}/locations/global/keyRings/r/cryptoKeys/k"
  }}
  enable_secure_boot = true
  accelerator_type = "nvidia-tesla-t4"
  accelerator_count = 1
  on_host_maintenance = "TERMINATE"
  min_cpu_platform = "Intel Ice Lake"
  node_affinity {{
    key = "workload"
    operator = "IN"
    values = ["build"]
  }}"#
        ),
        "\"true\"",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb, false);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    assert!(
        !text.contains(RAW_KEY),
        "the raw key reached the output:\n{text}"
    );
    let inst = g.instances_made().pop().unwrap();
    assert!(
        inst["disks"][0]["diskEncryptionKey"]["sha256"].is_string(),
        "{inst}"
    );
    assert_eq!(
        inst["shieldedInstanceConfig"],
        serde_json::json!({"enableSecureBoot": true, "enableVtpm": true, "enableIntegrityMonitoring": true})
    );
    assert_eq!(
        inst["guestAccelerators"][0]["acceleratorCount"], 1,
        "{inst}"
    );
    assert_eq!(inst["minCpuPlatform"], "Intel Ice Lake");
    assert_eq!(inst["scheduling"]["nodeAffinities"][0]["key"], "workload");
    let img = g.get("images", PROJECT, "global", "forge-disks-1").unwrap();
    assert_eq!(
        img["imageEncryptionKey"]["kmsKeyName"],
        format!("projects/{PROJECT}/locations/global/keyRings/r/cryptoKeys/k")
    );
    assert_clean(&g, &sb, &["forge-disks-1"], "disk options", &text);

    // What the zone or image cannot do is the API's error, and nothing is left.
    g.add_image(PROJECT, "bios-only", "bios");
    for (what, extra, want) in [
        (
            "disk type",
            "disk_type = \"pd-floppy\"".to_string(),
            "Error creating instance: googleapi: Error 400: Invalid value for field 'resource.disks[0].initializeParams.diskType'",
        ),
        (
            "shielded on a BIOS image",
            "enable_vtpm = true\n  source_image = \"bios-only\"".into(),
            "Shielded VM options need a boot image with the UEFI_COMPATIBLE guest OS feature; bios-only does not have it.",
        ),
        (
            "unknown accelerator",
            "accelerator_type = \"nvidia-h9000\"\n  accelerator_count = 1\n  on_host_maintenance = \"TERMINATE\"".into(),
            "Accelerator type 'nvidia-h9000' does not exist in zone 'us-central1-a'.",
        ),
        (
            "accelerator without TERMINATE",
            "accelerator_type = \"nvidia-tesla-t4\"\n  accelerator_count = 1".into(),
            "'on_host_maintenance' must be set to 'TERMINATE' when 'accelerator_count' is more than 0",
        ),
        (
            "unknown CPU platform",
            "min_cpu_platform = \"Intel 8086\"".into(),
            "Invalid value for field 'resource.minCpuPlatform': 'Intel 8086'. Unknown CPU platform.",
        ),
        (
            "short raw key",
            "disk_encryption_key {\n    rawKey = \"c2hvcnQ=\"\n  }".into(),
            "disk_encryption_key: rawKey must be a 256-bit key in base64 (RFC 4648)",
        ),
    ] {
        let mut t = template(&g, &s, &extra, "\"true\"");
        if extra.contains("source_image =") {
            t = t.replace("source_image_family     = \"debian-12\"", "");
        }
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
        let out = build(&sb, false);
        let text = all(&out);
        assert_ne!(out.code, 0, "{what}: {text}");
        assert!(text.contains(want), "{what}: missing {want:?} in:\n{text}");
        assert!(!text.contains("panicked"), "{what}: {text}");
        assert_clean(&g, &sb, &["forge-disks-1", "bios-only"], what, &text);
    }
}

#[test]
fn gclouds_adc_file_and_impersonation_authenticate_and_their_failures_are_named() {
    use forge_testkit::gce::{IMPERSONATION_TARGET, USER_EMAIL};
    let g = FakeGce::start();
    let s = instance(&g);
    let account_line = format!(
        "account_file            = \"{}\"",
        g.account_file().display()
    );
    // gcloud's application default credentials (an authorized_user refresh token) in
    // CLOUDSDK_CONFIG, no credentials in the template.
    let gcloud = tempfile::tempdir().unwrap();
    let adc = g.authorized_user_json();
    std::fs::write(
        gcloud.path().join("application_default_credentials.json"),
        adc.to_string(),
    )
    .unwrap();
    let cfg = gcloud.path().display().to_string();
    let env = [
        ("CLOUDSDK_CONFIG", cfg.as_str()),
        ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ];
    let t = template(&g, &s, "image_name = \"forge-adc\"", "\"true\"").replace(&account_line, "");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &env);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    let callers = g.callers();
    assert!(
        !callers.is_empty() && callers.iter().all(|c| c == USER_EMAIL),
        "{callers:?}"
    );
    for secret in ["refresh_token", "client_secret"] {
        let v = adc[secret].as_str().unwrap();
        assert!(
            !text.contains(v),
            "the {secret} reached the output:\n{text}"
        );
    }
    assert_clean(&g, &sb, &["forge-adc"], "adc", &text);

    // A refresh token the endpoint refuses is named.
    let mut bad = adc.clone();
    bad["refresh_token"] = "1//revoked".into();
    std::fs::write(
        gcloud.path().join("application_default_credentials.json"),
        bad.to_string(),
    )
    .unwrap();
    let t = template(&g, &s, "image_name = \"forge-adc-2\"", "\"true\"").replace(&account_line, "");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &env);
    let text = all(&out);
    assert_ne!(out.code, 0, "{text}");
    assert!(text.contains("invalid_grant: Bad Request"), "{text}");
    assert!(!text.contains("1//revoked"), "{text}");
    assert_clean(&g, &sb, &["forge-adc"], "revoked adc", &text);

    // The service account's token only buys the impersonated account's, which makes every
    // Compute Engine call.
    let imp = |who: &str| {
        format!(
            "impersonate_service_account = \"{who}\"\n  custom_endpoints = {{ compute = \"{e}\", iamcredentials = \"{e}\" }}",
            e = g.endpoint()
        )
    };
    let endpoint_line = format!(
        "custom_endpoints        = {{ compute = \"{}\" }}",
        g.endpoint()
    );
    let t = template(
        &g,
        &s,
        &format!(
            "image_name = \"forge-imp\"\n  {}",
            imp(IMPERSONATION_TARGET)
        ),
        "\"true\"",
    )
    .replace(&endpoint_line, "");
    let before = g.callers().len();
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb, false);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    let callers = g.callers()[before..].to_vec();
    // The one IAM call is the service account's; every Compute Engine call the target's.
    assert_eq!(callers[0], g.client_email(), "{callers:?}");
    assert!(
        callers[1..].iter().all(|c| c == IMPERSONATION_TARGET),
        "{callers:?}"
    );
    assert_clean(&g, &sb, &["forge-adc", "forge-imp"], "impersonation", &text);

    // An account the caller may not impersonate: IAM's refusal, named.
    let t = template(
        &g,
        &s,
        &format!(
            "image_name = \"forge-imp-2\"\n  {}",
            imp("other@forge-test.iam.gserviceaccount.com")
        ),
        "\"true\"",
    )
    .replace(&endpoint_line, "");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let text = build_fails(&sb, "impersonating other@forge-test.iam.gserviceaccount.com (impersonate_service_account): 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied");
    assert_clean(
        &g,
        &sb,
        &["forge-adc", "forge-imp"],
        "impersonation refused",
        &text,
    );
}

#[test]
fn a_full_zone_falls_back_to_the_next_and_the_build_ends_there() {
    let g = FakeGce::start();
    let s = instance(&g);
    g.exhaust_zone("us-central1-a");
    g.exhaust_zone("us-central1-b");
    let t = template(
        &g,
        &s,
        r#"image_name = "forge-fallback"
  fallback_zones = ["us-central1-b", "us-central1-c"]"#,
        "\"true\"",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb, false);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    for want in [
        "Compute Engine has no capacity in us-central1-a (ZONE_RESOURCE_POOL_EXHAUSTED); trying us-central1-b",
        "Compute Engine has no capacity in us-central1-b (ZONE_RESOURCE_POOL_EXHAUSTED); trying us-central1-c",
        "A disk image was created in the 'forge-test' project: forge-fallback",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let img = g
        .get("images", PROJECT, "global", "forge-fallback")
        .unwrap();
    assert!(
        img["sourceDisk"]
            .as_str()
            .unwrap()
            .contains("/zones/us-central1-c/disks/"),
        "{img}"
    );
    assert_clean(&g, &sb, &["forge-fallback"], "fallback", &text);

    // Every zone full: each is named, nothing is left.
    let t = template(
        &g,
        &s,
        r#"image_name = "forge-fallback-2"
  fallback_zones = ["us-central1-b"]"#,
        "\"true\"",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let text = build_fails(&sb, "Error creating instance: no capacity in any of us-central1-a, us-central1-b: Error creating instance: ZONE_RESOURCE_POOL_EXHAUSTED");
    assert_clean(&g, &sb, &["forge-fallback"], "no zone", &text);

    // A fallback zone that repeats the zone is a configuration error.
    let t = template(&g, &s, r#"fallback_zones = ["us-central1-a"]"#, "\"true\"");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = sb.run(&["validate", "t.pkr.hcl"], None, &[]);
    assert_ne!(out.code, 0);
    assert!(
        all(&out).contains("fallback_zones: \"us-central1-a\" must be a zone other than zone"),
        "{}",
        all(&out)
    );
}

#[test]
fn os_login_imports_the_key_connects_as_the_posix_user_and_deletes_the_key() {
    let g = FakeGce::start();
    let s = instance(&g);
    g.set_posix_username(s.user());
    let account = g.client_email().to_string();
    // ssh_username is not the profile's user: OS Login's user is the one that logs in.
    let t = template(
        &g,
        &s,
        r#"image_name = "forge-oslogin"
  use_os_login = true
  oslogin_ssh_key_expire_after = "10m""#,
        &provision_file(&s),
    )
    .replace(
        &format!("ssh_username            = \"{}\"", s.user()),
        "ssh_username = \"not-the-user\"",
    )
    .replace(
        &format!(
            "custom_endpoints        = {{ compute = \"{}\" }}",
            g.endpoint()
        ),
        &format!(
            "custom_endpoints = {{ compute = \"{e}\", oslogin = \"{e}\" }}",
            e = g.endpoint()
        ),
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb, false);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}\nsshd:\n{}", s.log());
    for want in [
        "==> googlecompute.fake: Importing SSH public key for OSLogin...",
        &format!("googlecompute.fake: SSH username for OSLogin: {}", s.user()),
        "==> googlecompute.fake: Deleting SSH public key for OSLogin...",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(g.oslogin_keys(&account).is_empty(), "the key stayed");
    let inst = g.instances_made().pop().unwrap();
    let items = inst["metadata"]["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|i| i["key"] == "enable-oslogin" && i["value"] == "TRUE"));
    assert!(!items.iter().any(|i| i["key"] == "ssh-keys"), "{inst}");
    assert_clean(&g, &sb, &["forge-oslogin"], "os login", &text);

    // A killed build's key is found by `forge cleanup`.
    let t2 = t
        .replace("forge-oslogin", "forge-oslogin-2")
        .replace(&provision_file(&s), "\"sleep 30\"");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t2)]);
    let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !sb.spawned_output().contains("Creating instance...")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(g.oslogin_keys(&account).len(), 1, "{}", sb.spawned_output());
    build::signal(child.id(), "KILL");
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    let out = sb.run(&["cleanup"], None, &[]);
    assert_eq!(out.code, 0, "{}", all(&out));
    assert!(
        g.oslogin_keys(&account).is_empty(),
        "cleanup left the key: {}",
        all(&out)
    );
    assert_clean(&g, &sb, &["forge-oslogin"], "os login killed", &all(&out));

    // User credentials (gcloud's) have no email forge can use: said at the step.
    let gcloud = tempfile::tempdir().unwrap();
    std::fs::write(
        gcloud.path().join("application_default_credentials.json"),
        g.authorized_user_json().to_string(),
    )
    .unwrap();
    let cfg = gcloud.path().display().to_string();
    let t3 = template(&g, &s, "use_os_login = true", "\"true\"").replace(
        &format!(
            "account_file            = \"{}\"",
            g.account_file().display()
        ),
        "",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t3)]);
    let out = sb.run(
        &["build", "-color=false", "t.pkr.hcl"],
        None,
        &[
            ("CLOUDSDK_CONFIG", cfg.as_str()),
            ("GOOGLE_APPLICATION_CREDENTIALS", ""),
        ],
    );
    assert_ne!(out.code, 0);
    assert!(
        all(&out).contains("use_os_login: forge needs the account's email"),
        "{}",
        all(&out)
    );
    assert_clean(
        &g,
        &sb,
        &["forge-oslogin"],
        "os login without email",
        &all(&out),
    );
}

/// A stand-in for `gcloud`: logs its arguments, checks that the token file holds a token, and
/// forwards its `--local-host-port` to the port in `FORGE_TEST_IAP_TARGET` (the tests' sshd),
/// as `gcloud compute start-iap-tunnel` forwards to the instance.
const GCLOUD_STAND_IN: &str = r#"#!/usr/bin/python3
import os, socket, sys, threading
log = open(os.environ["FORGE_TEST_IAP_LOG"], "a")
log.write(" ".join(sys.argv[1:]) + "\n")
arg = lambda k: [a.split("=", 1)[1] for a in sys.argv if a.startswith(k + "=")][0]
log.write("token-file: %s\n" % open(arg("--access-token-file")).read().startswith("ya29."))
log.close()
port = int(arg("--local-host-port").rsplit(":", 1)[1])
target = int(os.environ["FORGE_TEST_IAP_TARGET"])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen()
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
"#;

#[test]
fn use_iap_tunnels_through_gcloud_and_says_so_when_gcloud_is_missing() {
    let g = FakeGce::start();
    let s = instance(&g);
    let bin = tempfile::tempdir().unwrap();
    let gcloud = bin.path().join("gcloud");
    std::fs::write(&gcloud, GCLOUD_STAND_IN).unwrap();
    std::process::Command::new("chmod")
        .args(["0755"])
        .arg(&gcloud)
        .status()
        .unwrap();
    let log = bin.path().join("argv.log");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The instance's own address is not reachable: only the tunnel is.
    let t = template(
        &g,
        &s,
        "image_name = \"forge-iap\"\n  use_iap = true\n  iap_localhost_port = 8822\n  instance_name = \"forge-iap-vm\"",
        &provision_file(&s),
    )
    .replace(&format!("ssh_port                = {}", s.port()), "ssh_port = 22");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let target = s.port().to_string();
    let log_s = log.display().to_string();
    let env = [
        ("PATH", path.as_str()),
        ("FORGE_TEST_IAP_TARGET", target.as_str()),
        ("FORGE_TEST_IAP_LOG", log_s.as_str()),
    ];
    let out = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &env);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}\nsshd:\n{}", s.log());
    for want in [
        "==> googlecompute.fake: Step Launch IAP Tunnel...",
        "googlecompute.fake: IAP tunnel open on localhost:8822",
        "==> googlecompute.fake: Using ssh communicator to connect: localhost",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let argv = std::fs::read_to_string(&log).unwrap();
    assert!(
        argv.starts_with(&format!(
            "compute start-iap-tunnel forge-iap-vm 22 --local-host-port=localhost:8822 --zone=us-central1-a --project={PROJECT} --access-token-file="
        )),
        "{argv}"
    );
    assert!(argv.contains("token-file: True"), "{argv}");
    assert!(!text.contains("ya29.fake-"), "{text}");
    // The tunnel is stopped, its script and token file gone.
    assert!(
        forge_testkit::build::settle_processes(&gcloud.display().to_string()).is_empty(),
        "the tunnel still runs"
    );
    assert_clean(&g, &sb, &["forge-iap"], "iap", &text);

    // No gcloud on PATH: a clear error before anything is made.
    let empty = tempfile::tempdir().unwrap();
    let t = t.replace("forge-iap", "forge-iap-2");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let p = empty.path().display().to_string();
    let out = sb.run(
        &["build", "-color=false", "t.pkr.hcl"],
        None,
        &[("PATH", p.as_str())],
    );
    let text = all(&out);
    assert_ne!(out.code, 0, "{text}");
    assert!(
        text.contains(
            "use_iap: gcloud is not installed (no gcloud on PATH): install the Google Cloud CLI"
        ),
        "{text}"
    );
    assert_clean(&g, &sb, &["forge-iap"], "iap without gcloud", &text);
}

#[test]
fn calls_over_the_rate_quota_wait_for_retry_after_and_go_on() {
    let g = FakeGce::start();
    let s = instance(&g);
    // The first four Compute Engine calls are refused (429, Retry-After: 1).
    g.throttle(4, 1);
    let t = template(&g, &s, "image_name = \"forge-throttled\"", "\"true\"");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let start = std::time::Instant::now();
    let out = build(&sb, false);
    let took = start.elapsed();
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    assert!(
        took >= Duration::from_secs(4),
        "the holds were not honoured: {took:?}"
    );
    assert!(!text.contains("Rate Limit Exceeded"), "{text}");
    assert_clean(&g, &sb, &["forge-throttled"], "throttled", &text);
}
