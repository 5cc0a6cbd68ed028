//! vsphere-clone's `content_library_destination` and `export` end to end against forge's vCenter
//! simulator (forge-testkit's vcsim, which serves govmomi's vAPI simulator under /rest), side
//! by side with packer 1.6.6. Builds use `communicator: none`, so no guest is needed.
//!
//! What vcsim 0.24 cannot show: an OVF export. It implements neither `ExportVm` nor
//! `OvfManager.CreateDescriptor`, so here an export is only seen failing (cleanly: no output
//! directory, no VM, no journal), for forge as for packer 1.6.6; the export itself (lease,
//! downloads with the session cookie, progress, descriptor, manifest, OVA, abort on failure or
//! interrupt) is tested against recorded answers in crates/forge-vsphere (step_export_fake.rs).
//! Its OVF library items are bookkeeping only (vcsim makes no OVF from the VM), and a VM
//! template item is a template clone of the VM in the inventory.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::time::{Duration, Instant};

use forge_testkit::build;
use forge_testkit::vcsim::{Vcsim, VcsimOptions};
use forge_vsphere::soap::Request;
use forge_vsphere::{Client, Config};

use build::{Out, Rng, Sandbox};

/// The binary under test.
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

/// The simulator's base URL (`https://127.0.0.1:PORT`).
fn base(sim: &Vcsim) -> String {
    sim.url().trim_end_matches("/sdk").to_string()
}

/// `curl -sk` with `args`; its output, which must succeed.
fn curl(args: &[&str]) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sk", "--fail-with-body"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("curl (apt-get install curl): {e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "curl {args:?}: {text}");
    text
}

/// A vAPI session id.
fn rest_login(sim: &Vcsim) -> String {
    let auth = format!("{}:{}", sim.username(), sim.password());
    let url = format!("{}/rest/com/vmware/cis/session", base(sim));
    let v: serde_json::Value =
        serde_json::from_str(&curl(&["-X", "POST", "-u", &auth, &url])).unwrap();
    v["value"].as_str().unwrap().to_string()
}

/// A vAPI call (`GET`, `POST`, `DELETE`); its `value`.
fn rest(
    sim: &Vcsim,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let header = format!("vmware-api-session-id: {}", rest_login(sim));
    let url = format!("{}/rest{path}", base(sim));
    let mut args = vec!["-X", method, "-H", &header, &url];
    let b = body.map(|b| b.to_string());
    if let Some(b) = &b {
        args.extend([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            b.as_str(),
        ]);
    }
    let text = curl(&args);
    if text.trim().is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["value"].clone()
}

/// Makes the local library `name` on the first datastore, and the VM folder `tpl` (vcsim
/// 0.24's VM template handler needs a folder, and packer 1.6.6 sends one only when given).
fn setup(sim: &Vcsim, name: &str) {
    rt().block_on(async {
        let c = connect(sim).await;
        let dc = c.datacenter(None).await.unwrap();
        let ds = c.datastore(&dc, "LocalDS_0").await.unwrap();
        let vm_folder = c.folder(&dc, "").await.unwrap();
        c.call(Request::new("CreateFolder", &vm_folder.moref).text("name", "tpl"))
            .await
            .unwrap();
        let _ = c.logout().await;
        rest(
            sim,
            "POST",
            "/com/vmware/content/local-library",
            Some(serde_json::json!({"create_spec": {
                "name": name,
                "type": "LOCAL",
                "storage_backings": [{"type": "DATASTORE", "datastore_id": ds.moref.value}],
            }})),
        );
    });
}

/// `name type` of every item of every library, sorted.
fn library_items(sim: &Vcsim) -> Vec<String> {
    let mut out = Vec::new();
    let libs = rest(sim, "GET", "/com/vmware/content/library", None);
    for l in libs.as_array().cloned().unwrap_or_default() {
        let l = l.as_str().unwrap();
        let items = rest(
            sim,
            "GET",
            &format!("/com/vmware/content/library/item?library_id={l}"),
            None,
        );
        for i in items.as_array().cloned().unwrap_or_default() {
            let item = rest(
                sim,
                "GET",
                &format!(
                    "/com/vmware/content/library/item/id:{}",
                    i.as_str().unwrap()
                ),
                None,
            );
            out.push(format!(
                "{} {}",
                item["name"].as_str().unwrap_or_default(),
                item["type"].as_str().unwrap_or_default()
            ));
        }
    }
    out.sort();
    out
}

