//! `forge inspect` and `forge console` as a user runs them: the real binary's output, kept as
//! insta snapshots (each checked against Packer 1.16's source and, where they agree, 1.6.6).
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{cli, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::path::Path;

/// Runs forge in `dir` with `stdin` piped in; returns (exit code, stdout).
fn forge(args: &[&str], dir: &Path, stdin: &str) -> (i32, String) {
    let r = cli::forge(FORGE, args, dir, Some(stdin));
    (r.code, r.stdout)
}

use tempdir::dir;

/// Packer's own fixture `command/test-fixtures/hcl-inspect-with-sensitive-vars`.
const SENSITIVE_VARS: &str = r#"
variable "not_sensitive" {
  default   = "I am soooo not sensitive"
}

variable "not_sensitive_unknown" {
}

variable "sensitive" {
  default   = "I am soooo sensitive"
  sensitive = true
}

variable "sensitive_array" {
  default   = ["Im supersensitive", "me too !!!!"]
  sensitive = true
}

variable "sensitive_tags" {
  default   = {
      first_key  = "this-is-mega-sensitive"
      second_key = "this-is-also-sensitive"
  }
  sensitive = true
}

variable "sensitive_unknown" {
  sensitive = true
}
"#;

const BUILDS: &str = r#"
variable "fruit" {
  type = string
}

variable "count" {
  type    = number
  default = 3
}

locals {
  fruit = var.fruit
  list  = ["a", "b"]
  obj   = { name = "x", n = var.count }
}

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  sources = ["source.null.one"]

  provisioner "shell-local" {
    inline = ["echo one"]
  }
}

build {
  name        = "named"
  description = <<EOT
Builds things.

Twice.
EOT

  source "source.null.two" {
    name = "renamed"
  }
  sources = ["null.one"]

  provisioner "shell-local" {
    name   = "first"
    inline = ["echo a"]
  }
  provisioner "shell-local" {
    inline = ["echo b"]
  }

  post-processor "manifest" {}

  post-processors {
    post-processor "shell-local" {
      name   = "after"
      inline = ["echo c"]
    }
    post-processor "manifest" {}
  }
}
"#;

const LEGACY: &str = r#"{
  "description": "A legacy template",
  "variables": {
    "region": "us-east-1",
    "password": "hunter2",
    "needed": null,
    "a": "{{env `HOME`}}"
  },
  "sensitive-variables": ["password"],
  "builders": [
    {"type": "null", "communicator": "none"},
    {"type": "null", "name": "second-builder", "communicator": "none"}
  ],
  "provisioners": [
    {"type": "shell-local", "inline": ["echo {{user `region`}}"]},
    {"type": "file", "source": "a", "destination": "b"}
  ]
}
"#;

#[test]
fn inspect_hcl2_with_sensitive_variables() {
    let d = dir(&[("vars.pkr.hcl", SENSITIVE_VARS)]);
    let (code, out) = forge(&["inspect", "."], &d, "");
    assert_eq!(code, 0);
    insta::assert_snapshot!(out);
}

#[test]
fn inspect_hcl2_builds() {
    let d = dir(&[("t.pkr.hcl", BUILDS)]);
    let (code, out) = forge(&["inspect", "t.pkr.hcl"], &d, "");
    assert_eq!(code, 0);
    insta::assert_snapshot!("inspect_hcl2_builds_unset", out);
    let (code, out) = forge(&["inspect", "-var", "fruit=kiwi", "t.pkr.hcl"], &d, "");
    assert_eq!(code, 0);
    insta::assert_snapshot!("inspect_hcl2_builds_var", out);
}

#[test]
fn inspect_legacy_json() {
    let d = dir(&[("t.json", LEGACY)]);
    let (code, out) = forge(&["inspect", "-var", "needed=x", "t.json"], &d, "");
    assert_eq!(code, 0);
    insta::assert_snapshot!(out);
}

#[test]
fn inspect_bad_template_fails() {
    let d = dir(&[("t.pkr.hcl", "build {\n")]);
    let (code, _) = forge(&["inspect", "t.pkr.hcl"], &d, "");
    assert_eq!(code, 1);
    let (code, _) = forge(&["inspect", "missing.json"], &d, "");
    assert_eq!(code, 1);
}

