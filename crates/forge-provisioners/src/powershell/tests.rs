use std::time::Duration;

use forge_core::plugin::{BuildData, Stream};
use serde_json::json;

use super::config::Config;
use super::run::run;
use crate::testing::*;

fn config(j: serde_json::Value) -> Config {
    Config::prepare(&value(j), &info()).unwrap()
}

fn errors(j: serde_json::Value) -> Vec<String> {
    Config::prepare(&value(j), &info()).unwrap_err()
}

/// Fixed remote names, so that commands can be compared whole.
fn fixed(mut j: serde_json::Value) -> Config {
    j["remote_path"] = json!("c:/Windows/Temp/script-T.ps1");
    j["remote_env_var_path"] = json!("c:/Windows/Temp/packer-ps-env-vars-T.ps1");
    let mut c = config(j);
    c.cleanup_path = "c:/Windows/Temp/packer-cleanup-T.ps1".into();
    c.retry.delay = Duration::from_millis(1);
    c
}

/// What only the command running the script holds.
const RUN_SCRIPT: &str = "&'c:/Windows/Temp/script-T.ps1'";

/// Packer 1.6.6's default command for the fixed names, written out.
const DEFAULT_COMMAND: &str = "powershell -executionpolicy bypass \"& { if (Test-Path variable:global:ProgressPreference){set-variable -name variable:global:ProgressPreference -value 'SilentlyContinue'};. c:/Windows/Temp/packer-ps-env-vars-T.ps1; &'c:/Windows/Temp/script-T.ps1'; exit $LastExitCode }\"";
const CLEANUP_COMMAND: &str = "powershell -executionpolicy bypass \"& { if (Test-Path variable:global:ProgressPreference){set-variable -name variable:global:ProgressPreference -value 'SilentlyContinue'};. c:/Windows/Temp/packer-ps-env-vars-T.ps1; &'c:/Windows/Temp/packer-cleanup-T.ps1'; exit $LastExitCode }\"";

async fn provision(
    c: &Config,
    comm: &FakeComm,
    data: &BuildData,
) -> (forge_core::Result<()>, String) {
    let (ctx, _) = forge_core::testing::ctx("null");
    let (ui, buf) = ui();
    let r = run(&ctx, &ui, c, comm, data).await;
    if let Err(e) = &r {
        // As the build prints it.
        ui.error(&e.to_string());
    }
    (r, buf.text())
}

#[tokio::test]
async fn inline_lines_run_with_packers_default_command_and_are_cleaned_up() {
    let c = fixed(json!({"inline": ["Write-Host hi", "exit 0"]}));
    let comm = answering(vec![(
        RUN_SCRIPT,
        vec![Reply::out(&[
            (Stream::Stdout, "hi\r"),
            (Stream::Stderr, "warn"),
        ])],
    )]);
    let (r, out) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    assert_eq!(
        trace(&comm),
        [
            "upload c:/Windows/Temp/packer-ps-env-vars-T.ps1".to_string(),
            "upload c:/Windows/Temp/script-T.ps1".into(),
            format!("exec {DEFAULT_COMMAND}"),
            "upload c:/Windows/Temp/packer-cleanup-T.ps1".into(),
            format!("exec {CLEANUP_COMMAND}"),
        ]
    );
    let uploads = comm.uploads();
    assert_eq!(
        uploads[0].1,
        "$env:PACKER_BUILDER_TYPE=\"null\"; $env:PACKER_BUILD_NAME=\"null\"; "
    );
    assert_eq!(uploads[1].1, "Write-Host hi\nexit 0\n");
    assert_eq!(
        uploads[2].1,
        "if (Test-Path c:/Windows/Temp/packer-ps-env-vars-T.ps1) {Remove-Item c:/Windows/Temp/packer-ps-env-vars-T.ps1}\n\
         if (Test-Path c:/Windows/Temp/script-T.ps1) {Remove-Item c:/Windows/Temp/script-T.ps1}\n\
         if (Test-Path c:/Windows/Temp/packer-cleanup-T.ps1) {Remove-Item c:/Windows/Temp/packer-cleanup-T.ps1}\n"
    );
    assert!(out.starts_with("==> null: Provisioning with Powershell...\n==> null: Provisioning with powershell script: "), "{out}");
    assert!(out.contains("/powershell-provisioner"), "{out}");
    assert!(out.contains("    null: hi\n"), "{out}");
    assert!(out.contains("==> null: warn\n"), "{out}");
}

