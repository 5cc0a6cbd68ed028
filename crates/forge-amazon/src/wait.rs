//! Waiting for EC2 state changes: by deadline rather than by attempt count, polling quickly
//! at first (moto and fast APIs answer at once) and backing off, or at the fixed
//! `aws_polling.delay_seconds`; every wait takes the build's cancellation.

use std::future::Future;
use std::time::{Duration, Instant};

use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// Give up after this long.
    pub deadline: Duration,
    /// A fixed interval, else 0.5 s doubling up to 10 s.
    pub fixed: Option<Duration>,
}

impl Wait {
    /// Polls `check` until it returns `Some`, the deadline passes (the error names `what`),
    /// or the build is cancelled.
    pub async fn until<T, F, Fut>(&self, ctx: &BuildCtx, what: &str, mut check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let start = Instant::now();
        let mut delay = self.fixed.unwrap_or(Duration::from_millis(500));
        loop {
            if let Some(v) = check().await? {
                return Ok(v);
            }
            if start.elapsed() >= self.deadline {
                return Err(Error::msg(format!(
                    "timed out after {} waiting for {what} (raise aws_polling or AWS_TIMEOUT_SECONDS)",
                    forge_core::durafmt::format(self.deadline)
                )));
            }
            ctx.sleep(
                delay
                    .min(self.deadline.saturating_sub(start.elapsed()))
                    .max(Duration::from_millis(50)),
            )
            .await?;
            if self.fixed.is_none() {
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Waits outside a build (cleanup, post-processors): no cancellation.
pub async fn until_plain<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= deadline {
            return Err(Error::msg(format!(
                "timed out after {} waiting for {what}",
                forge_core::durafmt::format(deadline)
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
