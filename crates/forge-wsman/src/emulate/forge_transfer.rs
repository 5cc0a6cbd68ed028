//! forge's own transfer scripts, as its WinRM communicator sends them.
//!
//! Each is `powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <b64>`
//! whose decoded script's FIRST line is a marker, and which has a line `$dst = '<path>'` or
//! `$src = '<path>'` (a single-quoted PowerShell literal; `''` is a quote):
//!
//! - `# forge:upload` + `$dst`: stdin is the file as base64 lines (CRLF-separated, each
//!   decodable on its own); the bytes go to `$dst` (parents created, an existing file
//!   replaced); exit 0.
//! - `# forge:unzip` + `$dst`: stdin is a ZIP archive the same way; extracted into `$dst`
//!   (created if missing, existing files overwritten); exit 0.
//! - `# forge:upload-part` + `$dst` + `$offset = <n>`: stdin as for `upload`; the bytes go
//!   into `<$dst>.forge-upload` from byte `n` on (the file is created if missing and shared by
//!   the parts in flight); a `$dst` that is a directory fails; exit 0.
//! - `# forge:commit` + `$dst` + `$size = <n>`: `<$dst>.forge-upload`, cut to `n` bytes,
//!   becomes `$dst`; one shorter is removed and the script fails.
//! - `# forge:discard` + `$dst`: removes `<$dst>.forge-upload` if there is one.
//! - `# forge:download` + `$src`: stdout is the file's base64 in CRLF-separated lines; a
//!   missing file gives a Windows-like message on stderr and exit 1.
//! - `# forge:download-dir` + `$src`: stdout is the base64 (lines) of a ZIP of the directory's
//!   contents.

use super::{Ctx, Machine};
use base64::Engine as _;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Characters of base64 per output line.
const LINE: usize = 76 * 100;

/// The `$name = '<literal>'` line's value.
fn literal(script: &str, name: &str) -> Option<String> {
    for line in script.lines() {
        let l = line.trim();
        let Some(rest) = l.strip_prefix(name) else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim();
        let inner = rest.strip_prefix('\'')?;
        // The literal ends at the first single quote not doubled.
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        return None;
    }
    None
}

/// The `$name = <number>` line's value.
fn number(script: &str, name: &str) -> Option<u64> {
    script.lines().find_map(|l| {
        let rest = l
            .trim()
            .strip_prefix(name)?
            .trim_start()
            .strip_prefix('=')?;
        rest.trim().parse().ok()
    })
}

/// The temporary file of a parallel upload to `dst`.
fn part_file(m: &Machine, ctx: &Ctx, dst: &str) -> std::path::PathBuf {
    let host = m.host_path(dst, &ctx.cwd);
    let mut name = host.file_name().unwrap_or_default().to_os_string();
    name.push(".forge-upload");
    host.with_file_name(name)
}

/// Decodes CRLF-separated base64 lines, each on its own.
fn decode_lines(stdin: &[u8]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(stdin);
    let mut out = Vec::new();
    for line in text.split(['\r', '\n']) {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        out.extend(B64.decode(l).map_err(|e| format!("bad base64 line: {e}"))?);
    }
    Ok(out)
}

fn encode_lines(ctx: &Ctx, bytes: &[u8]) {
    let b = B64.encode(bytes);
    for chunk in b.as_bytes().chunks(LINE) {
        let mut l = chunk.to_vec();
        l.extend_from_slice(b"\r\n");
        ctx.io.stdout(&l);
    }
}

/// The whole of stdin, decoded (`None`, said on stderr, when it is not base64 lines).
async fn stdin_bytes(ctx: &Ctx) -> Option<Vec<u8>> {
    let stdin = ctx.io.read_stdin_all().await;
    decode_lines(&stdin)
        .map_err(|e| ctx.err_line(&format!("Exception calling \"FromBase64String\": {e}")))
        .ok()
}

