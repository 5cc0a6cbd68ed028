//! Numeric functions: abs, ceil, floor, log, max, min, parseint, pow, signum, sum.

use num_bigint::BigInt;
use num_traits::Zero;

use super::{arg_err, arg_int, arg_num, call_err, p, FuncCtx, FuncResult, Function};
use crate::value::{convert, Number, Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let n = || vec![p("num", Type::Number)];
    v.push(Function::new("abs", n(), Type::Number, abs));
    v.push(Function::new("ceil", n(), Type::Number, ceil));
    v.push(Function::new("floor", n(), Type::Number, floor));
    v.push(Function::new("signum", n(), Type::Number, signum));
    v.push(Function::new(
        "log",
        vec![p("num", Type::Number), p("base", Type::Number)],
        Type::Number,
        log,
    ));
    v.push(Function::new(
        "pow",
        vec![p("num", Type::Number), p("power", Type::Number)],
        Type::Number,
        pow,
    ));
    v.push(Function::new("max", vec![], Type::Number, max).variadic(p("numbers", Type::Number)));
    v.push(Function::new("min", vec![], Type::Number, min).variadic(p("numbers", Type::Number)));
    v.push(Function::new(
        "parseint",
        vec![p("number", Type::Dynamic), p("base", Type::Number)],
        Type::Number,
        parseint,
    ));
    v.push(Function::new(
        "sum",
        vec![p("list", Type::Dynamic)],
        Type::Number,
        sum,
    ));
}

fn abs(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::number(arg_num(a, 0).abs()))
}

/// Packer 1.6.6 converts through a Go float64 and `int64(...)`, so huge values wrap to i64::MIN.
fn ceil(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::int(arg_num(a, 0).ceil().to_i64_go()))
}

fn floor(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::int(arg_num(a, 0).floor().to_i64_go()))
}

fn signum(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let n = arg_int(a, 0).map_err(call_err)?;
    Ok(Value::int(n.signum()))
}

fn float_result(f: f64) -> FuncResult {
    Number::from_f64(f)
        .map(Value::number)
        .ok_or_else(|| call_err("the result is not a number (NaN)"))
}

fn log(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let n = arg_num(a, 0).to_f64();
    let b = arg_num(a, 1).to_f64();
    float_result(n.ln() / b.ln())
}

fn pow(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let n = arg_num(a, 0).to_f64();
    let e = arg_num(a, 1).to_f64();
    float_result(crate::gocompat::number::pow(n, e))
}

fn extreme(a: &[Value], greater: bool) -> FuncResult {
    let mut best: Option<Number> = None;
    for v in a {
        let Some(n) = v.as_number() else { continue };
        best = Some(match best {
            None => n.clone(),
            Some(b) => {
                if (greater && *n > b) || (!greater && *n < b) {
                    n.clone()
                } else {
                    b
                }
            }
        });
    }
    best.map(Value::number)
        .ok_or_else(|| call_err("must pass at least one number"))
}

fn max(_: &FuncCtx, a: &[Value]) -> FuncResult {
    extreme(a, true)
}

fn min(_: &FuncCtx, a: &[Value]) -> FuncResult {
    extreme(a, false)
}

fn parseint(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let Some(s) = a.first().and_then(Value::as_str) else {
        let t = a.first().map(Value::ty).unwrap_or(Type::Dynamic);
        return Err(arg_err(
            0,
            format!("first argument must be a string, not {}", t.friendly_name()),
        ));
    };
    let base = arg_int(a, 1).map_err(|e| arg_err(1, e))?;
    if !(2..=62).contains(&base) {
        return Err(arg_err(
            1,
            "base must be a whole number between 2 and 62 inclusive",
        ));
    }
    let fail = || arg_err(0, format!("cannot parse {s:?} as a base {base} integer"));
    let n = parse_big(s, base as u32).ok_or_else(fail)?;
    let text = n.to_string();
    Number::parse(&text).map(Value::number).ok_or_else(fail)
}

