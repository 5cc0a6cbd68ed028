//! StepExport (`export`): the VM's disks (and, with `image_files`, its other files) fetched
//! over an NFC export lease into `output_directory`, its OVF descriptor from the OvfManager, a
//! manifest in Packer's format (`SHA256(golden.ovf)= <hex>`), and with `output_format = "ova"`
//! all of them in one tar archive (descriptor first, then the manifest, then the files in the
//! descriptor's order, as DSP0243 asks). Every file, and the directory when the step makes it,
//! is journaled before it exists and removed again when the build fails or is interrupted; an
//! open lease is then aborted.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};
use sha1::Digest;

use super::config_export::{Export, Manifest};
use super::State;
use crate::client::Client;
use crate::nfc::{DescriptorParams, DeviceUrl, OvfFile, Progress};
use crate::soap::Moref;

pub(super) struct StepExport {
    pub export: Export,
    /// The lease while it is open.
    lease: Option<Moref>,
    /// What the step made, removed on failure.
    made: Vec<TempPath>,
    /// The output directory, when the step made it.
    dir: Option<TempPath>,
}

impl StepExport {
    pub fn new(export: Export) -> StepExport {
        StepExport {
            export,
            lease: None,
            made: Vec::new(),
            dir: None,
        }
    }
}

/// A running hash for the manifest.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(m: Manifest) -> Option<Hasher> {
        match m {
            Manifest::None => None,
            Manifest::Sha1 => Some(Hasher::Sha1(sha1::Sha1::new())),
            Manifest::Sha256 => Some(Hasher::Sha256(sha2::Sha256::new())),
            Manifest::Sha512 => Some(Hasher::Sha512(sha2::Sha512::new())),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One manifest line, as Packer writes it: `SHA256(name)= hex`.
pub fn manifest_line(m: Manifest, file: &str, hex: &str) -> String {
    format!("{}({file})= {hex}\n", m.label())
}

/// The file name an item is exported as: `<name>-<targetId>` unless it already starts with
/// the name.
pub fn export_name(name: &str, target_id: &str) -> String {
    if target_id.starts_with(name) {
        target_id.to_string()
    } else {
        format!("{name}-{target_id}")
    }
}

/// Whether a lease item is exported: disks always, other files with `image_files`.
fn include(d: &DeviceUrl, image_files: bool) -> bool {
    image_files
        || Path::new(&d.target_id)
            .extension()
            .is_some_and(|e| e == "vmdk")
}

impl StepExport {
    fn journal_file(&mut self, ctx: &BuildCtx, path: &Path) -> Result<()> {
        self.made.push(track(ctx, path, false)?);
        Ok(())
    }

    async fn export(&mut self, ctx: &BuildCtx, client: &Client, vm: &Moref) -> Result<Vec<String>> {
        let x = self.export.clone();
        let dir = x.output_dir.clone();
        if !dir.is_dir() {
            self.dir = Some(track(ctx, &dir, true)?);
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::msg(format!("unable to make directory for export: {e}")))?;
        }
        ctx.ui.message("Starting export...");
        let lease_ref = client
            .export_vm(vm)
            .await
            .map_err(|e| Error::msg(format!("error exporting vm: {e}")))?;
        self.lease = Some(lease_ref.clone());
        let lease = client.wait_lease(&lease_ref).await?;
        if !x.options.is_empty() {
            let known = client.ovf_export_options().await?;
            let unknown: Vec<&str> = x
                .options
                .iter()
                .filter(|o| !known.contains(o))
                .map(String::as_str)
                .collect();
            // vCenter ignores unknown options; Packer only reports them.
            if !unknown.is_empty() {
                ctx.ui
                    .error(&format!("unknown export options {}", unknown.join(",")));
            }
        }
        let mut manifest = String::new();
        let mut params = DescriptorParams {
            files: Vec::new(),
            name: x.name.clone(),
            options: x.options.clone(),
        };
        let mut progress = Progress {
            lease: lease_ref.clone(),
            done: 0,
            total_kb: lease.total_kb,
        };
        for d in lease.devices.iter().filter(|d| include(d, x.image_files)) {
            let file = export_name(&x.name, &d.target_id);
            let path = dir.join(&file);
            ctx.ui.message(&format!("Downloading: {file}"));
            self.journal_file(ctx, &path)?;
            let mut out = tokio::fs::File::create(&path)
                .await
                .map_err(|e| Error::msg(format!("creating {}: {e}", path.display())))?;
            let mut h = Hasher::new(x.manifest);
            let mut sink = |b: &[u8]| {
                if let Some(h) = h.as_mut() {
                    h.update(b)
                }
            };
            let size = client
                .download_device(d, &mut out, &mut sink, &progress)
                .await?;
            progress.done += size;
            if let Some(h) = h {
                manifest.push_str(&manifest_line(x.manifest, &file, &h.hex()));
            }
            ctx.ui.message(&format!("Exporting file: {file}"));
            params.files.push(OvfFile {
                device_id: d.key.clone(),
                path: file,
                size,
            });
        }
        client
            .lease_complete(&lease_ref)
            .await
            .map_err(|e| Error::msg(format!("unable to complete lease: {e}")))?;
        self.lease = None;
        let desc = client
            .create_descriptor(vm, &params)
            .await
            .map_err(|e| Error::msg(format!("unable to create descriptor: {e}")))?;
        let ovf_name = format!("{}.ovf", x.name);
        let ovf = dir.join(&ovf_name);
        ctx.ui.message("Writing ovf...");
        self.journal_file(ctx, &ovf)?;
        std::fs::write(&ovf, desc.as_bytes()).map_err(|e| {
            Error::msg(format!("unable to write descriptor {}: {e}", ovf.display()))
        })?;
        let mut names = vec![ovf_name.clone()];
        if let Some(mut h) = Hasher::new(x.manifest) {
            ctx.ui.message("Creating manifest...");
            h.update(desc.as_bytes());
            manifest.push_str(&manifest_line(x.manifest, &ovf_name, &h.hex()));
            let mf_name = format!("{}.mf", x.name);
            let mf = dir.join(&mf_name);
            self.journal_file(ctx, &mf)?;
            std::fs::write(&mf, manifest.as_bytes()).map_err(|e| {
                Error::msg(format!("unable to write manifest {}: {e}", mf.display()))
            })?;
            names.push(mf_name);
        }
        names.extend(params.files.iter().map(|f| f.path.clone()));
        if x.ova {
            let ova = x.target();
            ctx.ui.message(&format!("Writing {}...", ova.display()));
            self.journal_file(ctx, &ova)?;
            write_ova(&ova, &dir, &names)?;
            // The loose files were only the archive's parts.
            for n in &names {
                let _ = std::fs::remove_file(dir.join(n));
            }
            names = vec![format!("{}.ova", x.name)];
        }
        ctx.ui.message("Finished exporting...");
        Ok(names
            .iter()
            .map(|n| dir.join(n).display().to_string())
            .collect())
    }
}

