//! Moving files: scp (Packer's default), sftp, and a directory as ONE tar stream when the
//! machine has `tar`. Directories follow Packer's rule: `src/` sends the contents into `dst`,
//! `src` sends the directory itself as `dst/<name>`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::chan::{Chan, Event};
use super::comm::{shell_quote, SshComm};

const CHUNK: usize = 256 * 1024;

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::msg(format!("{what} {}: {e}", path.display()))
}

/// Splits a remote path into its directory and name (Go's `filepath.Dir`/`Base`).
fn split_remote(p: &str) -> (String, String) {
    let trimmed = p.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/".into(), trimmed[1..].into()),
        Some(i) => (trimmed[..i].into(), trimmed[i + 1..].into()),
        None => (".".into(), trimmed.into()),
    }
}

/// Reads an scp acknowledgement: 0, or 1/2 followed by a message.
async fn ack(c: &mut Chan, what: &str) -> Result<()> {
    match c.read_byte().await {
        Some(0) => Ok(()),
        Some(_) => {
            // The remote scp's own words, as Packer reports them.
            let msg = c.read_line().await.unwrap_or_default();
            tracing::info!("scp {what}: {}", msg.trim());
            Err(Error::msg(msg.trim().to_string()))
        }
        None => {
            let code = c.finish().await;
            let stderr = c.stderr_text();
            let hint = if code == Some(127) {
                " (scp is not installed on the machine; install it or set ssh_file_transfer_method = \"sftp\")"
            } else {
                ""
            };
            Err(Error::msg(format!(
                "scp {what}: the remote scp ended{}{hint}: {}",
                code.map(|c| format!(" with status {c}"))
                    .unwrap_or_default(),
                last_line(&stderr)
            )))
        }
    }
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("debug") && !l.starts_with("Sink:"))
        .unwrap_or("")
        .to_string()
}

/// Closes stdin and waits: a non-zero status is Go's "Process exited with status N" (as Packer
/// reports it), the remote stderr going to the log.
async fn finish(mut c: Chan, what: &str) -> Result<()> {
    c.eof().await;
    match c.finish().await {
        Some(0) => Ok(()),
        Some(code) => {
            tracing::info!("{what}: exit status {code}: {}", c.stderr_text());
            Err(Error::msg(format!("Process exited with status {code}")))
        }
        None => Err(Error::msg(format!(
            "{what}: the connection dropped before the transfer finished"
        ))),
    }
}

fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// Streams a local file into the channel, advancing `pb`.
/// Copies `r` into `w` in large chunks, advancing `pb`; errors name the side that failed.
async fn pump(
    mut r: impl tokio::io::AsyncRead + Unpin,
    mut w: impl tokio::io::AsyncWrite + Unpin,
    pb: &indicatif::ProgressBar,
    reading: &str,
    writing: &str,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| Error::msg(format!("{reading}: {e}")))?;
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n])
            .await
            .map_err(|e| Error::msg(format!("{writing}: {e}")))?;
        pb.inc(n as u64);
    }
    w.flush()
        .await
        .map_err(|e| Error::msg(format!("{writing}: {e}")))
}

/// Streams a local file into the channel, advancing `pb`.
async fn send_file(c: &Chan, src: &Path, pb: &indicatif::ProgressBar) -> Result<()> {
    let f = tokio::fs::File::open(src)
        .await
        .map_err(|e| io_err("opening", src, e))?;
    let what = src.display();
    pump(
        f,
        c.writer(),
        pb,
        &format!("reading {what}"),
        &format!("sending {what}"),
    )
    .await
}

/// scp's `C` record for one file, its bytes and the acknowledgements.
async fn scp_send_one(
    c: &mut Chan,
    name: &str,
    src: &Path,
    meta: &std::fs::Metadata,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    c.write(format!("C{:04o} {} {}\n", mode_of(meta), meta.len(), name).as_bytes())
        .await
        .map_err(|e| Error::msg(e.to_string()))?;
    ack(c, &format!("upload of {}", src.display())).await?;
    send_file(c, src, pb).await?;
    c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?;
    ack(c, &format!("upload of {}", src.display())).await
}

