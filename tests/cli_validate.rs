//! `forge validate` as a user runs it: the real binary, Packer's texts and exit codes.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{cli, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

fn forge(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let r = cli::forge(FORGE, args, dir, None);
    (r.code, r.stdout, r.stderr)
}

use tempdir::dir;

const OK: &str = "variable \"n\" {\n  type    = number\n  default = 1\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"null.a\"]\n}\n";

#[test]
fn a_valid_template_passes() {
    let d = dir(&[("t.pkr.hcl", OK)]);
    let (code, out, _) = forge(&["validate", "t.pkr.hcl"], &d);
    assert_eq!((code, out.as_str()), (0, "The configuration is valid.\n"));
    // Packer's flag spellings: -flag, --flag, -flag=value, -flag value, -machine-readable anywhere.
    for args in [
        &["validate", "-var", "n=2", "t.pkr.hcl"][..],
        &["validate", "--var=n=2", "t.pkr.hcl"],
        &["-machine-readable", "validate", "-var=n=2", "t.pkr.hcl"],
        &[
            "validate",
            "-only",
            "null.*",
            "t.pkr.hcl",
            "-machine-readable",
        ],
    ] {
        let (code, out, err) = forge(args, &d);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let (code, out, _) = forge(&["validate", "-syntax-only", "t.pkr.hcl"], &d);
    assert_eq!(
        (code, out.as_str()),
        (0, "Syntax-only check passed. Everything looks okay.\n")
    );
}

#[test]
fn bad_input_exits_1_with_a_position() {
    let d = dir(&[
        ("t.pkr.hcl", OK),
        ("bad.pkr.hcl", "locals {\n  a = nofunc(1)\n}\n"),
        ("syntax.pkr.hcl", "source \"null\" \"a\" {\n  x = [1,\n"),
    ]);
    let (code, out, _) = forge(&["validate", "bad.pkr.hcl"], &d);
    assert_eq!(code, 1);
    assert!(out.contains("Error: Call to unknown function"), "{out}");
    assert!(out.contains("bad.pkr.hcl line 2 (column 7)"), "{out}");
    let (code, out, _) = forge(&["validate", "-syntax-only", "syntax.pkr.hcl"], &d);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("syntax.pkr.hcl line"), "{out}");
    let (code, out, _) = forge(&["validate", "-var", "n=x", "t.pkr.hcl"], &d);
    assert_eq!(code, 1);
    assert!(
        out.contains("Invalid argument value for -var variable"),
        "{out}"
    );
    let (code, _, err) = forge(&["validate", "-var", "n", "t.pkr.hcl"], &d);
    assert_eq!(code, 1);
    assert!(err.contains("No '=' value in arg: n"), "{err}");
    let (code, out, _) = forge(&["validate", "missing.pkr.hcl"], &d);
    assert_eq!(code, 1);
    assert!(out.contains("no such file or directory"), "{out}");
}

#[test]
fn unknown_commands_exit_127() {
    let d = std::env::temp_dir();
    let (code, _, err) = forge(&["nosuch"], &d);
    assert_eq!(code, 127);
    assert!(err.contains("Usage: forge"), "{err}");
    assert_eq!(forge(&[], &d).0, 127);
}

