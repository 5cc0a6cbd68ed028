//! Go's `strconv` quoting: `Quote` (and `%q` of a string), `QuoteRune` (`%q` of a rune),
//! `unicode.IsPrint`, and reading the escapes of a Go string literal.

/// Go's `unicode.IsPrint` (an approximation by ranges): graphic characters and the ASCII space.
pub fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    // Format characters (Cf), surrogates and private use are not printable.
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
        | 0xE0001 | 0xE0020..=0xE007F)
}

/// Appends `c` as Go writes it inside a literal delimited by `delim` (`"` or `'`).
pub fn push_escaped(out: &mut String, c: char, delim: char) {
    match c {
        c if c == delim || c == '\\' => {
            out.push('\\');
            out.push(c);
        }
        c if is_print(c) => out.push(c),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if c < ' ' || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `strconv.Quote`, which is also `%q` of a string: `"a\tb\"c"`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`, which is also `%q` of a rune: `'\n'`, `'\''`, `'é'`.
pub fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Go's `%#U` of a rune: `U+0078 'x'`, without the quoted form when it is not printable.
pub fn unicode(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// What one escape of a Go string literal stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// A character (`\n`, `\u00e9`, `\"`).
    Char(char),
    /// A raw byte (`\xff`, `\377`); below 0x80 it is also the ASCII character.
    Byte(u8),
}

/// Reads the escape after a `\` in a double-quoted Go literal: `next` yields the characters
/// that follow. `None` is Go's "invalid syntax".
pub fn unescape(mut next: impl FnMut() -> Option<char>) -> Option<Escape> {
    let e = next()?;
    let c = match e {
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        '\\' | '"' => e,
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let mut v = 0u32;
            for _ in 0..n {
                v = v * 16 + next()?.to_digit(16)?;
            }
            if e == 'x' {
                return Some(Escape::Byte(v as u8));
            }
            char::from_u32(v)?
        }
        '0'..='7' => {
            let mut v = e.to_digit(8)?;
            for _ in 0..2 {
                v = v * 8 + next()?.to_digit(8)?;
            }
            return u8::try_from(v).ok().map(Escape::Byte);
        }
        _ => return None,
    };
    Some(Escape::Char(c))
}

/// Go's `strconv.Unquote` of a double-quoted literal whose escaped bytes are ASCII (the others
/// cannot stay valid UTF-8 here); `None` on a syntax error.
pub fn unquote(q: &str) -> Option<String> {
    let inner = q.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\n') {
        return None;
    }
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        match c {
            '"' => return None,
            '\\' => match unescape(|| it.next())? {
                Escape::Char(c) => out.push(c),
                Escape::Byte(b) if b.is_ascii() => out.push(char::from(b)),
                Escape::Byte(_) => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go() {
        // strconv.Quote outputs.
        for (s, q) in [
            ("", r#""""#),
            ("a\tb\"c\\", r#""a\tb\"c\\""#),
            ("it's", r#""it's""#),
            ("\x07\x08\x0c\n\r\x0b", r#""\a\b\f\n\r\v""#),
            ("\x00\x1f\x7f", r#""\x00\x1f\x7f""#),
            ("héllo, 世界", r#""héllo, 世界""#),
            ("\u{ad}\u{200b}\u{feff}", r#""\u00ad\u200b\ufeff""#),
            ("\u{85}\u{2028}", r#""\u0085\u2028""#),
            ("\u{f0000}", r#""\U000f0000""#),
        ] {
            assert_eq!(quote(s), q, "{s:?}");
        }
        // strconv.QuoteRune outputs.
        for (c, q) in [
            ('a', "'a'"),
            ('\'', r"'\''"),
            ('"', "'\"'"),
            ('\\', r"'\\'"),
            ('\n', r"'\n'"),
            ('\x00', r"'\x00'"),
            ('\u{200e}', r"'\u200e'"),
            ('☺', "'☺'"),
        ] {
            assert_eq!(quote_rune(c), q, "{c:?}");
        }
    }

    #[test]
    fn unquotes_as_go() {
        assert_eq!(
            unquote(r#""a\tb\u00e9\x41\101\"""#).as_deref(),
            Some("a\tbéAA\"")
        );
        for bad in [
            r#""\q""#,
            r#""\xff""#,
            r#""a"b""#,
            "\"a\nb\"",
            r#""\u12""#,
            "x",
        ] {
            assert_eq!(unquote(bad), None, "{bad}");
        }
        let mut it = "400".chars();
        assert_eq!(unescape(|| it.next()), None);
        assert_eq!(unicode('`'), "U+0060 '`'");
        assert_eq!(unicode('\x01'), "U+0001");
    }
}
