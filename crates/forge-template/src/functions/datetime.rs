//! Date and time functions: formatdate, timeadd, timestamp, legacy_isotime, legacy_strftime,
//! rfc3339_parse, unix_timestamp_parse.

use std::collections::BTreeMap;

use super::{arg_err, arg_int, arg_str, call_err, p, FuncCtx, FuncResult, Function};
use crate::gocompat::time::{
    days_from_civil, days_in, format as go_format, offset_text, rfc3339, strftime, year4, Time,
    DAYS, MONTHS,
};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let s = |n| p(n, Type::String);
    v.push(Function::new(
        "formatdate",
        vec![s("format"), s("time")],
        Type::String,
        formatdate,
    ));
    v.push(Function::new(
        "timeadd",
        vec![s("timestamp"), s("duration")],
        Type::String,
        timeadd,
    ));
    v.push(Function::new("timestamp", vec![], Type::String, timestamp));
    v.push(
        Function::new("legacy_isotime", vec![], Type::String, legacy_isotime).variadic(s("format")),
    );
    v.push(
        Function::new("legacy_strftime", vec![], Type::String, legacy_strftime)
            .variadic(s("format")),
    );
    v.push(Function::new(
        "rfc3339_parse",
        vec![s("timestamp")],
        Type::Dynamic,
        rfc3339_parse,
    ));
    v.push(Function::new(
        "unix_timestamp_parse",
        vec![p("unix_timestamp", Type::Number)],
        Type::Dynamic,
        unix_timestamp_parse,
    ));
}

fn err(msg: impl AsRef<str>) -> String {
    format!("not a valid RFC3339 timestamp{}", msg.as_ref())
}

