//! Running `windows-update` as rgl/packer-plugin-windows-update 0.16 does: two elevated
//! wrappers (scheduled tasks of `username`) and the update script are uploaded; the update
//! runs (retried up to `update_max_retries` times); exit status 101 means a restart is needed:
//! the machine restarts, comes back, and the pending-restart check runs until no restart is
//! pending; then the update runs again, until it finds nothing more to do.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use forge_core::plugin::{BuildCtx, Communicator, DISCONNECTED};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::Config;
use crate::common::go::GoDuration;
use crate::common::retry::Retry;
use crate::common::windows::{
    exec_ui, fill, ps_escape, time_ordered_uuid, upload_text, utf16le_base64,
};

/// Where the update wrapper goes.
pub const ELEVATED_PATH: &str = "C:/Windows/Temp/packer-windows-update-elevated.ps1";
/// Runs the update wrapper.
pub const ELEVATED_COMMAND: &str = "PowerShell -ExecutionPolicy Bypass -OutputFormat Text -File C:/Windows/Temp/packer-windows-update-elevated.ps1";
/// Where the update script goes.
pub const WINDOWS_UPDATE_PATH: &str = "C:/Windows/Temp/packer-windows-update.ps1";
/// Where the pending-restart wrapper goes.
pub const PENDING_REBOOT_ELEVATED_PATH: &str =
    "C:/Windows/Temp/packer-windows-update-pending-reboot-elevated.ps1";
/// Runs the pending-restart wrapper.
pub const PENDING_REBOOT_ELEVATED_COMMAND: &str = "PowerShell -ExecutionPolicy Bypass -OutputFormat Text -File C:/Windows/Temp/packer-windows-update-pending-reboot-elevated.ps1";
/// Restarts the machine.
pub const RESTART_COMMAND: &str = r#"shutdown.exe -f -r -t 0 -c "packer restart""#;
/// Succeeds (scheduling a restart of its own) once the machine is up again.
pub const TEST_RESTART_COMMAND: &str = r#"shutdown.exe -f -r -t 60 -c "packer restart test""#;
/// Cancels the test's restart.
pub const ABORT_TEST_RESTART_COMMAND: &str = "shutdown.exe -a";
/// How long the uploads are retried.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Whether an exit status says a restart is needed: the script's 101, or the same as Windows
/// Server 2012's task scheduler reports it (0x80070065, whichever sign the communicator gives
/// the 32 bits).
fn restart_needed(code: i32) -> bool {
    code == 101 || code as u32 == 0x8007_0065
}

/// The wrapper template (written for forge; the plugin's wrapper does the same).
const ELEVATED_TEMPLATE: &str = include_str!("elevated-task.ps1");
/// The update script (written for forge, in the plugin's behaviour).
pub const WINDOWS_UPDATE_SCRIPT: &str = include_str!("windows-update.ps1");

/// Windows line ends, as the scripts are uploaded.
fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// A PowerShell single-quoted string.
fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The command the update task runs: the update script with the configured search, filters
/// and limit, as an encoded PowerShell command.
pub fn windows_update_command(c: &Config) -> String {
    let mut script = WINDOWS_UPDATE_PATH.to_string();
    if !c.search_criteria.is_empty() {
        script.push_str(" -SearchCriteria ");
        script.push_str(&ps_quote(&c.search_criteria));
    }
    if let Some(filters) = &c.filters {
        script.push_str(" -Filters ");
        let quoted: Vec<String> = filters.iter().map(|f| ps_quote(f)).collect();
        script.push_str(&quoted.join(","));
    }
    script.push_str(&format!(" -UpdateLimit {}", c.update_limit));
    encoded(&script)
}

/// The command the pending-restart task runs.
pub fn pending_reboot_command() -> String {
    encoded(&format!(
        "{WINDOWS_UPDATE_PATH} -OnlyCheckForRebootRequired"
    ))
}

fn encoded(script: &str) -> String {
    format!(
        "PowerShell -ExecutionPolicy Bypass -OutputFormat Text -EncodedCommand {}",
        utf16le_base64(script)
    )
}

/// A wrapper running `command` as a task named `task_name`.
pub fn elevated_script(c: &Config, task_name: &str, description: &str, command: &str) -> String {
    let (user, password) = (ps_escape(&c.username), ps_escape(&c.password));
    let values = BTreeMap::from([
        ("TaskName", task_name),
        ("TaskDescription", description),
        ("Command", command),
        ("Username", user.as_str()),
        ("Password", password.as_str()),
    ]);
    crlf(&fill(ELEVATED_TEMPLATE, &values))
}