/// Go's `big.Int.SetString(s, base)` for 2 <= base <= 62: an optional sign, then at least one
/// digit; letters are case-insensitive up to base 36, and `a-z` then `A-Z` above it.
pub(crate) fn parse_big(s: &str, base: u32) -> Option<BigInt> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n = BigInt::zero();
    for c in digits.bytes() {
        let d = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'z' => u32::from(c - b'a') + 10,
            b'A'..=b'Z' if base <= 36 => u32::from(c - b'A') + 10,
            b'A'..=b'Z' => u32::from(c - b'A') + 36,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n * base + d;
    }
    Some(if neg { -n } else { n })
}

fn sum(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let Some(list) = a.first() else {
        return Err(arg_err(0, "cannot sum noniterable"));
    };
    let items: Vec<&Value> = match (list.as_seq(), list.as_entries()) {
        (Some(s), _) => s.iter().collect(),
        (None, Some(m)) => m.values().collect(),
        _ => return Err(arg_err(0, "cannot sum noniterable")),
    };
    if items.is_empty() {
        return Err(arg_err(0, "cannot sum an empty list"));
    }
    if list.as_seq().is_none() {
        return Err(arg_err(
            0,
            format!(
                "argument must be list, set, or tuple. Received {}",
                list.ty().friendly_name()
            ),
        ));
    }
    let bad = || arg_err(0, "argument must be list, set, or tuple of number values");
    let mut total: Option<Number> = None;
    for v in items {
        if v.is_null() {
            return Err(bad());
        }
        let n = convert(v, &Type::Number).map_err(|_| bad())?;
        let n = n.as_number().cloned().ok_or_else(bad)?;
        total = Some(match total {
            None => n,
            Some(t) => {
                if t.is_infinite() && n.is_infinite() && t.signum() != n.signum() {
                    return Err(call_err("can't compute sum of opposing infinities"));
                }
                t.add(&n)
            }
        });
    }
    total.map(Value::number).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn basics() {
        assert_eq!(call_ok("abs(-3.5)"), "3.5");
        assert_eq!(call_ok("ceil(1.1)"), "2");
        assert_eq!(call_ok("floor(-1.1)"), "-2");
        assert_eq!(call_ok("floor(1e30)"), "-9223372036854775808");
        assert_eq!(call_ok("signum(-7)"), "-1");
        assert_eq!(call_ok("signum(0)"), "0");
        assert_eq!(call_ok("log(8, 2)"), "3");
        assert_eq!(call_ok("pow(2, 10)"), "1024");
        assert_eq!(call_ok("max(1, 5, 3)"), "5");
        assert_eq!(call_ok("min(4, -2)"), "-2");
        assert_eq!(call_ok("parseint(\"ff\", 16)"), "255");
        assert_eq!(call_ok("parseint(\"-101\", 2)"), "-5");
        assert_eq!(call_ok("parseint(\"Z\", 62)"), "61");
        assert_eq!(call_ok("sum([1, 2, 3.5])"), "6.5");
    }

    #[test]
    fn errors() {
        assert_eq!(
            call_err_detail("max()"),
            "Call to function \"max\" failed: must pass at least one number."
        );
        assert_eq!(
            call_err_detail("parseint(\"1.5\", 10)"),
            "Invalid value for \"number\" parameter: cannot parse \"1.5\" as a base 10 integer."
        );
        assert_eq!(
            call_err_detail("parseint(\"1\", 63)"),
            "Invalid value for \"base\" parameter: base must be a whole number between 2 and 62 inclusive."
        );
        assert_eq!(
            call_err_detail("parseint(1, 10)"),
            "Invalid value for \"number\" parameter: first argument must be a string, not number."
        );
        assert_eq!(
            call_err_detail("signum(1.5)"),
            "Call to function \"signum\" failed: value must be a whole number, between -9223372036854775808 and 9223372036854775807."
        );
        assert_eq!(
            call_err_detail("sum([])"),
            "Invalid value for \"list\" parameter: cannot sum an empty list."
        );
        assert_eq!(
            call_err_detail("sum(\"a\")"),
            "Invalid value for \"list\" parameter: cannot sum noniterable."
        );
        assert_eq!(
            call_err_detail("sum([\"a\"])"),
            "Invalid value for \"list\" parameter: argument must be list, set, or tuple of number values."
        );
    }
}
