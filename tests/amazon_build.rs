//! amazon-ebs, the amazon-ami data source and amazon-ami-management end to end against moto's
//! EC2 emulator (forge-testkit's moto), with a real sshd standing in for the instance: it accepts
//! the key pairs moto knows, so the builder's temporary key pair really logs in and the shell
//! provisioner really runs. Faults (throttling, no capacity) come from a proxy in front of moto.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, cli, moto, sshd};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::time::Duration;

use build::{Out, Rng, Sandbox};
use moto::{Fault, FaultProxy, Moto};
use sshd::{Sshd, SshdOptions};

const CREDS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIAFORGETEST"),
    ("AWS_SECRET_ACCESS_KEY", "forge-test-secret"),
];

/// An sshd that accepts every key pair in `m`.
fn instance(m: &Moto) -> Sshd {
    sshd::require_root();
    let cmd = m.authorized_keys_command();
    Sshd::start(
        SshdOptions::pubkey_only()
            .line(&format!("AuthorizedKeysCommand {cmd} %u"))
            .line("AuthorizedKeysCommandUser nobody"),
    )
}

/// An HCL2 template: one amazon-ebs source with `extra` arguments, a shell provisioner, and
/// `post` (post-processor blocks).
fn template(endpoint: &str, s: &Sshd, source: &str, extra: &str, post: &str) -> String {
    format!(
        r#"
source "amazon-ebs" "moto" {{
  access_key          = "AKIAFORGETEST"
  secret_key          = "forge-test-secret"
  region              = "us-east-1"
  custom_endpoint_ec2 = "{endpoint}"
  {source}
  instance_type       = "t2.micro"
  ssh_username        = "{user}"
  ssh_host            = "127.0.0.1"
  ssh_port            = {port}
  ssh_timeout         = "30s"
  {extra}
}}

build {{
  sources = ["source.amazon-ebs.moto"]
  provisioner "shell" {{
    inline = ["echo provisioned-on-$(hostname) > {home}/provisioned-${{build.ID}}"]
  }}
  {post}
}}
"#,
        user = s.user(),
        port = s.port(),
        home = s.home().display(),
    )
}

fn source_by_filter(m: &Moto) -> String {
    let (_, name) = m.some_image("us-east-1");
    format!(
        r#"source_ami_filter {{
    filters     = {{ name = "{name}" }}
    owners      = ["amazon"]
    most_recent = true
  }}"#
    )
}

fn build(sb: &Sandbox) -> Out {
    sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &CREDS)
}

fn all(out: &Out) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

/// Nothing in moto but what `keep` allows (AMIs and their snapshots after a good build), no
/// journal, nothing in TMPDIR.
fn assert_clean(m: &Moto, sb: &Sandbox, keep_images: bool, what: &str, output: &str) {
    for region in ["us-east-1", "us-west-2"] {
        let left: Vec<String> = m
            .leftovers(region)
            .into_iter()
            .filter(|l| !(keep_images && (l.starts_with("AMI ") || l.starts_with("snapshot "))))
            .collect();
        assert!(
            left.is_empty(),
            "{what}: left in moto ({region}): {left:?}\n{output}"
        );
    }
    let j = sb.journals();
    assert!(j.is_empty(), "{what}: journals left: {j:?}\n{output}");
    let tmp = sb.tmp_leftovers();
    assert!(tmp.is_empty(), "{what}: left in TMPDIR: {tmp:?}\n{output}");
}

