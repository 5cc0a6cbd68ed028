//! One connection attempt: a TCP path (direct, SOCKS5, HTTP CONNECT or through a bastion), the
//! SSH handshake and the login, each failure named for what it is.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, Handle, Msg, Session};
use russh::keys::PublicKeyOrCertificate;
use russh::Channel;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::auth::{self, AuthError};
use super::config::{Auth, Proxy, SshConfig, Tunnel};

/// The SSH client's event handler: host keys are accepted (as Packer does, for machines that
/// were just created); remote tunnels are served.
pub struct Client {
    /// `ssh_remote_tunnels`, by remote port.
    pub remote_tunnels: Arc<Vec<Tunnel>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(t) = self
            .remote_tunnels
            .iter()
            .find(|t| u32::from(t.listen_port) == connected_port)
            .cloned()
        else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            match TcpStream::connect((t.host.as_str(), t.port)).await {
                Ok(mut local) => {
                    let mut remote = channel.into_stream();
                    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
                }
                Err(e) => {
                    tracing::warn!("remote tunnel to {}:{}: {e}", t.host, t.port);
                    let _ = channel.close().await;
                }
            }
        });
        Ok(())
    }
}

/// A byte stream SSH can run over.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// Why an attempt failed, in the order a connection comes up.
#[derive(Debug)]
pub enum Failure {
    /// No TCP connection (refused, unreachable, name not found, proxy said no).
    Tcp(String),
    /// TCP connected but no SSH server spoke.
    NoBanner(String),
    /// The SSH handshake (key exchange) failed.
    Kex(String),
    /// The server refused every way of logging in.
    Auth(auth::Refused),
    /// Anything else (a key that does not parse, no agent...): retrying will not help.
    Fatal(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Tcp(e) => write!(f, "TCP connection failed: {e}"),
            Failure::NoBanner(e) => write!(f, "connected, but no SSH server answered: {e}"),
            Failure::Kex(e) => write!(f, "SSH key exchange failed: {e}"),
            Failure::Auth(r) => write!(f, "{r}"),
            Failure::Fatal(e) => write!(f, "{e}"),
        }
    }
}

/// An open, logged-in SSH connection (and the bastion's, which carries it).
pub struct Conn {
    /// The session.
    pub handle: Handle<Client>,
    /// The bastion connection the session runs over, kept open as long as it is.
    pub bastion: Option<Handle<Client>>,
}

/// How long one TCP connect or SSH key exchange may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server's banner may take once the TCP connection is up. sshd sends it at once;
/// a forwarded port whose guest is not listening yet (qemu's user networking) accepts and then
/// stays silent, so a short wait and a fresh attempt find the server sooner.
const BANNER_TIMEOUT: Duration = Duration::from_secs(2);

/// A stream that first replays bytes already read from it.
struct Replay {
    prefix: Vec<u8>,
    pos: usize,
    inner: Box<dyn Transport>,
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Waits for the first bytes of the server's banner, then hands the stream on with them.
async fn await_banner(mut stream: Box<dyn Transport>) -> Result<Box<dyn Transport>, Failure> {
    let mut first = vec![0u8; 256];
    match tokio::time::timeout(BANNER_TIMEOUT, stream.read(&mut first)).await {
        Err(_) => Err(Failure::NoBanner(format!(
            "no SSH banner within {}s",
            BANNER_TIMEOUT.as_secs()
        ))),
        Ok(Ok(0)) | Ok(Err(_)) => Err(Failure::NoBanner(
            "the connection closed before the SSH banner".into(),
        )),
        Ok(Ok(n)) => {
            first.truncate(n);
            Ok(Box::new(Replay {
                prefix: first,
                pos: 0,
                inner: stream,
            }))
        }
    }
}

fn client_config(c: &SshConfig) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    if !c.ciphers.is_empty() {
        let list: Vec<russh::cipher::Name> = c
            .ciphers
            .iter()
            .filter_map(|n| russh::cipher::Name::try_from(n.as_str()).ok())
            .collect();
        preferred.cipher = Cow::Owned(list);
    }
    if !c.kex.is_empty() {
        let mut list: Vec<russh::kex::Name> = c
            .kex
            .iter()
            .filter_map(|n| russh::kex::Name::try_from(n.as_str()).ok())
            .collect();
        // The protocol extensions ride in the same list.
        list.push(russh::kex::EXTENSION_SUPPORT_AS_CLIENT);
        list.push(russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT);
        preferred.kex = Cow::Owned(list);
    }
    Arc::new(client::Config {
        preferred,
        keepalive_interval: c.keep_alive,
        keepalive_max: 3,
        nodelay: true,
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 65535,
        ..client::Config::default()
    })
}

async fn tcp(host: &str, port: u16) -> Result<TcpStream, Failure> {
    match tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(Failure::Tcp(format!("{host}:{port}: {e}"))),
        Err(_) => Err(Failure::Tcp(format!(
            "{host}:{port}: no answer within {}s",
            STEP_TIMEOUT.as_secs()
        ))),
    }
}

async fn via_socks(p: &Proxy, host: &str, port: u16) -> Result<Box<dyn Transport>, Failure> {
    let proxy = (p.host.as_str(), p.port);
    let target = (host, port);
    let r = match (&p.username, &p.password) {
        (Some(u), pw) => {
            tokio_socks::tcp::Socks5Stream::connect_with_password(
                proxy,
                target,
                u,
                pw.as_deref().unwrap_or(""),
            )
            .await
        }
        _ => tokio_socks::tcp::Socks5Stream::connect(proxy, target).await,
    };
    r.map(|s| Box::new(s) as Box<dyn Transport>).map_err(|e| {
        Failure::Tcp(format!(
            "through SOCKS5 proxy {}:{} to {host}:{port}: {e}",
            p.host, p.port
        ))
    })
}