/// Uploads one file with `scp -t`.
pub async fn scp_upload(comm: &SshComm, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
    let meta = std::fs::metadata(src).map_err(|e| io_err("reading", src, e))?;
    let (dir, name) = split_remote(dst);
    let mut c = comm
        .start(ctx, &format!("scp -vt {}", shell_quote(&dir)), false)
        .await?;
    ack(&mut c, &format!("upload to {dst}")).await?;
    let pb = ctx
        .ui
        .progress(meta.len(), &format!("uploading {}", src.display()));
    let r = scp_send_one(&mut c, &name, src, &meta, &pb).await;
    pb.finish_and_clear();
    r?;
    finish(c, &format!("scp upload to {dst}")).await
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match std::fs::metadata(e.path()) {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn sorted_entries(p: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(|e| io_err("reading", p, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    Ok(v)
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Uploads a directory with `scp -rt` (when the machine has no tar).
pub async fn scp_upload_dir(comm: &SshComm, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
    let contents = src.to_string_lossy().ends_with('/');
    let mut c = comm
        .start(ctx, &format!("scp -rvt {}", shell_quote(dst)), false)
        .await?;
    ack(&mut c, &format!("upload to {dst}")).await?;
    let pb = ctx
        .ui
        .progress(dir_size(src), &format!("uploading {}", src.display()));
    async fn walk(c: &mut Chan, dir: &Path, pb: &indicatif::ProgressBar) -> Result<()> {
        for p in sorted_entries(dir)? {
            let meta = std::fs::metadata(&p).map_err(|e| io_err("reading", &p, e))?;
            let name = base_name(&p);
            if meta.is_dir() {
                c.write(format!("D{:04o} 0 {name}\n", mode_of(&meta)).as_bytes())
                    .await
                    .map_err(|e| Error::msg(e.to_string()))?;
                ack(c, &format!("directory {}", p.display())).await?;
                Box::pin(walk(c, &p, pb)).await?;
                c.write(b"E\n")
                    .await
                    .map_err(|e| Error::msg(e.to_string()))?;
                ack(c, &format!("directory {}", p.display())).await?;
            } else {
                scp_send_one(c, &name, &p, &meta, pb).await?;
            }
        }
        Ok(())
    }
    let r = async {
        if contents {
            walk(&mut c, src, &pb).await
        } else {
            let meta = std::fs::metadata(src).map_err(|e| io_err("reading", src, e))?;
            c.write(format!("D{:04o} 0 {}\n", mode_of(&meta), base_name(src)).as_bytes())
                .await
                .map_err(|e| Error::msg(e.to_string()))?;
            ack(&mut c, &format!("directory {}", src.display())).await?;
            walk(&mut c, src, &pb).await?;
            c.write(b"E\n")
                .await
                .map_err(|e| Error::msg(e.to_string()))?;
            ack(&mut c, &format!("directory {}", src.display())).await
        }
    }
    .await;
    pb.finish_and_clear();
    r?;
    finish(c, &format!("scp upload to {dst}")).await
}

/// Reads an scp record line, turning a 1/2 status into an error.
async fn record(c: &mut Chan, what: &str) -> Result<Option<String>> {
    let Some(first) = c.read_byte().await else {
        return Ok(None);
    };
    let rest = c.read_line().await.unwrap_or_default();
    match first {
        1 | 2 => {
            // Packer passes the line on with its newline.
            tracing::info!("scp {what}: {}", rest.trim());
            Err(Error::msg(format!("{}\n", rest.trim_end())))
        }
        b => Ok(Some(format!("{}{rest}", b as char))),
    }
}

fn parse_c(line: &str) -> Result<(u64, String)> {
    let mut parts = line.splitn(3, ' ');
    let _mode = parts.next();
    let size = parts
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Error::msg(format!("scp: unexpected record {line:?}")))?;
    let name = parts.next().unwrap_or_default().to_string();
    if name.is_empty() || name.contains('/') || name == ".." {
        return Err(Error::msg(format!(
            "scp: refusing the file name in {line:?}"
        )));
    }
    Ok((size, name))
}

async fn receive_body(
    c: &mut Chan,
    size: u64,
    dst: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let mut f = tokio::fs::File::create(dst)
        .await
        .map_err(|e| io_err("creating", dst, e))?;
    let mut left = size;
    while left > 0 {
        let chunk = c.read_some(left.min(CHUNK as u64) as usize).await;
        if chunk.is_empty() {
            return Err(Error::msg(format!(
                "downloading {}: the connection ended {left} bytes early",
                dst.display()
            )));
        }
        f.write_all(&chunk)
            .await
            .map_err(|e| io_err("writing", dst, e))?;
        left -= chunk.len() as u64;
        pb.inc(chunk.len() as u64);
    }
    f.flush().await.map_err(|e| io_err("writing", dst, e))?;
    ack(c, &format!("download to {}", dst.display())).await?;
    c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))
}

/// Downloads one file with `scp -f`.
pub async fn scp_download(comm: &SshComm, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
    // Packer opens the destination first: a failed download leaves it empty.
    std::fs::File::create(dst).map_err(|e| io_err("creating", dst, e))?;
    let mut c = comm
        .start(ctx, &format!("scp -vf {}", shell_quote(src)), false)
        .await?;
    c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?;
    let what = format!("download of {src}");
    let line = loop {
        match record(&mut c, &what).await? {
            Some(l) if l.starts_with('T') => {
                c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?
            }
            Some(l) => break l,
            None => {
                return Err(Error::msg(format!(
                    "scp {what}: {}",
                    last_line(&c.stderr_text())
                )))
            }
        }
    };
    if !line.starts_with('C') {
        return Err(Error::msg(format!(
            "scp {what}: unexpected record {line:?}"
        )));
    }
    let (size, _) = parse_c(&line)?;
    c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?;
    let pb = ctx.ui.progress(size, &format!("downloading {src}"));
    let r = receive_body(&mut c, size, dst, &pb).await;
    pb.finish_and_clear();
    r?;
    finish(c, &format!("scp download of {src}")).await
}

/// Downloads a directory (as `dst/<name>`) or a glob's matches into `dst` with `scp -rf`
/// (when the machine has no tar).
pub async fn scp_download_dir(comm: &SshComm, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
    let arg = if is_glob(src) {
        src.to_string()
    } else {
        shell_quote(src.trim_end_matches('/'))
    };
    let mut c = comm.start(ctx, &format!("scp -rvf {arg}"), false).await?;
    c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?;
    std::fs::create_dir_all(dst).map_err(|e| io_err("creating", dst, e))?;
    let pb = ctx.ui.progress(0, &format!("downloading {src}"));
    let what = format!("download of {src}");
    let mut stack: Vec<PathBuf> = Vec::new();
    let r: Result<()> = async {
        while let Some(line) = record(&mut c, &what).await? {
            let here = stack.last().cloned().unwrap_or_else(|| dst.to_path_buf());
            match line.chars().next() {
                Some('T') => {}
                Some('D') => {
                    let (_, name) = parse_c(&line)?;
                    let d = here.join(name);
                    std::fs::create_dir_all(&d).map_err(|e| io_err("creating", &d, e))?;
                    stack.push(d);
                }
                Some('E') => {
                    stack.pop();
                }
                Some('C') => {
                    let (size, name) = parse_c(&line)?;
                    c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?;
                    receive_body(&mut c, size, &here.join(name), &pb).await?;
                    continue;
                }
                _ => {
                    return Err(Error::msg(format!(
                        "scp {what}: unexpected record {line:?}"
                    )))
                }
            }
            c.write(&[0]).await.map_err(|e| Error::msg(e.to_string()))?;
        }
        Ok(())
    }
    .await;
    pb.finish_and_clear();
    r?;
    finish(c, &format!("scp download of {src}")).await
}

/// A `Write` that hands full chunks to an async consumer.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.tx
                .blocking_send(chunk)
                .map_err(|_| std::io::Error::other("the upload stopped"))?;
        }
        Ok(())
    }
}

