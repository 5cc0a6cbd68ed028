//! Conformance: `forge fmt` against `packer fmt` (Debian's packer 1.6.6) over every HCL2 file
//! of the shared corpus. Both run on copies in temporary directories (packer 1.6.6 takes one
//! path and reads no standard input correctly), and must agree on the exit code of `-check`,
//! the files it reports, the files it fails on, and the bytes `fmt` writes.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::{Path, PathBuf};
use std::process::Command;

fn packer() -> PathBuf {
    let p = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("packer"))
        .find(|p| p.is_file());
    p.expect("packer is not installed: install Debian's packer (apt-get install --no-install-recommends packer) to run the fmt conformance test")
}

fn hcl2_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if p.is_dir() {
            hcl2_files(&p, out);
        } else if name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl") {
            out.push(p);
        }
    }
}

/// A temporary directory with a flat copy of every file, named `NNNN_basename`.
fn copy_flat(files: &[PathBuf], tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("forge-fmt-corpus-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap().to_string_lossy();
        std::fs::copy(f, d.join(format!("{i:04}_{name}"))).unwrap();
    }
    d
}

struct Outcome {
    code: i32,
    reported: Vec<String>,
    failed: Vec<String>,
}

fn run(program: &Path, args: &[&str], dir: &Path) -> Outcome {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut reported = Vec::new();
    let mut failed = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("Error: encountered an error while formatting ") {
            failed.push(f.trim_start_matches("./").to_string());
        } else if (line.ends_with(".pkr.hcl") || line.ends_with(".pkrvars.hcl"))
            && (!line.contains(' ') || Path::new(dir).join(line).is_file())
        {
            reported.push(line.trim_start_matches("./").to_string());
        }
    }
    reported.sort();
    failed.sort();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        reported,
        failed,
    }
}

#[test]
fn forge_fmt_agrees_with_packer_fmt_over_the_corpus() {
    let corpus = forge_testkit::corpus::dir();
    let packer = packer();
    let forge = Path::new(env!("CARGO_BIN_EXE_forge"));
    let mut files = Vec::new();
    hcl2_files(&corpus, &mut files);
    assert!(
        !files.is_empty(),
        "no HCL2 files under {}",
        corpus.display()
    );

    // -check over the whole corpus.
    let pd = copy_flat(&files, "packer");
    let fd = copy_flat(&files, "forge");
    let p = run(&packer, &["fmt", "-check", "."], &pd);
    let f = run(forge, &["fmt", "-check", "."], &fd);
    assert_eq!(f.failed, p.failed, "files that fail to format");
    assert_eq!(
        f.reported, p.reported,
        "files -check reports as unformatted"
    );
    assert_eq!(f.code, p.code, "exit code of fmt -check");
    assert!(
        !p.reported.is_empty(),
        "the corpus should have unformatted files"
    );

    // Each file on its own: the exit code of -check.
    for (i, file) in files.iter().enumerate() {
        let name = format!("{i:04}_{}", file.file_name().unwrap().to_string_lossy());
        let p = run(&packer, &["fmt", "-check", &name], &pd);
        let f = run(forge, &["fmt", "-check", &name], &fd);
        assert_eq!(
            (f.code, &f.reported),
            (p.code, &p.reported),
            "fmt -check {}",
            file.display()
        );
    }

    // Writing: the same bytes land on disk.
    let p = run(&packer, &["fmt", "."], &pd);
    let f = run(forge, &["fmt", "."], &fd);
    assert_eq!((f.code, &f.reported), (p.code, &p.reported), "fmt (write)");
    for (i, file) in files.iter().enumerate() {
        let name = format!("{i:04}_{}", file.file_name().unwrap().to_string_lossy());
        let pb = std::fs::read(pd.join(&name)).unwrap();
        let fb = std::fs::read(fd.join(&name)).unwrap();
        assert!(pb == fb, "fmt wrote different bytes for {}", file.display());
    }
    let _ = std::fs::remove_dir_all(&pd);
    let _ = std::fs::remove_dir_all(&fd);
}
