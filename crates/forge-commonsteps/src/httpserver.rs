//! Packer's build HTTP server (`http_directory`, `http_content`), on a free port in
//! `[http_port_min, http_port_max)` locked against concurrent builds, until dropped.
//!
//! GET and HEAD only. `http_content` paths are served from memory and win over files of
//! `http_directory`; request paths are cleaned as Go's `path.Clean` cleans them, so nothing
//! outside the directory is reachable. A directory URL without its trailing slash is
//! redirected; a directory serves its `index.html` or a plain listing, as Go's file server.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::ports::PortLock;

/// `http_directory`, `http_content`, `http_port_min`/`max`, `http_bind_address`.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `http_directory` (empty: none).
    pub directory: String,
    /// `http_content`: request path to body.
    pub content: BTreeMap<String, String>,
    /// `http_port_min`.
    pub port_min: u16,
    /// `http_port_max` (exclusive).
    pub port_max: u16,
    /// `http_bind_address`.
    pub bind_address: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            directory: String::new(),
            content: BTreeMap::new(),
            port_min: 8000,
            port_max: 9000,
            bind_address: "0.0.0.0".into(),
        }
    }
}

impl HttpConfig {
    /// Reads and checks a template's `HTTPConfig` as Packer's `HTTPConfig.Prepare` does (ports
    /// default to 8000..9000; a directory and content together are refused); problems go to
    /// `errs`. `http_interface` and `http_network_protocol` are the builder's to read.
    pub fn prepare(
        h: &forge_template::schema::plugins::HTTPConfig,
        errs: &mut Vec<String>,
    ) -> HttpConfig {
        let min = h.http_port_min.filter(|p| *p != 0).unwrap_or(8000);
        let max = h.http_port_max.filter(|p| *p != 0).unwrap_or(9000);
        if min > max {
            errs.push("http_port_min must be less than http_port_max".into());
        }
        let directory = h.http_directory.clone().unwrap_or_default();
        let content = h.http_content.clone().unwrap_or_default();
        if !directory.is_empty() && !content.is_empty() {
            errs.push("http_directory and http_content cannot both be set".into());
        }
        let port = |n: i64| u16::try_from(n.clamp(0, 65535)).unwrap_or(u16::MAX);
        HttpConfig {
            directory,
            content,
            port_min: port(min),
            port_max: port(max),
            bind_address: h
                .http_bind_address
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into()),
        }
    }

    /// Whether there is anything to serve (else no server is started).
    pub fn serves(&self) -> bool {
        !self.directory.is_empty() || !self.content.is_empty()
    }
}

/// The host's IP addresses by interface name (`getifaddrs`), in the system's order.
pub fn interface_addrs() -> std::io::Result<Vec<(String, std::net::IpAddr)>> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read, then free once.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not freed yet.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a non-null name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: the family says which sockaddr type the address is.
        let ip = match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
            libc::AF_INET => {
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                std::net::IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes())
            }
            libc::AF_INET6 => {
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                std::net::IpAddr::from(a.sin6_addr.s6_addr)
            }
            _ => continue,
        };
        out.push((name, ip));
    }
    // SAFETY: the list getifaddrs allocated, freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The address a guest reaches the build's HTTP server at, as packer-plugin-vsphere finds it:
/// `http_ip` when set (it must be an IP address); else the first non-loopback IPv4 address of
/// `http_interface`; else the host's first non-loopback IPv4 address that `accept` takes (the
/// network the builder waits for the guest's IP in).
pub fn host_ip(
    http_ip: &str,
    interface: &str,
    accept: impl Fn(&std::net::IpAddr) -> bool,
) -> Result<String, HttpError> {
    if !http_ip.is_empty() {
        return http_ip
            .parse::<std::net::IpAddr>()
            .map(|_| http_ip.to_string())
            .map_err(|_| {
                HttpError(format!(
                    "error using IP address {http_ip}: invalid IP address"
                ))
            });
    }
    let addrs = interface_addrs()
        .map_err(|e| HttpError(format!("error listing the host's addresses: {e}")))?;
    let v4 = |ip: &std::net::IpAddr| ip.is_ipv4() && !ip.is_loopback();
    if !interface.is_empty() {
        let mine: Vec<_> = addrs.iter().filter(|(n, _)| n == interface).collect();
        if mine.is_empty() {
            return Err(HttpError(format!(
                "error using interface {interface}: no such network interface"
            )));
        }
        return mine
            .iter()
            .map(|(_, ip)| ip)
            .find(|ip| v4(ip))
            .map(|ip| ip.to_string())
            .ok_or_else(|| {
                HttpError(format!(
                    "error using interface {interface}: it has no IPv4 address"
                ))
            });
    }
    addrs
        .iter()
        .map(|(_, ip)| ip)
        .find(|ip| v4(ip) && accept(ip))
        .map(|ip| ip.to_string())
        .ok_or_else(|| HttpError("IP not found".into()))
}

