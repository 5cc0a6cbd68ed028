//! ISO download with checksums and a cache, as Packer's `StepDownload` (go-getter) does it.
//!
//! - Sources are tried in order: local paths and `file://` URLs are used in place (no copy)
//!   once their checksum matches; `http(s)://` URLs are downloaded into the cache.
//! - `iso_checksum` forms: `md5:|sha1:|sha256:|sha512:<hex>`, bare hex (type by length),
//!   `file:<url-or-path>` (a GNU `sha256sum` or BSD `SHA256 (x) = …` file, line matched by
//!   the ISO's file name), and `none`.
//! - Cache: `PACKER_CACHE_DIR` (default `./packer_cache`), file `sha1(checksum).<ext>` (or
//!   `sha1(url)` with no checksum). A lock file `<target>.lock` serialises concurrent builds;
//!   data goes to a temporary name and is renamed into place once verified, so a second
//!   build waits, then reuses the file.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha1::Digest;
use tokio_util::sync::CancellationToken;

/// A hash algorithm Packer accepts for `iso_checksum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl HashKind {
    /// The lowercase name used in `type:hex` checksums.
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Md5 => "md5",
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
            HashKind::Sha512 => "sha512",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Some(HashKind::Md5),
            "sha1" => Some(HashKind::Sha1),
            "sha256" => Some(HashKind::Sha256),
            "sha512" => Some(HashKind::Sha512),
            _ => None,
        }
    }

    fn from_len(n: usize) -> Option<Self> {
        match n {
            16 => Some(HashKind::Md5),
            20 => Some(HashKind::Sha1),
            32 => Some(HashKind::Sha256),
            64 => Some(HashKind::Sha512),
            _ => None,
        }
    }

    fn hasher(self) -> Hasher {
        match self {
            HashKind::Md5 => Hasher::Md5(md5::Md5::new()),
            HashKind::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashKind::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashKind::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// A resolved checksum: algorithm and expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// The algorithm.
    pub kind: HashKind,
    /// The expected digest.
    pub value: Vec<u8>,
}

impl fmt::Display for Checksum {
    /// `type:hex`, the form Packer keys its cache on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), hex::encode(&self.value))
    }
}

impl Checksum {
    fn from_type(kind: &str, value: &str) -> Result<Checksum, String> {
        let value = go_hex_decode(value).map_err(|e| format!("invalid checksum: {e}"))?;
        let kind = HashKind::from_name(kind).ok_or(format!("unsupported checksum type: {kind}"))?;
        Ok(Checksum { kind, value })
    }

    fn from_value(value: &str) -> Result<Checksum, String> {
        let bytes = go_hex_decode(value).map_err(|e| format!("invalid checksum: {e}"))?;
        let kind =
            HashKind::from_len(bytes.len()).ok_or(format!("unknown type for checksum {value}"))?;
        Ok(Checksum { kind, value: bytes })
    }
}

/// Hex decoding with Go's `encoding/hex` error wording.
fn go_hex_decode(s: &str) -> Result<Vec<u8>, String> {
    if let Some((_, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "encoding/hex: invalid byte: U+{:04X} {:?}",
            c as u32, c
        ));
    }
    if s.len() % 2 == 1 {
        return Err("encoding/hex: odd length hex string".into());
    }
    hex::decode(s).map_err(|e| e.to_string())
}

/// Errors, worded as Packer (go-getter) words them.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// go-getter's `ChecksumError`.
    #[error("Checksums did not match for {}.\nExpected: {}\nGot: {}\n*{}.digest", file.display(), hex::encode(expected), hex::encode(actual), kind.name())]
    Checksum {
        /// The file checked.
        file: PathBuf,
        /// The algorithm.
        kind: HashKind,
        /// The digest asked for.
        expected: Vec<u8>,
        /// The file's digest.
        actual: Vec<u8>,
    },
    /// The download was cancelled.
    #[error("Download cancelled")]
    Cancelled,
    /// Any other failure with one source, or with the checksum.
    #[error("{0}")]
    Other(String),
    /// Every source failed: `error downloading ISO: [e1 e2]`.
    #[error("error downloading {description}: [{}]", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(" "))]
    AllFailed {
        /// What was downloaded (`ISO`).
        description: String,
        /// Each source's failure, in order.
        errors: Vec<DownloadError>,
    },
}

