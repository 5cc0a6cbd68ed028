//! Secrets never reach a sink: every line bound for the UI, machine-readable output, the event
//! stream, logs, manifests or error messages passes through a [`Redactor`], which replaces each
//! secret, in each of the encodings it is likely to travel in, with `<sensitive>`.
//!
//! A secret is matched by one pattern that lets each of its characters appear in any of the
//! escapes output meets: percent-encoding (any safe set, either hex case, `+` for space), JSON
//! and JSON-in-JSON escapes (Go's `\u003c` included), shell backslash and single-quote escapes,
//! and XML/HTML entities (named and numeric, as WinRM's SOAP bodies carry). Whole-string
//! encodings (base64 in its variants, hex in either case) are matched as such. Secrets longer
//! than [`PER_CHAR_LIMIT`] bytes (keys, certificates) are matched in their whole-string forms
//! only, to keep the pattern small.

use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use regex::{NoExpand, Regex, RegexBuilder};

/// What a secret is replaced with (Packer's text).
pub const MASK: &str = "<sensitive>";

/// Longest secret, in bytes, matched character by character through every escape.
pub const PER_CHAR_LIMIT: usize = 1024;

/// The set of secret strings and the pattern that finds them in any encoding.
#[derive(Default)]
pub struct Redactor {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Registered secrets, longest first.
    secrets: Vec<String>,
    /// One alternation over every secret's forms; `None` while there are no secrets.
    pattern: Option<Regex>,
}

impl Redactor {
    /// A redactor with no secrets yet.
    pub fn new() -> Arc<Redactor> {
        Arc::new(Redactor::default())
    }

    /// Adds a secret, to be masked in every encoding. Empty strings are ignored (they would
    /// mask everything).
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        if st.secrets.iter().any(|s| s == secret) {
            return;
        }
        st.secrets.push(secret.to_string());
        // Longest first, so that a secret containing another is replaced whole.
        st.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        st.pattern = compile(&st.secrets);
    }

    /// Whether any secret is registered.
    pub fn is_empty(&self) -> bool {
        self.state
            .read()
            .map(|s| s.secrets.is_empty())
            .unwrap_or(true)
    }

    /// `text` with every secret form replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        match &st.pattern {
            Some(re) => re.replace_all(text, NoExpand(MASK)).into_owned(),
            None => text.to_string(),
        }
    }
}

/// The pattern for all `secrets` (longest first). Falls back to whole-string forms alone if
/// the per-character pattern would exceed the regex engine's size limit.
fn compile(secrets: &[String]) -> Option<Regex> {
    let build = |per_char: bool| {
        let alts: Vec<String> = secrets
            .iter()
            .map(|s| secret_pattern(s, per_char))
            .collect();
        RegexBuilder::new(&alts.join("|"))
            .size_limit(64 << 20)
            .build()
            .ok()
    };
    build(true).or_else(|| build(false))
}

/// One secret's alternatives: its whole-string encodings first (they are longer), then the
/// per-character pattern, or the plain text when the secret is too long for one.
fn secret_pattern(s: &str, per_char: bool) -> String {
    let mut alts: Vec<String> = encodings(s)
        .iter()
        .chain(&embedded_base64(s))
        .map(|f| regex::escape(f))
        .collect();
    alts.push(format!("(?i:{})", hex(s)));
    alts.sort_by_key(|a| std::cmp::Reverse(a.len()));
    alts.dedup();
    if per_char && s.len() <= PER_CHAR_LIMIT {
        alts.push(s.chars().map(char_pattern).collect());
    } else {
        alts.push(regex::escape(s));
    }
    format!("(?:{})", alts.join("|"))
}

/// Whole-string encodings of a secret that no per-character escape produces: base64 in its
/// standard, unpadded and URL-safe alphabets.
pub fn encodings(s: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut v: Vec<String> = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .map(|e| e.encode(s))
        .collect();
    v.dedup();
    v
}

/// Shortest base64 core worth matching inside longer base64 text (shorter ones would mask
/// unrelated text).
const MIN_EMBEDDED_CORE: usize = 8;

