//! forge's WinRM transfers. Packer appends 8 KB base64 `echo`s to a temporary file, one
//! command each; forge runs one PowerShell command per transfer and streams the data through
//! its stdin (WinRS `Send`), in envelopes as large as the server accepts. A directory travels as
//! one ZIP archive, both ways.
//!
//! Each script's first line names it (`# forge:upload`, ...) and its one parameter is a
//! single-quoted PowerShell literal on a line of its own (`$dst = '...'`), so a test server can
//! recognise them.

use std::io::{Read, Seek, Write};
use std::path::Path;

use base64::Engine as _;
use forge_core::{Error, Result};

/// A script's command line: PowerShell reading the script from `-EncodedCommand` (UTF-16LE,
/// base64), without profile or prompts.
pub fn powershell_command(script: &str) -> String {
    format!(
        "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {}",
        encode(script)
    )
}

/// `script` as PowerShell's `-EncodedCommand` wants it: UTF-16LE, base64.
pub(super) fn encode(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes the base64 lines arriving on stdin into the open stream `$out`, then closes it.
const STDIN_TO_OUT: &str = "try {
  while ($null -ne ($line = [Console]::In.ReadLine())) {
    if ($line.Length -gt 0) {
      $bytes = [System.Convert]::FromBase64String($line)
      $out.Write($bytes, 0, $bytes.Length)
    }
  }
} finally { $out.Close() }
";

/// `s` as a single-quoted PowerShell literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes stdin's base64 lines to `dst` (through a temporary file beside it, so a failed
/// upload leaves no half file); refuses a directory as Packer's restore script does.
pub(super) fn upload_script(dst: &str) -> String {
    format!(
        r#"# forge:upload
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$dst = {}
$full = [System.IO.Path]::GetFullPath($dst)
{NOT_A_DIRECTORY}$dir = [System.IO.Path]::GetDirectoryName($full)
if ($dir) {{ [void][System.IO.Directory]::CreateDirectory($dir) }}
$tmp = $full + '.forge-upload'
{}Move-Item -LiteralPath $tmp -Destination $full -Force
"#,
        literal(dst),
        stdin_to_tmp()
    )
}

/// Decodes the base64 lines arriving on stdin into the file `$tmp`.
fn stdin_to_tmp() -> String {
    format!("$out = [System.IO.File]::Create($tmp)\n{STDIN_TO_OUT}")
}

/// Refuses a destination that is a directory, as Packer's restore script does.
const NOT_A_DIRECTORY: &str = r#"if (Test-Path -LiteralPath $full -PathType Container) {
  [Console]::Error.WriteLine("Error restoring file to ${full}: it is a directory; give the destination a trailing slash to upload into it")
  exit 1
}
"#;

/// One part of a parallel upload: writes stdin's base64 lines into `dst`'s temporary file
/// (beside it, shared with the other parts) from byte `offset` on.
pub(super) fn upload_part_script(dst: &str, offset: u64) -> String {
    format!(
        r#"# forge:upload-part
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$dst = {}
$offset = {offset}
$full = [System.IO.Path]::GetFullPath($dst)
{NOT_A_DIRECTORY}$dir = [System.IO.Path]::GetDirectoryName($full)
if ($dir) {{ [void][System.IO.Directory]::CreateDirectory($dir) }}
$tmp = $full + '.forge-upload'
$out = [System.IO.File]::Open($tmp, 'OpenOrCreate', 'Write', 'ReadWrite')
[void]$out.Seek($offset, 'Begin')
{STDIN_TO_OUT}"#,
        literal(dst)
    )
}

/// Ends a parallel upload: the parts' temporary file, cut to `size` bytes, becomes `dst`; one
/// shorter is removed and the script fails.
pub(super) fn commit_script(dst: &str, size: u64) -> String {
    format!(
        r#"# forge:commit
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$dst = {}
$size = {size}
$full = [System.IO.Path]::GetFullPath($dst)
$tmp = $full + '.forge-upload'
$f = [System.IO.File]::Open($tmp, 'Open', 'Write')
$got = $f.Length
# What an earlier, longer upload left beyond the end goes.
if ($got -ge $size) {{ $f.SetLength($size) }}
$f.Close()
if ($got -lt $size) {{
  Remove-Item -LiteralPath $tmp -Force
  [Console]::Error.WriteLine("Error restoring file to ${{full}}: ${{got}} of ${{size}} bytes arrived")
  exit 1
}}
{NOT_A_DIRECTORY}Move-Item -LiteralPath $tmp -Destination $full -Force
"#,
        literal(dst)
    )
}