/// Reports bytes done and the total when known.
pub type Progress = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// A [`Progress`] that drives an indicatif bar.
pub fn progress_bar(pb: indicatif::ProgressBar) -> Progress {
    Arc::new(move |done, total| {
        if let Some(t) = total {
            if pb.length() != Some(t) {
                pb.set_length(t);
            }
        }
        pb.set_position(done);
    })
}

/// Where the cache lives: `PACKER_CACHE_DIR`, else `./packer_cache`, made absolute.
pub fn cache_dir() -> PathBuf {
    let d = std::env::var_os("PACKER_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("packer_cache"));
    std::path::absolute(&d).unwrap_or(d)
}

/// Resolves an `iso_checksum` value as Packer's ISO config does when it is prepared: `None`
/// for `none`; `file:` checksum files are fetched and searched for `first_url`'s file name.
/// Errors read `<why> in "<iso_checksum>"`.
pub fn resolve_checksum(spec: &str, first_url: &str) -> Result<Option<Checksum>, DownloadError> {
    if spec == "none" {
        return Ok(None);
    }
    if spec.is_empty() {
        return Err(DownloadError::Other("A checksum must be specified".into()));
    }
    let parsed = match spec.split_once(':') {
        None => Checksum::from_value(spec),
        Some(("file", file)) => checksum_from_file(file, first_url),
        Some((kind, value)) => Checksum::from_type(kind, value),
    };
    let c = parsed.map_err(|e| DownloadError::Other(format!("{e} in {spec:?}")))?;
    if spec.to_ascii_lowercase().ends_with(".iso") {
        return Err(DownloadError::Other(
            "Error parsing checksum: .iso is not a valid checksum ending".into(),
        ));
    }
    Ok(Some(c))
}

/// A source split into what it is.
enum Source {
    Local(PathBuf),
    Http(String),
}

fn classify(src: &str) -> Result<Source, String> {
    let lower = src.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Source::Http(src.to_string()));
    }
    if lower.starts_with("file://") {
        let rest = &src["file://".len()..];
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        let decoded = percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned();
        // `file://localhost/x` and `file:///x` both name `/x`.
        let path = decoded.strip_prefix("localhost").unwrap_or(&decoded);
        return Ok(Source::Local(PathBuf::from(path)));
    }
    if let Some(i) = src.find("://") {
        if src[..i]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            return Err(format!("download not supported for scheme '{}'", &src[..i]));
        }
    }
    Ok(Source::Local(PathBuf::from(src)))
}

/// The path part of a URL or path, without query.
fn url_path(src: &str) -> String {
    let no_query = src.split(['?', '#']).next().unwrap_or(src);
    match no_query.find("://") {
        Some(i) => {
            let rest = &no_query[i + 3..];
            match rest.find('/') {
                Some(j) => rest[j..].to_string(),
                None => "/".into(),
            }
        }
        None => no_query.to_string(),
    }
}

fn http_agent(url: &str) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(30 * 60)))
        .user_agent(concat!("forge/", env!("CARGO_PKG_VERSION")));
    // A proxy from the environment never applies to loopback.
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?', '#']).next())
        .unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]") {
        cfg = cfg.proxy(None);
    }
    cfg.build().into()
}

fn http_get(agent: &ureq::Agent, url: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
    let resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("bad response code: {status}"));
    }
    Ok(resp)
}