#[test]
fn an_ami_is_built_tagged_copied_and_old_releases_are_pruned() {
    let m = Moto::start(None);
    let s = instance(&m);
    let (_, name) = m.some_image("us-east-1");
    // The data source finds the source image; the post-processors keep two releases and
    // write a manifest.
    let data = format!(
        r#"
data "amazon-ami" "base" {{
  access_key          = "AKIAFORGETEST"
  secret_key          = "forge-test-secret"
  region              = "us-east-1"
  custom_endpoint_ec2 = "{}"
  filters             = {{ name = "{name}" }}
  owners              = ["amazon"]
  most_recent         = true
}}
"#,
        m.endpoint()
    );
    let mut ids = Vec::new();
    for release in 1..=3 {
        let t = data.clone()
            + &template(
                &m.endpoint(),
                &s,
                "source_ami = data.amazon-ami.base.id",
                &format!(
                    r#"ami_name = "forge-release-{release}"
  ami_regions = ["us-west-2"]
  tags = {{ Name = "forge-{release}", Amazon_AMI_Management_Identifier = "forge-app", Source = "{{{{ .SourceAMIName }}}}" }}
  snapshot_tags = {{ Kind = "snap" }}
  run_tags = {{ Role = "build" }}"#
                ),
                r#"post-processors {
    post-processor "amazon-ami-management" {
      access_key          = "AKIAFORGETEST"
      secret_key          = "forge-test-secret"
      region              = "us-east-1"
      custom_endpoint_ec2 = "ENDPOINT"
      regions             = ["us-east-1", "us-west-2"]
      identifier          = "forge-app"
      keep_releases       = 2
    }
    post-processor "manifest" {
      output = "manifest.json"
    }
  }"#
                .replace("ENDPOINT", &m.endpoint())
                .as_str(),
            );
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
        let out = build(&sb);
        let text = all(&out);
        assert_eq!(
            out.code,
            0,
            "release {release}:\n{text}\nsshd:\n{}\nmoto:\n{}",
            s.log(),
            m.log()
        );
        assert!(
            !text.contains("forge-test-secret"),
            "a secret reached the output:\n{text}"
        );
        for want in [
            "==> amazon-ebs.moto: Creating temporary keypair: packer_",
            "==> amazon-ebs.moto: Creating temporary security group for this instance: packer_",
            "==> amazon-ebs.moto: Launching a source AWS instance...",
            "==> amazon-ebs.moto: Stopping the source instance...",
            "==> amazon-ebs.moto: Copying/Encrypting AMI (",
            "==> amazon-ebs.moto: Terminating the source AWS instance...",
            "==> amazon-ebs.moto: Deleting temporary security group...",
            "==> amazon-ebs.moto: Deleting temporary keypair...",
            "AMIs were created:\nus-east-1: ami-",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        // The artifact id is Packer's `region:ami,...`, sorted by region.
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sb.path("manifest.json")).unwrap())
                .unwrap();
        let id = manifest["builds"][0]["artifact_id"]
            .as_str()
            .unwrap()
            .to_string();
        let parts: Vec<&str> = id.split(',').collect();
        assert!(
            parts.len() == 2
                && parts[0].starts_with("us-east-1:ami-")
                && parts[1].starts_with("us-west-2:ami-"),
            "{id}"
        );
        // The AMI carries its tags, rendered, in both regions; the provisioner ran.
        for (region, ami) in parts.iter().map(|p| p.split_once(':').unwrap()) {
            let xml = m.query(region, &format!("Action=DescribeImages&ImageId.1={ami}"));
            assert!(xml.contains(&format!("forge-release-{release}")), "{xml}");
            assert!(
                xml.contains("<value>forge-app</value>"),
                "{region} {ami} untagged: {xml}"
            );
            assert!(
                xml.contains(&format!("<value>{name}</value>")),
                "{region}: Source tag not rendered: {xml}"
            );
        }
        let instance = text
            .split("Instance ID: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("the instance id is shown");
        let marker = s.home().join(format!("provisioned-{instance}"));
        assert!(
            marker.exists(),
            "the shell provisioner did not run on the 'instance' ({marker:?})"
        );
        let _ = std::fs::remove_file(marker);
        ids.push(
            parts
                .iter()
                .map(|p| p.split_once(':').unwrap().1.to_string())
                .collect::<Vec<_>>(),
        );
        assert_clean(&m, &sb, true, &format!("release {release}"), &text);
    }
    // amazon-ami-management kept the two newest releases in each region.
    for (i, region) in ["us-east-1", "us-west-2"].into_iter().enumerate() {
        let left = Moto::values(
            &m.query(region, "Action=DescribeImages&Owner.1=self"),
            "imageId",
        );
        let mut want = vec![ids[1][i].clone(), ids[2][i].clone()];
        let mut got = left.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{region}");
    }
}

