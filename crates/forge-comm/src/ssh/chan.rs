//! A command's channel as buffered stdout, collected stderr and an exit status.

use std::collections::VecDeque;

use bytes::Bytes;
use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};
use tokio::io::AsyncWriteExt;

/// A remote command's channel.
pub struct Chan {
    ch: Channel<Msg>,
    buf: VecDeque<u8>,
    /// Everything the command wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit status, once known (Go's rule for signals: 128 + the signal's number).
    pub exit: Option<u32>,
    closed: bool,
}

fn signal_number(s: &Sig) -> u32 {
    match s {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(_) => 0,
    }
}

/// One piece of what the command sent.
pub enum Event {
    /// Standard output.
    Stdout(Bytes),
    /// Standard error.
    Stderr(Bytes),
    /// The command finished or the channel closed.
    End,
}

impl Chan {
    /// Wraps an open channel on which a command was started.
    pub fn new(ch: Channel<Msg>) -> Chan {
        Chan {
            ch,
            buf: VecDeque::new(),
            stderr: Vec::new(),
            exit: None,
            closed: false,
        }
    }

    /// The next thing the command sent.
    pub async fn next(&mut self) -> Event {
        loop {
            if self.closed {
                return Event::End;
            }
            match self.ch.wait().await {
                Some(ChannelMsg::Data { data }) => return Event::Stdout(data),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    self.stderr.extend_from_slice(&data);
                    return Event::Stderr(data);
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => self.exit = Some(exit_status),
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    self.exit = Some(128 + signal_number(&signal_name))
                }
                Some(ChannelMsg::Close) | None => {
                    self.closed = true;
                    return Event::End;
                }
                Some(_) => {}
            }
        }
    }

    async fn fill(&mut self) -> bool {
        while self.buf.is_empty() {
            match self.next().await {
                Event::Stdout(d) => self.buf.extend(d.iter()),
                Event::Stderr(_) => {}
                Event::End => return false,
            }
        }
        true
    }

    /// Reads one stdout byte; `None` at the end.
    pub async fn read_byte(&mut self) -> Option<u8> {
        if !self.fill().await {
            return None;
        }
        self.buf.pop_front()
    }

    /// Reads stdout up to and excluding `\n`.
    pub async fn read_line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        loop {
            match self.read_byte().await {
                Some(b'\n') => return Some(String::from_utf8_lossy(&line).into_owned()),
                Some(b) => line.push(b),
                None if line.is_empty() => return None,
                None => return Some(String::from_utf8_lossy(&line).into_owned()),
            }
        }
    }

    /// Up to `max` buffered or newly arrived stdout bytes; empty at the end.
    pub async fn read_some(&mut self, max: usize) -> Vec<u8> {
        if !self.fill().await {
            return Vec::new();
        }
        let n = max.min(self.buf.len());
        self.buf.drain(..n).collect()
    }

    /// Writes to the command's stdin.
    pub async fn write(&self, data: &[u8]) -> std::io::Result<()> {
        let mut w = self.ch.make_writer();
        w.write_all(data).await?;
        w.flush().await
    }

    /// A writer for the command's stdin.
    pub fn writer(&self) -> std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send + 'static>> {
        Box::pin(self.ch.make_writer())
    }

    /// Closes stdin.
    pub async fn eof(&self) {
        let _ = self.ch.eof().await;
    }

    /// Waits for the end and returns the exit status (`None`: the connection dropped).
    pub async fn finish(&mut self) -> Option<u32> {
        while !matches!(self.next().await, Event::End) {}
        self.exit
    }

    /// What the command wrote to stderr, trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }

    /// Closes the channel.
    pub async fn close(&self) {
        let _ = self.ch.close().await;
    }
}
