//! `forge build` with the qemu builder, end to end through the binary: a real Debian guest
//! (scripts/qemu-guest.sh) booted under TCG from its disk image, provisioned over SSH
//! through the forwarded port, shut down and converted; then the OUTPUT image is booted by a
//! second build that finds the provisioned change inside. Bad input, and interrupts at random
//! points: no qemu process, port lock, temporary file or journal is left.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, cli, qemu};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::time::{Duration, Instant};

use build::{settle_processes, signal, Rng, Sandbox};

/// A template: the guest disk (or `iso`) booted with direct kernel boot unless `boot` is false.
fn template(iso: &str, extra: &str, boot: bool, provisioner: &str) -> String {
    let g = qemu::guest();
    let kernel = if boot { g.kernel_args() } else { String::new() };
    format!(
        r#"
source "qemu" "vm" {{
  disk_image           = true
  iso_url              = "{iso}"
  iso_checksum         = "none"
  accelerator          = "tcg"
  headless             = true
  memory               = 1024
  cpus                 = 2
  qemuargs = [
    {kernel}
  ]
  boot_wait            = "1s"
  ssh_username         = "root"
  ssh_private_key_file = "{key}"
  ssh_timeout          = "5m"
  shutdown_command     = "poweroff"
  output_directory     = "@OUT@"
  vm_name              = "disk.qcow2"
{ports}
{extra}
}}
build {{
  sources = ["source.qemu.vm"]
  provisioner "shell" {{
    inline = [{provisioner}]
  }}
}}
"#,
        key = g.key.display(),
        ports = port_ranges(),
    )
}

/// VNC and SSH host port ranges of their own for each template: the tests run in parallel, each
/// with its own port lock directory (so that it can check it is left empty), so forge's locks
/// cannot keep two tests' VMs off the same port.
fn port_ranges() -> String {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let k = NEXT.fetch_add(1, Ordering::SeqCst) % 10;
    let (vnc, host) = (5900 + 10 * k, 3300 + 10 * k);
    format!(
        "  vnc_port_min = {vnc}\n  vnc_port_max = {}\n  host_port_min = {host}\n  host_port_max = {}",
        vnc + 9,
        host + 9
    )
}

/// Writes the template into the sandbox, its output directory inside it (so the qemu command
/// line names the sandbox).
fn write_template(sb: &Sandbox, t: &str) {
    let t = t.replace("@OUT@", &sb.path("out").display().to_string());
    std::fs::write(sb.path("t.pkr.hcl"), t).unwrap();
}

/// The playbook the first build runs (the guest has python3 for it).
const ANSIBLE_PLAY: &str = "- hosts: all\n  tasks:\n    - name: Mark the image\n      ansible.builtin.copy:\n        content: \"ansible on {{ ansible_facts['distribution'] }}\\n\"\n        dest: /etc/forge-ansible-marker\n";

/// The environment of every run: port locks and the download cache inside the sandbox, and the
/// test bed's Ansible on PATH.
fn env(sb: &Sandbox) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), forge_testkit::ansible::path_env()),
        (
            "FORGE_PORT_LOCK_DIR".into(),
            sb.path(".ports").display().to_string(),
        ),
        (
            "PACKER_CACHE_DIR".into(),
            sb.path(".cache").display().to_string(),
        ),
    ]
}

fn run(sb: &Sandbox) -> cli::Run {
    let e = env(sb);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &e)
}