#[test]
fn no_capacity_falls_back_and_throttling_is_ridden_out() {
    let m = Moto::start(None);
    let s = instance(&m);
    let p = FaultProxy::start(m.port());
    p.inject(Fault {
        needle: "InstanceType=t2.micro".into(),
        code: "InsufficientInstanceCapacity".into(),
        status: 500,
        times: None,
    });
    p.inject(Fault {
        needle: "Action=DescribeImages".into(),
        code: "RequestLimitExceeded".into(),
        status: 503,
        times: Some(3),
    });
    let t = template(
        &p.endpoint(),
        &s,
        &source_by_filter(&m),
        r#"ami_name = "forge-fallback"
  fallback_instance_types = ["t3.micro"]"#,
        "",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}\n{}", s.log());
    assert!(
        text.contains(
            "EC2 has no capacity for t2.micro (InsufficientInstanceCapacity); trying t3.micro"
        ),
        "{text}"
    );
    let seen = p.seen();
    let throttled = seen
        .iter()
        .filter(|(a, f)| a == "DescribeImages" && *f)
        .count();
    assert_eq!(throttled, 3, "{seen:?}");
    assert!(
        seen.iter().any(|(a, f)| a == "DescribeImages" && !*f),
        "{seen:?}"
    );
    let xml = m.query("us-east-1", "Action=DescribeInstances");
    assert!(
        xml.contains("t3.micro") && !xml.contains("<instanceType>t2.micro"),
        "{xml}"
    );
    assert_clean(&m, &sb, true, "fallback", &text);
}

/// Answers every HTTP request with `body` (a stand-in for checkip.amazonaws.com).
fn serve_text(body: &'static str) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/")
}

#[test]
fn spot_encryption_and_the_hosts_own_address() {
    let m = Moto::start(None);
    let s = instance(&m);
    let p = FaultProxy::start(m.port());
    p.inject(Fault {
        needle: "InstanceType=t3.micro".into(),
        code: "InsufficientInstanceCapacity".into(),
        status: 500,
        times: None,
    });
    let checkip = serve_text("127.0.0.1\n");
    let t = template(
        &p.endpoint(),
        &s,
        &source_by_filter(&m),
        r##"ami_name = "forge-encrypted"
  spot_price = "auto"
  spot_instance_types = ["t3.micro", "t3a.micro"]
  encrypt_boot = true
  kms_key_id = "alias/forge-test"
  temporary_security_group_source_public_ip = true
  imds_support = "v2.0"
  user_data = "#cloud-config"
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = 12
    volume_type           = "gp3"
    delete_on_termination = true
  }"##,
        "",
    )
    .replace("  instance_type       = \"t2.micro\"\n", "");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let mut env = CREDS.to_vec();
    env.push(("FORGE_CHECKIP_URL", &checkip));
    let out = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &env);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}\n{}", s.log());
    for want in [
        "==> amazon-ebs.moto: Launching a spot AWS instance...",
        "EC2 has no capacity for t3.micro (InsufficientInstanceCapacity); trying t3a.micro",
        "from [127.0.0.1/32] in the temporary security groups",
        "==> amazon-ebs.moto: Creating AMI packer-intermediary-",
        "==> amazon-ebs.moto: Deleting the unencrypted intermediary AMI (",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let bodies = p.bodies();
    let run = bodies
        .iter()
        .find(|b| b.contains("Action=RunInstances") && b.contains("t3a.micro"))
        .expect("a RunInstances for t3a.micro");
    for want in [
        "InstanceMarketOptions.MarketType=spot",
        "MetadataOptions.HttpTokens=required",
        // base64 of "#cloud-config"
        "UserData=I2Nsb3VkLWNvbmZpZw%3D%3D",
        "BlockDeviceMapping.1.Ebs.VolumeSize=12",
        "BlockDeviceMapping.1.Ebs.VolumeType=gp3",
    ] {
        assert!(run.contains(want), "missing {want} in {run}");
    }
    let copy = bodies
        .iter()
        .find(|b| b.contains("Action=CopyImage"))
        .expect("a CopyImage");
    assert!(
        copy.contains("Encrypted=true") && copy.contains("KmsKeyId=alias%2Fforge-test"),
        "{copy}"
    );
    // Only the encrypted copy is left, under the AMI's name.
    let xml = m.query("us-east-1", "Action=DescribeImages&Owner.1=self");
    let names = Moto::values(&xml, "name");
    assert_eq!(names, ["forge-encrypted"], "{xml}");
    assert_clean(&m, &sb, true, "spot", &text);
}

