//! The legacy scp protocol (`scp -O`; `scp -t` receives, `scp -f` sends), emulated here with
//! the communicator's upload and download.
//!
//! Not modelled: wildcards in `scp -f` paths (the path is taken literally); `-p` times are set
//! with `touch -d @<secs>`; modes are applied with `chmod` only under `-p` (a new file gets the
//! sent mode from communicators that copy modes).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use russh::ChannelReadHalf;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use super::exec::Out;
use super::remote::{self, Stat};
use super::{sh_quote, Shared};

/// An `scp -t` / `scp -f` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScpRequest {
    /// `-f` (we send) rather than `-t` (we receive).
    pub source: bool,
    /// `-r`.
    pub recursive: bool,
    /// `-p`.
    pub preserve: bool,
    /// `-d`: the target must be a directory.
    pub target_dir: bool,
    /// The path.
    pub path: String,
}

/// Splits a command line as a POSIX shell would (quotes and backslashes; no expansions).
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => w.push(c),
                            c => {
                                w.push('\\');
                                w.push(c);
                            }
                        },
                        c => w.push(c),
                    }
                }
            }
            '\\' => cur.get_or_insert_with(String::new).push(chars.next()?),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    Some(words)
}

/// Recognises `scp [-v -r -p -d -q] (-t|-f) [--] <path>`.
pub(super) fn parse(command: &str) -> Option<ScpRequest> {
    let words = split_words(command.trim())?;
    let (first, rest) = words.split_first()?;
    if first != "scp" && !first.ends_with("/scp") {
        return None;
    }
    let (mut sink, mut source) = (false, false);
    let mut req = ScpRequest {
        source: false,
        recursive: false,
        preserve: false,
        target_dir: false,
        path: String::new(),
    };
    let mut paths = Vec::new();
    let mut opts_done = false;
    for w in rest {
        if !opts_done && w == "--" {
            opts_done = true;
        } else if !opts_done && w.starts_with('-') && w.len() > 1 {
            for f in w.chars().skip(1) {
                match f {
                    't' => sink = true,
                    'f' => source = true,
                    'r' => req.recursive = true,
                    'p' => req.preserve = true,
                    'd' => req.target_dir = true,
                    'v' | 'q' => {}
                    _ => return None,
                }
            }
        } else {
            paths.push(w.clone());
        }
    }
    if sink == source || paths.len() != 1 {
        return None;
    }
    req.source = source;
    req.path = paths.pop()?;
    Some(req)
}

/// Runs the scp protocol on the channel; the exit status.
pub(super) async fn run(
    shared: &Shared,
    mut read: ChannelReadHalf,
    out: &Out,
    req: ScpRequest,
) -> u32 {
    tracing::debug!(?req, "ansible proxy: scp");
    let mut input = BufReader::new(read.make_reader());
    let r = if req.source {
        send(shared, &mut input, out, &req).await
    } else {
        receive(shared, &mut input, out, &req).await
    };
    match r {
        Ok(()) => 0,
        Err(msg) => {
            tracing::warn!("ansible proxy scp: {msg}");
            out.send(false, format!("\x01scp: {}\n", msg.replace('\n', " ")))
                .await;
            1
        }
    }
}

async fn ack(out: &Out) -> Result<(), String> {
    if out.send(false, &b"\0"[..]).await {
        Ok(())
    } else {
        Err("the client left".into())
    }
}

