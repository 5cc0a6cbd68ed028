//! String functions: chomp, endswith, indent, join, lower, upper, regex, regexall,
//! regex_replace, replace, split, startswith, strcontains, strrev, substr, title, trim,
//! trimprefix, trimsuffix, trimspace. `format` and `formatlist` live in `format.rs`.

use std::collections::BTreeMap;

use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use super::{arg_err, arg_int, arg_str, call_err, p, FuncCtx, FuncError, FuncResult, Function};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let s = |n| p(n, Type::String);
    let str1 = |name, f| Function::new(name, vec![s("str")], Type::String, f);
    v.push(str1("chomp", chomp));
    v.push(str1("lower", lower));
    v.push(str1("upper", upper));
    v.push(str1("strrev", strrev));
    v.push(str1("title", title));
    v.push(str1("trimspace", trimspace));
    v.push(Function::new(
        "endswith",
        vec![s("str"), s("suffix")],
        Type::Bool,
        endswith,
    ));
    v.push(Function::new(
        "startswith",
        vec![s("str"), s("prefix")],
        Type::Bool,
        startswith,
    ));
    v.push(Function::new(
        "strcontains",
        vec![s("str"), s("substr")],
        Type::Bool,
        strcontains,
    ));
    v.push(Function::new(
        "indent",
        vec![p("spaces", Type::Number), s("str")],
        Type::String,
        indent,
    ));
    v.push(
        Function::new("join", vec![s("separator")], Type::String, join)
            .variadic(p("lists", Type::list(Type::String))),
    );
    v.push(Function::new(
        "regex",
        vec![s("pattern"), s("string")],
        Type::Dynamic,
        regex,
    ));
    v.push(Function::new(
        "regexall",
        vec![s("pattern"), s("string")],
        Type::Dynamic,
        regexall,
    ));
    v.push(Function::new(
        "regex_replace",
        vec![s("str"), s("pattern"), s("replace")],
        Type::String,
        regex_replace,
    ));
    v.push(Function::new(
        "replace",
        vec![s("str"), s("substr"), s("replace")],
        Type::String,
        replace,
    ));
    v.push(Function::new(
        "split",
        vec![s("separator"), s("str")],
        Type::list(Type::String),
        split,
    ));
    v.push(Function::new(
        "substr",
        vec![
            s("str"),
            p("offset", Type::Number),
            p("length", Type::Number),
        ],
        Type::String,
        substr,
    ));
    v.push(Function::new(
        "trim",
        vec![s("str"), s("cutset")],
        Type::String,
        trim,
    ));
    v.push(Function::new(
        "trimprefix",
        vec![s("str"), s("prefix")],
        Type::String,
        trimprefix,
    ));
    v.push(Function::new(
        "trimsuffix",
        vec![s("str"), s("suffix")],
        Type::String,
        trimsuffix,
    ));
}

fn chomp(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut s = arg_str(a, 0);
    loop {
        if let Some(t) = s.strip_suffix("\r\n") {
            s = t;
        } else if let Some(t) = s.strip_suffix('\n').or_else(|| s.strip_suffix('\r')) {
            s = t;
        } else {
            break;
        }
    }
    Ok(Value::string(s))
}

/// Go's per-rune case mapping: a mapping that would produce more than one character (such as
/// `ß` to `SS`) leaves the character as it is.
fn map_simple<I: Iterator<Item = char> + ExactSizeIterator>(c: char, f: fn(char) -> I) -> char {
    let mut it = f(c);
    if it.len() == 1 {
        it.next().unwrap_or(c)
    } else {
        c
    }
}

pub(crate) fn go_upper(s: &str) -> String {
    s.chars()
        .map(|c| map_simple(c, char::to_uppercase))
        .collect()
}

pub(crate) fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| map_simple(c, char::to_lowercase))
        .collect()
}

fn lower(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(go_lower(arg_str(a, 0))))
}

fn upper(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(go_upper(arg_str(a, 0))))
}

fn strrev(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(
        arg_str(a, 0).graphemes(true).rev().collect::<String>(),
    ))
}

fn title_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    c.is_whitespace()
}

fn title(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut prev = ' ';
    let out: String = arg_str(a, 0)
        .chars()
        .map(|c| {
            let r = if title_separator(prev) {
                map_simple(c, char::to_uppercase)
            } else {
                c
            };
            prev = c;
            r
        })
        .collect();
    Ok(Value::string(out))
}

fn trimspace(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(arg_str(a, 0).trim()))
}

fn endswith(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::bool(arg_str(a, 0).ends_with(arg_str(a, 1))))
}

fn startswith(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::bool(arg_str(a, 0).starts_with(arg_str(a, 1))))
}