/// Serves `count` HTTP requests on loopback: `/ok` answers 200 with a JSON body, anything else
/// 404. Returns the base URL.
fn serve(count: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let resp = if req.starts_with("GET /ok ") {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Test: yes\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"version\":\"7\"}"
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = s.write_all(resp.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[test]
fn evaluate_datasources_runs_the_http_data_source_for_real() {
    let base = serve(2);
    let tpl = |path: &str| {
        format!(
            "data \"http\" \"v\" {{\n  url = \"{base}{path}\"\n}}\nlocals {{\n  version = jsondecode(data.http.v.body).version\n}}\nsource \"null\" \"a\" {{\n  communicator = \"none\"\n}}\nbuild {{\n  sources = [\"null.a\"]\n  provisioner \"shell-local\" {{\n    inline = [\"echo ${{local.version}}\"]\n  }}\n}}\n"
        )
    };
    let d = dir(&[
        ("ok.pkr.hcl", &tpl("/ok")),
        ("missing.pkr.hcl", &tpl("/missing")),
    ]);
    // Without the flag, data sources are unknown and nothing is fetched.
    let (code, out, _) = forge(&["validate", "missing.pkr.hcl"], &d);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = forge(&["validate", "-evaluate-datasources", "ok.pkr.hcl"], &d);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = forge(
        &["validate", "-evaluate-datasources", "missing.pkr.hcl"],
        &d,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Error: HTTP request error. Response code: 404"),
        "{out}"
    );
}

/// What a user sees, as reviewed snapshots (paths made relative, so they are stable).
#[test]
fn validate_and_version_output_snapshots() {
    let d = dir(&[
        ("t.pkr.hcl", OK),
        (
            "bad.pkr.hcl",
            "variable \"size\" {\n  type = number\n  validation {\n    condition     = var.size > 10\n    error_message = \"The size must be above 10.\"\n  }\n}\nlocals {\n  a = nofunc(1)\n  b = upper(1, 2)\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n  bogus        = true\n}\nbuild {\n  sources = [\"null.a\"]\n}\n",
        ),
    ]);
    let show = |args: &[&str]| {
        let (code, out, err) = forge(args, &d);
        format!(
            "$ forge {}\nexit {code}\n--- stdout\n{out}--- stderr\n{err}",
            args.join(" ")
        )
    };
    insta::assert_snapshot!("validate_ok", show(&["validate", "t.pkr.hcl"]));
    insta::assert_snapshot!(
        "validate_errors",
        show(&["validate", "-var", "size=5", "bad.pkr.hcl"])
    );
    insta::assert_snapshot!("validate_unset", show(&["validate", "bad.pkr.hcl"]));
    insta::assert_snapshot!(
        "validate_all_errors_at_once",
        show(&["validate", "-var", "size=20", "bad.pkr.hcl"])
    );
    insta::assert_snapshot!(
        "validate_bad_var_flag",
        show(&["validate", "-var", "size", "t.pkr.hcl"])
    );
    insta::assert_snapshot!("unknown_command", show(&["nosuch"]));
    let version = show(&["version"]).replace(env!("CARGO_PKG_VERSION"), "X.Y.Z");
    insta::assert_snapshot!("version", version);
}

/// Like `packer validate`, the builders, provisioners and post-processors forge runs are
/// prepared, and their configuration errors reported with the build's name (legacy JSON) or
/// the block's position (HCL2); platforms forge cannot build are left to the schema check.
#[test]
fn plugins_are_prepared_as_packer_validate_does() {
    let hcl = r#"
source "amazon-ebs" "x" {
  region        = "us-east-1"
  source_ami    = "ami-12345678"
  instance_type = "t2.micro"
  ssh_username  = "admin"
}
source "docker" "d" {
  image = "debian"
}
source "virtualbox-iso" "v" {
  iso_url      = "x.iso"
  iso_checksum = "none"
  ssh_username = "u"
}
build {
  sources = ["source.amazon-ebs.x", "source.docker.d", "source.virtualbox-iso.v"]
}
"#;
    let d = dir(&[("t.pkr.hcl", hcl)]);
    let (code, out, _) = forge(&["validate", "t.pkr.hcl"], &d);
    assert_eq!(code, 1, "{out}");
    for want in [
        "Error: 2 error(s) occurred:\n\n* ami_name must be specified\n* ami_name must be between 3 and 128 characters long\n\n  on t.pkr.hcl line 2",
        "Error: 1 error(s) occurred:\n\n* No instructions given for handling the artifact; expected commit, discard, or export_path\n\n  on t.pkr.hcl line 8",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert_eq!(out.matches("Error:").count(), 2, "{out}");

    let json = r#"{"builders": [{"type": "docker", "image": "x", "commit": true},
        {"type": "docker", "name": "bad", "image": "x"}]}"#;
    let d = dir(&[("t.json", json)]);
    let (code, out, _) = forge(&["validate", "t.json"], &d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Error: Failed to prepare build: \"bad\"\n\n1 error(s) occurred:\n\n* No instructions given"),
        "{out}"
    );
    // A fixed template is valid again, and a data source skipped by validate does not stop
    // the builder's checks (its value is a placeholder, as in Packer).
    let fixed = hcl
        .replace(
            "ssh_username  = \"admin\"",
            "ssh_username  = \"admin\"\n  ami_name = \"forge-${data.null.n.output}\"",
        )
        .replace("image = \"debian\"", "image = \"debian\"\n  commit = true")
        + "data \"null\" \"n\" {\n  input = \"x\"\n}\n";
    let d = dir(&[("t.pkr.hcl", &fixed)]);
    let (code, out, err) = forge(&["validate", "t.pkr.hcl"], &d);
    assert_eq!(
        (code, out.as_str()),
        (0, "The configuration is valid.\n"),
        "{err}"
    );
}

/// Settings take their schema's types as Packer converts them: cty's rules in HCL2 (a string
/// variable for a number setting), mapstructure's weak rules in legacy JSON.
#[test]
fn settings_are_converted_as_packer_converts_them() {
    let hcl = r#"
variable "port" {
  type = string
}
variable "cpus" {
  type    = number
  default = 2
}
source "null" "a" {
  ssh_host     = "127.0.0.1"
  ssh_username = "u"
  ssh_password = "p"
  ssh_port     = var.port
}
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline           = ["echo hi"]
    valid_exit_codes = ["0", "3"]
    environment_vars = ["VM_NAME=${build.ID}"]
  }
  post-processor "manifest" {
    custom_data = { cpus = var.cpus }
  }
  post-processor "compress" {
    compression_level = "6"
    output            = "out.tar.gz"
  }
}
"#;
    let d = dir(&[("t.pkr.hcl", hcl)]);
    let (code, out, err) = forge(&["validate", "-var", "port=2122", "t.pkr.hcl"], &d);
    assert_eq!(
        (code, out.as_str()),
        (0, "The configuration is valid.\n"),
        "{err}"
    );

    let json = r#"{
  "variables": {"memory": "2048", "commit": "true", "codes": "0,3"},
  "builders": [{"type": "docker", "image": "x", "commit": "{{user `commit`}}",
                "changes": "", "run_command": ["-d", "{{.Image}}"]}],
  "provisioners": [{"type": "shell-local", "inline": "echo hi",
                    "valid_exit_codes": "{{user `codes`}}"}],
  "post-processors": [{"type": "compress", "output": "x.tar.gz", "compression_level": "6"}]
}"#;
    let d = dir(&[("t.json", json)]);
    let (code, out, err) = forge(&["validate", "t.json"], &d);
    assert_eq!(
        (code, out.as_str()),
        (0, "The configuration is valid.\n"),
        "{err}"
    );
}