/// `name template=<bool>` of every VM the build made (not the simulator's `DC0_*`), sorted.
fn made(sim: &Vcsim) -> Vec<String> {
    let mut out: Vec<String> = rt().block_on(async {
        let c = connect(sim).await;
        let root = c.content().root_folder.clone();
        let vms = c
            .list_below(
                &root,
                &["VirtualMachine"],
                true,
                &["name", "config.template"],
            )
            .await
            .unwrap();
        let _ = c.logout().await;
        vms.iter()
            .map(|o| {
                format!(
                    "{} template={}",
                    o.text("name").unwrap_or_default(),
                    o.text("config.template").unwrap_or_default()
                )
            })
            .filter(|l| !l.starts_with("DC0_"))
            .collect()
    });
    out.sort();
    out
}

fn template(sim: &Vcsim, extra: &str) -> String {
    format!(
        r#"{{
  "builders": [{{
    "type": "vsphere-clone",
    "vcenter_server": "{server}",
    "username": "{user}",
    "password": "{password}",
    "insecure_connection": true,
    "template": "DC0_H0_VM0",
    "vm_name": "golden",
    "host": "DC0_H0",
    "communicator": "none"{extra}
  }}],
  "post-processors": [{{"type": "manifest", "output": "manifest.json"}}]
}}
"#,
        server = sim.server(),
        user = sim.username(),
        password = sim.password(),
    )
}

fn all(out: &Out) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

fn forge_build(sb: &Sandbox) -> Out {
    sb.run(&["build", "-color=false", "t.json"], None, &[])
}

fn packer_build(dir: &Sandbox) -> (bool, String) {
    let p = std::process::Command::new(PACKER)
        .args(["build", "-color=false", "t.json"])
        .current_dir(&dir.dir)
        .env("PACKER_CONFIG_DIR", &dir.tmp)
        .env("TMPDIR", &dir.tmp)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&p.stdout),
        String::from_utf8_lossy(&p.stderr)
    );
    (p.status.success(), text)
}

/// The UI lines, up to the timeline, with the build's durations replaced.
fn normalise(text: &str) -> Vec<String> {
    let unit = r"(?:hours?|minutes?|seconds?|milliseconds?|microseconds?|nanoseconds?)";
    let dur = regex::Regex::new(&format!(r"after \d+ {unit}(?: \d+ {unit})*")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| dur.replace_all(l, "after <D>").into_owned())
        .take_while(|l| !l.starts_with("==> Timeline"))
        .collect()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const LIBRARY: &str = r#",
    "content_library_destination": {"library": "lib", "name": "golden-tpl", "folder": "tpl"}"#;

#[test]
fn a_vm_template_item_matches_packer_1_6_6_side_by_side() {
    let psim = Vcsim::start(VcsimOptions::default());
    setup(&psim, "lib");
    let pdir = Sandbox::new(FORGE, &[("t.json", &template(&psim, LIBRARY))]);
    let start = Instant::now();
    let (ok, ptext) = packer_build(&pdir);
    let packer_time = start.elapsed();
    let packer_calls = settled_calls(&psim);
    assert!(ok, "packer failed:\n{ptext}");

    let fsim = Vcsim::start(VcsimOptions::default());
    setup(&fsim, "lib");
    let sb = Sandbox::new(FORGE, &[("t.json", &template(&fsim, LIBRARY))]);
    let start = Instant::now();
    let f = forge_build(&sb);
    let forge_time = start.elapsed();
    let forge_calls = settled_calls(&fsim);
    assert_eq!(f.code, 0, "{}", all(&f));
    assert_eq!(
        normalise(&f.stdout),
        normalise(&ptext),
        "forge:\n{}\npacker:\n{ptext}",
        f.stdout
    );
    let want_items = ["golden-tpl vm-template"];
    assert_eq!(library_items(&psim), want_items, "packer's library");
    assert_eq!(library_items(&fsim), want_items, "forge's library");
    let want_vms = ["golden template=false", "golden-tpl template=true"];
    assert_eq!(made(&psim), want_vms, "packer's inventory");
    assert_eq!(made(&fsim), want_vms, "forge's inventory");
    assert!(sb.journals().is_empty());
    eprintln!("wall time: forge {forge_time:?}, packer {packer_time:?}");
    // SOAP requests counted at the simulator (the vAPI ones are not counted there).
    let total = |c: &std::collections::BTreeMap<String, u64>| c.values().sum::<u64>();
    eprintln!(
        "SOAP requests: forge {} {forge_calls:?}\npacker {} {packer_calls:?}",
        total(&forge_calls),
        total(&packer_calls)
    );
    assert!(total(&forge_calls) <= total(&packer_calls));
}

/// The simulator's request counts once they stop changing (it counts as it traces).
fn settled_calls(sim: &Vcsim) -> std::collections::BTreeMap<String, u64> {
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

#[test]
fn an_ovf_item_with_destroy_keeps_only_the_item() {
    let sim = Vcsim::start(VcsimOptions::default());
    setup(&sim, "lib");
    let extra = r#",
    "content_library_destination": {"library": "lib", "ovf": true, "destroy": true}"#;
    let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, extra))]);
    let f = forge_build(&sb);
    assert_eq!(f.code, 0, "{}", all(&f));
    assert!(
        f.stdout
            .contains("Importing VM OVF template golden to Content Library..."),
        "{}",
        f.stdout
    );
    assert_eq!(library_items(&sim), ["golden ovf"]);
    assert!(made(&sim).is_empty(), "destroy: {:?}", made(&sim));
    assert!(sb.journals().is_empty());
    // A second build updates the item of the same name instead of adding one.
    let f = forge_build(&sb);
    assert_eq!(f.code, 0, "{}", all(&f));
    assert_eq!(library_items(&sim), ["golden ovf"]);
}

