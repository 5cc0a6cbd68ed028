//! CD and floppy media made in-process, placed as Packer's `StepCreateCD` and
//! `StepCreateFloppy` place them.
//!
//! - `cd_files`: a file goes to the root by its base name; a directory `d` goes to the root as
//!   `d/…`, and `d/` (trailing slash) puts its contents at the root. Globs are expanded as Go's
//!   `filepath.Glob` does when the config is prepared. `cd_content` entries are written after,
//!   at their relative paths, and win. The image is ISO 9660 with Rock Ridge and Joliet, its
//!   volume label `cd_label` (default `packer`).
//! - floppy: a 1.44 MB FAT12 image labelled `floppy_label` (default `packer`). `floppy_files`
//!   are copied flatly to the root by base name (a directory there contributes every file
//!   under it, flattened); `floppy_dirs` entries are copied recursively with their own
//!   directory name; `floppy_content` entries land at the root by base name (Packer's
//!   behaviour: the directory part of the key is dropped).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Size of a 1.44 MB floppy image in bytes.
pub const FLOPPY_SIZE: u64 = 1440 * 1024;

/// A media error, worded as Packer words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaError(pub String);

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MediaError {}

type Result<T> = std::result::Result<T, MediaError>;

/// `cd_files`, `cd_content`, `cd_label`.
#[derive(Debug, Clone, Default)]
pub struct CdConfig {
    /// `cd_files` (globs expanded by `prepare`).
    pub files: Vec<String>,
    /// `cd_content`: path in the image to content.
    pub content: BTreeMap<String, String>,
    /// `cd_label`.
    pub label: String,
}

impl CdConfig {
    /// No CD is made when there is nothing to put on it.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.content.is_empty()
    }

    /// Packer's prepare step: expands globs in `files` in place and returns the
    /// `Bad CD disk file '…': …` errors for entries that cannot be read.
    pub fn prepare(&mut self) -> Vec<MediaError> {
        let mut errs = Vec::new();
        let mut files = Vec::new();
        for p in &self.files {
            if has_glob_magic(p) {
                match go_glob(p) {
                    Ok(m) => files.extend(m),
                    Err(e) => errs.push(MediaError(format!("Bad CD disk file '{p}': {e}"))),
                }
            } else {
                if let Err(e) = std::fs::metadata(p) {
                    errs.push(MediaError(format!(
                        "Bad CD disk file '{p}': {}",
                        go_path_err("stat", p, &e)
                    )));
                }
                files.push(p.clone());
            }
        }
        self.files = files;
        errs
    }
}

/// `floppy_files`, `floppy_dirs`, `floppy_content`, `floppy_label`.
#[derive(Debug, Clone, Default)]
pub struct FloppyConfig {
    /// `floppy_files`.
    pub files: Vec<String>,
    /// `floppy_dirs`.
    pub dirs: Vec<String>,
    /// `floppy_content`: path in the image to content.
    pub content: BTreeMap<String, String>,
    /// `floppy_label`.
    pub label: String,
}

impl FloppyConfig {
    /// No floppy is made when there is nothing to put on it.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty() && self.content.is_empty()
    }

    /// Packer's prepare checks: `Bad Floppy disk file '…': …` and
    /// `Bad Floppy disk directory '…': …`.
    pub fn prepare(&self) -> Vec<MediaError> {
        let mut errs = Vec::new();
        for (list, what) in [(&self.files, "file"), (&self.dirs, "directory")] {
            for p in list {
                let err = if has_glob_magic(p) {
                    go_glob(p).err()
                } else {
                    std::fs::metadata(p)
                        .err()
                        .map(|e| go_path_err("stat", p, &e))
                };
                if let Some(e) = err {
                    errs.push(MediaError(format!("Bad Floppy disk {what} '{p}': {e}")));
                }
            }
        }
        errs
    }
}

/// A directory tree held in memory before it is written to an image.
#[derive(Debug, Default)]
struct Tree(BTreeMap<String, Node>);

#[derive(Debug)]
enum Node {
    File(Vec<u8>),
    Dir(Tree),
}