#[test]
fn bad_input_gets_a_clear_error_and_full_cleanup() {
    let m = Moto::start(None);
    let s = instance(&m);
    let p = FaultProxy::start(m.port());
    let source = source_by_filter(&m);
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "a filter that matches nothing",
            m.endpoint(),
            r#"source_ami_filter {
    filters = { name = "no-such-image-*" }
    owners  = ["amazon"]
  }"#
            .to_string(),
            "No AMI was found matching filters name=no-such-image-*",
        ),
        (
            "a region that does not exist",
            m.endpoint(),
            source.clone(),
            "Invalid region \"mars-north-1\"",
        ),
        (
            "throttling that never stops",
            p.endpoint(),
            source.clone(),
            "RequestLimitExceeded: injected by the test proxy (the account's API rate limit was hit",
        ),
        (
            "no capacity anywhere",
            p.endpoint(),
            source.clone(),
            "no capacity for any of t2.micro",
        ),
    ];
    p.inject(Fault {
        needle: "Action=DescribeRegions".into(),
        code: "RequestLimitExceeded".into(),
        status: 503,
        times: None,
    });
    for (what, endpoint, src, want) in cases {
        let mut extra = "ami_name = \"forge-bad\"".to_string();
        if what.contains("region") {
            extra.push_str("\n  ami_regions = [\"mars-north-1\"]");
        }
        if what.contains("throttling") {
            extra.push_str("\n  max_retries = 2");
        }
        if what.contains("capacity") {
            extra.push_str("\n  skip_region_validation = true");
            p.inject(Fault {
                needle: "Action=RunInstances".into(),
                code: "InsufficientInstanceCapacity".into(),
                status: 500,
                times: None,
            });
        }
        let t = template(&endpoint, &s, &src, &extra, "");
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
        let out = build(&sb);
        let text = all(&out);
        assert_ne!(out.code, 0, "{what}: {text}");
        assert!(text.contains(want), "{what}: wanted {want:?} in:\n{text}");
        assert!(
            text.contains("Build 'amazon-ebs.moto' errored"),
            "{what}:\n{text}"
        );
        assert_clean(&m, &sb, false, what, &text);
    }

    // An AMI name already in use fails before anything is created, unless force_deregister.
    let t = template(&m.endpoint(), &s, &source, "ami_name = \"forge-taken\"", "");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb);
    assert_eq!(out.code, 0, "{}", all(&out));
    let out = build(&sb);
    let text = all(&out);
    assert_ne!(out.code, 0, "{text}");
    assert!(
        text.contains("Error: AMI Name: 'forge-taken' is used by an existing AMI: ami-"),
        "{text}"
    );
    let t = template(
        &m.endpoint(),
        &s,
        &source,
        "ami_name = \"forge-taken\"\n  force_deregister = true\n  force_delete_snapshot = true",
        "",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    assert!(text.contains("Deregistered AMI id: ami-"), "{text}");
    let amis = Moto::values(
        &m.query("us-east-1", "Action=DescribeImages&Owner.1=self"),
        "imageId",
    );
    assert_eq!(amis.len(), 1, "{amis:?}");
}

#[test]
fn credentials_from_a_profile_then_an_assumed_role() {
    let m = Moto::start(None);
    let s = instance(&m);
    let p = FaultProxy::start(m.port());
    let t = template(
        &p.endpoint(),
        &s,
        &source_by_filter(&m),
        r#"ami_name = "forge-profile"
  skip_create_ami = true
  profile = "builder"
  shared_credentials_file = "credentials"
  assume_role {
    role_arn     = "arn:aws:iam::123456789012:role/forge-builder"
    session_name = "forge-test"
  }"#,
        "",
    )
    .replace("  access_key          = \"AKIAFORGETEST\"\n", "")
    .replace("  secret_key          = \"forge-test-secret\"\n", "");
    let creds =
        "[builder]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n";
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t), ("credentials", creds)]);
    let home = sb.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let endpoint = p.endpoint();
    let env = [
        ("HOME", home.to_str().unwrap()),
        // STS calls go to moto too.
        ("AWS_ENDPOINT_URL_STS", endpoint.as_str()),
    ];
    let mut cmd = sb.command(&["build", "-color=false", "t.pkr.hcl"], &env);
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(k);
    }
    let out = cli::output(&mut cmd, None);
    let text = all(&out);
    assert_eq!(out.code, 0, "{text}");
    assert!(!text.contains("profile-secret"), "{text}");
    let reqs = p.bodies();
    let sts = reqs
        .iter()
        .find(|r| r.contains("Action=AssumeRole"))
        .unwrap_or_else(|| panic!("no AssumeRole call: {reqs:?}"));
    assert!(
        sts.contains("Credential=AKIAPROFILEKEY/"),
        "AssumeRole not signed with the profile's key: {sts}"
    );
    assert!(sts.contains("forge-builder"), "{sts}");
    let run = reqs
        .iter()
        .find(|r| r.contains("Action=RunInstances"))
        .expect("a RunInstances call");
    assert!(
        !run.contains("Credential=AKIAPROFILEKEY/")
            && run.to_ascii_lowercase().contains("x-amz-security-token"),
        "RunInstances not signed with the role's session: {run}"
    );
    assert_clean(&m, &sb, false, "profile", &text);
}

