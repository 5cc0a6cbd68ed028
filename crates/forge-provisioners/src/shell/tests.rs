//! The shell provisioner's checks and its run against the scripted communicator double
//! (`crate::testing::FakeComm`); end-to-end tests against a real OpenSSH server are added
//! separately.

use std::time::{Duration, Instant};

use forge_core::plugin::{BuildCtx, BuildData, Stream, DISCONNECTED};
use forge_core::Error;
use serde_json::json;

use super::*;
use crate::testing::{info, scratch, ui, value, Call, FakeComm, Reply};

fn prepare(v: serde_json::Value) -> Result<Config, Vec<String>> {
    Config::prepare(&value(v), &info())
}

/// A config whose retries are quick: tries 5ms apart for `timeout_ms`.
fn quick(v: serde_json::Value, timeout_ms: u64) -> Config {
    let mut c = prepare(v).unwrap();
    c.retry.timeout = Duration::from_millis(timeout_ms);
    c.retry.delay = Duration::from_millis(5);
    c
}

async fn provision(
    c: &Config,
    comm: &FakeComm,
    data: &BuildData,
) -> (forge_core::Result<()>, String) {
    let ctx = BuildCtx::for_test("null");
    let (ui, buf) = ui();
    let r = run::run(&ctx, &ui, c, comm, data).await;
    (r, buf.text())
}

fn upload_of(call: &Call) -> Option<(&str, &[u8])> {
    match call {
        Call::Upload(dst, _, bytes) => Some((dst.as_str(), bytes.as_slice())),
        _ => None,
    }
}

// ---- configuration ----

#[test]
fn nothing_to_run() {
    assert_eq!(
        prepare(json!({})).unwrap_err(),
        ["Either a script file or inline script must be specified."]
    );
    // An empty inline list is no inline at all.
    assert_eq!(
        prepare(json!({"inline": []})).unwrap_err(),
        ["Either a script file or inline script must be specified."]
    );
}

#[test]
fn every_error_at_once_in_packers_order() {
    let errs = prepare(json!({
        "script": "nope.sh",
        "scripts": ["x.sh"],
        "inline": ["a"],
        "environment_vars": ["=foo", "bar", "OK=1"],
    }))
    .unwrap_err();
    assert_eq!(
        errs,
        [
            "Only one of script or scripts can be specified.",
            "Only a script file or an inline script can be specified, not both.",
            "Bad script 'nope.sh': stat nope.sh: no such file or directory",
            "Environment variable not in format 'key=value': =foo",
            "Environment variable not in format 'key=value': bar",
        ]
    );
}

#[test]
fn bad_durations_and_types_are_errors_not_panics() {
    let errs = prepare(json!({
        "inline": ["a"],
        "start_retry_timeout": "bogus",
        "pause_after": "3 minutes",
    }))
    .unwrap_err();
    // Durations are decoded as Packer's plugins decode them: both errors, mapstructure's summary.
    assert_eq!(
        errs,
        ["2 error(s) decoding:\n\n* error decoding 'pause_after': time: unknown unit \" minutes\" in duration \"3 minutes\"\n* error decoding 'start_retry_timeout': time: invalid duration \"bogus\""]
    );
    let errs = prepare(json!({"inline": ["a"], "valid_exit_codes": ["x"]})).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains("valid_exit_codes") || errs[0].contains("invalid type"),
        "{errs:?}"
    );
}

#[test]
fn packer_defaults() {
    let c = prepare(json!({"inline": ["a"]})).unwrap();
    assert_eq!(c.env_var_format, "%s='%s' ");
    assert_eq!(c.execute_command, "chmod +x {{.Path}}; {{.Vars}} {{.Path}}");
    assert_eq!(c.inline_shebang, "/bin/sh -e");
    assert!(!c.inline_shebang_set);
    assert_eq!(c.remote_folder, "/tmp");
    let n = c
        .remote_path
        .strip_prefix("/tmp/script_")
        .and_then(|r| r.strip_suffix(".sh"))
        .and_then(|n| n.parse::<u32>().ok())
        .expect("script_<n>.sh");
    assert!(n < 9999);
    assert_eq!(c.valid_exit_codes, [0]);
    assert_eq!(c.retry.timeout, DEFAULT_START_RETRY_TIMEOUT);
    assert_eq!(c.retry.delay, Duration::from_secs(2));
    assert!(c.pause_after.is_zero());
    assert_eq!(
        (c.build_name.as_str(), c.builder_type.as_str()),
        ("null", "null")
    );

    let c = prepare(json!({"inline": ["a"], "use_env_var_file": true})).unwrap();
    assert_eq!(c.env_var_format, "export %s='%s'\n");
    assert_eq!(
        c.execute_command,
        "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
    );
}

