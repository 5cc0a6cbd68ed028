use std::time::Duration;

use forge_core::plugin::Stream;
use forge_core::Error;
use serde_json::json;

use super::config::{Config, Intervals};
use super::run::*;
use crate::testing::*;

const PS: &str = "PowerShell -ExecutionPolicy Bypass -OutputFormat Text -EncodedCommand ";
/// `C:/Windows/Temp/packer-windows-update.ps1 -UpdateLimit 1000`, encoded independently.
const DEFAULT_UPDATE: &str = "QwA6AC8AVwBpAG4AZABvAHcAcwAvAFQAZQBtAHAALwBwAGEAYwBrAGUAcgAtAHcAaQBuAGQAbwB3AHMALQB1AHAAZABhAHQAZQAuAHAAcwAxACAALQBVAHAAZABhAHQAZQBMAGkAbQBpAHQAIAAxADAAMAAwAA==";
/// `C:/Windows/Temp/packer-windows-update.ps1 -OnlyCheckForRebootRequired`, encoded.
const PENDING: &str = "QwA6AC8AVwBpAG4AZABvAHcAcwAvAFQAZQBtAHAALwBwAGEAYwBrAGUAcgAtAHcAaQBuAGQAbwB3AHMALQB1AHAAZABhAHQAZQAuAHAAcwAxACAALQBPAG4AbAB5AEMAaABlAGMAawBGAG8AcgBSAGUAYgBvAG8AdABSAGUAcQB1AGkAcgBlAGQA";

const UPDATE: &str = "PowerShell -ExecutionPolicy Bypass -OutputFormat Text -File C:/Windows/Temp/packer-windows-update-elevated.ps1";
const CHECK_PENDING: &str = "PowerShell -ExecutionPolicy Bypass -OutputFormat Text -File C:/Windows/Temp/packer-windows-update-pending-reboot-elevated.ps1";
const RESTART: &str = r#"shutdown.exe -f -r -t 0 -c "packer restart""#;
const TEST_RESTART: &str = r#"shutdown.exe -f -r -t 60 -c "packer restart test""#;
const ABORT: &str = "shutdown.exe -a";

fn config(j: serde_json::Value) -> Config {
    let mut c = Config::prepare(&value(j), &info()).unwrap();
    c.intervals = Intervals {
        retry: Duration::from_millis(1),
        upload_retry: Duration::from_millis(1),
    };
    c
}

async fn update(c: &Config, comm: &FakeComm) -> (forge_core::Result<()>, String) {
    let (ctx, _) = forge_core::testing::ctx("null");
    let (ui, buf) = ui();
    let r = run(&ctx, &ui, c, comm).await;
    (r, buf.text())
}

const UPLOADS: [&str; 3] = [
    "upload C:/Windows/Temp/packer-windows-update-elevated.ps1",
    "upload C:/Windows/Temp/packer-windows-update-pending-reboot-elevated.ps1",
    "upload C:/Windows/Temp/packer-windows-update.ps1",
];

#[test]
fn defaults_are_the_plugins() {
    let c = config(json!({}));
    assert_eq!(c.restart_timeout, Duration::from_secs(4 * 3600));
    assert_eq!((c.username.as_str(), c.password.as_str()), ("SYSTEM", ""));
    assert_eq!((c.update_limit, c.update_max_retries), (1000, 5));
    assert_eq!(c.filters, None);
    assert_eq!(windows_update_command(&c), format!("{PS}{DEFAULT_UPDATE}"));
    assert_eq!(pending_reboot_command(), format!("{PS}{PENDING}"));
    assert_eq!(Intervals::default().retry, Duration::from_secs(5));
}

