//! `compress`: every format round-trips through the same crates and through the system tools
//! (`tar`, `gzip`, `xz`, `zstd`, `lz4`, `unzip`, each skipped with a note when missing), plus
//! Packer's messages, artifact, tar headers, errors and cancellation.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;
use forge_postprocessors::compress::{self, Algorithm, Archive};
use serde_json::json;

struct Inputs {
    _dir: tempfile::TempDir,
    root: PathBuf,
    files: Vec<PathBuf>,
    data: Vec<Vec<u8>>,
}

/// Two input files: a small one (mode 0640) and one of a few MiB (several parallel chunks).
fn inputs() -> Inputs {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("in")).unwrap();
    let a = root.join("in/a.txt");
    let b = root.join("in/disk.img");
    let data = vec![b"hello world\n".to_vec(), content(5 << 20, 3)];
    std::fs::write(&a, &data[0]).unwrap();
    std::fs::write(&b, &data[1]).unwrap();
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640)).unwrap();
    Inputs {
        _dir: dir,
        root,
        files: vec![a, b],
        data,
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

/// The decompressed stream of `path`, with the crates.
fn decompress(path: &Path, alg: Algorithm) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap();
    match alg {
        Algorithm::None => read_all(f),
        Algorithm::Gzip | Algorithm::Bgzf => read_all(flate2::read::MultiGzDecoder::new(f)),
        Algorithm::Lz4 => read_all(lz4_flex::frame::FrameDecoder::new(f)),
        Algorithm::Xz => read_all(xz2::read::XzDecoder::new_multi_decoder(f)),
        Algorithm::Zstd => read_all(zstd::stream::read::Decoder::new(f).unwrap()),
    }
}

/// `(name, mode, mtime, uid, size, data)` of each tar entry.
type TarEntry = (String, u32, u64, u64, u64, Vec<u8>);

fn tar_entries(stream: &[u8]) -> Vec<TarEntry> {
    let mut ar = tar::Archive::new(stream);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            assert!(h.as_gnu().is_some(), "GNU format");
            let name = e.path().unwrap().display().to_string();
            let data = read_all(&mut e);
            (
                name,
                h.mode().unwrap(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
                h.size().unwrap(),
                data,
            )
        })
        .collect()
}

/// Checks `out` with the system tool for `alg`, if installed.
fn system_check(out: &Path, alg: Algorithm, archive: Archive, inputs: &Inputs) {
    let o = q(out);
    let tool = match alg {
        Algorithm::Gzip | Algorithm::Bgzf => "gzip",
        Algorithm::Xz => "xz",
        Algorithm::Zstd => "zstd",
        Algorithm::Lz4 => "lz4",
        Algorithm::None => "cat",
    };
    if alg != Algorithm::None {
        need(tool);
        sh(&format!("{tool} -t {o}"));
    }
    let cat = match alg {
        Algorithm::None => format!("cat {o}"),
        _ => format!("{tool} -dc {o}"),
    };
    match archive {
        Archive::Tar => {
            need("tar");
            let x = inputs
                .root
                .join(format!("x-{}", out.file_name().unwrap().to_string_lossy()));
            std::fs::create_dir_all(&x).unwrap();
            let listing = String::from_utf8(sh(&format!("{cat} | tar -tvf -"))).unwrap();
            assert!(
                listing.contains("-rw-r-----") && listing.contains(" a.txt"),
                "{listing}"
            );
            sh(&format!("{cat} | tar -xf - -C {}", q(&x)));
            assert_eq!(std::fs::read(x.join("a.txt")).unwrap(), inputs.data[0]);
            assert!(std::fs::read(x.join("disk.img")).unwrap() == inputs.data[1]);
        }
        Archive::Zip => {
            need("unzip");
            sh(&format!("unzip -t {o}"));
            for (f, d) in inputs.files.iter().zip(&inputs.data) {
                let got = sh(&format!("unzip -p {o} {}", q(f)));
                assert!(&got == d, "unzip -p of {}", f.display());
            }
        }
        Archive::None => {
            assert!(sh(&cat) == inputs.data[1], "{cat}");
        }
    }
}

