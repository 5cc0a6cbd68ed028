//! `forge build` end to end with the real binary: the null, file and forge-fixture builders,
//! shell-local, the provisioner common fields, -on-error, -debug, -parallel-builds, events,
//! machine-readable output, and failures in a provisioner, a post-processor and a cleanup.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::build;

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use build::{settle_processes, Sandbox};

const TWO_BUILDS: &str = r#"
source "null" "one" {
  communicator = "none"
}
source "file" "two" {
  content = "hello"
  target  = "out/two.txt"
}
build {
  sources = ["source.null.one", "source.file.two"]
  provisioner "shell-local" {
    inline = ["echo hi from ${source.name} ${build.ID}", "echo oops 1>&2"]
  }
}
"#;

fn assert_clean(sb: &Sandbox) {
    assert!(
        sb.tmp_leftovers().is_empty(),
        "left in TMPDIR: {:?}",
        sb.tmp_leftovers()
    );
    assert!(
        sb.journals().is_empty(),
        "journals left: {:?}",
        sb.journals()
    );
}

#[test]
fn null_and_file_builds_run_concurrently_and_report_artifacts() {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", TWO_BUILDS)]);
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let o = &r.stdout;
    for want in [
        "==> null.one: Running local shell script: ",
        "    null.one: hi from one Null",
        "==> null.one: oops",
        "    file.two: hi from two ERR_ID_NOT_IMPLEMENTED_BY_BUILDER",
        "Build 'null.one' finished after ",
        "Build 'file.two' finished after ",
        "\n==> Wait completed after ",
        "\n==> Builds finished. The artifacts of successful builds are:\n--> null.one: Did not export anything. This is the null builder\n--> file.two: Stored file: out/two.txt\n",
        "\n==> Timeline:\n--> null.one: finished in ",
        "StepProvision",
        "provisioner shell-local",
    ] {
        assert!(o.contains(want), "missing {want:?} in:\n{o}");
    }
    assert!(!o.contains("\x1b["), "colour with -color=false");
    assert_eq!(
        std::fs::read_to_string(sb.path("out/two.txt")).unwrap(),
        "hello"
    );
    assert_clean(&sb);
}

#[test]
fn colour_per_build_and_no_colour_env() {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", TWO_BUILDS)]);
    let r = sb.run(&["build", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("\x1b[1;32mnull.one: output will be in this color.\x1b[0m\n\x1b[1;36mfile.two: output will be in this color.\x1b[0m\n\n"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("\x1b[0;32m    null.one: hi from one Null\x1b[0m"));
    assert!(r.stdout.contains("\x1b[1;31m==> file.two: oops\x1b[0m"));
    let r = sb.run(&["build", "t.pkr.hcl"], None, &[("PACKER_NO_COLOR", "1")]);
    assert!(!r.stdout.contains("\x1b["), "{}", r.stdout);
    let r = sb.run(
        &["build", "-color=false", "-timestamp-ui", "t.pkr.hcl"],
        None,
        &[],
    );
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("hi from one"))
        .unwrap()
        .to_string();
    // 2026-01-02T15:04:05+01:00:     null.one: hi from one Null
    let (stamp, rest) = line.split_once(": ").unwrap();
    assert!(chrono_like(stamp), "{line}");
    assert_eq!(rest, "    null.one: hi from one Null");
}

fn chrono_like(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T'
}

#[test]
fn machine_readable_is_packers_csv() {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", TWO_BUILDS)]);
    let r = sb.run(&["build", "-machine-readable", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 0);
    let rows: Vec<Vec<&str>> = r
        .stdout
        .lines()
        .map(|l| l.splitn(4, ',').collect())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), 4, "{row:?}");
        assert!(row[0].parse::<u64>().is_ok(), "{row:?}");
    }
    let tail: Vec<String> = rows.iter().map(|r| r[1..].join(",")).collect();
    let has = |s: &str| tail.iter().any(|t| t == s);
    assert!(
        has(",ui,message,    null.one: hi from one Null"),
        "{tail:#?}"
    );
    assert!(has("null.one,artifact-count,1"));
    assert!(has("null.one,artifact,0,builder-id,fnoeding.null"));
    assert!(has("file.two,artifact,0,files-count,1"));
    assert!(has("file.two,artifact,0,file,0,out/two.txt"));
    assert!(has("file.two,artifact,0,end"));
    assert!(has(
        ",ui,say,\\n==> Builds finished. The artifacts of successful builds are:"
    ));
    assert!(!r.stdout.contains("Timeline"));
}