#[test]
fn defaults_are_packers() {
    let c = config(json!({"inline": ["x"]}));
    assert!(
        c.remote_path.starts_with("c:/Windows/Temp/script-") && c.remote_path.ends_with(".ps1")
    );
    assert!(c
        .remote_env_var_path
        .starts_with("c:/Windows/Temp/packer-ps-env-vars-"));
    assert!(c
        .cleanup_path
        .starts_with("c:/Windows/Temp/packer-cleanup-"));
    assert_eq!(c.env_var_format, "$env:%s=\"%s\"; ");
    assert_eq!(c.elevated_env_var_format, "$env:%s=\"%s\"; ");
    assert_eq!(c.execute_command, c.elevated_execute_command);
    assert_eq!(
        c.execute_command,
        "powershell -executionpolicy bypass \"& { if (Test-Path variable:global:ProgressPreference){set-variable -name variable:global:ProgressPreference -value 'SilentlyContinue'};. {{.Vars}}; &'{{.Path}}'; exit $LastExitCode }\""
    );
    assert_eq!(c.retry.timeout, Duration::from_secs(300));
    assert_eq!(c.valid_exit_codes, [0]);
    assert!(!c.skip_clean);
}

#[test]
fn execution_policies_debug_mode_and_pwsh_shape_the_command() {
    let base = "\"& { if (Test-Path variable:global:ProgressPreference){set-variable -name variable:global:ProgressPreference -value 'SilentlyContinue'};. {{.Vars}}; &'{{.Path}}'; exit $LastExitCode }\"";
    for p in [
        "bypass",
        "allsigned",
        "default",
        "remotesigned",
        "restricted",
        "undefined",
        "unrestricted",
    ] {
        let c = config(json!({"inline": ["x"], "execution_policy": p}));
        assert_eq!(
            c.execute_command,
            format!("powershell -executionpolicy {p} {base}")
        );
    }
    // By number, as Packer's decode hook allows.
    let c = config(json!({"inline": ["x"], "execution_policy": "3"}));
    assert_eq!(
        c.execute_command,
        format!("powershell -executionpolicy remotesigned {base}")
    );
    let c = config(json!({"inline": ["x"], "execution_policy": 6}));
    assert!(c
        .execute_command
        .starts_with("powershell -executionpolicy unrestricted "));
    let c = config(json!({"inline": ["x"], "execution_policy": "none"}));
    assert_eq!(c.execute_command, &base[1..base.len() - 1]);
    let c = config(json!({"inline": ["x"], "debug_mode": 2}));
    assert!(
        c.execute_command
            .contains("'SilentlyContinue'};Set-PsDebug -Trace 2;. {{.Vars}}"),
        "{}",
        c.execute_command
    );
    let c = config(json!({"inline": ["x"], "use_pwsh": true}));
    assert_eq!(
        c.execute_command,
        format!("pwsh -executionpolicy bypass -command {base}")
    );
    // Custom commands are kept; the elevated one defaults to the default command.
    let c = config(
        json!({"inline": ["x"], "execute_command": "run {{.Path}}", "elevated_execute_command": "elev {{.Path}}"}),
    );
    assert_eq!(
        (
            c.execute_command.as_str(),
            c.elevated_execute_command.as_str()
        ),
        ("run {{.Path}}", "elev {{.Path}}")
    );
}

