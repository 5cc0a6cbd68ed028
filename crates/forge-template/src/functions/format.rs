//! `format` and `formatlist`: cty's printf-like verbs over cty values.

use num_bigint::BigInt;
use unicode_segmentation::UnicodeSegmentation;

use super::encoding::json_encode;
use super::{arg_err, arg_str, call_err, p, FuncCtx, FuncError, FuncResult, Function};
use crate::gocompat::quote::quote;
use crate::value::{convert, Number, Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let args = || p("args", Type::Dynamic).nullable().unknowns();
    v.push(
        Function::new(
            "format",
            vec![p("format", Type::String)],
            Type::String,
            format,
        )
        .variadic(args()),
    );
    v.push(
        Function::new(
            "formatlist",
            vec![p("format", Type::String)],
            Type::list(Type::String),
            formatlist,
        )
        .variadic(args()),
    );
}

fn format(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let rest = a.get(1..).unwrap_or(&[]);
    if rest.iter().any(Value::is_unknown_deep) {
        return Ok(Value::unknown(Type::String));
    }
    format_fsm(arg_str(a, 0), rest).map(Value::string)
}

fn formatlist(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let fmt = arg_str(a, 0);
    let args = a.get(1..).unwrap_or(&[]);
    if args.is_empty() {
        return Ok(Value::list(
            Type::String,
            vec![Value::string(format_fsm(fmt, &[])?)],
        ));
    }
    let mut iter_len: Option<(usize, usize)> = None;
    for (i, arg) in args.iter().enumerate() {
        if arg.is_unknown() {
            return Ok(Value::unknown(Type::list(Type::String)));
        }
        if let Some(items) = arg.as_seq() {
            match iter_len {
                None => iter_len = Some((items.len(), i)),
                Some((n, chooser)) if n != items.len() => {
                    return Err(arg_err(
                        i + 1,
                        format!(
                            "argument {} has length {}, which is inconsistent with argument {} of length {}",
                            i + 1,
                            items.len(),
                            chooser + 1,
                            n
                        ),
                    ))
                }
                _ => {}
            }
        }
    }
    let n = iter_len.map(|(n, _)| n).unwrap_or(1);
    let mut out = Vec::with_capacity(n);
    for it in 0..n {
        let row: Vec<Value> = args
            .iter()
            .map(|arg| match arg.as_seq() {
                Some(items) => items.get(it).cloned().unwrap_or_else(Value::dynamic_null),
                None => arg.clone(),
            })
            .collect();
        if row.iter().any(Value::is_unknown_deep) {
            out.push(Value::unknown(Type::String));
            continue;
        }
        let s = format_fsm(fmt, &row).map_err(|e| {
            let msg = match e {
                FuncError::Arg { message, .. } | FuncError::Call(message) => message,
            };
            call_err(format!("error on format iteration {it}: {msg}"))
        })?;
        out.push(Value::string(s));
    }
    Ok(Value::list(Type::String, out))
}

/// Widths and precisions are capped so that a hostile format string cannot exhaust memory.
const MAX_PAD: usize = 1 << 20;

