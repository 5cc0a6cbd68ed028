//! The qemu command line: Packer's default arguments (step_run.go), then `qemuargs` merged the
//! way Packer merges them: each row's first word is a flag, the rest joined with no separator is
//! its value, and a flag the user gives replaces every default value of that flag. Packer emits
//! the flags in Go's random map order; forge keeps the defaults' order, then the user's.

use super::config::Config;

/// What the command line depends on besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunInputs {
    /// The forwarded host port for the communicator (none with `communicator = "none"`).
    pub host_port: Option<u16>,
    /// The VNC port (absolute, 5900 + display).
    pub vnc_port: u16,
    /// The disks, in order.
    pub disks: Vec<String>,
    /// The ISO to boot from (not with `disk_image`).
    pub iso: Option<String>,
    /// The cd_files image.
    pub cd: Option<String>,
    /// The floppy image.
    pub floppy: Option<String>,
    /// The VM's copy of the EFI variables.
    pub efivars: Option<String>,
}

/// The default arguments, as (flag, values) in order.
pub fn defaults(c: &Config, r: &RunInputs) -> Vec<(String, Vec<String>)> {
    let a = &c.args;
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut put = |k: &str, v: Vec<String>| out.push((k.to_string(), v));
    put("-name", vec![c.vm_name.clone()]);
    put(
        "-machine",
        vec![if c.accelerator == "none" {
            format!("type={}", c.machine_type)
        } else {
            format!("type={},accel={}", c.machine_type, c.accelerator)
        }],
    );
    if let Some(f) = a.firmware.clone().filter(|f| !f.is_empty()) {
        if !a.use_pflash.unwrap_or(false) {
            put("-bios", vec![f]);
        }
    }
    put(
        "-netdev",
        vec![match r.host_port {
            Some(p) => format!("user,id=user.0,hostfwd=tcp::{p}-:{}", c.guest_port),
            None => "user,id=user.0".into(),
        }],
    );
    put(
        "-vnc",
        vec![format!(
            "{}:{}",
            c.vnc_bind,
            r.vnc_port.saturating_sub(5900)
        )],
    );
    put("-m", vec![format!("{}M", c.memory)]);
    put("-smp", vec![smp(c)]);
    if let Some(m) = a.cpu_model.clone().filter(|m| !m.is_empty()) {
        put("-cpu", vec![m]);
    }
    if let Some(q) = &c.qmp_socket {
        put("-qmp", vec![format!("unix:{q},server,nowait")]);
    }
    if c.efi.is_none() {
        put(
            "-boot",
            vec![if c.disk_image() { "c" } else { "once=d" }.into()],
        );
    }
    if let Some(f) = &r.floppy {
        put("-fda", vec![f.clone()]);
    }
    if !c.headless() {
        match a.display.clone().filter(|d| !d.is_empty() && d != "none") {
            Some(d) => put("-display", vec![d]),
            None if !a.use_default_display.unwrap_or(false) => put("-display", vec!["gtk".into()]),
            None => {}
        }
    }
    if let Some(v) = a.vga.clone().filter(|v| !v.is_empty()) {
        put("-vga", vec![v]);
    }
    let (devices, drives) = devices_and_drives(c, r);
    put("-device", devices);
    put("-drive", drives);
    out
}

/// `-smp` from cpus, sockets, cores and threads (Packer's QemuSMPConfig).
fn smp(c: &Config) -> String {
    let a = &c.args;
    let cpus = a.cpus.unwrap_or(0).max(0);
    let mut parts = vec![];
    parts.push(if cpus > 0 {
        cpus.to_string()
    } else {
        "1".into()
    });
    for (k, v) in [
        ("sockets", a.sockets),
        ("cores", a.cores),
        ("threads", a.threads),
    ] {
        if let Some(n) = v.filter(|n| *n > 0) {
            parts.push(format!("{k}={n}"));
        }
    }
    if cpus <= 0 && parts.len() > 1 {
        parts.remove(0);
    }
    parts.join(",")
}

