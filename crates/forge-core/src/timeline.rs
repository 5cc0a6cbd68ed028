//! A per-build timeline of its phases (steps, provisioners, post-processors, cleanups), printed
//! at the end of a run and recorded in the event stream.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// What ran: `StepProvision`, `provisioner shell-local`, `post-processor manifest`, ...
    pub name: String,
    /// Nesting depth (provisioners sit inside StepProvision).
    pub depth: usize,
    /// Milliseconds from the build's start.
    pub start_ms: u64,
    /// Milliseconds it took.
    pub duration_ms: u64,
    /// `ok`, `failed`, `cancelled` or `skipped`.
    pub status: String,
}

/// The phases of one build, in the order they started.
pub struct Timeline {
    start: Instant,
    phases: Mutex<Vec<Phase>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            start: Instant::now(),
            phases: Mutex::new(Vec::new()),
        }
    }
}

impl Timeline {
    /// Starts a phase; returns its index for [`Timeline::end`].
    pub fn begin(&self, name: &str, depth: usize) -> usize {
        let mut p = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        p.push(Phase {
            name: name.to_string(),
            depth,
            start_ms: self.start.elapsed().as_millis() as u64,
            duration_ms: 0,
            status: "running".into(),
        });
        p.len() - 1
    }

    /// Ends phase `i` with `status`, and with it every phase that started inside it and is
    /// still running (a step cancelled mid-way drops its provisioner without ending it).
    pub fn end(&self, i: usize, status: &str) {
        let now = self.start.elapsed().as_millis() as u64;
        let mut p = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        for (j, ph) in p.iter_mut().enumerate().skip(i) {
            if j == i || ph.status == "running" {
                ph.duration_ms = now.saturating_sub(ph.start_ms);
                ph.status = status.to_string();
            }
        }
    }

    /// Time since the build started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The phases so far.
    pub fn phases(&self) -> Vec<Phase> {
        self.phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::Timeline;

    #[test]
    fn ending_a_phase_ends_what_still_runs_inside_it() {
        let t = Timeline::default();
        let step = t.begin("StepProvision", 0);
        let done = t.begin("provisioner a", 1);
        t.end(done, "ok");
        t.begin("provisioner b", 1);
        t.end(step, "cancelled");
        let s: Vec<String> = t.phases().into_iter().map(|p| p.status).collect();
        assert_eq!(s, ["cancelled", "ok", "cancelled"]);
    }
}
