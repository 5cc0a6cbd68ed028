//! The file provisioner's checks, its trailing-slash rules, and its run against the scripted
//! communicator double (`crate::testing::FakeComm`); end-to-end tests against a real OpenSSH
//! server are added separately.

use std::path::PathBuf;
use std::sync::Arc;

use forge_core::plugin::{BuildCtx, BuildData};
use serde_json::json;

use super::*;
use crate::testing::{info, scratch, ui, value, Call, FakeComm, Reply};

fn prepare(v: serde_json::Value) -> std::result::Result<Config, Vec<String>> {
    Config::prepare(&value(v), &info())
}

async fn provision(
    v: serde_json::Value,
    comm: Option<&FakeComm>,
    data: &BuildData,
) -> (Result<()>, String) {
    let p = factory(&value(v), &info()).unwrap();
    let ctx = BuildCtx::for_test("null");
    let (ui, buf) = ui();
    let comm = comm.map(|c| Arc::new(c.clone()) as Arc<dyn Communicator>);
    let r = p.provision(&ctx, &ui, comm, data).await;
    (r, buf.text())
}

/// A scratch directory holding `a.txt` and `up/b.txt`.
fn tree(name: &str) -> PathBuf {
    let d = scratch(name);
    std::fs::write(d.join("a.txt"), "a").unwrap();
    std::fs::create_dir(d.join("up")).unwrap();
    std::fs::write(d.join("up/b.txt"), "b").unwrap();
    d
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

// ---- configuration ----

#[test]
fn packer_errors() {
    assert_eq!(
        prepare(json!({})).unwrap_err(),
        [
            "Source must be specified.",
            "Destination must be specified."
        ]
    );
    // A bad direction skips the source check, as in Packer.
    assert_eq!(
        prepare(json!({"source": "missing", "direction": "sideways"})).unwrap_err(),
        [
            "Direction must be one of: download, upload.",
            "Destination must be specified."
        ]
    );
    assert_eq!(
        prepare(json!({"source": "missing", "destination": "/x"})).unwrap_err(),
        ["Bad source 'missing': stat missing: no such file or directory"]
    );
    let d = tree("file-conflict");
    assert_eq!(
        prepare(json!({"source": s(&d.join("a.txt")), "content": "x", "destination": "/x"}))
            .unwrap_err(),
        ["source(s) conflicts with content."]
    );
    assert_eq!(
        prepare(json!({"content": "x", "destination": "/x", "direction": "download"})).unwrap_err(),
        ["content can only be uploaded: it cannot be used with direction \"download\"."]
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn accepted_configurations() {
    // generated: looked for only when uploaded; downloads are never looked for locally.
    let c = prepare(json!({"source": "later", "destination": "/x", "generated": true})).unwrap();
    assert!(c.generated);
    let c = prepare(
        json!({"sources": ["/r/a", "/r/b"], "source": "/r/c", "destination": "d/",
        "direction": "download"}),
    )
    .unwrap();
    assert_eq!(c.direction, Direction::Download);
    // Packer appends `source` after `sources`.
    assert_eq!(c.sources, ["/r/a", "/r/b", "/r/c"]);
    let c = prepare(json!({"content": "hello", "destination": "/etc/motd"})).unwrap();
    assert_eq!(c.content.as_deref(), Some("hello"));
    // An empty content (a template that rendered to nothing) uploads nothing.
    let c = prepare(json!({"content": "", "destination": "/etc/motd"})).unwrap();
    assert!(c.content.is_none() && c.sources.is_empty());
}

// ---- trailing-slash rules ----

#[test]
fn upload_destinations() {
    assert_eq!(file_destination("/tmp/dst/", "up/a.txt"), "/tmp/dst/a.txt");
    assert_eq!(file_destination("/tmp/dst", "up/a.txt"), "/tmp/dst");
}

#[test]
fn download_targets_and_kinds() {
    let t = |src, dst| download_targets(src, dst);
    assert_eq!(
        t("/r/a.txt", "dl/x/"),
        ("dl/x/a.txt".into(), "dl/x/".into())
    );
    assert_eq!(t("/r/a.txt", "dl/q"), ("dl/q".into(), "dl".into()));
    assert_eq!(t("/r/a.txt", "q"), ("q".into(), ".".into()));
    assert_eq!(t("/r/up/", "dl/z/"), ("dl/z/".into(), "dl/z/".into()));
    assert_eq!(t("/r/up/*", "dl/w/"), ("dl/w/".into(), "dl/w/".into()));
    assert!(is_dir_source("/r/up/"));
    assert!(is_dir_source("/r/*.log"));
    assert!(is_dir_source("/r/file?.txt"));
    assert!(is_dir_source("/r/[ab].txt"));
    assert!(!is_dir_source("/r/up"));
}

// ---- uploading ----

#[tokio::test]
async fn uploads_files_and_directories() {
    let d = tree("file-up");
    let a = s(&d.join("a.txt"));
    let up = s(&d.join("up"));
    let comm = FakeComm::new();
    let (r, out) = provision(
        json!({"sources": [a, up, format!("{up}/")], "destination": "/tmp/dst/"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    r.unwrap();
    assert_eq!(
        comm.calls(),
        [
            Call::Upload("/tmp/dst/a.txt".into(), a.clone().into(), b"a".to_vec()),
            Call::UploadDir("/tmp/dst/".into(), up.clone().into()),
            // The trailing slash reaches the communicator: `up/` means up's contents.
            Call::UploadDir("/tmp/dst/".into(), format!("{up}/").into()),
        ]
    );
    assert_eq!(
        out,
        format!(
            "==> null: Uploading {a} => /tmp/dst/\n==> null: Uploading {up} => /tmp/dst/\n==> null: Uploading {up}/ => /tmp/dst/\n"
        )
    );
    // Without the slash a file goes to the destination itself.
    let comm = FakeComm::new();
    provision(
        json!({"source": a, "destination": "/tmp/f"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await
    .0
    .unwrap();
    assert!(matches!(&comm.calls()[0], Call::Upload(dst, ..) if dst == "/tmp/f"));
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn content_goes_up_from_a_temporary_file() {
    let comm = FakeComm::new();
    let (r, out) = provision(
        json!({"content": "hello\n", "destination": "/etc/motd"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    r.unwrap();
    let Call::Upload(dst, src, bytes) = &comm.calls()[0] else {
        panic!("{:?}", comm.calls())
    };
    assert_eq!(
        (dst.as_str(), bytes.as_slice()),
        ("/etc/motd", &b"hello\n"[..])
    );
    assert!(s(src).contains("pkr-file-content"));
    assert_eq!(
        out,
        format!("==> null: Uploading {} => /etc/motd\n", s(src))
    );
    // The temporary file is gone afterwards.
    assert!(!src.exists());
}

#[tokio::test]
async fn upload_failures_are_shown_and_returned() {
    let d = tree("file-up-fail");
    let a = s(&d.join("a.txt"));
    let comm = FakeComm::scripted(|_, _| Reply::fail("scp: /nonexistent: Permission denied"));
    let (r, out) = provision(
        json!({"source": a, "destination": "/nonexistent/x"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "scp: /nonexistent: Permission denied"
    );
    assert_eq!(
        out,
        format!("==> null: Uploading {a} => /nonexistent/x\n==> null: Upload failed: scp: /nonexistent: Permission denied\n")
    );
    // WinRM's restore error gets Packer's hint about the trailing slash first.
    let comm = FakeComm::scripted(|_, _| Reply::fail("Error restoring file from $env:TEMP"));
    let (_, out) = provision(
        json!({"source": a, "destination": "C:/dir"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    assert!(out.contains("==> null: Upload failed: Error restoring file from $env:TEMP; this can occur when your file destination is a folder without a trailing slash.\n==> null: Upload failed: Error restoring file from $env:TEMP\n"), "{out}");
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn a_generated_source_that_never_appeared() {
    let comm = FakeComm::new();
    let (r, _) = provision(
        json!({"source": "/nonexistent/gen.txt", "destination": "/x", "generated": true}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "stat /nonexistent/gen.txt: no such file or directory"
    );
    assert!(comm.calls().is_empty());
}

#[tokio::test]
async fn without_a_communicator() {
    let d = tree("file-none");
    let a = s(&d.join("a.txt"));
    let (r, out) = provision(
        json!({"source": a, "destination": "/tmp/x"}),
        None,
        &BuildData::new(),
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Upload is not implemented when communicator = 'none'"
    );
    assert!(out.ends_with(
        "==> null: Upload failed: Upload is not implemented when communicator = 'none'\n"
    ));
    std::fs::remove_dir_all(d).unwrap();
}

// ---- downloading ----

#[tokio::test]
async fn downloads_create_local_directories() {
    let d = scratch("file-down");
    let x = format!("{}/x/", s(&d));
    let mut comm = FakeComm::new();
    comm.remote_files.insert("/r/a.txt".into(), b"A".to_vec());
    comm.remote_files.insert("/r/s.sh".into(), b"S".to_vec());
    let (r, out) = provision(
        json!({"sources": ["/r/a.txt", "/r/s.sh"], "destination": x, "direction": "download"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    r.unwrap();
    // Each source lands under its own name (Packer 1.6.6 wrote the second over the first).
    assert_eq!(std::fs::read(d.join("x/a.txt")).unwrap(), b"A");
    assert_eq!(std::fs::read(d.join("x/s.sh")).unwrap(), b"S");
    assert_eq!(
        out,
        format!("==> null: Downloading /r/a.txt => {x}\n==> null: Downloading /r/s.sh => {x}\n")
    );
    // No trailing slash: the destination is the file; its parents are created.
    let q = format!("{}/deep/er/q", s(&d));
    let comm = FakeComm::new();
    provision(
        json!({"source": "/r/a.txt", "destination": q, "direction": "download"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await
    .0
    .unwrap();
    assert_eq!(
        comm.calls(),
        [Call::Download("/r/a.txt".into(), q.clone().into())]
    );
    assert!(d.join("deep/er").is_dir());
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn directory_and_glob_downloads() {
    let d = scratch("file-down-dir");
    let z = format!("{}/z/", s(&d));
    let comm = FakeComm::new();
    provision(
        json!({"sources": ["/r/up/", "/r/logs/*", "/r/one.txt"], "destination": z,
            "direction": "download"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await
    .0
    .unwrap();
    assert_eq!(
        comm.calls(),
        [
            Call::DownloadDir("/r/up/".into(), z.clone().into()),
            Call::DownloadDir("/r/logs/*".into(), z.clone().into()),
            Call::Download("/r/one.txt".into(), format!("{}/z/one.txt", s(&d)).into()),
        ]
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn download_failures_are_shown_and_returned() {
    let d = scratch("file-down-fail");
    let q = format!("{}/q", s(&d));
    let comm =
        FakeComm::scripted(|_, _| Reply::fail("scp: /tmp/nonexist.txt: No such file or directory"));
    let (r, out) = provision(
        json!({"source": "/tmp/nonexist.txt", "destination": q, "direction": "download"}),
        Some(&comm),
        &BuildData::new(),
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "scp: /tmp/nonexist.txt: No such file or directory"
    );
    assert_eq!(
        out,
        format!("==> null: Downloading /tmp/nonexist.txt => {q}\n==> null: Download failed: scp: /tmp/nonexist.txt: No such file or directory\n")
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn sources_and_destination_see_build_data() {
    let d = scratch("file-data");
    let mut data = BuildData::new();
    data.insert("ID".into(), "i-42".into());
    let dst = format!("{}/{{{{ .ID }}}}/", s(&d));
    let comm = FakeComm::new();
    provision(
        json!({"source": "/var/log/{{ .ID }}.log", "destination": dst, "direction": "download"}),
        Some(&comm),
        &data,
    )
    .await
    .0
    .unwrap();
    assert_eq!(
        comm.calls(),
        [Call::Download(
            "/var/log/i-42.log".into(),
            d.join("i-42/i-42.log")
        )]
    );
    std::fs::remove_dir_all(d).unwrap();
}
