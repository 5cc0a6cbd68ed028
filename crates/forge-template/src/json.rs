//! A small JSON parser that keeps byte spans for every value and object key.
//!
//! serde_json does not report where a value came from, but legacy Packer templates need
//! `file:line:col` in their diagnostics, so this parser builds its own tree. Error messages follow
//! Go's `encoding/json` (which Packer uses), e.g. `invalid character '}' looking for beginning of
//! object key string`.

use std::ops::Range;

/// Deepest nesting accepted; deeper input is an error rather than a stack overflow.
const MAX_DEPTH: usize = 512;

/// A JSON value with the byte range it occupies in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonValue {
    /// What the value is.
    pub kind: JsonKind,
    /// Its byte range in the source.
    pub span: Range<usize>,
}

/// The kinds of JSON value. Numbers keep their literal text.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// The raw literal text, e.g. `1.50e3`.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array, in source order.
    Array(Vec<JsonValue>),
    /// Members in source order; duplicate keys are preserved.
    Object(Vec<JsonMember>),
}

/// One `"key": value` member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonMember {
    /// The key, unescaped.
    pub key: String,
    /// The key's byte range.
    pub key_span: Range<usize>,
    /// The member's value.
    pub value: JsonValue,
}

/// A syntax error: a Go-style message and the byte offset of the offending character (or the
/// end of input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Go's message (encoding/json's wording).
    pub message: String,
    /// The byte offset it refers to.
    pub offset: usize,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

impl JsonValue {
    /// Converts to a `serde_json::Value`. Numbers keep their literal text (the workspace enables
    /// `arbitrary_precision`). Duplicate keys: the last one wins, as in Go.
    pub fn to_serde(&self) -> serde_json::Value {
        match &self.kind {
            JsonKind::Null => serde_json::Value::Null,
            JsonKind::Bool(b) => serde_json::Value::Bool(*b),
            JsonKind::Number(n) => match n.parse::<serde_json::Number>() {
                Ok(num) => serde_json::Value::Number(num),
                // Unreachable for literals accepted by the parser; keep the text rather than panic.
                Err(_) => serde_json::Value::String(n.clone()),
            },
            JsonKind::String(s) => serde_json::Value::String(s.clone()),
            JsonKind::Array(items) => {
                serde_json::Value::Array(items.iter().map(JsonValue::to_serde).collect())
            }
            JsonKind::Object(members) => {
                let mut map = serde_json::Map::new();
                for m in members {
                    map.insert(m.key.clone(), m.value.to_serde());
                }
                serde_json::Value::Object(map)
            }
        }
    }

    /// The object's members, if this is an object.
    pub fn as_object(&self) -> Option<&[JsonMember]> {
        match &self.kind {
            JsonKind::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The array's items, if this is an array.
    pub fn as_array(&self) -> Option<&[JsonValue]> {
        match &self.kind {
            JsonKind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The first member named `key`, if this is an object that has one.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        self.as_object()?
            .iter()
            .find(|m| m.key == key)
            .map(|m| &m.value)
    }

    /// A Go-like type name, for messages: `string`, `float64`, `bool`, `[]interface {}`,
    /// `map[string]interface {}`, `<nil>`.
    pub fn go_type_name(&self) -> &'static str {
        match &self.kind {
            JsonKind::Null => "<nil>",
            JsonKind::Bool(_) => "bool",
            JsonKind::Number(_) => "float64",
            JsonKind::String(_) => "string",
            JsonKind::Array(_) => "[]interface {}",
            JsonKind::Object(_) => "map[string]interface {}",
        }
    }
}

/// 1-based line and column (column counted in characters) of a byte offset. Offsets past the
/// end, or inside a multi-byte character, are clamped to a valid position.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse_json(src: &str) -> Result<JsonValue, JsonError> {
    let mut p = Parser {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.invalid("after top-level value"));
    }
    Ok(value)
}

struct Parser<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    depth: usize,
}

/// Go's `quoteChar`: how `encoding/json` shows an offending character.
fn quote_char(c: char) -> String {
    match c {
        '\'' => r"'\''".to_string(),
        '"' => "'\"'".to_string(),
        _ => {
            let mut q = String::from("'");
            crate::gocompat::quote::push_escaped(&mut q, c, '"');
            q.push('\'');
            q
        }
    }
}