#[test]
fn provisioner_failure_names_the_build_runs_the_cleanup_provisioner_and_exits_1() {
    let t = r#"
source "null" "one" {
  communicator = "none"
}
source "null" "two" {
  communicator = "none"
}
build {
  sources = ["source.null.one", "source.null.two"]
  provisioner "shell-local" {
    only   = ["null.one"]
    inline = ["exit 3"]
  }
  error-cleanup-provisioner "shell-local" {
    inline = ["touch cleaned-${source.name}"]
  }
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let o = &r.stdout;
    assert!(o.contains("==> null.one: Provisioning step had errors: Running the cleanup provisioner, if present..."), "{o}");
    assert!(o.contains("Build 'null.one' errored after "));
    assert!(o.contains(": Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"));
    assert!(o.contains("Build 'null.two' finished after "));
    assert!(o.contains("\n==> Some builds didn't complete successfully and had errors:\n--> null.one: Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"));
    // The timeline names the failing step.
    assert!(o.contains("--> null.one: errored in "));
    assert!(
        o.lines()
            .any(|l| l.contains("provisioner shell-local") && l.ends_with("failed")),
        "{o}"
    );
    assert!(sb.path("cleaned-one").exists());
    assert!(!sb.path("cleaned-two").exists());
    assert_clean(&sb);
}

#[test]
fn post_processor_failure_fails_the_build() {
    let t = r#"
source "null" "one" {
  communicator = "none"
}
build {
  sources = ["source.null.one"]
  post-processor "shell-local" {
    inline = ["echo in pp", "exit 4"]
  }
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("==> null.one: Running post-processor:  (type shell-local)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("    null.one (shell-local): in pp"));
    assert!(r.stdout.contains("Build 'null.one' errored after "));
    assert!(r.stdout.contains(": 1 error(s) occurred:\n\n* Post-processor failed: Script exited with non-zero exit status: 4.Allowed exit codes are: [0]"));
    assert!(r
        .stdout
        .contains("==> Builds finished but no artifacts were created."));
    assert_clean(&sb);
}

fn fixture(marker: &str, extra: &str, prov: &str) -> String {
    format!(
        r#"
source "forge-fixture" "fx" {{
  marker     = "{marker}"
  step_delay = "10ms"
  hold       = "50ms"
  {extra}
}}
build {{
  sources = ["source.forge-fixture.fx"]
  {prov}
}}
"#
    )
}

#[test]
fn a_failing_cleanup_is_reported_and_the_sweep_removes_what_it_left() {
    let marker = format!("mk-cleanup-{}", std::process::id());
    let sb = Sandbox::new(
        FORGE,
        &[("t.pkr.hcl", &fixture(&marker, "fail_cleanup = true", ""))],
    );
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("==> forge-fixture.fx: Error cleaning up step \"StepFiles\": the fixture was told to fail its file cleanup"), "{}", r.stdout);
    assert!(r.stdout.contains("Build 'forge-fixture.fx' errored after "));
    assert!(settle_processes(&marker).is_empty());
    assert_clean(&sb);
}

#[test]
fn on_error_abort_keeps_resources_until_forge_cleanup() {
    let marker = format!("mk-abort-{}", std::process::id());
    let t = fixture(
        &marker,
        "",
        r#"provisioner "shell-local" { inline = ["exit 1"] }"#,
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let r = sb.run(
        &["build", "-color=false", "-on-error=abort", "t.pkr.hcl"],
        None,
        &[],
    );
    assert_eq!(r.code, 1);
    let o = &r.stdout;
    assert!(
        o.contains("==> forge-fixture.fx: Step \"StepProvision\" failed, aborting..."),
        "{o}"
    );
    assert!(o.contains("==> forge-fixture.fx: aborted: skipping cleanup of step \"StepProcesses\""));
    assert!(o.contains("==> forge-fixture.fx: aborted: skipping cleanup of step \"StepTempDir\""));
    assert!(o.contains("`forge cleanup` removes them"));
    assert_eq!(
        processes_count(&marker),
        2,
        "the processes stay for inspection"
    );
    assert!(!sb.tmp_leftovers().is_empty());
    assert_eq!(sb.journals().len(), 1);
    let dry = sb.run(&["cleanup", "--dry-run"], None, &[]);
    assert_eq!(dry.code, 0);
    assert_eq!(
        dry.stdout.matches("Would remove").count(),
        2 + 3 + 1,
        "{}",
        dry.stdout
    );
    assert_eq!(processes_count(&marker), 2);
    let c = sb.run(&["cleanup"], None, &[]);
    assert_eq!(c.code, 0, "{}", c.stdout);
    assert!(
        c.stdout.contains("Removed 6 resource(s) left by 1 run(s)."),
        "{}",
        c.stdout
    );
    assert!(settle_processes(&marker).is_empty());
    assert_clean(&sb);
    let again = sb.run(&["cleanup"], None, &[]);
    assert_eq!(again.stdout, "Nothing to clean up.\n");
}

fn processes_count(marker: &str) -> usize {
    build::processes_with(marker)
        .iter()
        .filter(|p| p.contains("sh -c"))
        .count()
}

#[test]
fn on_error_run_cleanup_provisioner_runs_only_that_cleanup() {
    let marker = format!("mk-rcp-{}", std::process::id());
    let t = fixture(
        &marker,
        "",
        r#"provisioner "shell-local" { inline = ["exit 1"] }
  error-cleanup-provisioner "shell-local" { inline = ["touch cleanup-ran"] }"#,
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let r = sb.run(
        &[
            "build",
            "-color=false",
            "-on-error=run-cleanup-provisioner",
            "t.pkr.hcl",
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(sb.path("cleanup-ran").exists(), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("aborted: skipping cleanup of step \"StepFiles\""));
    assert!(!r
        .stdout
        .contains("aborted: skipping cleanup of step \"StepProvision\""));
    let c = sb.run(&["cleanup"], None, &[]);
    assert_eq!(c.code, 0);
    assert!(settle_processes(&marker).is_empty());
    assert_clean(&sb);
}

#[test]
fn on_error_ask_retries_the_step_when_told() {
    // Fails the first time, passes the second.
    let t = r#"
source "null" "one" {
  communicator = "none"
}
build {
  sources = ["source.null.one"]
  provisioner "shell-local" {
    inline = ["if [ -e tried ]; then echo second try; else touch tried; exit 1; fi"]
  }
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let r = sb.run(
        &["build", "-color=false", "-on-error=ask", "t.pkr.hcl"],
        Some("r\n"),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r
        .stdout
        .contains("==> null.one: Step \"StepProvision\" failed"));
    assert!(r.stdout.contains("[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?"));
    assert!(r.stdout.contains("    null.one: second try"));
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let r = sb.run(
        &["build", "-color=false", "-on-error=ask", "t.pkr.hcl"],
        Some("c\n"),
        &[],
    );
    assert_eq!(r.code, 1);
    assert_clean(&sb);
}

#[test]
fn debug_pauses_between_steps_and_before_provisioners() {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", TWO_BUILDS)]);
    let r = sb.run(
        &[
            "build",
            "-color=false",
            "-debug",
            "-only=null.one",
            "t.pkr.hcl",
        ],
        Some("\n\n\n\n\n\n"),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let o = &r.stdout;
    assert!(
        o.starts_with("Debug mode enabled. Builds will not be parallelized.\n"),
        "{o}"
    );
    assert!(o.contains(
        "==> null.one: Pausing after run of step 'StepConnect'. Press enter to continue."
    ));
    assert!(
        o.contains("==> null.one: Pausing before the next provisioner . Press enter to continue.")
    );
    assert!(o.contains(
        "==> null.one: Pausing before cleanup of step 'StepProvision'. Press enter to continue."
    ));
}

fn overlapping(sb: &Sandbox, args: &[&str]) -> bool {
    let t = r#"
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a", "source.null.b", "source.null.c"]
  provisioner "shell-local" {
    inline = ["echo start >> log", "sleep 0.4", "echo end >> log"]
  }
}
source "null" "b" {
  communicator = "none"
}
source "null" "c" {
  communicator = "none"
}
"#;
    std::fs::write(sb.path("t.pkr.hcl"), t).unwrap();
    let _ = std::fs::remove_file(sb.path("log"));
    let r = sb.run(args, None, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let log = std::fs::read_to_string(sb.path("log")).unwrap();
    log.lines().take(2).all(|l| l == "start")
}

#[test]
fn parallel_builds_limits_concurrency() {
    let sb = Sandbox::new(FORGE, &[]);
    assert!(overlapping(&sb, &["build", "-color=false", "t.pkr.hcl"]));
    assert!(!overlapping(
        &sb,
        &["build", "-color=false", "-parallel-builds=1", "t.pkr.hcl"]
    ));
}

#[test]
fn provisioner_common_fields() {
    let t = r#"
source "null" "one" {
  communicator = "none"
}
build {
  sources = ["source.null.one"]
  provisioner "shell-local" {
    pause_before = "100ms"
    inline       = ["echo after pause"]
  }
  provisioner "shell-local" {
    max_retries = 1
    inline      = ["if [ -e once ]; then echo retried ok; else touch once; exit 1; fi"]
  }
  provisioner "shell-local" {
    except = ["null.one"]
    inline = ["echo never"]
  }
  provisioner "shell-local" {
    timeout = "300ms"
    inline  = ["sleep 10"]
  }
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let start = std::time::Instant::now();
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(9),
        "the timeout did not stop sleep 10"
    );
    assert_eq!(r.code, 1);
    let o = &r.stdout;
    assert!(
        o.contains("==> null.one: Pausing 100ms before the next provisioner...\n"),
        "{o}"
    );
    assert!(o.contains("    null.one: after pause"));
    assert!(o.contains(", retrying with 1 trie(s) left"), "{o}");
    assert!(o.contains("    null.one: retried ok"));
    assert!(!o.contains("never"));
    assert!(o.contains("==> null.one: Setting a 300ms timeout for the next provisioner..."));
    assert!(o.contains("Cancelling provisioner after a timeout..."));
    assert!(o.contains("Build 'null.one' errored after "));
    assert!(o.contains("timed out after 300ms"));
    assert_clean(&sb);
}

#[test]
fn legacy_json_templates_build() {
    let t = r#"{
  "variables": {"greeting": "hello"},
  "builders": [{"type": "null", "communicator": "none"}, {"type": "null", "name": "second", "communicator": "none"}],
  "provisioners": [
    {"type": "shell-local", "inline": ["echo {{user `greeting`}} {{build_name}} {{ build `ID` }} $PACKER_BUILD_NAME"]},
    {"type": "sleep", "duration": "10ms"},
    {"type": "breakpoint", "disable": true, "note": "skipped"}
  ]
}"#;
    let sb = Sandbox::new(FORGE, &[("t.json", t)]);
    let r = sb.run(&["build", "-color=false", "t.json"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("    null: hello null Null null"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("    second: hello second Null second"));
    assert!(r.stdout.contains(
        "==> second: Breakpoint provisioner with note \"skipped\" disabled; continuing..."
    ));
    assert_clean(&sb);
}

#[test]
fn events_stream_covers_the_run() {
    let marker = format!("mk-events-{}", std::process::id());
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &fixture(&marker, "", ""))]);
    let r = sb.run(
        &["build", "-color=false", "--events", "ev.jsonl", "t.pkr.hcl"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let text = std::fs::read_to_string(sb.path("ev.jsonl")).unwrap();
    let evs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"run.start"));
    assert_eq!(types.last(), Some(&"run.end"));
    for t in [
        "build.start",
        "step.start",
        "step.end",
        "resource.created",
        "resource.deleted",
        "artifact",
        "timeline",
        "build.end",
    ] {
        assert!(types.contains(&t), "{t} missing: {types:?}");
    }
    for e in &evs {
        assert_eq!(e["v"], 1);
        assert!(e["run"].as_str().is_some_and(|r| r.len() == 36));
    }
    let created = types.iter().filter(|t| **t == "resource.created").count();
    let deleted = types.iter().filter(|t| **t == "resource.deleted").count();
    // Directory, 3 files, 2 processes, the shell-local temp script is absent (no provisioner).
    assert_eq!(created, 6);
    assert_eq!(created, deleted);
    let end = evs.iter().find(|e| e["type"] == "build.end").unwrap();
    assert_eq!(end["status"], "ok");
    let tl = evs.iter().find(|e| e["type"] == "timeline").unwrap();
    assert_eq!(tl["phases"][0]["name"], "StepTempDir");
    assert_clean(&sb);
}

#[test]
fn bad_flags_and_unknown_plugins_fail_clearly() {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", TWO_BUILDS)]);
    let r = sb.run(&["build", "-on-error=explode", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 1);
    assert!(r
        .stderr
        .contains("invalid value \"explode\" for flag -on-error"));
    let t = r#"
source "file" "two" {
  content = "x"
}
build {
  sources = ["source.file.two"]
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("* target required"), "{}", r.stdout);
    assert!(r.stdout.contains("on t.pkr.hcl line 2"), "{}", r.stdout);
    assert_clean(&sb);
}

#[test]
fn post_processor_chains_keep_and_destroy_artifacts_as_packer_does() {
    let t = r#"
source "file" "f" {
  content = "payload"
  target  = "out/f.txt"
}
build {
  sources = ["source.file.f"]
  post-processors {
    post-processor "checksum" {
      checksum_types = ["sha256"]
      output         = "out/f.{{.ChecksumType}}"
    }
    post-processor "compress" {
      output = "out/f.tar.gz"
    }
  }
  post-processor "manifest" {
    output      = "out/manifest.json"
    custom_data = { run = "first" }
  }
}
"#;
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", t)]);
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let o = &r.stdout;
    assert!(
        o.contains("==> file.f: Running post-processor:  (type checksum)"),
        "{o}"
    );
    assert!(o.contains("==> file.f (compress): "), "{o}");
    // The checksum artifact is an intermediate (compress does not keep its input): destroyed,
    // so its checksum file is gone; the builder's artifact is kept by the manifest chain.
    assert!(o.contains("--> file.f: Stored file: out/f.txt\n--> file.f: compressed artifacts in: out/f.tar.gz\n--> file.f: Stored file: out/f.txt\n"), "{o}");
    assert!(sb.path("out/f.tar.gz").exists());
    // As in Packer 1.6.6 (checked side by side): destroying the checksum artifact removes every
    // file it lists, the builder's file included, though the summary still names it.
    assert!(!sb.path("out/f.txt").exists());
    assert!(!sb.path("out/f.sha256").exists());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["builds"][0]["name"], "f");
    assert_eq!(m["builds"][0]["builder_type"], "file");
    assert_eq!(m["builds"][0]["artifact_id"], "File");
    assert_eq!(m["builds"][0]["custom_data"]["run"], "first");
    assert_eq!(m["builds"][0]["files"][0]["name"], "out/f.txt");
    // A second run appends; -force resets the file for the new run.
    let r = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 0);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["builds"].as_array().unwrap().len(), 2);
    let r = sb.run(&["build", "-color=false", "-force", "t.pkr.hcl"], None, &[]);
    assert_eq!(r.code, 0);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["builds"].as_array().unwrap().len(), 1);
    assert_eq!(m["last_run_uuid"], m["builds"][0]["packer_run_uuid"]);
    assert_clean(&sb);
}