/// `Some(exit code)` when `script` is one of forge's transfer scripts.
pub(super) async fn try_run(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> Option<i32> {
    let first = script.lines().next().unwrap_or_default().trim();
    let marker = first.strip_prefix("# forge:")?;
    let code = match marker {
        "upload" | "unzip" => {
            let Some(dst) = literal(script, "$dst") else {
                return Some(ctx.not_emulated("forge transfer script without a $dst line"));
            };
            let Some(bytes) = stdin_bytes(ctx).await else {
                return Some(1);
            };
            let host = m.host_path(&dst, &ctx.cwd);
            let res = if marker == "upload" {
                write_file(&host, &bytes)
            } else {
                unzip(&host, &bytes)
            };
            match res {
                Ok(()) => 0,
                Err(e) => {
                    ctx.err_line(&format!("{marker} to '{dst}' failed: {e}"));
                    1
                }
            }
        }
        "upload-part" => {
            let (Some(dst), Some(offset)) = (literal(script, "$dst"), number(script, "$offset"))
            else {
                return Some(ctx.not_emulated("forge:upload-part without $dst and $offset"));
            };
            let Some(bytes) = stdin_bytes(ctx).await else {
                return Some(1);
            };
            if m.host_path(&dst, &ctx.cwd).is_dir() {
                ctx.err_line(&format!("Error restoring file to {dst}: it is a directory"));
                return Some(1);
            }
            match write_at(&part_file(m, ctx, &dst), offset, &bytes) {
                Ok(()) => 0,
                Err(e) => {
                    ctx.err_line(&format!("upload to '{dst}' failed: {e}"));
                    1
                }
            }
        }
        "commit" => {
            let (Some(dst), Some(size)) = (literal(script, "$dst"), number(script, "$size")) else {
                return Some(ctx.not_emulated("forge:commit without $dst and $size"));
            };
            let tmp = part_file(m, ctx, &dst);
            let host = m.host_path(&dst, &ctx.cwd);
            let got = std::fs::metadata(&tmp).map(|md| md.len()).ok();
            if got.is_some_and(|n| n > size) {
                let cut = std::fs::OpenOptions::new().write(true).open(&tmp);
                let _ = cut.and_then(|f| f.set_len(size));
            }
            if got.is_none_or(|n| n < size) {
                let _ = std::fs::remove_file(&tmp);
                ctx.err_line(&format!(
                    "Error restoring file to {dst}: {} of {size} bytes arrived",
                    got.unwrap_or(0)
                ));
                1
            } else if host.is_dir() {
                ctx.err_line(&format!("Error restoring file to {dst}: it is a directory"));
                1
            } else {
                match std::fs::rename(&tmp, &host) {
                    Ok(()) => 0,
                    Err(e) => {
                        ctx.err_line(&format!("Move-Item to '{dst}' failed: {e}"));
                        1
                    }
                }
            }
        }
        "discard" => {
            let Some(dst) = literal(script, "$dst") else {
                return Some(ctx.not_emulated("forge:discard without $dst"));
            };
            let _ = std::fs::remove_file(part_file(m, ctx, &dst));
            0
        }
        "download" | "download-dir" => {
            let Some(src) = literal(script, "$src") else {
                return Some(ctx.not_emulated("forge transfer script without a $src line"));
            };
            let host = m.host_path(&src, &ctx.cwd);
            let res = if marker == "download" {
                if host.is_file() {
                    std::fs::read(&host).map_err(|e| e.to_string())
                } else {
                    Err(String::new())
                }
            } else if host.is_dir() {
                zip_dir(&host)
            } else {
                Err(String::new())
            };
            match res {
                Ok(bytes) => {
                    encode_lines(ctx, &bytes);
                    0
                }
                Err(_) => {
                    ctx.err_line(&format!(
                        "Cannot find path '{src}' because it does not exist."
                    ));
                    1
                }
            }
        }
        _ => return Some(ctx.not_emulated(first)),
    };
    Some(code)
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    if path.is_dir() {
        return Err(std::io::Error::other("the destination is a directory"));
    }
    std::fs::write(path, bytes)
}

/// Writes `bytes` into `path` from byte `offset` on (creating the file and its parents).
fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Seek as _;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    f.seek(std::io::SeekFrom::Start(offset))?;
    f.write_all(bytes)
}

fn unzip(dst: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(std::io::Error::other)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(std::io::Error::other)?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(std::io::Error::other("an entry escapes the destination"));
        };
        let out = dst.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&out)?;
        } else {
            if let Some(p) = out.parent() {
                std::fs::create_dir_all(p)?;
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            std::fs::write(&out, data)?;
        }
    }
    Ok(())
}

fn zip_dir(dir: &Path) -> Result<Vec<u8>, String> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    fn walk(
        w: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>,
        base: &Path,
        dir: &Path,
        opts: zip::write::SimpleFileOptions,
    ) -> Result<(), String> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(base).map_err(|e| e.to_string())?;
            let name = rel.to_string_lossy().replace('\\', "/");
            if p.is_dir() {
                w.add_directory(format!("{name}/"), opts)
                    .map_err(|e| e.to_string())?;
                walk(w, base, &p, opts)?;
            } else {
                w.start_file(name, opts).map_err(|e| e.to_string())?;
                let data = std::fs::read(&p).map_err(|e| e.to_string())?;
                w.write_all(&data).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
    walk(&mut w, dir, dir, opts)?;
    Ok(w.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        let s = "# forge:upload\n$dst = 'C:\\it''s\\x.txt'\n";
        assert_eq!(literal(s, "$dst").as_deref(), Some("C:\\it's\\x.txt"));
        assert_eq!(literal(s, "$src"), None);
    }

    #[test]
    fn numbers() {
        let s = "# forge:commit\n$dst = 'C:\\x'\n$size = 20971520\n";
        assert_eq!(number(s, "$size"), Some(20_971_520));
        assert_eq!(number(s, "$offset"), None);
    }

    #[test]
    fn base64_lines() {
        assert_eq!(decode_lines(b"aGVs\r\nbG8=\r\n").unwrap(), b"hello");
        assert!(decode_lines(b"!!!\r\n").is_err());
    }

    #[test]
    fn zip_round_trip() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src/sub")).unwrap();
        std::fs::write(d.path().join("src/a.txt"), b"a").unwrap();
        std::fs::write(d.path().join("src/sub/b.txt"), b"b").unwrap();
        let z = zip_dir(&d.path().join("src")).unwrap();
        unzip(&d.path().join("dst"), &z).unwrap();
        assert_eq!(std::fs::read(d.path().join("dst/sub/b.txt")).unwrap(), b"b");
    }
}