fn devices_and_drives(c: &Config, r: &RunInputs) -> (Vec<String>, Vec<String>) {
    let mut devices = Vec::new();
    let mut drives = Vec::new();
    let mut scsi = 0;
    for (i, disk) in r.disks.iter().enumerate() {
        let mut d = format!(
            "file={disk},if={},cache={},discard={},format={}",
            c.disk_interface, c.disk_cache, c.disk_discard, c.format
        );
        if c.disk_interface == "virtio-scsi" {
            if scsi == 0 {
                devices.push("virtio-scsi-pci,id=scsi0".to_string());
            }
            devices.push(format!("scsi-hd,bus=scsi0.0,drive=drive{i}"));
            d = format!(
                "if=none,file={disk},id=drive{i},cache={},discard={},format={}",
                c.disk_cache, c.disk_discard, c.format
            );
            scsi += 1;
        }
        if c.detect_zeroes != "off" {
            d = format!("{d},detect-zeroes={}", c.detect_zeroes);
        }
        drives.push(d);
    }
    devices.push(format!("{},netdev=user.0", c.net_device));
    let cds: Vec<&String> = r.iso.iter().chain(r.cd.iter()).collect();
    let iface = c.args.cdrom_interface.clone().unwrap_or_default();
    for (i, cd) in cds.into_iter().enumerate() {
        match iface.as_str() {
            "" => drives.push(format!("file={cd},media=cdrom")),
            "virtio-scsi" => {
                if scsi == 0 {
                    devices.push("virtio-scsi-pci,id=scsi0".to_string());
                }
                drives.push(format!(
                    "file={cd},if=none,index={scsi},id=cdrom{i},media=cdrom"
                ));
                devices.push("virtio-scsi-device".into());
                devices.push(format!("scsi-cd,drive=cdrom{i}"));
                scsi += 1;
            }
            other => drives.push(format!(
                "file={cd},if={other},index={i},id=cdrom{i},media=cdrom"
            )),
        }
    }
    if let Some(f) = c.args.firmware.clone().filter(|f| !f.is_empty()) {
        if c.args.use_pflash.unwrap_or(false) {
            drives.push(format!("file={f},if=pflash,format=raw,readonly=on"));
        }
    }
    if let (Some((code, _)), Some(vars)) = (&c.efi, &r.efivars) {
        drives.push(format!(
            "file={code},if=pflash,unit=0,format=raw,readonly=on"
        ));
        drives.push(format!("file={vars},if=pflash,unit=1,format=raw"));
    }
    (devices, drives)
}

/// Merges the user's rendered `qemuargs` rows into the defaults; the final argv (without the
/// binary).
pub fn merge(
    defaults: Vec<(String, Vec<String>)>,
    user: &[Vec<String>],
    net_device: &str,
) -> Vec<String> {
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    let mut given: Vec<(String, Vec<String>)> = Vec::new();
    for row in user {
        let Some((k, rest)) = row.split_first() else {
            continue;
        };
        let v = rest.concat();
        match given.iter_mut().find(|(gk, _)| gk == k) {
            Some((_, vals)) => {
                if !v.is_empty() {
                    vals.push(v)
                }
            }
            None => given.push((k.clone(), if v.is_empty() { vec![] } else { vec![v] })),
        }
    }
    for (k, v) in defaults {
        match given.iter().position(|(gk, _)| *gk == k) {
            Some(i) => merged.push(given.remove(i)),
            None => merged.push((k, v)),
        }
    }
    merged.extend(given);
    // A user `-device` list without the NIC gets it back.
    if let Some((_, devs)) = merged.iter_mut().find(|(k, _)| k == "-device") {
        if !devs.concat().contains(net_device) {
            devs.push(format!("{net_device},netdev=user.0"));
        }
    }
    let mut argv = Vec::new();
    for (k, vals) in merged {
        if vals.is_empty() {
            argv.push(k);
        } else {
            for v in vals {
                argv.push(k.clone());
                argv.push(v);
            }
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn user_flags_replace_defaults_and_rest_is_joined() {
        let d = vec![
            ("-m".to_string(), vec!["512M".to_string()]),
            (
                "-device".to_string(),
                vec!["virtio-net,netdev=user.0".to_string()],
            ),
            (
                "-drive".to_string(),
                vec!["file=a".to_string(), "file=b".to_string()],
            ),
        ];
        let argv = merge(
            d,
            &[
                row(&["-m", "1024M"]),
                row(&["-drive", "file=x,", "if=virtio"]),
                row(&["-device", "virtio-rng-pci"]),
                row(&["-nographic"]),
                row(&["-kernel", "/k"]),
            ],
            "virtio-net",
        );
        assert_eq!(
            argv,
            row(&[
                "-m",
                "1024M",
                "-device",
                "virtio-rng-pci",
                "-device",
                "virtio-net,netdev=user.0",
                "-drive",
                "file=x,if=virtio",
                "-nographic",
                "-kernel",
                "/k"
            ])
        );
    }
}
