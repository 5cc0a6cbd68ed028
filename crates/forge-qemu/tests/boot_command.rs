//! End to end: a long boot command typed over VNC into a real qemu (TCG) must arrive exactly.
//! The guest (a Debian kernel and a busybox initramfs) echoes every line typed on its VGA
//! console to the serial port; see forge-testkit's qemu_boot.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::qemu_boot as support;

use std::time::{Duration, Instant};

use forge_commonsteps::bootcommand::vnc::VncClient;
use forge_commonsteps::bootcommand::{self, parse, type_actions};
use tokio_util::sync::CancellationToken;

/// The boot command, as template entries (joined before parsing, like Packer).
const COMMAND: &[&str] = &[
    "The quick brown fox jumps over the lazy dog 0123456789<enter>",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG<enter>",
    "`-=[]\\;',./<enter>",
    "~!@#$%^&*()_+{}|:\"<>?<enter>",
    "<leftShiftOn>abc2<leftShiftOff>def<rightShiftOn>g1<rightShiftOff>h<enter>",
    "wait<wait1s>ed<wait250ms>!<wait>done<enter>",
    "tab<tab>x<spacebar>y<SpaceBar>z<enter>",
    "abcX<bs>d<BS><bs>ef<enter>",
    "junk<leftCtrlOn>u<leftCtrlOff>kept one<rightCtrlOn>w<rightCtrlOff>two<enter>",
    "<up><down><right><left><home><end><insert><del><pageUp><pageDown><esc><enter>",
    "<f1><f2><f3><f4><f5><f6><f7><f8><f9><f10><f11><f12><Return>",
    "<aOn><aOff><BOn><BOff>< <foo> a<b <wait <WAIT><ENTER>",
    "<enter>",
    "mkdir -p /tmp/x && echo \"{{ .HTTPIP }}:{{ .HTTPPort }}\" > /tmp/x/y.txt # a long line ",
    "of a preseed-like command: url=http://10.0.2.2:8080/preseed.cfg auto=true priority=critical",
    "<enter>END<enter>",
];

fn expected() -> Vec<String> {
    [
        "The quick brown fox jumps over the lazy dog 0123456789",
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
        "`-=[]\\;',./",
        "~!@#$%^&*()_+{}|:\"<>?",
        // A held shift changes what a digit's key types, but VNC sends keysyms and qemu types
        // the keysym asked for: a lower-case letter stays lower-case (as with Packer).
        "abc@defg!h",
        "waited!done",
        "tab\tx y z",
        "abef",
        // ^U kills the line, ^W erases the word before it.
        "kept two",
        "\x1b[A\x1b[B\x1b[C\x1b[D\x1b[1~\x1b[4~\x1b[2~\x1b[3~\x1b[5~\x1b[6~\x1b",
        "\x1b[[A\x1b[[B\x1b[[C\x1b[[D\x1b[[E\x1b[17~\x1b[18~\x1b[19~\x1b[20~\x1b[21~\x1b[23~\x1b[24~",
        "aB< <foo> a<b <wait <WAIT>",
        "",
        "mkdir -p /tmp/x && echo \"{{ .HTTPIP }}:{{ .HTTPPort }}\" > /tmp/x/y.txt # a long line of a preseed-like command: url=http://10.0.2.2:8080/preseed.cfg auto=true priority=critical",
        "END",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The `LINE:[...]` payloads in the serial output, in order.
fn typed_lines(serial: &str) -> Vec<String> {
    serial
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter_map(|l| l.strip_prefix("LINE:[")?.strip_suffix(']'))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_boot_command_arrives_exactly_over_vnc() {
    let t0 = Instant::now();
    let commands: Vec<String> = COMMAND.iter().map(|s| s.to_string()).collect();
    assert_eq!(bootcommand::validate(&commands), Vec::<String>::new());
    let actions = parse(&commands.concat()).expect("the boot command parses");

    let kernel = support::kernel().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let initrd = dir.path().join("initrd.cpio");
    support::initramfs(&initrd).unwrap_or_else(|e| panic!("{e}"));
    let port = support::free_vnc_port().unwrap_or_else(|e| panic!("{e}"));
    let mut qemu =
        support::Qemu::boot(dir.path(), &kernel, &initrd, port).unwrap_or_else(|e| panic!("{e}"));
    let t_kernel = t0.elapsed();

    qemu.wait_serial("READY on the serial port", Duration::from_secs(60), |s| {
        s.lines().any(|l| l.trim_end() == "READY")
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let t_ready = t0.elapsed();

    let addr = format!("127.0.0.1:{port}");
    let mut vnc = VncClient::connect(&addr, None, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cancel = CancellationToken::new();
    let typing = Instant::now();
    vnc.key_interval = Duration::from_millis(10);
    type_actions(&mut vnc, &actions, &cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t_typed = typing.elapsed();
    assert!(
        t_typed >= Duration::from_millis(2250),
        "the waits were skipped: {t_typed:?}"
    );

    let serial = qemu
        .wait_serial("the END line", Duration::from_secs(30), |s| {
            typed_lines(s).iter().any(|l| l == "END")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(typed_lines(&serial), expected(), "serial output:\n{serial}");
    eprintln!(
        "kernel ready {:?}, guest READY at {:?}, typed {} actions in {:?}, total {:?}",
        t_kernel,
        t_ready,
        actions.len(),
        t_typed,
        t0.elapsed()
    );
}

#[test]
fn support_tells_static_from_dynamic_binaries() {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    assert!(
        !support::has_interpreter(&busybox),
        "/bin/busybox must be static"
    );
    let sh = std::fs::read("/bin/sh").unwrap();
    assert!(support::has_interpreter(&sh));
}