/// Writes `src` as a tar stream: entries are named `prefix/...` (or relative, for an empty
/// prefix); ownership is left to the extracting side.
fn write_tar(src: &Path, prefix: &str, out: ChunkWriter) -> std::io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(true);
    fn header(meta: &std::fs::Metadata) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("");
        let _ = h.set_groupname("");
        h
    }
    fn walk<W: Write>(b: &mut tar::Builder<W>, dir: &Path, name: &str) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for p in entries {
            let meta = std::fs::metadata(&p)?;
            let child = if name.is_empty() {
                base_name(&p)
            } else {
                format!("{name}/{}", base_name(&p))
            };
            let mut h = header(&meta);
            if meta.is_dir() {
                b.append_data(&mut h, &child, std::io::empty())?;
                walk(b, &p, &child)?;
            } else {
                let f = std::fs::File::open(&p)?;
                b.append_data(&mut h, &child, f)?;
            }
        }
        Ok(())
    }
    if !prefix.is_empty() {
        let mut h = header(&std::fs::metadata(src)?);
        b.append_data(&mut h, prefix, std::io::empty())?;
    }
    walk(&mut b, src, prefix)?;
    let mut out = b.into_inner()?;
    out.flush()
}

/// Uploads a directory as one tar stream into `tar -x` on the machine.
pub async fn tar_upload(comm: &SshComm, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
    let meta = std::fs::metadata(src).map_err(|e| io_err("reading", src, e))?;
    if !meta.is_dir() {
        return Err(Error::msg(format!("{} is not a directory", src.display())));
    }
    // scp -r's rules: `src/` goes into an existing `dst`; `src` becomes `dst/<name>` when `dst`
    // is a directory, and `dst` itself otherwise.
    let q = shell_quote(dst);
    let into = if src.to_string_lossy().ends_with('/') {
        format!("cd {q}")
    } else {
        let inner = shell_quote(&format!("{}/{}", dst.trim_end_matches('/'), base_name(src)));
        format!("if [ -d {q} ]; then mkdir -p {inner} && cd {inner}; else mkdir {q} && cd {q}; fi")
    };
    let prefix = String::new();
    let c = comm
        .start(ctx, &format!("{into} && tar -xmf -"), false)
        .await?;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(8);
    let src_owned = src.to_path_buf();
    let producer = tokio::task::spawn_blocking(move || {
        write_tar(
            &src_owned,
            &prefix,
            ChunkWriter {
                buf: Vec::with_capacity(CHUNK),
                tx,
            },
        )
    });
    let pb = ctx
        .ui
        .progress(dir_size(src), &format!("uploading {}", src.display()));
    let mut w = c.writer();
    let mut send_err = None;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = w.write_all(&chunk).await {
            send_err = Some(e);
            break;
        }
        pb.inc(chunk.len() as u64);
    }
    drop(rx);
    let _ = w.flush().await;
    pb.finish_and_clear();
    let produced = producer
        .await
        .map_err(|e| Error::msg(format!("packing {}: {e}", src.display())))?;
    if let Some(e) = send_err {
        // The command may have ended first (a destination that does not exist): its status
        // says more than the broken pipe.
        finish(c, &format!("uploading {} to {dst}", src.display())).await?;
        return Err(Error::msg(format!(
            "uploading {} to {dst}: the connection failed: {e}",
            src.display()
        )));
    }
    produced.map_err(|e| io_err("packing", src, e))?;
    finish(c, &format!("uploading {} to {dst}", src.display())).await
}

