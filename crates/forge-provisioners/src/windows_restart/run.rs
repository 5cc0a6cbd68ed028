//! Restarting a Windows machine and waiting for it (Packer 1.6.6 provisioner/windows-restart
//! `Provision`, `waitForRestart`, `waitForCommunicator`).
//!
//! 1. `restart_command` runs (retried while it cannot start); 0, 1115 and 1190 are accepted.
//! 2. The probe `shutdown /r /f /t 60 /c "packer restart test"` tells whether the restart is
//!    under way: 1115/1190/1717 mean "in progress" (pause 10 s, probe again); 0 means the probe
//!    scheduled a restart of its own, which `shutdown /a` cancels; 1, or a command that cannot
//!    run, means the machine is going down.
//! 3. Every 5 s: `restart_check_command` (when it is not the default) until it runs, then the
//!    default check until it prints `restarted.`, then with `check_registry` `Test-Path` of
//!    each key until none exists.
//!
//! Steps 2 and 3 each end after `restart_timeout` (Packer bounds only step 3; an unbounded
//! probe could hang forever), with an error that names the last check and what it said; the
//! build's cancellation ends every wait at once.

use std::future::Future;
use std::time::Duration;

use forge_core::plugin::{BuildCtx, Communicator, DISCONNECTED};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::{
    default_check_command, registry_check_command, Config, ABORT_REBOOT, TRY_CHECK_REBOOT,
};
use crate::common::go::GoDuration;
use crate::common::retry::Retry;
use crate::common::windows::{exec_capture, exec_ui};

/// Packer's timeout message.
pub const TIMEOUT: &str = "Timeout waiting for machine to restart.";

/// What the last check ran and what came of it, for the timeout's error.
#[derive(Debug, Default)]
struct Last(String);

impl Last {
    fn set(&mut self, what: &str, outcome: impl std::fmt::Display) {
        self.0 = format!("{what}: {outcome}");
    }

    fn output(&mut self, what: &str, code: i32, stdout: &str) {
        let out = stdout.trim();
        if out.is_empty() {
            self.set(what, format!("exit status {code}, no output"));
        } else {
            self.set(what, format!("exit status {code}, output {out:?}"));
        }
    }
}