/// Values that do not convert fail with the setting's name, the type it needs and where it is,
/// all of them in one run.
#[test]
fn values_that_do_not_convert_fail_with_name_type_and_position() {
    let hcl = r#"source "null" "a" {
  ssh_host     = "h"
  ssh_username = "u"
  ssh_port     = "abc"
  ssh_pty      = "maybe"
  ssh_password = { a = 1 }
}
build {
  sources = ["source.null.a"]
}
"#;
    let d = dir(&[("t.pkr.hcl", hcl)]);
    let (code, out, _) = forge(&["validate", "t.pkr.hcl"], &d);
    assert_eq!(code, 1, "{out}");
    // Each error at the value's position, then the setting, the type it needs: all at once.
    for (at, want) in [
        (
            "on t.pkr.hcl line 4 (column 18):",
            "Inappropriate value for attribute \"ssh_port\": a number is required.",
        ),
        (
            "on t.pkr.hcl line 5 (column 18):",
            "Inappropriate value for attribute \"ssh_pty\": a bool is required.",
        ),
        (
            "on t.pkr.hcl line 6 (column 18):",
            "Inappropriate value for attribute \"ssh_password\": string required.",
        ),
    ] {
        let pos = out
            .find(at)
            .unwrap_or_else(|| panic!("missing {at:?} in:\n{out}"));
        assert!(
            out[pos..].contains(want),
            "missing {want:?} after {at:?} in:\n{out}"
        );
    }
    assert_eq!(
        out.matches("Error: Incorrect attribute value type").count(),
        3,
        "{out}"
    );

    let json = r#"{"builders": [{"type": "qemu", "iso_url": "x.iso", "iso_checksum": "none",
        "ssh_username": "u", "memory": "abc", "headless": "maybe", "shutdown_timeout": ""}]}"#;
    let d = dir(&[("t.json", json)]);
    let (code, out, _) = forge(&["validate", "t.json"], &d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("3 error(s) decoding:\n\n* cannot parse 'headless' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax\n* cannot parse 'memory' as int: strconv.ParseInt: parsing \"abc\": invalid syntax\n* error decoding 'shutdown_timeout': time: invalid duration \"\""),
        "{out}"
    );
}