fn strcontains(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::bool(arg_str(a, 0).contains(arg_str(a, 1))))
}

fn indent(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let n = arg_int(a, 0).map_err(call_err)?;
    let n = usize::try_from(n).map_err(|_| call_err("spaces must not be negative"))?;
    if n > 1 << 20 {
        return Err(call_err("spaces must be at most 1048576"));
    }
    let pad = format!("\n{}", " ".repeat(n));
    Ok(Value::string(arg_str(a, 1).replace('\n', &pad)))
}

fn join(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let sep = arg_str(a, 0);
    let lists = a.get(1..).unwrap_or(&[]);
    if lists.is_empty() {
        return Err(call_err("at least one list is required"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for (ai, l) in lists.iter().enumerate() {
        for (ei, e) in l.as_seq().unwrap_or(&[]).iter().enumerate() {
            match e.as_str() {
                Some(s) => parts.push(s),
                None if lists.len() > 1 => {
                    return Err(arg_err(
                        ai + 1,
                        format!(
                            "element {ei} of list {} is null; cannot concatenate null values",
                            ai + 1
                        ),
                    ))
                }
                None => {
                    return Err(arg_err(
                        ai + 1,
                        format!("element {ei} is null; cannot concatenate null values"),
                    ))
                }
            }
        }
    }
    Ok(Value::string(parts.join(sep)))
}

fn replace(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (s, sub, rep) = (arg_str(a, 0), arg_str(a, 1), arg_str(a, 2));
    if sub.is_empty() {
        // Go's strings.Replace with an empty old string inserts at every rune boundary.
        let mut out = String::from(rep);
        for c in s.chars() {
            out.push(c);
            out.push_str(rep);
        }
        return Ok(Value::string(out));
    }
    Ok(Value::string(s.replace(sub, rep)))
}

fn regex_replace(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let re = go_regex(arg_str(a, 1)).map_err(|e| call_err(e.go_message()))?;
    Ok(Value::string(
        re.replace_all(arg_str(a, 0), arg_str(a, 2)).into_owned(),
    ))
}

fn split(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (sep, s) = (arg_str(a, 0), arg_str(a, 1));
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::string(c.to_string())).collect()
    } else {
        s.split(sep).map(Value::string).collect()
    };
    Ok(Value::list(Type::String, parts))
}

fn substr(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    let mut offset = arg_int(a, 1).map_err(call_err)?;
    let length = arg_int(a, 2).map_err(call_err)?;
    let g: Vec<&str> = s.graphemes(true).collect();
    let total = i64::try_from(g.len()).unwrap_or(i64::MAX);
    if offset < 0 {
        if total == 0 {
            return Ok(Value::string(""));
        }
        offset = offset.saturating_add(total).max(0);
    }
    if offset >= total {
        return Ok(Value::string(""));
    }
    let start = usize::try_from(offset).unwrap_or(0);
    let end = if length < 0 {
        g.len()
    } else {
        start
            .saturating_add(usize::try_from(length).unwrap_or(usize::MAX))
            .min(g.len())
    };
    Ok(Value::string(g[start..end].concat()))
}

fn trim(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let cut: Vec<char> = arg_str(a, 1).chars().collect();
    Ok(Value::string(
        arg_str(a, 0).trim_matches(|c| cut.contains(&c)),
    ))
}

fn trimprefix(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    Ok(Value::string(s.strip_prefix(arg_str(a, 1)).unwrap_or(s)))
}

fn trimsuffix(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    Ok(Value::string(s.strip_suffix(arg_str(a, 1)).unwrap_or(s)))
}

/// A regular expression syntax error in Go's terms.
#[derive(Debug)]
pub(crate) struct GoRegexError {
    /// Go's error code text ("missing closing )").
    code: String,
    /// The offending part of the pattern.
    expr: String,
}

impl GoRegexError {
    /// `error parsing regexp: <code>: `<expr>``, as Go's `regexp.Compile` reports it.
    pub(crate) fn go_message(&self) -> String {
        format!("error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

/// Compiles a Go (RE2) pattern: `\d`, `\w`, `\s` and `\b` are ASCII-only as in Go.
pub(crate) fn go_regex(pattern: &str) -> Result<Regex, GoRegexError> {
    if let Err(e) = regex_syntax::ast::parse::Parser::new().parse(pattern) {
        return Err(map_syntax_error(pattern, &e));
    }
    let translated = translate_go_classes(pattern);
    Regex::new(&translated).map_err(|e| GoRegexError {
        code: e
            .to_string()
            .lines()
            .last()
            .unwrap_or("invalid pattern")
            .to_string(),
        expr: pattern.to_string(),
    })
}

fn map_syntax_error(pattern: &str, e: &regex_syntax::ast::Error) -> GoRegexError {
    use regex_syntax::ast::ErrorKind as K;
    let span = e.span();
    let piece = pattern
        .get(span.start.offset..span.end.offset)
        .unwrap_or("")
        .to_string();
    let rest = pattern.get(span.start.offset..).unwrap_or("").to_string();
    let (code, expr) = match e.kind() {
        K::GroupUnclosed => ("missing closing )", pattern.to_string()),
        K::GroupUnopened => ("unexpected )", pattern.to_string()),
        K::ClassUnclosed => ("missing closing ]", rest),
        K::EscapeUnrecognized | K::EscapeUnexpectedEof | K::ClassEscapeInvalid => {
            ("invalid escape sequence", piece)
        }
        K::RepetitionMissing => ("missing argument to repetition operator", piece),
        K::RepetitionCountInvalid | K::RepetitionCountDecimalEmpty => {
            ("invalid repeat count", piece)
        }
        K::ClassRangeInvalid => ("invalid character class range", piece),
        K::GroupNameInvalid | K::GroupNameEmpty | K::GroupNameDuplicate { .. } => {
            ("invalid named capture", piece)
        }
        K::FlagUnrecognized | K::FlagUnexpectedEof | K::FlagDanglingNegation => {
            ("invalid or unsupported Perl syntax", piece)
        }
        _ => ("invalid pattern", pattern.to_string()),
    };
    GoRegexError {
        code: code.to_string(),
        expr,
    }
}

/// Rewrites Perl classes and word boundaries to their ASCII forms, as Go defines them.
fn translate_go_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(n) = chars.next() else {
                out.push(c);
                break;
            };
            let rep = match (n, in_class) {
                ('d', false) => Some("[0-9]"),
                ('D', false) => Some("[^0-9]"),
                ('w', false) => Some("[0-9A-Za-z_]"),
                ('W', false) => Some("[^0-9A-Za-z_]"),
                ('s', false) => Some("[\\t\\n\\f\\r ]"),
                ('S', false) => Some("[^\\t\\n\\f\\r ]"),
                ('b', false) => Some("(?-u:\\b)"),
                ('B', false) => Some("(?-u:\\B)"),
                ('d', true) => Some("0-9"),
                ('w', true) => Some("0-9A-Za-z_"),
                ('s', true) => Some("\\t\\n\\f\\r "),
                _ => None,
            };
            match rep {
                Some(r) => out.push_str(r),
                None => {
                    out.push(c);
                    out.push(n);
                }
            }
            class_start = false;
            continue;
        }
        out.push(c);
        if in_class {
            if c == ']' && !class_start {
                in_class = false;
            } else if c == '^' && class_start {
                continue;
            } else if c == '[' && chars.peek() == Some(&':') {
                // [:alpha:] inside a class: copy through to the closing ":]".
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            class_start = false;
        } else if c == '[' {
            in_class = true;
            class_start = true;
        }
    }
    out
}

/// The result shape of a `regex` pattern: a string, a tuple of captures, or an object of named
/// captures.
enum Shape {
    Whole,
    Tuple(usize),
    Object(Vec<String>),
}

fn regex_shape(pattern: &str) -> Result<(Regex, Shape), FuncError> {
    let re = go_regex(pattern).map_err(|e| {
        arg_err(
            0,
            format!("invalid regexp pattern: {} in {}", e.code, e.expr),
        )
    })?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let unnamed = names.iter().filter(|n| n.is_none()).count();
    let named: Vec<String> = names.iter().flatten().map(|s| s.to_string()).collect();
    let shape = match (unnamed, named.len()) {
        (0, 0) => Shape::Whole,
        (_, 0) => Shape::Tuple(unnamed),
        (0, _) => Shape::Object(named),
        _ => {
            return Err(arg_err(
                0,
                "invalid regexp pattern: cannot mix both named and unnamed capture groups",
            ))
        }
    };
    Ok((re, shape))
}

fn captures_value(caps: &regex::Captures, shape: &Shape) -> Value {
    let get = |i: usize| {
        caps.get(i)
            .map(|m| Value::string(m.as_str()))
            .unwrap_or_else(|| Value::null(Type::String))
    };
    match shape {
        Shape::Whole => get(0),
        Shape::Tuple(n) => Value::tuple((1..=*n).map(get).collect()),
        Shape::Object(names) => {
            let mut m = BTreeMap::new();
            for name in names {
                let v = caps
                    .name(name)
                    .map(|x| Value::string(x.as_str()))
                    .unwrap_or_else(|| Value::null(Type::String));
                m.insert(name.clone(), v);
            }
            Value::object(m)
        }
    }
}

fn shape_type(shape: &Shape) -> Type {
    match shape {
        Shape::Whole => Type::String,
        Shape::Tuple(n) => Type::Tuple(vec![Type::String; *n]),
        Shape::Object(names) => {
            Type::Object(names.iter().map(|n| (n.clone(), Type::String)).collect())
        }
    }
}

fn regex(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (re, shape) = regex_shape(arg_str(a, 0))?;
    let caps = re
        .captures(arg_str(a, 1))
        .ok_or_else(|| call_err("pattern did not match any part of the given string"))?;
    Ok(captures_value(&caps, &shape))
}

fn regexall(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (re, shape) = regex_shape(arg_str(a, 0))?;
    let items: Vec<Value> = re
        .captures_iter(arg_str(a, 1))
        .map(|c| captures_value(&c, &shape))
        .collect();
    Ok(Value::list(shape_type(&shape), items))
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn simple() {
        assert_eq!(call_ok(r#"chomp("a\n\r\n")"#), "a");
        assert_eq!(call_ok(r#"upper("aß")"#), "Aß");
        assert_eq!(call_ok(r#"lower("ABC")"#), "abc");
        assert_eq!(
            call_ok(r#"title("hello wOrld-foo_bar")"#),
            "Hello WOrld-Foo_bar"
        );
        assert_eq!(call_ok(r#"strrev("abc")"#), "cba");
        assert_eq!(call_ok(r#"trimspace("  a \n")"#), "a");
        assert_eq!(call_ok(r#"trim("?!a?!", "!?")"#), "a");
        assert_eq!(call_ok(r#"trimprefix("abc", "ab")"#), "c");
        assert_eq!(call_ok(r#"trimsuffix("abc", "bc")"#), "a");
        assert_eq!(call_ok(r#"startswith("abc", "ab")"#), "true");
        assert_eq!(call_ok(r#"endswith("abc", "x")"#), "false");
        assert_eq!(call_ok(r#"strcontains("abc", "b")"#), "true");
        assert_eq!(call_ok(r#"indent(2, "a\nb")"#), "a\n  b");
        assert_eq!(call_ok(r#"join("-", ["a", "b"], ["c"])"#), "a-b-c");
        assert_eq!(call_ok(r#"replace("aaa", "a", "b")"#), "bbb");
        assert_eq!(call_ok(r#"replace("abc", "/b/", "x")"#), "abc");
        assert_eq!(call_ok(r#"regex_replace("abc", "b+", "[$0]")"#), "a[b]c");
        assert_eq!(call_ok(r#"split(",", "a,b")"#), "[\n  \"a\",\n  \"b\",\n]");
        assert_eq!(call_ok(r#"substr("hello", 1, 3)"#), "ell");
        assert_eq!(call_ok(r#"substr("hello", -3, -1)"#), "llo");
        assert_eq!(call_ok(r#"substr("hello", -10, 2)"#), "he");
        assert_eq!(call_ok(r#"substr("hello", 10, 2)"#), "");
    }

    #[test]
    fn regexes() {
        assert_eq!(call_ok(r#"regex("[a-z]+", "123abc")"#), "abc");
        assert_eq!(
            call_ok(r#"regex("(\\d+)-(\\d+)", "12-34")"#),
            "[\n  \"12\",\n  \"34\",\n]"
        );
        assert_eq!(
            call_ok(r#"regex("(?P<a>\\d+)", "x12")"#),
            "{\n  \"a\" = \"12\"\n}"
        );
        assert_eq!(
            call_ok(r#"regexall("\\d", "a1b2")"#),
            "[\n  \"1\",\n  \"2\",\n]"
        );
        assert_eq!(call_ok(r#"regex("\\d", "٣5")"#), "5");
        assert_eq!(
            call_err_detail(r#"regex("x", "abc")"#),
            "Call to function \"regex\" failed: pattern did not match any part of the given string."
        );
        assert_eq!(
            call_err_detail(r#"regex_replace("abc", "(", "x")"#),
            "Call to function \"regex_replace\" failed: error parsing regexp: missing closing ): `(`."
        );
        assert_eq!(
            call_err_detail(r#"regex("(a)(?P<b>c)", "ac")"#),
            "Invalid value for \"pattern\" parameter: invalid regexp pattern: cannot mix both named and unnamed capture groups."
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            call_err_detail(r#"join(",")"#),
            "Call to function \"join\" failed: at least one list is required."
        );
        assert_eq!(
            call_err_detail(r#"join(",", ["a", null])"#),
            "Invalid value for \"lists\" parameter: element 1 is null; cannot concatenate null values."
        );
    }
}