#[test]
fn search_criteria_filters_and_limit_are_quoted_into_the_command() {
    let c = config(json!({
        "search_criteria": "IsInstalled=0 and Type='Software'",
        "filters": ["exclude:$_.Title -like '*Preview*'", "include:$true"],
        "update_limit": 25,
    }));
    assert_eq!(
        windows_update_command(&c),
        format!("{PS}QwA6AC8AVwBpAG4AZABvAHcAcwAvAFQAZQBtAHAALwBwAGEAYwBrAGUAcgAtAHcAaQBuAGQAbwB3AHMALQB1AHAAZABhAHQAZQAuAHAAcwAxACAALQBTAGUAYQByAGMAaABDAHIAaQB0AGUAcgBpAGEAIAAnAEkAcwBJAG4AcwB0AGEAbABsAGUAZAA9ADAAIABhAG4AZAAgAFQAeQBwAGUAPQAnACcAUwBvAGYAdAB3AGEAcgBlACcAJwAnACAALQBGAGkAbAB0AGUAcgBzACAAJwBlAHgAYwBsAHUAZABlADoAJABfAC4AVABpAHQAbABlACAALQBsAGkAawBlACAAJwAnACoAUAByAGUAdgBpAGUAdwAqACcAJwAnACwAJwBpAG4AYwBsAHUAZABlADoAJAB0AHIAdQBlACcAIAAtAFUAcABkAGEAdABlAEwAaQBtAGkAdAAgADIANQA=")
    );
    // An empty filter list still passes -Filters, as the plugin does.
    let c = config(json!({"filters": []}));
    let text = decode(&windows_update_command(&c));
    assert_eq!(
        text,
        "C:/Windows/Temp/packer-windows-update.ps1 -Filters  -UpdateLimit 1000"
    );
}

/// The script an encoded command runs.
fn decode(command: &str) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD
        .decode(command.trim_start_matches(PS))
        .unwrap();
    let units: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

#[tokio::test]
async fn uploads_the_wrappers_and_the_script_then_updates() {
    let c = config(
        json!({"search_criteria": "IsInstalled=0", "username": "vagrant", "password": "pw$1\"", "update_limit": 5}),
    );
    let comm = answering(vec![(
        UPDATE,
        vec![Reply::out(&[(Stream::Stdout, "No Windows updates found")])],
    )]);
    let (r, out) = update(&c, &comm).await;
    r.unwrap();
    let mut want: Vec<String> = UPLOADS.iter().map(|s| s.to_string()).collect();
    want.push(format!("exec {UPDATE}"));
    assert_eq!(trace(&comm), want);
    assert_eq!(
        out,
        "==> null: Uploading the Windows update elevated script...\n\
         ==> null: Uploading the Windows update check for reboot required elevated script...\n\
         ==> null: Uploading the Windows update script...\n\
         ==> null: Running Windows update...\n    \
         null: No Windows updates found\n"
    );
    let uploads = comm.uploads();
    let wrapper = &uploads[0].1;
    let args = wrapper
        .lines()
        .find(|l| l.contains("<Arguments>"))
        .unwrap()
        .trim();
    let command = windows_update_command(&c);
    assert!(
        args.starts_with(&format!(
            "<Arguments>/c {command} &gt;%SYSTEMROOT%\\Temp\\packer-windows-update-"
        )),
        "{args}"
    );
    assert!(args.ends_with(".out 2&gt;&amp;1</Arguments>"), "{args:?}");
    assert_eq!(
        decode(&command),
        "C:/Windows/Temp/packer-windows-update.ps1 -SearchCriteria 'IsInstalled=0' -UpdateLimit 5"
    );
    assert!(
        wrapper.contains("$name = \"packer-windows-update-"),
        "{wrapper}"
    );
    assert!(wrapper.contains("<Description>Packer Windows update elevated task</Description>"));
    assert!(
        wrapper.contains("$username = \"vagrant\"\r\n$password = \"pw`$1`\"\"\r\n"),
        "{wrapper}"
    );
    assert!(!wrapper.contains("{{."), "{wrapper}");
    assert!(
        !wrapper.replace("\r\n", "").contains('\n'),
        "CRLF line ends"
    );
    let pending = &uploads[1].1;
    assert!(pending.contains(&format!(
        "<Arguments>/c {PS}{PENDING} &gt;%SYSTEMROOT%\\Temp\\packer-windows-update-pending-reboot-"
    )));
    assert!(pending
        .contains("<Description>Packer Windows update pending reboot elevated task</Description>"));
    let script = &uploads[2].1;
    assert!(script.contains("[int]$UpdateLimit = 1000"), "{script}");
    assert!(script.contains("Stop-Script 101"), "{script}");
    assert!(
        script.contains("-OnlyCheckForRebootRequired")
            || script.contains("$OnlyCheckForRebootRequired")
    );
    // The password is registered as a secret.
    let (ui2, buf2) = ui();
    let (ctx, _) = forge_core::testing::ctx("null");
    run(&ctx, &ui2, &c, &FakeComm::new()).await.unwrap();
    ui2.message("the password is pw$1\"");
    assert!(
        buf2.text().ends_with("the password is <sensitive>\n"),
        "{}",
        buf2.text()
    );
}

