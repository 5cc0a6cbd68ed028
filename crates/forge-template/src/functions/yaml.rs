//! YAML as go-cty-yaml reads and writes it: YAML 1.1 scalar resolution (`yes`, `on`, `y` are
//! booleans), mappings as objects, sequences as tuples; output in go-yaml v2's layout.

use std::collections::{BTreeMap, HashMap};

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use super::format::Decimal;
use crate::value::{Kind, Number, Value};

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

enum Frame {
    Seq(Vec<Value>, usize),
    Map(BTreeMap<String, Value>, Option<String>, usize),
}

/// Decodes the first document of `src`.
pub(crate) fn decode(src: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(src);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut root: Option<Value> = None;
    loop {
        let (ev, _mark) = parser
            .next_token()
            .map_err(|e| scan_message(&e.to_string()))?;
        let (value, anchor) = match ev {
            Event::StreamEnd => break,
            Event::DocumentEnd => {
                if root.is_some() {
                    break;
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart => continue,
            Event::Alias(id) => (
                anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| "unknown anchor referenced".to_string())?,
                0,
            ),
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| {
                    if t.handle == "!!" {
                        format!("{TAG_PREFIX}{}", t.suffix)
                    } else {
                        format!("{}{}", t.handle, t.suffix)
                    }
                });
                (resolve_scalar(tag.as_deref(), &text, style)?, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(BTreeMap::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => (Value::tuple(items), anchor),
                _ => return Err("unexpected end of sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(m, _, anchor)) => (Value::object(m), anchor),
                _ => return Err("unexpected end of mapping".into()),
            },
        };
        if anchor > 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(m, key, _)) => match key.take() {
                None => {
                    let k = match (&value.kind, value.as_str()) {
                        (_, Some(s)) => s.to_string(),
                        (Kind::Null(_), _) => "null".to_string(),
                        (Kind::Number(n), _) => n.to_string(),
                        (Kind::Bool(b), _) => b.to_string(),
                        _ => return Err("only string keys are supported".into()),
                    };
                    *key = Some(k);
                }
                Some(k) => {
                    if k == "<<" {
                        if let Some(entries) = value.as_entries() {
                            for (mk, mv) in entries {
                                m.entry(mk.clone()).or_insert_with(|| mv.clone());
                            }
                            continue;
                        }
                    }
                    m.insert(k, value);
                }
            },
        }
    }
    Ok(root.unwrap_or_else(Value::dynamic_null))
}

fn scan_message(s: &str) -> String {
    s.split(" at byte ")
        .next()
        .unwrap_or(s)
        .trim_end_matches('.')
        .to_string()
}

fn resolve_map(src: &str) -> Option<Value> {
    Some(match src {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Value::dynamic_null(),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            Value::number(Number::from_f64(f64::INFINITY)?)
        }
        "-.inf" | "-.Inf" | "-.INF" => Value::number(Number::from_f64(f64::NEG_INFINITY)?),
        _ => return None,
    })
}

fn is_int_literal(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

fn is_float_literal(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(e) = exp {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let (ip, fp) = match mant.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mant, None),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    match fp {
        None => !ip.is_empty() && digits(ip),
        Some(f) => digits(ip) && digits(f) && !(ip.is_empty() && f.is_empty()),
    }
}

fn parse_number(s: &str) -> Option<Value> {
    let plain = s.replace('_', "");
    Number::parse(&plain).map(Value::number)
}

/// Whether `s` looks like a YAML timestamp; returns it in RFC 3339 form.
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let Some(t) = time else {
        return Some(format!("{y:04}-{m:02}-{d:02}T00:00:00Z"));
    };
    let sep = s.as_bytes().get(date.len()).copied();
    let (clock, zone) = if sep == Some(b' ') {
        (t, "Z")
    } else {
        let i = t.find(['Z', '+', '-'])?;
        (&t[..i], &t[i..])
    };
    let mut hms = clock.split(':');
    let h: u32 = hms.next()?.parse().ok()?;
    let mi: u32 = hms.next()?.parse().ok()?;
    let sec_s = hms.next()?;
    let (sec, frac) = match sec_s.split_once('.') {
        Some((a, f)) => (a, f.trim_end_matches('0')),
        None => (sec_s, ""),
    };
    let sec: u32 = sec.parse().ok()?;
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}{frac}{zone}"
    ))
}

