//! The VirtualBox driver: every question and command goes through `VBoxManage`. The trait's
//! one required method runs `VBoxManage` with some arguments; everything the steps ask for
//! (import, start, query the state, stop, delete) is built on it here, once, so a fake driver
//! that answers `run` tests the real argument lists.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use forge_core::{Error, Result};

/// What one `VBoxManage` run printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Its exit status (-1 when killed by a signal).
    pub status: i32,
    /// Standard output, trimmed.
    pub stdout: String,
    /// Standard error, trimmed.
    pub stderr: String,
}

/// How often a command that met `VBOX_E_INVALID_OBJECT_STATE` is tried, and how long apart.
pub const RETRY_TRIES: usize = 5;
/// The pause between those tries.
pub const RETRY_DELAY: Duration = Duration::from_secs(60);

/// VirtualBox, through `VBoxManage`.
#[async_trait]
pub trait Driver: Send + Sync {
    /// Runs `VBoxManage args`; an error only when it could not be run at all.
    async fn run(&self, args: &[String]) -> Result<Output>;

    /// The pause between retries of a command VirtualBox refused for the VM's state.
    fn retry_delay(&self) -> Duration {
        RETRY_DELAY
    }

    /// Runs a command; VirtualBox's error (exit status, or an `error:` line on stderr) fails
    /// it as `VBoxManage error: <stderr>`. A refusal for the VM's state is retried.
    async fn vboxmanage(&self, args: &[String]) -> Result<String> {
        let mut tries = 0;
        loop {
            tries += 1;
            tracing::info!("Executing VBoxManage: {args:?}");
            let out = self.run(args).await?;
            tracing::debug!("stdout: {}", out.stdout);
            tracing::debug!("stderr: {}", out.stderr);
            if out.status == 0 && !has_error_line(&out.stderr) {
                return Ok(out.stdout);
            }
            let err = format!("VBoxManage error: {}", out.stderr);
            if tries >= RETRY_TRIES || !err.contains("VBOX_E_INVALID_OBJECT_STATE") {
                return Err(Error::msg(err));
            }
            tokio::time::sleep(self.retry_delay()).await;
        }
    }

    /// `VBoxManage --version`, reduced to its number (`7.0.20_Debianr163906` gives `7.0.20`).
    async fn version(&self) -> Result<String> {
        let out = self.run(&args(["--version"])).await?;
        parse_version(&out.stdout)
    }

    /// Whether the VM runs (or is stopping, or paused).
    async fn is_running(&self, vm: &str) -> Result<bool> {
        let out = self
            .run(&args(["showvminfo", vm, "--machinereadable"]))
            .await?;
        if out.status != 0 {
            return Err(Error::msg(format!("VBoxManage error: {}", out.stderr)));
        }
        Ok(out.stdout.lines().any(|l| {
            matches!(
                l.trim_end_matches('\r'),
                r#"VMState="running""# | r#"VMState="stopping""# | r#"VMState="paused""#
            )
        }))
    }

    /// Imports an OVF/OVA as `name`.
    async fn import(&self, name: &str, path: &str, flags: &[String]) -> Result<()> {
        let mut a = args(["import", path, "--vsys", "0", "--vmname", name]);
        a.extend_from_slice(flags);
        self.vboxmanage(&a).await.map(drop)
    }

    /// Unregisters the VM and deletes its files.
    async fn delete(&self, vm: &str) -> Result<()> {
        self.vboxmanage(&args(["unregistervm", vm, "--delete"]))
            .await
            .map(drop)
    }

    /// Pulls the VM's plug.
    async fn stop(&self, vm: &str) -> Result<()> {
        self.vboxmanage(&args(["controlvm", vm, "poweroff"]))
            .await
            .map(drop)
    }

    /// Presses the VM's ACPI power button.
    async fn stop_via_acpi(&self, vm: &str) -> Result<()> {
        self.vboxmanage(&args(["controlvm", vm, "acpipowerbutton"]))
            .await
            .map(drop)
    }