#[tokio::test]
async fn a_needed_restart_restarts_and_updates_again_until_nothing_is_left() {
    let comm = answering(vec![
        (
            UPDATE,
            vec![
                Reply::code(101),
                Reply::code(2_147_942_501_u32 as i32),
                Reply::code(0),
            ],
        ),
        (
            TEST_RESTART,
            vec![
                Reply::fail("connection refused"),
                Reply::code(1115),
                Reply::code(0),
            ],
        ),
        (CHECK_PENDING, vec![Reply::code(101), Reply::code(0)]),
    ]);
    let (r, out) = update(&config(json!({})), &comm).await;
    r.unwrap();
    let mut want: Vec<String> = UPLOADS.iter().map(|s| s.to_string()).collect();
    for c in [
        UPDATE,
        // First round: restarts twice, the first check still finding a restart pending.
        RESTART,
        TEST_RESTART,
        TEST_RESTART,
        TEST_RESTART,
        ABORT,
        CHECK_PENDING,
        RESTART,
        TEST_RESTART,
        ABORT,
        CHECK_PENDING,
        UPDATE,
        RESTART,
        TEST_RESTART,
        ABORT,
        CHECK_PENDING,
        UPDATE,
    ] {
        want.push(format!("exec {c}"));
    }
    assert_eq!(trace(&comm), want);
    for m in [
        "Restarting the machine...",
        "Waiting for machine to become available...",
        "Checking for pending restart...",
        "Restart is still pending...",
        "Restart complete",
    ] {
        assert!(out.contains(&format!("==> null: {m}\n")), "{m}: {out}");
    }
    assert_eq!(out.matches("Running Windows update...").count(), 3);
}

#[tokio::test]
async fn failures_are_retried_then_reported() {
    let comm = answering(vec![(UPDATE, vec![Reply::code(1)])]);
    let (r, _) = update(&config(json!({"update_max_retries": 3})), &comm).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "retry count exhausted. Last err: Windows update script exited with non-zero exit status: 1"
    );
    assert_eq!(
        trace(&comm).iter().filter(|t| t.ends_with(UPDATE)).count(),
        3
    );
    // A failure then a success is fine.
    let comm = answering(vec![(
        UPDATE,
        vec![Reply::fail("winrm: 500"), Reply::code(0)],
    )]);
    update(&config(json!({})), &comm).await.0.unwrap();

    // The restart command must succeed within restart_timeout.
    let comm = answering(vec![
        (UPDATE, vec![Reply::code(101)]),
        (RESTART, vec![Reply::code(5)]),
    ]);
    let (r, _) = update(&config(json!({"restart_timeout": "20ms"})), &comm).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Failed to restart the machine with exit status: 5"
    );
    let comm = answering(vec![
        (UPDATE, vec![Reply::code(101)]),
        (CHECK_PENDING, vec![Reply::code(7)]),
    ]);
    let (r, _) = update(&config(json!({"restart_timeout": "20ms"})), &comm).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Machine not yet available (exit status 7)"
    );

    // Uploads.
    let comm = answering(vec![(UPLOADS[2], vec![Reply::fail("disk full")])]);
    let (r, _) = update(&config(json!({})), &comm).await;
    assert_eq!(r.unwrap_err().to_string(), "disk full");
}

#[tokio::test]
async fn cancelling_stops_the_waits() {
    for comm in [
        answering(vec![
            (UPDATE, vec![Reply::code(101)]),
            (TEST_RESTART, vec![Reply::fail("down")]),
        ]),
        answering(vec![(UPLOADS[0], vec![Reply::fail("down")])]),
    ] {
        let (ctx, _) = forge_core::testing::ctx("null");
        let (ui, _) = ui();
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            cancel.cancel();
        });
        assert_eq!(
            run(&ctx, &ui, &config(json!({})), &comm).await,
            Err(Error::Cancelled)
        );
    }
}
