//! StepExport against a stand-in vCenter on loopback (plain HTTP) that gives the answers in
//! testdata/ (written in vCenter's shape: vcsim 0.24 has neither `ExportVm` nor
//! `CreateDescriptor`) and serves the lease's files. It checks the files, the manifest, the OVA
//! order, the lease completed on success and aborted on failure or interrupt, and that nothing
//! is left in the output directory then.

use std::sync::{Arc, Mutex};

use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Error;
use serde_json::json;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::super::{Config, State};
use super::StepExport;
use crate::client::Client;
use crate::soap::Moref;

#[derive(Clone, Copy, PartialEq)]
enum Disk {
    Ok,
    Fails,
    Hangs,
}

struct Fake {
    url: String,
    /// SOAP methods and `GET <path> cookie=<cookie>` lines, in order.
    log: Arc<Mutex<Vec<String>>>,
    /// Request bodies of CreateDescriptor.
    bodies: Arc<Mutex<Vec<String>>>,
}

fn disk_bytes() -> Vec<u8> {
    (0..4096u32).map(|i| (i % 251) as u8).collect()
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"#
    )
}

fn soap_method(body: &str) -> String {
    let after = body.split("Body>").nth(1).unwrap_or_default();
    let start = after.find('<').map(|i| i + 1).unwrap_or(0);
    after[start..]
        .split([' ', '>', '/'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn answer(method: &str, body: &str) -> String {
    match method {
        "RetrieveServiceContent" => include_str!("../../testdata/service_content.xml").into(),
        "RetrievePropertiesEx" if body.contains("OvfManager") => envelope(
            r#"<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="OvfManager">OvfManager</obj><propSet><name>ovfExportOption</name><val xsi:type="ArrayOfOvfOptionInfo"><OvfOptionInfo><option>mac</option><description><key>mac</key><label>MAC</label><summary>x</summary></description></OvfOptionInfo><OvfOptionInfo><option>uuid</option><description><key>uuid</key><label>UUID</label><summary>x</summary></description></OvfOptionInfo></val></propSet></objects></returnval></RetrievePropertiesExResponse>"#,
        ),
        "RetrievePropertiesEx" => {
            include_str!("../../testdata/lease_info.xml").replace("https://*", "http://*")
        }
        "ExportVm" => envelope(
            r#"<ExportVmResponse xmlns="urn:vim25"><returnval type="HttpNfcLease">session[1]lease</returnval></ExportVmResponse>"#,
        ),
        "CreateDescriptor" => include_str!("../../testdata/create_descriptor.xml").into(),
        m => envelope(&format!(r#"<{m}Response xmlns="urn:vim25"></{m}Response>"#)),
    }
}

impl Fake {
    async fn start(disk: Disk) -> Fake {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (log2, bodies2) = (log.clone(), bodies.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                let (log, bodies) = (log2.clone(), bodies2.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let head_end = loop {
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let header = |name: &str| {
                        head.lines()
                            .find(|l| l.to_lowercase().starts_with(&format!("{name}:")))
                            .map(|l| l[name.len() + 1..].trim().to_string())
                    };
                    let len: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                    let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                    let (status, extra, content): (&str, String, Vec<u8>) =
                        if head.starts_with("GET ") {
                            log.lock().unwrap().push(format!(
                                "GET {path} cookie={}",
                                header("cookie").unwrap_or_default()
                            ));
                            if path.ends_with(".vmdk") && disk == Disk::Hangs {
                                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                            }
                            if path.ends_with(".vmdk") && disk == Disk::Fails {
                                ("500 Internal Server Error", String::new(), b"no".to_vec())
                            } else if path.ends_with(".vmdk") {
                                ("200 OK", String::new(), disk_bytes())
                            } else {
                                ("200 OK", String::new(), b"nvram".to_vec())
                            }
                        } else {
                            let m = soap_method(&body);
                            log.lock().unwrap().push(m.clone());
                            if m == "CreateDescriptor" {
                                bodies.lock().unwrap().push(body.clone());
                            }
                            let cookie = if m == "Login" {
                                "Set-Cookie: vmware_soap_session=\"s1\"; Path=/\r\n".to_string()
                            } else {
                                String::new()
                            };
                            ("200 OK", cookie, answer(&m, &body).into_bytes())
                        };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        content.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.write_all(&content).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        Fake { url, log, bodies }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn state(fake: &Fake, export: serde_json::Value) -> State {
    let v = forge_core::testing::value(json!({
        "vcenter_server": fake.url,
        "username": "user",
        "password": "pass",
        "template": "t",
        "vm_name": "golden",
        "host": "h",
        "communicator": "none",
        "export": export,
    }));
    let c = Config::prepare(&v, &forge_core::testing::info("vsphere-clone"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let client = Client::connect(&c.client_config()).await.unwrap();
    let mut st = State::new(Arc::new(c));
    st.client = Some(Arc::new(client));
    st.vm = Some(Moref::new("VirtualMachine", "vm-42"));
    st.vm_path = "/DC0/vm/golden".into();
    st
}

fn hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const OK: Outcome = Outcome {
    halted: false,
    cancelled: false,
};

#[tokio::test]
async fn export_writes_disks_descriptor_and_manifest() {
    let fake = Fake::start(Disk::Ok).await;
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let mut st = state(
        &fake,
        json!({"output_directory": out.display().to_string(), "image_files": true, "options": ["mac", "nope"]}),
    )
    .await;
    let ctx = BuildCtx::for_test("vsphere-clone.golden");
    let mut step = StepExport::new(st.config.export.clone().unwrap());
    step.run(&ctx, &mut st).await.unwrap();
    step.cleanup(&ctx, &mut st, OK).await.unwrap();

    let disk = std::fs::read(out.join("golden-disk-0.vmdk")).unwrap();
    assert_eq!(disk, disk_bytes());
    assert_eq!(std::fs::read(out.join("golden.nvram")).unwrap(), b"nvram");
    let ovf = std::fs::read_to_string(out.join("golden.ovf")).unwrap();
    assert!(ovf.contains("<VirtualSystem"), "{ovf}");
    let mf = std::fs::read_to_string(out.join("golden.mf")).unwrap();
    assert_eq!(
        mf,
        format!(
            "SHA256(golden-disk-0.vmdk)= {}\nSHA256(golden.nvram)= {}\nSHA256(golden.ovf)= {}\n",
            hex(&disk_bytes()),
            hex(b"nvram"),
            hex(ovf.as_bytes())
        )
    );
    let mut files = st.export_files.clone();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");

    let log = fake.log();
    let soap: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("GET "))
        .collect();
    assert_eq!(
        soap,
        [
            "RetrieveServiceContent",
            "Login",
            "ExportVm",
            "RetrievePropertiesEx",
            "RetrievePropertiesEx",
            "HttpNfcLeaseComplete",
            "CreateDescriptor"
        ]
    );
    // Both files fetched with the SOAP session's cookie.
    let gets: Vec<&String> = log.iter().filter(|l| l.starts_with("GET ")).collect();
    assert_eq!(gets.len(), 2);
    assert!(gets
        .iter()
        .all(|g| g.ends_with("cookie=vmware_soap_session=\"s1\"")));
    let body = fake.bodies.lock().unwrap()[0].clone();
    assert!(
        body.contains("<path>golden-disk-0.vmdk</path><size>4096</size>"),
        "{body}"
    );
    assert!(body.contains("<exportOption>mac</exportOption>"), "{body}");
    // Kept: nothing of it is left to clean up.
    assert!(ctx.journal.live(None).is_empty());
}

#[tokio::test]
async fn ova_holds_descriptor_manifest_then_disks() {
    let fake = Fake::start(Disk::Ok).await;
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let mut st = state(
        &fake,
        json!({"output_directory": out.display().to_string(), "output_format": "ova", "manifest": "sha512", "name": "pkg"}),
    )
    .await;
    let ctx = BuildCtx::for_test("vsphere-clone.golden");
    let mut step = StepExport::new(st.config.export.clone().unwrap());
    step.run(&ctx, &mut st).await.unwrap();
    step.cleanup(&ctx, &mut st, OK).await.unwrap();
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["pkg.ova"]);
    let mut a = tar::Archive::new(std::fs::File::open(out.join("pkg.ova")).unwrap());
    let mut names = Vec::new();
    let mut mf = String::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().display().to_string();
        if n.ends_with(".mf") {
            std::io::Read::read_to_string(&mut e, &mut mf).unwrap();
        }
        names.push(n);
    }
    assert_eq!(names, ["pkg.ovf", "pkg.mf", "pkg-disk-0.vmdk"]);
    assert!(mf.starts_with("SHA512(pkg-disk-0.vmdk)= "), "{mf}");
    assert!(mf.contains("SHA512(pkg.ovf)= "), "{mf}");
    assert_eq!(st.export_files, [out.join("pkg.ova").display().to_string()]);
}

#[tokio::test]
async fn failed_download_aborts_the_lease_and_leaves_nothing() {
    let fake = Fake::start(Disk::Fails).await;
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let mut st = state(
        &fake,
        json!({"output_directory": out.display().to_string()}),
    )
    .await;
    let ctx = BuildCtx::for_test("vsphere-clone.golden");
    let mut step = StepExport::new(st.config.export.clone().unwrap());
    let e = step.run(&ctx, &mut st).await.unwrap_err().to_string();
    assert!(
        e.contains("downloading disk-0.vmdk") && e.contains("500"),
        "{e}"
    );
    let halted = Outcome {
        halted: true,
        cancelled: false,
    };
    step.cleanup(&ctx, &mut st, halted).await.unwrap();
    assert!(!out.exists(), "the partial export is left");
    let log = fake.log();
    assert!(log.contains(&"HttpNfcLeaseAbort".to_string()), "{log:?}");
    assert!(
        !log.contains(&"HttpNfcLeaseComplete".to_string()),
        "{log:?}"
    );
    assert!(ctx.journal.live(None).is_empty());
}

#[tokio::test]
async fn interrupt_mid_download_aborts_the_lease_and_leaves_nothing() {
    let fake = Fake::start(Disk::Hangs).await;
    let t = tempfile::tempdir().unwrap();
    // The directory exists already: only the step's own files go.
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let mut st = state(
        &fake,
        json!({"output_directory": out.display().to_string()}),
    )
    .await;
    let ctx = BuildCtx::for_test("vsphere-clone.golden");
    let mut step = StepExport::new(st.config.export.clone().unwrap());
    let cancel = ctx.cancel.clone();
    let log = fake.log.clone();
    tokio::spawn(async move {
        while !log.lock().unwrap().iter().any(|l| l.starts_with("GET ")) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        cancel.cancel();
    });
    let e = step.run(&ctx, &mut st).await.unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(out.join("golden-disk-0.vmdk").exists());
    let cancelled = Outcome {
        halted: false,
        cancelled: true,
    };
    step.cleanup(&ctx, &mut st, cancelled).await.unwrap();
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["mine.txt"]);
    assert!(fake.log().contains(&"HttpNfcLeaseAbort".to_string()));
    assert!(ctx.journal.live(None).is_empty());
}