#[test]
fn remote_names() {
    let c = prepare(json!({"inline": ["a"], "remote_folder": "/var/tmp", "remote_file": "s.sh"}))
        .unwrap();
    assert_eq!(c.remote_path, "/var/tmp/s.sh");
    // remote_path wins; remote_folder still holds the env var file.
    let c = prepare(json!({"inline": ["a"], "remote_folder": "/v", "remote_path": "/opt/p.sh"}))
        .unwrap();
    assert_eq!(
        (c.remote_path.as_str(), c.remote_folder.as_str()),
        ("/opt/p.sh", "/v")
    );
}

#[test]
fn retry_timeouts() {
    let c = prepare(json!({"inline": ["a"], "start_retry_timeout": "10s"})).unwrap();
    assert_eq!(c.retry.timeout, Duration::from_secs(10));
    let c = prepare(json!({"inline": ["a"], "start_retry_timeout": "0s"})).unwrap();
    assert_eq!(c.retry.timeout, DEFAULT_START_RETRY_TIMEOUT);
    // Negative: Packer's timer has already fired, so there is a single try.
    let c = prepare(json!({"inline": ["a"], "start_retry_timeout": "-1s"})).unwrap();
    assert_eq!(c.retry.timeout, Duration::ZERO);
}

#[test]
fn script_and_scripts() {
    let dir = scratch("shell-scripts");
    let a = dir.join("a.sh").display().to_string();
    let b = dir.join("b.sh").display().to_string();
    std::fs::write(&a, "echo a\n").unwrap();
    std::fs::write(&b, "echo b\n").unwrap();
    assert_eq!(prepare(json!({"script": a})).unwrap().scripts, [a.as_str()]);
    assert_eq!(
        prepare(json!({"scripts": [a, b]})).unwrap().scripts,
        [a.clone(), b.clone()]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- running ----

#[tokio::test]
async fn inline_upload_chmod_run_clean() {
    let c = prepare(json!({"inline": ["echo hi", "echo {{ .ID }}"], "remote_path": "/tmp/s.sh"}))
        .unwrap();
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(cmd) if cmd.starts_with("chmod +x") => Reply::out(&[
            (Stream::Stdout, "hi\n"),
            (Stream::Stderr, "warn"),
            (Stream::Stdout, ""),
            (Stream::Stdout, "50%\r100%  "),
        ]),
        _ => Reply::code(0),
    });
    let mut data = BuildData::new();
    data.insert("ID".into(), "i-123".into());
    let (r, out) = provision(&c, &comm, &data).await;
    r.unwrap();
    let calls = comm.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(
        upload_of(&calls[0]),
        Some(("/tmp/s.sh", &b"#!/bin/sh -e\necho hi\necho i-123\n"[..]))
    );
    assert_eq!(
        comm.commands(),
        [
            "chmod 0755 /tmp/s.sh",
            "chmod +x /tmp/s.sh; PACKER_BUILDER_TYPE='null' PACKER_BUILD_NAME='null'  /tmp/s.sh",
            "rm -f /tmp/s.sh",
        ]
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("==> null: Provisioning with shell script: ")
            && lines[0].contains("packer-shell"),
        "{out}"
    );
    assert_eq!(
        &lines[1..],
        [
            "    null: hi",
            "==> null: warn",
            "    null:",
            "    null: 100%"
        ]
    );
}

#[tokio::test]
async fn inline_shebang_rules() {
    let run_with = async |v: serde_json::Value| {
        let comm = FakeComm::new();
        provision(&prepare(v).unwrap(), &comm, &BuildData::new())
            .await
            .0
            .unwrap();
        upload_of(&comm.calls()[0]).unwrap().1.to_vec()
    };
    assert_eq!(
        run_with(json!({"inline": ["#!/bin/bash", "echo"]})).await,
        b"#!/bin/bash\necho\n"
    );
    assert_eq!(
        run_with(json!({"inline": ["#!/bin/bash", "echo"], "inline_shebang": "/bin/zsh"})).await,
        b"#!/bin/zsh\n#!/bin/bash\necho\n"
    );
}

