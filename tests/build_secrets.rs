//! Sensitive values, and values derived from them, never reach the UI, machine-readable output,
//! the event stream, logs, manifests or error messages, in any of the encodings a secret
//! travels in: plain, shell-escaped, JSON-escaped, base64, URL-encoded (path and query escaping,
//! either hex case), hex, and XML/HTML-escaped.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, moto};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use build::Sandbox;

const SECRET: &str = "s3cr3t-T0ken'with\"quotes&/+= x";

fn template() -> String {
    let json = serde_json::to_string(SECRET).unwrap();
    format!(
        r#"
variable "token" {{
  type      = string
  default   = {json}
  sensitive = true
}}
locals {{
  derived = "derived-${{var.token}}"
}}
source "null" "one" {{
  communicator = "none"
}}
source "file" "bad" {{
  content = "x"
  target  = "/proc/${{var.token}}/target"
}}
build {{
  sources = ["source.null.one", "source.file.bad"]
  provisioner "shell-local" {{
    environment_vars = ["TOKEN=${{var.token}}", "DERIVED=${{local.derived}}"]
    inline = [
      "echo plain=$TOKEN",
      "printf '%s' \"$TOKEN\" | base64",
      "python3 -c 'import json,os; print(json.dumps(os.environ[\"TOKEN\"]))'",
      "python3 -c 'import urllib.parse,os; print(urllib.parse.quote(os.environ[\"TOKEN\"], safe=\"\"))'",
      "python3 -c 'import urllib.parse,os; print(urllib.parse.quote_plus(os.environ[\"TOKEN\"]))'",
      "python3 -c 'import shlex,os; print(shlex.quote(os.environ[\"TOKEN\"]))'",
      "python3 -c 'import urllib.parse,os; print(urllib.parse.quote(os.environ[\"TOKEN\"]))'",
      "python3 -c 'import os; print(\"\".join(c if c.isalnum() else \"%%%02x\" % ord(c) for c in os.environ[\"TOKEN\"]))'",
      "python3 -c 'import os; print(os.environ[\"TOKEN\"].encode().hex())'",
      "python3 -c 'import os,xml.sax.saxutils as x; print(x.escape(os.environ[\"TOKEN\"], {{chr(34): \"&quot;\", chr(39): \"&apos;\"}}))'",
      "python3 -c 'import os,html; print(html.escape(os.environ[\"TOKEN\"]))'",
      "echo \"$DERIVED\" 1>&2",
    ]
  }}
  post-processor "manifest" {{
    output      = "manifest.json"
    custom_data = {{ token = var.token, derived = local.derived }}
  }}
}}
"#
    )
}