impl<'s> Parser<'s> {
    fn err(&self, message: impl Into<String>, offset: usize) -> JsonError {
        JsonError {
            message: message.into(),
            offset,
        }
    }

    fn current_char(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    /// "invalid character 'x' <context>" at the current position, or "unexpected end of JSON
    /// input" at the end.
    fn invalid(&self, context: &str) -> JsonError {
        match self.current_char() {
            Some(c) => self.err(
                format!("invalid character {} {context}", quote_char(c)),
                self.pos,
            ),
            None => self.eof(),
        }
    }

    fn eof(&self) -> JsonError {
        self.err("unexpected end of JSON input", self.bytes.len())
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        match self.bytes.get(self.pos) {
            None => Err(self.eof()),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let s = self.string()?;
                Ok(JsonValue {
                    kind: JsonKind::String(s),
                    span: start..self.pos,
                })
            }
            Some(b't') => self.literal("true", JsonKind::Bool(true)),
            Some(b'f') => self.literal("false", JsonKind::Bool(false)),
            Some(b'n') => self.literal("null", JsonKind::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("exceeded max depth", self.pos));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        self.enter()?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(JsonValue {
                kind: JsonKind::Object(members),
                span: start..self.pos,
            });
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.invalid("looking for beginning of object key string"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key_span = key_start..self.pos;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.invalid("after object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            members.push(JsonMember {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.invalid("after object key:value pair")),
            }
        }
        self.depth -= 1;
        Ok(JsonValue {
            kind: JsonKind::Object(members),
            span: start..self.pos,
        })
    }

    fn array(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        self.enter()?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(JsonValue {
                kind: JsonKind::Array(items),
                span: start..self.pos,
            });
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.invalid("after array element")),
            }
        }
        self.depth -= 1;
        Ok(JsonValue {
            kind: JsonKind::Array(items),
            span: start..self.pos,
        })
    }

    fn literal(&mut self, word: &'static str, kind: JsonKind) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        for (i, expected) in word.bytes().enumerate() {
            match self.bytes.get(self.pos) {
                None => return Err(self.eof()),
                Some(&b) if b == expected => self.pos += 1,
                Some(_) => {
                    let c = self.current_char().unwrap_or('\u{fffd}');
                    return Err(self.err(
                        format!(
                            "invalid character {} in literal {word} (expecting {})",
                            quote_char(c),
                            quote_char(expected as char)
                        ),
                        self.pos,
                    ));
                }
            }
            let _ = i;
        }
        Ok(JsonValue {
            kind,
            span: start..self.pos,
        })
    }

    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        let digit = |p: &Self| p.bytes.get(p.pos).is_some_and(|b| b.is_ascii_digit());
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
            if !digit(self) {
                return Err(self.invalid("in numeric literal"));
            }
        }
        if self.bytes.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else {
            while digit(self) {
                self.pos += 1;
            }
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digit(self) {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
            while digit(self) {
                self.pos += 1;
            }
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digit(self) {
                return Err(self.invalid("in exponent of numeric literal"));
            }
            while digit(self) {
                self.pos += 1;
            }
        }
        Ok(JsonValue {
            kind: JsonKind::Number(self.src[start..self.pos].to_string()),
            span: start..self.pos,
        })
    }

    /// Parses a string starting at the opening quote; leaves `pos` after the closing quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.current_char() else {
                return Err(self.eof());
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    let Some(e) = self.current_char() else {
                        return Err(self.eof());
                    };
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\x08'),
                        'f' => out.push('\x0c'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                // A high surrogate: combine with a following low one if present.
                                let save = self.pos;
                                if self.bytes.get(self.pos) == Some(&b'\\')
                                    && self.bytes.get(self.pos + 1) == Some(&b'u')
                                {
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                        char::from_u32(cp).unwrap_or('\u{fffd}')
                                    } else {
                                        self.pos = save;
                                        '\u{fffd}'
                                    }
                                } else {
                                    '\u{fffd}'
                                }
                            } else {
                                char::from_u32(hi).unwrap_or('\u{fffd}')
                            };
                            out.push(ch);
                            continue;
                        }
                        other => {
                            return Err(self.err(
                                format!(
                                    "invalid character {} in string escape code",
                                    quote_char(other)
                                ),
                                self.pos,
                            ))
                        }
                    }
                    self.pos += e.len_utf8();
                }
                c if (c as u32) < 0x20 => {
                    return Err(self.err(
                        format!("invalid character {} in string literal", quote_char(c)),
                        self.pos,
                    ))
                }
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(c) = self.current_char() else {
                return Err(self.eof());
            };
            let Some(d) = c.to_digit(16) else {
                return Err(self.err(
                    format!(
                        "invalid character {} in \\u hexadecimal character escape",
                        quote_char(c)
                    ),
                    self.pos,
                ));
            };
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> JsonError {
        parse_json(src).unwrap_err()
    }

    #[test]
    fn parses_values_with_spans() {
        let src = r#" {"a": [1, -2.5e3, true, null], "b": "x\ny", "a": {}} "#;
        let v = parse_json(src).unwrap();
        assert_eq!(v.span, 1..src.len() - 1);
        let members = v.as_object().unwrap();
        assert_eq!(members.len(), 3);
        assert_eq!(members[0].key, "a");
        assert_eq!(&src[members[0].key_span.clone()], "\"a\"");
        let arr = members[0].value.as_array().unwrap();
        assert_eq!(arr[1].kind, JsonKind::Number("-2.5e3".into()));
        assert_eq!(&src[arr[1].span.clone()], "-2.5e3");
        assert_eq!(members[1].value.as_str(), Some("x\ny"));
        assert_eq!(members[2].key, "a");
    }

    #[test]
    fn unicode_escapes() {
        let v = parse_json(r#""\u00e9\ud83d\ude00\/""#).unwrap();
        assert_eq!(v.as_str(), Some("é😀/"));
        let v = parse_json(r#""\ud83d""#).unwrap();
        assert_eq!(v.as_str(), Some("\u{fffd}"));
    }

    #[test]
    fn go_error_messages() {
        let e = err(r#"{"a":1,}"#);
        assert_eq!(
            e.message,
            "invalid character '}' looking for beginning of object key string"
        );
        assert_eq!(e.offset, 7);
        assert_eq!(line_col(r#"{"a":1,}"#, e.offset), (1, 8));
        assert_eq!(err("").message, "unexpected end of JSON input");
        assert_eq!(err("{").message, "unexpected end of JSON input");
        assert_eq!(
            err("{\"a\" 1}").message,
            "invalid character '1' after object key"
        );
        assert_eq!(
            err("{\"a\":1 \"b\"}").message,
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(
            err("[1 2]").message,
            "invalid character '2' after array element"
        );
        assert_eq!(
            err("{} x").message,
            "invalid character 'x' after top-level value"
        );
        assert_eq!(
            err("tru ").message,
            "invalid character ' ' in literal true (expecting 'e')"
        );
        assert_eq!(
            err("\"a\nb\"").message,
            "invalid character '\\n' in string literal"
        );
        assert_eq!(
            err(r#""\q""#).message,
            "invalid character 'q' in string escape code"
        );
        assert_eq!(err("-").message, "unexpected end of JSON input");
        assert_eq!(
            err("-a").message,
            "invalid character 'a' in numeric literal"
        );
        assert_eq!(
            err("1.").message,
            "unexpected end of JSON input",
            "end of input after a decimal point"
        );
        assert_eq!(
            err("1.x").message,
            "invalid character 'x' after decimal point in numeric literal"
        );
        assert_eq!(
            err("'a'").message,
            "invalid character '\\'' looking for beginning of value"
        );
        assert_eq!(
            err("01").message,
            "invalid character '1' after top-level value"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = "[".repeat(100_000);
        assert_eq!(err(&src).message, "exceeded max depth");
    }

    #[test]
    fn line_col_counts_characters() {
        let src = "ab\néé x";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        let x = src.find('x').unwrap();
        assert_eq!(line_col(src, x), (2, 4));
        assert_eq!(line_col(src, 4), (2, 1)); // inside 'é' → clamped back
        assert_eq!(line_col(src, 999), (2, 5));
    }

    #[test]
    fn to_serde_keeps_numbers_and_last_duplicate() {
        let v = parse_json(r#"{"n": 1.50, "k": 1, "k": 2}"#).unwrap();
        let s = v.to_serde();
        assert_eq!(s["n"].to_string(), "1.50");
        assert_eq!(s["k"], serde_json::json!(2));
    }
}