#[test]
fn skip_import_makes_no_item() {
    let sim = Vcsim::start(VcsimOptions::default());
    setup(&sim, "lib");
    let extra = r#",
    "content_library_destination": {"library": "lib", "name": "t2", "skip_import": true}"#;
    let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, extra))]);
    let f = forge_build(&sb);
    assert_eq!(f.code, 0, "{}", all(&f));
    assert!(f.stdout.contains("Skipping import..."), "{}", f.stdout);
    assert!(library_items(&sim).is_empty());
    assert_eq!(made(&sim), ["golden template=false"]);
}

#[test]
fn an_unknown_library_fails_clearly_and_leaves_nothing() {
    let sim = Vcsim::start(VcsimOptions::default());
    setup(&sim, "lib");
    let extra = r#",
    "content_library_destination": {"library": "nope", "name": "golden-tpl", "folder": "tpl"}"#;
    let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, extra))]);
    let f = forge_build(&sb);
    assert_ne!(f.code, 0, "{}", all(&f));
    let text = all(&f);
    assert!(
        text.contains("Failed to import template golden-tpl: content library \"nope\" not found"),
        "{text}"
    );
    assert!(made(&sim).is_empty(), "left: {:?}", made(&sim));
    assert!(library_items(&sim).is_empty());
    assert!(sb.journals().is_empty());
}

#[test]
fn a_failing_export_leaves_no_output_like_packer_1_6_6_fails() {
    let extra = r#",
    "export": {"output_directory": "exported", "force": true}"#;
    let psim = Vcsim::start(VcsimOptions::default());
    let pdir = Sandbox::new(FORGE, &[("t.json", &template(&psim, extra))]);
    let (ok, ptext) = packer_build(&pdir);
    assert!(!ok, "packer 1.6.6 exported from vcsim 0.24?\n{ptext}");
    assert!(ptext.contains("ExportVm"), "{ptext}");

    let sim = Vcsim::start(VcsimOptions::default());
    let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, extra))]);
    let f = forge_build(&sb);
    let text = all(&f);
    assert_ne!(f.code, 0, "{text}");
    assert!(text.contains("Starting export..."), "{text}");
    assert!(text.contains("error exporting vm: ExportVm:"), "{text}");
    // vcsim 0.24 has no ExportVm; packer 1.6.6 leaves the directory it made while preparing,
    // forge leaves nothing.
    assert!(!sb.dir.join("exported").exists(), "{:?}", files_in(&sb.dir));
    assert!(made(&sim).is_empty(), "left: {:?}", made(&sim));
    assert!(made(&psim).is_empty(), "packer left: {:?}", made(&psim));
    assert!(sb.journals().is_empty());
}

#[test]
fn export_options_are_checked_before_the_build() {
    let sim = Vcsim::start(VcsimOptions::default());
    let sb = Sandbox::new(FORGE, &[]);
    std::fs::create_dir(sb.dir.join("out")).unwrap();
    std::fs::write(sb.dir.join("out/golden.ovf"), "").unwrap();
    let extra = r#",
    "export": {"output_directory": "out", "manifest": "md5"}"#;
    std::fs::write(sb.dir.join("t.json"), template(&sim, extra)).unwrap();
    let f = forge_build(&sb);
    let text = all(&f);
    assert_ne!(f.code, 0, "{text}");
    assert!(text.contains("unknown hash: md5"), "{text}");
    assert!(
        text.contains("file already exists: out/golden.ovf"),
        "{text}"
    );
    assert!(made(&sim).is_empty());
}