#[derive(Default, Debug)]
struct Verb {
    raw: String,
    offset: usize,
    arg_num: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Runs a cty format string over the arguments.
pub(crate) fn format_fsm(fmt: &str, args: &[Value]) -> Result<String, FuncError> {
    let bytes = fmt.as_bytes();
    let mut out = String::new();
    let mut next_arg = 1usize;
    let mut highest = 0usize;
    let mut p = 0usize;
    let bad_char = |p: usize| {
        let c = fmt
            .get(p..)
            .and_then(|s| s.chars().next())
            .unwrap_or('\u{FFFD}');
        call_err(format!(
            "unrecognized format character {} at offset {p}",
            crate::gocompat::quote::quote_rune(c)
        ))
    };
    let eof = || {
        call_err(format!(
            "invalid format string starting at offset {}",
            bytes.len()
        ))
    };
    while p < bytes.len() {
        if bytes[p] != b'%' {
            let c = fmt
                .get(p..)
                .and_then(|s| s.chars().next())
                .unwrap_or('\u{FFFD}');
            out.push(c);
            p += c.len_utf8();
            continue;
        }
        if bytes.get(p + 1) == Some(&b'%') {
            out.push('%');
            p += 2;
            continue;
        }
        let ts = p;
        let mut verb = Verb {
            arg_num: next_arg,
            offset: ts,
            ..Verb::default()
        };
        p += 1;
        // flags
        while let Some(&c) = bytes.get(p) {
            match c {
                b'0' => verb.zero = true,
                b'#' => verb.sharp = true,
                b'-' => verb.minus = true,
                b'+' => verb.plus = true,
                b' ' => verb.space = true,
                _ => break,
            }
            p += 1;
        }
        // width
        if matches!(bytes.get(p), Some(b'1'..=b'9')) {
            let mut w = 0usize;
            while let Some(&c @ b'0'..=b'9') = bytes.get(p) {
                w = w.saturating_mul(10).saturating_add(usize::from(c - b'0'));
                p += 1;
            }
            verb.width = Some(w.min(MAX_PAD));
        }
        // precision
        if bytes.get(p) == Some(&b'.') {
            p += 1;
            let mut pr = 0usize;
            while let Some(&c @ b'0'..=b'9') = bytes.get(p) {
                pr = pr.saturating_mul(10).saturating_add(usize::from(c - b'0'));
                p += 1;
            }
            verb.prec = Some(pr.min(MAX_PAD));
        }
        // argument index
        if bytes.get(p) == Some(&b'[') {
            p += 1;
            match bytes.get(p) {
                Some(b'1'..=b'9') => {}
                Some(_) => return Err(bad_char(p)),
                None => return Err(eof()),
            }
            let mut n = 0usize;
            while let Some(&c @ b'0'..=b'9') = bytes.get(p) {
                n = n.saturating_mul(10).saturating_add(usize::from(c - b'0'));
                p += 1;
            }
            match bytes.get(p) {
                Some(b']') => p += 1,
                Some(_) => return Err(bad_char(p)),
                None => return Err(eof()),
            }
            verb.arg_num = n;
        }
        match bytes.get(p) {
            Some(&c) if c.is_ascii_alphabetic() => {
                verb.mode = char::from(c);
                p += 1;
                verb.raw = fmt.get(ts..p).unwrap_or("").to_string();
                highest = highest.max(verb.arg_num);
                format_append(&verb, &mut out, args)?;
                next_arg = verb.arg_num.saturating_add(1);
            }
            Some(_) => return Err(bad_char(p)),
            None => return Err(eof()),
        }
    }
    if highest < args.len() {
        let first_bad = highest + 1;
        if highest == 0 {
            return Err(arg_err(
                first_bad,
                "too many arguments; no verbs in format string",
            ));
        }
        return Err(arg_err(
            first_bad,
            format!("too many arguments; only {highest} used by format string"),
        ));
    }
    Ok(out)
}

fn unsupported(verb: &Verb, why: impl std::fmt::Display) -> FuncError {
    call_err(format!(
        "unsupported value for {} at {}: {why}",
        quote(&verb.raw),
        verb.offset
    ))
}

fn format_append(verb: &Verb, out: &mut String, args: &[Value]) -> Result<(), FuncError> {
    let Some(arg) = verb.arg_num.checked_sub(1).and_then(|i| args.get(i)) else {
        return Err(call_err(format!(
            "not enough arguments for {} at {}: need index {} but have {} total",
            quote(&verb.raw),
            verb.offset,
            verb.arg_num,
            args.len()
        )));
    };
    if verb.mode != 'v' && arg.is_null() {
        return Err(unsupported(verb, "null value cannot be formatted"));
    }
    match verb.mode {
        'v' => {
            if !verb.sharp {
                if let Some(s) = arg.as_str() {
                    out.push_str(&pad_width(verb, s.to_string()));
                    return Ok(());
                }
                if let Some(n) = arg.as_number() {
                    let d = Decimal::shortest(n);
                    out.push_str(&pad_width(verb, d.format_g(None, 'e')));
                    return Ok(());
                }
            }
            let j = json_encode(arg).map_err(|e| unsupported(verb, e))?;
            out.push_str(&pad_width(verb, j));
        }
        't' => {
            let b = convert(arg, &Type::Bool).map_err(|e| unsupported(verb, e))?;
            out.push_str(if b.as_bool() == Some(true) {
                "true"
            } else {
                "false"
            });
        }
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = convert(arg, &Type::Number).map_err(|e| unsupported(verb, e))?;
            let n = n
                .as_number()
                .cloned()
                .unwrap_or_else(|| Number::from_i64(0));
            if matches!(verb.mode, 'b' | 'd' | 'o' | 'x' | 'X') {
                let Some(bi) = number_to_bigint(&n) else {
                    return Err(unsupported(verb, "an integer is required"));
                };
                out.push_str(&format_int(verb, &bi));
            } else {
                out.push_str(&format_float(verb, &n));
            }
        }
        's' | 'q' => {
            let s = convert(arg, &Type::String).map_err(|e| unsupported(verb, e))?;
            let mut s = s.as_str().unwrap_or("").to_string();
            if let Some(prec) = verb.prec.filter(|p| *p > 0) {
                s = s.graphemes(true).take(prec).collect();
            }
            if verb.mode == 'q' {
                s = json_encode(&Value::string(s)).map_err(|e| unsupported(verb, e))?;
            }
            out.push_str(&pad_width(verb, s));
        }
        m => {
            return Err(call_err(format!(
                "unsupported format verb {} in {} at offset {}",
                crate::gocompat::quote::quote_rune(m),
                quote(&verb.raw),
                verb.offset
            )))
        }
    }
    Ok(())
}