/// Waits for the client's acknowledgement (`\0`; `\x01`/`\x02` carry an error line).
async fn wait_ack<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> Result<(), String> {
    let mut b = [0u8; 1];
    input
        .read_exact(&mut b)
        .await
        .map_err(|_| "the client closed the connection".to_string())?;
    if b[0] == 0 {
        return Ok(());
    }
    let mut line = Vec::new();
    let _ = input.read_until(b'\n', &mut line).await;
    Err(format!(
        "the client reported: {}",
        String::from_utf8_lossy(&line).trim()
    ))
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// Receives files (`scp -t`): the client sends `C`, `D`, `E`, `T` records.
async fn receive<R: AsyncRead + Unpin>(
    shared: &Shared,
    input: &mut BufReader<R>,
    out: &Out,
    req: &ScpRequest,
) -> Result<(), String> {
    let target_is_dir = matches!(remote::stat(shared, &req.path, true).await, Ok(s) if s.is_dir());
    if req.target_dir && !target_is_dir {
        return Err(format!("{}: Not a directory", req.path));
    }
    ack(out).await?;
    // The directories entered by `D` records, innermost last.
    let mut dirs: Vec<String> = Vec::new();
    let mut times: Option<(u64, u64)> = None;
    loop {
        let mut line = Vec::new();
        let n = input
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading from the client: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&line)
            .trim_end_matches('\n')
            .to_string();
        let (kind, rest) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        match kind {
            "T" => {
                let f: Vec<u64> = rest.split(' ').filter_map(|x| x.parse().ok()).collect();
                times = (f.len() == 4).then(|| (f[0], f[2]));
                if times.is_none() {
                    return Err(format!("protocol error: bad time record {line:?}"));
                }
                ack(out).await?;
            }
            "C" | "D" => {
                let (mode, size, name) = parse_record(rest)
                    .ok_or_else(|| format!("protocol error: bad record {line:?}"))?;
                let dest = match dirs.last() {
                    Some(d) => join(d, &name),
                    None if target_is_dir => join(&req.path, &name),
                    None => req.path.clone(),
                };
                if kind == "D" {
                    if !req.recursive {
                        return Err("received a directory without -r".into());
                    }
                    let script = format!("mkdir -p -- {}", sh_quote(&dest));
                    remote::run(shared, &format!("mkdir {dest}"), &script)
                        .await
                        .map_err(|e| e.message().to_string())?;
                    finish_attrs(shared, &dest, mode, times.take(), req.preserve).await?;
                    dirs.push(dest);
                    ack(out).await?;
                } else {
                    ack(out).await?;
                    receive_file(shared, input, &dest, mode, size).await?;
                    finish_attrs(shared, &dest, mode, times.take(), req.preserve).await?;
                    ack(out).await?;
                }
            }
            "E" => {
                dirs.pop();
                ack(out).await?;
            }
            "\x01" | "\x02" => {
                return Err(format!("the client reported: {rest}"));
            }
            _ => return Err(format!("protocol error: unexpected {line:?}")),
        }
    }
}

/// Parses `<mode> <size> <name>` of a `C`/`D` record; the name must be a plain name.
fn parse_record(rest: &str) -> Option<(u32, u64, String)> {
    let mut it = rest.splitn(3, ' ');
    let mode = u32::from_str_radix(it.next()?, 8).ok()?;
    let size = it.next()?.parse().ok()?;
    let name = it.next()?.to_string();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    Some((mode & 0o7777, size, name))
}

/// Reads `size` bytes and the trailing `\0` into a local file, and uploads it to `dest`.
async fn receive_file<R: AsyncRead + Unpin>(
    shared: &Shared,
    input: &mut BufReader<R>,
    dest: &str,
    mode: u32,
    size: u64,
) -> Result<(), String> {
    let local = shared.tmp_file("scp");
    let r = async {
        let mut f = tokio::fs::File::create(&local)
            .await
            .map_err(|e| format!("creating a local buffer: {e}"))?;
        let copied = tokio::io::copy(&mut (&mut *input).take(size), &mut f)
            .await
            .map_err(|e| format!("receiving {dest}: {e}"))?;
        if copied != size {
            return Err(format!(
                "receiving {dest}: the client sent {copied} of {size} bytes"
            ));
        }
        drop(f);
        wait_ack(input).await?;
        let _ = std::fs::set_permissions(&local, std::fs::Permissions::from_mode(mode & 0o777));
        shared
            .comm
            .upload(&shared.ctx, dest, &local)
            .await
            .map_err(|e| format!("uploading {dest}: {e}"))
    }
    .await;
    let _ = std::fs::remove_file(&local);
    r
}

async fn finish_attrs(
    shared: &Shared,
    dest: &str,
    mode: u32,
    times: Option<(u64, u64)>,
    preserve: bool,
) -> Result<(), String> {
    if !preserve {
        return Ok(());
    }
    let q = sh_quote(dest);
    let mut script = format!("chmod {mode:o} -- {q}");
    if let Some((m, a)) = times {
        script.push_str(&format!(
            "; touch -m -d @{m} -- {q}; touch -a -d @{a} -- {q}"
        ));
    }
    remote::run(shared, &format!("setting the mode of {dest}"), &script)
        .await
        .map(drop)
        .map_err(|e| e.message().to_string())
}

