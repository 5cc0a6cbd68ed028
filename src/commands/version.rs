//! `forge version`

/// Prints the version, with the Packer release forge follows.
pub fn run() -> i32 {
    println!(
        "forge v{} (Packer v{} compatible)",
        crate::cli::VERSION,
        forge_template::config::PACKER_COMPAT_VERSION
    );
    0
}
