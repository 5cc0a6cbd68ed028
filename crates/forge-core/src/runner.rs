//! The step runner (Packer's multistep): steps run in order over a typed state; the first error
//! halts; cleanup runs in reverse for every step whose run started, the failing one included.
//! `-on-error` and `-debug` change how it unwinds.

use async_trait::async_trait;
use serde_json::json;

use crate::plugin::{BuildCtx, OnError};
use crate::{Error, Result};

/// How the run ended, as cleanups see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A step failed.
    pub halted: bool,
    /// The run was interrupted.
    pub cancelled: bool,
}

/// One step over state `S`.
#[async_trait]
pub trait Step<S: Send>: Send + Sync {
    /// The step's name as Packer prints it (`StepConnect`, `StepProvision`, ...).
    fn name(&self) -> &'static str;
    /// Does the step's work.
    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()>;
    /// Undoes exactly what `run` created.
    async fn cleanup(&mut self, _ctx: &BuildCtx, _state: &mut S, _outcome: Outcome) -> Result<()> {
        Ok(())
    }
    /// Whether this is the provisioning step (its cleanup runs the error-cleanup provisioner,
    /// even under `-on-error=run-cleanup-provisioner`).
    fn is_provision(&self) -> bool {
        false
    }
}

/// How long a step may take to wind down by itself after cancellation before it is dropped.
pub const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Awaits `fut`; once the run is cancelled, the step gets [`CANCEL_GRACE`] to notice and stop
/// by itself (so that it can stop what it started), and is dropped after that.
pub async fn run_cancellable<T>(
    ctx: &BuildCtx,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let mut fut = std::pin::pin!(fut);
    tokio::select! {
        r = &mut fut => r,
        _ = ctx.cancel.cancelled() => {
            match tokio::time::timeout(CANCEL_GRACE, &mut fut).await {
                Ok(Ok(_)) | Err(_) => Err(Error::Cancelled),
                Ok(Err(e)) => Err(e),
            }
        }
    }
}

