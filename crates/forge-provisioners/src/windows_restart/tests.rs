use std::time::Duration;

use forge_core::plugin::{Stream, DISCONNECTED};
use forge_core::Error;
use serde_json::json;

use super::config::{Config, Intervals};
use super::run::run;
use crate::testing::*;

const RESTART: &str = r#"shutdown /r /f /t 0 /c "packer restart""#;
const PROBE: &str = r#"shutdown /r /f /t 60 /c "packer restart test""#;
const ABORT: &str = "shutdown /a";
/// Packer 1.6.6's default check command (its value, computed independently).
const CHECK: &str = "powershell.exe -EncodedCommand ZQBjAGgAbwAgACgAIgB7ADAAfQAgAHIAZQBzAHQAYQByAHQAZQBkAC4AIgAgAC0AZgAgAFsAUwB5AHMAdABlAG0ALgBOAGUAdAAuAEQAbgBzAF0AOgA6AEcAZQB0AEgAbwBzAHQATgBhAG0AZQAoACkAKQA=";
/// `Test-Path "<the first default key>"`, encoded.
const FIRST_KEY: &str = "powershell.exe -EncodedCommand VABlAHMAdAAtAFAAYQB0AGgAIAAiAEgASwBMAE0AOgBTAE8ARgBUAFcAQQBSAEUAXABNAGkAYwByAG8AcwBvAGYAdABcAFcAaQBuAGQAbwB3AHMAXABDAHUAcgByAGUAbgB0AFYAZQByAHMAaQBvAG4AXABDAG8AbQBwAG8AbgBlAG4AdAAgAEIAYQBzAGUAZAAgAFMAZQByAHYAaQBjAGkAbgBnAFwAUgBlAGIAbwBvAHQAUABlAG4AZABpAG4AZwAiAA==";

fn config(j: serde_json::Value) -> Config {
    let mut c = Config::prepare(&forge_core::testing::value(j), &info()).unwrap();
    c.intervals = Intervals {
        check: Duration::from_millis(1),
        in_progress: Duration::from_millis(1),
        retry: Duration::from_millis(1),
    };
    c
}

fn restarted() -> Reply {
    Reply::out(&[(Stream::Stdout, "WIN-1 restarted.")])
}

async fn restart(c: &Config, comm: &FakeComm) -> (forge_core::Result<()>, String) {
    let (ctx, _) = forge_core::testing::ctx("null");
    let (ui, buf) = ui();
    let r = run(&ctx, &ui, c, comm).await;
    (r, buf.text())
}

fn execs(cmds: &[&str]) -> Vec<String> {
    cmds.iter().map(|c| format!("exec {c}")).collect()
}

#[test]
fn defaults_are_packers() {
    let c = config(json!({}));
    assert_eq!(c.restart_command, RESTART);
    assert_eq!(c.restart_check_command, CHECK);
    assert_eq!(c.restart_timeout, Duration::from_secs(300));
    assert!(!c.check_registry);
    assert_eq!(
        c.registry_keys,
        [
            r"HKLM:SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
            r"HKLM:SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\PackagesPending",
            r"HKLM:Software\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootInProgress",
        ]
    );
    assert_eq!(Intervals::default().check, Duration::from_secs(5));
    assert_eq!(Intervals::default().in_progress, Duration::from_secs(10));
    let c = config(json!({"registry_keys": [], "restart_timeout": "10m", "check_registry": true}));
    assert_eq!(c.registry_keys.len(), 3);
    assert_eq!(c.restart_timeout, Duration::from_secs(600));
    assert!(c.check_registry);
    let e = Config::prepare(
        &forge_core::testing::value(json!({"restart_timeout": "x"})),
        &info(),
    )
    .err()
    .unwrap();
    assert_eq!(
        e,
        ["1 error(s) decoding:\n\n* error decoding 'restart_timeout': time: invalid duration \"x\""]
    );
}

