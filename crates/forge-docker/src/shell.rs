//! A persistent shell in the container: one exec of `/bin/sh` whose stdin takes command after
//! command. Starting an exec costs the engine a process spawn (about 50 ms here); a build's
//! many small commands (the shell provisioner's upload, chmod, run and clean-up, chown after
//! uploads) then cost a write and a read each.
//!
//! Each command runs as `( eval '<cmd>' ) </dev/null`, in a subshell of its own (so `cd`,
//! variables and `exit` stay inside it, and a syntax error fails only that command), followed
//! by an end marker on stdout carrying the exit status and one on stderr, so both streams are
//! drained before the command counts as done. The marker holds a random nonce, and it is found
//! even at the end of an unterminated last line.

use forge_core::plugin::{BuildCtx, Stream};
use forge_core::Result;

/// What became of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ran to its end with this status.
    Exited(i32),
    /// The shell itself ended (the command killed it): the session is gone.
    ShellDied,
}

/// The text sent for one command.
pub fn command_line(cmd: &str, nonce: &str) -> String {
    format!(
        "( eval {} ) </dev/null; printf '\\036{nonce} %d\\n' \"$?\"; printf '\\036{nonce}\\n' >&2\n",
        quote(cmd)
    )
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Splits one command's output streams into lines and finds its end markers.
pub struct Demux {
    marker: Vec<u8>,
    out: Vec<u8>,
    err: Vec<u8>,
    status: Option<i32>,
    err_done: bool,
}

impl Demux {
    /// A demultiplexer for markers with `nonce`.
    pub fn new(nonce: &str) -> Demux {
        let mut marker = vec![0x1e];
        marker.extend_from_slice(nonce.as_bytes());
        Demux {
            marker,
            out: Vec::new(),
            err: Vec::new(),
            status: None,
            err_done: false,
        }
    }

    /// Whether both markers have arrived; the exit status.
    pub fn done(&self) -> Option<i32> {
        self.status.filter(|_| self.err_done)
    }

    /// Takes a chunk of one stream, passing complete lines on.
    pub fn feed(&mut self, s: Stream, chunk: &[u8], output: &mut (dyn FnMut(Stream, &str) + Send)) {
        let buf = match s {
            Stream::Stderr => &mut self.err,
            _ => &mut self.out,
        };
        buf.extend_from_slice(chunk);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let line = &line[..i];
            let (text, rest) = match find(line, &self.marker) {
                Some(m) => (&line[..m], Some(&line[m + self.marker.len()..])),
                None => (line, None),
            };
            if rest.is_none() || !text.is_empty() {
                let t = String::from_utf8_lossy(text);
                output(s, t.trim_end_matches('\r'));
            }
            if let Some(rest) = rest {
                match s {
                    Stream::Stderr => self.err_done = true,
                    _ => {
                        let code = String::from_utf8_lossy(rest).trim().parse().unwrap_or(-1);
                        self.status = Some(code);
                    }
                }
            }
        }
    }

    /// Passes on what is left of unterminated lines (when the shell died).
    pub fn flush(&mut self, output: &mut (dyn FnMut(Stream, &str) + Send)) {
        for (s, b) in [
            (Stream::Stdout, &mut self.out),
            (Stream::Stderr, &mut self.err),
        ] {
            if !b.is_empty() {
                output(s, String::from_utf8_lossy(b).trim_end_matches('\r'));
                b.clear();
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A random nonce for markers.
pub fn nonce() -> String {
    format!("forge-{}", uuid::Uuid::new_v4().simple())
}

/// A running shell session (the driver's side of it).
#[async_trait::async_trait]
pub trait Session: Send {
    /// Runs one command, passing its output lines on.
    async fn run(
        &mut self,
        ctx: &BuildCtx,
        cmd: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<Outcome>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_end_commands_even_after_unterminated_lines() {
        let n = "forge-x";
        let mut d = Demux::new(n);
        let mut got = Vec::new();
        let mut out = |s: Stream, l: &str| got.push(format!("{s:?}:{l}"));
        d.feed(
            Stream::Stdout,
            b"one\ntwo-no-newline\x1eforge-x 3\n",
            &mut out,
        );
        assert_eq!(d.done(), None);
        d.feed(Stream::Stderr, b"warn\n\x1eforge-x\n", &mut out);
        assert_eq!(d.done(), Some(3));
        assert_eq!(got, ["Stdout:one", "Stdout:two-no-newline", "Stderr:warn"]);
    }

    #[test]
    fn empty_lines_are_kept_and_split_chunks_join() {
        let mut d = Demux::new("n");
        let mut got = Vec::new();
        let mut out = |_: Stream, l: &str| got.push(l.to_string());
        d.feed(Stream::Stdout, b"a\n\nb", &mut out);
        d.feed(Stream::Stdout, b"c\n\x1en", &mut out);
        d.feed(Stream::Stdout, b" 0\n", &mut out);
        d.feed(Stream::Stderr, b"\x1en\n", &mut out);
        assert_eq!(d.done(), Some(0));
        assert_eq!(got, ["a", "", "bc"]);
    }

    #[test]
    fn command_lines_quote_the_command() {
        let l = command_line("echo 'hi'; exit 3", "N");
        assert!(
            l.starts_with("( eval 'echo '\\''hi'\\''; exit 3' ) </dev/null;"),
            "{l}"
        );
        assert!(l.ends_with(">&2\n"));
    }
}