/// Removes what a failed parallel upload left.
pub(super) fn discard_script(dst: &str) -> String {
    format!(
        r#"# forge:discard
$ProgressPreference = 'SilentlyContinue'
$dst = {}
$tmp = [System.IO.Path]::GetFullPath($dst) + '.forge-upload'
Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue
"#,
        literal(dst)
    )
}

/// Extracts the ZIP archive arriving as base64 lines on stdin into the directory `dst`.
pub(super) fn unzip_script(dst: &str) -> String {
    format!(
        r#"# forge:unzip
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$dst = {}
Add-Type -AssemblyName System.IO.Compression.FileSystem
$full = [System.IO.Path]::GetFullPath($dst)
[void][System.IO.Directory]::CreateDirectory($full)
$tmp = [System.IO.Path]::GetTempFileName()
{}$zip = [System.IO.Compression.ZipFile]::OpenRead($tmp)
try {{
  foreach ($e in $zip.Entries) {{
    $target = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($full, $e.FullName))
    if ($e.FullName.EndsWith('/')) {{ [void][System.IO.Directory]::CreateDirectory($target); continue }}
    [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($target))
    [System.IO.Compression.ZipFileExtensions]::ExtractToFile($e, $target, $true)
  }}
}} finally {{ $zip.Dispose(); Remove-Item -LiteralPath $tmp -Force }}
"#,
        literal(dst),
        stdin_to_tmp()
    )
}

/// Writes the file `src` to stdout as base64 lines.
pub(super) fn download_script(src: &str) -> String {
    format!(
        r#"# forge:download
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$src = {}
$in = [System.IO.File]::OpenRead([System.IO.Path]::GetFullPath($src))
try {{
  $buf = New-Object byte[] 196608
  while (($n = $in.Read($buf, 0, $buf.Length)) -gt 0) {{
    [Console]::Out.WriteLine([System.Convert]::ToBase64String($buf, 0, $n))
  }}
}} finally {{ $in.Close() }}
"#,
        literal(src)
    )
}

/// Writes a ZIP archive of the directory `src`'s contents to stdout as base64 lines.
pub(super) fn download_dir_script(src: &str) -> String {
    format!(
        r#"# forge:download-dir
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$src = {}
Add-Type -AssemblyName System.IO.Compression.FileSystem
$tmp = [System.IO.Path]::GetTempFileName()
Remove-Item -LiteralPath $tmp -Force
[System.IO.Compression.ZipFile]::CreateFromDirectory([System.IO.Path]::GetFullPath($src), $tmp)
$in = [System.IO.File]::OpenRead($tmp)
try {{
  $buf = New-Object byte[] 196608
  while (($n = $in.Read($buf, 0, $buf.Length)) -gt 0) {{
    [Console]::Out.WriteLine([System.Convert]::ToBase64String($buf, 0, $n))
  }}
}} finally {{ $in.Close(); Remove-Item -LiteralPath $tmp -Force }}
"#,
        literal(src)
    )
}

/// How many commands a large upload runs at once, each with its own part of the file.
pub(super) const PARTS: u64 = 4;

