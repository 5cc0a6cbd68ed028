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

/// A [`FakeComm`] that answers each call by the first rule whose pattern is in it (a command,
/// or `upload <destination>`): the rule's replies in turn, its last one repeated; anything no
/// rule matches succeeds with status 0.
pub fn answering(rules: Vec<(&'static str, Vec<Reply>)>) -> FakeComm {
    let mut rules: Vec<(&'static str, std::collections::VecDeque<Reply>)> = rules
        .into_iter()
        .map(|(p, r)| (p, r.into_iter().collect()))
        .collect();
    FakeComm::scripted(move |call, _| {
        let key = match call {
            Call::Exec(c) => c.clone(),
            Call::Upload(d, ..) => format!("upload {d}"),
            Call::UploadDir(d, _) => format!("upload_dir {d}"),
            Call::Download(s, _) => format!("download {s}"),
            Call::DownloadDir(s, _) => format!("download_dir {s}"),
        };
        for (pattern, replies) in rules.iter_mut() {
            if key.contains(*pattern) {
                return match replies.len() {
                    0 => Reply::code(0),
                    1 => replies[0].clone(),
                    _ => replies.pop_front().unwrap_or_else(|| Reply::code(0)),
                };
            }
        }
        Reply::code(0)
    })
}

/// Every call as a short line (`exec <command>`, `upload <destination>`), in order.
pub fn trace(comm: &FakeComm) -> Vec<String> {
    comm.calls()
        .into_iter()
        .map(|c| match c {
            Call::Exec(c) => format!("exec {c}"),
            Call::Upload(d, ..) => format!("upload {d}"),
            Call::UploadDir(d, _) => format!("upload_dir {d}"),
            Call::Download(s, _) => format!("download {s}"),
            Call::DownloadDir(s, _) => format!("download_dir {s}"),
        })
        .collect()
}
