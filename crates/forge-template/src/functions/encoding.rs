//! Encoding functions: base64, gzip, CSV, JSON, text encodings, URL and YAML.

use std::collections::BTreeMap;
use std::io::Write;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::{arg_err, arg_str, call_err, p, FuncCtx, FuncResult, Function};
use crate::value::{Kind, Number, Type, Value};

/// Go's `base64.StdEncoding`: padding required, trailing bits not checked.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub(super) fn register(v: &mut Vec<Function>) {
    let s = |n| p(n, Type::String);
    v.push(Function::new(
        "base64encode",
        vec![s("str")],
        Type::String,
        base64encode,
    ));
    v.push(Function::new(
        "base64decode",
        vec![s("str")],
        Type::String,
        base64decode,
    ));
    v.push(Function::new(
        "base64gzip",
        vec![s("str")],
        Type::String,
        base64gzip,
    ));
    v.push(Function::new(
        "csvdecode",
        vec![s("str")],
        Type::Dynamic,
        csvdecode,
    ));
    v.push(Function::new(
        "jsondecode",
        vec![s("str")],
        Type::Dynamic,
        jsondecode,
    ));
    v.push(Function::new(
        "jsonencode",
        vec![p("val", Type::Dynamic).nullable()],
        Type::String,
        jsonencode,
    ));
    v.push(Function::new(
        "textencodebase64",
        vec![s("string"), s("encoding")],
        Type::String,
        textencodebase64,
    ));
    v.push(Function::new(
        "textdecodebase64",
        vec![s("source"), s("encoding")],
        Type::String,
        textdecodebase64,
    ));
    v.push(Function::new(
        "urlencode",
        vec![s("str")],
        Type::String,
        urlencode,
    ));
    v.push(Function::new(
        "yamldecode",
        vec![s("src")],
        Type::Dynamic,
        yamldecode,
    ));
    v.push(Function::new(
        "yamlencode",
        vec![p("value", Type::Dynamic).nullable()],
        Type::String,
        yamlencode,
    ));
}

/// Standard base64 as Go writes it.
pub(crate) fn b64(data: &[u8]) -> String {
    GO_STD.encode(data)
}

/// Decodes standard base64 as Go's `StdEncoding.DecodeString` does (line breaks are skipped).
pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, usize> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    GO_STD.decode(cleaned.as_bytes()).map_err(|e| match e {
        base64::DecodeError::InvalidByte(o, _) => o,
        base64::DecodeError::InvalidLastSymbol(o, _) => o,
        _ => cleaned.len(),
    })
}

fn base64encode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(b64(arg_str(a, 0).as_bytes())))
}

fn base64decode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    let bytes =
        b64_decode(s).map_err(|_| call_err(format!("failed to decode base64 data '{s}'")))?;
    String::from_utf8(bytes)
        .map(Value::string)
        .map_err(|_| call_err("the result of decoding the the provided string is not valid UTF-8"))
}

fn base64gzip(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut enc = flate2::GzBuilder::new()
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(arg_str(a, 0).as_bytes())
        .map_err(|e| call_err(format!("failed to write gzip raw data: {e}")))?;
    let out = enc
        .finish()
        .map_err(|e| call_err(format!("failed to close gzip writer: {e}")))?;
    Ok(Value::string(b64(&out)))
}

/// Go's `url.QueryEscape`.
fn urlencode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut out = String::new();
    for b in arg_str(a, 0).bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::string(out))
}

/// Writes a string as Go's `encoding/json` does (HTML-safe).
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// cty's JSON form of a value.
pub(crate) fn json_encode(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    json_write(v, &mut out)?;
    Ok(out)
}

fn json_write(v: &Value, out: &mut String) -> Result<(), String> {
    match &v.kind {
        Kind::Null(_) => out.push_str("null"),
        Kind::Unknown(_) => return Err("value is not known".into()),
        Kind::String(s) => json_string(s, out),
        Kind::Number(n) => {
            if n.is_infinite() {
                return Err("cannot serialize infinity as JSON".into());
            }
            out.push_str(&n.to_json_string())
        }
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_write(x, out)?;
            }
            out.push(']');
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                json_write(x, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn jsonencode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    json_encode(&a[0]).map(Value::string).map_err(call_err)
}

/// A JSON document as a value (`jsondecode`'s typing: arrays are tuples, objects objects).
pub fn from_json(v: serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::dynamic_null(),
        serde_json::Value::Bool(b) => Value::bool(b),
        serde_json::Value::Number(n) => Value::number(
            Number::parse(&n.to_string()).ok_or_else(|| format!("invalid number {n}"))?,
        ),
        serde_json::Value::String(s) => Value::string(s),
        serde_json::Value::Array(items) => Value::tuple(
            items
                .into_iter()
                .map(from_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        serde_json::Value::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, x) in m {
                out.insert(k, from_json(x)?);
            }
            Value::object(out)
        }
    })
}