/// Parses an RFC 3339 timestamp strictly, with cty's error texts. `sep_space` also accepts a
/// space between date and time.
pub(crate) fn parse_rfc3339(s: &str, sep_space: bool) -> Result<Time, String> {
    let b = s.as_bytes();
    let mut i = 0usize;
    let rest = |i: usize| s.get(i..).unwrap_or("").to_string();
    let num = |i: usize, n: usize, what: &str| -> Result<u32, String> {
        let part = b.get(i..i + n);
        match part {
            Some(p) if p.iter().all(u8::is_ascii_digit) => {
                Ok(p.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
            }
            _ if i >= b.len() => Err(err(format!(": end of string before {what}"))),
            _ => {
                let r = rest(i);
                if what == "hour" && r.get(..2).is_some_and(|x| x.contains(':')) {
                    return Err(err(": hour must have exactly two digits"));
                }
                if what == "minute" && r.get(..2).is_some_and(|x| x.contains(':')) {
                    return Err(err(": minute must have exactly two digits"));
                }
                Err(err(format!(": cannot use {r:?} as {what}")))
            }
        }
    };
    let lit = |i: usize, c: u8| -> Result<(), String> {
        match b.get(i) {
            Some(x) if *x == c => Ok(()),
            None => Err(err(format!(
                ": end of string where \"{}\" is expected",
                char::from(c)
            ))),
            Some(_) => Err(err(format!(
                ": found {:?} where \"{}\" is expected",
                rest(i),
                char::from(c)
            ))),
        }
    };
    let year = i64::from(num(i, 4, "year")?);
    i += 4;
    lit(i, b'-')?;
    i += 1;
    let month = num(i, 2, "month")?;
    i += 2;
    if !(1..=12).contains(&month) {
        return Err(err(format!(": cannot use {:?} as month", rest(i))));
    }
    lit(i, b'-')?;
    i += 1;
    let day = num(i, 2, "day of month")?;
    i += 2;
    match b.get(i) {
        Some(b'T') => {}
        Some(b' ') if sep_space => {}
        _ => return Err(err(": missing required time introducer 'T'")),
    }
    i += 1;
    let hour = num(i, 2, "hour")?;
    i += 2;
    if hour > 23 {
        return Err(err(": hour must be between 0 and 23 inclusive"));
    }
    lit(i, b':')?;
    i += 1;
    let minute = num(i, 2, "minute")?;
    i += 2;
    if minute > 59 {
        return Err(err(format!(": cannot use {:?} as minute", rest(i))));
    }
    lit(i, b':')?;
    i += 1;
    let second = num(i, 2, "second")?;
    i += 2;
    if second > 59 {
        return Err(err(format!(": cannot use {:?} as second", rest(i))));
    }
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut j = start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == start {
            return Err(err(format!(": cannot use {:?} as UTC offset", rest(i))));
        }
        let digits = &s[start..j];
        let mut n = 0u32;
        for (k, d) in digits.bytes().take(9).enumerate() {
            let _ = k;
            n = n * 10 + u32::from(d - b'0');
        }
        for _ in digits.len().min(9)..9 {
            n *= 10;
        }
        nanos = n;
        i = j;
    }
    let offset: i32 = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(c @ (b'+' | b'-')) => {
            let sign = if *c == b'-' { -1 } else { 1 };
            let bad = || err(format!(": cannot use {:?} as UTC offset", rest(i)));
            let oh = num(i + 1, 2, "UTC offset").map_err(|_| bad())?;
            if b.get(i + 3) != Some(&b':') {
                return Err(bad());
            }
            let om = num(i + 4, 2, "UTC offset").map_err(|_| bad())?;
            if oh > 23 || om > 59 {
                return Err(err(": time zone offset hour out of range"));
            }
            i += 6;
            sign * (oh as i32 * 3600 + om as i32 * 60)
        }
        None => return Err(err(": end of string before UTC offset")),
        Some(_) => return Err(err(format!(": cannot use {:?} as UTC offset", rest(i)))),
    };
    if i < b.len() {
        return Err(err(format!(": extra text: {:?}", rest(i))));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(err(": day out of range"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - i64::from(offset);
    Ok(Time {
        secs,
        nanos,
        offset,
    })
}

fn formatdate(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let fmt = arg_str(a, 0);
    let t = parse_rfc3339(arg_str(a, 1), false).map_err(|e| arg_err(1, e))?;
    let c = t.civil();
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0usize;
    let verr = |tok: &str, why: &str| {
        arg_err(
            0,
            if why.is_empty() {
                format!("invalid date format verb {tok:?}")
            } else {
                format!("invalid date format verb {tok:?}: {why}")
            },
        )
    };
    while i < chars.len() {
        let c0 = chars[i];
        if c0 == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            let mut lit = String::new();
            let mut closed = false;
            while j < chars.len() {
                if chars[j] == '\'' {
                    if chars.get(j + 1) == Some(&'\'') {
                        lit.push('\'');
                        j += 2;
                        continue;
                    }
                    closed = true;
                    j += 1;
                    break;
                }
                lit.push(chars[j]);
                j += 1;
            }
            if !closed {
                return Err(arg_err(0, "unterminated literal '"));
            }
            out.push_str(&lit);
            i = j;
            continue;
        }
        if !c0.is_ascii_alphabetic() {
            out.push(c0);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c0 {
            j += 1;
        }
        let tok: String = chars[i..j].iter().collect();
        let n = j - i;
        i = j;
        match (c0, n) {
            ('Y', 2) => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
            ('Y', 4) => out.push_str(&year4(c.year)),
            ('Y', _) => return Err(verr(&tok, "year must either be \"YY\" or \"YYYY\"")),
            ('M', 1) => out.push_str(&c.month.to_string()),
            ('M', 2) => out.push_str(&format!("{:02}", c.month)),
            ('M', 3) => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
            ('M', 4) => out.push_str(MONTHS[(c.month - 1) as usize]),
            ('M', _) => {
                return Err(verr(
                    &tok,
                    "month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"",
                ))
            }
            ('D', 1) => out.push_str(&c.day.to_string()),
            ('D', 2) => out.push_str(&format!("{:02}", c.day)),
            ('D', _) => return Err(verr(&tok, "day of month must either be \"D\" or \"DD\"")),
            ('E', 3) => out.push_str(&DAYS[c.weekday as usize][..3]),
            ('E', 4) => out.push_str(DAYS[c.weekday as usize]),
            ('E', _) => return Err(verr(&tok, "day of week must either be \"EEE\" or \"EEEE\"")),
            ('h', 1) => out.push_str(&c.hour.to_string()),
            ('h', 2) => out.push_str(&format!("{:02}", c.hour)),
            ('h', _) => return Err(verr(&tok, "24-hour must either be \"h\" or \"hh\"")),
            ('H', 1 | 2) => {
                let h = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
                out.push_str(&if n == 1 {
                    h.to_string()
                } else {
                    format!("{h:02}")
                });
            }
            ('H', _) => return Err(verr(&tok, "12-hour must either be \"H\" or \"HH\"")),
            ('A' | 'a', 2) => {
                let pm = c.hour >= 12;
                out.push_str(match (c0 == 'A', pm) {
                    (true, false) => "AM",
                    (true, true) => "PM",
                    (false, false) => "am",
                    (false, true) => "pm",
                });
            }
            ('A' | 'a', _) => return Err(verr(&tok, &format!("must be \"{c0}{c0}\""))),
            ('m', 1) => out.push_str(&c.minute.to_string()),
            ('m', 2) => out.push_str(&format!("{:02}", c.minute)),
            ('m', _) => return Err(verr(&tok, "minute must either be \"m\" or \"mm\"")),
            ('s', 1) => out.push_str(&c.second.to_string()),
            ('s', 2) => out.push_str(&format!("{:02}", c.second)),
            ('s', _) => return Err(verr(&tok, "second must either be \"s\" or \"ss\"")),
            ('Z', 1) => out.push_str(&offset_text(t.offset, true, true)),
            ('Z', 3) => {
                let o = offset_text(t.offset, false, false);
                out.push_str(if o == "+0000" { "UTC" } else { &o });
            }
            ('Z', 4) => out.push_str(&offset_text(t.offset, false, false)),
            ('Z', 5) => out.push_str(&offset_text(t.offset, true, false)),
            ('Z', _) => {
                return Err(verr(&tok, "timezone must be Z, ZZZZ, or ZZZZZ"));
            }
            _ => return Err(verr(&tok, "")),
        }
    }
    Ok(Value::string(out))
}

fn timeadd(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let t = parse_rfc3339(arg_str(a, 0), false).map_err(call_err)?;
    let d = i128::from(crate::gocompat::duration::parse(arg_str(a, 1)).map_err(call_err)?);
    let total = i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos) + d;
    let secs = i64::try_from(total.div_euclid(1_000_000_000))
        .map_err(|_| call_err("time out of range"))?;
    let nanos = total.rem_euclid(1_000_000_000) as u32;
    Ok(Value::string(rfc3339(&Time {
        secs,
        nanos,
        offset: t.offset,
    })))
}

fn now() -> Time {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Time {
        secs: i64::try_from(d.as_secs()).unwrap_or(0),
        nanos: d.subsec_nanos(),
        offset: 0,
    }
}

fn timestamp(_: &FuncCtx, _: &[Value]) -> FuncResult {
    Ok(Value::string(rfc3339(&now())))
}

fn start_time(ctx: &FuncCtx) -> Time {
    let d = ctx
        .start_time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Time {
        secs: i64::try_from(d.as_secs()).unwrap_or(0),
        nanos: d.subsec_nanos(),
        offset: 0,
    }
}

fn legacy_isotime(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let t = start_time(ctx);
    match a {
        [] => Ok(Value::string(rfc3339(&t))),
        [f] => Ok(Value::string(go_format(&t, f.as_str().unwrap_or("")))),
        _ => Err(call_err(format!(
            "too many values, 1 needed: {}",
            go_args(a)
        ))),
    }
}

fn go_args(a: &[Value]) -> String {
    let parts: Vec<String> = a
        .iter()
        .map(|v| format!("cty.StringVal({:?})", v.as_str().unwrap_or("")))
        .collect();
    format!("[{}]", parts.join(" "))
}

fn legacy_strftime(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let t = start_time(ctx);
    match a {
        [] => Ok(Value::string(rfc3339(&t))),
        [f] => Ok(Value::string(strftime(&t, f.as_str().unwrap_or("")))),
        _ => Err(call_err(format!(
            "too many values, 1 needed: {}",
            go_args(a)
        ))),
    }
}

fn time_object(t: &Time, with_unix: bool) -> Value {
    let c = t.civil();
    let (iy, iw) = t.iso_week();
    let mut m = BTreeMap::new();
    let n = |x: i64| Value::int(x);
    m.insert("year".to_string(), n(c.year));
    m.insert("year_day".to_string(), n(i64::from(c.yday)));
    m.insert("day".to_string(), n(i64::from(c.day)));
    m.insert("month".to_string(), n(i64::from(c.month)));
    m.insert(
        "month_name".to_string(),
        Value::string(MONTHS[(c.month - 1) as usize]),
    );
    m.insert("weekday".to_string(), n(i64::from(c.weekday)));
    m.insert(
        "weekday_name".to_string(),
        Value::string(DAYS[c.weekday as usize]),
    );
    m.insert("hour".to_string(), n(i64::from(c.hour)));
    m.insert("minute".to_string(), n(i64::from(c.minute)));
    m.insert("second".to_string(), n(i64::from(c.second)));
    m.insert("iso_year".to_string(), n(iy));
    m.insert("iso_week".to_string(), n(i64::from(iw)));
    if with_unix {
        m.insert("unix".to_string(), n(t.secs));
    } else {
        m.insert("rfc3339".to_string(), Value::string(rfc3339(t)));
    }
    Value::object(m)
}

fn rfc3339_parse(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    let t = parse_rfc3339(s, true)
        .map_err(|_| arg_err(0, format!("{s:?} is not a valid RFC3339 timestamp")))?;
    Ok(time_object(&t, true))
}

fn unix_timestamp_parse(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let secs = arg_int(a, 0).map_err(|e| {
        arg_err(
            0,
            format!(
                "unix_timestamp must be a whole number of seconds representable as a 64-bit integer: {e}"
            ),
        )
    })?;
    // Go's time package covers years far beyond this; keep the arithmetic in range.
    if secs.unsigned_abs() > 250_000_000_000_000_000 {
        return Err(arg_err(0, "unix_timestamp is out of the supported range"));
    }
    Ok(time_object(
        &Time {
            secs,
            nanos: 0,
            offset: 0,
        },
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn formatdate() {
        let ts = "\"2018-01-02T23:12:01Z\"";
        assert_eq!(
            call_ok(&format!("formatdate(\"YYYY-MM-DD hh:mm\", {ts})")),
            "2018-01-02 23:12"
        );
        assert_eq!(
            call_ok(&format!(
                "formatdate(\"EEEE, DD-MMM-YY HH:mm AA ZZZ\", {ts})"
            )),
            "Tuesday, 02-Jan-18 11:12 PM UTC"
        );
        assert_eq!(
            call_ok(&format!("formatdate(\"h 'o''clock' ZZZZZ\", {ts})")),
            "23 o'clock +00:00"
        );
        assert_eq!(
            call_ok("formatdate(\"MMMM D\", \"2018-03-04T05:06:07+01:00\")"),
            "March 4"
        );
        assert_eq!(
            call_err_detail(&format!("formatdate(\"YYY\", {ts})")),
            "Invalid value for \"format\" parameter: invalid date format verb \"YYY\": year must either be \"YY\" or \"YYYY\"."
        );
        assert_eq!(
            call_err_detail("formatdate(\"YYYY\", \"2018-01-02\")"),
            "Invalid value for \"time\" parameter: not a valid RFC3339 timestamp: missing required time introducer 'T'."
        );
    }

    #[test]
    fn timeadd() {
        assert_eq!(
            call_ok("timeadd(\"2017-11-22T00:00:00Z\", \"10m\")"),
            "2017-11-22T00:10:00Z"
        );
        assert_eq!(
            call_ok("timeadd(\"2017-11-22T00:00:00+01:00\", \"-1h30m\")"),
            "2017-11-21T22:30:00+01:00"
        );
        assert_eq!(
            call_err_detail("timeadd(\"2017-11-22T00:00:00Z\", \"1d\")"),
            "Call to function \"timeadd\" failed: time: unknown unit \"d\" in duration \"1d\"."
        );
    }

    #[test]
    fn parse_and_legacy() {
        let o = call_ok("rfc3339_parse(\"2023-07-25T23:43:16Z\")");
        assert!(o.contains("\"iso_week\" = 30"), "{o}");
        assert!(o.contains("\"unix\" = 1690328596"), "{o}");
        assert!(o.contains("\"weekday_name\" = \"Tuesday\""), "{o}");
        let u = call_ok("unix_timestamp_parse(0)");
        assert!(u.contains("\"rfc3339\" = \"1970-01-01T00:00:00Z\""), "{u}");
        assert!(u.contains("\"iso_year\" = 1970"), "{u}");
        assert_eq!(call_ok("legacy_isotime()"), "2020-09-13T12:26:40Z");
        assert_eq!(
            call_ok("legacy_isotime(\"2006-01-02 15:04 Mon Jan\")"),
            "2020-09-13 12:26 Sun Sep"
        );
        assert_eq!(
            call_ok("legacy_strftime(\"%Y%m%d %H:%M:%S %q\")"),
            "20200913 12:26:40 %q"
        );
        assert_eq!(call_ok("length(timestamp())"), "20");
    }
}
