//! One request-rate limiter per account and region, shared by every build of the process:
//! twenty parallel builds against one region share one budget instead of each throttling the
//! others. The rate adapts: a throttling answer halves it, each success wins a little back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// The steady rate a fresh limiter allows, requests per second (EC2's smallest API buckets
/// refill at 2–5 per second; reads allow more).
pub const DEFAULT_RATE: f64 = 10.0;
/// Requests that may go at once before the rate applies.
pub const BURST: f64 = 20.0;
const MIN_RATE: f64 = 0.5;

/// A token bucket.
#[derive(Debug)]
pub struct Limiter {
    st: Mutex<Bucket>,
    max_rate: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: f64,
    at: Instant,
    throttled: u64,
}

impl Limiter {
    /// A limiter allowing `rate` requests per second after a burst of [`BURST`].
    pub fn new(rate: f64) -> Limiter {
        Limiter {
            st: Mutex::new(Bucket {
                tokens: BURST,
                rate,
                at: Instant::now(),
                throttled: 0,
            }),
            max_rate: rate,
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut b = self.st.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * b.rate).min(BURST);
                b.at = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - b.tokens) / b.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The service said "slow down": halve the rate and drop the saved burst.
    pub fn throttled(&self) {
        let mut b = self.st.lock().unwrap_or_else(|e| e.into_inner());
        b.rate = (b.rate / 2.0).max(MIN_RATE);
        b.tokens = b.tokens.min(0.0);
        b.throttled += 1;
    }

    /// A request went through: win back a little of the rate.
    pub fn succeeded(&self) {
        let mut b = self.st.lock().unwrap_or_else(|e| e.into_inner());
        b.rate = (b.rate + 0.1).min(self.max_rate);
    }

    /// The current rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.st.lock().unwrap_or_else(|e| e.into_inner()).rate
    }

    /// How many throttling answers it has seen.
    pub fn throttled_count(&self) -> u64 {
        self.st.lock().unwrap_or_else(|e| e.into_inner()).throttled
    }
}

/// The process's limiter for `key` (account, role, endpoint and region).
/// `FORGE_AWS_RATE` sets the steady rate of new limiters.
pub fn shared(key: &str) -> Arc<Limiter> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Limiter>>>> = OnceLock::new();
    let rate = std::env::var("FORGE_AWS_RATE")
        .ok()
        .and_then(|r| r.parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .unwrap_or(DEFAULT_RATE);
    ALL.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_string())
        .or_insert_with(|| Arc::new(Limiter::new(rate)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_limiter_per_key() {
        let a = shared("k1|us-east-1");
        let b = shared("k1|us-east-1");
        let c = shared("k1|us-west-2");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_holds_after_the_burst() {
        let l = Limiter::new(10.0);
        let start = tokio::time::Instant::now();
        for _ in 0..(BURST as usize + 10) {
            l.acquire().await;
        }
        // 10 requests beyond the burst at 10/s take about a second.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took <= Duration::from_millis(1200), "{took:?}");
    }

    #[test]
    fn throttling_halves_the_rate_and_success_wins_it_back() {
        let l = Limiter::new(8.0);
        l.throttled();
        assert_eq!(l.rate(), 4.0);
        l.throttled();
        assert_eq!(l.rate(), 2.0);
        for _ in 0..100 {
            l.succeeded();
        }
        assert_eq!(l.rate(), 8.0);
        assert_eq!(l.throttled_count(), 2);
    }
}