impl Tree {
    /// The directory at `comps`, created as needed.
    fn dir_mut(&mut self, comps: &[String]) -> Result<&mut Tree> {
        let mut cur = self;
        for c in comps {
            let node = cur
                .0
                .entry(c.clone())
                .or_insert_with(|| Node::Dir(Tree::default()));
            cur = match node {
                Node::Dir(t) => t,
                Node::File(_) => {
                    return Err(MediaError(format!(
                        "cannot make directory {}: a file has that name",
                        comps.join("/")
                    )))
                }
            };
        }
        Ok(cur)
    }

    fn put_file(&mut self, dir: &[String], name: &str, data: Vec<u8>) -> Result<()> {
        let d = self.dir_mut(dir)?;
        if let Some(Node::Dir(_)) = d.0.get(name) {
            return Err(MediaError(format!(
                "cannot write file {name}: a directory has that name"
            )));
        }
        d.0.insert(name.to_string(), Node::File(data));
        Ok(())
    }
}

/// Builds the ISO for `cfg` (whose `files` were already expanded by [`CdConfig::prepare`]) at
/// `dest`.
pub fn create_cd(cfg: &CdConfig, dest: &Path) -> Result<()> {
    let wrap = |e: MediaError| MediaError(format!("Error creating temporary file for CD: {e}"));
    let mut tree = Tree::default();
    for src in &cfg.files {
        // Globs left unexpanded (no `prepare`) are expanded here.
        if has_glob_magic(src) && std::fs::symlink_metadata(src).is_err() {
            for m in go_glob(src).unwrap_or_default() {
                cd_add_file(&mut tree, &m).map_err(wrap)?;
            }
            continue;
        }
        cd_add_file(&mut tree, src).map_err(wrap)?;
    }
    for (path, content) in &cfg.content {
        let comps = relative_components(path)
            .map_err(|e| wrap(MediaError(format!("Error writing file {path} on CD: {e}"))))?;
        let Some((name, dir)) = comps.split_last() else {
            return Err(wrap(MediaError(format!(
                "Error writing file {path} on CD: empty path"
            ))));
        };
        tree.put_file(dir, name, content.as_bytes().to_vec())
            .map_err(wrap)?;
    }
    let label = if cfg.label.is_empty() {
        "packer"
    } else {
        &cfg.label
    };
    write_iso(tree, label, dest)
}

fn cd_add_file(tree: &mut Tree, src: &str) -> Result<()> {
    let md = std::fs::metadata(src).map_err(|e| {
        MediaError(format!(
            "Error adding path to CD: {}",
            go_path_err("stat", src, &e)
        ))
    })?;
    if !md.is_dir() {
        let data = std::fs::read(src)
            .map_err(|_| MediaError(format!("Error copying {src} to CD root")))?;
        tree.put_file(&[], &base_name(src), data)?;
        return Ok(());
    }
    // `dir` keeps its name; `dir/`, `.` and `..` give their contents.
    let base = base_name(src);
    let dir = if src.ends_with('/') || base == "." || base == ".." || base == "/" {
        Vec::new()
    } else {
        vec![base]
    };
    tree.dir_mut(&dir)?;
    copy_dir_into(tree, Path::new(src), &dir, 0)
}

/// Copies the directory `src` recursively into `tree` at `at`.
fn copy_dir_into(tree: &mut Tree, src: &Path, at: &[String], depth: usize) -> Result<()> {
    if depth > 64 {
        return Err(MediaError(format!(
            "{}: directories nested too deep",
            src.display()
        )));
    }
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .map_err(|e| MediaError(go_path_err("open", &src.display().to_string(), &e)))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| MediaError(go_path_err("readdir", &src.display().to_string(), &e)))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        let md = std::fs::metadata(&p)
            .map_err(|err| MediaError(go_path_err("stat", &p.display().to_string(), &err)))?;
        let mut sub = at.to_vec();
        sub.push(name.clone());
        if md.is_dir() {
            tree.dir_mut(&sub)?;
            copy_dir_into(tree, &p, &sub, depth + 1)?;
        } else {
            let data = std::fs::read(&p)
                .map_err(|err| MediaError(go_path_err("read", &p.display().to_string(), &err)))?;
            tree.put_file(at, &name, data)?;
        }
    }
    Ok(())
}