/// A server error, in Packer's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

/// A running server; stops when dropped (or on [`HttpServer::stop`]).
#[derive(Debug)]
pub struct HttpServer {
    port: u16,
    stop: CancellationToken,
    _lock: Option<PortLock>,
}

impl HttpServer {
    /// The port served on; 0 when there was nothing to serve (Packer's `http_port` = 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops serving and releases the port.
    pub fn stop(self) {}
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Site {
    dir: Option<PathBuf>,
    content: BTreeMap<String, String>,
}

/// Starts the server for `cfg`; with neither a directory nor content, nothing is started
/// and [`HttpServer::port`] is 0.
pub async fn start(cfg: &HttpConfig) -> Result<HttpServer, HttpError> {
    start_with_cancel(cfg, &CancellationToken::new()).await
}

/// [`start`], also stopping when `cancel` is cancelled (the build's token).
pub async fn start_with_cancel(
    cfg: &HttpConfig,
    cancel: &CancellationToken,
) -> Result<HttpServer, HttpError> {
    let stop = cancel.child_token();
    if cfg.directory.is_empty() && cfg.content.is_empty() {
        return Ok(HttpServer {
            port: 0,
            stop,
            _lock: None,
        });
    }
    if !cfg.directory.is_empty() {
        if let Err(e) = std::fs::metadata(&cfg.directory) {
            return Err(HttpError(format!(
                "Error finding {:?}: {}",
                cfg.directory,
                crate::media::go_path_err("stat", &cfg.directory, &e)
            )));
        }
    }
    let bind = if cfg.bind_address.is_empty() {
        "0.0.0.0"
    } else {
        &cfg.bind_address
    };
    let (std_listener, lock) = crate::ports::listen(cfg.port_min, cfg.port_max, bind, "HTTP")
        .map_err(|e| HttpError(format!("Error finding port: {e}")))?;
    let port = std_listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std_listener
        .set_nonblocking(true)
        .map_err(|e| HttpError(format!("Error finding port: {e}")))?;
    let listener = tokio::net::TcpListener::from_std(std_listener)
        .map_err(|e| HttpError(format!("Error finding port: {e}")))?;
    let site = Arc::new(Site {
        dir: (!cfg.directory.is_empty()).then(|| PathBuf::from(&cfg.directory)),
        content: cfg
            .content
            .iter()
            .map(|(k, v)| (clean_url_path(k), v.clone()))
            .collect(),
    });
    tracing::info!("Starting HTTP server on port {port}");
    let token = stop.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = token.cancelled() => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!("http server accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            let site = site.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let site = site.clone();
                    async move { Ok::<_, Infallible>(handle(&site, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = conn => {}
                }
            });
        }
    });
    Ok(HttpServer {
        port,
        stop,
        _lock: Some(lock),
    })
}

type RespBody = BoxBody<Bytes, std::io::Error>;