#[test]
fn bad_input_fails_in_packers_words() {
    assert_eq!(
        errors(json!({})),
        ["Either a script file or inline script must be specified."]
    );
    assert_eq!(
        errors(json!({"script": "nope.ps1", "scripts": ["a"], "environment_vars": ["=x", "y"]})),
        [
            "Only one of script or scripts can be specified.",
            "Bad script 'nope.ps1': stat nope.ps1: no such file or directory",
            "Environment variable not in format 'key=value': =x",
            "Environment variable not in format 'key=value': y",
        ]
    );
    assert_eq!(
        errors(json!({"inline": ["a"], "debug_mode": 3, "elevated_password": "x"})),
        [
            "Must supply an 'elevated_user' if 'elevated_password' provided",
            "3 is an invalid Trace level for `debug_mode`; valid values are 0, 1, and 2",
        ]
    );
    assert_eq!(
        errors(json!({"inline": ["a"], "debug_mode": -1})),
        ["-1 is an invalid Trace level for `debug_mode`; valid values are 0, 1, and 2"]
    );
    let invalid = "Invalid execution policy provided. Please supply one of: \"bypass\", \"allsigned\", \"default\", \"remotesigned\", \"restricted\", \"undefined\", \"unrestricted\", \"none\".";
    assert_eq!(
        errors(json!({"inline": ["a"], "execution_policy": 9})),
        [invalid]
    );
    assert_eq!(
        errors(json!({"inline": ["a"], "execution_policy": "9"})),
        [invalid]
    );
    // Names are matched exactly; a failed decode is mapstructure's summary, alone.
    assert_eq!(
        errors(json!({"execution_policy": "Bypass"})),
        ["1 error(s) decoding:\n\n* error decoding 'execution_policy': Bypass does not belong to ExecutionPolicy values"]
    );
    assert_eq!(
        errors(json!({"inline": ["a", "b"], "script": "Cargo.toml"})),
        ["Only a script file or an inline script can be specified, not both."]
    );
    // Packer accepts a negative policy number and prints it as Go does.
    let c = config(json!({"inline": ["a"], "execution_policy": -1}));
    assert!(c
        .execute_command
        .starts_with("powershell -executionpolicy ExecutionPolicy(-1) \""));
    // An empty inline list is no inline script.
    assert_eq!(
        errors(json!({"inline": []})),
        ["Either a script file or inline script must be specified."]
    );
}

