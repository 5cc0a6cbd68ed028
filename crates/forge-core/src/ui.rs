//! What people and CI parsers see, in Packer's shapes.
//!
//! One [`Output`] per run owns stdout. Each build talks to it through a [`Ui`] that carries the
//! build's name (the target) and colour. Human mode prints `==> name: text` (say, bold colour),
//! `    name: text` (message) and errors in bold red, as Packer 1.6.6 does; machine mode prints
//! Packer's CSV lines `<unix>,<target>,<type>,<data...>`. Every line is redacted first.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use crate::redact::Redactor;

/// Packer's build colours, in the order builds get them: green, cyan, magenta, yellow, blue.
pub const BUILD_COLORS: [u8; 5] = [32, 36, 35, 33, 34];
const RED: u8 = 31;

/// How the run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Human text; `color` for ANSI colours, `timestamp` for `-timestamp-ui`.
    Human {
        /// ANSI colours.
        color: bool,
        /// An RFC 3339 timestamp before each line.
        timestamp: bool,
    },
    /// `-machine-readable` CSV.
    Machine {
        /// `-timestamp-ui` was given.
        timestamp: bool,
    },
}

/// The run's one output: stdout (or a test buffer), the mode, the redactor.
pub struct Output {
    mode: Mode,
    out: Mutex<Box<dyn Write + Send>>,
    redactor: Arc<Redactor>,
    progress: indicatif::MultiProgress,
    input: tokio::sync::Mutex<()>,
}

impl Output {
    /// An output writing to `out`.
    pub fn new(mode: Mode, out: Box<dyn Write + Send>, redactor: Arc<Redactor>) -> Arc<Output> {
        let draw = if matches!(mode, Mode::Human { .. }) && std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        };
        Arc::new(Output {
            mode,
            out: Mutex::new(out),
            redactor,
            progress: indicatif::MultiProgress::with_draw_target(draw),
            input: tokio::sync::Mutex::new(()),
        })
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The redactor every line passes through.
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// Whether this is `-machine-readable`.
    pub fn is_machine(&self) -> bool {
        matches!(self.mode, Mode::Machine { .. })
    }

    fn write_line(&self, line: &str) {
        let mut o = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let write = |o: &mut Box<dyn Write + Send>| {
            let _ = o.write_all(line.as_bytes());
            let _ = o.write_all(b"\n");
            let _ = o.flush();
        };
        if self.progress.is_hidden() {
            write(&mut o);
        } else {
            self.progress.suspend(|| write(&mut o));
        }
    }

    fn stamp(&self, text: String) -> String {
        let ts = match self.mode {
            Mode::Human { timestamp, .. } | Mode::Machine { timestamp } => timestamp,
        };
        if ts {
            let now = chrono::Local::now();
            format!(
                "{}: {text}",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        } else {
            text
        }
    }

    /// A Packer machine-readable line: `<unix>,<target>,<kind>,<args...>`.
    pub fn machine(&self, target: &str, kind: &str, args: &[&str]) {
        if !self.is_machine() {
            return;
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                self.redactor
                    .redact(a)
                    .replace(',', "%!(PACKER_COMMA)")
                    .replace('\r', "\\r")
                    .replace('\n', "\\n")
            })
            .collect();
        let now = chrono::Utc::now().timestamp();
        self.write_line(&format!("{now},{target},{kind},{}", args.join(",")));
    }

    /// Prints `text` as a UI line of `level` (`say`, `message`, `error`) in `color` (bold when
    /// `bold`); machine mode writes `,,ui,<level>,<text>`. `stamped` lines get the
    /// `-timestamp-ui` prefix: Packer stamps only what goes through a build's UI, never the run's
    /// own lines (colour legend, `Wait completed`, the summary).
    fn ui(&self, level: &str, text: &str, color: Option<u8>, bold: bool, stamped: bool) {
        let text = self.redactor.redact(text);
        let text = if stamped { self.stamp(text) } else { text };
        match self.mode {
            Mode::Machine { .. } => self.machine("", "ui", &[level, &text]),
            Mode::Human { color: on, .. } => match color {
                Some(c) if on => {
                    self.write_line(&format!("\x1b[{};{c}m{text}\x1b[0m", u8::from(bold)))
                }
                _ => self.write_line(&text),
            },
        }
    }

    /// Packer's untargeted say (as the run's ColoredUi prints it for build `color`).
    pub fn say(&self, text: &str, color: Option<u8>) {
        self.ui("say", text, color, true, false)
    }

    /// Packer's untargeted error: the run's own UI (Packer 1.6.6's BasicUi) prints it without
    /// colour; only a build's UI colours errors red.
    pub fn error(&self, text: &str) {
        self.ui("error", text, None, true, false)
    }

    /// A progress bar for `len` units, hidden when stderr is not a terminal or output is
    /// machine-readable.
    pub fn progress(&self, len: u64, label: &str) -> indicatif::ProgressBar {
        let pb = self.progress.add(indicatif::ProgressBar::new(len));
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb.set_prefix(label.to_string());
        pb
    }