fn to_iso_entries(tree: Tree) -> Vec<hadris_iso::write::InputEntry> {
    use hadris_iso::write::InputEntry;
    tree.0
        .into_iter()
        .map(|(name, node)| match node {
            Node::File(data) => InputEntry::file(name, data),
            Node::Dir(t) => InputEntry::directory(name, to_iso_entries(t)),
        })
        .collect()
}

fn write_iso(tree: Tree, label: &str, dest: &Path) -> Result<()> {
    use hadris_iso::joliet::JolietLevel;
    use hadris_iso::read::PathSeparator;
    use hadris_iso::rrip::RripOptions;
    use hadris_iso::write::options::{BaseIsoLevel, CreationFeatures, IsoFormatOptions};
    use hadris_iso::write::{InputTree, IsoImageWriter};

    let input = InputTree::new(PathSeparator::ForwardSlash, to_iso_entries(tree));
    // ISO 9660 volume identifiers hold 32 bytes.
    let mut volume_name = label.to_string();
    if volume_name.len() > 32 {
        let mut cut = 32;
        while !volume_name.is_char_boundary(cut) {
            cut -= 1;
        }
        volume_name.truncate(cut);
        tracing::warn!("cd_label {label:?} is longer than 32 bytes; using {volume_name:?}");
    }
    let options = IsoFormatOptions {
        volume_name,
        system_id: None,
        volume_set_id: None,
        publisher_id: None,
        preparer_id: None,
        application_id: Some("FORGE".to_string()),
        sector_size: 2048,
        path_separator: PathSeparator::ForwardSlash,
        strict_charset: false,
        features: CreationFeatures {
            filenames: BaseIsoLevel::Level2 {
                supports_lowercase: false,
                supports_rrip: true,
            },
            long_filenames: false,
            joliet: Some(JolietLevel::Level3),
            rock_ridge: Some(RripOptions::default()),
            el_torito: None,
            hybrid_boot: None,
        },
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dest)
        .map_err(|e| {
            MediaError(format!(
                "Error creating temporary file for CD: {}",
                go_path_err("open", &dest.display().to_string(), &e)
            ))
        })?;
    let mut file = IsoImageWriter::create(file, input, options)
        .map_err(|e| MediaError(format!("Error creating CD image {}: {e}", dest.display())))?;
    file.flush()
        .map_err(|e| MediaError(format!("Error writing CD image {}: {e}", dest.display())))?;
    Ok(())
}

/// Builds the floppy image for `cfg` at `dest`.
pub fn create_floppy(cfg: &FloppyConfig, dest: &Path) -> Result<()> {
    let mut tree = Tree::default();

    // floppy_files: flat, by base name.
    for pat in &cfg.files {
        let names = if has_glob_magic(pat) {
            go_glob(pat).unwrap_or_default()
        } else {
            vec![pat.clone()]
        };
        for f in names {
            let md = std::fs::metadata(&f).map_err(|e| {
                MediaError(format!(
                    "Error trying to stat : {f} : {}",
                    go_path_err("stat", &f, &e)
                ))
            })?;
            let added = if md.is_dir() {
                let mut files = Vec::new();
                walk_files(Path::new(&f), &mut files, 0).and_then(|()| {
                    files.into_iter().try_for_each(|p| {
                        let data = std::fs::read(&p).map_err(|e| {
                            MediaError(go_path_err("read", &p.display().to_string(), &e))
                        })?;
                        tree.put_file(&[], &base_name(&p.to_string_lossy()), data)
                    })
                })
            } else {
                std::fs::read(&f)
                    .map_err(|e| MediaError(go_path_err("read", &f, &e)))
                    .and_then(|data| tree.put_file(&[], &base_name(&f), data))
            };
            added.map_err(|e| {
                MediaError(format!("Error adding file from floppy_files : {f} : {e}"))
            })?;
        }
    }

    // floppy_dirs: recursively, each directory under its own name.
    let mut queue = Vec::new();
    for pat in &cfg.dirs {
        if has_glob_magic(pat) {
            queue.extend(
                go_glob(pat)
                    .map_err(|e| MediaError(format!("Error adding path {pat} to floppy: {e}")))?,
            );
        } else {
            queue.push(pat.clone());
        }
    }
    for src in &queue {
        floppy_add_dir(&mut tree, src)
            .map_err(|e| MediaError(format!("Error adding path {src} to floppy: {e}")))?;
    }

    // floppy_content: by base name at the root.
    for (path, content) in &cfg.content {
        let name = base_name(path);
        if name.is_empty() || name == "." || name == ".." || name == "/" {
            return Err(MediaError(format!(
                "Error creating file for floppy: Error writing file {path} on floppy: not a file name"
            )));
        }
        tree.put_file(&[], &name, content.as_bytes().to_vec())
            .map_err(|e| MediaError(format!("Error creating file for floppy: {e}")))?;
    }

    let label = if cfg.label.is_empty() {
        "packer"
    } else {
        &cfg.label
    };
    write_fat12(tree, label, dest)
}

