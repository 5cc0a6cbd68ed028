//! StepWaitStartupScript: waits until the wrapped startup script reports `done` in the
//! instance's `startup-script-status` metadata; `error` fails the build. Polls back off
//! linearly from 10 to 60 seconds, as Packer's do, within `state_timeout`.

use std::time::Duration;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::step_create_instance::STATUS_KEY;
use super::State;
use crate::compute::human;

pub(super) struct StepWaitStartupScript;

/// The next delay of Packer's linear backoff (10s steps up to 60s).
pub fn next_delay(d: Duration) -> Duration {
    (d + Duration::from_secs(10)).min(Duration::from_secs(60))
}

#[async_trait]
impl Step<State> for StepWaitStartupScript {
    fn name(&self) -> &'static str {
        "StepWaitStartupScript"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if c.wrap_startup_script != Some(true) {
            return Ok(());
        }
        ctx.ui
            .say("Waiting for any running startup script to finish...");
        let fail =
            |m: String| Error::msg(format!("Error waiting for startup script to finish: {m}"));
        let start = tokio::time::Instant::now();
        let mut delay = Duration::ZERO;
        loop {
            let i = st
                .compute
                .get_instance(&c.project_id, &c.zone, &c.instance_name)
                .await
                .map_err(|e| fail(e.to_string()))?
                .ok_or_else(|| fail(format!("instance {} is gone", c.instance_name)))?;
            let status = i["metadata"]["items"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["key"] == STATUS_KEY))
                .and_then(|x| x["value"].as_str())
                .map(str::to_string);
            match status.as_deref() {
                Some("done") => {
                    ctx.ui.message("Startup script successfully finished.");
                    break;
                }
                Some("error") => {
                    ctx.ui.message("Startup script in error. Exiting...");
                    return Err(fail("Startup script exited with error.".into()));
                }
                Some(_) => ctx
                    .ui
                    .message("Startup script not finished yet. Waiting..."),
                None => ctx.ui.message(&format!(
                    "Metadata {STATUS_KEY} on instance {} not available. Waiting...",
                    c.instance_name
                )),
            }
            delay = next_delay(delay);
            let left = c.state_timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(fail(format!(
                    "timed out after {} waiting for the startup script of instance {} to report done",
                    human(c.state_timeout),
                    c.instance_name
                )));
            }
            tokio::select! {
                _ = tokio::time::sleep(delay.min(left)) => {}
                _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
            }
        }
        ctx.ui.say("Startup script, if any, has finished running.");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_is_linear_up_to_a_minute() {
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..8 {
            d = next_delay(d);
            seen.push(d.as_secs());
        }
        assert_eq!(seen, [10, 20, 30, 40, 50, 60, 60, 60]);
    }
}

#[cfg(test)]
mod wait_tests {
    use super::super::step_create_instance::StepCreateInstance;
    use super::*;
    use crate::fake::Fx;
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn the_status_is_polled_until_done_and_error_fails_the_build() {
        let dir = forge_testkit::tempdir::dir(&[("s.sh", "echo hi\n")]);
        let fx = Fx::new();
        let path = dir.join("s.sh").display().to_string();
        let mut st = fx.state(json!({"startup_script_file": path}));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        let cloud = fx.cloud.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(25)).await;
            cloud.set_metadata("inst-1", STATUS_KEY, "done");
        });
        let start = tokio::time::Instant::now();
        StepWaitStartupScript.run(&fx.ctx, &mut st).await.unwrap();
        // Polls at 0, 10 and 30 seconds.
        assert_eq!(start.elapsed().as_secs(), 30);
        assert!(fx
            .said()
            .contains("Startup script not finished yet. Waiting..."));
        assert!(fx.said().contains("Startup script successfully finished."));
        fx.cloud.set_metadata("inst-1", STATUS_KEY, "error");
        let e = StepWaitStartupScript
            .run(&fx.ctx, &mut st)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error waiting for startup script to finish: Startup script exited with error."
        );
    }
}