/// Runs `fut` until it ends, `limit` passes (the error says what was awaited) or the build is
/// cancelled.
async fn bounded<T>(
    ctx: &BuildCtx,
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = tokio::time::timeout(limit, fut) => r.unwrap_or_else(|_| Err(Error::msg(format!(
            "Timeout after {} waiting for {what}",
            GoDuration { abs: limit, negative: false }
        )))),
        _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// Uploads the scripts, then updates and restarts until no update is left.
pub async fn run(ctx: &BuildCtx, ui: &Ui, c: &Config, comm: &dyn Communicator) -> Result<()> {
    ui.output().redactor().add(&c.password);
    let upload_retry = Retry {
        timeout: UPLOAD_TIMEOUT,
        delay: c.intervals.upload_retry,
    };

    ui.say("Uploading the Windows update elevated script...");
    let script = elevated_script(
        c,
        &format!("packer-windows-update-{}", time_ordered_uuid()),
        "Packer Windows update elevated task",
        &windows_update_command(c),
    );
    upload_retry
        .run(ctx, || async {
            upload_text(ctx, comm, ELEVATED_PATH, script.as_bytes())
                .await
                .map_err(|e| e.context("Error uploading the Windows update elevated script"))
        })
        .await?;

    ui.say("Uploading the Windows update check for reboot required elevated script...");
    let script = elevated_script(
        c,
        &format!(
            "packer-windows-update-pending-reboot-{}",
            time_ordered_uuid()
        ),
        "Packer Windows update pending reboot elevated task",
        &pending_reboot_command(),
    );
    upload_retry
        .run(ctx, || async {
            upload_text(ctx, comm, PENDING_REBOOT_ELEVATED_PATH, script.as_bytes())
                .await
                .map_err(|e| {
                    e.context(
                        "Error uploading the Windows update check for reboot required elevated script",
                    )
                })
        })
        .await?;

    ui.say("Uploading the Windows update script...");
    upload_text(
        ctx,
        comm,
        WINDOWS_UPDATE_PATH,
        crlf(WINDOWS_UPDATE_SCRIPT).as_bytes(),
    )
    .await?;

    loop {
        if !update(ctx, ui, c, comm).await? {
            return Ok(());
        }
        restart(ctx, ui, c, comm).await?;
    }
}

/// One update run, tried up to `update_max_retries` times; whether a restart is needed.
async fn update(ctx: &BuildCtx, ui: &Ui, c: &Config, comm: &dyn Communicator) -> Result<bool> {
    ui.say("Running Windows update...");
    let tries = c.update_max_retries.max(1);
    let mut last = Error::msg("no try");
    for n in 1..=tries {
        let e = match exec_ui(ctx, comm, ui, ELEVATED_COMMAND).await {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => e,
            Ok(0) => return Ok(false),
            Ok(code) if restart_needed(code) => return Ok(true),
            Ok(code) => Error::msg(format!(
                "Windows update script exited with non-zero exit status: {code}"
            )),
        };
        tracing::debug!("Retryable error (try {n} of {tries}): {e}");
        last = e;
        // The plugin pauses after every failure, the last one included.
        ctx.sleep(c.intervals.retry).await?;
    }
    Err(Error::msg(format!(
        "retry count exhausted. Last err: {last}"
    )))
}

/// Restarts until no restart is pending.
async fn restart(ctx: &BuildCtx, ui: &Ui, c: &Config, comm: &dyn Communicator) -> Result<()> {
    let retry = Retry {
        timeout: c.restart_timeout,
        delay: c.intervals.retry,
    };
    // Each step may take restart_timeout to start, and one more try to finish.
    let limit = c.restart_timeout.saturating_add(c.restart_timeout);
    loop {
        ui.say("Restarting the machine...");
        let restarting = retry.run(ctx, || async {
            match exec_ui(ctx, comm, ui, RESTART_COMMAND).await? {
                // A connection dropped by the restart itself is the restart happening.
                0 | DISCONNECTED => Ok(()),
                code => Err(Error::msg(format!(
                    "Failed to restart the machine with exit status: {code}"
                ))),
            }
        });
        bounded(ctx, limit, "the machine to restart", restarting).await?;

        ui.say("Waiting for machine to become available...");
        let back = retry.run(ctx, || async {
            match exec_ui(ctx, comm, ui, TEST_RESTART_COMMAND).await? {
                0 => exec_ui(ctx, comm, ui, ABORT_TEST_RESTART_COMMAND)
                    .await
                    .map(drop),
                code => Err(Error::msg(format!(
                    "Machine not yet available (exit status {code})"
                ))),
            }
        });
        bounded(ctx, limit, "the machine to become available", back).await?;

        ui.say("Checking for pending restart...");
        let check = retry.run(ctx, || async {
            match exec_ui(ctx, comm, ui, PENDING_REBOOT_ELEVATED_COMMAND).await? {
                0 => Ok(false),
                code if restart_needed(code) => Ok(true),
                code => Err(Error::msg(format!(
                    "Machine not yet available (exit status {code})"
                ))),
            }
        });
        let pending = bounded(ctx, limit, "the pending restart check", check).await?;
        if pending {
            ui.say("Restart is still pending...");
        } else {
            ui.say("Restart complete");
            return Ok(());
        }
    }
}
