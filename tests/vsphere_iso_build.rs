//! vsphere-iso end to end against forge's vCenter simulator (forge-testkit's vcsim), side by
//! side with packer 1.6.6, with the tests' own sshd standing in for the guest (vcsim reports
//! 127.0.0.1 as every powered-on VM's guest IP). The ISO is a local file checked against its
//! sha256, uploaded to the datastore over HTTPS and mounted with `iso_paths`.
//!
//! What vcsim 0.24 cannot show, and so these tests do not check: `notes` and a guest that
//! really boots the ISO. Packer's download lines (`Trying <url>?checksum=...`, go-getter's
//! form) are left out of the side-by-side comparison; forge's own are checked instead.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use forge_testkit::vcsim::{Vcsim, VcsimOptions};
use forge_testkit::{build, sshd};
use forge_vsphere::{Client, Config};

use build::{Out, Rng, Sandbox};
use sshd::{Sshd, SshdOptions};

const FORGE: &str = env!("CARGO_BIN_EXE_forge");
const PACKER: &str = "/usr/bin/packer";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(sim: &Vcsim) -> Client {
    Client::connect(&Config::new(
        sim.server().as_str(),
        sim.username(),
        sim.password(),
        true,
    ))
    .await
    .unwrap()
}

/// One line per VM the build made (not the simulator's `DC0_*`): name, power, template, CPUs,
/// RAM, guest id, snapshots, boot order and its devices (type, and a disk's size, a NIC's
/// network, a CD-ROM's ISO, a video card's memory and displays), then cores per socket, CPU
/// and memory reservation/limit, hot add, nested HV, firmware and boot flags; sorted. A value
/// left unset reads as vSphere's default (no limit, `false`): packer 1.6.6 sends every hardware
/// setting, forge only those given.
fn made(sim: &Vcsim) -> Vec<String> {
    rt().block_on(async {
        let c = connect(sim).await;
        let root = c.content().root_folder.clone();
        let vms = c
            .list_below(
                &root,
                &["VirtualMachine"],
                true,
                &[
                    "name",
                    "runtime.powerState",
                    "config.template",
                    "config.hardware.numCPU",
                    "config.hardware.memoryMB",
                    "config.guestId",
                    "config.hardware.device",
                    "config.bootOptions",
                    "snapshot.rootSnapshotList",
                    "config.hardware.numCoresPerSocket",
                    "config.cpuAllocation",
                    "config.memoryAllocation",
                    "config.cpuHotAddEnabled",
                    "config.memoryHotAddEnabled",
                    "config.nestedHVEnabled",
                    "config.firmware",
                ],
            )
            .await
            .unwrap();
        let mut out: Vec<String> = vms
            .iter()
            .filter(|o| !o.text("name").unwrap_or_default().starts_with("DC0_"))
            .map(|o| {
                let mut devices: Vec<String> = o
                    .get("config.hardware.device")
                    .map(|n| {
                        n.children
                            .iter()
                            .map(|d| {
                                let t = d.xsi_type.clone().unwrap_or_default();
                                let b = d.child("backing");
                                let extra = match t.as_str() {
                                    "VirtualDisk" => format!(
                                        "({}KB thin={})",
                                        d.text_of("capacityInKB").unwrap_or_default(),
                                        b.and_then(|b| b.text_of("thinProvisioned"))
                                            .unwrap_or_default()
                                    ),
                                    "VirtualCdrom" => format!(
                                        "({})",
                                        b.and_then(|b| b.text_of("fileName"))
                                            .or_else(|| b.and_then(|b| b.text_of("deviceName")))
                                            .unwrap_or_default()
                                            .replace("//", "/")
                                    ),
                                    "VirtualMachineVideoCard" => format!(
                                        "({}KB displays={})",
                                        d.text_of("videoRamSizeInKB").unwrap_or_default(),
                                        d.text_of("numDisplays").unwrap_or_default()
                                    ),
                                    _ => b
                                        .and_then(|b| b.text_of("deviceName"))
                                        .map(|n| format!("({n})"))
                                        .unwrap_or_default(),
                                };
                                format!("{t}{extra}")
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                devices.sort();
                let boot: Vec<String> = o
                    .get("config.bootOptions")
                    .map(|n| {
                        n.children_named("bootOrder")
                            .map(|b| b.xsi_type.clone().unwrap_or_default())
                            .collect()
                    })
                    .unwrap_or_default();
                let snaps: Vec<String> = o
                    .get("snapshot.rootSnapshotList")
                    .map(|n| {
                        n.children
                            .iter()
                            .filter_map(|s| s.text_of("name").map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let alloc = |p: &str| {
                    let a = o.get(p);
                    let t = |k| a.and_then(|a| a.text_of(k)).unwrap_or("-").to_string();
                    let limit = t("limit").replace("-1", "-");
                    format!("{}/{limit}", t("reservation"))
                };
                let flag = |p: &str| o.text(p).unwrap_or("false").to_string();
                let bo = |k| {
                    o.get("config.bootOptions")
                        .and_then(|b| b.text_of(k))
                        .unwrap_or("-")
                        .to_string()
                };
                format!(
                    "{} {} template={} cpus={} ram={} guest={} snapshots={snaps:?} boot={boot:?} devices={devices:?} \
                     cores={} cpu={} mem={} hotadd={}/{} nestedHV={} firmware={} bios={} secure={}",
                    o.text("name").unwrap_or_default(),
                    o.text("runtime.powerState").unwrap_or_default(),
                    o.text("config.template").unwrap_or_default(),
                    o.text("config.hardware.numCPU").unwrap_or_default(),
                    o.text("config.hardware.memoryMB").unwrap_or_default(),
                    o.text("config.guestId").unwrap_or_default(),
                    o.text("config.hardware.numCoresPerSocket").unwrap_or("-"),
                    alloc("config.cpuAllocation"),
                    alloc("config.memoryAllocation"),
                    flag("config.cpuHotAddEnabled"),
                    flag("config.memoryHotAddEnabled"),
                    flag("config.nestedHVEnabled"),
                    o.text("config.firmware").unwrap_or("-"),
                    bo("enterBIOSSetup"),
                    bo("efiSecureBootEnabled"),
                )
            })
            .collect();
        out.sort();
        let _ = c.logout().await;
        out
    })
}

/// Whether `packer_cache/<file>` is on the simulator's datastore.
fn uploaded(sim: &Vcsim, file: &str) -> bool {
    on_datastore(sim, &format!("packer_cache/{file}"))
}

/// Whether `path` is on the simulator's datastore.
fn on_datastore(sim: &Vcsim, path: &str) -> bool {
    rt().block_on(async {
        let c = connect(sim).await;
        let dc = c.datacenter(None).await.unwrap();
        let there = c
            .datastore_file_exists(&dc, "LocalDS_0", path)
            .await
            .unwrap();
        let _ = c.logout().await;
        there
    })
}

/// A file of `mib` MiB of varied bytes and its sha256.
fn iso(dir: &Path, mib: usize) -> String {
    let mut data = vec![0u8; mib << 20];
    let mut x: u32 = 12345;
    for b in data.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let path = dir.join("install.iso");
    std::fs::write(&path, &data).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A legacy JSON template: one vsphere-iso builder with `extra` arguments, a shell
/// provisioner writing into the sshd user's home, and a manifest.
fn template(sim: &Vcsim, s: &Sshd, dir: &Path, sum: &str, extra: &str) -> String {
    format!(
        r#"{{
  "builders": [{{
    "type": "vsphere-iso",
    "vcenter_server": "{server}",
    "username": "{user}",
    "password": "{password}",
    "insecure_connection": true,
    "vm_name": "golden",
    "host": "DC0_H0",
    "datastore": "LocalDS_0",
    "guest_os_type": "otherLinux64Guest",
    "disk_controller_type": ["pvscsi"],
    "storage": [{{"disk_size": 1024, "disk_thin_provisioned": true}}],
    "network_adapters": [{{"network": "VM Network", "network_card": "vmxnet3"}}],
    "iso_url": "{dir}/install.iso",
    "iso_checksum": "sha256:{sum}",
    "ssh_username": "{ssh_user}",
    "ssh_password": "{ssh_password}",
    "ssh_port": {port},
    "ssh_timeout": "30s",
    "ip_settle_timeout": "1s"{extra}
  }}],
  "provisioners": [{{
    "type": "shell",
    "inline": ["echo provisioned-{{{{build_name}}}} > {home}/provisioned-$PPID"]
  }}],
  "post-processors": [{{"type": "manifest", "output": "manifest.json"}}]
}}
"#,
        server = sim.server(),
        user = sim.username(),
        password = sim.password(),
        dir = dir.display(),
        ssh_user = s.user(),
        ssh_password = s.password(),
        port = s.port(),
        home = s.home().display(),
    )
}

/// packer 1.6.6 building `t.json` in `dir`, its config, cache and temporary files there.
fn packer_command(dir: &Sandbox) -> std::process::Command {
    let mut cmd = std::process::Command::new(PACKER);
    cmd.args(["build", "-color=false", "t.json"])
        .current_dir(&dir.dir)
        .env("PACKER_CONFIG_DIR", &dir.tmp)
        .env("PACKER_CACHE_DIR", dir.tmp.join("cache"))
        .env("TMPDIR", &dir.tmp)
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

fn guest() -> Sshd {
    sshd::require_root();
    Sshd::start(SshdOptions::default())
}

fn all(out: &Out) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

fn forge_build(sb: &Sandbox, args: &[&str]) -> Out {
    let mut a = vec!["build", "-color=false"];
    a.extend_from_slice(args);
    a.push("t.json");
    sb.run(&a, None, &[])
}

/// The UI lines with durations and the build's timing replaced, and the download's own lines
/// (whose form differs: go-getter's URLs) left out.
fn normalise(text: &str) -> Vec<String> {
    let unit = r"(?:hours?|minutes?|seconds?|milliseconds?|microseconds?|nanoseconds?)";
    let dur = regex::Regex::new(&format!(r"after \d+ {unit}(?: \d+ {unit})*")).unwrap();
    let shell = regex::Regex::new(r"packer-shell\d+").unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.contains(": Trying ") && !l.contains(" => "))
        .map(|l| {
            shell
                .replace_all(&dur.replace_all(l, "after <D>"), "packer-shell<N>")
                .into_owned()
        })
        .take_while(|l| !l.starts_with("==> Timeline"))
        .collect()
}

fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for b in v["builds"].as_array_mut().unwrap() {
        b["build_time"] = 0.into();
        b["packer_run_uuid"] = "<UUID>".into();
    }
    v["last_run_uuid"] = "<UUID>".into();
    v
}

/// The simulator's request counts once they stop changing (it counts as it traces).
fn settled_calls(sim: &Vcsim) -> BTreeMap<String, u64> {
    let mut last = sim.calls();
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = sim.calls();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Where vsphere-iso uploads the floppy image of the VM `golden`.
const FLOPPY_IMAGE: &str = "golden/packer-tmp-created-floppy.flp";

/// No VM, no uploaded ISO or floppy image, no journal.
fn assert_clean(sim: &Vcsim, sb: &Sandbox, what: &str, output: &str) {
    let left = made(sim);
    assert!(left.is_empty(), "{what}: left in vcsim: {left:?}\n{output}");
    assert!(
        !uploaded(sim, "install.iso"),
        "{what}: the uploaded ISO is left on the datastore\n{output}"
    );
    assert!(
        !on_datastore(sim, FLOPPY_IMAGE),
        "{what}: the uploaded floppy image is left on the datastore\n{output}"
    );
    let j = sb.journals();
    assert!(j.is_empty(), "{what}: journals left: {j:?}\n{output}");
}

#[test]
fn an_iso_build_matches_packer_1_6_6_side_by_side() {
    let s = guest();
    let extra = r#",
    "CPUs": 2,
    "RAM": 1024,
    "iso_paths": ["[LocalDS_0] extra/tools.iso"],
    "boot_order": "disk,cdrom",
    "usb_controller": ["xhci"],
    "configuration_parameters": {"forge.test": "yes"},
    "create_snapshot": true,
    "convert_to_template": true"#;
    // packer
    let psim = Vcsim::start(VcsimOptions::default());
    let pdir = Sandbox::new(FORGE, &[]);
    let sum = iso(&pdir.dir, 2);
    std::fs::write(
        pdir.dir.join("t.json"),
        template(&psim, &s, &pdir.dir, &sum, extra),
    )
    .unwrap();
    let start = Instant::now();
    let p = packer_command(&pdir).output().unwrap();
    let packer_time = start.elapsed();
    let packer_calls = settled_calls(&psim);
    let ptext = String::from_utf8_lossy(&p.stdout)
        .replace(&pdir.tmp.display().to_string(), "<TMP>")
        .replace(&pdir.dir.display().to_string(), "<DIR>");
    assert!(p.status.success(), "packer failed:\n{ptext}");
    // forge
    let fsim = Vcsim::start(VcsimOptions::default());
    let sb = Sandbox::new(FORGE, &[]);
    assert_eq!(iso(&sb.dir, 2), sum);
    std::fs::write(
        sb.dir.join("t.json"),
        template(&fsim, &s, &sb.dir, &sum, extra),
    )
    .unwrap();
    let start = Instant::now();
    let f = forge_build(&sb, &[]);
    let forge_time = start.elapsed();
    let forge_calls = settled_calls(&fsim);
    assert_eq!(f.code, 0, "{}", all(&f));
    let ftext = f
        .stdout
        .replace(&sb.tmp.display().to_string(), "<TMP>")
        .replace(&sb.dir.display().to_string(), "<DIR>");
    assert!(
        ftext.contains("Retrieving ISO")
            && ftext.contains("Trying <DIR>/install.iso")
            && ftext.contains("<DIR>/install.iso => <DIR>/install.iso"),
        "{ftext}"
    );
    assert_eq!(
        normalise(&ftext),
        normalise(&ptext),
        "forge:\n{ftext}\npacker:\n{ptext}"
    );
    assert_eq!(manifest(&sb.dir), manifest(&pdir.dir));
    let pmade = made(&psim);
    assert_eq!(pmade.len(), 1, "packer's inventory: {pmade:?}");
    assert!(
        pmade[0].starts_with("golden poweredOff template=true cpus=2 ram=1024 guest=otherLinux64Guest snapshots=[\"Created by Packer\"]"),
        "{pmade:?}"
    );
    assert_eq!(made(&fsim), pmade, "forge's inventory against packer's");
    assert!(uploaded(&psim, "install.iso") && uploaded(&fsim, "install.iso"));
    assert!(sb.journals().is_empty());
    eprintln!("wall time: forge {forge_time:?}, packer {packer_time:?}");
    let total = |c: &BTreeMap<String, u64>| c.values().sum::<u64>();
    eprintln!(
        "SOAP requests: forge {} {forge_calls:?}\npacker {} {packer_calls:?}",
        total(&forge_calls),
        total(&packer_calls)
    );
    assert!(
        total(&forge_calls) <= total(&packer_calls),
        "forge made more vSphere requests than packer:\nforge {forge_calls:?}\npacker {packer_calls:?}"
    );

    // A second build finds the ISO in the remote cache and does not upload it again.
    let again = forge_build(&sb, &["-force"]);
    assert_eq!(again.code, 0, "{}", all(&again));
    assert!(
        again
            .stdout
            .contains("File [LocalDS_0] packer_cache/install.iso already exists; skipping upload."),
        "{}",
        again.stdout
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_nothing() {
    let s = guest();
    let sim = Vcsim::start(VcsimOptions::default());
    let cases: &[(&str, &str, &str)] = &[
        ("checksum mismatch", "", "Checksums did not match"),
        (
            "missing datastore",
            "",
            "datastore doesn't exist: datastore \"nods\" not found under /DC0/datastore",
        ),
        (
            "unknown network",
            "",
            "network_adapters[0]: network \"nonet\" not found under /DC0/network",
        ),
        (
            "unsupported option",
            r#", "reattach_cdroms": 1"#,
            "reattach_cdroms: not supported yet by forge's vsphere-iso builder",
        ),
        (
            "a key no USB keyboard types",
            r#", "boot_wait": "1ms", "boot_command": ["abc<wait1ms>é"]"#,
            "Error running boot command: 'é' cannot be typed as a USB key (US layout)",
        ),
        (
            "a boot command that does not parse",
            r#", "boot_command": ["<wait-1s>"]"#,
            "boot_command[0]: column 1: expecting a positive wait value, got -1s in <wait-1s>",
        ),
        (
            "a missing floppy file",
            r#", "floppy_files": ["nope/ks.cfg"]"#,
            "Bad Floppy disk file 'nope/ks.cfg': stat nope/ks.cfg: no such file or directory",
        ),
        (
            "a bad http_ip",
            r#", "http_content": {"/ks.cfg": "x"}, "http_ip": "not-an-ip""#,
            "error using IP address not-an-ip: invalid IP address",
        ),
    ];
    for (what, extra, want) in cases {
        let sb = Sandbox::new(FORGE, &[]);
        let sum = iso(&sb.dir, 1);
        let mut t = template(&sim, &s, &sb.dir, &sum, extra);
        match *what {
            "checksum mismatch" => t = t.replace(&sum, &"0".repeat(64)),
            "missing datastore" => t = t.replace("\"LocalDS_0\"", "\"nods\""),
            "unknown network" => t = t.replace("\"VM Network\"", "\"nonet\""),
            _ => {}
        }
        std::fs::write(sb.dir.join("t.json"), &t).unwrap();
        if *what == "unsupported option" || *what == "a key no USB keyboard types" {
            let v = sb.run(&["validate", "t.json"], None, &[]);
            assert_eq!(v.code, 0, "{what}: validate: {}{}", v.stdout, v.stderr);
        }
        let out = forge_build(&sb, &[]);
        let text = all(&out);
        assert_ne!(out.code, 0, "{what}: {text}");
        assert!(text.contains(want), "{what}: want {want:?} in:\n{text}");
        // Bad options are found before the build starts, as Packer finds them.
        let at_prepare = what.starts_with("a boot command") || what.starts_with("a missing");
        let stage = if at_prepare {
            "Failed to prepare build: \"vsphere-iso\""
        } else {
            "Build 'vsphere-iso' errored"
        };
        assert!(text.contains(stage), "{what}: {text}");
        assert!(
            !text.contains(sim.password()),
            "{what}: the password shows:\n{text}"
        );
        assert_clean(&sim, &sb, what, &text);
    }
}

#[test]
fn interrupts_at_several_points_leave_no_vm_and_no_uploaded_file() {
    let s = guest();
    let sim = Vcsim::start(VcsimOptions::default());
    let mut rng = Rng::new();
    let marks = [
        "Uploading install.iso",
        "Creating VM...",
        "Mounting ISO images...",
        "Uploading created floppy image",
        "Adding generated Floppy...",
        "Power on VM...",
        "Typing boot command...",
        "Waiting for IP...",
    ];
    // A floppy, the HTTP server and a boot command that types for a while.
    let extra = r#",
    "floppy_files": ["floppy/answer.txt"],
    "http_content": {"/ks.cfg": "x"},
    "boot_wait": "1ms",
    "boot_keygroup_interval": "5ms",
    "boot_command": ["<wait100ms>linux ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg<wait100ms><enter>"]"#;
    for (round, mark) in marks.iter().cycle().take(3 * marks.len()).enumerate() {
        let sb = Sandbox::new(FORGE, &[("floppy/answer.txt", "42\n")]);
        // Big enough for an interrupt to land during the upload.
        let sum = iso(&sb.dir, 64);
        let t = template(&sim, &s, &sb.dir, &sum, extra).replace(
            "\"type\": \"shell\",",
            "\"type\": \"shell\", \"pause_before\": \"1s\",",
        );
        std::fs::write(sb.dir.join("t.json"), &t).unwrap();
        let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !sb.spawned_output().contains(mark) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.below(100)));
        build::signal(child.id(), "INT");
        let status = child.wait().unwrap();
        let text = sb.spawned_output();
        assert!(
            !status.success(),
            "round {round}: finished before the interrupt:\n{text}"
        );
        assert_clean(
            &sim,
            &sb,
            &format!("round {round}, SIGINT after {mark:?}"),
            &text,
        );
    }
}

#[test]
fn sigkill_then_forge_cleanup_removes_the_vm_and_the_uploaded_iso() {
    let s = guest();
    let sim = Vcsim::start(VcsimOptions::default());
    let mut rng = Rng::new();
    let extra = r#", "floppy_files": ["floppy/answer.txt"]"#;
    for (round, mark) in [
        "Uploading install.iso",
        "Creating VM...",
        "Uploading created floppy image",
        "Power on VM...",
    ]
    .iter()
    .enumerate()
    {
        let sb = Sandbox::new(FORGE, &[("floppy/answer.txt", "42\n")]);
        let sum = iso(&sb.dir, 64);
        let t = template(&sim, &s, &sb.dir, &sum, extra).replace(
            "\"type\": \"shell\",",
            "\"type\": \"shell\", \"pause_before\": \"2s\",",
        );
        std::fs::write(sb.dir.join("t.json"), &t).unwrap();
        let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !sb.spawned_output().contains(mark) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.below(200)));
        build::signal(child.id(), "KILL");
        let _ = child.wait();
        let text = sb.spawned_output();
        let out = sb.run(&["cleanup"], None, &[]);
        assert_eq!(
            out.code,
            0,
            "round {round}: cleanup failed:\n{}\nbuild:\n{text}",
            all(&out)
        );
        assert_clean(
            &sim,
            &sb,
            &format!("round {round}, SIGKILL after {mark:?}"),
            &format!("cleanup:\n{}\nbuild:\n{text}", all(&out)),
        );
    }
}

/// What a run looked like while its provisioner paused: the HTTP server's `ks.cfg` (fetched at
/// the address the build printed, `<IP>:<PORT>` in place of its own), the VM's floppy drives'
/// images, and whether the uploaded floppy image is on the datastore.
#[derive(Debug, PartialEq)]
struct Probe {
    http: String,
    floppies: Vec<String>,
    floppy_uploaded: bool,
}

/// The `ip:port` after "HTTP server is working at http://" in `text`.
fn http_address(text: &str) -> Option<String> {
    let rest = text.split("HTTP server is working at http://").nth(1)?;
    Some(rest.split('/').next()?.to_string())
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(body)
}

fn probe(sim: &Vcsim, text: &str) -> Probe {
    let addr = http_address(text).unwrap_or_else(|| panic!("no HTTP server line in:\n{text}"));
    let http = http_get(&addr, "/ks.cfg");
    rt().block_on(async {
        let c = connect(sim).await;
        let dc = c.datacenter(None).await.unwrap();
        let vm = c.vm(&dc, "golden").await.unwrap();
        let mut floppies: Vec<String> = c
            .devices(&vm.moref)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.xsi_type.as_deref() == Some("VirtualFloppy"))
            .map(|d| {
                d.child("backing")
                    .and_then(|b| b.text_of("fileName"))
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        floppies.sort();
        let floppy_uploaded = c
            .datastore_file_exists(&dc, "LocalDS_0", FLOPPY_IMAGE)
            .await
            .unwrap();
        let _ = c.logout().await;
        Probe {
            http,
            floppies,
            floppy_uploaded,
        }
    })
}

/// Runs `cmd` with its stdout in `out`, probing once the output shows `mark`: its exit
/// status, its output, and the probe.
fn run_probing(
    mut cmd: std::process::Command,
    out: &Path,
    mark: &str,
    probe: impl FnOnce(&str) -> Probe,
) -> (bool, String, Option<Probe>) {
    let f = std::fs::File::create(out).unwrap();
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(f)
        .spawn()
        .unwrap();
    let mut probe = Some(probe);
    let mut seen = None;
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if seen.is_none() && text.contains(mark) {
            seen = probe.take().map(|p| p(&text));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (
                status.success(),
                std::fs::read_to_string(out).unwrap(),
                seen,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The keys typed on `vm`'s console, as text: a character for a key that types one (with
/// its shift), else `<usage[+C][+A][+S]>`; and every event's power state.
fn typed(sim: &Vcsim, vm: &str) -> (String, Vec<String>) {
    use forge_commonsteps::bootcommand::{needs_shift, usb::usage, Key};
    let mut text = String::new();
    let mut power = Vec::new();
    for e in sim.keys().iter().filter(|e| e["vm"] == vm) {
        let code = e["usbHidCode"].as_i64().unwrap();
        assert_eq!(code & 0xffff, 7, "not the keyboard page: {e}");
        let u = u8::try_from(code >> 16).unwrap();
        let flag = |k: &str| e[k].as_bool().unwrap_or(false);
        let (ctrl, alt, shift) = (flag("leftControl"), flag("leftAlt"), flag("leftShift"));
        let ch = (' '..='~').find(|&c| usage(Key::Char(c)) == Some(u) && needs_shift(c) == shift);
        match ch {
            Some(c) if !ctrl && !alt => text.push(c),
            _ => {
                text.push_str(&format!("<{u:02x}"));
                for (on, m) in [(ctrl, "+C"), (alt, "+A"), (shift, "+S")] {
                    if on {
                        text.push_str(m);
                    }
                }
                text.push('>');
            }
        }
        power.push(e["power"].as_str().unwrap_or_default().to_string());
    }
    (text, power)
}

#[test]
fn boot_command_http_server_and_floppy_match_packer_1_6_6_side_by_side() {
    let s = guest();
    let extra = r#",
    "boot_wait": "100ms",
    "boot_keygroup_interval": "1ms",
    "boot_command": [
      "<esc><wait10ms>linux ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg name={{ .Name }}<enter>",
      "<leftShiftOn>aB<leftShiftOff>~<leftCtrlOn>c<leftCtrlOff><leftAltOn><f2><leftAltOff><tab><spacebar>"
    ],
    "http_directory": "http",
    "floppy_files": ["floppy/answer.txt"],
    "floppy_label": "OEMDRV""#;
    let setup = |dir: &Path| {
        std::fs::create_dir_all(dir.join("http")).unwrap();
        std::fs::write(dir.join("http/ks.cfg"), "kickstart for golden\n").unwrap();
        std::fs::create_dir_all(dir.join("floppy")).unwrap();
        std::fs::write(dir.join("floppy/answer.txt"), "42\n").unwrap();
    };
    let with_pause = |t: String| {
        t.replace(
            "\"type\": \"shell\",",
            "\"type\": \"shell\", \"pause_before\": \"1s\",",
        )
    };
    const MARK: &str = "Pausing 1s before the next provisioner...";
    // packer
    let psim = Vcsim::start(VcsimOptions::default());
    let pdir = Sandbox::new(FORGE, &[]);
    setup(&pdir.dir);
    let sum = iso(&pdir.dir, 1);
    std::fs::write(
        pdir.dir.join("t.json"),
        with_pause(template(&psim, &s, &pdir.dir, &sum, extra)),
    )
    .unwrap();
    let cmd = packer_command(&pdir);
    let (ok, ptext, pprobe) =
        run_probing(cmd, &pdir.tmp.join("packer.out"), MARK, |t| probe(&psim, t));
    let ptext = ptext
        .replace(&pdir.tmp.display().to_string(), "<TMP>")
        .replace(&pdir.dir.display().to_string(), "<DIR>");
    assert!(ok, "packer failed:\n{ptext}");
    // forge
    let fsim = Vcsim::start(VcsimOptions::default());
    let sb = Sandbox::new(FORGE, &[]);
    setup(&sb.dir);
    assert_eq!(iso(&sb.dir, 1), sum);
    std::fs::write(
        sb.dir.join("t.json"),
        with_pause(template(&fsim, &s, &sb.dir, &sum, extra)),
    )
    .unwrap();
    let cmd = sb.command(&["build", "-color=false", "t.json"], &[]);
    let (ok, ftext, fprobe) =
        run_probing(cmd, &sb.tmp.join("forge.out"), MARK, |t| probe(&fsim, t));
    let ftext = ftext
        .replace(&sb.tmp.display().to_string(), "<TMP>")
        .replace(&sb.dir.display().to_string(), "<DIR>");
    assert!(ok, "forge failed:\n{ftext}");

    let port = |t: &str| {
        http_address(t)
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string()
    };
    let (pport, fport) = (port(&ptext), port(&ftext));
    let norm = |t: &str, port: &str| -> Vec<String> {
        normalise(
            &t.replace(&format!(":{port}/"), ":<PORT>/")
                .replace(&format!("port {port}\n"), "port <PORT>\n"),
        )
    };
    assert_eq!(
        norm(&ftext, &fport),
        norm(&ptext, &pport),
        "forge:\n{ftext}\npacker:\n{ptext}"
    );
    // The keys: what packer 1.6.6 typed, and the text the boot command says.
    let (pkeys, ppower) = typed(&psim, "golden");
    let (fkeys, fpower) = typed(&fsim, "golden");
    let ip = http_address(&ftext).unwrap();
    let ip = ip.rsplit_once(':').unwrap().0.to_string();
    assert_eq!(
        fkeys.replace(&fport, "<PORT>"),
        pkeys.replace(&pport, "<PORT>"),
        "keys typed: forge against packer"
    );
    assert_eq!(
        fkeys,
        format!(
            "<29>linux ks=http://{ip}:{fport}/ks.cfg name=golden<28>\
             <e1+S>AB<e1>~<e0+C+S><06+C><e0><e2+A+S><3b+A><e2><2b> "
        )
    );
    assert!(fpower.iter().all(|p| p == "poweredOn"), "{fpower:?}");
    assert_eq!(ppower, fpower);
    // While provisioning: the HTTP server served ks.cfg, the floppy was uploaded and mounted.
    let fprobe = fprobe.expect("forge's run never reached the provisioner");
    assert_eq!(
        fprobe,
        Probe {
            http: "kickstart for golden\n".into(),
            floppies: vec!["[LocalDS_0] golden/packer-tmp-created-floppy.flp".into()],
            floppy_uploaded: true,
        }
    );
    // packer 1.6.6 served the same, and mounted its image, but against vcsim 0.24 its lookup of
    // the VM's directory drops the name's last letter: it uploads to `golde/`.
    let pprobe = pprobe.expect("packer's run never reached the provisioner");
    assert_eq!(pprobe.http, fprobe.http);
    assert_eq!(
        pprobe.floppies,
        ["[LocalDS_0] golde/packer-tmp-created-floppy.flp"]
    );
    // Afterwards: the same inventory (no floppy drive), the floppy image deleted.
    let pmade = made(&psim);
    assert_eq!(made(&fsim), pmade, "forge's inventory against packer's");
    assert!(!pmade[0].contains("VirtualFloppy"), "{pmade:?}");
    assert!(!on_datastore(&fsim, FLOPPY_IMAGE));
    assert!(sb.journals().is_empty());
}

#[test]
fn hardware_and_remove_cdrom_match_packer_1_6_6_side_by_side() {
    // The hardware options packer 1.6.6's vsphere-iso has, and remove_cdrom.
    let s = guest();
    let extra = r#",
    "CPUs": 4,
    "cpu_cores": 2,
    "CPU_reservation": 100,
    "CPU_limit": 2000,
    "CPU_hot_plug": true,
    "RAM": 1024,
    "RAM_reservation": 256,
    "RAM_hot_plug": true,
    "video_ram": 8192,
    "NestedHV": true,
    "firmware": "efi-secure",
    "force_bios_setup": true,
    "remove_cdrom": true"#;
    let psim = Vcsim::start(VcsimOptions::default());
    let pdir = Sandbox::new(FORGE, &[]);
    let sum = iso(&pdir.dir, 1);
    std::fs::write(
        pdir.dir.join("t.json"),
        template(&psim, &s, &pdir.dir, &sum, extra),
    )
    .unwrap();
    let p = packer_command(&pdir).output().unwrap();
    let ptext = String::from_utf8_lossy(&p.stdout)
        .replace(&pdir.tmp.display().to_string(), "<TMP>")
        .replace(&pdir.dir.display().to_string(), "<DIR>");
    assert!(p.status.success(), "packer failed:\n{ptext}");
    let fsim = Vcsim::start(VcsimOptions::default());
    let sb = Sandbox::new(FORGE, &[]);
    iso(&sb.dir, 1);
    std::fs::write(
        sb.dir.join("t.json"),
        template(&fsim, &s, &sb.dir, &sum, extra),
    )
    .unwrap();
    let f = forge_build(&sb, &[]);
    assert_eq!(f.code, 0, "{}", all(&f));
    let ftext = f
        .stdout
        .replace(&sb.tmp.display().to_string(), "<TMP>")
        .replace(&sb.dir.display().to_string(), "<DIR>");
    assert_eq!(
        normalise(&ftext),
        normalise(&ptext),
        "forge:\n{ftext}\npacker:\n{ptext}"
    );
    let pmade = made(&psim);
    let fmade = made(&fsim);
    assert_eq!(fmade, pmade, "forge's inventory against packer's");
    let line = &fmade[0];
    for want in [
        "cpus=4 ram=1024",
        "VirtualMachineVideoCard(8192KB displays=1)",
        // vcsim replaces the whole bootOptions when the boot order is set, so the BIOS-setup
        // and secure-boot flags the hardware step set are gone by the end (for packer too).
        "cores=2 cpu=100/2000 mem=256/- hotadd=true/true nestedHV=true firmware=efi bios=- secure=-",
    ] {
        assert!(line.contains(want), "want {want:?} in {line}");
    }
    assert!(!line.contains("VirtualCdrom"), "{line}");
    assert!(sb.journals().is_empty());
}