/// A `Read` over chunks arriving from an async producer.
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    cur: std::io::Cursor<Vec<u8>>,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = std::io::Read::read(&mut self.cur, out)?;
            if n > 0 || out.is_empty() {
                return Ok(n);
            }
            match self.rx.blocking_recv() {
                Some(chunk) => self.cur = std::io::Cursor::new(chunk),
                None => return Ok(0),
            }
        }
    }
}

/// What `tar -c` on the machine should pack for `src`: the directory itself (it lands as
/// `dst/<name>`, as Packer's scp download does), or, for a glob in the last component, every
/// match.
fn tar_source(src: &str) -> String {
    let (dir, name) = split_remote(src);
    if is_glob(&name) {
        format!("cd {} && tar -cf - -- {name}", shell_quote(&dir))
    } else {
        let path = shell_quote(src.trim_end_matches('/'));
        format!(
            "if [ -e {path} ]; then tar -cf - -C {} {}; else echo {path}: No such file or directory >&2; exit 1; fi",
            shell_quote(&dir),
            shell_quote(&name)
        )
    }
}

/// Whether a path has glob characters.
pub fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Downloads a directory (or a glob's matches) into `dst` as one tar stream from `tar -c`.
pub async fn tar_download(comm: &SshComm, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
    let mut c = comm.start(ctx, &tar_source(src), false).await?;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(8);
    let dst_owned = dst.to_path_buf();
    let consumer = tokio::task::spawn_blocking(move || {
        // Nothing is created locally until the machine sends something.
        let Some(first) = rx.blocking_recv() else {
            return Ok(());
        };
        std::fs::create_dir_all(&dst_owned)?;
        let mut a = tar::Archive::new(ChunkReader {
            rx,
            cur: std::io::Cursor::new(first),
        });
        a.set_preserve_permissions(true);
        a.unpack(&dst_owned)
    });
    let pb = ctx.ui.progress(0, &format!("downloading {src}"));
    loop {
        match c.next().await {
            Event::Stdout(d) => {
                pb.inc(d.len() as u64);
                if tx.send(d.to_vec()).await.is_err() {
                    break;
                }
            }
            Event::Stderr(_) => {}
            Event::End => break,
        }
    }
    drop(tx);
    pb.finish_and_clear();
    let unpacked = consumer
        .await
        .map_err(|e| Error::msg(format!("unpacking into {}: {e}", dst.display())))?;
    match c.exit {
        Some(0) => {}
        Some(code) => {
            let stderr = c.stderr_text();
            tracing::info!("downloading {src}: tar exited with status {code}: {stderr}");
            // What Packer's scp download says of a missing source.
            if stderr.contains("No such file or directory") {
                return Err(Error::msg(format!(
                    "scp: {}: No such file or directory\n",
                    src.trim_end_matches('/')
                )));
            }
            return Err(Error::msg(format!("Process exited with status {code}")));
        }
        None => {
            return Err(Error::msg(format!(
                "downloading {src}: the connection dropped before the transfer finished"
            )))
        }
    }
    unpacked.map_err(|e| io_err("unpacking into", dst, e))
}

async fn sftp(comm: &SshComm, ctx: &BuildCtx) -> Result<russh_sftp::client::SftpSession> {
    let ch = comm.session(ctx).await?;
    ch.request_subsystem(true, "sftp")
        .await
        .map_err(|e| Error::msg(format!("SSH: starting the sftp subsystem: {e}")))?;
    russh_sftp::client::SftpSession::new(ch.into_stream())
        .await
        .map_err(|e| Error::msg(format!("sftp: {e}")))
}

async fn sftp_put(
    s: &russh_sftp::client::SftpSession,
    dst: &str,
    src: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let mut remote = s
        .create(dst)
        .await
        .map_err(|e| Error::msg(format!("sftp: creating {dst}: {e}")))?;
    let f = tokio::fs::File::open(src)
        .await
        .map_err(|e| io_err("opening", src, e))?;
    pump(
        f,
        &mut remote,
        pb,
        &format!("reading {}", src.display()),
        &format!("sftp: writing {dst}"),
    )
    .await?;
    remote
        .shutdown()
        .await
        .map_err(|e| Error::msg(format!("sftp: closing {dst}: {e}")))?;
    if let Ok(meta) = std::fs::metadata(src) {
        let mut attrs = russh_sftp::protocol::FileAttributes::empty();
        attrs.permissions = Some(mode_of(&meta));
        let _ = s.set_metadata(dst, attrs).await;
    }
    Ok(())
}

/// Uploads one file over sftp.
pub async fn sftp_upload(comm: &SshComm, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
    let len = std::fs::metadata(src)
        .map_err(|e| io_err("reading", src, e))?
        .len();
    let s = sftp(comm, ctx).await?;
    let pb = ctx
        .ui
        .progress(len, &format!("uploading {}", src.display()));
    let r = sftp_put(&s, dst, src, &pb).await;
    pb.finish_and_clear();
    let _ = s.close().await;
    r
}

/// Uploads a directory over sftp, one file at a time (when the machine has no tar).
pub async fn sftp_upload_dir(comm: &SshComm, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
    let s = sftp(comm, ctx).await?;
    let root = if src.to_string_lossy().ends_with('/') {
        dst.trim_end_matches('/').to_string()
    } else {
        format!("{}/{}", dst.trim_end_matches('/'), base_name(src))
    };
    let pb = ctx
        .ui
        .progress(dir_size(src), &format!("uploading {}", src.display()));
    async fn walk(
        s: &russh_sftp::client::SftpSession,
        dir: &Path,
        remote: &str,
        pb: &indicatif::ProgressBar,
    ) -> Result<()> {
        if !s.try_exists(remote).await.unwrap_or(false) {
            s.create_dir(remote)
                .await
                .map_err(|e| Error::msg(format!("sftp: creating {remote}: {e}")))?;
        }
        for p in sorted_entries(dir)? {
            let r = format!("{remote}/{}", base_name(&p));
            if p.is_dir() {
                Box::pin(walk(s, &p, &r, pb)).await?;
            } else {
                sftp_put(s, &r, &p, pb).await?;
            }
        }
        Ok(())
    }
    let r = walk(&s, src, &root, &pb).await;
    pb.finish_and_clear();
    let _ = s.close().await;
    r
}

async fn sftp_get(
    s: &russh_sftp::client::SftpSession,
    src: &str,
    dst: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let mut remote = s
        .open(src)
        .await
        .map_err(|e| Error::msg(format!("sftp: opening {src}: {e}")))?;
    let f = tokio::fs::File::create(dst)
        .await
        .map_err(|e| io_err("creating", dst, e))?;
    pump(
        &mut remote,
        f,
        pb,
        &format!("sftp: reading {src}"),
        &format!("writing {}", dst.display()),
    )
    .await
}

/// Downloads one file over sftp.
pub async fn sftp_download(comm: &SshComm, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
    std::fs::File::create(dst).map_err(|e| io_err("creating", dst, e))?;
    let s = sftp(comm, ctx).await?;
    let len = s.metadata(src).await.ok().and_then(|m| m.size).unwrap_or(0);
    let pb = ctx.ui.progress(len, &format!("downloading {src}"));
    let r = sftp_get(&s, src, dst, &pb).await;
    pb.finish_and_clear();
    let _ = s.close().await;
    r
}

/// Downloads a directory's contents into `dst` over sftp (when the machine has no tar).
pub async fn sftp_download_dir(
    comm: &SshComm,
    ctx: &BuildCtx,
    src: &str,
    dst: &Path,
) -> Result<()> {
    let s = sftp(comm, ctx).await?;
    let pb = ctx.ui.progress(0, &format!("downloading {src}"));
    async fn walk(
        s: &russh_sftp::client::SftpSession,
        remote: &str,
        dir: &Path,
        pb: &indicatif::ProgressBar,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
        let entries = s
            .read_dir(remote)
            .await
            .map_err(|e| Error::msg(format!("sftp: listing {remote}: {e}")))?;
        for e in entries {
            let name = e.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let r = format!("{}/{name}", remote.trim_end_matches('/'));
            if e.file_type().is_dir() {
                Box::pin(walk(s, &r, &dir.join(&name), pb)).await?;
            } else {
                sftp_get(s, &r, &dir.join(&name), pb).await?;
            }
        }
        Ok(())
    }
    let r = walk(&s, src, dst, &pb).await;
    pb.finish_and_clear();
    let _ = s.close().await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_split_like_go() {
        assert_eq!(split_remote("/tmp/a.sh"), ("/tmp".into(), "a.sh".into()));
        assert_eq!(split_remote("/a"), ("/".into(), "a".into()));
        assert_eq!(split_remote("a"), (".".into(), "a".into()));
    }

    #[test]
    fn scp_records_parse_and_names_are_checked() {
        assert_eq!(parse_c("C0644 12 f.txt").unwrap(), (12, "f.txt".into()));
        assert!(parse_c("C0644 12 ../x").is_err());
        assert!(parse_c("C0644 x f").is_err());
    }

    #[test]
    fn tar_stream_names_follow_the_trailing_slash_rule() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("dir");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), b"x").unwrap();
        for (prefix, want) in [
            ("", vec!["sub", "sub/f"]),
            ("dir", vec!["dir", "dir/sub", "dir/sub/f"]),
        ] {
            let (tx, mut rx) = mpsc::channel(64);
            let s = src.clone();
            let p = prefix.to_string();
            std::thread::spawn(move || {
                write_tar(
                    &s,
                    &p,
                    ChunkWriter {
                        buf: Vec::new(),
                        tx,
                    },
                )
                .unwrap()
            })
            .join()
            .unwrap();
            let mut bytes = Vec::new();
            while let Ok(c) = rx.try_recv() {
                bytes.extend(c);
            }
            let mut a = tar::Archive::new(&bytes[..]);
            let names: Vec<String> = a
                .entries()
                .unwrap()
                .map(|e| {
                    e.unwrap()
                        .path()
                        .unwrap()
                        .to_string_lossy()
                        .trim_end_matches('/')
                        .to_string()
                })
                .collect();
            assert_eq!(names, want);
        }
    }
}