#[tokio::test]
async fn environment_is_escaped_for_powershell_and_rendered_with_the_build() {
    let mut c = fixed(json!({
        "inline": ["x"],
        "environment_vars": ["A=it's \"$x\" `y`", "B=c=d", "ID={{.ID}}"],
        "env": {"C": "{{.ID}}$"},
    }));
    c.build_name = "b".into();
    c.builder_type = "qemu".into();
    let data: BuildData = [
        ("ID", "i-1"),
        ("PackerHTTPAddr", "10.0.2.2:8100"),
        ("PackerHTTPIP", "10.0.2.2"),
        ("PackerHTTPPort", "8100"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let comm = FakeComm::new();
    provision(&c, &comm, &data).await.0.unwrap();
    assert_eq!(
        comm.uploads()[0].1,
        "$env:A=\"it`'s `\"`$x`\" ``y``\"; $env:B=\"c=d\"; $env:C=\"i-1`$\"; $env:ID=\"i-1\"; \
         $env:PACKER_BUILDER_TYPE=\"qemu\"; $env:PACKER_BUILD_NAME=\"b\"; \
         $env:PACKER_HTTP_ADDR=\"10.0.2.2:8100\"; $env:PACKER_HTTP_IP=\"10.0.2.2\"; $env:PACKER_HTTP_PORT=\"8100\"; "
    );
    // A custom format, and a build without an HTTP server.
    let mut c = fixed(json!({"inline": ["x"], "env_var_format": "%s=%s\n"}));
    c.build_name = "b".into();
    let none: BuildData = [("PackerHTTPAddr", "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let comm = FakeComm::new();
    provision(&c, &comm, &none).await.0.unwrap();
    assert_eq!(
        comm.uploads()[0].1,
        "PACKER_BUILDER_TYPE=null\nPACKER_BUILD_NAME=b\n"
    );
}

#[tokio::test]
async fn scripts_run_in_order_and_exit_codes_are_judged() {
    let d = scratch("ps-scripts");
    let (a, b) = (d.join("a.ps1"), d.join("b.ps1"));
    std::fs::write(&a, "Write-Host a\r\n").unwrap();
    std::fs::write(&b, "exit 3").unwrap();
    let scripts = json!([a.to_str().unwrap(), b.to_str().unwrap()]);
    let comm = answering(vec![(RUN_SCRIPT, vec![Reply::code(0), Reply::code(3)])]);
    let (r, out) = provision(
        &fixed(json!({"scripts": scripts})),
        &comm,
        &BuildData::new(),
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
    );
    // Uploaded as they are (no line-end conversion); no clean-up after a failure.
    assert_eq!(comm.uploads()[1].1, "Write-Host a\r\n");
    assert_eq!(comm.uploads().len(), 4, "{:?}", trace(&comm));
    assert!(!trace(&comm).iter().any(|t| t.contains("cleanup")));
    assert!(out.contains(&format!(
        "Provisioning with powershell script: {}",
        b.display()
    )));

    let comm = answering(vec![(RUN_SCRIPT, vec![Reply::code(0), Reply::code(3)])]);
    let c = fixed(json!({"scripts": scripts, "valid_exit_codes": [0, 3]}));
    provision(&c, &comm, &BuildData::new()).await.0.unwrap();
    // The environment file is uploaded for each script; the clean-up lists each upload.
    assert_eq!(
        trace(&comm),
        [
            "upload c:/Windows/Temp/packer-ps-env-vars-T.ps1".to_string(),
            "upload c:/Windows/Temp/script-T.ps1".into(),
            format!("exec {DEFAULT_COMMAND}"),
            "upload c:/Windows/Temp/packer-ps-env-vars-T.ps1".into(),
            "upload c:/Windows/Temp/script-T.ps1".into(),
            format!("exec {DEFAULT_COMMAND}"),
            "upload c:/Windows/Temp/packer-cleanup-T.ps1".into(),
            format!("exec {CLEANUP_COMMAND}"),
        ]
    );
    assert_eq!(comm.uploads()[4].1.lines().count(), 4);
    std::fs::remove_dir_all(d).ok();
}

#[tokio::test]
async fn skip_clean_leaves_the_files() {
    let comm = FakeComm::new();
    provision(
        &fixed(json!({"inline": ["x"], "skip_clean": true})),
        &comm,
        &BuildData::new(),
    )
    .await
    .0
    .unwrap();
    assert_eq!(trace(&comm).len(), 3, "{:?}", trace(&comm));
}

#[tokio::test]
async fn a_failing_cleanup_does_not_fail_the_provisioner() {
    let comm = answering(vec![(
        "upload c:/Windows/Temp/packer-cleanup-T.ps1",
        vec![Reply::fail("gone")],
    )]);
    let mut c = fixed(json!({"inline": ["x"]}));
    c.cleanup_retry = crate::common::retry::Retry {
        timeout: Duration::from_millis(20),
        delay: Duration::from_millis(1),
    };
    provision(&c, &comm, &BuildData::new()).await.0.unwrap();
    let t = trace(&comm);
    assert!(
        t.iter().filter(|l| l.contains("cleanup")).count() > 1,
        "{t:?}"
    );
    assert!(
        !t.iter()
            .any(|l| l.starts_with("exec") && l.contains("cleanup")),
        "{t:?}"
    );
}

#[tokio::test]
async fn uploads_and_starts_are_retried_until_start_retry_timeout() {
    let comm = answering(vec![(
        "upload c:/Windows/Temp/script-T.ps1",
        vec![Reply::fail("reboot"), Reply::fail("reboot"), Reply::code(0)],
    )]);
    provision(&fixed(json!({"inline": ["x"]})), &comm, &BuildData::new())
        .await
        .0
        .unwrap();
    let t = trace(&comm);
    assert_eq!(
        t.iter().filter(|l| l.ends_with("script-T.ps1")).count(),
        3,
        "{t:?}"
    );
    assert_eq!(
        t.iter().filter(|l| l.starts_with("exec")).count(),
        2,
        "{t:?}"
    );

    // A start that keeps failing ends with the last error, once the timeout has passed.
    let comm = answering(vec![(
        RUN_SCRIPT,
        vec![Reply::fail("winrm: connection refused")],
    )]);
    let mut c = fixed(json!({"inline": ["x"], "start_retry_timeout": "-1s"}));
    c.retry.delay = Duration::from_millis(1);
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(r.unwrap_err().to_string(), "winrm: connection refused");
    let comm = answering(vec![(
        "upload c:/Windows/Temp/script-T.ps1",
        vec![Reply::fail("disk full")],
    )]);
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error uploading script: disk full"
    );
    let comm = answering(vec![(
        "upload c:/Windows/Temp/packer-ps-env-vars-T.ps1",
        vec![Reply::fail("denied")],
    )]);
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error processing command: Error uploading ps script containing env vars: denied"
    );
}

#[tokio::test]
async fn cancellation_stops_the_retries() {
    let comm = answering(vec![("upload", vec![Reply::fail("down")])]);
    let c = fixed(json!({"inline": ["x"]}));
    let (ctx, _) = forge_core::testing::ctx("null");
    let (ui, _) = ui();
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        cancel.cancel();
    });
    let r = run(&ctx, &ui, &c, &comm, &BuildData::new()).await;
    assert_eq!(r, Err(forge_core::Error::Cancelled));
}

