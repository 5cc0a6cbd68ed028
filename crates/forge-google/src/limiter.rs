//! One request-rate limiter per project, shared by every build of the process: parallel
//! builds in one project share one budget (a token bucket) instead of each spending
//! Compute Engine's per-project rate quota on its own. When the quota refuses a call anyway
//! (429, or 403 `rateLimitExceeded`), every build of the project holds for the answer's
//! `Retry-After`, else for a backoff doubling from 1 s up to 32 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// Requests per second a project's limiter allows (Compute Engine's default read quota is
/// 20 per second per project).
pub const RATE: f64 = 20.0;
/// Requests that may go at once before the rate applies.
pub const BURST: f64 = 20.0;

/// The longest hold after a throttled call without `Retry-After`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(32);

/// A token bucket, and the hold the quota asked for.
#[derive(Debug)]
pub struct Limiter {
    st: Mutex<(f64, Instant)>,
    rate: f64,
    /// No call before this instant; the backoff of the next throttled call.
    hold: Mutex<(Instant, Duration)>,
}

impl Limiter {
    /// A limiter allowing `rate` requests per second after a burst of [`BURST`].
    pub fn new(rate: f64) -> Limiter {
        Limiter {
            st: Mutex::new((BURST, Instant::now())),
            rate,
            hold: Mutex::new((Instant::now(), Duration::from_secs(1))),
        }
    }

    /// A call was refused by the rate quota: hold every call for `retry_after`, else for the
    /// backoff (which doubles).
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let mut h = self.hold.lock().unwrap_or_else(|e| e.into_inner());
        let pause = retry_after.unwrap_or(h.1).min(MAX_BACKOFF * 4);
        h.0 = h.0.max(Instant::now() + pause);
        h.1 = (h.1 * 2).min(MAX_BACKOFF);
    }

    /// A call went through: the backoff starts again from 1 s.
    pub fn succeeded(&self) {
        self.hold.lock().unwrap_or_else(|e| e.into_inner()).1 = Duration::from_secs(1);
    }

    /// Waits for the hold to end, then for a token.
    pub async fn wait(&self) {
        loop {
            let until = self.hold.lock().unwrap_or_else(|e| e.into_inner()).0;
            if until <= Instant::now() {
                break;
            }
            tokio::time::sleep_until(until).await;
        }
        loop {
            let wait = {
                let mut b = self.st.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.rate).min(BURST);
                b.1 = now;
                if b.0 >= 1.0 {
                    b.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - b.0) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The process's limiter for `project`.
pub fn for_project(project: &str) -> Arc<Limiter> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Limiter>>>> = OnceLock::new();
    let mut m = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    m.entry(project.to_string())
        .or_insert_with(|| Arc::new(Limiter::new(RATE)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_throttled_call_holds_the_project_for_retry_after_else_a_doubling_backoff() {
        let l = Limiter::new(RATE);
        let start = Instant::now();
        l.throttled(Some(Duration::from_secs(7)));
        l.wait().await;
        assert_eq!(start.elapsed().as_secs(), 7);
        let start = Instant::now();
        l.throttled(None);
        l.wait().await;
        l.throttled(None);
        l.wait().await;
        // 1 s, then 2 s (the first throttled call already doubled it once).
        assert_eq!(start.elapsed().as_secs(), 6);
        l.succeeded();
        let start = Instant::now();
        l.throttled(None);
        l.wait().await;
        assert_eq!(start.elapsed().as_secs(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn builds_of_one_project_share_one_budget() {
        let a = for_project("p-share");
        assert!(Arc::ptr_eq(&a, &for_project("p-share")));
        assert!(!Arc::ptr_eq(&a, &for_project("p-other")));
        let start = Instant::now();
        for _ in 0..(BURST as usize + 20) {
            a.wait().await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(950) && took <= Duration::from_millis(1100),
            "{took:?}"
        );
    }
}