/// No qemu of this sandbox, no port lock, nothing in TMPDIR, no journal.
fn assert_nothing_left(sb: &Sandbox, what: &str, output: &str) {
    let marker = sb.dir.display().to_string();
    let procs = settle_processes(&marker);
    assert!(
        procs.is_empty(),
        "{what}: processes left: {procs:?}\n{output}"
    );
    let locks: Vec<_> = std::fs::read_dir(sb.path(".ports"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        locks.is_empty(),
        "{what}: port locks left: {locks:?}\n{output}"
    );
    let tmp = sb.tmp_leftovers();
    assert!(tmp.is_empty(), "{what}: left in TMPDIR: {tmp:?}\n{output}");
    let j = sb.journals();
    assert!(j.is_empty(), "{what}: journals left: {j:?}\n{output}");
}

#[test]
fn a_disk_image_is_provisioned_and_the_output_boots_with_the_change() {
    let g = qemu::guest();
    // The first build also runs real Ansible, straight to the guest over SSH (once: TCG boots
    // are few).
    let sb = Sandbox::new(FORGE, &[("play.yml", ANSIBLE_PLAY)]);
    let t = template(
        &g.disk.display().to_string(),
        "",
        true,
        r#""uname -r", "echo built-by-forge > /etc/forge-marker""#,
    )
    .replace(
        "  sources = [\"source.qemu.vm\"]\n",
        "  sources = [\"source.qemu.vm\"]\n  provisioner \"ansible\" {\n    playbook_file = \"play.yml\"\n  }\n",
    );
    write_template(&sb, &t);
    let out = run(&sb);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{all}");
    for want in [
        "==> qemu.vm: Provisioning with Ansible...",
        "    qemu.vm: TASK [Mark the image]",
        "==> qemu.vm: Starting VM, booting disk image",
        "==> qemu.vm: Found port for communicator (SSH, WinRM, etc): ",
        "==> qemu.vm: Connected to SSH!",
        "==> qemu.vm: Gracefully halting virtual machine...",
        "==> qemu.vm: Converting hard drive...",
        "--> qemu.vm: VM files in directory: ",
    ] {
        assert!(all.contains(want), "missing {want:?}:\n{all}");
    }
    assert_nothing_left(&sb, "the first build", &all);
    let image = sb.path("out/disk.qcow2");
    assert!(image.exists(), "{all}");

    // Boot the output (this time with EFI firmware and a QMP socket): a second build on top
    // of it finds the marker.
    let sb2 = Sandbox::new(FORGE, &[]);
    let t = template(
        &image.display().to_string(),
        "  use_backing_file = true\n  efi_boot = true\n  qmp_enable = true",
        true,
        r#""cat /etc/forge-marker /etc/forge-ansible-marker""#,
    );
    write_template(&sb2, &t);
    let out = run(&sb2);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{all}");
    assert!(
        all.contains("    qemu.vm: built-by-forge")
            && all.contains("    qemu.vm: ansible on Debian"),
        "the output image lacks the provisioned changes:\n{all}"
    );
    assert_nothing_left(&sb2, "the second build", &all);
}

/// One failing build: its output, after checking that nothing was left.
fn failing(t: &str, files: &[(&str, &str)]) -> String {
    let sb = Sandbox::new(FORGE, files);
    write_template(&sb, t);
    let out = run(&sb);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        !sb.path("out").exists(),
        "the output directory was left:\n{all}"
    );
    assert_nothing_left(&sb, "a failing build", &all);
    all
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    let g = qemu::guest();
    let disk = g.disk.display().to_string();
    // A checksum that does not match.
    let t = template(&disk, "", true, r#""true""#).replace(
        "iso_checksum         = \"none\"",
        &format!("iso_checksum = \"sha256:{}\"", "0".repeat(64)),
    );
    let out = failing(&t, &[]);
    assert!(out.contains("Checksums did not match"), "{out}");
    assert!(
        out.contains(&format!("Expected: {}", "0".repeat(64))),
        "{out}"
    );

    // A missing ISO.
    let out = failing(
        &template("/nonexistent/disk.qcow2", "", true, r#""true""#),
        &[],
    );
    assert!(out.contains("/nonexistent/disk.qcow2"), "{out}");
    assert!(out.contains("Build 'qemu.vm' errored"), "{out}");

    // qemu not installed.
    let out = failing(
        &template(
            &disk,
            "  qemu_binary = \"/nonexistent/qemu-system-x86_64\"",
            true,
            r#""true""#,
        ),
        &[],
    );
    assert!(out.contains("Error launching VM"), "{out}");
    assert!(out.contains("is not installed"), "{out}");

    // A guest that never brings SSH up: without a kernel, the firmware finds nothing to boot.
    let t = template(&disk, "", false, r#""true""#)
        .replace("ssh_timeout          = \"5m\"", "ssh_timeout = \"15s\"");
    let started = Instant::now();
    let out = failing(&t, &[]);
    assert!(
        out.contains("Timeout waiting for SSH") && out.contains("15s"),
        "the error says what was waited for and how long:\n{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(90), "{out}");
}

#[test]
fn interrupts_at_random_points_leave_nothing() {
    let g = qemu::guest();
    let mut rng = Rng::new();
    for round in 0..3 {
        let sb = Sandbox::new(FORGE, &[]);
        let t = template(&g.disk.display().to_string(), "", true, r#""sleep 30""#);
        write_template(&sb, &t);
        let e = env(&sb);
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &e);
        let after = Duration::from_millis(rng.below(25_000));
        std::thread::sleep(after);
        let kill = round == 2;
        signal(child.id(), if kill { "KILL" } else { "INT" });
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "forge did not stop:\n{}",
                sb.spawned_output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut out = sb.spawned_output();
        if kill {
            let c = sb.run(&["cleanup"], None, &e);
            assert_eq!(c.code, 0, "forge cleanup:\n{}{}", c.stdout, c.stderr);
            out.push_str(&format!("\n--- cleanup:\n{}", c.stdout));
        }
        let what = format!(
            "round {round}: {} after {after:?}",
            if kill {
                "SIGKILL + forge cleanup"
            } else {
                "SIGINT"
            }
        );
        eprintln!("{what}");
        assert!(
            !sb.path("out").exists(),
            "{what}: output directory left:\n{out}"
        );
        assert_nothing_left(&sb, &what, &out);
    }
}

use forge_testkit::qemu_boot as tiny;

/// boot_command through a forge build: the tiny guest of the boot command tests (a Debian
/// kernel and a busybox initramfs that echoes every line typed on its console to the serial
/// port) is booted with no communicator, an HTTP server, a CD and a floppy; the typed line
/// carries the HTTP server's address and the VM's name, filled in by forge.
#[test]
fn boot_command_is_typed_with_the_http_address_filled_in() {
    let kernel = tiny::kernel().unwrap_or_else(|e| panic!("{e}"));
    let sb = Sandbox::new(FORGE, &[("cd/readme.txt", "on the cd\n")]);
    let initrd = sb.path("initrd.img");
    tiny::initramfs(&initrd).unwrap_or_else(|e| panic!("{e}"));
    let disk = sb.path("empty.qcow2");
    forge_testkit::require::program("qemu-img", "qemu-utils");
    let st = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("16M")
        .status()
        .unwrap();
    assert!(st.success());
    let serial = sb.path("serial.log");
    let t = format!(
        r#"
source "qemu" "tiny" {{
  disk_image        = true
  skip_resize_disk  = true
  iso_url           = "{disk}"
  iso_checksum      = "none"
  accelerator       = "tcg"
  headless          = true
  memory            = 256
  communicator      = "none"
  http_content      = {{ "/hello" = "hi" }}
  cd_files          = ["cd/readme.txt"]
  cd_label          = "forgecd"
  floppy_content    = {{ "meta-data" = "instance-id: forge" }}
  qemuargs = [
    ["-kernel", "{kernel}"],
    ["-initrd", "{initrd}"],
    ["-append", "console=ttyS0 quiet loglevel=1 panic=-1 i8042.noaux"],
    ["-serial", "file:{serial}"],
  ]
  boot_wait         = "20s"
  boot_key_interval = "10ms"
  boot_command      = ["echo port={{{{ .HTTPPort }}}} ip={{{{ .HTTPIP }}}}", " name={{{{ .Name }}}}<enter>"]
  output_directory  = "@OUT@"
  vm_name           = "tiny.qcow2"
{ports}
}}
build {{
  sources = ["source.qemu.tiny"]
}}
"#,
        disk = disk.display(),
        kernel = kernel.display(),
        initrd = initrd.display(),
        serial = serial.display(),
        ports = port_ranges(),
    );
    write_template(&sb, &t);
    let out = run(&sb);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{all}");
    let port = all
        .lines()
        .find_map(|l| l.strip_prefix("==> qemu.tiny: Starting HTTP server on port "))
        .unwrap_or_else(|| panic!("no HTTP server:\n{all}"))
        .to_string();
    for want in [
        "==> qemu.tiny: Creating floppy disk...",
        "==> qemu.tiny: Creating CD disk...",
        "==> qemu.tiny: Waiting 20s for boot...",
        "==> qemu.tiny: Typing the boot commands over VNC...",
        "==> qemu.tiny: Halting the virtual machine...",
    ] {
        assert!(all.contains(want), "missing {want:?}:\n{all}");
    }
    let log = std::fs::read_to_string(&serial).unwrap_or_default();
    let want = format!("LINE:[echo port={port} ip=10.0.2.2 name=tiny.qcow2]");
    assert!(
        log.contains(&want),
        "{want:?} not on the guest's console:\n{log}\n{all}"
    );
    assert_nothing_left(&sb, "the boot command build", &all);
}

/// A boot_command syntax error is reported by `forge validate`, naming the entry and column.
#[test]
fn boot_command_syntax_errors_are_reported_at_validate_time() {
    let t = r#"
source "qemu" "vm" {
  iso_url      = "x.iso"
  iso_checksum = "none"
  ssh_username = "root"
  boot_command = ["<esc><wait>", "linux <wait-1m> ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg<enter>"]
}
build {
  sources = ["source.qemu.vm"]
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let out = sb.run(&["validate", "t.pkr.hcl"], None, &[]);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{all}");
    assert!(
        all.contains(
            "boot_command[1]: column 7: expecting a positive wait value, got -1m0s in <wait-1m>"
        ),
        "{all}"
    );
    assert!(all.contains("on t.pkr.hcl line 2"), "{all}");
    // A good one passes.
    let good = t.replace("<wait-1m>", "<wait1m>");
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &good)]);
    let out = sb.run(&["validate", "t.pkr.hcl"], None, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// A real reboot in the middle of provisioning: the shell provisioner's `expect_disconnect`,
/// the reconnect that waits for the new boot, and a check that the boot id really changed.
#[test]
fn a_reboot_during_provisioning_reconnects_to_the_new_boot() {
    let g = qemu::guest();
    let sb = Sandbox::new(FORGE, &[]);
    let t = template(
        &g.disk.display().to_string(),
        "",
        true,
        // `systemctl reboot` may return before the machine goes down (with no bus it falls
        // back to signalling init); the sleep keeps the script running until the connection
        // drops, so the next provisioner cannot start on the old boot (Packer's advice too).
        r#""cat /proc/sys/kernel/random/boot_id > /root/boot1", "systemctl reboot; sleep 120""#,
    )
    .replace(
        "  provisioner \"shell\" {\n    inline = [",
        "  provisioner \"shell\" {\n    expect_disconnect = true\n    inline = [",
    )
    .replace(
        "]\n  }\n}\n",
        "]\n  }\n  provisioner \"shell\" {\n    inline = [\"test \\\"$(cat /proc/sys/kernel/random/boot_id)\\\" != \\\"$(cat /root/boot1)\\\" && echo rebooted-for-real\"]\n  }\n}\n",
    );
    assert!(
        t.contains("rebooted-for-real") && t.contains("expect_disconnect"),
        "{t}"
    );
    write_template(&sb, &t);
    let out = run(&sb);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{all}");
    assert!(all.contains("    qemu.vm: rebooted-for-real"), "{all}");
    assert_nothing_left(&sb, "the reboot build", &all);
}
