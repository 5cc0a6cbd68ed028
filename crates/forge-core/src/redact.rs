//! Secrets never reach a sink: every line bound for the UI, machine-readable output, the event
//! stream, logs, manifests or error messages passes through a [`Redactor`], which replaces each
//! secret, in each of the encodings it is likely to travel in, with `<sensitive>`.

use std::sync::{Arc, RwLock};

use base64::Engine as _;

/// What a secret is replaced with (Packer's text).
pub const MASK: &str = "<sensitive>";

/// The set of secret strings, with their encoded forms, and the replacement.
#[derive(Default)]
pub struct Redactor {
    needles: RwLock<Vec<String>>,
}

impl Redactor {
    /// A redactor with no secrets yet.
    pub fn new() -> Arc<Redactor> {
        Arc::new(Redactor::default())
    }

    /// Adds a secret in every encoding: plain, shell-escaped, JSON-escaped, base64 and
    /// URL-encoded. Empty strings are ignored (they would mask everything).
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut forms = encodings(secret);
        forms.retain(|f| !f.is_empty());
        let mut n = self.needles.write().unwrap_or_else(|e| e.into_inner());
        for f in forms {
            if !n.contains(&f) {
                n.push(f);
            }
        }
        // Longest first, so that a form containing another is replaced whole.
        n.sort_by_key(|b| std::cmp::Reverse(b.len()));
    }

    /// Whether any secret is registered.
    pub fn is_empty(&self) -> bool {
        self.needles.read().map(|n| n.is_empty()).unwrap_or(true)
    }

    /// `text` with every secret form replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let n = self.needles.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for needle in n.iter() {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }
}

/// The forms a secret may take on its way to an output.
pub fn encodings(s: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let b64nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
    let json = serde_json::to_string(s).unwrap_or_default();
    let json_inner = json[1..json.len().saturating_sub(1)].to_string();
    vec![
        s.to_string(),
        // Inside single quotes, as shell provisioners write env vars.
        s.replace('\'', "'\"'\"'"),
        s.replace('\'', "'\\''"),
        // Backslash-escaped, as inside double quotes.
        shell_backslash(s),
        json_inner.clone(),
        // JSON inside JSON (a document embedded in a string).
        serde_json::to_string(&json_inner)
            .map(|j| j[1..j.len() - 1].to_string())
            .unwrap_or_default(),
        b64.encode(s),
        b64nopad.encode(s),
        b64url.encode(s),
        percent(s, false, true),
        percent(s, false, false),
        percent(s, true, true),
    ]
}

fn shell_backslash(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if matches!(
            c,
            '"' | '\\' | '$' | '`' | ' ' | '\'' | '!' | '&' | ';' | '|'
        ) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn percent(s: &str, plus_for_space: bool, upper: bool) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' if plus_for_space => o.push('+'),
            _ if upper => o.push_str(&format!("%{b:02X}")),
            _ => o.push_str(&format!("%{b:02x}")),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_is_masked() {
        let r = Redactor::default();
        let secret = "p@ss w'rd\"$x/+=";
        r.add(secret);
        for form in encodings(secret) {
            let line = format!("before {form} after");
            let out = r.redact(&line);
            assert!(!out.contains(&form), "{form:?} survived in {out:?}");
            assert!(out.contains(MASK));
        }
    }

    #[test]
    fn empty_secret_is_ignored() {
        let r = Redactor::default();
        r.add("");
        assert_eq!(r.redact("abc"), "abc");
    }
}
