//! mapstructure's weakly typed decoding, as Packer's plugins decode their configuration
//! (packer-plugin-sdk `config.Decode`: `WeaklyTypedInput` with the string-to-slice and duration
//! hooks). Legacy JSON settings reach typed configs only through these rules; HCL2 settings are
//! converted with cty's rules first (see [`check`](super::check)), so that these rules change
//! nothing for them.
//!
//! Per target type:
//! - string: strings as they are; bools as `"1"`/`"0"`; numbers in decimal;
//! - number: numbers; bools as 1/0; strings in Go's integer syntax (`"0x10"`, `"1_000"`), `""`
//!   as 0, else Go's float syntax;
//! - bool: bools; numbers (non-zero is true); strings Go's `ParseBool` takes, `""` as false;
//! - list: sequences element by element; a string split on `,` (`""` is empty); an empty map
//!   as an empty list; any other single value lifted into a one-element list;
//! - map: maps and objects entry by entry; an empty sequence as an empty map; a sequence of
//!   maps merged;
//! - block: objects field by field; a block list lifts a single object;
//! - durations (the settings Packer's plugins hold as Go `time.Duration`, [`DURATIONS`]):
//!   strings must be Go durations (`""` is not one), numbers are nanoseconds.

use std::collections::BTreeMap;

use super::{FieldKind, Nesting, Schema};
use crate::value::{Kind, Number, Type, Value};

/// Converts `v`, a plugin configuration, to `schema` with mapstructure's weak rules. Names the
/// schema lacks, nulls and unknown values are kept as they are. Every failure is reported, in
/// mapstructure's words (`cannot parse 'memory' as int: ...`).
pub fn convert(schema: &Schema, v: &Value) -> Result<Value, Vec<String>> {
    let mut errs = Vec::new();
    let out = object(schema, v, "", &mut errs);
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// mapstructure's summary of decoding errors.
pub fn summary(errs: &[String]) -> String {
    let mut sorted = errs.to_vec();
    sorted.sort();
    let list: String = sorted.iter().map(|e| format!("\n* {e}")).collect();
    format!("{} error(s) decoding:\n{list}", errs.len())
}

fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The settings that Packer's plugins hold as Go durations (found by asking packer 1.6.6 to
/// decode `""` for every string setting of every plugin it has; `duration` is the sleep
/// provisioner's).
pub const DURATIONS: &[&str] = &[
    "boot_key_interval",
    "boot_keygroup_interval",
    "boot_wait",
    "duration",
    "ip_settle_timeout",
    "ip_wait_timeout",
    "pause_after",
    "pause_before_connecting",
    "pause_before_ssm",
    "poll_interval",
    "polling_duration_timeout",
    "post_shutdown_delay",
    "restart_timeout",
    "shared_image_gallery_timeout",
    "shutdown_timeout",
    "snapshot_timeout",
    "ssh_keep_alive_interval",
    "ssh_read_write_timeout",
    "ssh_timeout",
    "ssh_wait_timeout",
    "start_retry_timeout",
    "state_timeout",
    "wait_to_add_ssh_keys",
    "windows_password_timeout",
    "winrm_timeout",
];

/// A duration setting: a number is nanoseconds and a bool 1ns or 0ns (as Go reads them into a
/// duration); a string
/// must be a Go duration, unless it is still a placeholder for what the build will know.
fn duration(v: &Value, at: &str, errs: &mut Vec<String>) -> Value {
    match &v.kind {
        Kind::Number(n) => Value::string(format!("{n}ns")).marked(v.sensitive),
        Kind::Bool(b) => Value::string(format!("{}ns", u8::from(*b))).marked(v.sensitive),
        Kind::String(_) | Kind::Null(_) | Kind::Unknown(_) => {
            let v = v.clone();
            if let Kind::String(s) = &v.kind {
                if !(s.contains("{{")
                    || s.contains(crate::late::UNKNOWN_STRING)
                    || s.contains(crate::late::UNKNOWN_BUILD_VALUE))
                {
                    if let Err(e) = crate::gocompat::duration::parse(s) {
                        errs.push(format!("error decoding '{at}': {e}"));
                    }
                }
            }
            v
        }
        _ => value(&Type::String, v, at, errs),
    }
}

fn object(schema: &Schema, v: &Value, at: &str, errs: &mut Vec<String>) -> Value {
    let entries = match &v.kind {
        Kind::Object(m) | Kind::Map(_, m) => m,
        Kind::Null(_) | Kind::Unknown(_) => return v.clone(),
        _ => {
            errs.push(format!("'{at}' expected a map, got '{}'", go_kind(v)));
            return v.clone();
        }
    };
    let mut out = BTreeMap::new();
    for (name, x) in entries {
        let here = path(at, name);
        let converted = match schema.field(name) {
            Some(f)
                if f.kind == FieldKind::Attr(Type::String)
                    && DURATIONS.contains(&f.name.as_str()) =>
            {
                duration(x, &here, errs)
            }
            Some(f) => field(&f.kind, x, &here, errs),
            None => x.clone(),
        };
        out.insert(name.clone(), converted);
    }
    Value::object(out).marked(v.sensitive)
}

fn field(kind: &FieldKind, v: &Value, at: &str, errs: &mut Vec<String>) -> Value {
    match kind {
        FieldKind::Attr(t) => value(t, v, at, errs),
        FieldKind::Block(s, nesting) => {
            let items: Vec<Value> = match &v.kind {
                Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => items.clone(),
                Kind::Null(_) | Kind::Unknown(_) => return v.clone(),
                _ => vec![v.clone()],
            };
            if *nesting == Nesting::Single && items.len() == 1 {
                return object(s, &items[0], at, errs);
            }
            let out = items
                .iter()
                .enumerate()
                .map(|(i, x)| object(s, x, &format!("{at}[{i}]"), errs))
                .collect();
            Value::tuple(out).marked(v.sensitive)
        }
    }
}

/// Go's name for the kind of a decoded JSON value, as mapstructure's messages show it.
fn go_kind(v: &Value) -> &'static str {
    match &v.kind {
        Kind::String(_) => "string",
        Kind::Number(_) => "float64",
        Kind::Bool(_) => "bool",
        Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => "slice",
        Kind::Map(..) | Kind::Object(_) => "map",
        Kind::Null(_) | Kind::Unknown(_) => "invalid",
    }
}