#[test]
fn bad_credentials_are_named() {
    // moto checks signatures and keys once its first call has passed unauthenticated.
    let m = Moto::start(Some(0));
    let s = Sshd::start(SshdOptions::pubkey_only());
    let t = template(
        &m.endpoint(),
        &s,
        "source_ami = \"ami-12345678\"",
        "ami_name = \"forge-creds\"",
        "",
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = build(&sb);
    let text = all(&out);
    assert_ne!(out.code, 0, "{text}");
    assert!(
        text.contains("check access_key/secret_key/token, the profile, or the AWS_* environment"),
        "{text}"
    );
    assert!(!text.contains("forge-test-secret"), "{text}");
    assert_clean(&m, &sb, false, "bad credentials", &text);
}

/// A build slowed down by a provisioner that sleeps, so interrupts land in every phase.
fn slow_template(m: &Moto, s: &Sshd, name: &str) -> String {
    template(
        &m.endpoint(),
        s,
        &source_by_filter(m),
        &format!("ami_name = \"{name}\"\n  ami_regions = [\"us-west-2\"]"),
        "",
    )
    .replace(
        "provisioner \"shell\" {",
        "provisioner \"shell\" {\n    pause_before = \"1s\"",
    )
}

#[test]
fn interrupts_at_random_points_leave_nothing_in_ec2() {
    let m = Moto::start(None);
    let s = instance(&m);
    // How long a whole build takes here.
    let sb = Sandbox::new(
        FORGE,
        &[("t.pkr.hcl", &slow_template(&m, &s, "forge-int-probe"))],
    );
    let start = std::time::Instant::now();
    let out = build(&sb);
    assert_eq!(out.code, 0, "{}", all(&out));
    let whole = start.elapsed();
    for ami in Moto::values(
        &m.query("us-east-1", "Action=DescribeImages&Owner.1=self"),
        "imageId",
    ) {
        m.query(
            "us-east-1",
            &format!("Action=DeregisterImage&ImageId={ami}"),
        );
    }
    let mut rng = Rng::new();
    for round in 0..5 {
        // Fresh moto state is not needed: every round must leave nothing new behind.
        let before_images = m.leftovers("us-east-1").len() + m.leftovers("us-west-2").len();
        let sb = Sandbox::new(
            FORGE,
            &[(
                "t.pkr.hcl",
                &slow_template(&m, &s, &format!("forge-int-{round}")),
            )],
        );
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &CREDS);
        let at = Duration::from_millis(rng.below(whole.as_millis() as u64));
        std::thread::sleep(at);
        build::signal(child.id(), "INT");
        let status = child.wait().unwrap();
        let text = sb.spawned_output();
        let after = m.leftovers("us-east-1").len() + m.leftovers("us-west-2").len();
        if status.success() {
            // The build finished before the interrupt: its AMIs are the result.
            continue;
        }
        assert!(
            after <= before_images,
            "round {round}, SIGINT after {at:?}: left {:?} {:?}\n{text}",
            m.leftovers("us-east-1"),
            m.leftovers("us-west-2")
        );
        assert!(
            sb.journals().is_empty(),
            "round {round}: journal left\n{text}"
        );
    }
}