#[test]
fn interrupts_during_the_import_leave_nothing() {
    let sim = Vcsim::start(VcsimOptions::default());
    setup(&sim, "lib");
    let mut rng = Rng::new();
    for i in 0..6 {
        let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, LIBRARY))]);
        let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !sb.spawned_output().contains("Cloning VM...") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.below(60 + 10 * i)));
        build::signal(child.id(), "INT");
        let _ = child.wait();
        let text = sb.spawned_output();
        if text.contains("Build 'vsphere-clone' finished") {
            // Finished before the interrupt: the VM and the item are the result; start over.
            clear(&sim);
            continue;
        }
        assert!(
            made(&sim).is_empty(),
            "interrupt {i}: left {:?}\n{text}",
            made(&sim)
        );
        assert!(library_items(&sim).is_empty(), "interrupt {i}\n{text}");
        assert!(sb.journals().is_empty(), "interrupt {i}\n{text}");
    }
}

/// Removes every library item (a VM template item takes its template along) and the VM.
/// The kinds of the records in the sandbox's run journals: those still open (created, not
/// closed) and those closed.
fn journal_records(sb: &Sandbox) -> (Vec<String>, Vec<String>) {
    let mut kinds = std::collections::BTreeMap::new();
    let mut closed = std::collections::BTreeSet::new();
    for path in sb.journals() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            // The last line may be half-written by the kill.
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let seq = (path.clone(), v["seq"].as_u64());
            match v["op"].as_str() {
                Some("create") => {
                    kinds.insert(seq, v["kind"].as_str().unwrap_or("").to_string());
                }
                Some("delete") => {
                    closed.insert(seq);
                }
                _ => {}
            }
        }
    }
    let (shut, open): (Vec<_>, Vec<_>) = kinds.into_iter().partition(|(k, _)| closed.contains(k));
    (
        open.into_iter().map(|(_, k)| k).collect(),
        shut.into_iter().map(|(_, k)| k).collect(),
    )
}

fn clear(sim: &Vcsim) {
    for l in rest(sim, "GET", "/com/vmware/content/library", None)
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let items = rest(
            sim,
            "GET",
            &format!(
                "/com/vmware/content/library/item?library_id={}",
                l.as_str().unwrap()
            ),
            None,
        );
        for i in items.as_array().cloned().unwrap_or_default() {
            rest(
                sim,
                "DELETE",
                &format!(
                    "/com/vmware/content/library/item/id:{}",
                    i.as_str().unwrap()
                ),
                None,
            );
        }
    }
    rt().block_on(async {
        let c = connect(sim).await;
        let dc = c.datacenter(None).await.unwrap();
        if let Ok(vm) = c.vm(&dc, "golden").await {
            c.remove_vm(&vm.moref).await.unwrap();
        }
        let _ = c.logout().await;
    });
}

#[test]
fn sigkill_during_the_import_then_forge_cleanup_leaves_nothing() {
    let sim = Vcsim::start(VcsimOptions::default());
    setup(&sim, "lib");
    let mut rng = Rng::new();
    let mut killed = 0;
    for round in 0..8 {
        let sb = Sandbox::new(FORGE, &[("t.json", &template(&sim, LIBRARY))]);
        let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !sb.spawned_output().contains("to Content Library...") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rng.below(15)));
        build::signal(child.id(), "KILL");
        let _ = child.wait();
        let text = sb.spawned_output();
        // What the run had made and handed on is decided from its journal, not its output:
        // the kill may land after a step closed its record as the build's product but before
        // forge printed anything about it. The library item (closed as kept by its step) and
        // the VM (closed by the clone step's cleanup) are then the build's product, not leaks.
        let (open, closed) = journal_records(&sb);
        let product = |kind: &str| closed.iter().any(|c| c == kind);
        let item_kept = product(forge_vsphere::library::ITEM);
        if text.contains("Build 'vsphere-clone' finished")
            || (open.is_empty() && item_kept && product(forge_vsphere::journal::VM))
        {
            clear(&sim);
            continue;
        }
        killed += 1;
        let out = sb.run(&["cleanup"], None, &[]);
        eprintln!("round {round}: cleanup said:\n{}", all(&out));
        assert_eq!(
            out.code,
            0,
            "round {round}: cleanup failed:\n{}\nbuild:\n{text}",
            all(&out)
        );
        // The kept item's template is the product; everything else must be gone.
        let left: Vec<String> = made(&sim)
            .into_iter()
            .filter(|m| !(item_kept && m == "golden-tpl template=true"))
            .collect();
        assert!(left.is_empty(), "round {round}: left {left:?}\n{text}");
        let items = library_items(&sim);
        if item_kept {
            assert_eq!(items, ["golden-tpl vm-template"], "round {round}\n{text}");
            clear(&sim);
        } else {
            assert!(
                items.is_empty(),
                "round {round}: items left {items:?}\n{text}\n{}",
                all(&out)
            );
        }
        assert!(sb.journals().is_empty(), "round {round}");
    }
    assert!(killed > 0, "every build finished before the kill");
}