/// Plugins forge only validates still get the checks their plugin's prepare makes without the
/// network, and `validate` does not depend on what this machine has installed.
#[test]
fn schema_only_plugins_are_checked_like_their_plugins() {
    let json = r#"{"builders": [{"type": "amazon-ebssurrogate", "region": "us-east-1",
        "ami_name": "%s", "ami_virtualization_type": "hvm", "source_ami": "ami-1",
        "instance_type": "t2.micro", "ssh_username": "u"}],
      "post-processors": [{"type": "amazon-import", "region": "us-east-1",
        "s3_bucket_name": "", "format": "bogus"}]}"#;
    let d = dir(&[("t.json", json)]);
    let (code, out, _) = forge(&["validate", "t.json"], &d);
    assert_eq!(code, 1, "{out}");
    for want in [
        "* ami_name must be between 3 and 128 characters long",
        "* s3_bucket_name must be set",
        "* invalid format 'bogus'. Only 'ova', 'raw', 'vhd', 'vhdx', or 'vmdk' are allowed",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let hcl = r#"source "azure-arm" "a" {
  os_type          = "Linux"
  image_publisher  = "p"
  image_offer      = "o"
  image_sku        = "s"
  location         = "westus"
}
source "virtualbox-iso" "v" {
  iso_url          = "x.iso"
  iso_checksum     = "none"
  ssh_username     = "u"
  shutdown_timeout = ""
}
source "qemu" "q" {
  iso_url           = "x.iso"
  iso_checksum      = "none"
  ssh_username      = "u"
  efi_boot          = true
  efi_firmware_code = "/nonexistent/OVMF_CODE.fd"
  efi_firmware_vars = "/nonexistent/OVMF_VARS.fd"
}
build {
  sources = ["source.azure-arm.a", "source.virtualbox-iso.v", "source.qemu.q"]
}
"#;
    let d = dir(&[("t.pkr.hcl", hcl)]);
    let (code, out, _) = forge(&["validate", "t.pkr.hcl"], &d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("* A storage_account must be specified"),
        "{out}"
    );
    assert!(
        out.contains("* error decoding 'shutdown_timeout': time: invalid duration \"\"\n\n  on t.pkr.hcl line 8"),
        "{out}"
    );
    assert!(!out.contains("EFI firmware"), "{out}");
    assert!(!out.contains("line 15"), "{out}");
}