#[test]
fn sigkill_then_forge_cleanup_leaves_nothing_in_ec2() {
    let m = Moto::start(None);
    let s = instance(&m);
    let mut rng = Rng::new();
    for round in 0..3 {
        let sb = Sandbox::new(
            FORGE,
            &[(
                "t.pkr.hcl",
                &slow_template(&m, &s, &format!("forge-kill-{round}")),
            )],
        );
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &CREDS);
        // Kill once the instance exists (or a little before or after).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !sb.spawned_output().contains("Instance ID:") && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(rng.below(1000)));
        build::signal(child.id(), "KILL");
        let _ = child.wait();
        let text = sb.spawned_output();
        let out = sb.run(&["cleanup"], None, &CREDS);
        assert_eq!(
            out.code,
            0,
            "round {round}: cleanup failed:\n{}\nbuild:\n{text}",
            all(&out)
        );
        assert_nothing_in_moto(
            &m,
            &format!("round {round}"),
            &format!("cleanup:\n{}\nbuild:\n{text}", all(&out)),
        );
        assert!(sb.journals().is_empty(), "round {round}: journal left");
    }
}

const SECRET: &str = "forge-inline-secret-7f3a";

/// [`slow_template`] with its keys in variables (no `AWS_*` anywhere), as templates pass them.
fn inline_credentials_template(m: &Moto, s: &Sshd, name: &str) -> String {
    let t = slow_template(m, s, name)
        .replace(
            "access_key          = \"AKIAFORGETEST\"",
            "access_key          = var.access_key",
        )
        .replace(
            "secret_key          = \"forge-test-secret\"",
            "secret_key          = var.secret_key",
        );
    format!("variable \"access_key\" {{\n  type = string\n}}\nvariable \"secret_key\" {{\n  type = string\n}}\n{t}")
}

/// The files of a sandbox for [`inline_credentials_template`]: the template and a var file
/// for each key.
fn inline_credentials_files(t: &str) -> Vec<(&'static str, String)> {
    vec![
        ("t.pkr.hcl", t.to_string()),
        (
            "access.pkrvars.hcl",
            "access_key = \"AKIAINLINEKEY\"\n".to_string(),
        ),
        ("secret.pkrvars.hcl", format!("secret_key = \"{SECRET}\"\n")),
    ]
}

/// A forge command with nothing of the test's environment but the sandbox's directories, a
/// HOME without AWS files, and `env`.
fn bare_command(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let home = sb.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = cli::forge_command(FORGE, args, &sb.dir);
    c.env_clear()
        .env("HOME", &home)
        .env("TMPDIR", &sb.tmp)
        .env("FORGE_STATE_DIR", &sb.state);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Starts a build of `args` in an environment without `AWS_*` and SIGKILLs it: at a random
/// point of its first seconds, or at a random point after its instance exists.
/// AMIs of a build that finished before the kill are deleted.
fn kill_build(
    m: &Moto,
    sb: &Sandbox,
    rng: &mut Rng,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    let out = std::fs::File::create(sb.dir.join(".stdout")).unwrap();
    let mut child = bare_command(sb, args, env)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start forge");
    let early = rng.below(3) == 0;
    if early {
        std::thread::sleep(Duration::from_millis(100 + rng.below(700)));
    } else {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !sb.spawned_output().contains("Instance ID:") && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(rng.below(1500)));
    }
    build::signal(child.id(), "KILL");
    let _ = child.wait();
    // A request forge sent just before it died still lands (moto takes a while to make a key
    // pair): cleanup comes after it, as a user's would.
    std::thread::sleep(Duration::from_millis(1000));
    let text = sb.spawned_output();
    if text.contains("AMIs were created") {
        // The build finished first: its AMIs are its result, not leftovers.
        for region in ["us-east-1", "us-west-2"] {
            let xml = m.query(region, "Action=DescribeImages&Owner.1=self");
            for ami in Moto::values(&xml, "imageId") {
                m.query(region, &format!("Action=DeregisterImage&ImageId={ami}"));
            }
            for snap in Moto::values(&xml, "snapshotId") {
                m.query(region, &format!("Action=DeleteSnapshot&SnapshotId={snap}"));
            }
        }
    }
    text
}