fn go_json_error(src: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    if e.classify() == Category::Eof {
        return "EOF".into();
    }
    // Find the offending character from the line and column.
    let line = e.line().saturating_sub(1);
    let col = e.column().saturating_sub(1);
    let c = src
        .split('\n')
        .nth(line)
        .and_then(|l| l.chars().nth(col))
        .unwrap_or(' ');
    let trimmed = src.trim_start();
    if trimmed.starts_with(c) && !matches!(c, '{' | '[' | '"') {
        return format!("invalid character '{c}' looking for beginning of value");
    }
    e.to_string()
        .split(" at line")
        .next()
        .unwrap_or("invalid JSON")
        .to_string()
}

fn jsondecode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    if s.trim().is_empty() {
        return Err(call_err("EOF"));
    }
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| call_err(go_json_error(s, &e)))?;
    from_json(v).map_err(call_err)
}

/// Why a CSV document is malformed, as Go's `encoding/csv` words it.
fn csv_parse(s: &str) -> Result<Vec<Vec<String>>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut i = 0usize;
    let mut line = 1usize;
    let mut nfields: Option<usize> = None;
    while i < chars.len() {
        // Skip empty lines.
        if chars[i] == '\n' {
            i += 1;
            line += 1;
            continue;
        }
        if chars[i] == '\r' && chars.get(i + 1) == Some(&'\n') {
            i += 2;
            line += 1;
            continue;
        }
        let rec_line = line;
        let mut rec = Vec::new();
        loop {
            let mut field = String::new();
            let field_start_col = 1;
            let _ = field_start_col;
            if chars.get(i) == Some(&'"') {
                let mut col = 1usize;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            let line_start = chars[..i]
                                .iter()
                                .rposition(|c| *c == '\n')
                                .map_or(0, |p| p + 1);
                            let col: usize =
                                chars[line_start..i].iter().map(|c| c.len_utf8()).sum();
                            return Err(format!(
                                "parse error on line {line}, column {}: extraneous or missing \" in quoted-field",
                                col + 1
                            ));
                        }
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            field.push('"');
                            i += 2;
                            col += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\r') if chars.get(i + 1) == Some(&'\n') => {
                            field.push('\n');
                            i += 2;
                            line += 1;
                            col = 0;
                        }
                        Some(&c) => {
                            if c == '\n' {
                                line += 1;
                                col = 0;
                            } else {
                                col += 1;
                            }
                            field.push(c);
                            i += 1;
                        }
                    }
                }
                match chars.get(i) {
                    None | Some(',') | Some('\n') => {}
                    Some('\r') if matches!(chars.get(i + 1), None | Some('\n')) => {}
                    _ => {
                        return Err(format!(
                            "parse error on line {line}, column {}: extraneous or missing \" in quoted-field",
                            col + 2
                        ))
                    }
                }
            } else {
                let mut col = 0usize;
                while let Some(&c) = chars.get(i) {
                    if c == ',' || c == '\n' {
                        break;
                    }
                    if c == '\r' && matches!(chars.get(i + 1), None | Some('\n')) {
                        break;
                    }
                    col += 1;
                    if c == '"' {
                        return Err(format!(
                            "parse error on line {line}, column {col}: bare \" in non-quoted-field"
                        ));
                    }
                    field.push(c);
                    i += 1;
                }
            }
            rec.push(field);
            match chars.get(i) {
                Some(',') => {
                    i += 1;
                    continue;
                }
                Some('\r') => {
                    i += 1;
                    if chars.get(i) == Some(&'\n') {
                        i += 1;
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    i += 1;
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        match nfields {
            None => nfields = Some(rec.len()),
            Some(n) if n != rec.len() => {
                return Err(format!("record on line {rec_line}: wrong number of fields"))
            }
            _ => {}
        }
        records.push(rec);
    }
    Ok(records)
}

fn csvdecode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let recs = csv_parse(arg_str(a, 0)).map_err(call_err)?;
    let mut it = recs.into_iter();
    let Some(headers) = it.next() else {
        return Err(call_err("missing header line"));
    };
    for (i, h) in headers.iter().enumerate() {
        if headers[..i].contains(h) {
            return Err(call_err(format!("duplicate column name {h:?}")));
        }
    }
    let ot = Type::Object(headers.iter().map(|h| (h.clone(), Type::String)).collect());
    let rows: Vec<Value> = it
        .map(|r| {
            Value::object(
                headers
                    .iter()
                    .cloned()
                    .zip(r.into_iter().map(Value::string))
                    .collect(),
            )
        })
        .collect();
    Ok(Value::list(ot, rows))
}

