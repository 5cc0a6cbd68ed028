//! The QEMU test guest (scripts/qemu-guest.sh): a minimal Debian 12 disk image with its
//! kernel and initrd, built once per machine into /var/tmp/forge-test-guest2 under a lock, and
//! booted by the tests with direct kernel boot under TCG.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the guest lives.
pub const GUEST_DIR: &str = "/var/tmp/forge-test-guest2";

/// The guest's files.
pub struct Guest {
    /// The whole-disk ext4 image (qcow2).
    pub disk: PathBuf,
    /// The kernel, for `-kernel`.
    pub kernel: PathBuf,
    /// The initrd, for `-initrd`.
    pub initrd: PathBuf,
    /// The kernel command line.
    pub cmdline: String,
    /// A private key root accepts.
    pub key: PathBuf,
}

/// The guest, built first when missing (about 2 minutes: debootstrap from deb.debian.org).
pub fn guest() -> &'static Guest {
    static G: OnceLock<Guest> = OnceLock::new();
    G.get_or_init(|| {
        for (p, pkg) in [
            ("qemu-system-x86_64", "qemu-system-x86"),
            ("qemu-img", "qemu-utils"),
            ("debootstrap", "debootstrap"),
            ("mkfs.ext4", "e2fsprogs"),
            ("ssh-keygen", "openssh-client"),
            ("flock", "util-linux"),
        ] {
            crate::require::program(p, pkg);
        }
        let dir = Path::new(GUEST_DIR);
        if !dir.join("disk.qcow2").exists() {
            eprintln!("building the QEMU test guest in {GUEST_DIR} (once per machine)...");
            let script = crate::repo_file("scripts/qemu-guest.sh");
            let out = Command::new("flock")
                .arg("/tmp/.forge-test-guest.lock")
                .arg("sh")
                .arg(&script)
                .arg(dir)
                .output()
                .expect("run flock");
            assert!(
                out.status.success() && dir.join("disk.qcow2").exists(),
                "building the QEMU test guest failed (needs root and http://deb.debian.org): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Guest {
            disk: dir.join("disk.qcow2"),
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
            cmdline: std::fs::read_to_string(dir.join("cmdline"))
                .expect("the guest's cmdline")
                .trim()
                .to_string(),
            key: dir.join("id_ed25519"),
        }
    })
}

impl Guest {
    /// `qemuargs` rows for direct kernel boot.
    pub fn kernel_args(&self) -> String {
        format!(
            "[\"-kernel\", \"{}\"],\n    [\"-initrd\", \"{}\"],\n    [\"-append\", \"{}\"],",
            self.kernel.display(),
            self.initrd.display(),
            self.cmdline
        )
    }
}
