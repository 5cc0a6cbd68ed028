//! The end of a run: Packer's closing lines (errors, then artifacts) in human or machine form,
//! the artifact events, and forge's per-build timeline.

use std::time::Duration;

use serde_json::json;

use super::{BuildResult, RunSummary};
use crate::events::Events;
use crate::ui::Output;
use crate::Error;

pub(super) fn print(out: &Output, events: &Events, s: &RunSummary, took: Duration) {
    out.say(
        &format!(
            "\n==> Wait completed after {}",
            crate::durafmt::format(took)
        ),
        None,
    );
    if s.cancelled {
        out.say("Cleanly cancelled builds after being interrupted.", None);
        print_timeline(out, &s.results);
        return;
    }
    let failed: Vec<&BuildResult> = s
        .results
        .iter()
        .filter(|r| r.error.as_ref().is_some_and(|e| !e.is_cancelled()))
        .collect();
    if !failed.is_empty() {
        out.machine("", "error-count", &[&failed.len().to_string()]);
        out.error("\n==> Some builds didn't complete successfully and had errors:");
        for r in &failed {
            let msg = r.error.as_ref().map(Error::to_string).unwrap_or_default();
            out.machine(&r.name, "error", &[&msg]);
            out.error(&format!("--> {}: {msg}", r.name));
            events.emit("error", Some(&r.name), json!({ "message": msg }));
        }
    }
    let with_artifacts: Vec<&BuildResult> = s
        .results
        .iter()
        .filter(|r| !r.artifacts.is_empty())
        .collect();
    if with_artifacts.is_empty() {
        out.say("\n==> Builds finished but no artifacts were created.", None);
    } else {
        out.say(
            "\n==> Builds finished. The artifacts of successful builds are:",
            None,
        );
        for r in with_artifacts {
            out.machine(&r.name, "artifact-count", &[&r.artifacts.len().to_string()]);
            for (index, a) in r.artifacts.iter().enumerate() {
                let i = index.to_string();
                let files = a.files();
                out.machine(&r.name, "artifact", &[&i, "builder-id", &a.builder_id()]);
                out.machine(&r.name, "artifact", &[&i, "id", &a.id()]);
                out.machine(&r.name, "artifact", &[&i, "string", &a.string()]);
                out.machine(
                    &r.name,
                    "artifact",
                    &[&i, "files-count", &files.len().to_string()],
                );
                for (j, f) in files.iter().enumerate() {
                    out.machine(&r.name, "artifact", &[&i, "file", &j.to_string(), f]);
                }
                out.machine(&r.name, "artifact", &[&i, "end"]);
                out.say(&format!("--> {}: {}", r.name, a.string()), None);
                events.emit(
                    "artifact",
                    Some(&r.name),
                    json!({ "index": index, "builder_id": a.builder_id(),
                            "id": a.id(), "string": a.string(), "files": files }),
                );
            }
        }
    }
    print_timeline(out, &s.results);
}

/// forge's timeline: each build's phases with their start offsets, durations and outcomes.
/// Human output only; the event stream carries it as `timeline` events.
fn print_timeline(out: &Output, results: &[BuildResult]) {
    if out.is_machine() || results.iter().all(|r| r.timeline.is_empty()) {
        return;
    }
    let mut text = String::from("\n==> Timeline:");
    for r in results {
        let status = match &r.error {
            None => "finished",
            Some(e) if e.is_cancelled() => "cancelled",
            Some(_) => "errored",
        };
        text.push_str(&format!(
            "\n--> {}: {status} in {}",
            r.name,
            crate::durafmt::short(r.duration)
        ));
        let width = r
            .timeline
            .iter()
            .map(|p| p.name.len() + 2 * p.depth)
            .max()
            .unwrap_or(0);
        // Cleanups that did nothing noticeable are left out (the event stream has them all).
        for p in r
            .timeline
            .iter()
            .filter(|p| !(p.name.starts_with("cleanup ") && p.status == "ok" && p.duration_ms == 0))
        {
            let name = format!("{}{}", "  ".repeat(p.depth), p.name);
            text.push_str(&format!(
                "\n    +{:<8} {name:<width$}  {:>8}  {}",
                crate::durafmt::short(Duration::from_millis(p.start_ms)),
                crate::durafmt::short(Duration::from_millis(p.duration_ms)),
                p.status
            ));
        }
    }
    out.say(&text, None);
}
