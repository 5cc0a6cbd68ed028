//! `hcl2_upgrade` golden cases: each tests/hcl2_upgrade/<case>/input.json must translate to
//! exactly expected.pkr.hcl (cases named `annotated_*` run with `-with-annotations`). The
//! expectations were checked by hand against Packer 1.16's `command/hcl2_upgrade.go`.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::PathBuf;

use forge_template::upgrade::{hcl2_upgrade, UpgradeOptions};

#[test]
fn golden_cases() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hcl2_upgrade");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/hcl2_upgrade")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("input.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 6,
        "expected the golden cases in {}",
        root.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read_to_string(case.join("input.json")).unwrap();
        let expected = std::fs::read_to_string(case.join("expected.pkr.hcl")).unwrap();
        let opts = UpgradeOptions {
            with_annotations: name.starts_with("annotated_"),
        };
        match hcl2_upgrade(&input, &opts) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!("{name}: got\n{got}")),
            Err(e) => failures.push(format!("{name}: {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Bad input never panics: truncated and mangled templates give errors or some output.
#[test]
fn bad_input_does_not_panic() {
    let opts = UpgradeOptions::default();
    for src in [
        "",
        "{",
        "[]",
        "{\"builders\": 3}",
        "{\"builders\": [{\"type\": \"null\", \"x\": \"{{\"}]}",
        "{\"builders\": [{\"type\": \"null\", \"x\": \"{{ user }}\", \"y\": [\"a\", {\"b\": 1}]}]}",
        "{\"builders\": [{\"type\": \"null\", \"x\": \"{{ (user `a`) }} {{ $x := 1 }} {{ 'c' }} {{ aws_secretsmanager }}\"}]}",
        "{\"variables\": {\"a\": \"{{ split `a` }}\"}, \"builders\": [{\"type\": \"amazon-ebs\", \"source_ami_filter\": \"x\"}]}",
    ] {
        let _ = hcl2_upgrade(src, &opts);
    }
}
