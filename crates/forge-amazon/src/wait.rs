//! Waiting for EC2 state changes: by deadline rather than by attempt count, polling quickly
//! at first (moto and fast APIs answer at once) and backing off, or at the fixed
//! `aws_polling.delay_seconds`; every wait takes the build's cancellation.

use std::future::Future;
use std::time::Duration;

// tokio's clock: the same as the system's, except in tests that pause it.
use tokio::time::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::{Ec2, RunSpec};
    use crate::fake::{FakeCloud, FakeEc2};
    use crate::limiter::Limiter;
    use std::sync::Arc;

    /// An account with one instance launched; the instance's id.
    async fn launched(cloud: &Arc<FakeCloud>) -> (Arc<FakeEc2>, String) {
        let ec2 = cloud.ec2("us-east-1");
        let image = cloud.add_image("us-east-1", "base", "amazon");
        let spec = RunSpec {
            image_id: image,
            instance_type: "t3.micro".into(),
            ..RunSpec::default()
        };
        let id = ec2.run_instance(&spec).await.unwrap();
        (ec2, id)
    }

    /// A wait of `secs` with forge's backoff.
    fn backoff(secs: u64) -> Wait {
        Wait {
            deadline: Duration::from_secs(secs),
            fixed: None,
        }
    }

    /// Waits with `w` until the instance runs.
    async fn until_running(w: Wait, ctx: &BuildCtx, ec2: &FakeEc2, id: &str) -> Result<String> {
        w.until(ctx, &format!("instance {id} to run"), || async {
            let i = ec2.describe_instance(id).await?;
            Ok(i.filter(|i| i.state == "running").map(|i| i.state))
        })
        .await
    }

    /// When each DescribeInstances went, since `start`, in milliseconds.
    fn polls(cloud: &FakeCloud, start: Instant) -> Vec<u128> {
        cloud
            .calls()
            .iter()
            .filter(|c| c.op == "DescribeInstances")
            .map(|c| (c.at - start).as_millis())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn polls_with_a_doubling_delay_while_pending_and_returns_the_state_reached() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("running", Some(4));
        let (ec2, id) = launched(&cloud).await;
        let ctx = BuildCtx::for_test("amazon-ebs.x");
        let start = Instant::now();
        let w = backoff(60);
        assert_eq!(until_running(w, &ctx, &ec2, &id).await.unwrap(), "running");
        assert_eq!(polls(&cloud, start), [0, 500, 1500, 3500, 7500]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_delay_polls_at_that_interval() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("running", Some(2));
        let (ec2, id) = launched(&cloud).await;
        let ctx = BuildCtx::for_test("amazon-ebs.x");
        let start = Instant::now();
        let w = Wait {
            deadline: Duration::from_secs(60),
            fixed: Some(Duration::from_secs(5)),
        };
        until_running(w, &ctx, &ec2, &id).await.unwrap();
        assert_eq!(polls(&cloud, start), [0, 5000, 10000]);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_saying_what_it_waited_for() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("running", None);
        let (ec2, id) = launched(&cloud).await;
        let ctx = BuildCtx::for_test("amazon-ebs.x");
        let start = Instant::now();
        let w = backoff(60);
        let e = until_running(w, &ctx, &ec2, &id).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("timed out after 1 minute waiting for instance {id} to run (raise aws_polling or AWS_TIMEOUT_SECONDS)")
        );
        // The last poll is at the deadline, not a whole delay after it.
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        assert_eq!(
            polls(&cloud, start),
            [0, 500, 1500, 3500, 7500, 15500, 25500, 35500, 45500, 55500, 60000]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_the_build_is_cancelled() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("running", None);
        let (ec2, id) = launched(&cloud).await;
        let ctx = BuildCtx::for_test("amazon-ebs.x");
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        });
        let start = Instant::now();
        let w = backoff(600);
        assert_eq!(
            until_running(w, &ctx, &ec2, &id).await,
            Err(Error::Cancelled)
        );
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        assert_eq!(polls(&cloud, start), [0, 500, 1500, 3500]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_while_polling_ends_the_wait() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("running", None);
        let (ec2, id) = launched(&cloud).await;
        cloud.fail("DescribeInstances", "UnauthorizedOperation", None);
        let ctx = BuildCtx::for_test("amazon-ebs.x");
        let w = backoff(60);
        let e = until_running(w, &ctx, &ec2, &id).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "EC2 DescribeInstances: UnauthorizedOperation: injected by the test"
        );
        assert_eq!(cloud.count("DescribeInstances"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_polls_back_off_in_the_client_and_the_wait_still_succeeds() {
        let cloud = FakeCloud::new(&["us-east-1"]);
        cloud.pending("running", Some(1));
        let (ec2, id) = launched(&cloud).await;
        let limiter = Arc::new(Limiter::new(10.0));
        cloud.retry_like_sdk(limiter.clone(), 0);
        cloud.fail("DescribeInstances", "RequestLimitExceeded", Some(3));
        let ctx = BuildCtx::for_test("amazon-ebs.x");
        let start = Instant::now();
        let w = backoff(60);
        until_running(w, &ctx, &ec2, &id).await.unwrap();
        assert_eq!(limiter.throttled_count(), 3);
        // Three throttled tries, the pending answer, then running.
        let at = polls(&cloud, start);
        assert_eq!(at.len(), 5, "{at:?}");
        // 250 + 500 + 1000 ms of backoff before the first answer, then the wait's 500 ms.
        assert!(at[3] >= 1750, "{at:?}");
        assert!(at[4] - at[3] >= 500, "{at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_plain_wait_gives_up_at_its_deadline() {
        let start = Instant::now();
        let e = until_plain(
            Duration::from_secs(600),
            "instance i-1 to terminate",
            || async { Ok(None::<()>) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "timed out after 10 minutes waiting for instance i-1 to terminate"
        );
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(600) && took < Duration::from_secs(610),
            "{took:?}"
        );
    }
}
