//! A minimal VNC (RFB) client for typing boot commands: protocol 3.8 (3.3 and 3.7 servers are
//! spoken to in their version), security types None and VNC Authentication, a shared session,
//! then KeyEvent messages. Server messages are read and discarded so the server never blocks.
//!
//! Keys are sent as X11 keysyms ([`keysym`]), as Packer's VNC driver sends them.

use std::time::Duration;

use async_trait::async_trait;
use des::cipher::{BlockCipherEncrypt, KeyInit};
use des::Des;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{Key, KeySender};

const SECURITY_NONE: u8 = 1;
const SECURITY_VNC_AUTH: u8 = 2;
/// Longest reason or desktop name accepted from a server.
const MAX_STRING: u32 = 1 << 20;

/// X11 keysym of the left shift key, held for shifted characters.
pub const XK_SHIFT_L: u32 = 0xFFE1;

/// The X11 keysym of a key. Latin-1 characters are their own keysym, like Packer; other
/// characters use the X11 Unicode keysyms (`0x0100_0000 + code point`). The Apple keys are
/// sent as Packer sends them: command as alt, option as meta.
pub fn keysym(key: Key) -> u32 {
    match key {
        Key::Char(c) => {
            let cp = c as u32;
            if cp <= 0xFF {
                cp
            } else {
                0x0100_0000 + cp
            }
        }
        Key::Backspace => 0xFF08,
        Key::Delete => 0xFFFF,
        Key::Enter => 0xFF0D,
        Key::Escape => 0xFF1B,
        Key::Tab => 0xFF09,
        Key::Space => 0x0020,
        // XK_F1 is 0xFFBE and the function keys follow it.
        Key::F(n) => 0xFFBD + u32::from(n),
        Key::Up => 0xFF52,
        Key::Down => 0xFF54,
        Key::Left => 0xFF51,
        Key::Right => 0xFF53,
        Key::Insert => 0xFF63,
        Key::Home => 0xFF50,
        Key::End => 0xFF57,
        Key::PageUp => 0xFF55,
        Key::PageDown => 0xFF56,
        Key::Menu => 0xFF67,
        Key::LeftAlt | Key::LeftCommand => 0xFFE9,
        Key::RightAlt | Key::RightCommand => 0xFFEA,
        Key::LeftCtrl => 0xFFE3,
        Key::RightCtrl => 0xFFE4,
        Key::LeftShift => XK_SHIFT_L,
        Key::RightShift => 0xFFE2,
        Key::LeftSuper => 0xFFEB,
        Key::RightSuper => 0xFFEC,
        Key::LeftOption => 0xFFE7,
        Key::RightOption => 0xFFE8,
    }
}

/// A connected VNC session that can send key events.
pub struct VncClient {
    addr: String,
    writer: OwnedWriteHalf,
    drain: JoinHandle<()>,
    /// The desktop name from ServerInit.
    pub desktop_name: String,
    /// Framebuffer width from ServerInit.
    pub width: u16,
    /// Framebuffer height from ServerInit.
    pub height: u16,
    /// The pause after every key event sent as a [`KeySender`] (zero after `connect`; the boot
    /// step sets [`key_interval`](super::key_interval)).
    pub key_interval: Duration,
}

