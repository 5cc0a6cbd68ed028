//! QEMU: the `qemu` builder, and what it needs around qemu itself: ISO downloads with checksums
//! and a cache, the boot command typed over VNC, the HTTP server, cd and floppy media made
//! in-process, and port ranges locked against concurrent builds.

pub mod bootcmd;
pub mod builder;
pub mod download;
pub mod httpserver;
pub mod media;
pub mod ports;
pub mod vnc;

/// The `qemu` builder (packer-plugin-qemu).
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    PluginSet::of([
        PluginDecl::builder::<forge_template::schema::plugins::QemuBuilder>(
            "qemu",
            builder::factory,
        )
        .from_plugin("github.com/hashicorp/qemu"),
    ])
}
