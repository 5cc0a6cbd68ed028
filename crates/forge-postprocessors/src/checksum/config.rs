//! The `checksum` configuration.

use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::ChecksumPostProcessor;
use forge_template::value::Value;

/// Packer's default output template, rendered once per checksum type.
pub const DEFAULT_OUTPUT: &str =
    "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum";

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Kind {
    /// The algorithm for a `checksum_types` entry.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "md5" => Kind::Md5,
            "sha1" => Kind::Sha1,
            "sha224" => Kind::Sha224,
            "sha256" => Kind::Sha256,
            "sha384" => Kind::Sha384,
            "sha512" => Kind::Sha512,
            _ => return None,
        })
    }

    /// The name, as `{{.ChecksumType}}` renders it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha224 => "sha224",
            Kind::Sha256 => "sha256",
            Kind::Sha384 => "sha384",
            Kind::Sha512 => "sha512",
        }
    }

    /// A fresh hasher.
    pub fn hasher(self) -> Box<dyn sha2::digest::DynDigest + Send> {
        use sha2::Digest;
        match self {
            Kind::Md5 => Box::new(md5::Md5::new()),
            Kind::Sha1 => Box::new(sha1::Sha1::new()),
            Kind::Sha224 => Box::new(sha2::Sha224::new()),
            Kind::Sha256 => Box::new(sha2::Sha256::new()),
            Kind::Sha384 => Box::new(sha2::Sha384::new()),
            Kind::Sha512 => Box::new(sha2::Sha512::new()),
        }
    }
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The algorithms, in order (`checksum_types`, default md5).
    pub kinds: Vec<Kind>,
    /// The output template (`output`).
    pub output: String,
}

impl Config {
    /// Decodes and checks `v`; every unknown type is reported.
    pub fn from_value(v: &Value) -> Result<Config, PrepareErrors> {
        let c: ChecksumPostProcessor = decode(v)?;
        let mut errs = Vec::new();
        let names = c.checksum_types.unwrap_or_else(|| vec!["md5".into()]);
        let mut kinds = Vec::new();
        for n in &names {
            match Kind::parse(n) {
                Some(k) => kinds.push(k),
                None => errs.push(format!("Unrecognized checksum type: {n}")),
            }
        }
        let output = c
            .output
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| DEFAULT_OUTPUT.to_string());
        if let Err(e) = crate::common::check_template(&output) {
            errs.push(e);
        }
        if errs.is_empty() {
            Ok(Config { kinds, output })
        } else {
            Err(errs)
        }
    }
}