async fn via_http(p: &Proxy, host: &str, port: u16) -> Result<Box<dyn Transport>, Failure> {
    use base64::Engine;
    let mut s = tcp(&p.host, p.port).await?;
    let mut req = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(u) = &p.username {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{u}:{}", p.password.as_deref().unwrap_or("")));
        req.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    let fail = |e: String| {
        Failure::Tcp(format!(
            "through HTTP proxy {}:{} to {host}:{port}: {e}",
            p.host, p.port
        ))
    };
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| fail(e.to_string()))?;
    // Read the response head byte by byte so no tunnel data is consumed.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(STEP_TIMEOUT, s.read(&mut b))
            .await
            .map_err(|_| fail("no answer".into()))?
            .map_err(|e| fail(e.to_string()))?;
        if n == 0 || head.len() > 16 * 1024 {
            return Err(fail("the proxy closed the connection".into()));
        }
        head.push(b[0]);
    }
    let status = String::from_utf8_lossy(&head);
    let first = status.lines().next().unwrap_or_default().to_string();
    if first.split_whitespace().nth(1) != Some("200") {
        return Err(fail(format!("the proxy answered {first:?}")));
    }
    Ok(Box::new(s))
}

/// Runs the SSH handshake and login over `stream`.
async fn handshake(
    cfg: Arc<client::Config>,
    stream: Box<dyn Transport>,
    auth: &Auth,
    extra_keys: &[String],
    tunnels: Arc<Vec<Tunnel>>,
) -> Result<Handle<Client>, Failure> {
    let handler = Client {
        remote_tunnels: tunnels,
    };
    let stream = await_banner(stream).await?;
    let mut h = match tokio::time::timeout(
        STEP_TIMEOUT,
        client::connect_stream(cfg, stream, handler),
    )
    .await
    {
        Err(_) => {
            return Err(Failure::NoBanner(format!(
                "no key exchange within {}s",
                STEP_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(e)) => return Err(classify(e)),
        Ok(Ok(h)) => h,
    };
    match tokio::time::timeout(
        STEP_TIMEOUT * 3,
        auth::authenticate(&mut h, auth, extra_keys),
    )
    .await
    {
        Err(_) => Err(Failure::Kex(
            "the server did not finish the handshake".into(),
        )),
        Ok(Ok(())) => Ok(h),
        Ok(Err(AuthError::Refused(r))) => Err(Failure::Auth(r)),
        Ok(Err(AuthError::Other(e))) => {
            if e.contains("reading ") || e.contains("encrypted") || e.contains("agent") {
                Err(Failure::Fatal(e))
            } else {
                Err(Failure::Kex(e))
            }
        }
    }
}

fn classify(e: russh::Error) -> Failure {
    use russh::Error as E;
    match e {
        E::IO(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Failure::NoBanner("the connection closed before the SSH banner".to_string())
        }
        E::IO(io) => Failure::NoBanner(io.to_string()),
        E::Disconnect | E::HUP => Failure::NoBanner("the server closed the connection".to_string()),
        other => Failure::Kex(other.to_string()),
    }
}

/// One attempt to reach and log in to the machine.
pub async fn connect_once(c: &SshConfig, extra_keys: &[String]) -> Result<Conn, Failure> {
    let cfg = client_config(c);
    let tunnels = Arc::new(c.remote_tunnels.clone());
    if let Some(b) = &c.bastion {
        let s = tcp(&b.host, b.port).await.map_err(|f| match f {
            Failure::Tcp(e) => Failure::Tcp(format!("bastion {e}")),
            f => f,
        })?;
        let bh = handshake(cfg.clone(), Box::new(s), &b.auth, &[], Arc::new(Vec::new()))
            .await
            .map_err(|f| match f {
                Failure::Auth(r) => Failure::Fatal(format!("bastion {}:{}: {r}", b.host, b.port)),
                Failure::NoBanner(e) => Failure::NoBanner(format!("bastion: {e}")),
                Failure::Kex(e) => Failure::Kex(format!("bastion: {e}")),
                f => f,
            })?;
        let ch = bh
            .channel_open_direct_tcpip(c.host.clone(), c.port.into(), "127.0.0.1", 0)
            .await
            .map_err(|e| {
                Failure::Tcp(format!(
                    "{}:{} through bastion {}:{}: {e}",
                    c.host, c.port, b.host, b.port
                ))
            })?;
        let handle = handshake(
            cfg,
            Box::new(ch.into_stream()),
            &c.auth,
            extra_keys,
            tunnels,
        )
        .await?;
        return Ok(Conn {
            handle,
            bastion: Some(bh),
        });
    }
    let stream: Box<dyn Transport> = match &c.proxy {
        Some(p) if p.http => via_http(p, &c.host, c.port).await?,
        Some(p) => via_socks(p, &c.host, c.port).await?,
        None => Box::new(tcp(&c.host, c.port).await?),
    };
    let handle = handshake(cfg, stream, &c.auth, extra_keys, tunnels).await?;
    Ok(Conn {
        handle,
        bastion: None,
    })
}
