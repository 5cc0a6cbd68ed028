//! Logs through tracing, switched on by `PACKER_LOG`/`FORGE_LOG` (any value but "" and "0") or
//! a log file in `PACKER_LOG_PATH`/`FORGE_LOG_PATH`. Every line is redacted. On stderr, UI lines
//! are left out (they are already on stdout), as Packer does.

use std::io::Write;
use std::sync::{Arc, Mutex};

use forge_core::redact::Redactor;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

#[derive(Clone)]
struct Sink {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    redactor: Arc<Redactor>,
}

struct SinkWriter(Sink);

impl Write for SinkWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let text = self.0.redactor.redact(&String::from_utf8_lossy(b));
        let mut o = self.0.out.lock().unwrap_or_else(|e| e.into_inner());
        o.write_all(text.as_bytes())?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter(self.clone())
    }
}

/// Installs the logger if the environment asks for one.
pub fn init(redactor: Arc<Redactor>) {
    let on = env(&["FORGE_LOG", "PACKER_LOG"]).is_some_and(|v| v != "0");
    let path = env(&["FORGE_LOG_PATH", "PACKER_LOG_PATH"]);
    if !on && path.is_none() {
        return;
    }
    let (out, to_stderr): (Box<dyn Write + Send>, bool) = match &path {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => (Box::new(f), false),
            Err(e) => {
                eprintln!("Couldn't open log file {p}: {e}");
                (Box::new(std::io::stderr()), true)
            }
        },
        None => (Box::new(std::io::stderr()), true),
    };
    let sink = Sink {
        out: Arc::new(Mutex::new(out)),
        redactor,
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(sink)
        .with_ansi(false)
        .with_filter(tracing_subscriber::filter::filter_fn(move |m| {
            !(to_stderr && m.target() == "ui") && *m.level() <= tracing::Level::DEBUG
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