impl Drop for VncClient {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

impl VncClient {
    /// Connects to `addr` (`host:port`) and completes the RFB handshake within `timeout`;
    /// `password` selects VNC Authentication when the server offers it.
    pub async fn connect(
        addr: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<VncClient, String> {
        let context = |e: String| format!("connecting to VNC at {addr}: {e}");
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| context(format!("timed out after {timeout:?}")))?
            .map_err(|e| context(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let init = tokio::time::timeout(
            timeout,
            handshake(&mut reader, &mut writer, password.filter(|p| !p.is_empty())),
        )
        .await
        .map_err(|_| context(format!("the RFB handshake timed out after {timeout:?}")))?
        .map_err(context)?;
        let drain = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = reader.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        Ok(VncClient {
            addr: addr.to_string(),
            writer,
            drain,
            desktop_name: init.name,
            width: init.width,
            height: init.height,
            key_interval: Duration::ZERO,
        })
    }

    /// Sends a KeyEvent message for an X11 keysym.
    pub async fn key_event(&mut self, keysym: u32, down: bool) -> Result<(), String> {
        let mut msg = [4u8, down as u8, 0, 0, 0, 0, 0, 0];
        msg[4..].copy_from_slice(&keysym.to_be_bytes());
        self.writer
            .write_all(&msg)
            .await
            .map_err(|e| format!("sending a key to VNC at {}: {e}", self.addr))
    }
}

impl VncClient {
    /// Sends a key's event, then pauses [`key_interval`](Self::key_interval).
    async fn paced(&mut self, key: Key, down: bool) -> Result<(), String> {
        self.key_event(keysym(key), down).await?;
        if !self.key_interval.is_zero() {
            tokio::time::sleep(self.key_interval).await;
        }
        Ok(())
    }
}

#[async_trait]
impl KeySender for VncClient {
    async fn key_down(&mut self, key: Key) -> Result<(), String> {
        self.paced(key, true).await
    }
    async fn key_up(&mut self, key: Key) -> Result<(), String> {
        self.paced(key, false).await
    }
}

/// What ServerInit told us.
#[derive(Debug)]
struct ServerInit {
    width: u16,
    height: u16,
    name: String,
}

async fn read_u32<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).await?;
    Ok(u32::from_be_bytes(b))
}

async fn read_string<R: AsyncRead + Unpin>(r: &mut R) -> Result<String, String> {
    let len = read_u32(r).await.map_err(io)?;
    if len > MAX_STRING {
        return Err(format!(
            "the server sent a {len}-byte string; not an RFB server?"
        ));
    }
    let mut b = vec![0u8; len as usize];
    r.read_exact(&mut b).await.map_err(io)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

fn io(e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the server closed the connection during the handshake".into()
    } else {
        e.to_string()
    }
}

/// Runs the RFB handshake up to and including ServerInit.
async fn handshake<R, W>(r: &mut R, w: &mut W, password: Option<&str>) -> Result<ServerInit, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut version = [0u8; 12];
    r.read_exact(&mut version).await.map_err(io)?;
    let minor = parse_version(&version)?;
    // Servers newer than 3.8 are answered with 3.8; unknown older minors are spoken to as 3.3.
    let minor = match minor {
        m if m >= 8 => 8,
        7 => 7,
        _ => 3,
    };
    w.write_all(format!("RFB 003.{minor:03}\n").as_bytes())
        .await
        .map_err(io)?;

    let security = if minor == 3 {
        match read_u32(r).await.map_err(io)? {
            0 => {
                return Err(format!(
                    "the server refused the connection: {}",
                    read_string(r).await?
                ))
            }
            t @ (1 | 2) => t as u8,
            t => {
                return Err(format!(
                    "unsupported security type {t} (forge supports None and VNC Authentication)"
                ))
            }
        }
    } else {
        let mut n = [0u8; 1];
        r.read_exact(&mut n).await.map_err(io)?;
        if n[0] == 0 {
            return Err(format!(
                "the server refused the connection: {}",
                read_string(r).await?
            ));
        }
        let mut types = vec![0u8; n[0] as usize];
        r.read_exact(&mut types).await.map_err(io)?;
        let chosen = choose_security(&types, password.is_some())?;
        w.write_all(&[chosen]).await.map_err(io)?;
        chosen
    };

    if security == SECURITY_VNC_AUTH {
        let Some(password) = password else {
            return Err("the server requires a VNC password, but none was configured".into());
        };
        let mut challenge = [0u8; 16];
        r.read_exact(&mut challenge).await.map_err(io)?;
        w.write_all(&vnc_auth_response(password, &challenge))
            .await
            .map_err(io)?;
    }
    // SecurityResult: always for VNC Authentication, and for None since 3.8.
    if (security == SECURITY_VNC_AUTH || minor == 8) && read_u32(r).await.map_err(io)? != 0 {
        let reason = if minor == 8 {
            read_string(r).await.unwrap_or_default()
        } else {
            String::new()
        };
        let what = if security == SECURITY_VNC_AUTH {
            "VNC authentication failed (wrong password?)"
        } else {
            "the server rejected the connection"
        };
        return Err(if reason.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {reason}")
        });
    }

    // ClientInit: shared, so other viewers stay connected.
    w.write_all(&[1]).await.map_err(io)?;
    let mut head = [0u8; 20];
    r.read_exact(&mut head).await.map_err(io)?;
    let width = u16::from_be_bytes([head[0], head[1]]);
    let height = u16::from_be_bytes([head[2], head[3]]);
    let name = read_string(r).await?;
    Ok(ServerInit {
        width,
        height,
        name,
    })
}

