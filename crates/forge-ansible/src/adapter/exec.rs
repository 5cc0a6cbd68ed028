//! `exec` requests: a command run through the communicator, its output relayed line by line.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use forge_core::plugin::{Stream, DISCONNECTED};
use forge_core::Error;
use russh::server::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{child_ctx, scp, Shared};

/// The exit status sent when the command could not run to its end (the communicator failed,
/// the connection dropped, the build was cancelled): what `ssh` itself exits with on a
/// connection error, which Ansible reads as "unreachable".
pub(super) const FAILED: u32 = 255;

/// The sending side of a session channel, and whether the client has gone.
pub(super) struct Out {
    write: ChannelWriteHalf<Msg>,
    /// Cancelled when the client closed the channel or the session ended.
    pub(super) gone: CancellationToken,
}

impl Out {
    /// Wraps the channel's sending half.
    pub(super) fn new(write: ChannelWriteHalf<Msg>, gone: CancellationToken) -> Out {
        Out { write, gone }
    }

    /// Sends `data` (stdout, or stderr when `stderr`); false when the client has gone.
    pub(super) async fn send(&self, stderr: bool, data: impl Into<Bytes>) -> bool {
        let data = data.into();
        let sent = async {
            if stderr {
                self.write.extended_data_bytes(1, data).await
            } else {
                self.write.data_bytes(data).await
            }
        };
        tokio::select! {
            r = sent => r.is_ok(),
            _ = self.gone.cancelled() => false,
        }
    }

    /// Sends the exit status, EOF, and closes the channel.
    pub(super) async fn finish(&self, status: u32) {
        let end = async {
            self.write.exit_status(status).await?;
            self.write.eof().await?;
            self.write.close().await
        };
        let r = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(10), end) => r.ok(),
            _ = self.gone.cancelled() => None,
        };
        if !matches!(r, Some(Ok(()))) {
            tracing::debug!("ansible proxy: the client left before the exit status was sent");
        }
    }
}

/// Runs the `exec` request `command` on `channel` and closes it.
pub(super) async fn run(shared: Arc<Shared>, channel: Channel<Msg>, command: String) {
    let (read, write) = channel.split();
    if let Some(req) = scp::parse(&command) {
        let out = Out::new(write, shared.ctx.cancel.child_token());
        let status = scp::run(&shared, read, &out, req).await;
        out.finish(status).await;
        return;
    }
    let gone = CancellationToken::new();
    let cancel = shared.ctx.cancel.child_token();
    let drain = tokio::spawn(drain(read, gone.clone(), cancel.clone()));
    let out = Out::new(write, gone);
    tracing::debug!(command, "ansible proxy: exec");
    let status = exec(&shared, &out, &command, cancel).await;
    out.finish(status).await;
    drain.abort();
}

/// Runs `command` through the communicator, relaying its output; the exit status to send.
async fn exec(shared: &Shared, out: &Out, command: &str, cancel: CancellationToken) -> u32 {
    let ctx = child_ctx(&shared.ctx, cancel);
    let (tx, mut rx) = mpsc::unbounded_channel::<(Stream, String)>();
    let run = async move {
        let mut relay = move |s: Stream, line: &str| {
            let _ = tx.send((s, format!("{line}\n")));
        };
        shared.comm.exec(&ctx, command, &mut relay).await
    };
    let forward = async {
        while let Some((s, line)) = rx.recv().await {
            if !out.send(s == Stream::Stderr, line).await {
                break;
            }
        }
    };
    let (result, ()) = tokio::join!(run, forward);
    match result {
        Ok(code) if code == DISCONNECTED => {
            let msg =
                "forge ansible proxy: the connection to the machine dropped during the command\n";
            out.send(true, msg).await;
            FAILED
        }
        Ok(code) => u32::try_from(code).unwrap_or(FAILED),
        Err(Error::Cancelled) => {
            out.send(true, "forge ansible proxy: cancelled\n").await;
            FAILED
        }
        Err(e) => {
            tracing::warn!("ansible proxy: running a command: {e}");
            out.send(true, format!("forge ansible proxy: {e}\n")).await;
            FAILED
        }
    }
}

/// Reads (and drops) what the client sends: the communicator has no stdin. When the client
/// closes the channel or the session ends, the command is cancelled.
async fn drain(mut read: ChannelReadHalf, gone: CancellationToken, cancel: CancellationToken) {
    let mut warned = false;
    loop {
        match read.wait().await {
            None | Some(ChannelMsg::Close) => break,
            Some(ChannelMsg::Data { data }) if !warned && !data.is_empty() => {
                warned = true;
                tracing::warn!(
                    "ansible proxy: the client sent input to a command; the communicator has no \
                     stdin, so it is dropped (turn Ansible's pipelining off)"
                );
            }
            Some(_) => {}
        }
    }
    gone.cancel();
    cancel.cancel();
}