#[tokio::test]
async fn scripts_in_order_with_line_endings() {
    let dir = scratch("shell-crlf");
    let a = dir.join("a.sh");
    let b = dir.join("b.sh");
    std::fs::write(&a, "echo a\r\necho -n end").unwrap();
    std::fs::write(&b, "echo b\n").unwrap();
    let v = json!({"scripts": [a, b], "remote_path": "/tmp/s.sh", "skip_clean": true});
    let comm = FakeComm::new();
    let (r, out) = provision(&prepare(v.clone()).unwrap(), &comm, &BuildData::new()).await;
    r.unwrap();
    let uploads: Vec<Vec<u8>> = comm
        .calls()
        .iter()
        .filter_map(|c| upload_of(c).map(|u| u.1.to_vec()))
        .collect();
    assert_eq!(
        uploads,
        [b"echo a\necho -n end\n".to_vec(), b"echo b\n".to_vec()]
    );
    assert_eq!(
        out,
        format!(
            "==> null: Provisioning with shell script: {}\n==> null: Provisioning with shell script: {}\n",
            a.display(),
            b.display()
        )
    );
    // binary: uploaded as it is, from the file itself.
    let mut bin = v;
    bin["binary"] = json!(true);
    let comm = FakeComm::new();
    provision(&prepare(bin).unwrap(), &comm, &BuildData::new())
        .await
        .0
        .unwrap();
    assert_eq!(
        comm.calls()[0],
        Call::Upload(
            "/tmp/s.sh".into(),
            a.clone(),
            b"echo a\r\necho -n end".to_vec()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_script_removed_after_prepare_is_a_clear_error() {
    let dir = scratch("shell-gone");
    let a = dir.join("gone.sh");
    std::fs::write(&a, "true\n").unwrap();
    let c = prepare(json!({"script": a})).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let comm = FakeComm::new();
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!(
            "Error opening shell script: open {}: no such file or directory",
            a.display()
        )
    );
    assert!(comm.calls().is_empty());
}

#[tokio::test]
async fn environment_and_execute_command() {
    let c = prepare(json!({
        "inline": ["true"],
        "remote_path": "/tmp/s.sh",
        "environment_vars": ["B=it's", "A=1"],
        "env": {"C": "x"},
        "execute_command": "sudo -E sh -c '{{.Vars}} {{.Path}}' # {{.ID}} [{{.EnvVarFile}}]",
    }))
    .unwrap();
    let mut data = BuildData::new();
    data.insert("ID".into(), "i-9".into());
    data.insert("PackerHTTPAddr".into(), "10.0.2.2:8000".into());
    data.insert(
        "PackerHTTPIP".into(),
        "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER".into(),
    );
    let comm = FakeComm::new();
    provision(&c, &comm, &data).await.0.unwrap();
    assert_eq!(
        comm.commands()[1],
        "sudo -E sh -c 'A='1' B='it'\"'\"'s' C='x' PACKER_BUILDER_TYPE='null' PACKER_BUILD_NAME='null' PACKER_HTTP_ADDR='10.0.2.2:8000'  /tmp/s.sh' # i-9 []"
    );
}

#[tokio::test]
async fn env_var_file_is_uploaded_sourced_and_removed() {
    let c = prepare(json!({
        "inline": ["true"],
        "remote_path": "/tmp/s.sh",
        "remote_folder": "/var/tmp",
        "use_env_var_file": true,
        "environment_vars": ["SECRET=s3cret"],
    }))
    .unwrap();
    let comm = FakeComm::new();
    let (r, out) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    let calls = comm.calls();
    let (vf, content) = upload_of(&calls[0]).unwrap();
    assert!(
        vf.starts_with("/var/tmp/varfile_") && vf.ends_with(".sh"),
        "{vf}"
    );
    assert_eq!(
        content,
        b"export PACKER_BUILDER_TYPE='null'\nexport PACKER_BUILD_NAME='null'\nexport SECRET='s3cret'\n"
    );
    assert_eq!(
        comm.commands(),
        [
            format!("chmod 0600 {vf}"),
            "chmod 0755 /tmp/s.sh".to_string(),
            format!("chmod +x /tmp/s.sh; . {vf} && /tmp/s.sh"),
            "rm -f /tmp/s.sh".to_string(),
            format!("rm -f {vf}"),
        ]
    );
    // The variables' values never reach the UI.
    assert!(!out.contains("s3cret"), "{out}");
}

/// Each call as `upload` or the command's first two words.
fn call_kinds(comm: &FakeComm) -> Vec<String> {
    comm.calls()
        .iter()
        .map(|c| match c {
            Call::Upload(..) => "upload".to_string(),
            Call::Exec(cmd) => cmd.split(' ').take(2).collect::<Vec<_>>().join(" "),
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn uploads_and_starts_are_retried_until_they_work() {
    let c = quick(
        json!({"inline": ["true"], "remote_path": "/tmp/s.sh"}),
        5_000,
    );
    // Two failed uploads, then a command that cannot start, then success.
    let comm = FakeComm::scripted(|call, n| match (call, n) {
        (Call::Upload(..), 0 | 1) => Reply::fail("connection refused"),
        (Call::Exec(cmd), _) if cmd.starts_with("chmod +x") && n < 6 => {
            Reply::fail("session closed")
        }
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    let kinds = call_kinds(&comm);
    assert_eq!(
        kinds,
        [
            "upload",
            "upload",
            "upload",
            "chmod 0755",
            "chmod +x",
            "upload",
            "chmod 0755",
            "chmod +x",
            "rm -f"
        ]
    );
}

#[tokio::test]
async fn retries_stop_at_start_retry_timeout_with_the_last_error() {
    let c = quick(json!({"inline": ["true"]}), 60);
    let comm = FakeComm::scripted(|_, n| Reply::fail(&format!("unreachable ({n})")));
    let started = Instant::now();
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    let tries = comm.calls().len();
    assert!(tries > 1, "{tries}");
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("Error uploading script: unreachable ({})", tries - 1)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn chmod_failures_are_named() {
    let c = quick(json!({"inline": ["true"]}), 0);
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(_) => Reply::fail("channel closed"),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error chmodding script file to 0755 in remote machine: channel closed"
    );
}

#[tokio::test]
async fn expected_disconnect_then_cleanup_waits_for_the_machine() {
    let c = quick(
        json!({"inline": ["reboot"], "remote_path": "/tmp/s.sh", "expect_disconnect": true}),
        5_000,
    );
    let mut rm_tries = 0;
    let comm = FakeComm::scripted(move |call, _| match call {
        Call::Exec(cmd) if cmd.starts_with("chmod +x") => Reply::code(DISCONNECTED),
        Call::Exec(cmd) if cmd.starts_with("rm -f") => {
            rm_tries += 1;
            match rm_tries {
                1 => Reply::fail("connection refused"),
                2 => Reply::code(DISCONNECTED),
                _ => Reply::code(0),
            }
        }
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    let rms = comm
        .commands()
        .iter()
        .filter(|c| c.starts_with("rm -f"))
        .count();
    assert_eq!(rms, 3);
}

#[tokio::test]
async fn unexpected_disconnect_fails_even_if_listed_as_valid() {
    // Packer 1.6.6 checks the sentinel first: listing 2300218 does not help.
    let c = prepare(json!({"inline": ["reboot"], "valid_exit_codes": [0, 2300218]})).unwrap();
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(cmd) if cmd.starts_with("chmod +x") => Reply::code(DISCONNECTED),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can try adding `\"expect_disconnect\": true` or `\"valid_exit_codes\": [0, 2300218]` to the shell provisioner parameters."
    );
    assert!(!comm.commands().iter().any(|c| c.starts_with("rm")));
}

#[tokio::test]
async fn exit_codes_are_checked_against_valid_exit_codes() {
    let exits = |code: i32| {
        move |call: &Call, _: usize| match call {
            Call::Exec(cmd) if cmd.starts_with("chmod +x") => Reply::code(code),
            _ => Reply::code(0),
        }
    };
    let c = prepare(json!({"inline": ["exit 3"], "valid_exit_codes": [0, 3]})).unwrap();
    provision(&c, &FakeComm::scripted(exits(3)), &BuildData::new())
        .await
        .0
        .unwrap();
    let c = prepare(json!({"inline": ["exit 4"]})).unwrap();
    let comm = FakeComm::scripted(exits(4));
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Script exited with non-zero exit status: 4.Allowed exit codes are: [0]"
    );
    // A failed script stays on the machine, as with Packer.
    assert!(!comm.commands().iter().any(|c| c.starts_with("rm")));
}

#[tokio::test]
async fn skip_clean_leaves_the_files() {
    let c =
        prepare(json!({"inline": ["true"], "skip_clean": true, "use_env_var_file": true})).unwrap();
    let comm = FakeComm::new();
    provision(&c, &comm, &BuildData::new()).await.0.unwrap();
    assert!(!comm.commands().iter().any(|c| c.starts_with("rm")));
}

#[tokio::test]
async fn cleanup_failure_is_reported() {
    let c = quick(json!({"inline": ["true"], "remote_path": "/tmp/s.sh"}), 30);
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(cmd) if cmd.starts_with("rm -f") => Reply::code(1),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error removing temporary script at /tmp/s.sh!"
    );
}

#[tokio::test]
async fn pause_after_says_so() {
    let c = prepare(json!({"inline": ["true"], "pause_after": "20ms"})).unwrap();
    let started = Instant::now();
    let (r, out) = provision(&c, &FakeComm::new(), &BuildData::new()).await;
    r.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert!(
        out.ends_with("==> null: Pausing 20ms after this provisioner...\n"),
        "{out}"
    );
}

#[tokio::test]
async fn cancellation_stops_the_retries() {
    let c = quick(json!({"inline": ["true"]}), 60_000);
    let ctx = BuildCtx::for_test("null");
    let (ui, _) = ui();
    let cancel = ctx.cancel.clone();
    let comm = FakeComm::scripted(move |_, n| {
        if n == 2 {
            cancel.cancel();
        }
        Reply::fail("unreachable")
    });
    let r = run::run(&ctx, &ui, &c, &comm, &BuildData::new()).await;
    assert_eq!(r, Err(Error::Cancelled));
}

#[tokio::test]
async fn without_a_communicator_it_fails_at_once() {
    let p = factory(&value(json!({"inline": ["true"]})), &info()).unwrap();
    let ctx = BuildCtx::for_test("null");
    let (ui, buf) = ui();
    let started = Instant::now();
    let r = p.provision(&ctx, &ui, None, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error uploading script: Upload is not implemented when communicator = 'none'"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(buf
        .text()
        .starts_with("==> null: Provisioning with shell script: "));
}

#[test]
fn output_lines_are_cleaned_like_packer() {
    assert_eq!(clean_output_line("plain"), "plain");
    assert_eq!(clean_output_line("trailing \t\r\n"), "trailing");
    assert_eq!(clean_output_line("10%\r50%\r100%"), "100%");
    assert_eq!(clean_output_line("  lead"), "  lead");
}

#[tokio::test]
async fn a_reboot_between_upload_and_run_uploads_the_script_again() {
    let c = quick(
        json!({"inline": ["true"], "remote_path": "/tmp/s.sh"}),
        5_000,
    );
    // The first upload lands on the old boot; the chmod reconnects to the new one, where the
    // script is gone.
    let comm = FakeComm::scripted(|call, n| match (call, n) {
        (Call::Exec(cmd), 1) if cmd.starts_with("chmod 0755") => Reply::code(1).after_reboot(),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    let kinds = call_kinds(&comm);
    assert_eq!(
        kinds,
        [
            "upload",
            "chmod 0755",
            "upload",
            "chmod 0755",
            "chmod +x",
            "rm -f"
        ]
    );
}

#[tokio::test]
async fn a_script_missing_after_a_reboot_is_uploaded_again() {
    let c = quick(
        json!({"inline": ["true"], "remote_path": "/tmp/s.sh"}),
        5_000,
    );
    // The chmod still reached the old boot; the run finds the new one and no script (127).
    let comm = FakeComm::scripted(|call, n| match (call, n) {
        (Call::Exec(cmd), 2) if cmd.starts_with("chmod +x") => Reply::code(127).after_reboot(),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    assert_eq!(comm.calls().len(), 7, "{:?}", comm.calls());
    // A 127 without a reboot is the script's own answer.
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(cmd) if cmd.starts_with("chmod +x") => Reply::code(127),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert!(r.unwrap_err().to_string().contains("127"));
}