fn full(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<RespBody> {
    let body: Bytes = body.into();
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .header("content-length", body.len())
        .body(Full::new(body).map_err(|never| match never {}).boxed())
        .unwrap_or_else(|_| Response::new(Empty::new().map_err(|never| match never {}).boxed()))
}

async fn handle(site: &Site, req: Request<hyper::body::Incoming>) -> Response<RespBody> {
    let head = req.method() == Method::HEAD;
    let resp = if req.method() != Method::GET && !head {
        let mut r = full(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "405 method not allowed\n",
        );
        r.headers_mut().insert(
            "allow",
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        r
    } else {
        let raw = req.uri().path();
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned();
        let path = clean_url_path(&decoded);
        if let Some(c) = site.content.get(&path) {
            full(StatusCode::OK, content_type(&path), c.clone())
        } else if let Some(dir) = &site.dir {
            serve_dir(dir, &path, &decoded).await
        } else {
            let mut msg = format!("{path} not found.");
            if let Some(s) = suggest(&path, site.content.keys()) {
                msg.push_str(&format!(" Did you mean {s:?}?"));
            }
            msg.push('\n');
            full(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", msg)
        }
    };
    if head {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Empty::new().map_err(|never| match never {}).boxed());
    }
    resp
}

async fn serve_dir(dir: &Path, path: &str, raw: &str) -> Response<RespBody> {
    let not_found = || {
        full(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found\n",
        )
    };
    let mut fs_path = dir.to_path_buf();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        fs_path.push(c);
    }
    let Ok(md) = tokio::fs::metadata(&fs_path).await else {
        return not_found();
    };
    if md.is_dir() {
        if !raw.ends_with('/') {
            let name = path.rsplit('/').next().unwrap_or("");
            return Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header("location", format!("{name}/"))
                .header("content-length", 0)
                .body(Empty::new().map_err(|never| match never {}).boxed())
                .unwrap_or_else(|_| not_found());
        }
        let index = fs_path.join("index.html");
        if tokio::fs::metadata(&index)
            .await
            .map(|m| m.is_file())
            .unwrap_or(false)
        {
            return serve_file(&index).await.unwrap_or_else(not_found);
        }
        let Ok(mut rd) = tokio::fs::read_dir(&fs_path).await else {
            return not_found();
        };
        let mut names = Vec::new();
        while let Ok(Some(e)) = rd.next_entry().await {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().await.map(|t| t.is_dir()).unwrap_or(false) {
                n.push('/');
            }
            names.push(n);
        }
        names.sort();
        let mut html = String::from("<pre>\n");
        for n in names {
            let href = percent_encoding::utf8_percent_encode(&n, HREF).to_string();
            html.push_str(&format!("<a href=\"{href}\">{}</a>\n", html_escape(&n)));
        }
        html.push_str("</pre>\n");
        return full(StatusCode::OK, "text/html; charset=utf-8", html);
    }
    serve_file(&fs_path).await.unwrap_or_else(not_found)
}

const HREF: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?');

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn serve_file(path: &Path) -> Option<Response<RespBody>> {
    let file = tokio::fs::File::open(path).await.ok()?;
    let len = file.metadata().await.ok()?.len();
    let body = FileBody {
        file,
        left: len,
        buf: vec![0; 64 * 1024],
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type(&path.to_string_lossy()))
        .header("content-length", len)
        .body(body.boxed())
        .ok()
}

/// Streams a file of known length.
struct FileBody {
    file: tokio::fs::File,
    left: u64,
    buf: Vec<u8>,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let want = this
            .buf
            .len()
            .min(usize::try_from(this.left).unwrap_or(usize::MAX));
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "file shrank while being served",
                    ))));
                }
                this.left -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    &this.buf[..n],
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Go's `path.Clean` of a rooted path: no `.`, `..` or doubled slashes, never above `/`.
fn clean_url_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "text/xml; charset=utf-8",
        Some("iso") => "application/octet-stream",
        Some("gz" | "tgz") => "application/gzip",
        Some("zip") => "application/zip",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

