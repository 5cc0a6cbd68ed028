//! Shared test helpers: configuration values from JSON, prepare info, a build context, a UI
//! whose output the test can read, and input artifacts.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use forge_core::artifact::{Artifact, FileArtifact};
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::redact::Redactor;
use forge_core::ui::{Buffer, Mode, Output, Ui};

pub use forge_core::testing::value;

/// Prepare info for the source `x` of a `file` builder.
pub fn info() -> PrepareInfo {
    PrepareInfo {
        build_name: "x".into(),
        ..forge_core::testing::info("file")
    }
}

/// The post-processor `factory` makes from `config`, or the prepare errors.
pub fn make(
    factory: forge_core::registry::PostProcessorFactory,
    config: serde_json::Value,
) -> Result<Box<dyn PostProcessor>, Vec<String>> {
    factory(&value(config), &info())
}

/// A UI (target `file.x (<pp>)`) writing to a buffer the test reads; `secrets` are redacted.
pub fn ui(pp: &str, secrets: &[&str]) -> (Ui, Buffer) {
    let buf = Buffer::default();
    let r = Redactor::new();
    for s in secrets {
        r.add(s);
    }
    let out = Output::new(
        Mode::Human {
            color: false,
            timestamp: false,
        },
        Box::new(buf.clone()),
        r,
    );
    (Ui::new(out, format!("file.x ({pp})"), None), buf)
}

/// A build context for tests.
pub fn ctx() -> BuildCtx {
    BuildCtx::for_test("file.x")
}

/// A `file` builder artifact holding `files`, with generated data.
pub fn artifact(files: &[&Path]) -> Arc<dyn Artifact> {
    Arc::new(FileArtifact {
        builder_id: "packer.file".into(),
        id: "File".into(),
        string: "Stored file".into(),
        files: files.iter().map(|p| p.display().to_string()).collect(),
        removal: forge_core::artifact::Removal::File,
        generated: BTreeMap::from([("Greeting".to_string(), "hi".to_string())]),
    })
}

/// Runs `pp` on `input` with `ctx` and a fresh UI; the result and the UI text.
pub async fn run(
    pp: &dyn PostProcessor,
    ctx: &BuildCtx,
    input: Arc<dyn Artifact>,
    name: &str,
) -> (forge_core::Result<PostProcessed>, String) {
    let (ui, buf) = ui(name, &[]);
    let r = pp.post_process(ctx, &ui, input).await;
    (r, buf.text())
}

/// Asserts that a system tool the checks run is installed; a missing one fails the test with the
/// Debian package to install (scripts/test.sh installs them all).
pub fn need(tool: &str) {
    let package = match tool {
        "xz" => "xz-utils",
        "zstd" => "zstd",
        "lz4" => "lz4",
        "unzip" => "unzip",
        "gzip" => "gzip",
        "tar" => "tar",
        _ => "coreutils",
    };
    forge_testkit::require::program(tool, package);
}

/// Runs a shell command; panics with its output when it fails. Returns stdout.
pub fn sh(cmd: &str) -> Vec<u8> {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Deterministic test content of `len` bytes, compressible but not trivially.
pub fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 3 == 0 {
                b'a' + (x % 26) as u8
            } else {
                (i / 97 % 256) as u8
            }
        })
        .collect()
}

/// Single-quotes `p` for the shell.
pub fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}
