//! `checksum`: every algorithm against the system's `*sum` tools, the line format, appending,
//! the artifact, and configuration errors.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use forge_postprocessors::checksum;
use serde_json::json;

#[tokio::test]
async fn all_types_match_system_tools_and_packer_format() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.txt");
    let b = dir.path().join("big.bin");
    std::fs::write(&a, "hello world\n").unwrap();
    std::fs::write(&b, content(3 << 20, 7)).unwrap();
    let out = dir
        .path()
        .join("sums/deep/{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum");
    let types = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
    let pp = make(
        checksum::factory,
        json!({"checksum_types": types, "output": out.display().to_string()}),
    )
    .unwrap();
    let (r, ui) = run(pp.as_ref(), &ctx(), artifact(&[&a, &b]), "checksum").await;
    let r = r.unwrap();
    assert_eq!(ui, "", "checksum prints nothing");
    assert!(r.keep && r.force_override);
    let art = r.artifact.unwrap();
    assert_eq!(art.builder_id(), "packer.post-processor.checksum");
    assert_eq!(art.id(), "");
    let sums_dir = dir.path().join("sums/deep");
    let mut want_files = vec![a.display().to_string(), b.display().to_string()];
    for t in types {
        want_files.push(
            sums_dir
                .join(format!("x_file_{t}.checksum"))
                .display()
                .to_string(),
        );
    }
    assert_eq!(art.files(), want_files);
    assert_eq!(
        art.string(),
        format!("Created artifact from files: {}", want_files.join(", "))
    );
    for d in [dir.path().join("sums"), sums_dir.clone()] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o755, 0, "{} is {mode:o}", d.display());
    }
    for t in types {
        let f = sums_dir.join(format!("x_file_{t}.checksum"));
        let text = std::fs::read_to_string(&f).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "{} is {mode:o}", f.display());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert!(
            lines[0].ends_with("\ta.txt") && lines[1].ends_with("\tbig.bin"),
            "{text}"
        );
        let tool = format!("{t}sum");
        need(&tool);
        for (line, p) in lines.iter().zip([&a, &b]) {
            let o = String::from_utf8(sh(&format!("{tool} {}", q(p)))).unwrap();
            let hex = o.split_whitespace().next().unwrap();
            assert_eq!(
                line.split('\t').next().unwrap(),
                hex,
                "{t} of {}",
                p.display()
            );
        }
    }
    // Known values, whatever tools the machine has.
    let md5 = std::fs::read_to_string(sums_dir.join("x_file_md5.checksum")).unwrap();
    assert!(md5.starts_with("6f5902ac237024bdd0c176cb93063dc4\ta.txt\n"));
    let sha256 = std::fs::read_to_string(sums_dir.join("x_file_sha256.checksum")).unwrap();
    assert!(sha256
        .starts_with("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447\ta.txt\n"));
}

#[tokio::test]
async fn default_is_md5_and_runs_append() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.txt");
    std::fs::write(&a, "hello world\n").unwrap();
    let out = dir
        .path()
        .join("packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum");
    let cfg = json!({"output": out.display().to_string()});
    let sum = dir.path().join("packer_x_file_md5.checksum");
    let pp = make(checksum::factory, cfg.clone()).unwrap();
    let (r, _) = run(pp.as_ref(), &ctx(), artifact(&[&a]), "checksum").await;
    assert_eq!(
        r.unwrap().artifact.unwrap().files(),
        vec![a.display().to_string(), sum.display().to_string()]
    );
    // A second run appends, and the file it did not create is not part of the artifact.
    let (r, _) = run(pp.as_ref(), &ctx(), artifact(&[&a]), "checksum").await;
    assert_eq!(
        r.unwrap().artifact.unwrap().files(),
        vec![a.display().to_string()]
    );
    assert_eq!(
        std::fs::read_to_string(&sum).unwrap(),
        "6f5902ac237024bdd0c176cb93063dc4\ta.txt\n".repeat(2)
    );
}

#[tokio::test]
async fn one_output_for_all_types_is_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.txt");
    std::fs::write(&a, "hello world\n").unwrap();
    let out = dir.path().join("SUMS");
    let pp = make(
        checksum::factory,
        json!({"checksum_types": ["md5", "sha1"], "output": out.display().to_string()}),
    )
    .unwrap();
    let (r, _) = run(pp.as_ref(), &ctx(), artifact(&[&a]), "checksum").await;
    assert_eq!(
        r.unwrap().artifact.unwrap().files(),
        vec![a.display().to_string(), out.display().to_string()]
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "6f5902ac237024bdd0c176cb93063dc4\ta.txt\n22596363b3de40b06f981fb85d82312e8c0ed511\ta.txt\n"
    );
}

#[test]
fn bad_types_are_listed() {
    let errs = match make(
        checksum::factory,
        json!({"checksum_types": ["sha256", "crc32", "SHA1"]}),
    ) {
        Err(e) => e,
        Ok(_) => panic!("accepted a bad type"),
    };
    assert_eq!(
        errs,
        vec![
            "Unrecognized checksum type: crc32".to_string(),
            "Unrecognized checksum type: SHA1".to_string()
        ]
    );
    assert!(make(checksum::factory, json!({"output": "{{ .X "})).is_err());
}

#[tokio::test]
async fn missing_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.img");
    let out = dir.path().join("s_{{.ChecksumType}}");
    let pp = make(
        checksum::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let (r, _) = run(pp.as_ref(), &ctx(), artifact(&[&missing]), "checksum").await;
    let e = r.err().unwrap().to_string();
    assert!(
        e.contains("unable to open file") && e.contains(&missing.display().to_string()),
        "{e}"
    );
}

#[tokio::test]
async fn no_files_no_checksum_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s_{{.ChecksumType}}");
    let pp = make(
        checksum::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let (r, _) = run(pp.as_ref(), &ctx(), artifact(&[]), "checksum").await;
    let art = r.unwrap().artifact.unwrap();
    assert!(art.files().is_empty());
    assert_eq!(art.string(), "Created artifact from files: ");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
