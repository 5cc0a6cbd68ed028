//! Packer's `retry.Config{StartTimeout}.Run`: try, and on failure wait and try again until the
//! start timeout has passed; then the last error is the result.

use std::future::Future;
use std::time::{Duration, Instant};

use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};

/// Packer's pause between tries.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(2);

/// How long, and how often, to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// No new try starts once this much time has passed since the first (zero: one try only).
    pub timeout: Duration,
    /// The pause after a failed try.
    pub delay: Duration,
}

impl Retry {
    /// Retries for `timeout`, pausing Packer's two seconds between tries.
    pub fn new(timeout: Duration) -> Retry {
        Retry {
            timeout,
            delay: DEFAULT_DELAY,
        }
    }

    /// Runs `attempt` until it succeeds, the timeout passes (the last error is returned), or
    /// the build is cancelled.
    pub async fn run<T, F: Future<Output = Result<T>>>(
        &self,
        ctx: &BuildCtx,
        mut attempt: impl FnMut() -> F,
    ) -> Result<T> {
        let start = Instant::now();
        loop {
            let err = match attempt().await {
                Ok(v) => return Ok(v),
                Err(Error::Cancelled) => return Err(Error::Cancelled),
                Err(e) => e,
            };
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if start.elapsed() >= self.timeout {
                return Err(err);
            }
            tracing::debug!("Retryable error: {err}");
            ctx.sleep(self.delay).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(timeout_ms: u64) -> Retry {
        Retry {
            timeout: Duration::from_millis(timeout_ms),
            delay: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let ctx = BuildCtx::for_test("null");
        let mut n = 0;
        let r = quick(5_000)
            .run(&ctx, || {
                n += 1;
                let n = n;
                async move {
                    if n < 3 {
                        Err(Error::msg(format!("try {n}")))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test]
    async fn gives_up_with_the_last_error() {
        let ctx = BuildCtx::for_test("null");
        let mut n = 0;
        let r: Result<()> = quick(40)
            .run(&ctx, || {
                n += 1;
                std::future::ready(Err(Error::msg(format!("try {n}"))))
            })
            .await;
        assert!(n > 1, "{n}");
        assert_eq!(r, Err(Error::msg(format!("try {n}"))));
    }

    #[tokio::test]
    async fn zero_timeout_is_one_try() {
        let ctx = BuildCtx::for_test("null");
        let mut n = 0;
        let r: Result<()> = quick(0)
            .run(&ctx, || {
                n += 1;
                std::future::ready(Err(Error::msg("no")))
            })
            .await;
        assert_eq!((n, r), (1, Err(Error::msg("no"))));
    }

    #[tokio::test]
    async fn cancellation_stops_retrying() {
        let ctx = BuildCtx::for_test("null");
        ctx.cancel.cancel();
        let r: Result<()> = quick(5_000)
            .run(&ctx, || std::future::ready(Err(Error::msg("no"))))
            .await;
        assert_eq!(r, Err(Error::Cancelled));
    }
}
