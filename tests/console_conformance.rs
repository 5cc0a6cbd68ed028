//! `forge console` against `packer console`: every row of
//! crates/forge-template/tests/functions/cases.tsv (produced by Packer 1.6.6's console, see
//! scripts/console-golden.sh) that is not in known_differences.txt is piped through the real
//! binary the way the golden script ran Packer, and the output must match.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use forge_testkit::cases;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Runs `forge console t.pkr.hcl` in `dir` with `expr` piped in; returns what the golden
/// script records: the output without its final newline, or `Error: <detail>` with the
/// detail's line wrapping undone.
fn run(dir: &Path, expr: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_forge"))
        .args(["console", "t.pkr.hcl"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run forge");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(format!("{expr}\n").as_bytes());
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && !stdout.starts_with("Error: ") {
        return stdout.strip_suffix('\n').unwrap_or(&stdout).to_string();
    }
    let all = stdout + &String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = all.lines().collect();
    let mut detail = Vec::new();
    let mut started = false;
    for line in &lines {
        if !started {
            started = line.trim() == "(source code not available)";
            continue;
        }
        if line.trim().is_empty() {
            if !detail.is_empty() {
                break;
            }
            continue;
        }
        detail.push(line.trim());
    }
    if detail.is_empty() {
        detail = lines
            .iter()
            .skip(1)
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .take(1)
            .collect();
    }
    format!("Error: {}", detail.join(" "))
}

#[test]
fn console_matches_packer_on_function_cases() {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/forge-template/tests/functions");
    let work = std::env::temp_dir().join(format!("forge-console-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    copy_dir(&root.join("fixtures"), &work);
    std::fs::write(
        work.join("t.pkr.hcl"),
        "variable \"x\" {\n default = \"a\"\n}\n",
    )
    .unwrap();
    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for case in cases::load(&root) {
        let (expr, expected) = (case.expr.as_str(), case.expected.clone());
        if case.known_difference {
            skipped += 1;
            continue;
        }
        let got = run(&work, expr);
        if got == expected {
            passed += 1;
        } else {
            failures.push(format!("{expr}\n  packer: {expected:?}\n  forge:  {got:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "console conformance: {passed} rows match packer, {} differ, {skipped} known differences skipped",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "rows that differ from packer console:\n{}",
        failures.join("\n")
    );
}
