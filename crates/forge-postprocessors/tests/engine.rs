//! The post-processors in forge's engine, from a legacy JSON template with a `file` builder:
//! the chains, artifacts and messages Packer 1.6.6 gives for the same template.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod common;

use std::sync::Arc;

use forge_core::engine::{Engine, EngineConfig};
use forge_core::events::Events;
use forge_core::journal::Journal;
use forge_core::redact::Redactor;
use forge_core::ui::{Buffer, Mode, Output};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_template_chains_as_packer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let template = dir.path().join("t.json");
    std::fs::write(
        &template,
        format!(
            r#"{{
  "builders": [{{"type": "file", "name": "fb", "content": "hello world\n", "target": "{d}/out/a.txt"}}],
  "post-processors": [
    [{{"type": "manifest", "output": "{d}/m.json", "custom_data": {{"k": "v {{{{ build_name }}}} {{{{ .BuildName }}}}"}}}},
     {{"type": "checksum", "checksum_types": ["md5", "sha256"], "output": "{d}/packer_{{{{.BuildName}}}}_{{{{.BuilderType}}}}_{{{{.ChecksumType}}}}.checksum"}}],
    [{{"type": "compress", "output": "{d}/c/x.tar.gz", "keep_input_artifact": true}}],
    [{{"type": "artifice", "files": ["{d}/out/*.txt", "{d}/nonexist"]}}]
  ]
}}"#
        ),
    )
    .unwrap();
    let loaded = forge_template::load(&template, &forge_template::LoadOptions::default());
    let plan = loaded.plan.expect("template loads");
    let mut registry = forge_core::Registry::new();
    forge_core::builtin::register(&mut registry);
    forge_postprocessors::register(&mut registry);
    let buf = Buffer::default();
    let out = Output::new(
        Mode::Machine { timestamp: false },
        Box::new(buf.clone()),
        Redactor::new(),
    );
    let engine = Engine::new(
        plan,
        Arc::new(registry),
        out,
        Events::disabled(),
        Journal::in_memory("run-e2e"),
        EngineConfig {
            opts: Default::default(),
            parallel: 0,
            run_id: "run-e2e".into(),
            template_dir: dir.path().to_path_buf(),
        },
        CancellationToken::new(),
    );
    let summary = match engine.run().await {
        Ok(s) => s,
        Err(_) => panic!("prepare failed: {}", buf.text()),
    };
    let r = &summary.results[0];
    assert!(r.error.is_none(), "{:?}\n{}", r.error, buf.text());
    let got: Vec<(String, String, String)> = r
        .artifacts
        .iter()
        .map(|a| (a.builder_id(), a.id(), a.string()))
        .collect();
    let a = format!("{d}/out/a.txt");
    let t = |b: &str, i: &str, s: String| (b.to_string(), i.to_string(), s);
    assert_eq!(
        got,
        vec![
            t("packer.file", "File", format!("Stored file: {a}")),
            t("packer.file", "File", format!("Stored file: {a}")),
            t(
                "packer.post-processor.checksum",
                "",
                format!(
                    "Created artifact from files: {a}, {d}/packer_fb_file_md5.checksum, {d}/packer_fb_file_sha256.checksum"
                )
            ),
            t(
                "packer.post-processor.compress",
                "",
                format!("compressed artifacts in: {d}/c/x.tar.gz")
            ),
            t(
                "packer.post-processor.artifice",
                "",
                format!("Created artifact from files: {a}")
            ),
        ]
    );
    // The UI lines, without the timestamps.
    let ui: Vec<String> = buf
        .text()
        .lines()
        .filter_map(|l| l.split_once(',').map(|x| x.1.to_string()))
        .filter(|l| {
            l.starts_with(",ui,")
                && (l.contains("post-processor")
                    || l.contains(" (compress)")
                    || l.contains(" (artifice)"))
        })
        .collect();
    assert_eq!(
        ui,
        vec![
            ",ui,say,==> fb: Running post-processor: manifest".to_string(),
            ",ui,say,==> fb: Running post-processor: checksum".to_string(),
            ",ui,say,==> fb: Running post-processor: compress".to_string(),
            format!(
                ",ui,say,==> fb (compress): Using pgzip compression with {} for {d}/c/x.tar.gz",
                match forge_postprocessors::compress::default_threads() {
                    1 => "1 core".to_string(),
                    n => format!("{n} cores"),
                }
            ),
            format!(",ui,say,==> fb (compress): Tarring {d}/c/x.tar.gz with pgzip"),
            format!(",ui,say,==> fb (compress): Archive {d}/c/x.tar.gz completed"),
            ",ui,say,==> fb: Running post-processor: artifice".to_string(),
            format!(",ui,say,==> fb (artifice): Discarding files from artifact: {a}"),
            format!(",ui,say,==> fb (artifice): Using these artifact files: {a}"),
        ]
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("m.json")).unwrap()).unwrap();
    let b = &m["builds"][0];
    assert_eq!(b["name"], "fb");
    assert_eq!(b["builder_type"], "file");
    assert_eq!(b["artifact_id"], "File");
    assert_eq!(b["packer_run_uuid"], "run-e2e");
    assert_eq!(b["files"][0]["size"], 12);
    // As in Packer 1.6.6: the file builder generates no BuildName.
    assert_eq!(b["custom_data"]["k"], "v fb <no value>");
    assert_eq!(m["last_run_uuid"], "run-e2e");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("packer_fb_file_sha256.checksum")).unwrap(),
        "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447\ta.txt\n"
    );
}