/// Runs `fut` until it ends, `limit` passes (then `Ok(None)`) or the build is cancelled.
async fn bounded<T>(
    ctx: &BuildCtx,
    limit: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    tokio::select! {
        r = tokio::time::timeout(limit, fut) => match r {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        },
        _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// The timeout: Packer's message on the UI; the error also names the last check.
fn timed_out(ui: &Ui, waiting_for: &str, limit: Duration, last: &Last) -> Error {
    ui.error(TIMEOUT);
    let limit = GoDuration {
        abs: limit,
        negative: false,
    };
    let last = if last.0.is_empty() {
        "no check finished".to_string()
    } else {
        format!("last check: {}", last.0)
    };
    Error::msg(format!(
        "{TIMEOUT} Waited {limit} for {waiting_for}; {last}"
    ))
}

/// Restarts the machine and waits until it is back.
pub async fn run(ctx: &BuildCtx, ui: &Ui, c: &Config, comm: &dyn Communicator) -> Result<()> {
    ui.say("Restarting Machine");
    let retry = Retry {
        timeout: c.restart_timeout,
        delay: c.intervals.retry,
    };
    let code = retry
        .run(ctx, || exec_ui(ctx, comm, ui, &c.restart_command))
        .await?;
    // A connection dropped by the restart itself is the restart happening.
    if !matches!(code, 0 | 1115 | 1190 | DISCONNECTED) {
        return Err(Error::msg(format!(
            "Restart script exited with non-zero exit status: {code}"
        )));
    }
    wait_for_restart(ctx, ui, c, comm).await
}

/// Waits for the restart to begin, then for the machine to answer again.
async fn wait_for_restart(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
) -> Result<()> {
    ui.say("Waiting for machine to restart...");
    let mut last = Last::default();
    let probe = probe_restart(ctx, ui, c, comm, &mut last);
    if bounded(ctx, c.restart_timeout, probe).await?.is_none() {
        return Err(timed_out(
            ui,
            "the restart to begin",
            c.restart_timeout,
            &last,
        ));
    }
    tracing::debug!(
        "Waiting for machine to reboot with timeout: {}",
        GoDuration {
            abs: c.restart_timeout,
            negative: false
        }
    );
    let mut last = Last::default();
    let back = wait_for_communicator(ctx, ui, c, comm, &mut last);
    match bounded(ctx, c.restart_timeout, back).await? {
        Some(()) => {
            ui.say("Machine successfully restarted, moving on");
            Ok(())
        }
        None => Err(timed_out(
            ui,
            "the machine to come back",
            c.restart_timeout,
            &last,
        )),
    }
}

/// Probes until the restart is under way (Vagrant's check, as Packer took it).
async fn probe_restart(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    last: &mut Last,
) -> Result<()> {
    loop {
        tracing::debug!("Check if machine is rebooting...");
        let code = match exec_ui(ctx, comm, ui, TRY_CHECK_REBOOT).await {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            // It could not run: the machine is going down already.
            Err(_) => return Ok(()),
            Ok(code) => code,
        };
        last.set(TRY_CHECK_REBOOT, format!("exit status {code}"));
        match code {
            // SSH to a machine that is already going down; or the connection dropped.
            1 | DISCONNECTED => return Ok(()),
            0 => {
                // The probe scheduled a restart: cancel it, the machine is up.
                match exec_ui(ctx, comm, ui, ABORT_REBOOT).await {
                    Err(Error::Cancelled) => return Err(Error::Cancelled),
                    Err(e) => tracing::debug!("{ABORT_REBOOT}: {e}"),
                    Ok(_) => {}
                }
                return Ok(());
            }
            1115 | 1190 | 1717 => {
                tracing::debug!("Reboot already in progress, waiting...");
                ctx.sleep(c.intervals.in_progress).await?;
            }
            // Packer probes again at once; a pause keeps this from spinning.
            _ => ctx.sleep(c.intervals.retry).await?,
        }
    }
}

/// Checks every few seconds until the machine answers as restarted.
async fn wait_for_communicator(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    last: &mut Last,
) -> Result<()> {
    let default_check = default_check_command();
    let mut custom_check = c.restart_check_command != default_check;
    tracing::debug!(
        "Checking that communicator is connected with: '{}'",
        c.restart_check_command
    );
    loop {
        ctx.sleep(c.intervals.check).await?;
        if custom_check {
            // The user's check only has to run; its exit status is not judged.
            match exec_ui(ctx, comm, ui, &c.restart_check_command).await {
                Err(Error::Cancelled) => return Err(Error::Cancelled),
                Err(e) => {
                    last.set(&c.restart_check_command, &e);
                    continue;
                }
                Ok(code) => last.set(&c.restart_check_command, format!("exit status {code}")),
            }
            custom_check = false;
        }
        // PowerShell may answer before its modules load: only `restarted.` on stdout counts.
        match exec_capture(ctx, comm, ui, &default_check).await {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => {
                last.set(&default_check, &e);
                continue;
            }
            Ok((code, out)) => {
                last.output(&default_check, code, &out);
                if !out.contains("restarted.") {
                    tracing::debug!("echo didn't succeed; retrying...");
                    continue;
                }
            }
        }
        if c.check_registry && pending_keys(ctx, ui, c, comm, last).await? {
            continue;
        }
        return Ok(());
    }
}

/// Whether a registry key says a restart is still pending (or a check could not run).
async fn pending_keys(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    last: &mut Last,
) -> Result<bool> {
    let mut pending = false;
    for key in &c.registry_keys {
        let command = registry_check_command(key);
        match exec_capture(ctx, comm, ui, &command).await {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => {
                last.set(&format!("Test-Path \"{key}\""), &e);
                pending = true;
            }
            Ok((code, out)) => {
                if out.contains("True") {
                    tracing::debug!("RegistryKey {key} exists; waiting...");
                    last.output(&format!("Test-Path \"{key}\""), code, &out);
                    pending = true;
                }
            }
        }
    }
    Ok(pending)
}