/// The closest of `names` to `name` when close enough (Packer's "Did you mean").
fn suggest<'a>(name: &str, names: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for n in names {
        let d = levenshtein(name, n);
        if d < 3 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One raw HTTP/1.1 request; returns (status, headers lowercased, body).
    fn request(port: u16, method: &str, path: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let body = raw[split + 4..].to_vec();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, body)
    }

    async fn get(
        port: u16,
        method: &'static str,
        path: &str,
    ) -> (u16, BTreeMap<String, String>, Vec<u8>) {
        let path = path.to_string();
        tokio::task::spawn_blocking(move || request(port, method, &path))
            .await
            .unwrap()
    }

    fn site() -> (tempfile::TempDir, HttpConfig) {
        let t = tempfile::tempdir().unwrap();
        let www = t.path().join("www");
        std::fs::create_dir_all(www.join("sub")).unwrap();
        std::fs::write(www.join("preseed.cfg"), "d-i from disk\n").unwrap();
        std::fs::write(www.join("shadowed.cfg"), "disk").unwrap();
        std::fs::write(www.join("sub/ks.cfg"), vec![b'k'; 200_000]).unwrap();
        std::fs::write(t.path().join("secret"), "outside").unwrap();
        let cfg = HttpConfig {
            directory: www.display().to_string(),
            content: BTreeMap::from([
                ("/user-data".to_string(), "#cloud-config\n".to_string()),
                ("shadowed.cfg".to_string(), "memory".to_string()),
            ]),
            port_min: 18000,
            port_max: 18100,
            bind_address: "127.0.0.1".into(),
        };
        (t, cfg)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_directory_and_content_over_loopback() {
        let (_t, cfg) = site();
        let srv = start(&cfg).await.unwrap();
        let port = srv.port();
        assert!((18000..18100).contains(&port));
        // The port is held: nobody else gets it while the server runs.
        assert!(crate::ports::listen(port, port, "127.0.0.1", "test").is_err());

        let (st, h, b) = get(port, "GET", "/preseed.cfg").await;
        assert_eq!((st, b.as_slice()), (200, &b"d-i from disk\n"[..]));
        assert_eq!(h["content-length"], "14");

        let (st, h, b) = get(port, "GET", "/sub/ks.cfg").await;
        assert_eq!((st, b.len()), (200, 200_000));
        assert_eq!(h["content-length"], "200000");

        let (st, h, b) = get(port, "HEAD", "/sub/ks.cfg").await;
        assert_eq!((st, b.len()), (200, 0));
        assert_eq!(h["content-length"], "200000");

        let (st, _, b) = get(port, "GET", "/user-data").await;
        assert_eq!((st, b.as_slice()), (200, &b"#cloud-config\n"[..]));
        let (_, _, b) = get(port, "GET", "/shadowed.cfg").await;
        assert_eq!(b, b"memory", "content wins over the directory");

        let (st, _, _) = get(port, "GET", "/missing").await;
        assert_eq!(st, 404);
        for evil in [
            "/../secret",
            "/sub/../../secret",
            "/%2e%2e/secret",
            "/..%2fsecret",
        ] {
            let (st, _, b) = get(port, "GET", evil).await;
            assert_eq!(st, 404, "{evil}: {}", String::from_utf8_lossy(&b));
        }
        let (st, h, _) = get(port, "GET", "/sub").await;
        assert_eq!((st, h["location"].as_str()), (301, "sub/"));
        let (st, _, b) = get(port, "GET", "/sub/").await;
        assert_eq!(st, 200);
        assert!(String::from_utf8_lossy(&b).contains("<a href=\"ks.cfg\">ks.cfg</a>"));
        let (st, _, _) = get(port, "POST", "/preseed.cfg").await;
        assert_eq!(st, 405);

        drop(srv);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "stopped on drop"
        );
        // And the port is free for the next build.
        assert!(crate::ports::listen(port, port, "127.0.0.1", "test").is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn content_only_404_suggests_a_path() {
        let (_t, mut cfg) = site();
        cfg.directory.clear();
        let srv = start(&cfg).await.unwrap();
        let (st, _, b) = get(srv.port(), "GET", "/user-dat").await;
        assert_eq!(st, 404);
        assert_eq!(
            String::from_utf8_lossy(&b),
            "/user-dat not found. Did you mean \"/user-data\"?\n"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stops_when_the_build_is_cancelled() {
        let (_t, cfg) = site();
        let cancel = CancellationToken::new();
        let srv = start_with_cancel(&cfg, &cancel).await.unwrap();
        let port = srv.port();
        assert_eq!(get(port, "GET", "/user-data").await.0, 200);
        cancel.cancel();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[tokio::test]
    async fn nothing_to_serve_and_errors() {
        let srv = start(&HttpConfig::default()).await.unwrap();
        assert_eq!(srv.port(), 0);
        let (t, mut cfg) = site();
        let missing = t.path().join("nope").display().to_string();
        cfg.directory = missing.clone();
        let e = start(&cfg).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error finding {missing:?}: stat {missing}: no such file or directory")
        );
    }
}