#[tokio::test]
async fn restarts_waits_for_the_restart_then_for_powershell() {
    let comm = answering(vec![
        (
            PROBE,
            vec![
                Reply::code(1115),
                Reply::code(1190),
                Reply::code(1717),
                Reply::code(0),
            ],
        ),
        (
            CHECK,
            vec![
                Reply::code(0),
                Reply::fail("connection refused"),
                restarted(),
            ],
        ),
    ]);
    let (r, out) = restart(&config(json!({})), &comm).await;
    r.unwrap();
    assert_eq!(
        trace(&comm),
        execs(&[RESTART, PROBE, PROBE, PROBE, PROBE, ABORT, CHECK, CHECK, CHECK])
    );
    assert_eq!(
        out,
        "==> null: Restarting Machine\n\
         ==> null: Waiting for machine to restart...\n    \
         null: WIN-1 restarted.\n\
         ==> null: Machine successfully restarted, moving on\n"
    );
}

#[tokio::test]
async fn restart_command_statuses() {
    for code in [0, 1115, 1190, DISCONNECTED] {
        let comm = answering(vec![
            (RESTART, vec![Reply::code(code)]),
            (PROBE, vec![Reply::code(1)]),
            (CHECK, vec![restarted()]),
        ]);
        restart(&config(json!({})), &comm).await.0.unwrap();
    }
    let comm = answering(vec![(RESTART, vec![Reply::code(5)])]);
    let (r, _) = restart(&config(json!({})), &comm).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Restart script exited with non-zero exit status: 5"
    );
    assert_eq!(trace(&comm), execs(&[RESTART]));
    // A restart command that cannot start is retried; a custom one is run as written.
    let comm = answering(vec![
        (
            "reboot now",
            vec![Reply::fail("busy"), Reply::fail("busy"), Reply::code(0)],
        ),
        (PROBE, vec![Reply::fail("gone")]),
        (CHECK, vec![restarted()]),
    ]);
    restart(&config(json!({"restart_command": "reboot now"})), &comm)
        .await
        .0
        .unwrap();
    assert_eq!(
        trace(&comm),
        execs(&["reboot now", "reboot now", "reboot now", PROBE, CHECK])
    );
}

#[tokio::test]
async fn a_custom_check_must_run_before_powershell_is_checked() {
    let comm = answering(vec![
        (PROBE, vec![Reply::code(1)]),
        (
            "Get-Service winrm",
            vec![Reply::fail("down"), Reply::code(1)],
        ),
        (CHECK, vec![restarted()]),
    ]);
    let c = config(json!({"restart_check_command": "powershell -command Get-Service winrm"}));
    let (r, out) = restart(&c, &comm).await;
    r.unwrap();
    assert_eq!(
        trace(&comm),
        execs(&[
            RESTART,
            PROBE,
            "powershell -command Get-Service winrm",
            "powershell -command Get-Service winrm",
            CHECK,
        ])
    );
    assert!(
        out.ends_with("Machine successfully restarted, moving on\n"),
        "{out}"
    );
}

#[tokio::test]
async fn registry_keys_hold_the_wait_until_none_exists() {
    let comm = answering(vec![
        (PROBE, vec![Reply::code(1)]),
        (CHECK, vec![restarted()]),
        (
            FIRST_KEY,
            vec![
                Reply::out(&[(Stream::Stdout, "True")]),
                Reply::out(&[(Stream::Stdout, "False")]),
            ],
        ),
        (
            "powershell.exe -EncodedCommand VABlAHMAdAAtAFAAYQB0AGgA",
            vec![Reply::out(&[(Stream::Stdout, "False")])],
        ),
    ]);
    let (r, out) = restart(&config(json!({"check_registry": true})), &comm).await;
    r.unwrap();
    let t = trace(&comm);
    assert_eq!(t.len(), 2 + 2 * 4, "{t:?}");
    assert_eq!(t[3], format!("exec {FIRST_KEY}"));
    assert_eq!(t[7], format!("exec {FIRST_KEY}"));
    assert!(out.contains("    null: True\n"), "{out}");
    // Custom keys.
    let key = r"HKLM:SOFTWARE\forge\pending";
    let comm = answering(vec![
        (PROBE, vec![Reply::code(1)]),
        (CHECK, vec![restarted()]),
    ]);
    let c = config(json!({"check_registry": true, "registry_keys": [key]}));
    restart(&c, &comm).await.0.unwrap();
    assert_eq!(
        trace(&comm)[3],
        format!(
            "exec {}",
            crate::common::windows::winrm_powershell(&format!("Test-Path \"{key}\""))
        )
    );
}

