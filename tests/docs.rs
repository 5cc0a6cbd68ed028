//! What the docs promise about forge itself: docs/compatibility.md is what the plugin registries
//! say today, the manual pages are roff that names every command, and the completion scripts
//! complete.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{cli, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::path::Path;
use std::process::Command;

/// The commands a user sees (the hidden `man` and `internal` are not among them).
const COMMANDS: &[&str] = &[
    "build",
    "cleanup",
    "completion",
    "console",
    "fmt",
    "hcl2_upgrade",
    "init",
    "inspect",
    "validate",
    "version",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn forge_ok(args: &[&str], dir: &Path) -> String {
    let out = cli::forge(FORGE, args, dir, None);
    assert_eq!(
        out.code, 0,
        "forge {args:?} failed:\n{}{}",
        out.stdout, out.stderr
    );
    out.stdout
}

#[test]
fn the_compatibility_matrix_is_current() {
    let want = forge_ok(&["internal", "compat-matrix"], repo());
    let path = repo().join("docs/compatibility.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let first = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(have.lines().count().min(want.lines().count()));
        panic!(
            "docs/compatibility.md is stale: run `cargo run -q -- internal compat-matrix > \
             docs/compatibility.md` (first difference at line {}: have {:?}, generated {:?})",
            first + 1,
            have.lines().nth(first).unwrap_or("<end of file>"),
            want.lines().nth(first).unwrap_or("<end of output>"),
        );
    }
}

#[test]
fn the_compatibility_matrix_lists_every_kind_and_what_builds() {
    let md = forge_ok(&["internal", "compat-matrix"], repo());
    for section in [
        "## Builders",
        "## Provisioners",
        "## Post-processors",
        "## Data sources",
        "## Communicators",
    ] {
        assert!(md.contains(section), "missing {section}:\n{md}");
    }
    for row in [
        "| `docker` | **build** |",
        "| `qemu` | **build** |",
        "| `null` | **build** |",
        "| `vsphere-iso` | **build** |",
        "| `azure-arm` | validate |",
        "| `shell` | **build** |",
        "| `ansible` | **build** |",
        "| `goss` | validate |",
        "| `manifest` | **build** |",
        "| `ssh` | **build** |",
        "| `winrm` | **build** |",
        "| `dockerWindowsContainer` | validate |",
    ] {
        assert!(md.contains(row), "missing row {row:?}:\n{md}");
    }
    // Deterministic: a second run prints the same bytes.
    assert_eq!(md, forge_ok(&["internal", "compat-matrix"], repo()));
}

/// Fails with what to install when groff is missing (it ships in Debian's groff-base, which
/// man-db pulls in; scripts/test.sh installs it).
fn groff_warnings(page: &Path) -> String {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running groff: {e}: install Debian's groff-base (apt-get install --no-install-recommends groff-base); \
                 scripts/test.sh installs everything the tests need"
            )
        });
    assert!(out.status.success(), "groff failed on {}", page.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_man_pages_are_roff_naming_every_command() {
    let d = tempdir::dir(&[]);
    let page = forge_ok(&["man"], &d);
    assert!(page.contains(".TH forge 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "missing {section}:\n{page}");
    }
    for c in COMMANDS {
        let roff_name = format!("forge\\-{}(1)", c.replace('-', "\\-"));
        assert!(page.contains(&roff_name), "{c} missing:\n{page}");
    }
    for hidden in ["forge\\-man", "forge\\-internal", "forge\\-help"] {
        assert!(!page.contains(hidden), "{hidden} listed:\n{page}");
    }
    std::fs::write(d.join("forge.1"), &page).unwrap();
    let w = groff_warnings(&d.join("forge.1"));
    assert!(w.is_empty(), "groff warns about forge.1:\n{w}");

    // --dir writes one page per command, each valid on its own.
    let listed = forge_ok(&["man", "-dir", "pages"], &d);
    let mut names: Vec<String> = std::fs::read_dir(d.join("pages"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = COMMANDS.iter().map(|c| format!("forge-{c}.1")).collect();
    want.push("forge.1".into());
    want.sort();
    assert_eq!(names, want);
    assert_eq!(listed.lines().count(), want.len(), "{listed}");
    let build = std::fs::read_to_string(d.join("pages/forge-build.1")).unwrap();
    for flag in ["\\-\\-on\\-error", "\\-\\-var\\-file", "\\-\\-events"] {
        assert!(build.contains(flag), "forge-build.1 lacks {flag}:\n{build}");
    }
    for n in &names {
        let w = groff_warnings(&d.join("pages").join(n));
        assert!(w.is_empty(), "groff warns about {n}:\n{w}");
    }

    // A directory that cannot be made is an error, not a panic.
    std::fs::write(d.join("file"), "").unwrap();
    let out = cli::forge(FORGE, &["man", "--dir", "file/x"], &d, None);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("Error: writing the manual pages"),
        "{}",
        out.stderr
    );
}

#[test]
fn bash_completion_completes_commands_and_flags() {
    let d = tempdir::dir(&[]);
    let script = forge_ok(&["completion", "bash"], &d);
    std::fs::write(d.join("forge.bash"), &script).unwrap();
    // Loads the script as bash-completion would and asks what `forge <words>` completes to.
    let complete = |words: &str| -> Vec<String> {
        let snippet = format!(
            r#"source ./forge.bash
COMP_WORDS=(forge {words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_forge forge "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &snippet])
            .current_dir(&d)
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "bash: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let mut top = complete("''");
    top.retain(|w| !w.starts_with('-'));
    top.sort();
    assert_eq!(top, COMMANDS, "top-level completions");
    assert_eq!(complete("bu"), ["build"]);
    let flags = complete("build --on");
    assert_eq!(flags, ["--only", "--on-error"]);
}

#[test]
fn zsh_and_fish_completion_scripts_name_every_command() {
    let d = tempdir::dir(&[]);
    let zsh = forge_ok(&["completion", "zsh"], &d);
    assert!(zsh.starts_with("#compdef forge"), "{zsh}");
    let fish = forge_ok(&["completion", "fish"], &d);
    assert!(fish.contains("complete -c forge"), "{fish}");
    for c in COMMANDS {
        assert!(zsh.contains(&format!("'{c}:")), "zsh lacks {c}:\n{zsh}");
        assert!(
            fish.contains(&format!("-a \"{c}\"")),
            "fish lacks {c}:\n{fish}"
        );
    }
    for hidden in ["'man:", "'internal:", "'help:"] {
        assert!(!zsh.contains(hidden), "zsh offers {hidden}");
    }
    for hidden in ["-a \"man\"", "-a \"internal\"", "-a \"help\""] {
        assert!(!fish.contains(hidden), "fish offers {hidden}");
    }
}

/// The `### \`TYPE\`` section of docs/events.md, up to the next heading.
fn events_section<'a>(doc: &'a str, ty: &str) -> Option<&'a str> {
    let start = doc.find(&format!("### `{ty}`\n"))?;
    let rest = &doc[start + 4..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn docs_events_md_documents_every_event_and_field_forge_writes() {
    let doc = std::fs::read_to_string(repo().join("docs/events.md")).expect("read docs/events.md");
    // One build that makes artifacts, one that fails: between them every event type.
    let d = tempdir::dir(&[
        (
            "ok.pkr.hcl",
            r#"
source "file" "f" {
  content = "x"
  target  = "out.txt"
}
build {
  sources = ["source.file.f"]
  post-processor "checksum" {
    checksum_types = ["sha256"]
    output         = "out.{{.ChecksumType}}"
  }
}
"#,
        ),
        (
            "fail.pkr.hcl",
            r#"
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["echo hi", "exit 3"]
  }
}
"#,
        ),
    ]);
    let mut events = Vec::new();
    for (t, code) in [("ok.pkr.hcl", 0), ("fail.pkr.hcl", 1)] {
        let out = cli::forge(FORGE, &["build", "-events", "ev.jsonl", t], &d, None);
        assert_eq!(out.code, code, "{t}:\n{}{}", out.stdout, out.stderr);
        let text = std::fs::read_to_string(d.join("ev.jsonl")).expect("the event file");
        for line in text.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            events.push(v);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &events {
        let obj = e.as_object().expect("an event is an object");
        assert_eq!(obj["v"], 1, "{e}");
        let ty = obj["type"].as_str().expect("type is a string");
        seen.insert(ty.to_string());
        let section = events_section(&doc, ty)
            .unwrap_or_else(|| panic!("docs/events.md has no section for `{ty}`: {e}"));
        for key in obj.keys() {
            if ["v", "ts", "run", "type", "build"].contains(&key.as_str()) {
                assert!(
                    doc.contains(&format!("| `{key}`")),
                    "common field `{key}` undocumented"
                );
                continue;
            }
            assert!(
                section.contains(&format!("| `{key}` |")),
                "docs/events.md does not document field `{key}` of `{ty}`: {e}"
            );
        }
        if ty == "timeline" {
            for p in obj["phases"].as_array().expect("phases") {
                for key in p.as_object().expect("a phase").keys() {
                    assert!(
                        section.contains(&format!("| `phases[].{key}` |")),
                        "docs/events.md does not document `phases[].{key}`: {e}"
                    );
                }
            }
        }
    }
    for ty in [
        "run.start",
        "build.start",
        "step.start",
        "step.end",
        "resource.created",
        "resource.deleted",
        "artifact",
        "error",
        "build.end",
        "timeline",
        "run.end",
    ] {
        assert!(seen.contains(ty), "no `{ty}` event was written: {seen:?}");
    }
}