#[tokio::test]
async fn a_script_gone_at_run_time_is_named() {
    let d = scratch("ps-gone");
    let s = d.join("s.ps1");
    std::fs::write(&s, "x").unwrap();
    let c = fixed(json!({"script": s.to_str().unwrap()}));
    std::fs::remove_file(&s).unwrap();
    let (r, _) = provision(&c, &FakeComm::new(), &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!(
            "Error stating powershell script: stat {}: no such file or directory",
            s.display()
        )
    );
    std::fs::remove_dir_all(d).ok();
}

#[tokio::test]
async fn a_directory_remote_path_takes_the_script_name() {
    let d = scratch("ps-dir");
    let s = d.join("setup.ps1");
    std::fs::write(&s, "x").unwrap();
    let mut c = config(
        json!({"script": s.to_str().unwrap(), "remote_path": "c:\\scripts\\", "execute_command": "run {{.Path}} {{.Vars}}"}),
    );
    c.remote_env_var_path = "c:/v.ps1".into();
    let comm = FakeComm::new();
    provision(&c, &comm, &BuildData::new()).await.0.unwrap();
    assert_eq!(trace(&comm)[1], "upload c:\\scripts\\setup.ps1");
    assert_eq!(trace(&comm)[2], "exec run c:\\scripts\\setup.ps1 c:/v.ps1");
    std::fs::remove_dir_all(d).ok();
}

#[tokio::test]
async fn pause_after_is_announced() {
    let c = fixed(json!({"inline": ["x"], "pause_after": "10ms", "skip_clean": true}));
    let (r, out) = provision(&c, &FakeComm::new(), &BuildData::new()).await;
    r.unwrap();
    assert!(
        out.ends_with("==> null: Pausing 10ms after this provisioner...\n"),
        "{out}"
    );
}

const PASSWORD: &str = "S3cr$t'\"p&w<d>`";