/// Sends `req.path` (`scp -f`): a file, or with `-r` a directory tree.
async fn send<R: AsyncRead + Unpin + Send>(
    shared: &Shared,
    input: &mut BufReader<R>,
    out: &Out,
    req: &ScpRequest,
) -> Result<(), String> {
    wait_ack(input).await?;
    let stat = remote::stat(shared, &req.path, true)
        .await
        .map_err(|e| e.message().to_string())?;
    let name = Path::new(req.path.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    send_entry(shared, input, out, req, req.path.clone(), name, stat).await
}

fn send_entry<'a, R: AsyncRead + Unpin + Send>(
    shared: &'a Shared,
    input: &'a mut BufReader<R>,
    out: &'a Out,
    req: &'a ScpRequest,
    path: String,
    name: String,
    stat: Stat,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
    Box::pin(async move {
        if req.preserve {
            out.send(false, format!("T{} 0 {} 0\n", stat.mtime, stat.atime))
                .await;
            wait_ack(input).await?;
        }
        let mode = stat.mode & 0o7777;
        if stat.is_dir() {
            if !req.recursive {
                return Err(format!("{path}: not a regular file"));
            }
            out.send(false, format!("D{mode:04o} 0 {name}\n")).await;
            wait_ack(input).await?;
            let entries = remote::list(shared, &path)
                .await
                .map_err(|e| e.message().to_string())?;
            for (n, s) in entries {
                let p = join(&path, &n);
                send_entry(shared, input, out, req, p, n, s).await?;
            }
            out.send(false, &b"E\n"[..]).await;
            return wait_ack(input).await;
        }
        if !stat.is_file() {
            return Err(format!("{path}: not a regular file"));
        }
        let local = shared.tmp_file("scp");
        let r = async {
            shared
                .comm
                .download(&shared.ctx, &path, &local)
                .await
                .map_err(|e| format!("downloading {path}: {e}"))?;
            let local_err = |e: std::io::Error| format!("reading the local copy of {path}: {e}");
            let mut f = tokio::fs::File::open(&local).await.map_err(local_err)?;
            let size = f.metadata().await.map_err(local_err)?.len();
            out.send(false, format!("C{mode:04o} {size} {name}\n"))
                .await;
            wait_ack(input).await?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = f.read(&mut buf).await.map_err(local_err)?;
                if n == 0 {
                    return Err(format!("{path} shrank while it was sent"));
                }
                let n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
                if !out.send(false, buf[..n].to_vec()).await {
                    return Err("the client left".to_string());
                }
                left -= n as u64;
            }
            if !out.send(false, &b"\0"[..]).await {
                return Err("the client left".to_string());
            }
            wait_ack(input).await
        }
        .await;
        let _ = std::fs::remove_file(&local);
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_commands_parse() {
        assert_eq!(parse("scp -t -- /tmp/a b"), None);
        assert_eq!(parse("scp -t -- '/tmp/a b'").unwrap().path, "/tmp/a b");
        let r = parse("scp -v -r -p -f /x/y").unwrap();
        assert!(r.source && r.recursive && r.preserve && !r.target_dir);
        assert_eq!(r.path, "/x/y");
        assert!(parse("scp -d -t /tmp").unwrap().target_dir);
        assert_eq!(parse("/usr/bin/scp -t \"/a\\\"b\"").unwrap().path, "/a\"b");
        assert_eq!(parse("/bin/sh -c 'scp -t /x'"), None);
        assert_eq!(parse("scp -t -f /x"), None);
        assert_eq!(parse("scp -t"), None);
        assert_eq!(parse("scp -t 'unterminated"), None);
        assert_eq!(parse("scp -Z -t /x"), None);
    }

    #[test]
    fn records_parse_and_reject_path_names() {
        assert_eq!(parse_record("0644 12 a b"), Some((0o644, 12, "a b".into())));
        assert_eq!(parse_record("0644 12 ../x"), None);
        assert_eq!(parse_record("0644 12 .."), None);
        assert_eq!(parse_record("9644 12 x"), None);
        assert_eq!(parse_record("0644 x x"), None);
    }
}
