//! Conformance of `format_hcl` with `packer fmt` over the reference corpus.
//!
//! Every `*.pkr.hcl` and `*.pkrvars.hcl` file of the corpus is formatted by the real Packer
//! and by forge, and the results must be byte-for-byte identical; a file Packer refuses to
//! format must be refused by forge too.
//!
//! The corpus is found through the `FORGE_CORPUS` environment variable, or else at
//! `shared/corpus` beside the checkout. Packer 1.6.6 cannot format standard input, so each
//! file is copied into a scratch directory and formatted there in place.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use forge_template::format::format_hcl;

fn corpus_dir() -> PathBuf {
    let dir = match std::env::var_os("FORGE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let absolute = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()
            .expect("current directory")
            .join(dir)
    };
    match absolute.canonicalize() {
        Ok(dir) if dir.is_dir() => dir,
        _ => panic!(
            "the reference corpus is missing: expected a directory at {} \
             (set FORGE_CORPUS to the corpus directory, normally shared/corpus beside the \
             checkout)",
            absolute.display()
        ),
    }
}

fn find_packer() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("packer"))
        .find(|candidate| candidate.is_file())
}

fn is_hcl_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl")
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            collect_files(&path, out);
        } else if kind.is_file() && is_hcl_file(&path) {
            out.push(path);
        }
    }
}

/// What Packer makes of a file: its formatted text, or `None` when it refuses it.
fn packer_format(packer: &Path, file: &Path, scratch: &Path) -> Option<Vec<u8>> {
    std::fs::create_dir_all(scratch).expect("scratch directory");
    let name = file.file_name().expect("file name");
    let copy = scratch.join(name);
    std::fs::copy(file, &copy).expect("copy into scratch directory");
    let status = Command::new(packer)
        .arg("fmt")
        .arg(name)
        .current_dir(scratch)
        .output()
        .expect("run packer fmt")
        .status;
    let result = status
        .success()
        .then(|| std::fs::read(&copy).expect("read packer's output"));
    let _ = std::fs::remove_dir_all(scratch);
    result
}

/// What forge makes of a file: its formatted text, or `None` when it refuses it.
fn forge_format(file: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(file).expect("read corpus file");
    let text = String::from_utf8(bytes).ok()?;
    format_hcl(&text).ok().map(String::into_bytes)
}

fn describe(result: &Option<Vec<u8>>) -> &'static str {
    if result.is_some() {
        "formats it"
    } else {
        "rejects it"
    }
}

#[test]
fn formats_corpus_like_packer() {
    let corpus = corpus_dir();
    let Some(packer) = find_packer() else {
        panic!("install Debian's packer (apt-get install packer) to run the fmt conformance test");
    };

    let mut files = Vec::new();
    collect_files(&corpus, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no HCL files under {}", corpus.display());

    let scratch_root =
        std::env::temp_dir().join(format!("forge-fmt-corpus-{}", std::process::id()));
    let next = AtomicUsize::new(0);
    let agreed = AtomicUsize::new(0);
    let mismatches = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let expected = packer_format(&packer, file, &scratch_root.join(i.to_string()));
                let actual = forge_format(file);
                let rel = file
                    .strip_prefix(&corpus)
                    .unwrap_or(file)
                    .display()
                    .to_string();
                match (&expected, &actual) {
                    (Some(e), Some(a)) if e == a => {
                        agreed.fetch_add(1, Ordering::Relaxed);
                    }
                    (None, None) => {
                        agreed.fetch_add(1, Ordering::Relaxed);
                    }
                    (Some(_), Some(_)) => {
                        mismatches
                            .lock()
                            .unwrap()
                            .push(format!("{rel}: output differs"));
                    }
                    _ => mismatches.lock().unwrap().push(format!(
                        "{rel}: packer {}, forge {}",
                        describe(&expected),
                        describe(&actual)
                    )),
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch_root);

    let agreed = agreed.into_inner();
    let mut mismatches = mismatches.into_inner().unwrap();
    mismatches.sort();
    println!("fmt conformance: {agreed}/{} identical", files.len());
    assert!(
        mismatches.is_empty(),
        "fmt conformance: {agreed}/{} identical; {} files differ from packer fmt:\n  {}",
        files.len(),
        mismatches.len(),
        mismatches.join("\n  ")
    );
}