/// The same build with vsphere-iso: a VM made from nothing (no ISO, `communicator: none`).
fn iso_template(sim: &Vcsim, extra: &str) -> String {
    template(sim, extra)
        .replace(
            r#""type": "vsphere-clone",
    "vcenter_server""#,
            r#""type": "vsphere-iso",
    "vcenter_server""#,
        )
        .replace(
            r#""template": "DC0_H0_VM0","#,
            r#""storage": [{"disk_size": 16, "disk_thin_provisioned": true}],
    "network_adapters": [{"network": "VM Network", "network_card": "vmxnet3"}],"#,
        )
}

/// Runs `cmd` to the end with its output in `out`, powering the VM `golden` off when the
/// build asks for it (`communicator: none`: "Please shutdown virtual machine"), as its user
/// would. Whether it succeeded, and its output.
fn run_shutting_down(
    sim: &Vcsim,
    mut cmd: std::process::Command,
    out: &std::path::Path,
) -> (bool, String) {
    let f = std::fs::File::create(out).unwrap();
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    let mut done = false;
    loop {
        if !done
            && std::fs::read_to_string(out)
                .unwrap_or_default()
                .contains("Please shutdown virtual machine")
        {
            done = true;
            rt().block_on(async {
                let c = Client::connect(&Config::new(
                    sim.server().as_str(),
                    sim.username(),
                    sim.password(),
                    true,
                ))
                .await
                .unwrap();
                let dc = c.datacenter(None).await.unwrap();
                let vm = c.vm(&dc, "golden").await.unwrap();
                c.power_off(&vm.moref).await.unwrap();
            });
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.success(), std::fs::read_to_string(out).unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn vsphere_iso_imports_a_vm_template_item_as_packer_1_6_6_does() {
    let extra = format!("{LIBRARY},\n    \"remove_network_adapter\": true");
    let packer_extra = LIBRARY;
    let psim = Vcsim::start(VcsimOptions::default());
    setup(&psim, "lib");
    let pdir = Sandbox::new(FORGE, &[("t.json", &iso_template(&psim, packer_extra))]);
    let mut cmd = std::process::Command::new(PACKER);
    cmd.args(["build", "-color=false", "t.json"])
        .current_dir(&pdir.dir)
        .env("PACKER_CONFIG_DIR", &pdir.tmp)
        .env("TMPDIR", &pdir.tmp)
        .env("CHECKPOINT_DISABLE", "1");
    let (ok, ptext) = run_shutting_down(&psim, cmd, &pdir.tmp.join("packer.out"));
    assert!(ok, "packer failed:\n{ptext}");

    let fsim = Vcsim::start(VcsimOptions::default());
    setup(&fsim, "lib");
    let sb = Sandbox::new(FORGE, &[("t.json", &iso_template(&fsim, &extra))]);
    let cmd = sb.command(&["build", "-color=false", "t.json"], &[]);
    let (ok, ftext) = run_shutting_down(&fsim, cmd, &sb.tmp.join("forge.out"));
    assert!(ok, "forge failed:\n{ftext}");
    // remove_network_adapter is newer than packer 1.6.6: its one line aside, the same run.
    let ours: Vec<String> = normalise(&ftext)
        .into_iter()
        .filter(|l| l != "==> vsphere-iso: Removing network adapters...")
        .collect();
    assert_eq!(ours, normalise(&ptext), "forge:\n{ftext}\npacker:\n{ptext}");
    assert!(ftext.contains("Removing network adapters..."), "{ftext}");
    let want_items = ["golden-tpl vm-template"];
    assert_eq!(library_items(&psim), want_items, "packer's library");
    assert_eq!(library_items(&fsim), want_items, "forge's library");
    let want_vms = ["golden template=false", "golden-tpl template=true"];
    assert_eq!(made(&psim), want_vms, "packer's inventory");
    assert_eq!(made(&fsim), want_vms, "forge's inventory");
    assert!(sb.journals().is_empty());
}