/// Runs `steps` over `state`. Returns the halting error, [`Error::Cancelled`], or the first
/// cleanup error.
pub async fn run_steps<S: Send>(
    ctx: &BuildCtx,
    state: &mut S,
    steps: &mut [Box<dyn Step<S>>],
) -> Result<()> {
    let mut ran = 0;
    let mut failure: Option<(Error, &'static str)> = None;
    let mut cancelled = false;
    let mut aborted = false;
    for step in steps.iter_mut() {
        if ctx.cancel.is_cancelled() {
            cancelled = true;
            break;
        }
        ran += 1;
        let name = step.name();
        loop {
            ctx.events
                .emit("step.start", Some(&ctx.name), json!({ "step": name }));
            let phase = ctx.timeline.begin(name, 0);
            let r = run_cancellable(ctx, step.run(ctx, state)).await;
            let status = match &r {
                Ok(()) => "ok",
                Err(Error::Cancelled) => "cancelled",
                Err(_) => "failed",
            };
            ctx.timeline.end(phase, status);
            ctx.events.emit(
                "step.end",
                Some(&ctx.name),
                json!({ "step": name, "status": status,
                        "error": r.as_ref().err().map(|e| e.to_string()) }),
            );
            match r {
                Ok(()) => {
                    if ctx.opts.debug && !ctx.cancel.is_cancelled() {
                        ctx.ask(&format!(
                            "Pausing after run of step '{name}'. Press enter to continue."
                        ))
                        .await;
                    }
                }
                Err(Error::Cancelled) => cancelled = true,
                Err(e) => {
                    if ctx.opts.on_error == OnError::Ask {
                        ctx.ui.error(&e.to_string());
                        ctx.ui.error(&format!("Step \"{name}\" failed"));
                        let a = ctx
                            .ask("[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?")
                            .await
                            .unwrap_or_default();
                        match format!("{a}c").chars().next() {
                            Some('r') => continue,
                            Some('a') => aborted = true,
                            _ => {}
                        }
                    }
                    failure = Some((e, name));
                }
            }
            break;
        }
        if failure.is_some() || cancelled {
            break;
        }
    }
    let outcome = Outcome {
        halted: failure.is_some(),
        cancelled,
    };
    let abort = (outcome.halted || cancelled)
        && (aborted
            || matches!(
                ctx.opts.on_error,
                OnError::Abort | OnError::RunCleanupProvisioner
            ));
    if abort {
        ctx.keep_resources
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // Packer's abortStep: the first cleanup skipped says why (the error, then `Step "x" failed,
    // aborting...` or `Interrupted, aborting...`), each later one `aborted: skipping cleanup`.
    let mut abort_logged = false;
    let mut cleanup_err = None;
    for step in steps[..ran].iter_mut().rev() {
        let name = step.name();
        if abort && !(ctx.opts.on_error == OnError::RunCleanupProvisioner && step.is_provision()) {
            if abort_logged {
                ctx.ui
                    .error(&format!("aborted: skipping cleanup of step \"{name}\""));
            } else {
                abort_logged = true;
                if cancelled {
                    ctx.ui.error("Interrupted, aborting...");
                } else {
                    if let (Some((e, _)), false) = (&failure, aborted) {
                        ctx.ui.error(&e.to_string());
                    }
                    ctx.ui
                        .error(&format!("Step \"{name}\" failed, aborting..."));
                }
            }
            continue;
        }
        if ctx.opts.debug && !cancelled {
            ctx.ask(&format!(
                "Pausing before cleanup of step '{name}'. Press enter to continue."
            ))
            .await;
        }
        let phase = ctx.timeline.begin(&format!("cleanup {name}"), 0);
        let r = step.cleanup(ctx, state, outcome).await;
        ctx.timeline
            .end(phase, if r.is_ok() { "ok" } else { "failed" });
        if let Err(e) = r {
            let msg = format!("Error cleaning up step \"{name}\": {e}");
            ctx.ui.error(&msg);
            ctx.events.emit(
                "error",
                Some(&ctx.name),
                json!({ "step": name, "message": msg }),
            );
            cleanup_err.get_or_insert(Error::msg(msg));
        }
    }
    match (failure, cancelled, cleanup_err) {
        (Some((e, _)), _, _) => Err(e),
        (None, true, _) => Err(Error::Cancelled),
        (None, false, Some(e)) => Err(e),
        (None, false, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rec {
        name: &'static str,
        fail: bool,
    }

    #[async_trait]
    impl Step<Vec<String>> for Rec {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn run(&mut self, _: &BuildCtx, s: &mut Vec<String>) -> Result<()> {
            s.push(format!("run {}", self.name));
            if self.fail {
                Err(Error::msg("boom"))
            } else {
                Ok(())
            }
        }
        async fn cleanup(&mut self, _: &BuildCtx, s: &mut Vec<String>, o: Outcome) -> Result<()> {
            s.push(format!("cleanup {} halted={}", self.name, o.halted));
            Ok(())
        }
    }

    fn steps(fail_at: usize) -> Vec<Box<dyn Step<Vec<String>>>> {
        ["A", "B", "C"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Box::new(Rec {
                    name: n,
                    fail: i == fail_at,
                }) as Box<dyn Step<Vec<String>>>
            })
            .collect()
    }

    #[tokio::test]
    async fn halts_and_cleans_up_in_reverse_including_the_failing_step() {
        let ctx = BuildCtx::for_test("null.x");
        let mut st = Vec::new();
        let r = run_steps(&ctx, &mut st, &mut steps(1)).await;
        assert_eq!(r, Err(Error::msg("boom")));
        assert_eq!(
            st,
            [
                "run A",
                "run B",
                "cleanup B halted=true",
                "cleanup A halted=true"
            ]
        );
    }

    #[tokio::test]
    async fn abort_skips_cleanup() {
        let mut ctx = BuildCtx::for_test("null.x");
        ctx.opts.on_error = OnError::Abort;
        let mut st = Vec::new();
        let _ = run_steps(&ctx, &mut st, &mut steps(0)).await;
        assert_eq!(st, ["run A"]);
    }

    #[tokio::test]
    async fn cancelled_before_start_runs_nothing() {
        let ctx = BuildCtx::for_test("null.x");
        ctx.cancel.cancel();
        let mut st = Vec::new();
        assert_eq!(
            run_steps(&ctx, &mut st, &mut steps(9)).await,
            Err(Error::Cancelled)
        );
        assert!(st.is_empty());
    }
}
