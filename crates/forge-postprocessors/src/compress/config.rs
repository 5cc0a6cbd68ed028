//! The `compress` configuration and Packer's format detection from the output name.

use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::CompressPostProcessor;
use forge_template::value::Value;

/// Packer's default output template (a gzipped tar without extension).
pub const DEFAULT_OUTPUT: &str = "packer_{{.BuildName}}_{{.BuilderType}}";

/// How the input files are put together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// No archive: the single input file is compressed as it is.
    None,
    /// A GNU tar archive of the files' base names.
    Tar,
    /// A zip archive of the files' paths (deflated).
    Zip,
}

/// How the output stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Not compressed.
    None,
    /// gzip, compressed in parallel chunks written as consecutive gzip members (Packer's
    /// `pgzip`).
    Gzip,
    /// BGZF: gzip in blocks of at most 64 KiB with the block size in a header field.
    Bgzf,
    /// The LZ4 frame format.
    Lz4,
    /// xz, multithreaded.
    Xz,
    /// zstd, multithreaded (a forge extension).
    Zstd,
}

impl Algorithm {
    /// The name Packer's messages use.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::None => "no compression",
            Algorithm::Gzip => "pgzip",
            Algorithm::Bgzf => "bgzf",
            Algorithm::Lz4 => "lz4",
            Algorithm::Xz => "xz",
            Algorithm::Zstd => "zstd",
        }
    }

    fn parse(s: &str) -> Option<Algorithm> {
        Some(match s {
            "pgzip" => Algorithm::Gzip,
            "bgzf" => Algorithm::Bgzf,
            "lz4" => Algorithm::Lz4,
            "xz" => Algorithm::Xz,
            "zstd" => Algorithm::Zstd,
            _ => return None,
        })
    }
}

/// Packer's detection: every `.ext` (lowercase letters and digits) in `output` (with
/// `.<format>` appended when `format` is set); the last one picks tar or zip or the
/// compression, and a `.tar` before a compression extension adds a tar archive. No extension
/// or an unknown last one means tar + gzip. `archive`/`algorithm` are the values the
/// configuration set directly; detection overrides them as in Packer.
pub fn detect(
    output: &str,
    format: Option<&str>,
    archive: Archive,
    algorithm: Algorithm,
) -> (Archive, Algorithm) {
    let name = match format.filter(|f| !f.is_empty()) {
        Some(f) => format!("{output}.{f}"),
        None => output.to_string(),
    };
    let exts = extensions(&name);
    let (mut archive, algorithm) = (archive, algorithm);
    let Some(last) = exts.last() else {
        return (Archive::Tar, Algorithm::Gzip);
    };
    if exts.len() > 1 && exts[exts.len() - 2] == "tar" {
        archive = Archive::Tar;
    }
    match last.as_str() {
        "tar" => return (Archive::Tar, algorithm),
        "zip" => return (Archive::Zip, algorithm),
        _ => {}
    }
    let alg = match last.as_str() {
        "gz" => Some(Algorithm::Gzip),
        "bgzf" => Some(Algorithm::Bgzf),
        "lz4" => Some(Algorithm::Lz4),
        "xz" => Some(Algorithm::Xz),
        "zst" => Some(Algorithm::Zstd),
        _ => None,
    };
    match alg {
        Some(a) => (archive, a),
        None => (Archive::Tar, Algorithm::Gzip),
    }
}

/// Every match of Packer's `\.([a-z0-9]+)`, left to right.
fn extensions(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_lowercase() || b[j].is_ascii_digit()) {
                j += 1;
            }
            if j > start {
                out.push(s[start..j].to_string());
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Packer's message for a level it cannot use.
pub const BAD_LEVEL: &str = "Invalid compression level. Expected an integer from -1 to 9.";

/// The checked configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The output template (`output`).
    pub output: String,
    /// The archive kind.
    pub archive: Archive,
    /// The compression.
    pub algorithm: Algorithm,
    /// `compression_level` 1-9; `None` for the algorithm's default (unset, 0 or -1, as Packer
    /// treats them).
    pub level: Option<u32>,
}

impl Config {
    /// Decodes and checks `v`.
    pub fn from_value(v: &Value) -> Result<Config, PrepareErrors> {
        let c: CompressPostProcessor = decode(v)?;
        let mut errs = Vec::new();
        let output = c
            .output
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| DEFAULT_OUTPUT.to_string());
        if let Err(e) = crate::common::check_template(&output) {
            errs.push(e);
        }
        let level = match c.compression_level {
            None | Some(0) | Some(-1) => None,
            Some(l) if l > 9 => Some(9),
            Some(l) if l > 0 => Some(l as u32),
            Some(_) => {
                errs.push(BAD_LEVEL.to_string());
                None
            }
        };
        let archive = match c.archive.as_deref() {
            Some("tar") => Archive::Tar,
            Some("zip") => Archive::Zip,
            _ => Archive::None,
        };
        let algorithm = c
            .algorithm
            .as_deref()
            .and_then(Algorithm::parse)
            .unwrap_or(Algorithm::None);
        let (archive, algorithm) = detect(&output, c.format.as_deref(), archive, algorithm);
        if errs.is_empty() {
            Ok(Config {
                output,
                archive,
                algorithm,
                level,
            })
        } else {
            Err(errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(out: &str, format: Option<&str>) -> (Archive, Algorithm) {
        detect(out, format, Archive::None, Algorithm::None)
    }

    #[test]
    fn detection_as_packer() {
        use Algorithm as A;
        use Archive as R;
        assert_eq!(
            d("packer_{{.BuildName}}_{{.BuilderType}}", None),
            (R::Tar, A::Gzip)
        );
        assert_eq!(d("out/x.tar", None), (R::Tar, A::None));
        assert_eq!(d("out/x.zip", None), (R::Zip, A::None));
        assert_eq!(d("x.tar.gz", None), (R::Tar, A::Gzip));
        assert_eq!(d("x.gz", None), (R::None, A::Gzip));
        assert_eq!(d("x.tgz", None), (R::Tar, A::Gzip));
        assert_eq!(d("x.lz4", None), (R::None, A::Lz4));
        assert_eq!(d("x.tar.lz4", None), (R::Tar, A::Lz4));
        assert_eq!(d("x.xz", None), (R::None, A::Xz));
        assert_eq!(d("x.tar.xz", None), (R::Tar, A::Xz));
        assert_eq!(d("x.zst", None), (R::None, A::Zstd));
        assert_eq!(d("x.tar.zst", None), (R::Tar, A::Zstd));
        assert_eq!(d("x.bgzf", None), (R::None, A::Bgzf));
        assert_eq!(d("x.img", None), (R::Tar, A::Gzip));
        assert_eq!(d("x.GZ", None), (R::Tar, A::Gzip));
        assert_eq!(d("x.zip.gz", None), (R::None, A::Gzip));
        assert_eq!(d("x", Some("tar.xz")), (R::Tar, A::Xz));
        assert_eq!(d("x", Some("zip")), (R::Zip, A::None));
        assert_eq!(
            detect("x.tar", None, Archive::None, Algorithm::Xz),
            (R::Tar, A::Xz)
        );
    }
}