    /// The guest additions ISO VirtualBox ships (`list systemproperties`).
    async fn iso(&self) -> Result<String> {
        let out = self.run(&args(["list", "systemproperties"])).await?;
        out.stdout
            .lines()
            .find_map(|l| l.split_once("Default Guest Additions ISO:"))
            .map(|(_, p)| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                Error::msg(
                    "Cannot find \"Default Guest Additions ISO\" in vboxmanage output (or it is empty)",
                )
            })
    }

    /// Removes the VM's floppy controller (type I82078), if it has one.
    async fn remove_floppy_controllers(&self, vm: &str) -> Result<()> {
        let out = self
            .run(&args(["showvminfo", vm, "--machinereadable"]))
            .await?;
        if out.status != 0 {
            return Err(Error::msg(format!("VBoxManage error: {}", out.stderr)));
        }
        let Some(name) = floppy_controller(&out.stdout) else {
            return Ok(());
        };
        self.vboxmanage(&args(["storagectl", vm, "--name", &name, "--remove"]))
            .await
            .map(drop)
    }

    /// Turns off VirtualBox's GUI nagging (registration, update checks, input capture hints).
    async fn suppress_messages(&self, year: i32) -> Result<()> {
        let update = format!("1 d, {}-01-01, stable", year + 1);
        for (k, v) in [
            ("GUI/RegistrationData", "triesLeft=0"),
            ("GUI/SuppressMessages", "confirmInputCapture,remindAboutAutoCapture,remindAboutMouseIntegrationOff,remindAboutMouseIntegrationOn,remindAboutWrongColorDepth"),
            ("GUI/UpdateDate", update.as_str()),
            ("GUI/UpdateCheckCount", "60"),
        ] {
            self.vboxmanage(&args(["setextradata", "global", k, v])).await?;
        }
        Ok(())
    }
}