/// The text of every journal of the sandbox.
fn journal_text(sb: &Sandbox) -> String {
    sb.journals()
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

fn assert_nothing_in_moto(m: &Moto, what: &str, output: &str) {
    for region in ["us-east-1", "us-west-2"] {
        let left = m.leftovers(region);
        assert!(
            left.is_empty(),
            "{what}: left in {region}: {left:?}\n{output}"
        );
    }
}

#[test]
fn sigkill_with_inline_credentials_then_cleanup_in_an_empty_environment() {
    let m = Moto::start(None);
    let s = instance(&m);
    let mut rng = Rng::new();
    let mut found_leftovers = 0;
    let secret_var = format!("secret_key={SECRET}");
    for round in 0..6 {
        let t = inline_credentials_template(&m, &s, &format!("forge-inline-{round}"));
        let files = inline_credentials_files(&t);
        let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
        let sb = Sandbox::new(FORGE, &files);
        // The secret key comes from a var file, a -var flag or PKR_VAR_secret_key in turn; the
        // access key from a var file. cleanup is given the -var and PKR_VAR_ again.
        let (build_args, cleanup_args, env): (Vec<&str>, Vec<&str>, Vec<(&str, &str)>) =
            match round % 3 {
                0 => (vec!["-var-file=secret.pkrvars.hcl"], vec![], vec![]),
                1 => (vec!["-var", &secret_var], vec!["-var", &secret_var], vec![]),
                _ => (vec![], vec![], vec![("PKR_VAR_secret_key", SECRET)]),
            };
        let mut args = vec!["build", "-color=false", "-var-file=access.pkrvars.hcl"];
        args.extend(&build_args);
        args.push("t.pkr.hcl");
        let text = kill_build(&m, &sb, &mut rng, &args, &env);
        let journal = journal_text(&sb);
        assert!(
            !journal.contains(SECRET),
            "round {round}: the secret is in the journal:\n{journal}"
        );
        if !journal.is_empty() {
            found_leftovers += 1;
        }
        let mut args = vec!["cleanup"];
        args.extend(&cleanup_args);
        let out = cli::output(&mut bare_command(&sb, &args, &env), None);
        let said = all(&out);
        assert_eq!(
            out.code, 0,
            "round {round}: cleanup failed:\n{said}\nbuild:\n{text}"
        );
        assert!(!said.contains(SECRET), "round {round}: {said}");
        assert!(!said.contains("{ "), "round {round}: a Debug dump:\n{said}");
        assert_nothing_in_moto(
            &m,
            &format!("round {round}"),
            &format!("{said}\nbuild:\n{text}"),
        );
        assert!(
            sb.journals().is_empty(),
            "round {round}: journal left\n{said}"
        );
    }
    assert!(
        found_leftovers > 0,
        "no kill ever left a journal: the test proves nothing"
    );
}

#[test]
fn cleanup_takes_the_template_as_argument_or_says_in_one_line_what_it_needs() {
    let m = Moto::start(None);
    let s = instance(&m);
    let mut rng = Rng::new();
    let t = inline_credentials_template(&m, &s, "forge-inline-arg");
    let files = inline_credentials_files(&t);
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let sb = Sandbox::new(FORGE, &files);
    let env = [("PKR_VAR_secret_key", SECRET)];
    // Killed until an instance is left in moto (the cleanup below must remove one).
    let mut tries = 0;
    let text = loop {
        let text = kill_build(
            &m,
            &sb,
            &mut rng,
            &[
                "build",
                "-color=false",
                "-var-file=access.pkrvars.hcl",
                "t.pkr.hcl",
            ],
            &env,
        );
        if !sb.journals().is_empty()
            && m.leftovers("us-east-1")
                .iter()
                .any(|l| l.starts_with("instance "))
        {
            break text;
        }
        tries += 1;
        assert!(tries < 10, "ten kills left no instance in moto:\n{text}");
        let out = cli::output(&mut bare_command(&sb, &["cleanup"], &env), None);
        assert_eq!(out.code, 0, "{}", all(&out));
    };
    assert!(!journal_text(&sb).contains(SECRET));
    // The template moves away: the journal's is gone, and the environment has no credentials.
    std::fs::rename(sb.path("t.pkr.hcl"), sb.path("moved.pkr.hcl")).unwrap();
    let start = std::time::Instant::now();
    let out = cli::output(&mut bare_command(&sb, &["cleanup"], &[]), None);
    let took = start.elapsed();
    let said = all(&out);
    assert_eq!(out.code, 1, "{said}");
    let errors: Vec<&str> = said.lines().filter(|l| l.contains("Error")).collect();
    assert_eq!(errors.len(), 1, "not one line:\n{said}");
    let line = errors[0];
    let template = sb.path("t.pkr.hcl");
    for want in [
        "no credentials to reach them",
        "the template could not be evaluated",
        &format!(
            "run `forge cleanup -var secret_key=… {}`",
            template.display()
        ),
        "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(line.contains(want), "wanted {want:?} in:\n{line}");
    }
    assert!(!said.contains("{ "), "a Debug dump:\n{said}");
    assert!(
        !m.leftovers("us-east-1").is_empty(),
        "cleanup without credentials removed something\n{said}"
    );
    assert_eq!(sb.journals().len(), 1, "the journal must stay for a retry");
    eprintln!("cleanup without credentials took {took:?}:\n{said}");

    // The template given as argument, with the var file and the variable given again.
    let out = cli::output(
        &mut bare_command(
            &sb,
            &[
                "cleanup",
                "-var",
                &format!("secret_key={SECRET}"),
                "-var-file",
                "access.pkrvars.hcl",
                "moved.pkr.hcl",
            ],
            &[],
        ),
        None,
    );
    let said = all(&out);
    assert_eq!(out.code, 0, "{said}\nbuild:\n{text}");
    // (An instance killed before its id was journaled is found by its run tag.)
    assert!(said.contains("Removed aws-instance"), "{said}");
    assert!(!said.contains(SECRET), "{said}");
    assert_nothing_in_moto(&m, "cleanup with the template as argument", &said);
    assert!(sb.journals().is_empty(), "journal left\n{said}");
}

#[test]
fn sigkill_with_a_profile_and_an_assumed_role_then_cleanup_from_another_directory() {
    let m = Moto::start(None);
    let s = instance(&m);
    let p = FaultProxy::start(m.port());
    let t = template(
        &p.endpoint(),
        &s,
        &source_by_filter(&m),
        r#"ami_name = "forge-profile-kill"
  profile = "builder"
  shared_credentials_file = "credentials"
  assume_role {
    role_arn     = "arn:aws:iam::123456789012:role/forge-builder"
    session_name = "forge-test"
  }"#,
        "",
    )
    .replace("  access_key          = \"AKIAFORGETEST\"\n", "")
    .replace("  secret_key          = \"forge-test-secret\"\n", "")
    .replace(
        "provisioner \"shell\" {",
        "provisioner \"shell\" {\n    pause_before = \"3s\"",
    );
    let creds =
        "[builder]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n";
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t), ("credentials", creds)]);
    let endpoint = p.endpoint();
    // STS calls go to moto too; no credentials in the environment.
    let env = [("AWS_ENDPOINT_URL_STS", endpoint.as_str())];
    let mut rng = Rng::new();
    let mut tries = 0;
    let text = loop {
        let text = kill_build(
            &m,
            &sb,
            &mut rng,
            &["build", "-color=false", "t.pkr.hcl"],
            &env,
        );
        if text.contains("Instance ID:") && !m.leftovers("us-east-1").is_empty() {
            break text;
        }
        tries += 1;
        assert!(tries < 10, "ten kills left nothing in moto:\n{text}");
        let out = cli::output(&mut bare_command(&sb, &["cleanup"], &env), None);
        assert_eq!(out.code, 0, "{}", all(&out));
    };
    let before = p.bodies().len();
    // The relative shared_credentials_file means what it meant to the build.
    let mut cmd = bare_command(&sb, &["cleanup"], &env);
    cmd.current_dir(sb.path("home"));
    let out = cli::output(&mut cmd, None);
    let said = all(&out);
    assert_eq!(out.code, 0, "{said}\nbuild:\n{text}");
    assert!(said.contains("Removed aws-instance i-"), "{said}");
    assert!(!said.contains("profile-secret"), "{said}");
    assert!(!journal_text(&sb).contains("profile-secret"));
    assert_nothing_in_moto(&m, "profile and assumed role", &said);
    let reqs = p.bodies().split_off(before);
    let sts = reqs
        .iter()
        .find(|r| r.contains("Action=AssumeRole"))
        .unwrap_or_else(|| panic!("cleanup assumed no role: {reqs:?}"));
    assert!(sts.contains("Credential=AKIAPROFILEKEY/"), "{sts}");
    let term = reqs
        .iter()
        .find(|r| r.contains("Action=TerminateInstances"))
        .unwrap_or_else(|| panic!("cleanup terminated nothing: {reqs:?}"));
    assert!(
        term.to_ascii_lowercase().contains("x-amz-security-token"),
        "TerminateInstances not signed with the role's session: {term}"
    );
}