fn elevated_data() -> BuildData {
    [("WinRMPassword", PASSWORD)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn elevated_runs_go_through_the_scheduled_task_wrapper() {
    let c = fixed(json!({
        "inline": ["x"],
        "elevated_user": "Administrator",
        "elevated_password": "{{.WinRMPassword}}",
        "elevated_env_var_format": "$env:%s='%s'; ",
    }));
    let comm = FakeComm::new();
    provision(&c, &comm, &elevated_data()).await.0.unwrap();
    let t = trace(&comm);
    assert_eq!(t[0], "upload c:/Windows/Temp/packer-ps-env-vars-T.ps1");
    assert!(
        t[1].starts_with("upload C:/Windows/Temp/packer-elevated-shell-"),
        "{t:?}"
    );
    let wrapper = t[1].trim_start_matches("upload ").to_string();
    assert_eq!(t[2], "upload c:/Windows/Temp/script-T.ps1");
    assert_eq!(
        t[3],
        format!("exec powershell -executionpolicy bypass -file \"{wrapper}\"")
    );
    // The clean-up runs unelevated, as in Packer.
    assert_eq!(t[5], format!("exec {CLEANUP_COMMAND}"));
    let uploads = comm.uploads();
    assert_eq!(
        uploads[0].1,
        "$env:PACKER_BUILDER_TYPE='null'; $env:PACKER_BUILD_NAME='null'; "
    );
    let script = &uploads[1].1;
    assert!(
        script.contains("<UserId>Administrator</UserId>"),
        "{script}"
    );
    assert!(
        script.contains("$password = \"S3cr`$t`'`\"p&w<d>``\"\n"),
        "{script}"
    );
    assert!(
        script.contains(&format!(
            "<Arguments>/c {} &gt; %SYSTEMROOT%/Temp/packer-",
            DEFAULT_COMMAND
                .replace('&', "&amp;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
        )),
        "{script}"
    );
    assert!(script.contains(&format!("ExpandEnvironmentVariables(\"{wrapper}\")")));
}

/// The password in every form it may travel in: as written, escaped for PowerShell, for XML,
/// for JSON, and base64-encoded (UTF-8 and UTF-16LE) inside longer encoded commands.
fn password_forms() -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v = vec![
        ("plain", PASSWORD.to_string()),
        (
            "PowerShell-escaped",
            crate::common::windows::ps_escape(PASSWORD),
        ),
        (
            "XML-escaped",
            crate::common::windows::xml_escape_text(PASSWORD),
        ),
        (
            "JSON",
            serde_json::to_string(PASSWORD)
                .unwrap()
                .trim_matches('"')
                .to_string(),
        ),
    ];
    for prefix in ["", "x", "xy", "$p = \""] {
        let text = format!("{prefix}{PASSWORD}\"; more");
        v.push(("base64 UTF-8", b64.encode(&text)));
        v.push((
            "base64 UTF-16LE",
            crate::common::windows::utf16le_base64(&text),
        ));
        v.push((
            "WinRM -EncodedCommand",
            crate::common::windows::winrm_powershell(&text),
        ));
    }
    v
}

/// Which forms of the password `text` holds (an encoded form also by any core of it).
fn leaks(text: &str) -> Vec<String> {
    let mut found: Vec<String> = password_forms()
        .into_iter()
        .filter(|(_, form)| text.contains(form.as_str()))
        .map(|(what, form)| format!("{what}: {form}"))
        .collect();
    for core in forge_core::redact::embedded_base64(PASSWORD) {
        if text.contains(&core) {
            found.push(format!("base64 core {core}"));
        }
    }
    found
}

#[tokio::test]
async fn the_elevated_password_never_shows() {
    let c = fixed(json!({
        "inline": ["x"],
        "elevated_user": "Administrator",
        "elevated_password": "{{.WinRMPassword}}",
    }));
    // The machine echoes the password in every form, on both streams, and then fails.
    let lines: Vec<(Stream, String)> = password_forms()
        .into_iter()
        .flat_map(|(_, f)| {
            [
                (Stream::Stdout, format!("out {f} end")),
                (Stream::Stderr, format!("err {f} end")),
            ]
        })
        .collect();
    let reply = forge_core::testing::Reply {
        output: lines,
        result: Ok(1),
        reboot: false,
    };
    let comm = answering(vec![("packer-elevated-shell", vec![reply])]);
    let (r, out) = provision(&c, &comm, &elevated_data()).await;
    assert!(r.is_err());
    assert!(out.contains("<sensitive>"), "{out}");
    assert_eq!(leaks(&out), Vec::<String>::new(), "{out}");
    // No command carries it either (the wrapper's upload must, the machine needs it).
    for cmd in comm.commands() {
        assert_eq!(leaks(&cmd), Vec::<String>::new(), "{cmd}");
    }
    // An upload error naming it is masked too.
    let comm = answering(vec![(
        "upload C:/Windows/Temp/packer-elevated-shell",
        vec![Reply::fail(&format!(
            "could not write $password = \"{}\"",
            crate::common::windows::ps_escape(PASSWORD)
        ))],
    )]);
    let (r, out) = provision(&c, &comm, &elevated_data()).await;
    assert!(r.unwrap_err().to_string().starts_with(
        "Error processing command: Error generating elevated runner: Error preparing elevated powershell script: could not write"
    ));
    assert_eq!(leaks(&out), Vec::<String>::new(), "{out}");
    assert!(out.contains("<sensitive>"), "{out}");
}