/// Every value type, piped: only the last line's result is printed.
#[test]
fn console_piped_values() {
    let d = dir(&[("t.pkr.hcl", BUILDS), ("vars.pkr.hcl", SENSITIVE_VARS)]);
    let cases: &[(&str, &str)] = &[
        ("string", "\"hello\""),
        ("number", "1.5 * 2"),
        ("big_number", "pow(2, 70)"),
        ("bool", "3 > 2"),
        ("null", "null"),
        ("list", "local.list"),
        ("empty_list", "[]"),
        ("tuple", "[1, \"a\", true]"),
        ("object", "local.obj"),
        ("map", "merge({a = 1}, {b = 2})"),
        ("nested", "{ a = [1, { b = \"c\" }], d = {} }"),
        ("set", "setunion([\"b\", \"a\"], [\"b\"])"),
        ("unknown_var", "var.fruit"),
        ("unknown_source", "source.name"),
        ("sensitive", "var.sensitive"),
        ("sensitive_list", "var.sensitive_array"),
        ("path_root", "path.root"),
        ("packer_version", "packer.version"),
        ("multiline", "\"a\"\n\"b\"\n\"last\""),
        ("empty_last", "\"a\"\n"),
    ];
    for (name, input) in cases {
        let (code, out) = forge(&["console", "."], &d, &format!("{input}\n"));
        assert_eq!(code, 0, "{name}: {out}");
        insta::assert_snapshot!(format!("console_value_{name}"), out);
    }
}

#[test]
fn console_errors() {
    let d = dir(&[("t.pkr.hcl", BUILDS)]);
    let cases: &[(&str, &str)] = &[
        ("too_many_args", "upper(1, 2)"),
        ("unknown_function", "nope(1)"),
        ("undeclared_var", "var.missing"),
        ("data_not_in_scope", "data.foo.bar"),
        ("long_detail", "file(\"/nonexistent/a/very/long/path/that/makes/the/detail/wrap/over/eighty/columns.txt\")"),
        ("error_then_value", "upper(1, 2)\n\"ok\""),
    ];
    for (name, input) in cases {
        let (code, out) = forge(&["console", "t.pkr.hcl"], &d, &format!("{input}\n"));
        assert_eq!(code, 1, "{name}: {out}");
        insta::assert_snapshot!(format!("console_error_{name}"), out);
    }
}

#[test]
fn console_specials() {
    let d = dir(&[("t.pkr.hcl", BUILDS), ("vars.pkr.hcl", SENSITIVE_VARS)]);
    let (code, out) = forge(&["console", "-var", "fruit=kiwi", "."], &d, "variables\n");
    assert_eq!(code, 0);
    insta::assert_snapshot!("console_hcl2_variables", out);
    let (code, out) = forge(&["console", "-config-type=hcl2"], &d, "help\n");
    assert_eq!(code, 0);
    insta::assert_snapshot!("console_hcl2_help", out);
    let (code, out) = forge(&["console", "-config-type=hcl2"], &d, "\"a\"\nexit\n");
    assert_eq!((code, out.as_str()), (0, "\n"));
}

#[test]
fn console_json_mode() {
    let d = dir(&[("t.json", LEGACY)]);
    let (code, out) = forge(&["console"], &d, "{{ upper `abc` }}\n");
    assert_eq!((code, out.as_str()), (0, "ABC\n"));
    let (code, out) = forge(
        &["console", "-var", "needed=x", "t.json"],
        &d,
        "variables\n",
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!(
        "console_json_variables",
        out.replace(&std::env::var("HOME").unwrap_or_default(), "$HOME")
    );
    let (code, out) = forge(
        &["console", "-var", "needed=x", "t.json"],
        &d,
        "{{user `region`}}-{{ user `needed` }}\n",
    );
    assert_eq!((code, out.as_str()), (0, "us-east-1-x\n"));
    let (code, out) = forge(&["console"], &d, "{{ nope }}\n");
    assert_eq!(code, 0, "Packer gives interpolation errors no severity");
    insta::assert_snapshot!("console_json_error", out);
    let (code, out) = forge(&["console"], &d, "help\n");
    assert_eq!(code, 0);
    insta::assert_snapshot!("console_json_help", out);
}
