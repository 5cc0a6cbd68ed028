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

/// The four post-processors, under their Packer type names.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::plugins::*;
    PluginSet::of([
        PluginDecl::post_processor::<ManifestPostProcessor>("manifest", manifest::factory),
        PluginDecl::post_processor::<ChecksumPostProcessor>("checksum", checksum::factory),
        PluginDecl::post_processor::<CompressPostProcessor>("compress", compress::factory),
        PluginDecl::post_processor::<ArtificePostProcessor>("artifice", artifice::factory),
    ])
}

/// Adds the four post-processors to `r` (for tests that assemble a registry).
pub fn register(r: &mut forge_core::Registry) {
    plugins().install(r);
}
