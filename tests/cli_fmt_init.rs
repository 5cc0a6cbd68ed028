//! `forge fmt`, `forge init` and `forge completion` as a user runs them: the real binary on
//! temporary directories, its whole output (exit code, stdout, stderr, files afterwards)
//! compared with reviewed snapshots.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{cli, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs forge in `dir` with `stdin`; returns a report of what it did.
fn forge(args: &[&str], dir: &Path, stdin: &str) -> String {
    let r = cli::forge(FORGE, args, dir, Some(stdin));
    format!(
        "$ forge {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        r.code,
        r.stdout,
        r.stderr
    )
}

use tempdir::dir;

/// The files of a directory tree and their contents, sorted.
fn tree(d: &Path) -> String {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    let mut files = Vec::new();
    walk(d, d, &mut files);
    files.sort();
    files
        .iter()
        .map(|(n, t)| format!("=== {n}\n{t}"))
        .collect::<String>()
}

const UGLY: &str = "source \"null\" \"a\" {\ncommunicator=\"none\"\n  x = [1,2]\n}\n";
const NEAT: &str = "variable \"n\" {\n  type    = number\n  default = 1\n}\n";

fn fmt_tree() -> PathBuf {
    dir(&[
        ("ugly.pkr.hcl", UGLY),
        ("neat.pkr.hcl", NEAT),
        ("vars.pkrvars.hcl", "a=1\nlong_name=2\n"),
        ("x.auto.pkrvars.hcl", "b   =   \"x\"\n"),
        ("t.pkr.json", "{ \"a\":1 }\n"),
        ("notes.hcl", "a=1\n"),
        (".hidden.pkr.hcl", "a=1\n"),
        ("backup.pkr.hcl~", "a=1\n"),
        ("#emacs.pkr.hcl#", "a=1\n"),
        ("sub/inner.pkr.hcl", "c=3\n"),
        (".git/skip.pkr.hcl", "d=4\n"),
    ])
}

#[test]
fn fmt_check() {
    let d = fmt_tree();
    let mut s = forge(&["fmt", "-check", "."], &d, "");
    s.push_str(&forge(&["fmt", "--check=true", "neat.pkr.hcl"], &d, ""));
    s.push_str(&tree(&d));
    insta::assert_snapshot!(s);
}

#[test]
fn fmt_write() {
    let d = fmt_tree();
    let mut s = forge(&["fmt", "."], &d, "");
    s.push_str(&forge(&["fmt", "."], &d, ""));
    s.push_str(&tree(&d));
    insta::assert_snapshot!(s);
}

#[test]
fn fmt_diff() {
    let d = fmt_tree();
    let mut s = forge(
        &[
            "fmt",
            "-diff",
            "-write=false",
            "ugly.pkr.hcl",
            "neat.pkr.hcl",
        ],
        &d,
        "",
    );
    s.push_str(&forge(
        &["fmt", "-check", "-diff", "vars.pkrvars.hcl"],
        &d,
        "",
    ));
    s.push_str(&tree(&d));
    insta::assert_snapshot!(s);
}

#[test]
fn fmt_recursive() {
    let d = fmt_tree();
    let mut s = forge(&["fmt", "-recursive", "-check", "."], &d, "");
    s.push_str(&forge(&["fmt", "-recursive", "sub"], &d, ""));
    s.push_str(&tree(&d.join("sub")));
    insta::assert_snapshot!(s);
}

#[test]
fn fmt_stdin() {
    let d = dir(&[]);
    let mut s = forge(&["fmt", "-"], &d, UGLY);
    s.push_str(&forge(&["fmt", "-"], &d, NEAT));
    s.push_str(&forge(&["fmt", "-check", "-"], &d, UGLY));
    s.push_str(&forge(&["fmt", "-check", "-"], &d, NEAT));
    s.push_str(&forge(&["fmt", "-diff", "-"], &d, UGLY));
    insta::assert_snapshot!(s);
}

#[test]
fn fmt_errors() {
    let d = dir(&[
        ("bad.pkr.hcl", "source \"null\" \"a\" {\n  x = [1,\n"),
        ("ugly.pkr.hcl", UGLY),
        ("t.json", "{}\n"),
    ]);
    let mut s = forge(
        &[
            "fmt",
            "-check",
            "bad.pkr.hcl",
            "ugly.pkr.hcl",
            "t.json",
            "missing.pkr.hcl",
        ],
        &d,
        "",
    );
    // Go stops reading flags at the first path: a later "-check" is a path.
    s.push_str(&forge(&["fmt", "ugly.pkr.hcl", "-check"], &d, ""));
    s.push_str(&forge(&["fmt"], &d, ""));
    s.push_str(&forge(&["fmt", "-write=maybe", "."], &d, ""));
    s.push_str(&tree(&d));
    insta::assert_snapshot!(s);
}

const PLUGINS: &str = r#"packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.2.0"
    }
    docker = {
      version = "~> 1"
      source  = "github.com/hashicorp/docker"
    }
  }
}
variable "region" {
  type = string
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["null.a"]
}
"#;

#[test]
fn init_resolves_built_in_plugins() {
    let d = dir(&[("t.pkr.hcl", PLUGINS)]);
    let mut s = forge(&["init", "t.pkr.hcl"], &d, "");
    s.push_str(&forge(&["init", "-upgrade", "-force", "."], &d, ""));
    insta::assert_snapshot!(s);
}

#[test]
fn init_constraint_mismatch() {
    let text = PLUGINS.replace(">= 1.2.0", ">= 9.0.0, < 10");
    let d = dir(&[("t.pkr.hcl", &text)]);
    insta::assert_snapshot!(forge(&["init", "t.pkr.hcl"], &d, ""));
}

#[test]
fn init_unknown_plugin() {
    let text = PLUGINS.replace("hashicorp/docker", "example/nothing");
    let d = dir(&[("t.pkr.hcl", &text)]);
    insta::assert_snapshot!(forge(&["init", "t.pkr.hcl"], &d, ""));
}

#[test]
fn init_without_requirements_json_and_usage() {
    let d = dir(&[
        ("t.pkr.hcl", NEAT),
        (
            "t.json",
            "{\"builders\": [{\"type\": \"null\", \"communicator\": \"none\"}]}\n",
        ),
    ]);
    let mut s = forge(&["init", "t.pkr.hcl"], &d, "");
    s.push_str(&forge(&["init", "t.json"], &d, ""));
    s.push_str(&forge(&["init"], &d, ""));
    insta::assert_snapshot!(s);
}

#[test]
fn completion_scripts() {
    let d = dir(&[]);
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_forge"))
            .args(["completion", shell])
            .current_dir(&d)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            text.contains("fmt") && text.contains("recursive"),
            "{shell}: {text}"
        );
    }
    insta::assert_snapshot!(forge(&["completion", "tcsh"], &d, ""));
}