/// Owned arguments.
pub fn args<const N: usize>(a: [&str; N]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Whether stderr carries VirtualBox's `VBoxManage: error:` (or `VBoxManage.exe: error:`).
fn has_error_line(stderr: &str) -> bool {
    let mut rest = stderr;
    while let Some(i) = rest.find("VBoxManage") {
        let after = &rest[i + "VBoxManage".len()..];
        let tail = after.trim_start_matches(|c: char| c == '.' || c.is_ascii_lowercase());
        if tail.starts_with(": error:") {
            return true;
        }
        rest = after;
    }
    false
}

/// The version number at the start of `VBoxManage --version`'s output.
pub fn parse_version(out: &str) -> Result<String> {
    let out = out.trim();
    if out.contains("vboxdrv") {
        return Err(Error::msg(format!(
            "VirtualBox is not properly setup: {out}"
        )));
    }
    let n: String = out
        .chars()
        .take_while(|c| *c == '.' || c.is_ascii_digit())
        .collect();
    if n.is_empty() {
        return Err(Error::msg(format!("No version found: {out}")));
    }
    Ok(n)
}

/// The name of the floppy controller in `showvminfo --machinereadable` output.
fn floppy_controller(info: &str) -> Option<String> {
    let mut idx = None;
    let mut names = std::collections::HashMap::new();
    for l in info.lines() {
        let l = l.trim_end_matches([' ', '\r']);
        let value = |prefix: &str| {
            let rest = l.strip_prefix(prefix)?;
            let (n, v) = rest.split_once('=')?;
            let v = v.strip_prefix('"')?.strip_suffix('"')?;
            n.chars()
                .all(|c| c.is_ascii_digit())
                .then(|| (n.to_string(), v.to_string()))
        };
        if let Some((n, v)) = value("storagecontrollertype") {
            if v == "I82078" {
                idx = Some(n);
            }
        } else if let Some((n, v)) = value("storagecontrollername") {
            names.insert(n, v);
        }
    }
    names.remove(&idx?)
}

/// The real driver: runs the `VBoxManage` binary.
#[derive(Debug, Clone)]
pub struct VBoxManage {
    /// The binary.
    pub path: PathBuf,
}

impl VBoxManage {
    /// Finds `VBoxManage`: in the directories of `VBOX_INSTALL_PATH` (or
    /// `VBOX_MSI_INSTALL_PATH`; `;`-separated, as VirtualBox's Windows installer sets them),
    /// then on `PATH`.
    pub fn find() -> Result<VBoxManage> {
        let install = ["VBOX_INSTALL_PATH", "VBOX_MSI_INSTALL_PATH"]
            .iter()
            .filter_map(std::env::var_os)
            .map(|v| v.to_string_lossy().into_owned());
        let path = std::env::var_os("PATH").unwrap_or_default();
        find_in(install, &path)
            .map(|path| {
                tracing::info!("VBoxManage path: {}", path.display());
                VBoxManage { path }
            })
            .ok_or_else(|| {
                Error::msg(
                    "exec: \"VBoxManage\": executable file not found in $PATH (install VirtualBox, or set VBOX_INSTALL_PATH to its directory)",
                )
            })
    }
}

fn find_in(install: impl Iterator<Item = String>, path: &std::ffi::OsStr) -> Option<PathBuf> {
    let exe = |d: &Path| {
        let p = d.join("VBoxManage");
        std::fs::metadata(&p)
            .is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
            .then_some(p)
    };
    for v in install {
        if let Some(p) = v.split(';').find_map(|d| exe(Path::new(d))) {
            return Some(p);
        }
    }
    std::env::split_paths(path).find_map(|d| exe(&d))
}

#[async_trait]
impl Driver for VBoxManage {
    async fn run(&self, args: &[String]) -> Result<Output> {
        let out = tokio::process::Command::new(&self.path)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| Error::msg(format!("running {}: {e}", self.path.display())))?;
        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeDriver;

    #[test]
    fn versions() {
        assert_eq!(parse_version("7.0.20_Debianr163906\n").unwrap(), "7.0.20");
        assert_eq!(parse_version("6.1.2r135662").unwrap(), "6.1.2");
        assert_eq!(parse_version("5.2.0_RC1r1").unwrap(), "5.2.0");
        let e = parse_version("WARNING: The vboxdrv kernel module is not loaded.").unwrap_err();
        assert!(e.to_string().contains("not properly setup"), "{e}");
        assert!(parse_version("garbage")
            .unwrap_err()
            .to_string()
            .contains("No version found"));
    }

    #[test]
    fn error_lines() {
        assert!(has_error_line(
            "VBoxManage: error: Could not find a registered machine"
        ));
        assert!(has_error_line("x\nVBoxManage.exe: error: no"));
        assert!(!has_error_line("VBoxManage: warning: fine"));
        assert!(!has_error_line(""));
    }

    #[test]
    fn floppy_controller_found_by_type() {
        let info = "storagecontrollername0=\"IDE Controller\"\nstoragecontrollertype0=\"PIIX4\"\nstoragecontrollername1=\"Floppy\"\nstoragecontrollertype1=\"I82078\"\n";
        assert_eq!(floppy_controller(info).as_deref(), Some("Floppy"));
        assert_eq!(floppy_controller("storagecontrollertype0=\"PIIX4\""), None);
    }

    #[test]
    fn lookup_prefers_the_install_path_then_path() {
        let d1 = std::env::temp_dir().join(format!("vbox-find-{}", uuid::Uuid::new_v4()));
        let d2 = d1.join("other");
        std::fs::create_dir_all(&d2).unwrap();
        for d in [&d1, &d2] {
            let p = d.join("VBoxManage");
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        let path = std::ffi::OsString::from(d2.as_os_str());
        let install = vec![format!("/nonexistent;{}", d1.display())];
        assert_eq!(
            find_in(install.into_iter(), &path),
            Some(d1.join("VBoxManage"))
        );
        assert_eq!(
            find_in(std::iter::empty(), &path),
            Some(d2.join("VBoxManage"))
        );
        assert_eq!(
            find_in(std::iter::empty(), std::ffi::OsStr::new("/nonexistent")),
            None
        );
        std::fs::remove_dir_all(&d1).unwrap();
    }

    #[tokio::test]
    async fn errors_and_retries() {
        let f = FakeDriver::new();
        f.register("vm");
        f.fail_on(
            "startvm",
            "VBoxManage: error: VBOX_E_INVALID_OBJECT_STATE busy",
            2,
        );
        f.vboxmanage(&args(["startvm", "vm"])).await.unwrap();
        assert_eq!(f.calls_of("startvm").len(), 3);
        f.fail_on("import", "VBoxManage: error: no such file", 1);
        let e = f.import("vm", "/x.ova", &[]).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "VBoxManage error: VBoxManage: error: no such file"
        );
        assert_eq!(
            f.calls_of("import")[0],
            args(["import", "/x.ova", "--vsys", "0", "--vmname", "vm"])
        );
    }

    #[tokio::test]
    async fn queries() {
        let f = FakeDriver::new();
        f.register("vm");
        assert!(!f.is_running("vm").await.unwrap());
        f.vboxmanage(&args(["startvm", "vm", "--type", "headless"]))
            .await
            .unwrap();
        assert!(f.is_running("vm").await.unwrap());
        f.stop("vm").await.unwrap();
        assert!(!f.is_running("vm").await.unwrap());
        assert_eq!(f.version().await.unwrap(), "7.0.20");
        assert_eq!(
            f.iso().await.unwrap(),
            "/usr/share/virtualbox/VBoxGuestAdditions.iso"
        );
    }
}
