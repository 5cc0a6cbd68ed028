//! `forge build` with the virtualbox-ovf builder, end to end through the binary. No VirtualBox
//! runs here: crates/forge-testkit/standins/vboxmanage.py stands in for VBoxManage (first on PATH), keeps the
//! VM's state in a directory, logs every argv, and runs the "guest" as an OpenSSH server (the
//! sshd test bed's configuration) on the port the builder forwards. The build imports, boots,
//! types the boot command, connects, provisions with a shell provisioner, shuts down through
//! the shutdown command and exports; the argv log must be Packer's sequence of VBoxManage
//! commands, the output directory must hold the export, and nothing may stay registered,
//! running, locked or journaled. The same template through Packer 1.6.6 (/usr/bin/packer)
//! must give the same argv log, normalised.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, cli, require, sshd};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use build::Sandbox;

/// The VM's name in every run.
const VM: &str = "forge-ovf-test";

/// A test bed: the stand-in on PATH, its state directory, the guest's sshd configuration.
struct Bed {
    sb: Sandbox,
    /// The sshd test bed, stopped: its configuration and keys serve the stand-in's guest.
    sshd: sshd::Sshd,
    bin: PathBuf,
    state: PathBuf,
}

impl Bed {
    fn new() -> Bed {
        require::path("/usr/bin/python3", "python3");
        let mut sshd = sshd::Sshd::start(sshd::SshdOptions::pubkey_only());
        sshd.stop();
        let sb = Sandbox::new(FORGE, &[("box.ova", "an appliance\n")]);
        let bin = sb.path(".bin");
        std::fs::create_dir_all(&bin).unwrap();
        let standin = forge_testkit::repo_file("crates/forge-testkit/standins/vboxmanage.py");
        let wrapper = bin.join("VBoxManage");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/python3 {} \"$@\"\n",
                standin.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = sb.path(".vbox");
        std::fs::create_dir_all(&state).unwrap();
        Bed {
            sb,
            sshd,
            bin,
            state,
        }
    }

    /// The legacy JSON template (Packer 1.6.6 reads it as forge does).
    fn template(&self) -> String {
        let t = serde_json::json!({
            "builders": [{
                "type": "virtualbox-ovf",
                "source_path": self.sb.path("box.ova"),
                "checksum": "none",
                "vm_name": VM,
                "headless": true,
                "guest_additions_mode": "disable",
                "ssh_username": sshd::USER,
                "ssh_private_key_file": self.sshd.key_ed25519(),
                "ssh_timeout": "2m",
                "shutdown_command": format!("sudo touch {}/halt", self.state.display()),
                "output_directory": self.sb.path("out"),
                "boot_wait": "1s",
                "boot_command": ["<enter>"],
                "post_shutdown_delay": "1s",
                "vboxmanage": [["modifyvm", "{{.Name}}", "--memory", "1024"]],
                "vboxmanage_post": [["modifyvm", "{{.Name}}", "--description", "built"]]
            }],
            "provisioners": [{
                "type": "shell",
                "inline": ["echo provisioned-by-$(whoami)", "cat ~/.vbox_version; echo"]
            }]
        });
        serde_json::to_string_pretty(&t).unwrap()
    }