/// The minor version of a `RFB 003.00x\n` greeting.
fn parse_version(v: &[u8; 12]) -> Result<u32, String> {
    let bad = || {
        format!(
            "not a VNC server (greeting {:?})",
            String::from_utf8_lossy(v)
        )
    };
    let s = std::str::from_utf8(v).map_err(|_| bad())?;
    let rest = s.strip_prefix("RFB ").ok_or_else(bad)?;
    let rest = rest.strip_suffix('\n').ok_or_else(bad)?;
    let (major, minor) = rest.split_once('.').ok_or_else(bad)?;
    let major: u32 = major.parse().map_err(|_| bad())?;
    let minor: u32 = minor.parse().map_err(|_| bad())?;
    if major != 3 {
        return Err(format!("unsupported RFB protocol version {major}.{minor}"));
    }
    Ok(minor)
}

fn choose_security(types: &[u8], have_password: bool) -> Result<u8, String> {
    let offers = |t| types.contains(&t);
    if have_password && offers(SECURITY_VNC_AUTH) {
        return Ok(SECURITY_VNC_AUTH);
    }
    if offers(SECURITY_NONE) {
        return Ok(SECURITY_NONE);
    }
    if offers(SECURITY_VNC_AUTH) {
        return Err("the server requires a VNC password, but none was configured".into());
    }
    Err(format!(
        "the server offers security types {types:?}; forge supports only None (1) and VNC Authentication (2)"
    ))
}

