//! QEMU: the `qemu` builder: disks with `qemu-img`, the qemu command line, and the steps around
//! qemu itself. What every builder shares (downloads, the HTTP server, media, port ranges, the
//! boot command over VNC) is in `forge-commonsteps`.

pub mod builder;

/// Registers the `qemu` builder.
pub fn register(r: &mut forge_core::Registry) {
    r.builders.insert("qemu", builder::factory);
}