/// The byte ranges (start, length) a `len`-byte file is uploaded in: one when it fits a few
/// `Send`s of `chunk` bytes, else [`PARTS`] of whole chunks (the last takes the rest).
pub(super) fn parts(len: u64, chunk: usize) -> Vec<(u64, u64)> {
    let chunk = chunk.max(1) as u64;
    if len < 2 * PARTS * chunk {
        return vec![(0, len)];
    }
    let per = len.div_ceil(chunk).div_ceil(PARTS) * chunk;
    (0..PARTS)
        .map(|i| (i * per, per.min(len.saturating_sub(i * per))))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A byte range of a file, read (and rewound) on its own.
pub(super) struct Part {
    file: std::fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Part {
    /// `len` bytes of `file` from `start` on.
    pub(super) fn new(mut file: std::fs::File, start: u64, len: u64) -> std::io::Result<Part> {
        file.seek(std::io::SeekFrom::Start(start))?;
        Ok(Part {
            file,
            start,
            len,
            pos: 0,
        })
    }
}

impl Read for Part {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = (self.len - self.pos).min(buf.len() as u64) as usize;
        let n = self.file.read(&mut buf[..left])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Part {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            std::io::SeekFrom::Start(n) => n as i128,
            std::io::SeekFrom::Current(d) => self.pos as i128 + d as i128,
            std::io::SeekFrom::End(d) => self.len as i128 + d as i128,
        };
        let pos = u64::try_from(pos.clamp(0, self.len as i128)).unwrap_or(0);
        self.file.seek(std::io::SeekFrom::Start(self.start + pos))?;
        self.pos = pos;
        Ok(pos)
    }
}

/// How many file bytes fit one `Send` of an `envelope`-byte request: the data goes base64
/// twice (the line, then the stream), after about 4 KB of SOAP around it.
pub(super) fn chunk_size(envelope: u32) -> usize {
    let payload = (envelope as usize).saturating_sub(4096);
    let line = payload / 4 * 3; // the stream's base64
    let raw = line.saturating_sub(2) / 4 * 3; // the line's base64, less its CRLF
    (raw / 3 * 3).max(3)
}

/// One `Send`'s data: `chunk` as a base64 line with its CRLF.
pub(super) fn line(chunk: &[u8]) -> Vec<u8> {
    let mut s = base64::engine::general_purpose::STANDARD.encode(chunk);
    s.push_str("\r\n");
    s.into_bytes()
}

/// Decodes base64 lines (as the download scripts print them) into `out`, keeping a partial
/// line for the next call.
#[derive(Default)]
pub(super) struct LineDecoder(Vec<u8>);

impl LineDecoder {
    /// Decodes the complete lines of `data` into `out`.
    pub(super) fn push(&mut self, data: &[u8], out: &mut impl Write) -> Result<()> {
        self.0.extend_from_slice(data);
        while let Some(i) = self.0.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.0.drain(..=i).collect();
            decode_line(&line, out)?;
        }
        Ok(())
    }

    /// Decodes what is left.
    pub(super) fn finish(&mut self, out: &mut impl Write) -> Result<()> {
        let rest = std::mem::take(&mut self.0);
        decode_line(&rest, out)
    }
}

fn decode_line(line: &[u8], out: &mut impl Write) -> Result<()> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::msg(format!("WinRM download: the machine sent bad base64: {e}")))?;
    out.write_all(&bytes)
        .map_err(|e| Error::msg(format!("WinRM download: {e}")))
}

/// Packs the directory `src`'s contents (relative names, `/`-separated, directories as
/// entries of their own) into a ZIP archive written to `out`.
pub(super) fn zip_dir<W: Write + Seek>(src: &Path, out: W) -> Result<W> {
    let mut zip = zip::ZipWriter::new(out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let io = |e: std::io::Error, p: &Path| Error::msg(format!("{}: {e}", p.display()));
    let zerr = |e: zip::result::ZipError| Error::msg(format!("zip: {e}"));
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io(e, &dir))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| io(e, &dir))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path
                .strip_prefix(src)
                .map_err(|_| {
                    Error::msg(format!("{} is outside {}", path.display(), src.display()))
                })?
                .to_string_lossy()
                .replace('\\', "/");
            let meta = std::fs::metadata(&path).map_err(|e| io(e, &path))?;
            if meta.is_dir() {
                zip.add_directory(format!("{rel}/"), opts).map_err(zerr)?;
                stack.push(path);
            } else {
                zip.start_file(rel, opts).map_err(zerr)?;
                let mut f = std::fs::File::open(&path).map_err(|e| io(e, &path))?;
                std::io::copy(&mut f, &mut zip).map_err(|e| io(e, &path))?;
            }
        }
    }
    zip.finish().map_err(zerr)
}