fn pad_width(verb: &Verb, s: String) -> String {
    let Some(want) = verb.width else { return s };
    let have = s.graphemes(true).count();
    if have >= want {
        return s;
    }
    let pads = (if verb.zero { "0" } else { " " }).repeat(want - have);
    if verb.minus {
        s + &pads
    } else {
        pads + &s
    }
}

/// The exact integer value of a number, when it is one.
pub(crate) fn number_to_bigint(n: &Number) -> Option<BigInt> {
    if !n.is_integer() {
        return None;
    }
    if let Some(i) = n.to_i64() {
        return Some(BigInt::from(i));
    }
    let text = n.to_string();
    text.parse::<BigInt>().ok().or_else(|| {
        let d = Decimal::shortest(n);
        let mut digits = String::from_utf8(d.mant.clone()).ok()?;
        let exp = usize::try_from(d.exp).ok()?;
        while digits.len() < exp {
            digits.push('0');
        }
        let v: BigInt = digits.parse().ok()?;
        Some(if d.neg { -v } else { v })
    })
}

fn format_int(verb: &Verb, n: &BigInt) -> String {
    let neg = n.sign() == num_bigint::Sign::Minus;
    let mag = n.magnitude();
    let (radix, prefix) = match verb.mode {
        'b' => (2, "0b"),
        'o' => (8, "0"),
        'x' => (16, "0x"),
        'X' => (16, "0X"),
        _ => (10, ""),
    };
    let mut digits = mag.to_str_radix(radix);
    if verb.mode == 'X' {
        digits = digits.to_uppercase();
    }
    let prefix = if verb.sharp { prefix } else { "" };
    let sign = if neg {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    };
    let mut zeros = 0usize;
    if let Some(prec) = verb.prec {
        if digits.len() < prec {
            zeros = prec - digits.len();
        } else if digits == "0" && prec == 0 {
            return String::new();
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0usize, 0usize);
    let zero_flag = verb.zero && !verb.minus;
    if let Some(width) = verb.width {
        if length < width {
            let d = width - length;
            if verb.minus {
                right = d;
            } else if zero_flag && verb.prec.is_none() {
                zeros = d;
            } else {
                left = d;
            }
        }
    }
    format!(
        "{}{sign}{prefix}{}{digits}{}",
        " ".repeat(left),
        "0".repeat(zeros),
        " ".repeat(right)
    )
}

/// A decimal as Go's `big.Float` formatting sees it: 0.mant × 10^exp.
#[derive(Clone, Debug)]
pub(crate) struct Decimal {
    neg: bool,
    inf: bool,
    /// Digits without trailing zeros (empty for zero).
    mant: Vec<u8>,
    exp: i64,
}

impl Decimal {
    /// The shortest decimal that reads back as the same number.
    pub(crate) fn shortest(n: &Number) -> Decimal {
        let f = n.to_f64();
        if f.is_infinite() {
            return Decimal {
                neg: f < 0.0,
                inf: true,
                mant: Vec::new(),
                exp: 0,
            };
        }
        let s = format!("{:e}", f.abs());
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i64 = e.parse().unwrap_or(0);
        let mut mant: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
        while mant.last() == Some(&b'0') {
            mant.pop();
        }
        let exp = if mant.is_empty() { 0 } else { e + 1 };
        Decimal {
            neg: f < 0.0 || (f == 0.0 && f.is_sign_negative()),
            inf: false,
            mant,
            exp,
        }
    }

    fn round(&mut self, n: i64) {
        let Ok(nu) = usize::try_from(n) else {
            self.mant.clear();
            return;
        };
        if nu >= self.mant.len() {
            return;
        }
        let up = if self.mant[nu] == b'5' && nu + 1 == self.mant.len() {
            nu > 0 && (self.mant[nu - 1] - b'0') & 1 != 0
        } else {
            self.mant[nu] >= b'5'
        };
        if up {
            let mut i = nu;
            loop {
                if i == 0 {
                    self.mant.clear();
                    self.mant.push(b'1');
                    self.exp += 1;
                    break;
                }
                i -= 1;
                if self.mant[i] < b'9' {
                    self.mant[i] += 1;
                    self.mant.truncate(i + 1);
                    break;
                }
            }
        } else {
            self.mant.truncate(nu);
            while self.mant.last() == Some(&b'0') {
                self.mant.pop();
            }
        }
        if self.mant.is_empty() {
            self.exp = 0;
        }
    }

    fn at(&self, i: i64) -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.mant.get(i).copied())
            .unwrap_or(b'0')
    }

    fn fmt_e(&self, prec: usize, e: char) -> String {
        let mut out = String::new();
        out.push(char::from(self.mant.first().copied().unwrap_or(b'0')));
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(char::from(self.mant.get(i).copied().unwrap_or(b'0')));
            }
        }
        out.push(e);
        let exp = if self.mant.is_empty() {
            0
        } else {
            self.exp - 1
        };
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
        out
    }

    fn fmt_f(&self, prec: usize) -> String {
        let mut out = String::new();
        if self.exp > 0 {
            let e = usize::try_from(self.exp).unwrap_or(0);
            for i in 0..e {
                out.push(char::from(self.mant.get(i).copied().unwrap_or(b'0')));
            }
        } else {
            out.push('0');
        }
        if prec > 0 {
            out.push('.');
            for i in 0..prec {
                out.push(char::from(self.at(self.exp + i as i64)));
            }
        }
        out
    }

    /// `%e` with the given precision (None: shortest).
    fn format_e(&self, prec: Option<usize>, e: char) -> String {
        let mut d = self.clone();
        let prec = match prec {
            Some(p) => {
                d.round(p as i64 + 1);
                p
            }
            None => d.mant.len().saturating_sub(1),
        };
        d.with_sign(d.fmt_e(prec, e))
    }

    /// `%f` with the given precision.
    fn format_f(&self, prec: usize) -> String {
        let mut d = self.clone();
        d.round(d.exp + prec as i64);
        d.with_sign(d.fmt_f(prec))
    }

    /// `%g` with the given precision (None: shortest); `e` is the exponent letter.
    pub(crate) fn format_g(&self, prec: Option<usize>, e: char) -> String {
        let mut d = self.clone();
        let shortest = prec.is_none();
        let mut prec = match prec {
            Some(p) => {
                let p = p.max(1);
                d.round(p as i64);
                p as i64
            }
            None => d.mant.len() as i64,
        };
        let mlen = d.mant.len() as i64;
        let mut eprec = prec;
        if eprec > mlen && mlen >= d.exp {
            eprec = mlen;
        }
        if shortest {
            eprec = 6;
        }
        let exp = d.exp - 1;
        if exp < -4 || exp >= eprec {
            if prec > mlen {
                prec = mlen;
            }
            let p = usize::try_from(prec - 1).unwrap_or(0);
            return d.with_sign(d.fmt_e(p, e));
        }
        if prec > d.exp {
            prec = mlen;
        }
        let p = usize::try_from((prec - d.exp).max(0)).unwrap_or(0);
        d.with_sign(d.fmt_f(p))
    }

    /// `%f` with the shortest precision (`big.Float.Text('f', -1)`).
    pub(crate) fn format_shortest_f(&self) -> String {
        let prec = usize::try_from((self.mant.len() as i64 - self.exp).max(0)).unwrap_or(0);
        self.with_sign(self.fmt_f(prec))
    }

    fn with_sign(&self, body: String) -> String {
        if self.inf {
            return if self.neg {
                "-Inf".into()
            } else {
                "+Inf".into()
            };
        }
        if self.neg {
            format!("-{body}")
        } else {
            body
        }
    }
}