async fn compress_to(name: &str, inputs: &Inputs, files: &[&Path]) -> (PathBuf, String) {
    let out = inputs.root.join("out").join(name);
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let (r, ui) = run(pp.as_ref(), &ctx(), artifact(files), "compress").await;
    let r = r.unwrap();
    assert!(!r.keep && !r.force_override);
    let art = r.artifact.unwrap();
    assert_eq!(art.builder_id(), "packer.post-processor.compress");
    assert_eq!(art.id(), "");
    assert_eq!(art.files(), vec![out.display().to_string()]);
    assert_eq!(
        art.string(),
        format!("compressed artifacts in: {}", out.display())
    );
    (out, ui)
}

#[tokio::test]
async fn every_format_round_trips() {
    use Algorithm as A;
    use Archive as R;
    let inputs = inputs();
    let both: Vec<&Path> = inputs.files.iter().map(|p| p.as_path()).collect();
    let one = [inputs.files[1].as_path()];
    let cases = [
        ("x.tar", R::Tar, A::None),
        ("x.zip", R::Zip, A::None),
        ("x.tar.gz", R::Tar, A::Gzip),
        ("x.tgz", R::Tar, A::Gzip),
        ("noext", R::Tar, A::Gzip),
        ("x.tar.bgzf", R::Tar, A::Bgzf),
        ("x.tar.lz4", R::Tar, A::Lz4),
        ("x.tar.xz", R::Tar, A::Xz),
        ("x.tar.zst", R::Tar, A::Zstd),
        ("x.gz", R::None, A::Gzip),
        ("x.bgzf", R::None, A::Bgzf),
        ("x.lz4", R::None, A::Lz4),
        ("x.xz", R::None, A::Xz),
        ("x.zst", R::None, A::Zstd),
    ];
    for (name, archive, alg) in cases {
        let files: &[&Path] = if archive == R::None { &one } else { &both };
        let (out, _) = compress_to(name, &inputs, files).await;
        match archive {
            R::Tar => {
                let entries = tar_entries(&decompress(&out, alg));
                assert_eq!(entries.len(), 2, "{name}");
                let uid = std::fs::metadata(&inputs.files[0]).unwrap().uid_();
                assert_eq!(entries[0].0, "a.txt");
                assert_eq!(entries[0].1, 0o640);
                assert_eq!(entries[0].2, 0, "mtime is zeroed");
                assert_eq!(entries[0].3, uid);
                assert_eq!(entries[0].4, 12);
                assert_eq!(entries[0].5, inputs.data[0]);
                assert_eq!(entries[1].0, "disk.img");
                assert!(entries[1].5 == inputs.data[1], "{name}");
            }
            R::Zip => {
                let mut z = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
                assert_eq!(z.len(), 2);
                for (i, f) in inputs.files.iter().enumerate() {
                    let mut e = z.by_index(i).unwrap();
                    assert_eq!(
                        e.name().unwrap(),
                        f.display().to_string(),
                        "zip keeps the path"
                    );
                    assert_eq!(e.compression(), zip::CompressionMethod::Deflated);
                    assert!(read_all(&mut e) == inputs.data[i]);
                }
            }
            R::None => assert!(decompress(&out, alg) == inputs.data[1], "{name}"),
        }
        system_check(&out, alg, archive, &inputs);
    }
}

trait UidExt {
    fn uid_(&self) -> u64;
}
impl UidExt for std::fs::Metadata {
    fn uid_(&self) -> u64 {
        std::os::unix::fs::MetadataExt::uid(self) as u64
    }
}

#[tokio::test]
async fn messages_as_packer() {
    let inputs = inputs();
    let both: Vec<&Path> = inputs.files.iter().map(|p| p.as_path()).collect();
    let n = compress::default_threads();
    let cores = if n == 1 {
        "1 core".to_string()
    } else {
        format!("{n} cores")
    };
    let (out, ui) = compress_to("m.tar.gz", &inputs, &both).await;
    let o = out.display();
    assert_eq!(
        ui,
        format!(
            "==> file.x (compress): Using pgzip compression with {cores} for {o}\n\
             ==> file.x (compress): Tarring {o} with pgzip\n\
             ==> file.x (compress): Archive {o} completed\n"
        )
    );
    let (out, ui) = compress_to("m.tar", &inputs, &both).await;
    let o = out.display();
    assert_eq!(
        ui,
        format!(
            "==> file.x (compress): Tarring {o} with no compression\n\
             ==> file.x (compress): Archive {o} completed\n"
        )
    );
    let (out, ui) = compress_to("m.zip", &inputs, &both).await;
    let o = out.display();
    assert_eq!(
        ui,
        format!(
            "==> file.x (compress): Zipping {o}\n==> file.x (compress): Archive {o} completed\n"
        )
    );
    let one = [inputs.files[0].as_path()];
    let (out, ui) = compress_to("m.xz", &inputs, &one).await;
    let o = out.display();
    let i = inputs.files[0].display();
    assert_eq!(
        ui,
        format!(
            "==> file.x (compress): Using xz compression with {cores} for {o}\n\
             ==> file.x (compress): Archiving {i} with xz\n\
             ==> file.x (compress): Archive {o} completed\n"
        )
    );
}