fn forms() -> Vec<String> {
    use std::process::Command;
    let py = |code: &str| {
        let o = Command::new("python3")
            .args(["-c", code, SECRET])
            .output()
            .expect(
                "python3 is needed for this test (apt-get install --no-install-recommends python3)",
            );
        String::from_utf8(o.stdout).unwrap().trim_end().to_string()
    };
    vec![
        SECRET.to_string(),
        py("import sys,base64; print(base64.b64encode(sys.argv[1].encode()).decode())"),
        py("import sys,json; print(json.dumps(sys.argv[1])[1:-1])"),
        py("import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=''))"),
        py("import sys,urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))"),
        // Path escaping keeps `/`, as Go's url.PathEscape keeps `&`, `+` and `=`.
        py("import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))"),
        py("import sys; print(''.join(c if c.isalnum() else '%%%02x' % ord(c) for c in sys.argv[1]))"),
        py("import sys; print(sys.argv[1].encode().hex())"),
        py("import sys; print(sys.argv[1].encode().hex().upper())"),
        // XML, as WinRM's SOAP bodies carry a command line, and HTML.
        py("import sys,xml.sax.saxutils as x; print(x.escape(sys.argv[1], {chr(34): '&quot;', chr(39): '&apos;'}))"),
        py("import sys,html; print(html.escape(sys.argv[1]))"),
        // shlex.quote's inner part: the secret with its single quotes escaped.
        SECRET.replace('\'', "'\"'\"'"),
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for f in forms() {
        // Distinctive parts only: a form's fragments around the mask would be harmless.
        assert!(
            !text.contains(&f),
            "{what} holds the secret as {f:?}:\n{text}"
        );
    }
    assert!(
        !text.contains("s3cr3t"),
        "{what} holds part of the secret:\n{text}"
    );
    assert!(
        !text.contains("czNjcjN0"),
        "{what} holds base64 of the secret:\n{text}"
    );
}

#[test]
fn secrets_are_masked_in_every_sink_and_encoding() {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template())]);
    let log = sb.path("forge.log");
    let log_s = log.to_string_lossy().into_owned();
    let env = [("PACKER_LOG", "1"), ("PACKER_LOG_PATH", log_s.as_str())];
    let r = sb.run(
        &["build", "-color=false", "--events", "ev.jsonl", "t.pkr.hcl"],
        None,
        &env,
    );
    assert_eq!(r.code, 1, "the file build must fail: {}", r.stdout);
    assert!(
        r.stdout.contains("Build 'null.one' finished"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.matches("<sensitive>").count() >= 7, "{}", r.stdout);
    assert!(
        r.stdout.contains("    null.one: plain=<sensitive>"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("==> null.one: <sensitive>"));
    assert!(r.stdout.contains("Build 'file.bad' errored after "));
    assert!(
        r.stdout.contains("/proc/<sensitive>"),
        "the error names the path: {}",
        r.stdout
    );
    assert_no_secret("human output", &r.stdout);
    assert_no_secret("stderr", &r.stderr);
    assert_no_secret(
        "event stream",
        &std::fs::read_to_string(sb.path("ev.jsonl")).unwrap(),
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("<sensitive>"),
        "the log has the UI lines: {log_text}"
    );
    assert_no_secret("log file", &log_text);
    let manifest = std::fs::read_to_string(sb.path("manifest.json")).unwrap();
    assert!(
        manifest.contains(r#""token": "\u003csensitive\u003e""#),
        "{manifest}"
    );
    assert_no_secret("manifest", &manifest);
    let r = sb.run(&["build", "-machine-readable", "t.pkr.hcl"], None, &[]);
    assert!(r.stdout.contains("plain=<sensitive>"));
    assert_no_secret("machine-readable output", &r.stdout);
}

/// The `aws_secretsmanager` functions of both template languages reach AWS Secrets Manager
/// through the binary's Amazon client (moto here, support/moto.rs), and what they read is
/// masked like any sensitive value.
#[test]
fn aws_secrets_manager_values_reach_the_build_masked() {
    let m = moto::Moto::start(None);
    let endpoint = m.endpoint();
    m.create_secret(
        "forge/token",
        &serde_json::json!({ "token": SECRET }).to_string(),
    );
    let hcl = r#"
local "token" {
  expression = aws_secretsmanager("forge/token", "token")
  sensitive  = true
}
source "null" "one" {
  communicator = "none"
}
build {
  sources = ["source.null.one"]
  provisioner "shell-local" {
    environment_vars = ["TOKEN=${local.token}"]
    inline           = ["echo plain=$TOKEN", "printf '%s' \"$TOKEN\" > hcl2.txt"]
  }
}
"#;
    let json = r#"{
  "variables": { "token": "{{ aws_secretsmanager `forge/token` `token` }}" },
  "sensitive-variables": ["token"],
  "builders": [{ "type": "null", "communicator": "none" }],
  "provisioners": [{
    "type": "shell-local",
    "environment_vars": ["TOKEN={{ user `token` }}"],
    "inline": ["echo plain=$TOKEN", "printf '%s' \"$TOKEN\" > json.txt"]
  }]
}"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", hcl), ("t.json", json)]);
    let home = sb.path(".home");
    std::fs::create_dir_all(&home).unwrap();
    let home = home.to_string_lossy().into_owned();
    let env = [
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAFORGETEST"),
        ("AWS_SECRET_ACCESS_KEY", "forge-test-secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    for (template, out) in [("t.pkr.hcl", "hcl2.txt"), ("t.json", "json.txt")] {
        let r = sb.run(&["build", "-color=false", template], None, &env);
        assert_eq!(r.code, 0, "{template}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("plain=<sensitive>"), "{}", r.stdout);
        assert_no_secret("human output", &r.stdout);
        assert_no_secret("stderr", &r.stderr);
        assert_eq!(std::fs::read_to_string(sb.path(out)).unwrap(), SECRET);
    }
    // A secret that is not there: the service's error, through the function's.
    let missing = hcl.replace("forge/token", "forge/missing");
    std::fs::write(sb.path("t.pkr.hcl"), missing).unwrap();
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &env);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    // (The diagnostic's detail is word-wrapped: its parts are looked for one by one.)
    for part in [
        "\"aws_secretsmanager\" failed:",
        "ResourceNotFoundException:",
        "\"forge/missing\"",
    ] {
        assert!(all.contains(part), "{part} missing from: {all}");
    }
}