/// The base64 (standard alphabet) characters that a secret fixes wherever it sits inside a
/// longer encoded text, at each of the three byte alignments: of its UTF-8 bytes, of its
/// UTF-16LE form (PowerShell's `-EncodedCommand`), and of the byte-wise widening Go's WinRM
/// client applies (each byte followed by a zero, bytes above 0x7f first written as UTF-8).
pub fn embedded_base64(s: &str) -> Vec<String> {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut widened = Vec::new();
    for b in s.bytes() {
        let mut buf = [0u8; 4];
        widened.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
        widened.push(0);
    }
    let mut out = Vec::new();
    for bytes in [s.as_bytes().to_vec(), utf16, widened] {
        for pad in 0..3usize {
            let mut buf = vec![0u8; pad];
            buf.extend_from_slice(&bytes);
            let enc = STANDARD_NO_PAD.encode(&buf);
            // Characters whose six bits all come from the secret.
            let first = (8 * pad).div_ceil(6);
            let end = (8 * buf.len()) / 6;
            if end > first && end - first >= MIN_EMBEDDED_CORE {
                out.push(enc[first..end].to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn hex(s: &str) -> String {
    s.bytes().fold(String::new(), |mut o, b| {
        let _ = write!(o, "{b:02x}");
        o
    })
}

/// The ways one character of a secret may be written in output, longest first.
fn char_pattern(c: char) -> String {
    let mut alts: Vec<String> = Vec::new();
    let code = c as u32;
    // Percent-encoding of its UTF-8 bytes, either hex case; `+` for a space (query escaping).
    let mut buf = [0u8; 4];
    let pct = c
        .encode_utf8(&mut buf)
        .bytes()
        .fold(String::new(), |mut o, b| {
            let _ = write!(o, "%{b:02x}");
            o
        });
    alts.push(format!("(?i:{pct})"));
    if c == ' ' {
        alts.push(r"\+".into());
    }
    // JSON escapes, once or twice applied (a document inside a string): `\u00XX`, `\"`, `\n`.
    let json_once: Option<&str> = match c {
        '"' => Some("\""),
        '\\' => Some("\\"),
        '/' => Some("/"),
        '\n' => Some("n"),
        '\r' => Some("r"),
        '\t' => Some("t"),
        '\u{8}' => Some("b"),
        '\u{c}' => Some("f"),
        _ => None,
    };
    if let Some(x) = json_once {
        let backslashes = if x.chars().all(|c| c.is_ascii_alphabetic()) {
            r"\\{1,2}"
        } else {
            r"(?:\\|\\\\\\)"
        };
        alts.push(format!("{backslashes}{}", regex::escape(x)));
    }
    if code <= 0xFFFF {
        alts.push(format!(r"\\{{1,2}}(?i:u{code:04x})"));
    } else {
        let v = code - 0x10000;
        let (hi, lo) = (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        alts.push(format!(r"\\{{1,2}}(?i:u{hi:04x})\\{{1,2}}(?i:u{lo:04x})"));
    }
    // XML and HTML character references: named, decimal and hexadecimal.
    let named = match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        _ => None,
    };
    if let Some(n) = named {
        alts.push(regex::escape(n));
    }
    alts.push(format!("&#0*{code};"));
    alts.push(format!("(?i:&#x0*{code:x};)"));
    // Shell: inside single quotes, and backslash-escaped.
    if c == '\'' {
        alts.push(regex::escape("'\"'\"'"));
        alts.push(regex::escape("'\\''"));
    }
    if !c.is_alphanumeric() {
        alts.push(format!(r"\\{}", regex::escape(&c.to_string())));
    }
    // PowerShell: a backtick before the characters special in its strings.
    if matches!(c, '$' | '"' | '\'' | '`') {
        alts.push(regex::escape(&format!("`{c}")));
    }
    alts.push(regex::escape(&c.to_string()));
    format!("(?:{})", alts.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "p@ss w'rd\"$x/+=&<é>";

    fn percent(s: &str, safe: &str, plus_for_space: bool, upper: bool) -> String {
        let mut o = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    o.push(b as char)
                }
                _ if b.is_ascii() && safe.contains(b as char) => o.push(b as char),
                b' ' if plus_for_space => o.push('+'),
                _ if upper => o.push_str(&format!("%{b:02X}")),
                _ => o.push_str(&format!("%{b:02x}")),
            }
        }
        o
    }

    /// Forms output really carries, each written independently of the pattern's grammar.
    fn corpus(s: &str) -> Vec<(&'static str, String)> {
        let json = serde_json::to_string(s).unwrap();
        let json_inner = json[1..json.len() - 1].to_string();
        let json2 = serde_json::to_string(&json_inner).unwrap();
        let go_json = json_inner
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let xml = s
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;");
        let html = s
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut v = vec![
            ("plain", s.to_string()),
            (
                "single-quoted (close, \"'\", reopen)",
                s.replace('\'', "'\"'\"'"),
            ),
            (
                "single-quoted (close, \\', reopen)",
                s.replace('\'', "'\\''"),
            ),
            ("JSON", json_inner),
            ("JSON in JSON", json2[1..json2.len() - 1].to_string()),
            ("Go JSON (\\u003c)", go_json),
            ("base64", b64.encode(s)),
            ("hex", hex(s)),
            ("HEX", hex(s).to_uppercase()),
            ("query, + for space", percent(s, "", true, true)),
            ("query, %20 for space", percent(s, "", false, true)),
            ("query, lower hex", percent(s, "", true, false)),
            (
                "path (keeps /), urllib.parse.quote",
                percent(s, "/", false, true),
            ),
            ("Go url.PathEscape", percent(s, "$&+=:@", false, true)),
            (
                "Go url.PathEscape, lower hex",
                percent(s, "$&+=:@", false, false),
            ),
            ("XML (Go's EscapeText)", xml),
            ("HTML (html.escape)", html),
        ];
        let mut sh = String::new();
        for c in s.chars() {
            if !c.is_alphanumeric() {
                sh.push('\\');
            }
            sh.push(c);
        }
        v.push(("backslash-escaped", sh));
        let ps: String = s
            .chars()
            .map(|c| match c {
                '$' | '"' | '\'' | '`' => format!("`{c}"),
                c => c.to_string(),
            })
            .collect();
        v.push(("PowerShell backtick-escaped", ps));
        v
    }

    #[test]
    fn secrets_inside_longer_base64_are_masked() {
        let r = Redactor::default();
        r.add(SECRET);
        let b64 = base64::engine::general_purpose::STANDARD;
        for prefix in ["", "a", "ab", "abc", "$password = \""] {
            let text = format!("{prefix}{SECRET}\" -and more");
            let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            for (what, enc) in [
                ("UTF-8", b64.encode(&text)),
                ("UTF-16LE", b64.encode(&utf16)),
            ] {
                let out = r.redact(&format!("powershell.exe -EncodedCommand {enc}"));
                assert!(out.contains(MASK), "{what} after {prefix:?}: {out}");
                // What is left around the mask does not decode to the secret.
                assert!(!out.contains(&enc), "{what} after {prefix:?}: {out}");
            }
        }
    }

    #[test]
    fn every_form_in_the_corpus_is_masked() {
        let r = Redactor::default();
        r.add(SECRET);
        for (what, form) in corpus(SECRET) {
            let line = format!("before {form} after");
            let out = r.redact(&line);
            assert_eq!(out, format!("before {MASK} after"), "{what}: {form:?}");
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        let r = Redactor::default();
        r.add("hunter2");
        assert_eq!(
            r.redact("hunter3 hunter hunter2!"),
            "hunter3 hunter <sensitive>!"
        );
        assert_eq!(
            r.redact("%68unter2"),
            MASK,
            "an escaped letter is still the secret"
        );
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let r = Redactor::default();
        r.add("abc");
        r.add("xxabcxx");
        assert_eq!(r.redact("[xxabcxx] [abc]"), "[<sensitive>] [<sensitive>]");
    }

    #[test]
    fn long_secrets_are_masked_in_their_whole_forms() {
        let key: String = (0..4000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let r = Redactor::default();
        r.add(&key);
        r.add("short one");
        assert_eq!(r.redact(&format!("<{key}>")), "<<sensitive>>");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&key);
        assert_eq!(r.redact(&b64), MASK);
        assert_eq!(r.redact("short%20one"), MASK);
    }

    #[test]
    fn empty_secret_is_ignored() {
        let r = Redactor::default();
        r.add("");
        assert!(r.is_empty());
        assert_eq!(r.redact("abc"), "abc");
    }
}
