use std::time::Duration;

use forge_core::plugin::{BuildData, Stream};
use serde_json::json;

use super::config::Config;
use super::run::run;
use crate::testing::*;

fn config(j: serde_json::Value) -> Config {
    let mut c = Config::prepare(&value(j), &info()).unwrap();
    c.retry.delay = Duration::from_millis(1);
    c
}

async fn provision(
    c: &Config,
    comm: &FakeComm,
    data: &BuildData,
) -> (forge_core::Result<()>, String) {
    let (ctx, _) = forge_core::testing::ctx("null");
    let (ui, buf) = ui();
    let r = run(&ctx, &ui, c, comm, data).await;
    (r, buf.text())
}

#[test]
fn defaults_and_bad_input_are_packers() {
    let c = config(json!({"inline": ["x"]}));
    assert_eq!(c.env_var_format, "set \"%s=%s\" && ");
    assert_eq!(c.execute_command, "{{.Vars}}\"{{.Path}}\"");
    assert_eq!(c.remote_path, "c:/Windows/Temp/script.bat");
    assert_eq!(c.retry.timeout, Duration::from_secs(300));
    assert_eq!(c.valid_exit_codes, [0]);
    let errs = |j| Config::prepare(&value(j), &info()).unwrap_err();
    assert_eq!(
        errs(json!({})),
        ["Either a script file or inline script must be specified."]
    );
    assert_eq!(
        errs(json!({"script": "no.bat", "scripts": ["a"], "environment_vars": ["x"]})),
        [
            "Only one of script or scripts can be specified.",
            "Bad script 'no.bat': stat no.bat: no such file or directory",
            "Environment variable not in format 'key=value': x",
        ]
    );
    assert_eq!(
        errs(json!({"inline": ["a"], "start_retry_timeout": "bogus"})),
        ["1 error(s) decoding:\n\n* error decoding 'start_retry_timeout': time: invalid duration \"bogus\""]
    );
}

#[tokio::test]
async fn inline_lines_run_as_a_batch_file_with_the_variables_set_before() {
    let c = config(
        json!({"inline": ["echo %FOO%", "dir"], "environment_vars": ["FOO=bar baz", "A=1"], "env": {"A": "2"}}),
    );
    let data: BuildData = [("PackerHTTPAddr", "10.0.2.2:8000")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let comm = answering(vec![(
        "script.bat\"",
        vec![Reply::out(&[(Stream::Stdout, "bar baz\r")])],
    )]);
    let (r, out) = provision(&c, &comm, &data).await;
    r.unwrap();
    assert_eq!(
        trace(&comm),
        [
            "upload c:/Windows/Temp/script.bat",
            "exec set \"A=2\" && set \"FOO=bar baz\" && set \"PACKER_BUILDER_TYPE=null\" && set \"PACKER_BUILD_NAME=null\" && set \"PACKER_HTTP_ADDR=10.0.2.2:8000\" && \"c:/Windows/Temp/script.bat\"",
        ]
    );
    // Packer writes each line with `\n`.
    assert_eq!(comm.uploads()[0].1, "echo %FOO%\ndir\n");
    assert!(out.starts_with("==> null: Provisioning with windows-shell...\n==> null: Provisioning with shell script: "), "{out}");
    assert!(out.contains("/windows-shell-provisioner"), "{out}");
    assert!(out.contains("    null: bar baz\n"), "{out}");
}

#[tokio::test]
async fn scripts_exit_codes_retries_and_custom_commands() {
    let d = scratch("wsh");
    let (a, b) = (d.join("a.bat"), d.join("b.cmd"));
    std::fs::write(&a, "@echo a\r\n").unwrap();
    std::fs::write(&b, "exit /b 3").unwrap();
    let scripts = json!([a.to_str().unwrap(), b.to_str().unwrap()]);
    let run_cmd = "cmd /c \"c:/t/x.bat\"";
    let c = config(
        json!({"scripts": scripts, "remote_path": "c:/t/x.bat", "execute_command": "cmd /c \"{{.Path}}\""}),
    );
    let comm = answering(vec![
        (
            "upload c:/t/x.bat",
            vec![Reply::fail("rebooting"), Reply::code(0)],
        ),
        (run_cmd, vec![Reply::code(0), Reply::code(3)]),
    ]);
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
    );
    assert_eq!(
        trace(&comm),
        [
            "upload c:/t/x.bat".to_string(),
            "upload c:/t/x.bat".into(),
            format!("exec {run_cmd}"),
            "upload c:/t/x.bat".into(),
            format!("exec {run_cmd}"),
        ]
    );
    // Uploaded as written; nothing removed afterwards (Packer's windows-shell cleans nothing).
    assert_eq!(comm.uploads()[1].1, "@echo a\r\n");
    let c = config(json!({"scripts": scripts, "valid_exit_codes": [0, 3]}));
    let comm = answering(vec![("script.bat\"", vec![Reply::code(0), Reply::code(3)])]);
    provision(&c, &comm, &BuildData::new()).await.0.unwrap();
    assert_eq!(trace(&comm).len(), 4);

    // A start that never works ends with its error; a missing script is named.
    let mut c = config(json!({"script": a.to_str().unwrap(), "start_retry_timeout": "-1s"}));
    c.retry.delay = Duration::from_millis(1);
    let comm = answering(vec![("upload", vec![Reply::fail("no route")])]);
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error uploading script: no route"
    );
    std::fs::remove_file(&a).unwrap();
    let (r, _) = provision(&c, &FakeComm::new(), &BuildData::new()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!(
            "Error opening shell script: open {}: no such file or directory",
            a.display()
        )
    );
    std::fs::remove_dir_all(d).ok();
}

#[tokio::test]
async fn cancellation_stops_the_retries() {
    let c = config(json!({"inline": ["x"]}));
    let comm = answering(vec![("upload", vec![Reply::fail("down")])]);
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
