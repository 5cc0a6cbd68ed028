//! QEMU: the `qemu` builder: disks with `qemu-img`, the qemu command line, and the steps around
//! qemu itself. What every builder shares (downloads, the HTTP server, media, port ranges, the
//! boot command over VNC) is in `forge-commonsteps`.

pub mod builder;

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
