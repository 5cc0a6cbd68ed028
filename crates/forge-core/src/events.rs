//! The JSON-lines event stream (`--events FILE`), schema version [`SCHEMA_VERSION`].
//!
//! Each line is one object: `{"v":1,"ts":"<RFC 3339, ms>","run":"<run id>","type":"<type>",
//! ...}` with `build` for build-scoped events. Types: `run.start`, `run.end`, `build.start`,
//! `build.end`, `step.start`, `step.end`, `resource.created`, `resource.deleted`, `artifact`,
//! `error`, `timeline`. docs/events.md describes every field. Lines are redacted like the UI.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::redact::Redactor;

/// The event schema version written in every line's `v`.
pub const SCHEMA_VERSION: u32 = 1;

/// Where events go; a disabled sink drops them.
pub struct Events {
    run_id: String,
    out: Option<Mutex<Box<dyn Write + Send>>>,
    redactor: Arc<Redactor>,
}

impl Events {
    /// A sink writing to `out` (or nowhere).
    pub fn new(
        run_id: &str,
        out: Option<Box<dyn Write + Send>>,
        redactor: Arc<Redactor>,
    ) -> Arc<Events> {
        Arc::new(Events {
            run_id: run_id.to_string(),
            out: out.map(Mutex::new),
            redactor,
        })
    }

    /// A sink that drops everything.
    pub fn disabled() -> Arc<Events> {
        Events::new("", None, Redactor::new())
    }

    /// Emits one event of `kind`, for `build` if any, with `fields` merged in.
    pub fn emit(&self, kind: &str, build: Option<&str>, fields: Value) {
        let Some(out) = &self.out else { return };
        let mut m = Map::new();
        m.insert("v".into(), json!(SCHEMA_VERSION));
        m.insert(
            "ts".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        m.insert("run".into(), json!(self.run_id));
        m.insert("type".into(), json!(kind));
        if let Some(b) = build {
            m.insert("build".into(), json!(b));
        }
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        let line = self.redactor.redact(&Value::Object(m).to_string());
        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    }
}
