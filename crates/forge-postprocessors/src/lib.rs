//! Packer's core post-processors on forge's engine: `manifest` (a JSON record of every build's
//! artifact), `checksum` (checksum files of the artifact's files), `compress` (tar/zip archives
//! and gzip, bgzf, lz4, xz or zstd compression, multithreaded where the format allows) and
//! `artifice` (replace the artifact's file list).

#![warn(missing_docs)]

pub mod artifice;
pub mod checksum;
mod common;
pub mod compress;
pub mod manifest;

/// Registers the four post-processors under their Packer type names.
pub fn register(r: &mut forge_core::Registry) {
    r.post_processors.insert("manifest", manifest::factory);
    r.post_processors.insert("checksum", checksum::factory);
    r.post_processors.insert("compress", compress::factory);
    r.post_processors.insert("artifice", artifice::factory);
}