#[tokio::test]
async fn default_output_and_format() {
    let inputs = inputs();
    let one = [inputs.files[0].as_path()];
    // `format` only picks the format; the file keeps the output's name.
    let out = inputs.root.join("o/{{.BuildName}}-{{.BuilderType}}");
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string(), "format": "zst"}),
    )
    .unwrap();
    let (r, _) = run(pp.as_ref(), &ctx(), artifact(&one), "compress").await;
    let got = inputs.root.join("o/x-file");
    assert_eq!(
        r.unwrap().artifact.unwrap().files(),
        vec![got.display().to_string()]
    );
    assert_eq!(decompress(&got, Algorithm::Zstd), inputs.data[0]);
}

#[tokio::test]
async fn single_file_formats_need_one_input() {
    let inputs = inputs();
    let both: Vec<&Path> = inputs.files.iter().map(|p| p.as_path()).collect();
    let out = inputs.root.join("x.gz");
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let e = run(pp.as_ref(), &ctx(), artifact(&both), "compress")
        .await
        .0
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("Can only have 1 input file when not using tar/zip. Found 2 files: ["),
        "{e}"
    );
    assert!(!out.exists(), "nothing written");
}

#[tokio::test]
async fn errors_name_the_file_and_leave_nothing() {
    let inputs = inputs();
    let missing = inputs.root.join("in/missing.img");
    let out = inputs.root.join("e.tar.gz");
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let files = [inputs.files[0].as_path(), missing.as_path()];
    let e = run(pp.as_ref(), &ctx(), artifact(&files), "compress")
        .await
        .0
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(
        e.starts_with("Error creating tar: Unable to read file"),
        "{e}"
    );
    assert!(!out.exists(), "partial output removed");
    // The output is one of the inputs: refused, the input untouched.
    let same = inputs.files[0].clone();
    let pp = make(
        compress::factory,
        json!({"output": same.display().to_string(), "format": "gz"}),
    )
    .unwrap();
    let e = run(pp.as_ref(), &ctx(), artifact(&[&same]), "compress")
        .await
        .0
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("it is one of the input files"), "{e}");
    assert_eq!(std::fs::read(&same).unwrap(), inputs.data[0]);
    // The output's directory cannot be made.
    let blocker = inputs.root.join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let out = blocker.join("sub/x.tar");
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let e = run(
        pp.as_ref(),
        &ctx(),
        artifact(&[&inputs.files[0]]),
        "compress",
    )
    .await
    .0
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.starts_with(&format!(
            "Unable to create dir for archive {}",
            out.display()
        )),
        "{e}"
    );
}

#[tokio::test]
async fn cancellation_stops_and_cleans_up() {
    let inputs = inputs();
    let out = inputs.root.join("c.tar.gz");
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let c = ctx();
    c.cancel.cancel();
    let r = run(pp.as_ref(), &c, artifact(&[&inputs.files[1]]), "compress")
        .await
        .0;
    assert!(r.err().unwrap().is_cancelled());
    assert!(!out.exists());
}

