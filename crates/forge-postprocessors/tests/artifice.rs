//! `artifice`: the new file list (paths and Go globs), its messages, the artifact, and the
//! configuration errors.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod common;

use common::*;
use forge_postprocessors::artifice;
use serde_json::json;

#[tokio::test]
async fn replaces_the_file_list() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("out/sub")).unwrap();
    for f in [
        "out/b.box",
        "out/a.box",
        "out/notes.txt",
        "out/sub/c.box",
        "single.bin",
    ] {
        std::fs::write(d.join(f), f).unwrap();
    }
    let old = d.join("old.img");
    std::fs::write(&old, "old").unwrap();
    let files = vec![
        format!("{}/out/*.box", d.display()),
        format!("{}/./single.bin", d.display()),
        format!("{}/out/*/c.b?x", d.display()),
        format!("{}/nothing-here", d.display()),
        format!("{}/out/[^n]*.txt", d.display()),
    ];
    let pp = make(artifice::factory, json!({"files": files})).unwrap();
    let (r, ui) = run(pp.as_ref(), &ctx(), artifact(&[&old]), "artifice").await;
    let r = r.unwrap();
    assert!(r.keep && !r.force_override);
    let art = r.artifact.unwrap();
    let want: Vec<String> = [
        "out/a.box",
        "out/b.box",
        // A path without magic characters is used as written.
        "./single.bin",
        "out/sub/c.box",
    ]
    .iter()
    .map(|f| format!("{}/{f}", d.display()))
    .collect();
    assert_eq!(art.files(), want);
    assert_eq!(art.builder_id(), "packer.post-processor.artifice");
    assert_eq!(art.id(), "");
    assert_eq!(
        art.string(),
        format!("Created artifact from files: {}", want.join(", "))
    );
    assert_eq!(
        ui,
        format!(
            "==> file.x (artifice): Discarding files from artifact: {}\n\
             ==> file.x (artifice): Using these artifact files: {}\n",
            old.display(),
            want.join(", ")
        )
    );
    // Destroying the artifact removes its files (directories too).
    art.destroy().await.unwrap();
    for f in &want {
        assert!(!std::path::Path::new(f).exists(), "{f}");
    }
    assert!(d.join("out/notes.txt").exists());
}

#[tokio::test]
async fn no_old_files_no_discard_message() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, "").unwrap();
    let pp = make(
        artifice::factory,
        json!({"files": [f.display().to_string()]}),
    )
    .unwrap();
    let (r, ui) = run(pp.as_ref(), &ctx(), artifact(&[]), "artifice").await;
    assert_eq!(
        r.unwrap().artifact.unwrap().files(),
        vec![f.display().to_string()]
    );
    assert_eq!(
        ui,
        format!(
            "==> file.x (artifice): Using these artifact files: {}\n",
            f.display()
        )
    );
}

#[test]
fn configuration_errors() {
    for cfg in [json!({}), json!({"files": []})] {
        match make(artifice::factory, cfg) {
            Err(e) => assert_eq!(
                e,
                vec!["No files specified in artifice configuration".to_string()]
            ),
            Ok(_) => panic!("accepted no files"),
        }
    }
    match make(artifice::factory, json!({"files": ["ok", "bad[", "a\\"]})) {
        Err(e) => assert_eq!(
            e,
            vec![
                "Bad pattern in files: \"bad[\": syntax error in pattern".to_string(),
                "Bad pattern in files: \"a\\\\\": syntax error in pattern".to_string()
            ]
        ),
        Ok(_) => panic!("accepted bad patterns"),
    }
}

#[tokio::test]
async fn broken_symlink_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("target-missing"), &l).unwrap();
    let pp = make(
        artifice::factory,
        json!({"files": [l.display().to_string()]}),
    )
    .unwrap();
    let e = run(pp.as_ref(), &ctx(), artifact(&[]), "artifice")
        .await
        .0
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with(&format!("stat {}: ", l.display())), "{e}");
}
