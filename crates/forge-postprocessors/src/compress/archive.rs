//! Putting the input files into the compressed stream: a GNU tar of base names (Packer's
//! headers: file mode, owner, zero times), a zip of paths, or the one file as it is.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use tokio_util::sync::CancellationToken;

/// Reads a file for the archive: counts progress, stops on cancellation, and fails when the
/// file ends before the size its header announced.
pub(crate) struct Source<'a> {
    file: File,
    remaining: u64,
    progress: &'a dyn Fn(u64),
    cancel: Option<&'a CancellationToken>,
}

/// The error text a cancelled read carries.
pub(crate) const CANCELLED: &str = "compression cancelled";

impl<'a> Source<'a> {
    pub fn new(
        file: File,
        size: u64,
        progress: &'a dyn Fn(u64),
        cancel: Option<&'a CancellationToken>,
    ) -> Self {
        Source {
            file,
            remaining: size,
            progress,
            cancel,
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(io::Error::other(CANCELLED));
        }
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.file.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "file shrank while being read ({} bytes missing)",
                    self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// Copies `src` into `dst` in large blocks (the compressors work on big chunks).
pub(crate) fn copy(src: &mut dyn Read, dst: &mut dyn Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Owner and group names by id, looked up once each (Go's tar header fills them in).
#[derive(Default)]
pub(crate) struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    pub fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| forge_core::local::user_name(uid))
            .clone()
    }

    pub fn group(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| lookup_group(gid))
            .clone()
    }
}

fn lookup_group(gid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getgrgid_r writes into `grp` and `buf` (whose length we pass) and sets `res` to
    // `&grp` or null; `gr_name` points into `buf`, which outlives its use here.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut res: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut res);
        if rc != 0 || res.is_null() || grp.gr_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(grp.gr_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Opens an input file, with its size (following symlinks, as Go's `os.Open` does).
pub(crate) fn open(path: &str) -> Result<(File, std::fs::Metadata), String> {
    let f = File::open(path).map_err(|e| format!("Unable to read file {path}: {e}"))?;
    let md = f
        .metadata()
        .map_err(|e| format!("Unable to get fileinfo for {path}: {e}"))?;
    if md.is_dir() {
        return Err(format!(
            "Failed to copy {path} data to archive: is a directory"
        ));
    }
    Ok((f, md))
}

/// Writes a GNU tar of `files` (each under its base name) to `out`; returns `out`.
pub(crate) fn tar<W: Write>(
    files: &[String],
    out: W,
    progress: &dyn Fn(u64),
    cancel: Option<&CancellationToken>,
) -> Result<W, String> {
    let mut b = tar::Builder::new(out);
    let mut names = Names::default();
    for path in files {
        let (f, md) = open(path)?;
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| path.into());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(md.len());
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(md.uid() as u64);
        h.set_gid(md.gid() as u64);
        // Packer zeroes the times (reproducible archives, and GCE's import accepts them).
        h.set_mtime(0);
        if let Some(u) = names.user(md.uid()) {
            let _ = h.set_username(&u);
        }
        if let Some(g) = names.group(md.gid()) {
            let _ = h.set_groupname(&g);
        }
        let _ = h.set_device_major(0);
        let _ = h.set_device_minor(0);
        let src = Source::new(f, md.len(), progress, cancel);
        let what = format!("Failed to copy {path} data to archive");
        let raw = name.as_encoded_bytes();
        if raw.len() > 100 {
            // GNU long name: a `././@LongLink` entry holding the name, then the header with
            // the name cut to its field, as Go writes them.
            let mut l = tar::Header::new_gnu();
            l.as_mut_bytes()[..13].copy_from_slice(b"././@LongLink");
            l.set_entry_type(tar::EntryType::GNULongName);
            l.set_mode(0);
            l.set_uid(0);
            l.set_gid(0);
            l.set_mtime(0);
            l.set_size(raw.len() as u64 + 1);
            go_checksum(&mut l);
            let mut data = raw.to_vec();
            data.push(0);
            b.append(&l, &data[..]).map_err(|e| io_err(e, &what))?;
        }
        let n = raw.len().min(100);
        h.as_mut_bytes()[..n].copy_from_slice(&raw[..n]);
        go_checksum(&mut h);
        b.append(&h, src).map_err(|e| io_err(e, &what))?;
    }
    b.into_inner()
        .map_err(|e| io_err(e, "Failed to finish the tar archive"))
}

/// Sets the header checksum as Go's `archive/tar` writes it (six octal digits, NUL, space),
/// so that the archive is byte for byte the one Packer makes.
fn go_checksum(h: &mut tar::Header) {
    let bytes = h.as_mut_bytes();
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
    let field = format!("{:06o}", sum & 0o777777);
    bytes[148..154].copy_from_slice(field.as_bytes());
    bytes[154] = 0;
    bytes[155] = b' ';
}

/// Writes a zip of `files` (each under its path, deflated at `level`) to `out`; returns `out`.
pub(crate) fn zip<W: Write>(
    files: &[String],
    out: W,
    level: Option<u32>,
    progress: &dyn Fn(u64),
    cancel: Option<&CancellationToken>,
) -> Result<W, String> {
    let mut z = zip::ZipWriter::new_stream(out);
    for path in files {
        let (f, md) = open(path)?;
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(level.unwrap_or(6) as i64))
            .large_file(md.len() >= u32::MAX as u64);
        z.start_file(path.as_str(), opts)
            .map_err(|e| format!("Failed to add zip header for {path}: {e}"))?;
        let mut src = Source::new(f, md.len(), progress, cancel);
        copy(&mut src, &mut z)
            .map_err(|e| io_err(e, &format!("Failed to copy {path} data to archive")))?;
    }
    z.finish()
        .map(|s| s.into_inner())
        .map_err(|e| format!("Failed to finish the zip archive: {e}"))
}

/// `what: e`, keeping the cancellation text recognisable.
pub(crate) fn io_err(e: io::Error, what: &str) -> String {
    if e.to_string() == CANCELLED {
        CANCELLED.to_string()
    } else {
        format!("{what}: {e}")
    }
}