fn checksum_from_file(file: &str, src: &str) -> Result<Checksum, String> {
    let text = match classify(file.strip_prefix("//").unwrap_or(file))? {
        Source::Http(url) => {
            let mut resp = http_get(&http_agent(&url), &url)
                .map_err(|e| format!("Error downloading checksum file: {e}"))?;
            resp.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|e| format!("Error downloading checksum file: {e}"))?
        }
        Source::Local(p) => std::fs::read(&p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| {
                format!(
                    "Error downloading checksum file: {}",
                    crate::media::go_path_err("stat", &p.display().to_string(), &e)
                )
            })?,
    };
    let src_path = url_path(src);
    let filename = src_path.rsplit('/').next().unwrap_or("").to_string();
    let abs = if src.contains("://") && !src.to_ascii_lowercase().starts_with("file://") {
        src_path.clone()
    } else {
        std::path::absolute(&src_path)
            .map(|p| p.display().to_string())
            .unwrap_or(src_path.clone())
    };
    let sum_dir = {
        let p = url_path(file.strip_prefix("//").unwrap_or(file));
        let p = if p.starts_with('/') || file.contains("://") {
            p
        } else {
            std::path::absolute(&p)
                .map(|p| p.display().to_string())
                .unwrap_or(p)
        };
        match p.rfind('/') {
            Some(0) => "/".to_string(),
            Some(i) => p[..i].to_string(),
            None => ".".to_string(),
        }
    };
    let relpath = abs
        .strip_prefix(&format!("{}/", sum_dir.trim_end_matches('/')))
        .map(str::to_string)
        .unwrap_or_default();
    let options = [
        filename.clone(),
        format!("*{filename}"),
        format!("?{filename}"),
        relpath.clone(),
        if relpath.is_empty() {
            String::new()
        } else {
            format!("./{relpath}")
        },
        abs,
    ];
    for line in text.lines() {
        let Some((sum, name)) = parse_checksum_line(line) else {
            continue;
        };
        if name.is_empty() || options.iter().any(|o| !o.is_empty() && *o == name) {
            return Ok(sum);
        }
    }
    Err(format!("no checksum found in: {file}"))
}

/// One line of a checksum file: GNU (`hex  name`), BSD (`TYPE (name) = hex`), or a bare hex.
fn parse_checksum_line(line: &str) -> Option<(Checksum, String)> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.len() {
        0 => None,
        4 => {
            let n = parts[1];
            if n.len() <= 2 || !n.starts_with('(') || !n.ends_with(')') {
                return None;
            }
            let name = n[1..n.len() - 1].to_string();
            Checksum::from_type(parts[0], parts[3])
                .ok()
                .map(|c| (c, name))
        }
        2 => Checksum::from_value(parts[0])
            .ok()
            .map(|c| (c, parts[1].to_string())),
        _ => Checksum::from_value(parts[0])
            .ok()
            .map(|c| (c, String::new())),
    }
}

/// What to download and where.
#[derive(Debug, Clone)]
pub struct DownloadConfig {
    /// `iso_urls` (or `[iso_url]`), tried in order.
    pub urls: Vec<String>,
    /// The resolved checksum ([`resolve_checksum`]); `None` for `none`.
    pub checksum: Option<Checksum>,
    /// `iso_target_path`: a file, or a directory when it has no extension.
    pub target_path: Option<String>,
    /// `iso_target_extension` (default `iso`).
    pub extension: String,
    /// What is downloaded, for messages (`ISO`).
    pub description: String,
    /// Overrides [`cache_dir`].
    pub cache_dir: Option<PathBuf>,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            urls: Vec::new(),
            checksum: None,
            target_path: None,
            extension: "iso".into(),
            description: "ISO".into(),
            cache_dir: None,
        }
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The file to use: in the cache, or the local source itself.
    pub path: PathBuf,
    /// The source it came from.
    pub source: String,
}

impl DownloadConfig {
    /// Packer's cache target for `source`.
    pub fn target_for(&self, source: &str) -> PathBuf {
        let key = match &self.checksum {
            Some(c) => c.to_string(),
            None => source.to_string(),
        };
        let sha = hex::encode(sha1::Sha1::digest(key.as_bytes()));
        let ext = |default: &str| {
            if self.extension.is_empty() {
                default.to_string()
            } else {
                format!(".{}", self.extension)
            }
        };
        match self.target_path.as_deref().filter(|t| !t.is_empty()) {
            None => self
                .cache_dir
                .clone()
                .unwrap_or_else(cache_dir)
                .join(format!("{sha}{}", ext(""))),
            Some(t) if Path::new(t).extension().is_none() => {
                PathBuf::from(t).join(format!("{sha}{}", ext(".iso")))
            }
            Some(t) => PathBuf::from(t),
        }
    }
}

