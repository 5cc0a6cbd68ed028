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

/// Registers the `qemu` builder.
pub fn register(r: &mut forge_core::Registry) {
    r.builders.insert("qemu", builder::factory);
}