/// Writes `names` (in `dir`) into the tar archive `ova`, in that order.
pub fn write_ova(ova: &Path, dir: &Path, names: &[String]) -> Result<()> {
    let err = |e: std::io::Error| Error::msg(format!("writing {}: {e}", ova.display()));
    let f = std::fs::File::create(ova).map_err(err)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(f));
    tar.mode(tar::HeaderMode::Deterministic);
    for n in names {
        let p: PathBuf = dir.join(n);
        tar.append_path_with_name(&p, n).map_err(err)?;
    }
    tar.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(err)
}

#[async_trait]
impl Step<State> for StepExport {
    fn name(&self) -> &'static str {
        "StepExport"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let client = st.client()?;
        let vm = st.vm()?;
        let files = tokio::select! {
            r = self.export(ctx, &client, &vm) => r?,
            _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
        };
        st.export_files = files;
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        if let Some(lease) = self.lease.take() {
            if let Ok(client) = st.client() {
                if let Err(e) = client.lease_abort(&lease).await {
                    ctx.ui
                        .error(&format!("aborting export lease {}: {e}", lease.value));
                }
            }
        }
        let failed = o.halted || o.cancelled;
        if failed && (!self.made.is_empty() || self.dir.is_some()) {
            ctx.ui.say("Removing the partial export...");
        }
        for f in self.made.drain(..).rev() {
            if failed {
                drop(f);
            } else {
                f.persist();
            }
        }
        if let Some(d) = self.dir.take() {
            if failed {
                drop(d);
            } else {
                d.persist();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lines_as_packer_writes_them() {
        assert_eq!(
            manifest_line(Manifest::Sha256, "golden.ovf", "ab01"),
            "SHA256(golden.ovf)= ab01\n"
        );
        let mut h = Hasher::new(Manifest::Sha1).unwrap();
        h.update(b"abc");
        assert_eq!(h.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert!(Hasher::new(Manifest::None).is_none());
    }

    #[test]
    fn names_get_the_export_name_once() {
        assert_eq!(export_name("golden", "disk-0.vmdk"), "golden-disk-0.vmdk");
        assert_eq!(export_name("golden", "golden.nvram"), "golden.nvram");
    }

    #[test]
    fn ova_keeps_the_order() {
        let t = tempfile::tempdir().unwrap();
        let names: Vec<String> = ["g.ovf", "g.mf", "g-disk-0.vmdk"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        for n in &names {
            std::fs::write(t.path().join(n), n.as_bytes()).unwrap();
        }
        let ova = t.path().join("g.ova");
        write_ova(&ova, t.path(), &names).unwrap();
        let mut a = tar::Archive::new(std::fs::File::open(&ova).unwrap());
        let got: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(got, names);
    }
}

#[cfg(test)]
#[path = "step_export_fake.rs"]
mod fake;