    /// Asks a question on stdin and returns the answer line (empty at end of input).
    pub async fn ask(&self, prompt: &str, color: Option<u8>) -> String {
        let _g = self.input.lock().await;
        if self.is_machine() {
            // Packer's machine-readable UI cannot ask.
            return String::new();
        }
        self.say(prompt, color);
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            line.trim().to_string()
        })
        .await
        .unwrap_or_default()
    }
}

/// One build's view of the output: its name and colour (Packer's TargetedUI + ColoredUi).
#[derive(Clone)]
pub struct Ui {
    out: Arc<Output>,
    target: String,
    color: Option<u8>,
}

impl Ui {
    /// A UI for `target`, printing in `color` when colour is on.
    pub fn new(out: Arc<Output>, target: impl Into<String>, color: Option<u8>) -> Ui {
        Ui {
            out,
            target: target.into(),
            color,
        }
    }

    /// The same build's UI with another target (post-processors: `name (type)`).
    pub fn with_target(&self, target: impl Into<String>) -> Ui {
        Ui {
            out: self.out.clone(),
            target: target.into(),
            color: self.color,
        }
    }

    /// The target name.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The run's output.
    pub fn output(&self) -> &Arc<Output> {
        &self.out
    }

    fn prefix(&self, arrow: bool, text: &str) -> String {
        let a = if arrow { "==>" } else { "   " };
        let mut s = String::new();
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&format!("{a} {}: {line}", self.target));
        }
        s.trim_end().to_string()
    }

    /// `==> target: text`, bold in the build's colour.
    pub fn say(&self, text: &str) {
        tracing::info!(target: "ui", build = %self.target, "{}", self.out.redactor.redact(text));
        self.out
            .ui("say", &self.prefix(true, text), self.color, true, true)
    }

    /// `    target: text`, in the build's colour (command output and details).
    pub fn message(&self, text: &str) {
        tracing::debug!(target: "ui", build = %self.target, "{}", self.out.redactor.redact(text));
        self.out.ui(
            "message",
            &self.prefix(false, text),
            self.color,
            false,
            true,
        )
    }

    /// `==> target: text` in bold red.
    pub fn error(&self, text: &str) {
        tracing::warn!(target: "ui", build = %self.target, "{}", self.out.redactor.redact(text));
        self.out
            .ui("error", &self.prefix(true, text), Some(RED), true, true)
    }

    /// `text` through the build's UI but without the target prefix, bold in the build's colour
    /// (Packer's `Build 'name' finished after ...`): stamped under `-timestamp-ui`.
    pub fn say_untargeted(&self, text: &str) {
        self.out.ui("say", text, self.color, true, true)
    }

    /// `text` in bold red through the build's UI without the target prefix (Packer's
    /// `Build 'name' errored after ...`): stamped under `-timestamp-ui`.
    pub fn error_untargeted(&self, text: &str) {
        self.out.ui("error", text, Some(RED), true, true)
    }

    /// A machine-readable line for this target.
    pub fn machine(&self, kind: &str, args: &[&str]) {
        self.out.machine(&self.target, kind, args)
    }

    /// Asks a question; the answer line, or empty.
    pub async fn ask(&self, prompt: &str) -> String {
        self.out.ask(&self.prefix(true, prompt), self.color).await
    }

    /// A progress bar labelled with this target.
    pub fn progress(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        self.out.progress(len, &format!("{}: {what}", self.target))
    }
}

/// A writer that collects output in memory (tests, and the golden comparisons).
#[derive(Clone, Default)]
pub struct Buffer(pub Arc<Mutex<Vec<u8>>>);

impl Buffer {
    /// The text written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_and_machine_shapes() {
        let buf = Buffer::default();
        let out = Output::new(
            Mode::Human {
                color: true,
                timestamp: false,
            },
            Box::new(buf.clone()),
            Redactor::new(),
        );
        let ui = Ui::new(out, "null.one", Some(32));
        ui.say("Running");
        ui.message("a\nb  ");
        ui.error("bad");
        assert_eq!(
            buf.text(),
            "\x1b[1;32m==> null.one: Running\x1b[0m\n\x1b[0;32m    null.one: a\n    null.one: b\x1b[0m\n\x1b[1;31m==> null.one: bad\x1b[0m\n"
        );
        let buf = Buffer::default();
        let r = Redactor::new();
        r.add("s3cret");
        let out = Output::new(Mode::Machine { timestamp: false }, Box::new(buf.clone()), r);
        let ui = Ui::new(out, "x", Some(32));
        ui.message("a,b\nc s3cret");
        let t = buf.text();
        let (_, rest) = t.split_once(',').unwrap();
        assert_eq!(
            rest,
            ",ui,message,    x: a%!(PACKER_COMMA)b\\n    x: c <sensitive>\n"
        );
    }
}