/// Extracts the ZIP archive `archive` into the directory `dst` (created if missing),
/// refusing entries that would land outside it.
pub(super) fn unzip_into<R: Read + Seek>(archive: R, dst: &Path) -> Result<()> {
    let mut zip =
        zip::ZipArchive::new(archive).map_err(|e| Error::msg(format!("WinRM download: {e}")))?;
    let io = |e: std::io::Error, p: &Path| Error::msg(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dst).map_err(|e| io(e, dst))?;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| Error::msg(format!("WinRM download: {e}")))?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(Error::msg(format!(
                "WinRM download: the archive's entry {:?} points outside the directory",
                entry.name()
            )));
        };
        let target = dst.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| io(e, &target))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(e, parent))?;
        }
        let mut f = std::fs::File::create(&target).map_err(|e| io(e, &target))?;
        std::io::copy(&mut entry, &mut f).map_err(|e| io(e, &target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_themselves_and_quote_their_parameter() {
        let s = upload_script("C:\\it's\\x.txt");
        assert!(s.starts_with("# forge:upload\n"));
        assert!(s.contains("\n$dst = 'C:\\it''s\\x.txt'\n"));
        assert!(unzip_script("C:/d").starts_with("# forge:unzip\n"));
        assert!(download_script("C:/f").contains("\n$src = 'C:/f'\n"));
        assert!(download_dir_script("C:/d").starts_with("# forge:download-dir\n"));
    }

    #[test]
    fn encoded_commands_are_utf16le_base64() {
        // "ab" in UTF-16LE is 61 00 62 00.
        assert_eq!(encode("ab"), "YQBiAA==");
        assert!(powershell_command("ab").ends_with("-EncodedCommand YQBiAA=="));
    }

    #[test]
    fn large_files_go_in_parts_of_whole_chunks() {
        assert_eq!(parts(0, 100), [(0, 0)]);
        assert_eq!(parts(799, 100), [(0, 799)]);
        assert_eq!(
            parts(800, 100),
            [(0, 200), (200, 200), (400, 200), (600, 200)]
        );
        assert_eq!(
            parts(1001, 100),
            [(0, 300), (300, 300), (600, 300), (900, 101)]
        );
        for len in [800u64, 12_345, 20 << 20] {
            let p = parts(len, 368_000);
            assert_eq!(p.iter().map(|(_, n)| n).sum::<u64>(), len);
            assert!(p.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        }
    }

    #[test]
    fn a_part_reads_and_rewinds_its_range_only() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let mut p = Part::new(f, 3, 4).unwrap();
        let mut s = String::new();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, "3456");
        p.rewind().unwrap();
        let mut s = String::new();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, "3456");
    }

    #[test]
    fn chunks_fit_the_envelope_after_two_base64_passes() {
        for env in [153_600u32, 512_000] {
            let raw = chunk_size(env);
            let line = line(&vec![0u8; raw]);
            let stream = line.len().div_ceil(3) * 4;
            assert!(stream + 4096 <= env as usize, "{env}: {stream}");
            assert!(
                stream + 8192 > env as usize,
                "{env}: chunks too small ({stream})"
            );
        }
    }

    #[test]
    fn lines_decode_across_calls() {
        let mut d = LineDecoder::default();
        let mut out = Vec::new();
        d.push(b"aGVs", &mut out).unwrap();
        d.push(b"bG8=\r\nIHdv", &mut out).unwrap();
        d.push(b"cmxk\r\n", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(out, b"hello world");
        assert!(LineDecoder::default().push(b"!!\n", &mut out).is_err());
    }

    #[test]
    fn directories_round_trip_through_zip() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::create_dir_all(src.join("empty")).unwrap();
        std::fs::write(src.join("top.txt"), "top").unwrap();
        std::fs::write(src.join("a/b/deep.bin"), [0u8, 1, 2, 255]).unwrap();
        let zip = zip_dir(&src, std::io::Cursor::new(Vec::new())).unwrap();
        let dst = t.path().join("dst");
        unzip_into(std::io::Cursor::new(zip.into_inner()), &dst).unwrap();
        assert_eq!(std::fs::read(dst.join("top.txt")).unwrap(), b"top");
        assert_eq!(
            std::fs::read(dst.join("a/b/deep.bin")).unwrap(),
            [0, 1, 2, 255]
        );
        assert!(dst.join("empty").is_dir());
    }
}
