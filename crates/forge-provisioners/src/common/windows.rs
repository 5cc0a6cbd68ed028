//! What the Windows provisioners share: PowerShell's string escaping, the encoded-command
//! forms Packer's WinRM client and the windows-update plugin build, Go's XML text escaping,
//! Packer's time-ordered UUIDs, running a command with its output on the UI (Packer's
//! `RemoteCmd.RunWithUi`), and uploading generated text.

use std::collections::BTreeMap;

use base64::Engine as _;
use forge_core::local::temp_file;
use forge_core::plugin::{BuildCtx, Communicator, Stream};
use forge_core::ui::Ui;
use forge_core::Result;

use crate::shell::clean_output_line;

/// Packer's `psEscape`: a backtick before `$`, `"`, `` ` `` and `'`, so a value survives a
/// double-quoted PowerShell string.
pub fn ps_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '$' | '"' | '`' | '\'') {
            out.push('`');
        }
        out.push(c);
    }
    out
}

/// The Go WinRM client's `Powershell(script)`: `powershell.exe -EncodedCommand <base64>`, the
/// script widened byte by byte (each byte followed by a zero; a byte above 0x7f is first
/// written as the UTF-8 of the character with that code, as Go's `string(byte)` does).
pub fn winrm_powershell(script: &str) -> String {
    let mut wide = Vec::with_capacity(script.len() * 2);
    for b in script.bytes() {
        let mut buf = [0u8; 4];
        wide.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
        wide.push(0);
    }
    format!(
        "powershell.exe -EncodedCommand {}",
        base64::engine::general_purpose::STANDARD.encode(wide)
    )
}

/// Base64 of the UTF-16LE form of `s` (PowerShell's `-EncodedCommand` argument).
pub fn utf16le_base64(s: &str) -> String {
    let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Go's `xml.EscapeText`: the five markup characters as references (`"` and `'` numeric),
/// tab and line ends as hexadecimal references, and characters XML cannot carry as U+FFFD.
pub fn xml_escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if in_xml_range(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// XML's `Char` production.
fn in_xml_range(c: char) -> bool {
    matches!(c as u32, 0x09 | 0x0A | 0x0D | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Packer's `uuid.TimeOrderedUUID`: the Unix time in seconds (8 hex digits), then 12 random
/// bytes, grouped `8-4-4-4-12`.
pub fn time_ordered_uuid() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as u32;
    let mut b = [0u8; 12];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: still unique enough within one run.
        let n = u64::from(std::process::id()) << 32 | u64::from(getrandom::u32().unwrap_or(0));
        b[..8].copy_from_slice(&n.to_le_bytes());
    }
    let h = |r: &[u8]| r.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{secs:08x}-{}-{}-{}-{}{}",
        h(&b[0..2]),
        h(&b[2..4]),
        h(&b[4..6]),
        h(&b[6..8]),
        h(&b[8..12])
    )
}

/// Fills `{{.Name}}` markers in a fixed template in one pass (a value containing a marker is
/// not expanded again); unknown markers stay as they are.
pub fn fill(template: &str, values: &BTreeMap<&str, &str>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{.") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        match after.find("}}") {
            Some(j) if values.contains_key(&after[..j]) => {
                out.push_str(values[&after[..j]]);
                rest = &after[j + 2..];
            }
            _ => {
                out.push_str("{{.");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs `command` with its output on `ui` (stdout lines as messages, stderr lines as errors,
/// cleaned as Packer cleans them); the exit status, or the error when it could not run.
pub async fn exec_ui(
    ctx: &BuildCtx,
    comm: &dyn Communicator,
    ui: &Ui,
    command: &str,
) -> Result<i32> {
    exec_capture(ctx, comm, ui, command)
        .await
        .map(|(code, _)| code)
}

/// Like [`exec_ui`], also returning what the command wrote on stdout (lines joined by `\n`).
pub async fn exec_capture(
    ctx: &BuildCtx,
    comm: &dyn Communicator,
    ui: &Ui,
    command: &str,
) -> Result<(i32, String)> {
    let mut stdout = String::new();
    let code = {
        let mut out = |s: Stream, l: &str| match s {
            Stream::Stdout => {
                stdout.push_str(l);
                stdout.push('\n');
                ui.message(clean_output_line(l));
            }
            Stream::Stderr => ui.error(clean_output_line(l)),
        };
        comm.exec(ctx, command, &mut out).await?
    };
    Ok((code, stdout))
}

/// Uploads generated `content` to the machine's `dst` (through a local temporary file).
pub async fn upload_text(
    ctx: &BuildCtx,
    comm: &dyn Communicator,
    dst: &str,
    content: &[u8],
) -> Result<()> {
    let f = temp_file(ctx, "forge-upload", content, false)?;
    comm.upload(ctx, dst, f.path()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(ps_escape(r#"a$b"c`d'e"#), r#"a`$b`"c``d`'e"#);
        assert_eq!(
            xml_escape_text("a<b>&\"'\t\n\r\u{1}"),
            "a&lt;b&gt;&amp;&#34;&#39;&#x9;&#xA;&#xD;\u{FFFD}"
        );
    }

    #[test]
    fn encoded_commands() {
        // Packer 1.6.6's default restart check command, as its source computes it.
        assert_eq!(
            winrm_powershell(r#"echo ("{0} restarted." -f [System.Net.Dns]::GetHostName())"#),
            "powershell.exe -EncodedCommand ZQBjAGgAbwAgACgAIgB7ADAAfQAgAHIAZQBzAHQAYQByAHQAZQBkAC4AIgAgAC0AZgAgAFsAUwB5AHMAdABlAG0ALgBOAGUAdAAuAEQAbgBzAF0AOgA6AEcAZQB0AEgAbwBzAHQATgBhAG0AZQAoACkAKQA="
        );
        // Go's byte-wise widening differs from UTF-16 beyond ASCII.
        assert_eq!(
            winrm_powershell("é"),
            format!(
                "powershell.exe -EncodedCommand {}",
                base64::engine::general_purpose::STANDARD.encode([0xc3, 0x83, 0, 0xc2, 0xa9, 0])
            )
        );
        assert_eq!(utf16le_base64("a"), "YQA=");
        assert_eq!(utf16le_base64("é"), "6QA=");
    }

    #[test]
    fn uuids_and_templates() {
        let u = time_ordered_uuid();
        let parts: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{u}");
        assert_ne!(u, time_ordered_uuid());
        let v = BTreeMap::from([("A", "{{.B}}"), ("B", "b")]);
        assert_eq!(fill("x{{.A}}y{{.B}}{{.C}}{{.", &v), "x{{.B}}yb{{.C}}{{.");
    }
}
