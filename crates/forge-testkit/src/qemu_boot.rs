//! Test bed for the boot command end-to-end test: a Debian kernel cached once per machine, a
//! tiny busybox initramfs written in-process, and a qemu process killed on drop.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the Debian kernel is cached (shared by every test run on the machine).
pub const KERNEL_CACHE: &str = "/var/tmp/forge-test-kernel";

/// What to do when no kernel can be had.
const INSTALL_HINT: &str = "the boot command test needs a Debian kernel: it runs \
`apt-get download linux-image-<version>-amd64` (the package linux-image-amd64 depends on); \
make apt work (`apt-get update`, network access to the Debian mirror), or put a bzImage at \
/var/tmp/forge-test-kernel/vmlinuz";

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// The cached Debian kernel, downloaded and extracted under an exclusive lock on first use.
pub fn kernel() -> Result<PathBuf, String> {
    let dir = Path::new(KERNEL_CACHE);
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock = File::create(dir.join(".lock")).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "locking {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    let vmlinuz = dir.join("vmlinuz");
    if vmlinuz.exists() {
        return Ok(vmlinuz);
    }
    fetch_kernel(dir, &vmlinuz).map_err(|e| format!("{e}\n{INSTALL_HINT}"))?;
    Ok(vmlinuz)
}

fn fetch_kernel(dir: &Path, vmlinuz: &Path) -> Result<(), String> {
    let deps = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    let deps = String::from_utf8_lossy(&deps);
    let package = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .ok_or_else(|| format!("apt-cache depends linux-image-amd64 names no kernel:\n{deps}"))?
        .to_string();
    let work = dir.join("work");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    run(Command::new("apt-get")
        .args(["download", "-q", &package])
        .current_dir(&work))?;
    let deb = fs::read_dir(&work)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| format!("apt-get download {package} left no .deb"))?;
    // Only ./boot is needed; extracting the modules too would take far longer.
    let sh = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -x -C '{}' ./boot",
        deb.display(),
        work.display()
    );
    run(Command::new("sh").args(["-c", &sh]))?;
    let image = fs::read_dir(work.join("boot"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| format!("{} has no /boot/vmlinuz-*", deb.display()))?;
    let tmp = dir.join("vmlinuz.tmp");
    fs::copy(&image, &tmp).map_err(|e| e.to_string())?;
    fs::rename(&tmp, vmlinuz).map_err(|e| e.to_string())?;
    fs::write(dir.join("package"), format!("{package}\n")).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&work);
    Ok(())
}

/// A minimal `newc` cpio archive writer.
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
}

/// The guest's /init: prints READY on the serial port, then every line typed on the VGA
/// console (tty1, canonical mode) as `LINE:[...]`.
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
dmesg -n 1
exec 3</dev/tty1
stty sane <&3
echo READY > /dev/ttyS0
while IFS= read -r line <&3; do printf 'LINE:[%s]\n' "$line"; done > /dev/ttyS0
echo EOF > /dev/ttyS0
poweroff -f
"#;

/// Writes the initramfs (busybox-static and [`INIT`]) to `path`.
pub fn initramfs(path: &Path) -> Result<(), String> {
    let mut busybox = Vec::new();
    File::open("/bin/busybox")
        .and_then(|mut f| f.read_to_end(&mut busybox))
        .map_err(|e| format!("reading /bin/busybox: {e} (install busybox-static)"))?;
    // A dynamically linked busybox (Debian's `busybox` package) cannot run in the initramfs.
    if has_interpreter(&busybox) {
        return Err("/bin/busybox is dynamically linked; install busybox-static".into());
    }
    let mut c = Cpio {
        out: Vec::new(),
        ino: 0,
    };
    for d in ["bin", "dev", "proc", "sys"] {
        c.entry(d, 0o040755, (0, 0), &[]);
    }
    c.entry("dev/console", 0o020600, (5, 1), &[]);
    c.entry("bin/busybox", 0o100755, (0, 0), &busybox);
    c.entry("init", 0o100755, (0, 0), INIT.as_bytes());
    c.entry("TRAILER!!!", 0, (0, 0), &[]);
    File::create(path)
        .and_then(|mut f| f.write_all(&c.out))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Whether a 64-bit ELF executable has a PT_INTERP program header (is dynamically linked).
pub fn has_interpreter(elf: &[u8]) -> bool {
    let num = |at: usize, len: usize| -> usize {
        elf.get(at..at + len)
            .map(|b| b.iter().rev().fold(0usize, |n, &x| (n << 8) | x as usize))
            .unwrap_or(0)
    };
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (phoff, phentsize, phnum) = (num(0x20, 8), num(0x36, 2), num(0x38, 2));
    (0..phnum).any(|i| num(phoff + i * phentsize, 4) == 3)
}

/// A free TCP port on 127.0.0.1 usable as a VNC display (≥ 5900).
pub fn free_vnc_port() -> Result<u16, String> {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
    for i in 0..2000u64 {
        let port = 5900 + ((seed.wrapping_mul(7919) + i * 13) % 20000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port for VNC between 5900 and 25900".into())
}

/// A running qemu, killed when dropped.
pub struct Qemu {
    child: Child,
    /// The file qemu writes the serial console to.
    pub serial: PathBuf,
    stderr: PathBuf,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Qemu {
    /// Boots `kernel` with `initrd` on TCG, VGA on VNC at `vnc_port`, serial to a file in `dir`.
    pub fn boot(dir: &Path, kernel: &Path, initrd: &Path, vnc_port: u16) -> Result<Qemu, String> {
        let serial = dir.join("serial.log");
        let stderr = dir.join("qemu.stderr");
        let err_file = File::create(&stderr).map_err(|e| e.to_string())?;
        let child = Command::new("qemu-system-x86_64")
            .args([
                "-accel", "tcg", "-m", "256", "-smp", "1", "-display", "none",
            ])
            .args(["-no-reboot", "-nodefaults", "-vga", "std"])
            .arg("-vnc")
            .arg(format!("127.0.0.1:{}", vnc_port - 5900))
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(initrd)
            .args([
                "-append",
                "console=ttyS0 quiet loglevel=1 panic=-1 i8042.noaux",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file)
            .spawn()
            .map_err(|e| format!("starting qemu-system-x86_64: {e} (install qemu-system-x86)"))?;
        Ok(Qemu {
            child,
            serial,
            stderr,
        })
    }

    /// The serial output so far.
    pub fn serial_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.serial).unwrap_or_default()).into_owned()
    }

    /// Waits until the serial output satisfies `done`, failing if qemu exits or time runs out.
    pub async fn wait_serial(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let text = self.serial_text();
            if done(&text) {
                return Ok(text);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "qemu exited ({status}) before {what}\nstderr: {}\nserial:\n{text}",
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                ));
            }
            if start.elapsed() > timeout {
                return Err(format!("no {what} after {timeout:?}; serial:\n{text}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