fn format_float(verb: &Verb, n: &Number) -> String {
    let d = Decimal::shortest(n);
    let text = match verb.mode {
        'e' | 'E' => d.format_e(Some(verb.prec.unwrap_or(6)), verb.mode),
        'f' => d.format_f(verb.prec.unwrap_or(6)),
        'G' => d.format_g(verb.prec, 'E'),
        _ => d.format_g(verb.prec, 'e'),
    };
    let (mut sign, body) = match text.as_bytes().first() {
        Some(b'-') => ("-", &text[1..]),
        Some(b'+') => (if verb.space { " " } else { "+" }, &text[1..]),
        _ if verb.plus => ("+", &text[..]),
        _ if verb.space => (" ", &text[..]),
        _ => ("", &text[..]),
    };
    if d.inf && sign.is_empty() {
        sign = "+";
    }
    let padding = verb
        .width
        .filter(|w| *w > sign.len() + body.len())
        .map(|w| w - sign.len() - body.len())
        .unwrap_or(0);
    if verb.zero && !verb.minus && !d.inf {
        format!("{sign}{}{body}", "0".repeat(padding))
    } else if verb.minus {
        format!("{sign}{body}{}", " ".repeat(padding))
    } else {
        format!("{}{sign}{body}", " ".repeat(padding))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn verbs() {
        assert_eq!(call_ok(r#"format("%s-%d", "a", 5)"#), "a-5");
        assert_eq!(
            call_ok(r#"format("%05d|%-5d|%+d", 42, 42, 42)"#),
            "00042|42   |+42"
        );
        assert_eq!(
            call_ok(r#"format("%x %X %o %b %#x", 255, 255, 8, 5, 255)"#),
            "ff FF 10 101 0xff"
        );
        assert_eq!(call_ok(r#"format("%.2f", 3.14159)"#), "3.14");
        assert_eq!(call_ok(r#"format("%f", 1.5)"#), "1.500000");
        assert_eq!(call_ok(r#"format("%e", 1234.5)"#), "1.234500e+03");
        assert_eq!(call_ok(r#"format("%g", 0.00001)"#), "1e-05");
        assert_eq!(call_ok(r#"format("%g", 100000000)"#), "1e+08");
        assert_eq!(call_ok(r#"format("%v", 1.5)"#), "1.5");
        assert_eq!(call_ok(r#"format("%#v", "a")"#), "\"a\"");
        assert_eq!(call_ok(r#"format("%v", ["a", 1])"#), "[\"a\",1]");
        assert_eq!(call_ok(r#"format("%q", "a<b")"#), "\"a\\u003cb\"");
        assert_eq!(call_ok(r#"format("%t", "true")"#), "true");
        assert_eq!(
            call_ok(r#"format("%5s|%-5s|%.2s", "ab", "ab", "abc")"#),
            "   ab|ab   |ab"
        );
        assert_eq!(call_ok(r#"format("%[2]s %[1]s", "a", "b")"#), "b a");
        assert_eq!(call_ok(r#"format("100%%")"#), "100%");
        assert_eq!(call_ok(r#"format("%v", null)"#), "null");
        assert_eq!(
            call_ok(r#"length(format("%99999999999999999999999d", 1))"#),
            "1048576"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            call_err_detail(r#"format("%d", 1.5)"#),
            "Call to function \"format\" failed: unsupported value for \"%d\" at 0: an integer is required."
        );
        assert_eq!(
            call_err_detail(r#"format("%s %s", "a")"#),
            "Call to function \"format\" failed: not enough arguments for \"%s\" at 3: need index 2 but have 1 total."
        );
        assert_eq!(
            call_err_detail(r#"format("a", "b")"#),
            "Invalid value for \"args\" parameter: too many arguments; no verbs in format string."
        );
        assert_eq!(
            call_err_detail(r#"format("%!", "b")"#),
            "Call to function \"format\" failed: unrecognized format character '!' at offset 1."
        );
        assert_eq!(
            call_err_detail(r#"format("%s", null)"#),
            "Call to function \"format\" failed: unsupported value for \"%s\" at 0: null value cannot be formatted."
        );
        assert_eq!(
            call_err_detail(r#"formatlist("%s", ["a"], ["b", "c"])"#),
            "Invalid value for \"args\" parameter: argument 2 has length 2, which is inconsistent with argument 1 of length 1."
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            call_ok(r#"formatlist("%s=%d", ["a", "b"], 1)"#),
            "[\n  \"a=1\",\n  \"b=1\",\n]"
        );
        assert_eq!(call_ok(r#"formatlist("x")"#), "[\n  \"x\",\n]");
    }
}