/// Tries each source in turn (see the module doc); cancellable through `cancel`.
pub async fn download(
    cfg: &DownloadConfig,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Result<Downloaded, DownloadError> {
    let cfg = cfg.clone();
    let cancel = cancel.clone();
    tokio::task::spawn_blocking(move || download_blocking(&cfg, progress, &cancel))
        .await
        .map_err(|e| DownloadError::Other(format!("download task failed: {e}")))?
}

/// The blocking form of [`download`].
pub fn download_blocking(
    cfg: &DownloadConfig,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Result<Downloaded, DownloadError> {
    let mut errors = Vec::new();
    for source in &cfg.urls {
        if cancel.is_cancelled() {
            return Err(DownloadError::Cancelled);
        }
        tracing::info!("Trying {source}");
        match fetch_one(cfg, source, progress.as_ref(), cancel) {
            Ok(path) => {
                tracing::info!("{source} => {}", path.display());
                return Ok(Downloaded {
                    path,
                    source: source.clone(),
                });
            }
            Err(DownloadError::Cancelled) => return Err(DownloadError::Cancelled),
            Err(e) => {
                tracing::warn!("Download failed {e}");
                errors.push(e);
            }
        }
    }
    Err(DownloadError::AllFailed {
        description: cfg.description.clone(),
        errors,
    })
}

fn fetch_one(
    cfg: &DownloadConfig,
    source: &str,
    progress: Option<&Progress>,
    cancel: &CancellationToken,
) -> Result<PathBuf, DownloadError> {
    match classify(source).map_err(DownloadError::Other)? {
        Source::Local(p) => {
            let md = std::fs::metadata(&p).map_err(|e| {
                DownloadError::Other(format!(
                    "source path error: {}",
                    crate::media::go_path_err("stat", &p.display().to_string(), &e)
                ))
            })?;
            if md.is_dir() {
                return Err(DownloadError::Other(format!(
                    "source path error: {} is a directory",
                    p.display()
                )));
            }
            if let Some(c) = &cfg.checksum {
                verify_file(&p, c, progress, cancel)?;
            }
            Ok(p)
        }
        Source::Http(url) => {
            let target = cfg.target_for(source);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DownloadError::Other(format!("creating cache directory {}: {e}", dir.display()))
                })?;
            }
            let mut lock_path = target.clone().into_os_string();
            lock_path.push(".lock");
            let _lock = FileLock::acquire(Path::new(&lock_path), cancel)?;
            if let Some(c) = &cfg.checksum {
                if target.is_file() {
                    match verify_file(&target, c, progress, cancel) {
                        Ok(()) => return Ok(target),
                        Err(DownloadError::Cancelled) => return Err(DownloadError::Cancelled),
                        Err(e) => {
                            tracing::warn!("cached file is bad, downloading again: {e}");
                            let _ = std::fs::remove_file(&target);
                        }
                    }
                }
            }
            http_download(&url, &target, cfg.checksum.as_ref(), progress, cancel)?;
            Ok(target)
        }
    }
}

fn verify_file(
    path: &Path,
    c: &Checksum,
    progress: Option<&Progress>,
    cancel: &CancellationToken,
) -> Result<(), DownloadError> {
    let mut f = File::open(path).map_err(|e| {
        DownloadError::Other(format!(
            "failed to open file for checksum: {}",
            crate::media::go_path_err("open", &path.display().to_string(), &e)
        ))
    })?;
    let total = f.metadata().ok().map(|m| m.len());
    let mut h = c.kind.hasher();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(DownloadError::Cancelled);
        }
        let n = f
            .read(&mut buf)
            .map_err(|e| DownloadError::Other(format!("failed to hash: {e}")))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        done += n as u64;
        if let Some(p) = progress {
            p(done, total);
        }
    }
    check(path, c, h.finish())
}

fn check(path: &Path, c: &Checksum, actual: Vec<u8>) -> Result<(), DownloadError> {
    if actual == c.value {
        Ok(())
    } else {
        Err(DownloadError::Checksum {
            file: path.to_path_buf(),
            kind: c.kind,
            expected: c.value.clone(),
            actual,
        })
    }
}