fn resolve_scalar(tag: Option<&str>, src: &str, style: TScalarStyle) -> Result<Value, String> {
    let tag = tag.unwrap_or("");
    let short = tag.strip_prefix(TAG_PREFIX);
    let resolvable = tag.is_empty()
        || matches!(
            short,
            Some("str" | "bool" | "int" | "float" | "null" | "timestamp" | "binary")
        );
    if !resolvable {
        return Err(format!("unsupported tag {tag:?}"));
    }
    let quoted = matches!(
        style,
        TScalarStyle::SingleQuoted
            | TScalarStyle::DoubleQuoted
            | TScalarStyle::Literal
            | TScalarStyle::Folded
    );
    if quoted && (tag.is_empty() || short == Some("str")) {
        return Ok(Value::string(src));
    }
    let hint = src.bytes().next();
    let mut kind = short.unwrap_or("");
    if kind != "str" && kind != "binary" {
        if let Some(v) = resolve_map(src) {
            return Ok(v);
        }
        if tag.is_empty() && matches!(src, ".nan" | ".NaN" | ".NAN") {
            return Err("floating point NaN is not supported".into());
        }
        match hint {
            Some(b'.') => {
                if let Some(n) = Number::parse(src).filter(|_| is_float_literal(src)) {
                    return Ok(Value::number(n));
                }
            }
            Some(b'0'..=b'9' | b'+' | b'-') => {
                if kind.is_empty() || kind == "timestamp" {
                    if let Some(t) = parse_timestamp(src) {
                        return Ok(Value::string(t));
                    }
                }
                if is_int_literal(src) {
                    kind = "int";
                } else if is_float_literal(src) {
                    kind = "float";
                }
            }
            _ => {}
        }
    }
    match kind {
        "" | "str" => Ok(Value::string(src)),
        "binary" => {
            super::encoding::b64_decode(src)
                .map_err(|_| format!("cannot parse {src:?} as {tag}: not valid base64"))?;
            Ok(Value::string(src))
        }
        "bool" => match resolve_map(src) {
            Some(v) if v.as_bool().is_some() => Ok(v),
            _ => Err(format!("cannot parse {src:?} as {tag}")),
        },
        "int" | "float" => parse_number(src).ok_or_else(|| {
            let t = if tag.is_empty() {
                format!("{TAG_PREFIX}{kind}")
            } else {
                tag.to_string()
            };
            format!("cannot parse {src:?} as {t}")
        }),
        "timestamp" => parse_timestamp(src)
            .map(Value::string)
            .ok_or_else(|| format!("cannot parse {src:?} as {tag}")),
        "null" => Ok(Value::dynamic_null()),
        _ => Err(format!("unsupported tag {tag:?}")),
    }
}

/// Encodes a value as go-cty-yaml does.
pub(crate) fn encode(v: &Value) -> Result<String, String> {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
    };
    let root_plain = match &v.kind {
        Kind::Null(_) | Kind::Number(_) | Kind::Bool(_) => true,
        Kind::List(_, x) | Kind::Set(_, x) | Kind::Tuple(x) => x.is_empty(),
        Kind::Map(_, m) | Kind::Object(m) => m.is_empty(),
        _ => false,
    };
    e.node(v, 0, Ctx::Root)?;
    e.out.push('\n');
    if root_plain && matches!(v.kind, Kind::Null(_) | Kind::Number(_) | Kind::Bool(_)) {
        e.out.push_str("...\n");
    }
    Ok(e.out)
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Root,
    SeqItem,
    MapValue,
    Key,
}

struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.out.push_str(s);
    }

    fn newline_indent(&mut self, indent: usize) {
        self.write("\n");
        self.write(&" ".repeat(indent));
    }

    fn plain(v: &Value) -> Result<Option<String>, String> {
        Ok(Some(match &v.kind {
            Kind::Null(_) => "null".into(),
            Kind::Unknown(_) => return Err("cannot serialize unknown value as YAML".into()),
            Kind::Bool(b) => b.to_string(),
            Kind::Number(n) => number_text(n),
            _ => return Ok(None),
        }))
    }

    /// Writes a node; `indent` is the indentation of the block the node belongs to.
    fn node(&mut self, v: &Value, indent: usize, ctx: Ctx) -> Result<(), String> {
        if let Some(p) = Self::plain(v)? {
            if ctx == Ctx::MapValue || ctx == Ctx::SeqItem {
                self.write(" ");
            }
            self.write(&p);
            return Ok(());
        }
        match &v.kind {
            Kind::String(s) => {
                if ctx == Ctx::MapValue || ctx == Ctx::SeqItem {
                    self.write(" ");
                }
                self.string(s, indent, ctx)
            }
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                if items.is_empty() {
                    if ctx != Ctx::Root {
                        self.write(" ");
                    }
                    self.write("[]");
                    return Ok(());
                }
                // Sequences in a mapping are not indented further (go-yaml's indentless style).
                let ind = match ctx {
                    Ctx::Root | Ctx::MapValue => indent,
                    _ => indent + 2,
                };
                for (i, x) in items.iter().enumerate() {
                    if i == 0 && ctx == Ctx::SeqItem {
                        self.write(" ");
                    } else if i > 0 || ctx != Ctx::Root {
                        self.newline_indent(ind);
                    }
                    self.write("-");
                    self.node(x, ind, Ctx::SeqItem)?;
                }
                Ok(())
            }
            Kind::Map(_, m) | Kind::Object(m) => {
                if m.is_empty() {
                    if ctx != Ctx::Root {
                        self.write(" ");
                    }
                    self.write("{}");
                    return Ok(());
                }
                let ind = match ctx {
                    Ctx::Root => 0,
                    Ctx::MapValue => indent + 2,
                    _ => indent + 2,
                };
                for (i, (k, x)) in m.iter().enumerate() {
                    if i == 0 && ctx == Ctx::SeqItem {
                        self.write(" ");
                    } else if i > 0 || ctx != Ctx::Root {
                        self.newline_indent(ind);
                    }
                    self.string(k, ind, Ctx::Key)?;
                    self.write(":");
                    self.node(x, ind, Ctx::MapValue)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn string(&mut self, s: &str, indent: usize, ctx: Ctx) -> Result<(), String> {
        if ctx != Ctx::Key && s.contains('\n') && literal_allowed(s) {
            return self.literal(s, indent, ctx);
        }
        self.double_quoted(s, indent, ctx != Ctx::Key);
        Ok(())
    }

    fn literal(&mut self, s: &str, indent: usize, ctx: Ctx) -> Result<(), String> {
        let ind = match ctx {
            Ctx::Root => 2,
            _ => indent + 2,
        };
        self.write("|");
        if s.starts_with(' ') || s.starts_with('\n') {
            self.write("2");
        }
        let trailing = s.len() - s.trim_end_matches('\n').len();
        if trailing == 0 {
            self.write("-");
        } else if trailing > 1 || s.chars().all(|c| c == '\n') {
            self.write("+");
        }
        let body = if trailing > 0 { &s[..s.len() - 1] } else { s };
        for line in body.split('\n') {
            self.write("\n");
            if !line.is_empty() {
                self.write(&" ".repeat(ind));
                self.write(line);
            }
        }
        Ok(())
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let ind = indent.max(2);
        self.write("\"");
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > 80 && i != 0 && i + 1 != chars.len() {
                    self.newline_indent(ind);
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
                continue;
            }
            spaces = false;
            let esc = match c {
                '\0' => "\\0".to_string(),
                '\x07' => "\\a".into(),
                '\x08' => "\\b".into(),
                '\t' => "\\t".into(),
                '\n' => "\\n".into(),
                '\x0b' => "\\v".into(),
                '\x0c' => "\\f".into(),
                '\r' => "\\r".into(),
                '\x1b' => "\\e".into(),
                '"' => "\\\"".into(),
                '\\' => "\\\\".into(),
                '\u{85}' => "\\N".into(),
                '\u{a0}' => "\\_".into(),
                '\u{2028}' => "\\L".into(),
                '\u{2029}' => "\\P".into(),
                c if !printable(c) => {
                    let u = c as u32;
                    if u <= 0xff {
                        format!("\\x{u:02X}")
                    } else if u <= 0xffff {
                        format!("\\u{u:04X}")
                    } else {
                        format!("\\U{u:08X}")
                    }
                }
                c => c.to_string(),
            };
            self.write(&esc);
        }
        self.write("\"");
    }
}

fn printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || u == 0x85
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
        || (0x10000..=0x10ffff).contains(&u)
}

/// Whether libyaml would allow a literal block for this string.
fn literal_allowed(s: &str) -> bool {
    if s.chars().any(|c| !printable(c)) {
        return false;
    }
    if s.ends_with(' ') {
        return false;
    }
    // A space right before a line break makes block styles unavailable.
    !s.contains(" \n")
}

/// A number as `big.Float.Text('f', -1)` writes it.
fn number_text(n: &Number) -> String {
    if n.is_infinite() {
        return if n.signum() < 0 {
            "-Inf".into()
        } else {
            "+Inf".into()
        };
    }
    if n.is_integer() {
        if let Some(i) = n.to_i64() {
            return i.to_string();
        }
    }
    let d = Decimal::shortest(n);
    d.format_shortest_f()
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn decode_scalars() {
        assert_eq!(call_ok(r#"yamldecode("y")"#), "true");
        assert_eq!(call_ok(r#"yamldecode("Off")"#), "false");
        assert_eq!(call_ok(r#"yamldecode("'yes'")"#), "yes");
        assert_eq!(call_ok(r#"yamldecode("~")"#), "null");
        assert_eq!(call_ok(r#"yamldecode("1_000")"#), "1000");
        assert_eq!(
            call_ok(r#"yamldecode("2001-12-14")"#),
            "2001-12-14T00:00:00Z"
        );
        assert_eq!(
            call_ok(r#"yamldecode("a: [1, x]\nb: {c: on}")"#),
            "{\n  \"a\" = [\n    1,\n    \"x\",\n  ]\n  \"b\" = {\n    \"c\" = true\n  }\n}"
        );
        assert_eq!(
            call_err_detail(r#"yamldecode(".nan")"#),
            "Call to function \"yamldecode\" failed: floating point NaN is not supported."
        );
    }

    #[test]
    fn encode() {
        assert_eq!(call_ok(r#"yamlencode("a")"#), "\"a\"\n");
        assert_eq!(call_ok("yamlencode(true)"), "true\n...\n");
        assert_eq!(call_ok(r#"yamlencode("a\nb")"#), "|-\n  a\n  b\n");
        assert_eq!(
            call_ok(r#"yamlencode({a=["x",{b=1,c=[]}], d={}})"#),
            "\"a\":\n- \"x\"\n- \"b\": 1\n  \"c\": []\n\"d\": {}\n"
        );
        assert_eq!(call_ok(r#"yamlencode([" a\nb"])"#), "- |2-\n   a\n  b\n");
    }
}