fn floppy_add_dir(tree: &mut Tree, src: &str) -> Result<()> {
    let md = std::fs::metadata(src).map_err(|e| {
        MediaError(format!(
            "Error adding path to floppy: {}",
            go_path_err("stat", src, &e)
        ))
    })?;
    if !md.is_dir() {
        let data = std::fs::read(src).map_err(|e| MediaError(go_path_err("read", src, &e)))?;
        return tree.put_file(&[], &base_name(src), data);
    }
    // Packer places the directory relative to its parent: under its own (absolute) name.
    let abs = std::path::absolute(src).unwrap_or_else(|_| PathBuf::from(src));
    let at: Vec<String> = clean_path(&abs)
        .file_name()
        .map(|n| vec![n.to_string_lossy().into_owned()])
        .unwrap_or_default();
    tree.dir_mut(&at)?;
    copy_dir_into(tree, Path::new(src), &at, 0)
}

/// Every non-directory under `dir`, in walk order.
fn walk_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<()> {
    if depth > 64 {
        return Err(MediaError(format!(
            "{}: directories nested too deep",
            dir.display()
        )));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| MediaError(go_path_err("open", &dir.display().to_string(), &e)))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if std::fs::metadata(&p).map(|m| m.is_dir()).unwrap_or(false) {
            walk_files(&p, out, depth + 1)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn write_fat12(tree: Tree, label: &str, dest: &Path) -> Result<()> {
    let err = |e: std::io::Error| MediaError(format!("Error creating floppy: {e}"));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dest)
        .map_err(|e| {
            MediaError(format!(
                "Error creating temporary file for floppy: {}",
                go_path_err("open", &dest.display().to_string(), &e)
            ))
        })?;
    file.set_len(FLOPPY_SIZE).map_err(err)?;
    let mut vol_label = [b' '; 11];
    for (d, s) in vol_label.iter_mut().zip(label.bytes()) {
        *d = s;
    }
    let opts = fatfs::FormatVolumeOptions::new()
        .fat_type(fatfs::FatType::Fat12)
        .total_sectors((FLOPPY_SIZE / 512) as u32)
        .bytes_per_sector(512)
        .bytes_per_cluster(512)
        .max_root_dir_entries(224)
        .fats(2)
        .media(0xF0)
        .sectors_per_track(18)
        .heads(2)
        .drive_num(0)
        .volume_label(vol_label);
    fatfs::format_volume(&mut file, opts).map_err(err)?;
    file.seek(SeekFrom::Start(0)).map_err(err)?;
    let fs = fatfs::FileSystem::new(&mut file, fatfs::FsOptions::new()).map_err(err)?;
    write_fat_dir(&fs.root_dir(), tree)?;
    fs.unmount().map_err(err)?;
    Ok(())
}

fn write_fat_dir<T: fatfs::ReadWriteSeek>(dir: &fatfs::Dir<'_, T>, tree: Tree) -> Result<()> {
    for (name, node) in tree.0 {
        match node {
            Node::File(data) => {
                let mut f = dir
                    .create_file(&name)
                    .map_err(|e| MediaError(format!("Error adding {name} to floppy: {e}")))?;
                f.truncate()
                    .and_then(|()| f.write_all(&data))
                    .and_then(|()| f.flush())
                    .map_err(|e| {
                        let why = if e.kind() == std::io::ErrorKind::UnexpectedEof
                            || e.to_string().contains("space")
                        {
                            "no space left on the 1.44 MB floppy".to_string()
                        } else {
                            e.to_string()
                        };
                        MediaError(format!("Error writing {name} on floppy: {why}"))
                    })?;
            }
            Node::Dir(t) => {
                let d = dir.create_dir(&name).map_err(|e| {
                    MediaError(format!("Error adding directory {name} to floppy: {e}"))
                })?;
                write_fat_dir(&d, t)?;
            }
        }
    }
    Ok(())
}

/// The last slash-separated element of `p`, as Go's `filepath.Base`.
fn base_name(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Lexically cleans a path (no `.`, resolves `..`), like Go's `filepath.Clean`.
fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The components of a relative path inside the image; `..` that would leave it is refused.
fn relative_components(p: &str) -> std::result::Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err("path leaves the image root".into());
                }
            }
            c => out.push(c.to_string()),
        }
    }
    Ok(out)
}