fn go_type(v: &Value) -> &'static str {
    match &v.kind {
        Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => "[]interface {}",
        Kind::Map(..) | Kind::Object(_) => "map[string]interface {}",
        _ => go_kind(v),
    }
}

/// Converts one value to cty type `t` with the weak rules.
fn value(t: &Type, v: &Value, at: &str, errs: &mut Vec<String>) -> Value {
    if matches!(v.kind, Kind::Null(_) | Kind::Unknown(_)) || *t == Type::Dynamic {
        return v.clone();
    }
    let mark = v.sensitive;
    let out = match t {
        Type::String => match &v.kind {
            Kind::String(_) => return v.clone(),
            Kind::Bool(b) => Value::string(if *b { "1" } else { "0" }),
            Kind::Number(n) => Value::string(n.to_string()),
            _ => {
                errs.push(format!(
                    "'{at}' expected type 'string', got unconvertible type '{}'",
                    go_type(v)
                ));
                return v.clone();
            }
        },
        Type::Number => match &v.kind {
            Kind::Number(_) => return v.clone(),
            Kind::Bool(b) => Value::int(i64::from(*b)),
            Kind::String(s) => match parse_go_number(s) {
                Some(n) => Value::number(n),
                None => {
                    errs.push(format!(
                        "cannot parse '{at}' as int: strconv.ParseInt: parsing {s:?}: invalid syntax"
                    ));
                    return v.clone();
                }
            },
            _ => {
                errs.push(format!(
                    "'{at}' expected type 'int', got unconvertible type '{}'",
                    go_type(v)
                ));
                return v.clone();
            }
        },
        Type::Bool => match &v.kind {
            Kind::Bool(_) => return v.clone(),
            Kind::Number(n) => Value::bool(!n.is_zero()),
            Kind::String(s) => match parse_go_bool(s) {
                Some(b) => Value::bool(b),
                None => {
                    errs.push(format!(
                        "cannot parse '{at}' as bool: strconv.ParseBool: parsing {s:?}: invalid syntax"
                    ));
                    return v.clone();
                }
            },
            _ => {
                errs.push(format!(
                    "'{at}' expected type 'bool', got unconvertible type '{}'",
                    go_type(v)
                ));
                return v.clone();
            }
        },
        Type::List(et) | Type::Set(et) => {
            let items: Vec<Value> = match &v.kind {
                Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => items.clone(),
                // The string-to-slice hook splits on commas; "" is an empty list.
                Kind::String(s) if s.is_empty() => Vec::new(),
                Kind::String(s) => s.split(',').map(Value::string).collect(),
                Kind::Map(_, m) | Kind::Object(m) if m.is_empty() => Vec::new(),
                _ => vec![v.clone()],
            };
            let out = items
                .iter()
                .enumerate()
                .map(|(i, x)| value(et, x, &format!("{at}[{i}]"), errs))
                .collect();
            Value::list((**et).clone(), out)
        }
        Type::Map(et) => {
            let mut merged = BTreeMap::new();
            match &v.kind {
                Kind::Map(_, m) | Kind::Object(m) => merged.extend(m.clone()),
                Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items)
                    if items.iter().all(|x| x.as_entries().is_some()) =>
                {
                    for x in items {
                        merged.extend(x.as_entries().cloned().unwrap_or_default());
                    }
                }
                _ => {
                    errs.push(format!("'{at}' expected a map, got '{}'", go_kind(v)));
                    return v.clone();
                }
            }
            let out = merged
                .iter()
                .map(|(k, x)| (k.clone(), value(et, x, &format!("{at}[{k}]"), errs)))
                .collect();
            Value::map((**et).clone(), out)
        }
        Type::Object(attrs) => {
            let Some(m) = v.as_entries() else {
                errs.push(format!("'{at}' expected a map, got '{}'", go_kind(v)));
                return v.clone();
            };
            Value::object(
                m.iter()
                    .map(|(k, x)| {
                        let x = match attrs.get(k) {
                            Some(t) => value(t, x, &path(at, k), errs),
                            None => x.clone(),
                        };
                        (k.clone(), x)
                    })
                    .collect(),
            )
        }
        Type::Tuple(_) | Type::Dynamic => return v.clone(),
    };
    out.marked(mark)
}