    fn env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        vec![
            ("PATH".into(), path),
            ("VBOX_STANDIN_DIR".into(), self.state.display().to_string()),
            (
                "VBOX_STANDIN_SSHD_CONFIG".into(),
                self.sshd.dir().join("sshd_config").display().to_string(),
            ),
            (
                "FORGE_PORT_LOCK_DIR".into(),
                self.sb.path(".ports").display().to_string(),
            ),
            (
                "PACKER_CACHE_DIR".into(),
                self.sb.path(".cache").display().to_string(),
            ),
        ]
    }

    /// The argv log so far, one argv a line.
    fn argv_log(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.state.join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The VMs still registered.
    fn registered(&self) -> Vec<String> {
        std::fs::read_dir(self.state.join("vms"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The log with what varies from run to run replaced: the sandbox's path, the forwarded and
/// VRDP ports, the downloaded source's path; consecutive state polls (`showvminfo`) counted
/// once, and the order of the `setextradata` calls (a Go map's in Packer) sorted.
fn normalise(log: &[Vec<String>], sandbox: &Path) -> Vec<String> {
    let sb = sandbox.display().to_string();
    let mut out: Vec<String> = Vec::new();
    for argv in log {
        let mut a: Vec<String> = argv.iter().map(|x| x.replace(&sb, "<SB>")).collect();
        if a[0] == "import" {
            a[1] = "<SOURCE>".into();
        }
        if let Some(i) = a.iter().position(|x| x == "--vrdeport") {
            a[i + 1] = "<VRDP>".into();
        }
        for x in a.iter_mut() {
            if let Some(rest) = x.strip_prefix("packercomm,tcp,127.0.0.1,") {
                let guest = rest.rsplit(',').next().unwrap_or_default();
                *x = format!("packercomm,tcp,127.0.0.1,<PORT>,,{guest}");
            }
        }
        if a[0] == "setextradata" && a.get(2).is_some_and(|k| k == "GUI/UpdateDate") {
            a[3] = "<NEXT YEAR>".into();
        }
        let line = a.join(" ");
        if line.starts_with("showvminfo") && out.last() == Some(&line) {
            continue;
        }
        out.push(line);
    }
    let first = out.iter().position(|l| l.starts_with("setextradata"));
    if let Some(f) = first {
        let n = out[f..]
            .iter()
            .take_while(|l| l.starts_with("setextradata"))
            .count();
        out[f..f + n].sort();
    }
    out
}

/// What Packer's virtualbox-ovf sends for the test template.
fn expected() -> Vec<String> {
    let vm = VM;
    vec![
        "setextradata global GUI/RegistrationData triesLeft=0".to_string(),
        "setextradata global GUI/SuppressMessages confirmInputCapture,remindAboutAutoCapture,remindAboutMouseIntegrationOff,remindAboutMouseIntegrationOn,remindAboutWrongColorDepth".into(),
        "setextradata global GUI/UpdateCheckCount 60".into(),
        "setextradata global GUI/UpdateDate <NEXT YEAR>".into(),
        format!("import <SOURCE> --vsys 0 --vmname {vm}"),
        format!("modifyvm {vm} --vrdeaddress 127.0.0.1 --vrdeauthtype null --vrde on --vrdeport <VRDP>"),
        format!("modifyvm {vm} --nic1 nat"),
        format!("modifyvm {vm} --natpf1 packercomm,tcp,127.0.0.1,<PORT>,,22"),
        format!("modifyvm {vm} --memory 1024"),
        format!("startvm {vm} --type headless"),
        format!("controlvm {vm} keyboardputscancode 1c 9c"),
        "--version".into(),
        format!("showvminfo {vm} --machinereadable"),
        format!("modifyvm {vm} --description built"),
        format!("modifyvm {vm} --natpf1 delete packercomm"),
        format!("export {vm} --output <SB>/out/{vm}.ovf"),
        format!("showvminfo {vm} --machinereadable"),
        format!("unregistervm {vm} --delete"),
    ]
}

/// Fails with what is left: a registered VM, a running guest, a port lock, a temporary file,
/// a journal.
fn assert_nothing_left(bed: &Bed, output: &str) {
    assert!(
        bed.registered().is_empty(),
        "VMs left registered: {:?}\n{output}",
        bed.registered()
    );
    for marker in [bed.state.clone(), bed.sshd.dir().to_path_buf()] {
        let procs = build::settle_processes(&marker.display().to_string());
        assert!(procs.is_empty(), "processes left: {procs:?}\n{output}");
    }
    let locks: Vec<_> = std::fs::read_dir(bed.sb.path(".ports"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(locks.is_empty(), "port locks left: {locks:?}\n{output}");
    let tmp = bed.sb.tmp_leftovers();
    assert!(tmp.is_empty(), "left in TMPDIR: {tmp:?}\n{output}");
    let j = bed.sb.journals();
    assert!(j.is_empty(), "journals left: {j:?}\n{output}");
}

#[test]
fn an_ovf_is_imported_provisioned_over_ssh_exported_and_unregistered() {
    let bed = Bed::new();
    std::fs::write(bed.sb.path("t.json"), bed.template()).unwrap();
    let env = bed.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = bed.sb.run(&["build", "-color=false", "t.json"], None, &env);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{all}\nargv: {:#?}", bed.argv_log());
    for want in [
        "==> virtualbox-ovf: Importing VM: ",
        "==> virtualbox-ovf: Creating forwarded port mapping for communicator (SSH, WinRM, etc) (host port ",
        "==> virtualbox-ovf: Starting the virtual machine...",
        "==> virtualbox-ovf: Typing the boot command...",
        "==> virtualbox-ovf: Connected to SSH!",
        "==> virtualbox-ovf: Uploading VirtualBox version info (7.0.20)",
        "provisioned-by-forgetest",
        "    virtualbox-ovf: 7.0.20",
        "==> virtualbox-ovf: Gracefully halting virtual machine...",
        "==> virtualbox-ovf: Exporting virtual machine...",
        "==> virtualbox-ovf: Deregistering and deleting imported VM...",
        "--> virtualbox-ovf: VM files in directory: ",
    ] {
        assert!(all.contains(want), "missing {want:?}:\n{all}");
    }
    assert_eq!(normalise(&bed.argv_log(), &bed.sb.dir), expected(), "{all}");
    let out_dir = bed.sb.path("out");
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [format!("{VM}-disk001.vmdk"), format!("{VM}.ovf")],
        "{all}"
    );
    assert_nothing_left(&bed, &all);
}

#[test]
fn a_failed_provisioner_powers_off_and_unregisters_the_vm() {
    let bed = Bed::new();
    let t = bed
        .template()
        .replace("cat ~/.vbox_version; echo", "exit 3");
    std::fs::write(bed.sb.path("t.json"), t).unwrap();
    let env = bed.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = bed.sb.run(&["build", "-color=false", "t.json"], None, &env);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_ne!(out.code, 0, "{all}");
    let log = normalise(&bed.argv_log(), &bed.sb.dir);
    let tail: Vec<&str> = log.iter().rev().take(4).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            format!("showvminfo {VM} --machinereadable").as_str(),
            format!("controlvm {VM} poweroff").as_str(),
            format!("modifyvm {VM} --natpf1 delete packercomm").as_str(),
            format!("unregistervm {VM} --delete").as_str(),
        ],
        "{all}\n{log:#?}"
    );
    assert!(!bed.sb.path("out").exists(), "{all}");
    assert_nothing_left(&bed, &all);
}

/// Packer 1.6.6 on the same template through the same stand-in sends the same commands.
#[test]
fn packer_sends_the_same_vboxmanage_commands() {
    require::path("/usr/bin/packer", "packer");
    let bed = Bed::new();
    std::fs::write(bed.sb.path("t.json"), bed.template()).unwrap();
    let mut cmd = std::process::Command::new("/usr/bin/packer");
    cmd.args(["build", "-color=false", "t.json"])
        .current_dir(&bed.sb.dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TMPDIR", &bed.sb.tmp)
        .env("PACKER_CONFIG_DIR", bed.sb.path(".packer.d"));
    for (k, v) in bed.env() {
        cmd.env(k, v);
    }
    let out = cli::output(&mut cmd, None);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "packer failed:\n{all}");
    assert_eq!(normalise(&bed.argv_log(), &bed.sb.dir), expected(), "{all}");
    assert!(bed.registered().is_empty(), "{all}");
}