fn http_download(
    url: &str,
    target: &Path,
    checksum: Option<&Checksum>,
    progress: Option<&Progress>,
    cancel: &CancellationToken,
) -> Result<(), DownloadError> {
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(format!(".{}.part", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let resp = http_get(&http_agent(url), url).map_err(DownloadError::Other)?;
        let total = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = resp.into_body();
        let mut reader = body.with_config().limit(u64::MAX).reader();
        let mut out = File::create(&tmp).map_err(|e| {
            DownloadError::Other(crate::media::go_path_err(
                "open",
                &tmp.display().to_string(),
                &e,
            ))
        })?;
        let mut hasher = checksum.map(|c| c.kind.hasher());
        let mut buf = vec![0u8; 256 * 1024];
        let mut done = 0u64;
        loop {
            if cancel.is_cancelled() {
                return Err(DownloadError::Cancelled);
            }
            let n = reader
                .read(&mut buf)
                .map_err(|e| DownloadError::Other(format!("reading {url}: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(|e| DownloadError::Other(format!("writing {}: {e}", tmp.display())))?;
            if let Some(h) = hasher.as_mut() {
                h.update(&buf[..n]);
            }
            done += n as u64;
            if let Some(p) = progress {
                p(done, total);
            }
        }
        if let Some(t) = total {
            if done != t {
                return Err(DownloadError::Other(format!(
                    "reading {url}: got {done} of {t} bytes"
                )));
            }
        }
        out.sync_all()
            .map_err(|e| DownloadError::Other(format!("writing {}: {e}", tmp.display())))?;
        if let (Some(c), Some(h)) = (checksum, hasher) {
            // Named after the target, as go-getter names it.
            check(target, c, h.finish())?;
        }
        std::fs::rename(&tmp, target).map_err(|e| {
            DownloadError::Other(format!(
                "moving {} to {}: {e}",
                tmp.display(),
                target.display()
            ))
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// An exclusive `flock` on a lock file, released on drop.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    fn open(path: &Path) -> Result<File, DownloadError> {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| DownloadError::Other(format!("lock file {}: {e}", path.display())))
    }

    fn try_flock(f: &File) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    /// Takes the lock, waiting as long as another holder keeps it (or until cancelled).
    pub(crate) fn acquire(path: &Path, cancel: &CancellationToken) -> Result<Self, DownloadError> {
        let f = Self::open(path)?;
        loop {
            if Self::try_flock(&f) {
                return Ok(FileLock { _file: f });
            }
            if cancel.is_cancelled() {
                return Err(DownloadError::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DATA: &[u8] = b"pretend this is an installer ISO\n";

    fn sha256_hex(b: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(b))
    }

    /// A tiny HTTP server: `/<name>` serves `files[name]` (slowly, in pieces), else 404.
    /// Returns the base URL and a counter of GETs for existing files.
    fn serve(files: Vec<(&'static str, Vec<u8>)>) -> (String, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { continue };
                let files = files.clone();
                let h = h.clone();
                std::thread::spawn(move || {
                    let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                            break;
                        }
                    }
                    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
                    let name = path.trim_start_matches('/');
                    match files.iter().find(|(n, _)| *n == name) {
                        Some((_, body)) => {
                            h.fetch_add(1, Ordering::SeqCst);
                            let _ = write!(
                                conn,
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            for chunk in body.chunks(8) {
                                let _ = conn.write_all(chunk);
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                        None => {
                            let _ = conn.write_all(
                                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                    }
                });
            }
        });
        (base, hits)
    }

    fn cfg(urls: Vec<String>, checksum: Option<Checksum>, cache: &Path) -> DownloadConfig {
        DownloadConfig {
            urls,
            checksum,
            cache_dir: Some(cache.to_path_buf()),
            ..Default::default()
        }
    }

    fn sum(data: &[u8]) -> Option<Checksum> {
        resolve_checksum(&format!("sha256:{}", sha256_hex(data)), "x.iso").unwrap()
    }

    #[test]
    fn checksum_forms() {
        let md5 = hex::encode(md5::Md5::digest(DATA));
        let sha1 = hex::encode(sha1::Sha1::digest(DATA));
        let sha256 = sha256_hex(DATA);
        let sha512 = hex::encode(sha2::Sha512::digest(DATA));
        for (spec, kind) in [
            (format!("md5:{md5}"), HashKind::Md5),
            (format!("SHA1:{sha1}"), HashKind::Sha1),
            (
                format!("sha256:{}", sha256.to_uppercase()),
                HashKind::Sha256,
            ),
            (format!("sha512:{sha512}"), HashKind::Sha512),
            (md5.clone(), HashKind::Md5),
            (sha1.clone(), HashKind::Sha1),
            (sha256.clone(), HashKind::Sha256),
            (sha512.clone(), HashKind::Sha512),
        ] {
            let c = resolve_checksum(&spec, "u.iso").unwrap().unwrap();
            assert_eq!(c.kind, kind, "{spec}");
        }
        assert_eq!(resolve_checksum("none", "u.iso").unwrap(), None);
        assert_eq!(
            resolve_checksum(&sha256, "u.iso")
                .unwrap()
                .unwrap()
                .to_string(),
            format!("sha256:{sha256}")
        );
        let e = |s: &str| resolve_checksum(s, "u.iso").unwrap_err().to_string();
        assert_eq!(
            e("abc"),
            "invalid checksum: encoding/hex: odd length hex string in \"abc\""
        );
        assert_eq!(e("abcd"), "unknown type for checksum abcd in \"abcd\"");
        assert_eq!(
            e("crc32:abcd"),
            "unsupported checksum type: crc32 in \"crc32:abcd\""
        );
        assert_eq!(
            e("zz"),
            "invalid checksum: encoding/hex: invalid byte: U+007A 'z' in \"zz\""
        );
        assert_eq!(e(""), "A checksum must be specified");
    }

    #[test]
    fn checksum_files_gnu_bsd_local_and_http() {
        let t = tempfile::tempdir().unwrap();
        let sha256 = sha256_hex(DATA);
        let md5 = hex::encode(md5::Md5::digest(DATA));
        let gnu = format!("{}  other.iso\n{sha256} *ubuntu.iso\n", "0".repeat(64));
        let bsd = format!(
            "MD5 (other.iso) = {}\nMD5 (ubuntu.iso) = {md5}\n",
            "0".repeat(32)
        );
        std::fs::write(t.path().join("SHA256SUMS"), &gnu).unwrap();
        std::fs::write(t.path().join("MD5SUMS"), &bsd).unwrap();
        let gnu_path = t.path().join("SHA256SUMS").display().to_string();
        let bsd_path = t.path().join("MD5SUMS").display().to_string();
        let iso_url = "http://mirror.example/dists/ubuntu.iso";

        let c = resolve_checksum(&format!("file:{gnu_path}"), iso_url)
            .unwrap()
            .unwrap();
        assert_eq!(c.to_string(), format!("sha256:{sha256}"));
        let c = resolve_checksum(&format!("file://{bsd_path}"), iso_url)
            .unwrap()
            .unwrap();
        assert_eq!(c.to_string(), format!("md5:{md5}"));
        let c = resolve_checksum(&format!("file:file://{bsd_path}"), iso_url)
            .unwrap()
            .unwrap();
        assert_eq!(c.kind, HashKind::Md5);

        let (base, _) = serve(vec![("SHA256SUMS", gnu.clone().into_bytes())]);
        let c = resolve_checksum(
            &format!("file:{base}/SHA256SUMS"),
            &format!("{base}/ubuntu.iso"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.to_string(), format!("sha256:{sha256}"));

        let e = resolve_checksum(&format!("file:{gnu_path}"), "http://x/missing.iso")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("no checksum found in: {gnu_path} in \"file:{gnu_path}\"")
        );
        let e = resolve_checksum(&format!("file:{base}/NOPE"), "http://x/a.iso")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("Error downloading checksum file: bad response code: 404"),
            "{e}"
        );
    }

    #[test]
    fn local_files_are_used_in_place() {
        let t = tempfile::tempdir().unwrap();
        let iso = t.path().join("local.iso");
        std::fs::write(&iso, DATA).unwrap();
        let cache = t.path().join("cache");
        let cancel = CancellationToken::new();
        for src in [
            iso.display().to_string(),
            format!("file://{}", iso.display()),
        ] {
            let got = download_blocking(&cfg(vec![src.clone()], sum(DATA), &cache), None, &cancel)
                .unwrap();
            assert_eq!(got.path, iso);
            assert_eq!(got.source, src);
        }
        assert!(!cache.exists(), "nothing is copied into the cache");

        // A mismatch leaves the user's file alone.
        let e = download_blocking(
            &cfg(vec![iso.display().to_string()], sum(b"other"), &cache),
            None,
            &cancel,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "error downloading ISO: [Checksums did not match for {}.\nExpected: {}\nGot: {}\n*sha256.digest]",
                iso.display(),
                sha256_hex(b"other"),
                sha256_hex(DATA)
            )
        );
        assert!(iso.exists());

        let missing = t.path().join("missing.iso");
        let e = download_blocking(
            &cfg(vec![missing.display().to_string()], None, &cache),
            None,
            &cancel,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "error downloading ISO: [source path error: stat {}: no such file or directory]",
                missing.display()
            )
        );
    }

    #[test]
    fn http_download_into_cache_with_progress_and_fallback() {
        let t = tempfile::tempdir().unwrap();
        let (base, hits) = serve(vec![("a.iso", DATA.to_vec())]);
        let cache = t.path().join("cache");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let progress: Progress = Arc::new(move |d, total| s2.lock().unwrap().push((d, total)));
        let c = cfg(
            vec![format!("{base}/missing.iso"), format!("{base}/a.iso")],
            sum(DATA),
            &cache,
        );
        let got = download_blocking(&c, Some(progress), &CancellationToken::new()).unwrap();
        let key = format!("sha256:{}", sha256_hex(DATA));
        let name = format!("{}.iso", hex::encode(sha1::Sha1::digest(key.as_bytes())));
        assert_eq!(got.path, cache.join(name));
        assert_eq!(got.source, format!("{base}/a.iso"));
        assert_eq!(std::fs::read(&got.path).unwrap(), DATA);
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.last(),
            Some(&(DATA.len() as u64, Some(DATA.len() as u64)))
        );
        // A cache hit verifies and does not fetch again.
        download_blocking(&c, None, &CancellationToken::new()).unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // Leftovers: only the file and its lock.
        let mut left: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), 2, "{left:?}");

        // Checksum none: keyed on the URL.
        let c = cfg(vec![format!("{base}/a.iso")], None, &cache);
        let got = download_blocking(&c, None, &CancellationToken::new()).unwrap();
        let name = format!(
            "{}.iso",
            hex::encode(sha1::Sha1::digest(format!("{base}/a.iso").as_bytes()))
        );
        assert_eq!(got.path, cache.join(name));

        let e = download_blocking(
            &cfg(vec![format!("{base}/nope.iso")], None, &cache),
            None,
            &CancellationToken::new(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error downloading ISO: [bad response code: 404]"
        );
    }

    #[test]
    fn http_mismatch_deletes_the_download() {
        let t = tempfile::tempdir().unwrap();
        let (base, _) = serve(vec![("a.iso", DATA.to_vec())]);
        let cache = t.path().join("cache");
        let c = cfg(vec![format!("{base}/a.iso")], sum(b"expected"), &cache);
        let target = c.target_for(&c.urls[0]);
        let e = download_blocking(&c, None, &CancellationToken::new())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "error downloading ISO: [Checksums did not match for {}.\nExpected: {}\nGot: {}\n*sha256.digest]",
                target.display(),
                sha256_hex(b"expected"),
                sha256_hex(DATA)
            )
        );
        let left: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        assert!(left.is_empty(), "{left:?}");

        // A bad file already in the cache is replaced by a good download.
        let good = cfg(vec![format!("{base}/a.iso")], sum(DATA), &cache);
        let target = good.target_for(&good.urls[0]);
        std::fs::write(&target, b"corrupt").unwrap();
        let got = download_blocking(&good, None, &CancellationToken::new()).unwrap();
        assert_eq!(std::fs::read(got.path).unwrap(), DATA);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_downloads_fetch_once() {
        let t = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..400u32).flat_map(|i| i.to_le_bytes()).collect();
        let (base, hits) = serve(vec![("big.iso", big.clone())]);
        let c = cfg(
            vec![format!("{base}/big.iso")],
            sum(&big),
            &t.path().join("cache"),
        );
        let cancel = CancellationToken::new();
        let (a, b) = tokio::join!(download(&c, None, &cancel), download(&c, None, &cancel));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.path, b.path);
        assert_eq!(std::fs::read(&a.path).unwrap(), big);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancellation_stops_a_download() {
        let t = tempfile::tempdir().unwrap();
        let big = vec![1u8; 4000];
        let (base, _) = serve(vec![("slow.iso", big.clone())]);
        let cache = t.path().join("cache");
        let c = cfg(vec![format!("{base}/slow.iso")], sum(&big), &cache);
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        let e = download(&c, None, &cancel).await.unwrap_err();
        assert!(matches!(e, DownloadError::Cancelled), "{e}");
        let left: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
