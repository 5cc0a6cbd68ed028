//! The `forge` binary: a Packer-compatible image builder.

fn main() {
    println!("forge {}", env!("CARGO_PKG_VERSION"));
}
