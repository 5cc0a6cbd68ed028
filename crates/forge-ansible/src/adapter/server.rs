//! The SSH server: listener, per-connection sessions, authentication and channel requests.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::ssh_key::{Algorithm, EcdsaCurve, HashAlg};
use russh::keys::PrivateKey;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Disconnect, MethodKind, MethodSet};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::{keys, Shared};

/// The server's settings: one host key, publickey authentication only, and host key
/// algorithms today's OpenSSH accepts (RSA signs with SHA-2 only, never `ssh-rsa`).
pub(super) fn config(host_key: PrivateKey) -> Arc<russh::server::Config> {
    let preferred = russh::Preferred {
        key: Cow::Owned(vec![
            Algorithm::Ed25519,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            },
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP521,
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha256),
            },
        ]),
        ..Default::default()
    };
    Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard(Cow::Borrowed("SSH-2.0-forge-ansible-proxy")),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(50),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        preferred,
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    })
}

/// Accepts connections until the adapter is cancelled; then disconnects every session and
/// waits (briefly) for their tasks.
pub(super) async fn serve(
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    shared: Arc<Shared>,
) {
    let cancel = shared.ctx.cancel.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            a = listener.accept() => match a {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "ansible proxy: connection");
                    let _ = stream.set_nodelay(true);
                    conns.spawn(connection(stream, config.clone(), shared.clone()));
                }
                Err(e) => {
                    tracing::warn!("ansible proxy: accepting a connection: {e}");
                    // Out of descriptors and the like: don't spin.
                    if shared.ctx.sleep(Duration::from_millis(100)).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
    }
}

/// One client connection, until it ends or the adapter is cancelled.
async fn connection(
    stream: tokio::net::TcpStream,
    config: Arc<russh::server::Config>,
    shared: Arc<Shared>,
) {
    let cancel = shared.ctx.cancel.clone();
    let handler = Conn {
        shared,
        channels: HashMap::new(),
    };
    let running = tokio::select! {
        r = russh::server::run_stream(config, stream, handler) => r,
        _ = cancel.cancelled() => return,
    };
    let running = match running {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("ansible proxy: SSH handshake failed: {e}");
            return;
        }
    };
    let handle = running.handle();
    tokio::select! {
        r = running => if let Err(e) = r {
            tracing::debug!("ansible proxy: session ended: {e}");
        },
        _ = cancel.cancelled() => {
            let _ = handle
                .disconnect(Disconnect::ByApplication, "the build stopped the proxy".into(), String::new())
                .await;
        }
    }
}

/// The server side of one connection.
struct Conn {
    shared: Arc<Shared>,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl Conn {
    fn accepts(&self, key: &russh::keys::PublicKey) -> Auth {
        if keys::same_key(key, &self.shared.client_key) {
            Auth::Accept
        } else {
            Auth::Reject {
                proceed_with_methods: None,
                partial_success: false,
            }
        }
    }
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.accepts(offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let a = self.accepts(key.public_key);
        if a == Auth::Accept {
            tracing::debug!(user, "ansible proxy: client authenticated");
        } else {
            tracing::warn!(user, "ansible proxy: refused a client key");
        }
        Ok(a)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::trace!(name, "ansible proxy: env request ignored");
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::warn!("ansible proxy: refused an interactive shell (only commands and sftp)");
        session.channel_failure(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ch) = self.channels.remove(&channel) else {
            return session.channel_failure(channel);
        };
        let command = String::from_utf8_lossy(data).into_owned();
        session.channel_success(channel)?;
        tokio::spawn(super::exec::run(self.shared.clone(), ch, command));
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name != "sftp" {
            tracing::warn!(name, "ansible proxy: refused an unknown subsystem");
            return session.channel_failure(channel);
        }
        let Some(ch) = self.channels.remove(&channel) else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        super::sftp::start(self.shared.clone(), ch).await;
        Ok(())
    }
}
