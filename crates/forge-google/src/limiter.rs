//! One request-rate limiter per project, shared by every build of the process: parallel
//! builds in one project share one budget (a token bucket) instead of each spending
//! Compute Engine's per-project rate quota on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// Requests per second a project's limiter allows (Compute Engine's default read quota is
/// 20 per second per project).
pub const RATE: f64 = 20.0;
/// Requests that may go at once before the rate applies.
pub const BURST: f64 = 20.0;

/// A token bucket.
#[derive(Debug)]
pub struct Limiter {
    st: Mutex<(f64, Instant)>,
    rate: f64,
}

impl Limiter {
    /// A limiter allowing `rate` requests per second after a burst of [`BURST`].
    pub fn new(rate: f64) -> Limiter {
        Limiter {
            st: Mutex::new((BURST, Instant::now())),
            rate,
        }
    }

    /// Waits for a token.
    pub async fn wait(&self) {
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