/// The VNC Authentication response: the challenge DES-encrypted with the password (first 8
/// bytes, zero-padded) as key, each key byte bit-reversed as RFB requires.
pub fn vnc_auth_response(password: &str, challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.bytes()) {
        *k = b.reverse_bits();
    }
    let cipher = Des::new(&key.into());
    let mut out = [0u8; 16];
    for (i, chunk) in challenge.chunks_exact(8).enumerate() {
        let mut block: [u8; 8] = [0; 8];
        block.copy_from_slice(chunk);
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        out[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootcommand::{parse, type_actions, SHIFTED_CHARS, SPECIAL_KEYS};
    use tokio::net::TcpListener;
    use tokio_util::sync::CancellationToken;

    /// How the fake server behaves.
    #[derive(Clone, Copy)]
    struct Fake {
        minor: u32,
        types: &'static [u8],
        password: Option<&'static str>,
    }

    const CHALLENGE: [u8; 16] = *b"0123456789abcdef";

    /// Serves one connection; returns the key events received until the client hangs up.
    async fn serve(l: TcpListener, f: Fake) -> Result<Vec<(u32, bool)>, String> {
        let (mut s, _) = l.accept().await.map_err(|e| e.to_string())?;
        let minor = f.minor.min(8);
        s.write_all(format!("RFB 003.{:03}\n", f.minor).as_bytes())
            .await
            .unwrap();
        let mut v = [0u8; 12];
        s.read_exact(&mut v).await.unwrap();
        let expect = format!("RFB 003.{minor:03}\n");
        assert_eq!(std::str::from_utf8(&v).unwrap(), expect);
        let sec = if minor == 3 {
            s.write_all(&(f.types[0] as u32).to_be_bytes())
                .await
                .unwrap();
            f.types[0]
        } else {
            s.write_all(&[f.types.len() as u8]).await.unwrap();
            s.write_all(f.types).await.unwrap();
            let mut t = [0u8];
            if s.read_exact(&mut t).await.is_err() {
                return Err("client hung up at security selection".into());
            }
            t[0]
        };
        if sec == 2 {
            s.write_all(&CHALLENGE).await.unwrap();
            let mut resp = [0u8; 16];
            s.read_exact(&mut resp).await.unwrap();
            let ok = resp == vnc_auth_response(f.password.unwrap(), &CHALLENGE);
            s.write_all(&(!ok as u32).to_be_bytes()).await.unwrap();
            if !ok {
                if minor == 8 {
                    let reason = b"bad password";
                    s.write_all(&(reason.len() as u32).to_be_bytes())
                        .await
                        .unwrap();
                    s.write_all(reason).await.unwrap();
                }
                return Err("auth failed".into());
            }
        } else if minor == 8 {
            s.write_all(&0u32.to_be_bytes()).await.unwrap();
        }
        let mut shared = [0u8];
        s.read_exact(&mut shared).await.unwrap();
        assert_eq!(shared[0], 1, "ClientInit must ask for a shared session");
        let mut init = vec![0x04, 0x00, 0x03, 0x00];
        init.extend([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
        init.extend(4u32.to_be_bytes());
        init.extend(b"fake");
        s.write_all(&init).await.unwrap();
        // A few unsolicited server messages (Bell) the client must drain.
        s.write_all(&[2u8; 1000]).await.unwrap();
        let mut events = Vec::new();
        let mut m = [0u8; 8];
        while s.read_exact(&mut m).await.is_ok() {
            assert_eq!(m[0], 4, "only KeyEvent messages are expected");
            events.push((u32::from_be_bytes([m[4], m[5], m[6], m[7]]), m[1] == 1));
        }
        Ok(events)
    }

    async fn run(
        f: Fake,
        password: Option<&str>,
    ) -> (
        Result<VncClient, String>,
        tokio::task::JoinHandle<Result<Vec<(u32, bool)>, String>>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let server = tokio::spawn(serve(l, f));
        (
            VncClient::connect(&addr, password, Duration::from_secs(5)).await,
            server,
        )
    }

    #[tokio::test]
    async fn handshake_and_keys_every_version() {
        for (minor, types, pw) in [
            (8, &[1u8][..], None),
            (8, &[2, 1][..], Some("secret")),
            (8, &[16, 2][..], Some("a-very-long-password")),
            (7, &[1][..], None),
            (7, &[2][..], Some("pw")),
            (3, &[1][..], None),
            (3, &[2][..], Some("pw")),
            (889, &[1][..], None),
        ] {
            let f = Fake {
                minor,
                types,
                password: pw,
            };
            let (client, server) = run(f, pw).await;
            let mut client = client.unwrap_or_else(|e| panic!("3.{minor} {types:?}: {e}"));
            assert_eq!(
                (client.desktop_name.as_str(), client.width, client.height),
                ("fake", 1024, 768)
            );
            let actions = parse("aB<enter>").unwrap();
            let cancel = CancellationToken::new();
            type_actions(&mut client, &actions, &cancel).await.unwrap();
            drop(client);
            let events = server.await.unwrap().unwrap();
            assert_eq!(
                events,
                vec![
                    (0x61, true),
                    (0x61, false),
                    (XK_SHIFT_L, true),
                    (0x42, true),
                    (0x42, false),
                    (XK_SHIFT_L, false),
                    (0xFF0D, true),
                    (0xFF0D, false)
                ],
                "3.{minor} {types:?}"
            );
        }
    }

    #[tokio::test]
    async fn handshake_errors_are_clear() {
        let f = Fake {
            minor: 8,
            types: &[2],
            password: Some("right"),
        };
        let (client, server) = run(f, Some("wrong")).await;
        let e = client.err().unwrap();
        assert!(e.starts_with("connecting to VNC at 127.0.0.1:"), "{e}");
        assert!(
            e.contains("VNC authentication failed (wrong password?): bad password"),
            "{e}"
        );
        let _ = server.await;

        let f = Fake {
            minor: 8,
            types: &[2],
            password: Some("x"),
        };
        let (client, server) = run(f, None).await;
        let e = client.err().unwrap();
        assert!(e.contains("requires a VNC password"), "{e}");
        let _ = server.await;

        let f = Fake {
            minor: 8,
            types: &[16, 19],
            password: None,
        };
        let (client, server) = run(f, None).await;
        let e = client.err().unwrap();
        assert!(
            e.contains("supports only None (1) and VNC Authentication (2)"),
            "{e}"
        );
        let _ = server.await;

        // Nothing listening: the error names the address.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let e = VncClient::connect(&addr, None, Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(
            e.starts_with(&format!("connecting to VNC at {addr}: ")),
            "{e}"
        );

        // Not an RFB server.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(b"SSH-2.0-OpenSSH_9\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        let e = VncClient::connect(&addr, None, Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(e.contains("not a VNC server"), "{e}");

        // A server that never greets: the handshake times out.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let hold = tokio::spawn(async move {
            let s = l.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(s);
        });
        let e = VncClient::connect(&addr, None, Duration::from_millis(200))
            .await
            .err()
            .unwrap();
        assert!(e.contains("timed out"), "{e}");
        hold.abort();
    }

    #[test]
    fn keysyms() {
        let expected: &[(&str, u32)] = &[
            ("bs", 0xFF08),
            ("del", 0xFFFF),
            ("enter", 0xFF0D),
            ("return", 0xFF0D),
            ("esc", 0xFF1B),
            ("tab", 0xFF09),
            ("f1", 0xFFBE),
            ("f2", 0xFFBF),
            ("f3", 0xFFC0),
            ("f4", 0xFFC1),
            ("f5", 0xFFC2),
            ("f6", 0xFFC3),
            ("f7", 0xFFC4),
            ("f8", 0xFFC5),
            ("f9", 0xFFC6),
            ("f10", 0xFFC7),
            ("f11", 0xFFC8),
            ("f12", 0xFFC9),
            ("up", 0xFF52),
            ("down", 0xFF54),
            ("left", 0xFF51),
            ("right", 0xFF53),
            ("spacebar", 0x20),
            ("insert", 0xFF63),
            ("home", 0xFF50),
            ("end", 0xFF57),
            ("pageUp", 0xFF55),
            ("pageDown", 0xFF56),
            ("menu", 0xFF67),
            ("leftAlt", 0xFFE9),
            ("leftCtrl", 0xFFE3),
            ("leftShift", 0xFFE1),
            ("leftSuper", 0xFFEB),
            ("rightAlt", 0xFFEA),
            ("rightCtrl", 0xFFE4),
            ("rightShift", 0xFFE2),
            ("rightSuper", 0xFFEC),
            ("leftCommand", 0xFFE9),
            ("rightCommand", 0xFFEA),
            ("leftOption", 0xFFE7),
            ("rightOption", 0xFFE8),
        ];
        assert_eq!(expected.len(), SPECIAL_KEYS.len());
        for &(name, sym) in expected {
            let key = crate::bootcommand::special_key(name).unwrap();
            assert_eq!(keysym(key), sym, "{name}");
        }
        let ch = |c| keysym(Key::Char(c));
        assert_eq!(ch('a'), 0x61);
        assert_eq!(ch('Z'), 0x5A);
        assert_eq!(ch('0'), 0x30);
        assert_eq!(ch(' '), 0x20);
        for c in SHIFTED_CHARS.chars().chain("`-=[]\\;',./".chars()) {
            assert_eq!(ch(c), c as u32, "{c}");
        }
        assert_eq!(ch('É'), 0xC9);
        assert_eq!(ch('界'), 0x0100_754C);
    }

    #[test]
    fn vnc_auth_known_answer() {
        // Cross-checked with `openssl enc -des-ecb -nopad` under the bit-reversed key.
        let resp = vnc_auth_response("password", &CHALLENGE);
        let hex: String = resp.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5645abeb5f1e6475e8feb11beb66ea19");
        // Passwords longer than 8 bytes are truncated.
        assert_eq!(resp, vnc_auth_response("passwordXYZ", &CHALLENGE));
        assert_ne!(resp, vnc_auth_response("passw0rd", &CHALLENGE));
    }
}