fn encoding_for(name: &str) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(name.trim().as_bytes())
}

fn utf16_encode(s: &str, be: bool) -> Vec<u8> {
    s.encode_utf16()
        .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() })
        .collect()
}

fn textencodebase64(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (s, name) = (arg_str(a, 0), arg_str(a, 1));
    let enc = encoding_for(name).ok_or_else(|| {
        arg_err(
            1,
            format!("{name:?} is not a supported IANA encoding name or alias"),
        )
    })?;
    let bytes = if enc == encoding_rs::UTF_16LE {
        utf16_encode(s, false)
    } else if enc == encoding_rs::UTF_16BE {
        utf16_encode(s, true)
    } else {
        let (out, _, had_errors) = enc.encode(s);
        if had_errors {
            return Err(arg_err(
                0,
                format!(
                    "the given string contains characters that cannot be represented in {}",
                    enc.name()
                ),
            ));
        }
        out.into_owned()
    };
    Ok(Value::string(b64(&bytes)))
}

fn textdecodebase64(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (s, name) = (arg_str(a, 0), arg_str(a, 1));
    let enc = encoding_for(name).ok_or_else(|| {
        arg_err(
            1,
            format!("{name:?} is not a supported IANA encoding name or alias"),
        )
    })?;
    let raw = b64_decode(s).map_err(|o| {
        arg_err(
            0,
            format!("the given value is has an invalid base64 symbol at offset {o}"),
        )
    })?;
    let bad = || {
        arg_err(
            0,
            format!(
                "the given string contains symbols that are not defined for {}",
                enc.name()
            ),
        )
    };
    let out = enc
        .decode_without_bom_handling_and_without_replacement(&raw)
        .ok_or_else(bad)?;
    if out.contains('\u{FFFD}') {
        return Err(bad());
    }
    Ok(Value::string(out.into_owned()))
}

fn yamldecode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    super::yaml::decode(arg_str(a, 0)).map_err(call_err)
}

fn yamlencode(_: &FuncCtx, a: &[Value]) -> FuncResult {
    super::yaml::encode(&a[0])
        .map(Value::string)
        .map_err(call_err)
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn base64() {
        assert_eq!(call_ok(r#"base64encode("hello")"#), "aGVsbG8=");
        assert_eq!(call_ok(r#"base64decode("aGVsbG8=")"#), "hello");
        assert_eq!(
            call_err_detail(r#"base64decode("aGVsbG8")"#),
            "Call to function \"base64decode\" failed: failed to decode base64 data 'aGVsbG8'."
        );
        assert_eq!(
            call_err_detail(r#"base64decode("/w==")"#),
            "Call to function \"base64decode\" failed: the result of decoding the the provided string is not valid UTF-8."
        );
        assert_eq!(
            call_ok(r#"textencodebase64("Hello", "UTF-16LE")"#),
            "SABlAGwAbABvAA=="
        );
        assert_eq!(
            call_ok(r#"textdecodebase64("SABlAGwAbABvAA==", "UTF-16LE")"#),
            "Hello"
        );
        assert!(call_ok(r#"base64gzip("hi")"#).starts_with("H4sI"));
    }

    #[test]
    fn json_csv_url() {
        assert_eq!(
            call_ok(r#"jsonencode({a=[1, "<x>"], b=null})"#),
            r#"{"a":[1,"\u003cx\u003e"],"b":null}"#
        );
        assert_eq!(
            call_ok(r#"jsondecode("{\"a\": [1, true]}")"#),
            "{\n  \"a\" = [\n    1,\n    true,\n  ]\n}"
        );
        assert_eq!(
            call_err_detail(r#"jsondecode("x")"#),
            "Call to function \"jsondecode\" failed: invalid character 'x' looking for beginning of value."
        );
        assert_eq!(
            call_ok(r#"csvdecode("a,b\n1,2\n")"#),
            "[\n  {\n    \"a\" = \"1\"\n    \"b\" = \"2\"\n  },\n]"
        );
        assert_eq!(
            call_err_detail(r#"csvdecode("a,b\n1,2\n3")"#),
            "Call to function \"csvdecode\" failed: record on line 3: wrong number of fields."
        );
        assert_eq!(call_ok(r#"urlencode("a b&c/d")"#), "a+b%26c%2Fd");
    }
}
