//! Test helpers: configurations from JSON, a UI whose output can be read back, and forge-core's
//! scripted `Communicator` double that records every call. (End-to-end tests against a real
//! OpenSSH server are added separately.)

use std::path::PathBuf;

use forge_core::plugin::PrepareInfo;
pub use forge_core::testing::{Call, FakeComm, Reply};
use forge_core::ui::{Buffer, Ui};

pub use forge_core::testing::value;

/// What Packer injects: build `null`, builder type `null`.
pub fn info() -> PrepareInfo {
    forge_core::testing::info("null")
}

/// A build UI (target `null`, no colour) and the buffer it prints into.
pub fn ui() -> (Ui, Buffer) {
    forge_core::testing::ui("null")
}

/// A fresh scratch directory under the system's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "forge-prov-test-{name}-{}-{}",
        std::process::id(),
        getrandom::u32().unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