#[tokio::test]
async fn restart_timeout_ends_the_wait_naming_the_last_check() {
    let comm = answering(vec![
        (PROBE, vec![Reply::code(1)]),
        (
            CHECK,
            vec![Reply::out(&[(
                Stream::Stdout,
                "Windows PowerShell is loading modules",
            )])],
        ),
    ]);
    let (r, out) = restart(&config(json!({"restart_timeout": "50ms"})), &comm).await;
    let e = r.unwrap_err().to_string();
    assert!(e.starts_with("Timeout waiting for machine to restart. Waited 50ms for the machine to come back; last check: powershell.exe -EncodedCommand "), "{e}");
    assert!(
        e.ends_with(": exit status 0, output \"Windows PowerShell is loading modules\""),
        "{e}"
    );
    assert!(
        out.ends_with("==> null: Timeout waiting for machine to restart.\n"),
        "{out}"
    );

    // A restart that never begins ends too (Packer would probe forever).
    let comm = answering(vec![(PROBE, vec![Reply::code(1190)])]);
    let (r, _) = restart(&config(json!({"restart_timeout": "50ms"})), &comm).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("Timeout waiting for machine to restart. Waited 50ms for the restart to begin; last check: {PROBE}: exit status 1190")
    );
    let comm = answering(vec![(PROBE, vec![Reply::code(5)])]);
    let (r, _) = restart(&config(json!({"restart_timeout": "50ms"})), &comm).await;
    assert!(r.unwrap_err().to_string().ends_with("exit status 5"));

    // Registry keys that stay are named.
    let comm = answering(vec![
        (PROBE, vec![Reply::code(1)]),
        (CHECK, vec![restarted()]),
        (
            "VABlAHMAdAAtAFAAYQB0AGgA",
            vec![Reply::out(&[(Stream::Stdout, "True")])],
        ),
    ]);
    let c = config(
        json!({"restart_timeout": "50ms", "check_registry": true, "registry_keys": ["HKLM:X"]}),
    );
    let (r, _) = restart(&c, &comm).await;
    assert!(r
        .unwrap_err()
        .to_string()
        .ends_with("last check: Test-Path \"HKLM:X\": exit status 0, output \"True\""));
}

#[tokio::test]
async fn cancelling_stops_every_wait() {
    for comm in [
        // Waiting for the restart to begin.
        answering(vec![(PROBE, vec![Reply::code(1190)])]),
        // Waiting for the machine to come back.
        answering(vec![
            (PROBE, vec![Reply::code(1)]),
            (CHECK, vec![Reply::fail("down")]),
        ]),
        // Retrying the restart command.
        answering(vec![(RESTART, vec![Reply::fail("down")])]),
    ] {
        let (ctx, _) = forge_core::testing::ctx("null");
        let (ui, _) = ui();
        let c = config(json!({}));
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            cancel.cancel();
        });
        // Default restart_timeout (5m): only the cancellation can end this.
        assert_eq!(run(&ctx, &ui, &c, &comm).await, Err(Error::Cancelled));
    }
}

#[tokio::test]
async fn without_a_communicator_it_fails_at_once() {
    let p = super::factory(&forge_core::testing::value(json!({})), &info())
        .ok()
        .unwrap();
    let (ctx, _) = forge_core::testing::ctx("null");
    let (ui, _) = ui();
    let r = p.provision(&ctx, &ui, None, &Default::default()).await;
    assert!(r.unwrap_err().to_string().contains("needs a communicator"));
}