/// Go's wording of an `*os.PathError`: `stat x: no such file or directory`.
pub(crate) fn go_path_err(op: &str, path: &str, e: &std::io::Error) -> String {
    format!("{op} {path}: {}", go_errno_text(e))
}

/// The errno text Go prints (lowercase, no `(os error N)`).
pub(crate) fn go_errno_text(e: &std::io::Error) -> String {
    let s = match e.raw_os_error() {
        Some(code) => {
            let t = std::io::Error::from_raw_os_error(code).to_string();
            match t.rfind(" (os error") {
                Some(i) => t[..i].to_string(),
                None => t,
            }
        }
        None => e.to_string(),
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

fn has_glob_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Go's `filepath.Glob` (forge-core's): matches sorted per directory, nothing for no match,
/// an error only for a malformed pattern.
pub fn go_glob(pattern: &str) -> std::result::Result<Vec<String>, String> {
    forge_core::glob::glob(pattern).map_err(str::to_string)
}

/// Reads every file of an ISO back as `path → bytes` (Rock Ridge names), for checks.
pub fn read_iso_files(path: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    use hadris_iso::read::IsoImage;
    let err = |e: String| MediaError(format!("reading ISO {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let image = IsoImage::open(std::io::BufReader::new(file)).map_err(|e| err(format!("{e:?}")))?;
    let mut raw = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut out = BTreeMap::new();
    let root = image.root_dir();
    let mut stack = vec![(String::new(), root.dir_ref())];
    while let Some((prefix, dref)) = stack.pop() {
        let dir = image.open_dir(dref);
        for entry in dir.entries() {
            let entry = entry.map_err(|e| err(format!("{e:?}")))?;
            if entry.is_special() {
                continue;
            }
            let name = entry.display_name().into_owned();
            let full = format!("{prefix}{name}");
            if entry.is_directory() {
                let h = entry.header();
                let dr = hadris_iso::directory::DirectoryRef {
                    extent: hadris_iso::io::LogicalSector(h.extent.read() as usize),
                    size: h.data_len.read() as usize,
                };
                stack.push((format!("{full}/"), dr));
            } else {
                let h = entry.header();
                let mut data = vec![0u8; h.data_len.read() as usize];
                raw.seek(SeekFrom::Start(h.extent.read() as u64 * 2048))
                    .and_then(|_| raw.read_exact(&mut data))
                    .map_err(|e| err(e.to_string()))?;
                out.insert(full, data);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, data: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    fn s(p: &Path) -> String {
        p.display().to_string()
    }

    /// A source tree: a/File One.TXT, a/sub/deep.cfg, b.txt, c1.ks, c2.ks
    fn fixture() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        write(&t.path().join("a/Long Mixed Case Name.TXT"), "one");
        write(&t.path().join("a/sub/deep.cfg"), "deep");
        write(&t.path().join("b.txt"), "bee");
        write(&t.path().join("c1.ks"), "c1");
        write(&t.path().join("c2.ks"), "c2");
        t
    }

    fn fat_files(img: &Path) -> (String, BTreeMap<String, Vec<u8>>) {
        fn walk<T: fatfs::ReadWriteSeek>(
            d: &fatfs::Dir<'_, T>,
            prefix: &str,
            out: &mut BTreeMap<String, Vec<u8>>,
        ) {
            for e in d.iter() {
                let e = e.unwrap();
                let name = e.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                if e.is_dir() {
                    walk(&e.to_dir(), &format!("{prefix}{name}/"), out);
                } else {
                    let mut v = Vec::new();
                    e.to_file().read_to_end(&mut v).unwrap();
                    out.insert(format!("{prefix}{name}"), v);
                }
            }
        }
        let f = std::fs::File::open(img).unwrap();
        assert_eq!(f.metadata().unwrap().len(), FLOPPY_SIZE);
        let fs = fatfs::FileSystem::new(f, fatfs::FsOptions::new()).unwrap();
        assert_eq!(fs.fat_type(), fatfs::FatType::Fat12);
        let mut out = BTreeMap::new();
        walk(&fs.root_dir(), "", &mut out);
        (fs.volume_label(), out)
    }

    fn names(m: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
        m.keys().map(|k| k.as_str()).collect()
    }

    #[test]
    fn cd_files_dirs_globs_and_content_are_placed_as_packer_does() {
        let t = fixture();
        let mut cfg = CdConfig {
            files: vec![
                s(&t.path().join("a")),
                format!("{}/", s(&t.path().join("a/sub"))),
                s(&t.path().join("b.txt")),
                s(&t.path().join("c*.ks")),
            ],
            content: BTreeMap::from([
                ("meta-data".to_string(), "m".to_string()),
                ("nested/dir/user-data".to_string(), "u".to_string()),
                ("b.txt".to_string(), "content wins".to_string()),
            ]),
            label: "cidata".into(),
        };
        assert!(cfg.prepare().is_empty());
        assert_eq!(cfg.files.len(), 5, "glob expanded: {:?}", cfg.files);
        let img = t.path().join("out.iso");
        create_cd(&cfg, &img).unwrap();
        let files = read_iso_files(&img).unwrap();
        assert_eq!(
            names(&files),
            [
                "a/Long Mixed Case Name.TXT",
                "a/sub/deep.cfg",
                "b.txt",
                "c1.ks",
                "c2.ks",
                "deep.cfg",
                "meta-data",
                "nested/dir/user-data"
            ]
        );
        assert_eq!(files["b.txt"], b"content wins");
        assert_eq!(files["a/sub/deep.cfg"], b"deep");
        assert_eq!(files["nested/dir/user-data"], b"u");
        let label = hadris_iso::read::IsoImage::open(std::fs::File::open(&img).unwrap())
            .unwrap()
            .read_pvd()
            .unwrap()
            .volume_identifier
            .to_str()
            .trim_end()
            .to_string();
        assert_eq!(label.to_lowercase(), "cidata");
        xorriso_check(&img, &files, "cidata");
    }

    /// Reads the image with xorriso (Rock Ridge, then Joliet only) and compares.
    fn xorriso_check(img: &Path, want: &BTreeMap<String, Vec<u8>>, label: &str) {
        let Ok(out) = std::process::Command::new("xorriso")
            .args(["-indev", &s(img), "-pvd_info"])
            .output()
        else {
            panic!("xorriso is needed to check ISO images independently: apt-get install --no-install-recommends xorriso (scripts/test.sh installs it)");
        };
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(&format!("Volume Id    : {label}")), "{text}");
        for (mode, extra) in [
            ("rr", &["-rockridge", "on"][..]),
            ("joliet", &["-rockridge", "off", "-joliet", "on"][..]),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("x");
            let mut cmd = std::process::Command::new("xorriso");
            cmd.args(extra).args([
                "-osirrox",
                "on",
                "-indev",
                &s(img),
                "-extract",
                "/",
                &s(&dest),
            ]);
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{mode}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for (name, data) in want {
                let got = std::fs::read(dest.join(name))
                    .unwrap_or_else(|e| panic!("{mode}: {name}: {e}"));
                assert_eq!(&got, data, "{mode}: {name}");
            }
        }
    }

    #[test]
    fn cd_long_names_and_long_label() {
        let t = tempfile::tempdir().unwrap();
        let long = format!("{}-Mixed.Case.cfg", "a".repeat(90));
        write(&t.path().join("d/empty/.keep"), "");
        let cfg = CdConfig {
            files: vec![s(&t.path().join("d"))],
            content: BTreeMap::from([(long.clone(), "x".to_string())]),
            label: "a-label-longer-than-thirty-two-characters".into(),
        };
        let img = t.path().join("l.iso");
        create_cd(&cfg, &img).unwrap();
        let files = read_iso_files(&img).unwrap();
        assert_eq!(names(&files), [long.as_str(), "d/empty/.keep"]);
    }

    #[test]
    fn cd_missing_file_errors_as_packer() {
        let t = tempfile::tempdir().unwrap();
        let missing = s(&t.path().join("nope.txt"));
        let mut cfg = CdConfig {
            files: vec![missing.clone()],
            ..Default::default()
        };
        let errs = cfg.prepare();
        assert_eq!(
            errs[0].to_string(),
            format!("Bad CD disk file '{missing}': stat {missing}: no such file or directory")
        );
        let e = create_cd(&cfg, &t.path().join("x.iso")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error creating temporary file for CD: Error adding path to CD: stat {missing}: no such file or directory")
        );
    }

    #[test]
    fn floppy_files_dirs_and_content_are_placed_as_packer_does() {
        let t = fixture();
        let cfg = FloppyConfig {
            files: vec![
                s(&t.path().join("b.txt")),
                s(&t.path().join("a")),
                s(&t.path().join("c?.ks")),
            ],
            dirs: vec![s(&t.path().join("a"))],
            content: BTreeMap::from([
                ("user-data".to_string(), "u".to_string()),
                ("sub/meta-data".to_string(), "m".to_string()),
            ]),
            label: String::new(),
        };
        assert!(cfg.prepare().is_empty());
        let img = t.path().join("floppy.img");
        create_floppy(&cfg, &img).unwrap();
        let (label, files) = fat_files(&img);
        assert_eq!(label, "packer");
        assert_eq!(
            names(&files),
            [
                "Long Mixed Case Name.TXT",
                "a/Long Mixed Case Name.TXT",
                "a/sub/deep.cfg",
                "b.txt",
                "c1.ks",
                "c2.ks",
                "deep.cfg",
                "meta-data",
                "user-data"
            ]
        );
        assert_eq!(files["a/sub/deep.cfg"], b"deep");
        assert_eq!(files["meta-data"], b"m");
    }

    #[test]
    fn floppy_missing_paths_error_as_packer() {
        let t = tempfile::tempdir().unwrap();
        let missing = s(&t.path().join("gone"));
        let cfg = FloppyConfig {
            files: vec![missing.clone()],
            dirs: vec![missing.clone()],
            ..Default::default()
        };
        let errs: Vec<String> = cfg.prepare().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errs,
            [
                format!("Bad Floppy disk file '{missing}': stat {missing}: no such file or directory"),
                format!("Bad Floppy disk directory '{missing}': stat {missing}: no such file or directory"),
            ]
        );
        let e = create_floppy(&cfg, &t.path().join("f.img")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error trying to stat : {missing} : stat {missing}: no such file or directory")
        );
        let cfg = FloppyConfig {
            dirs: vec![missing.clone()],
            ..Default::default()
        };
        let e = create_floppy(&cfg, &t.path().join("f.img")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error adding path {missing} to floppy: Error adding path to floppy: stat {missing}: no such file or directory")
        );
    }

    #[test]
    fn floppy_too_full_is_an_error_not_a_panic() {
        let t = tempfile::tempdir().unwrap();
        let big = t.path().join("big.bin");
        std::fs::write(&big, vec![7u8; 2 * 1024 * 1024]).unwrap();
        let cfg = FloppyConfig {
            files: vec![s(&big)],
            label: "lbl".into(),
            ..Default::default()
        };
        let e = create_floppy(&cfg, &t.path().join("f.img")).unwrap_err();
        assert!(e.to_string().contains("big.bin"), "{e}");
    }

    #[test]
    fn go_glob_matches_as_go() {
        let t = fixture();
        let got = go_glob(&format!("{}/*/*.cfg", s(t.path()))).unwrap();
        assert!(got.is_empty(), "{got:?}");
        let got = go_glob(&format!("{}/*/sub/*.cfg", s(t.path()))).unwrap();
        assert_eq!(got, [format!("{}/a/sub/deep.cfg", s(t.path()))]);
        assert!(go_glob(&format!("{}/[", s(t.path()))).is_err());
    }
}
