//! Test helpers: configurations from JSON, a UI whose output can be read back, and forge-core's
//! scripted `Communicator` double that records every call. (End-to-end tests against a real
//! OpenSSH server are added separately.)

use std::path::PathBuf;

use forge_core::plugin::PrepareInfo;
pub use forge_core::testing::{Call, FakeComm, Reply};
use forge_core::ui::{Buffer, Mode, Output, Ui};
use forge_template::value::Value;

/// A configuration value from JSON.
pub fn value(j: serde_json::Value) -> Value {
    forge_template::functions::value_from_json(j).expect("a JSON value forge reads")
}

/// What Packer injects: build `null`, builder type `null`.
pub fn info() -> PrepareInfo {
    PrepareInfo {
        build_name: "null".into(),
        builder_type: "null".into(),
        template_dir: ".".into(),
        opts: Default::default(),
        legacy: true,
        connectors: Default::default(),
        warnings: Default::default(),
    }
}

/// A build UI (target `null`, no colour) and the buffer it prints into.
pub fn ui() -> (Ui, Buffer) {
    let buf = Buffer::default();
    let out = Output::new(
        Mode::Human {
            color: false,
            timestamp: false,
        },
        Box::new(buf.clone()),
        forge_core::redact::Redactor::new(),
    );
    (Ui::new(out, "null", None), buf)
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