/// Go's `strconv.ParseInt(s, 0, 64)` (with `""` as 0, as mapstructure reads it), falling back to
/// `ParseFloat` for fields that hold fractions.
pub fn parse_go_number(s: &str) -> Option<Number> {
    if s.is_empty() {
        return Some(Number::from_i64(0));
    }
    if let Some(i) = parse_go_int(s) {
        return Some(Number::from_i64(i));
    }
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() || t.contains(char::is_whitespace) || t.contains('_') {
        return None;
    }
    let f: f64 = t.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    Number::parse(t)
}

/// Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then decimal, `0x`, `0o`/`0`, or `0b`
/// digits with `_` allowed between them.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    // Underscores only between digits (or after a base prefix).
    let trimmed = digits
        .strip_prefix('_')
        .filter(|_| prefixed)
        .unwrap_or(&digits);
    if trimmed.is_empty()
        || trimmed.starts_with('_')
        || trimmed.ends_with('_')
        || trimmed.contains("__")
    {
        return None;
    }
    let clean: String = trimmed.chars().filter(|c| *c != '_').collect();
    let mag = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).ok()
    }
}

/// Go's `strconv.ParseBool`, with `""` as false (as mapstructure reads it).
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "" | "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        use crate::gocompat::duration::parse as go_duration;
        for ok in [
            "0", "5m", "1h30m", "-1s", "+2.5s", "300ms", "1.s", ".5h", "10µs",
        ] {
            assert_eq!(go_duration(ok).map(|_| ()), Ok(()), "{ok}");
        }
        assert_eq!(go_duration(""), Err("time: invalid duration \"\"".into()));
        assert_eq!(
            go_duration("10"),
            Err("time: missing unit in duration \"10\"".into())
        );
        assert_eq!(
            go_duration("10x"),
            Err("time: unknown unit \"x\" in duration \"10x\"".into())
        );
        assert!(go_duration("abc").is_err());
        assert!(go_duration("-").is_err());
    }

    #[test]
    fn go_integer_syntax() {
        for (s, want) in [
            ("42", Some(42)),
            ("-7", Some(-7)),
            ("+3", Some(3)),
            ("0x1F", Some(31)),
            ("0o17", Some(15)),
            ("017", Some(15)),
            ("0b101", Some(5)),
            ("1_000", Some(1000)),
            ("0x_1f", Some(31)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("", None),
            (" 1", None),
            ("abc", None),
            ("9223372036854775808", None),
            ("-9223372036854775808", Some(i64::MIN)),
        ] {
            assert_eq!(parse_go_int(s), want, "{s:?}");
        }
        assert_eq!(parse_go_number(""), Some(Number::from_i64(0)));
        assert_eq!(
            parse_go_number("1.5").map(|n| n.to_string()),
            Some("1.5".into())
        );
        assert_eq!(parse_go_number("abc"), None);
    }
}