#[tokio::test]
async fn destroy_removes_the_output() {
    let inputs = inputs();
    let (out, _) = compress_to("d.tar", &inputs, &[&inputs.files[0]]).await;
    let pp = make(
        compress::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let r = run(
        pp.as_ref(),
        &ctx(),
        artifact(&[&inputs.files[0]]),
        "compress",
    )
    .await
    .0
    .unwrap();
    r.artifact.unwrap().destroy().await.unwrap();
    assert!(!out.exists());
    assert!(
        inputs.files[0].exists(),
        "inputs are the engine's to remove"
    );
}

#[test]
fn levels() {
    for (l, ok) in [
        (0, true),
        (-1, true),
        (1, true),
        (9, true),
        (42, true),
        (-2, false),
    ] {
        let r = make(compress::factory, json!({"compression_level": l}));
        assert_eq!(r.is_ok(), ok, "level {l}");
        if let Err(e) = r {
            assert_eq!(e, vec![compress::BAD_LEVEL.to_string()]);
        }
    }
}

#[test]
fn levels_change_the_output() {
    let inputs = inputs();
    let sizes: Vec<u64> = [1u32, 9]
        .iter()
        .map(|&l| {
            let out = inputs.root.join(format!("l{l}.gz"));
            let opts = compress::Options {
                archive: Archive::None,
                algorithm: Algorithm::Gzip,
                level: Some(l),
                threads: 2,
            };
            compress::compress_files(
                &[inputs.files[1].display().to_string()],
                &out,
                &opts,
                &|_| {},
                None,
            )
            .unwrap();
            std::fs::metadata(&out).unwrap().len()
        })
        .collect();
    assert!(sizes[1] < sizes[0], "{sizes:?}");
}

/// The 512-byte GNU header Go's `archive/tar` writes for a regular file (Packer 1.6.6's tar
/// output, compared byte for byte with `packer build` while writing this test).
fn go_header(
    name: &[u8],
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    uname: &str,
    gname: &str,
) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    let mut put = |off: usize, s: String| h[off..off + s.len()].copy_from_slice(s.as_bytes());
    put(100, format!("{mode:07o}"));
    put(108, format!("{uid:07o}"));
    put(116, format!("{gid:07o}"));
    put(124, format!("{size:011o}"));
    put(136, "00000000000".into());
    put(156, "0".into());
    put(257, "ustar  ".into());
    put(265, uname.into());
    put(297, gname.into());
    put(329, "0000000".into());
    put(337, "0000000".into());
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    h[154] = 0;
    h
}

#[test]
fn tar_bytes_as_go() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("a.txt");
    let long_name = format!("{}.img", "l".repeat(150));
    let long = dir.path().join(&long_name);
    std::fs::write(&short, "hello world\n").unwrap();
    std::fs::write(&long, "y").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o4751)).unwrap();
    let out = dir.path().join("x.tar");
    let opts = compress::Options {
        archive: Archive::Tar,
        algorithm: Algorithm::None,
        level: None,
        threads: 1,
    };
    let files = [short.display().to_string(), long.display().to_string()];
    compress::compress_files(&files, &out, &opts, &|_| {}, None).unwrap();
    let got = std::fs::read(&out).unwrap();
    let md = std::fs::metadata(&short).unwrap();
    // The names the system knows for the owner, as `tar -tv` prints them.
    need("stat");
    let (uname, gname) = {
        let o = String::from_utf8(sh(&format!("stat -c '%U %G' {}", q(&short)))).unwrap();
        let mut it = o.split_whitespace();
        let u = it.next().unwrap().to_string();
        let g = it.next().unwrap().to_string();
        (
            if u == "UNKNOWN" { String::new() } else { u },
            if g == "UNKNOWN" { String::new() } else { g },
        )
    };
    let mut want = go_header(b"a.txt", 0o4751, md.uid(), md.gid(), 12, &uname, &gname);
    let mut data = b"hello world\n".to_vec();
    data.resize(512, 0);
    want.extend(data);
    // The long name: a ././@LongLink entry, then the header with the name cut to 100 bytes.
    let mut link = go_header(
        b"././@LongLink",
        0,
        0,
        0,
        long_name.len() as u64 + 1,
        "",
        "",
    );
    link[156] = b'L';
    link[329..345].fill(0);
    link[148..156].fill(b' ');
    let sum: u32 = link.iter().map(|&b| u32::from(b)).sum();
    link[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    link[154] = 0;
    want.extend(link);
    let mut n = long_name.as_bytes().to_vec();
    n.resize(512, 0);
    want.extend(n);
    let lmd = std::fs::metadata(&long).unwrap();
    want.extend(go_header(
        long_name.as_bytes(),
        lmd.mode() & 0o7777,
        lmd.uid(),
        lmd.gid(),
        1,
        &uname,
        &gname,
    ));
    let mut y = b"y".to_vec();
    y.resize(512, 0);
    want.extend(y);
    want.extend(vec![0u8; 1024]);
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "tar bytes differ from Go's at {i}: got {:?}, want {:?}",
            String::from_utf8_lossy(&got[i - i % 512..(i - i % 512 + 512).min(got.len())]),
            String::from_utf8_lossy(&want[i - i % 512..(i - i % 512 + 512).min(want.len())])
        );
    }
    let entries = tar_entries(&got);
    assert_eq!(entries[1].0, long_name);
}
