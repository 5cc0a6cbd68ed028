//! `manifest`: the file's exact shape, appending across runs, `-force`, `strip_path`,
//! `strip_time`, `custom_data`, redaction, concurrent writers and errors.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use common::*;
use forge_core::plugin::BuildCtx;
use forge_postprocessors::manifest;
use serde_json::json;

fn ctx_with(run_id: &str, force: bool) -> BuildCtx {
    let mut c = ctx();
    c.run_id = run_id.into();
    c.opts.force = force;
    c
}

fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[tokio::test]
async fn exact_shape_and_append_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let a = dir.path().join("a.txt");
    std::fs::write(&a, "hello world\n").unwrap();
    let pp = make(
        manifest::factory,
        json!({"output": out.display().to_string(), "strip_time": true}),
    )
    .unwrap();
    let input = artifact(&[&a]);
    let (r, ui) = run(
        pp.as_ref(),
        &ctx_with("run-1", false),
        input.clone(),
        "manifest",
    )
    .await;
    let r = r.unwrap();
    assert_eq!(ui, "", "manifest prints nothing");
    assert!(r.keep && r.force_override);
    assert!(
        Arc::ptr_eq(&r.artifact.unwrap(), &input),
        "returns its input"
    );
    let a_s = a.display().to_string();
    let one = format!(
        r#"    {{
      "name": "x",
      "builder_type": "file",
      "files": [
        {{
          "name": "{a_s}",
          "size": 12
        }}
      ],
      "artifact_id": "File",
      "packer_run_uuid": "RUN",
      "custom_data": null
    }}"#
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!(
            "{{\n  \"builds\": [\n{}\n  ],\n  \"last_run_uuid\": \"run-1\"\n}}",
            one.replace("RUN", "run-1")
        )
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o664 & !umask());
    assert!(
        !dir.path().join("m.json.lock").exists(),
        "lock file removed"
    );

    // Another run without -force appends.
    let (r, _) = run(
        pp.as_ref(),
        &ctx_with("run-2", false),
        input.clone(),
        "manifest",
    )
    .await;
    r.unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!(
            "{{\n  \"builds\": [\n{},\n{}\n  ],\n  \"last_run_uuid\": \"run-2\"\n}}",
            one.replace("RUN", "run-1"),
            one.replace("RUN", "run-2")
        )
    );

    // -force in the same run still appends; -force in a new run starts afresh.
    run(
        pp.as_ref(),
        &ctx_with("run-2", true),
        input.clone(),
        "manifest",
    )
    .await
    .0
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["builds"].as_array().unwrap().len(), 3);
    run(
        pp.as_ref(),
        &ctx_with("run-3", true),
        input.clone(),
        "manifest",
    )
    .await
    .0
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!(
            "{{\n  \"builds\": [\n{}\n  ],\n  \"last_run_uuid\": \"run-3\"\n}}",
            one.replace("RUN", "run-3")
        )
    );
}

#[tokio::test]
async fn build_time_strip_path_null_files_and_custom_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let a = dir.path().join("sub/a.txt");
    std::fs::create_dir_all(a.parent().unwrap()).unwrap();
    std::fs::write(&a, "abc").unwrap();
    let missing = dir.path().join("gone.img");
    let pp = make(
        manifest::factory,
        json!({
            "output": out.display().to_string(),
            "strip_path": true,
            "custom_data": {"z": "{{ .Greeting }} from {{ build_name }}", "a": "<&>", "m": "{{ .Nope }}"}
        }),
    )
    .unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    run(pp.as_ref(), &ctx(), artifact(&[&a, &missing]), "manifest")
        .await
        .0
        .unwrap();
    run(pp.as_ref(), &ctx(), artifact(&[]), "manifest")
        .await
        .0
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains(
            r#"      "custom_data": {
        "a": "\u003c\u0026\u003e",
        "m": "\u003cno value\u003e",
        "z": "hi from x"
      }"#
        ),
        "{text}"
    );
    assert!(
        text.contains("\"name\": \"a.txt\",\n          \"size\": 3"),
        "{text}"
    );
    assert!(
        text.contains("\"name\": \"gone.img\",\n          \"size\": 0"),
        "{text}"
    );
    assert!(text.contains("\"files\": null,"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let t = v["builds"][0]["build_time"].as_i64().unwrap();
    assert!(t >= before && t < before + 60);
    assert_eq!(v["builds"][0]["packer_run_uuid"], "test");
    // build_time comes right after builder_type, as in Go's struct.
    assert!(text.contains("\"builder_type\": \"file\",\n      \"build_time\": "));
}

#[tokio::test]
async fn secrets_never_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let pp = make(
        manifest::factory,
        json!({"output": out.display().to_string(), "custom_data": {"token": "abc-s3cret-xyz"}}),
    )
    .unwrap();
    let (ui, _) = ui("manifest", &["s3cret"]);
    pp.post_process(&ctx(), &ui, artifact(&[])).await.unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["builds"][0]["custom_data"]["token"],
        "abc-<sensitive>-xyz"
    );
}

#[tokio::test]
async fn parallel_builds_share_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let pp: Arc<dyn forge_core::PostProcessor> = Arc::from(
        make(
            manifest::factory,
            json!({"output": out.display().to_string()}),
        )
        .unwrap(),
    );
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let pp = pp.clone();
        tasks.push(tokio::spawn(async move {
            run(pp.as_ref(), &ctx(), artifact(&[]), "manifest")
                .await
                .0
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["builds"].as_array().unwrap().len(), 12);
    assert!(!dir.path().join("m.json.lock").exists());
}

#[tokio::test]
async fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    std::fs::write(&out, "{not json").unwrap();
    let pp = make(
        manifest::factory,
        json!({"output": out.display().to_string()}),
    )
    .unwrap();
    let e = run(pp.as_ref(), &ctx(), artifact(&[]), "manifest")
        .await
        .0
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with(&format!("Unable to parse content from {}: ", out.display())),
        "{e}"
    );
    let nodir = dir.path().join("no/such/dir/m.json");
    let pp = make(
        manifest::factory,
        json!({"output": nodir.display().to_string()}),
    )
    .unwrap();
    let e = run(pp.as_ref(), &ctx(), artifact(&[]), "manifest")
        .await
        .0
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&format!("{}.lock", nodir.display())), "{e}");
}

#[tokio::test]
async fn existing_files_are_read_as_packer_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    // Unknown keys go, nulls stay null, a zero build_time is left out, key order is Go's.
    std::fs::write(
        &out,
        r#"{"last_run_uuid":"old","extra":1,"builds":[{"custom_data":{},"files":[],"name":"n","build_time":0,"builder_type":null,"artifact_id":"i","packer_run_uuid":"old","more":true}]}"#,
    )
    .unwrap();
    let pp = make(
        manifest::factory,
        json!({"output": out.display().to_string(), "strip_time": true}),
    )
    .unwrap();
    run(pp.as_ref(), &ctx(), artifact(&[]), "manifest")
        .await
        .0
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with(
            r#"{
  "builds": [
    {
      "name": "n",
      "builder_type": "",
      "files": [],
      "artifact_id": "i",
      "packer_run_uuid": "old",
      "custom_data": {}
    },
    {
      "name": "x","#
        ),
        "{text}"
    );
    assert!(text.ends_with("\"last_run_uuid\": \"test\"\n}"), "{text}");
}
