//! Date and time functions: formatdate, timeadd, timestamp, legacy_isotime, legacy_strftime,
//! rfc3339_parse, unix_timestamp_parse.

use std::collections::BTreeMap;

use super::{arg_err, arg_int, arg_str, call_err, p, FuncCtx, FuncResult, Function};
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

/// An instant with the UTC offset it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Time {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset from UTC in seconds.
    pub offset: i32,
}

impl From<&chrono::DateTime<chrono::Utc>> for Time {
    fn from(t: &chrono::DateTime<chrono::Utc>) -> Self {
        Time {
            secs: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() % 1_000_000_000,
            offset: 0,
        }
    }
}

/// Calendar fields of a time in its own offset.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: u32,
    yday: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(m: u32, y: i64) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Time {
    fn civil(&self) -> Civil {
        let local = self.secs.saturating_add(i64::from(self.offset));
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let yday = (days - days_from_civil(year, 1, 1) + 1) as u32;
        Civil {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod % 3600 / 60) as u32,
            second: (sod % 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
            yday,
        }
    }

    /// ISO 8601 year and week number.
    fn iso_week(&self) -> (i64, u32) {
        let c = self.civil();
        // Thursday of the same ISO week decides the year.
        let wd = if c.weekday == 0 { 7 } else { c.weekday } as i64;
        let local_days = self
            .secs
            .saturating_add(i64::from(self.offset))
            .div_euclid(86_400);
        let thursday = local_days - wd + 4;
        let (ty, _, _) = civil_from_days(thursday);
        let week = (thursday - days_from_civil(ty, 1, 1)) / 7 + 1;
        (ty, week as u32)
    }
}

fn offset_text(offset: i32, colon: bool, z: bool) -> String {
    if z && offset == 0 {
        return "Z".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let (h, m) = (a / 3600, a % 3600 / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

fn year4(y: i64) -> String {
    if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    }
}

/// RFC 3339 without fractional seconds, as Go's `time.RFC3339` writes it.
pub(crate) fn rfc3339(t: &Time) -> String {
    let c = t.civil();
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        year4(c.year),
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        offset_text(t.offset, true, true)
    )
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

/// Parses a Go duration ("1h30m", "-1.5s", "300ms") into nanoseconds.
pub fn parse_duration(s: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let mut rest = s;
    let neg = if let Some(r) = rest.strip_prefix('-') {
        rest = r;
        true
    } else {
        if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
        false
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, r) = rest.split_at(int_end);
        let (frac_part, r) = match r.strip_prefix('.') {
            Some(r2) => {
                let e = r2.find(|c: char| !c.is_ascii_digit()).unwrap_or(r2.len());
                (Some(&r2[..e]), &r2[e..])
            }
            None => (None, r),
        };
        if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
            return Err(invalid());
        }
        let unit_end = r
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(r.len());
        let (unit, r) = r.split_at(unit_end);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {s:?}"));
        }
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let iv: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = iv.checked_mul(scale).ok_or_else(invalid)?;
        if let Some(f) = frac_part {
            let mut fscale = scale;
            for d in f.bytes() {
                fscale /= 10;
                if fscale == 0 {
                    break;
                }
                v += i128::from(d - b'0') * fscale;
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i128::from(i64::MAX) {
            return Err(invalid());
        }
        rest = r;
    }
    Ok(if neg { -total } else { total })
}

fn timeadd(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let t = parse_rfc3339(arg_str(a, 0), false).map_err(call_err)?;
    let d = parse_duration(arg_str(a, 1)).map_err(call_err)?;
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

/// Go's numeric zone forms (`-0700`, `-07:00`, `-07`, `-070000`, `-07:00:00`).
fn go_zone(offset: i32, colon: bool, minutes: bool, seconds: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let sep = if colon { ":" } else { "" };
    let mut s = format!("{sign}{:02}", a / 3600);
    if minutes {
        s.push_str(&format!("{sep}{:02}", a % 3600 / 60));
    }
    if seconds {
        s.push_str(&format!("{sep}{:02}", a % 60));
    }
    s
}

/// Formats a time with a Go reference layout ("2006-01-02T15:04:05Z07:00"), reading the
/// layout chunk by chunk in the order Go's `time.Format` does. Both template languages use it:
/// `isotime`/`strftime` of legacy templates and `legacy_isotime`/`legacy_strftime` of HCL2.
pub(crate) fn go_format(t: &Time, layout: &str) -> String {
    let c = t.civil();
    let h12 = if c.hour.is_multiple_of(12) {
        12
    } else {
        c.hour % 12
    };
    let month = MONTHS[(c.month - 1) as usize];
    let weekday = DAYS[c.weekday as usize];
    let b = layout.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let r = &layout[i..];
        let (chunk, len): (String, usize) = match b[i] {
            b'J' if r.starts_with("January") => (month.into(), 7),
            b'J' if r.starts_with("Jan") => (month[..3].into(), 3),
            b'M' if r.starts_with("Monday") => (weekday.into(), 6),
            b'M' if r.starts_with("Mon") => (weekday[..3].into(), 3),
            b'M' if r.starts_with("MST") => (
                if t.offset == 0 {
                    "UTC".into()
                } else {
                    go_zone(t.offset, false, true, false)
                },
                3,
            ),
            b'0' if r.len() >= 2 && (b'1'..=b'6').contains(&b[i + 1]) => {
                let s = match b[i + 1] {
                    b'1' => format!("{:02}", c.month),
                    b'2' => format!("{:02}", c.day),
                    b'3' => format!("{h12:02}"),
                    b'4' => format!("{:02}", c.minute),
                    b'5' => format!("{:02}", c.second),
                    _ => format!("{:02}", c.year.rem_euclid(100)),
                };
                (s, 2)
            }
            b'0' if r.starts_with("002") => (format!("{:03}", c.yday), 3),
            b'1' if r.starts_with("15") => (format!("{:02}", c.hour), 2),
            b'1' => (c.month.to_string(), 1),
            b'2' if r.starts_with("2006") => (year4(c.year), 4),
            b'2' => (c.day.to_string(), 1),
            // "_2006" is a literal "_" followed by the year.
            b'_' if r.starts_with("_2006") => ("_".into(), 1),
            b'_' if r.starts_with("_2") => (format!("{:>2}", c.day), 2),
            b'_' if r.starts_with("__2") => (format!("{:>3}", c.yday), 3),
            b'3' => (h12.to_string(), 1),
            b'4' => (c.minute.to_string(), 1),
            b'5' => (c.second.to_string(), 1),
            b'P' if r.starts_with("PM") => ((if c.hour >= 12 { "PM" } else { "AM" }).into(), 2),
            b'p' if r.starts_with("pm") => ((if c.hour >= 12 { "pm" } else { "am" }).into(), 2),
            b'-' | b'Z' if r[1..].starts_with("07") => {
                // Longest first: "-070000" before "-0700" before "-07".
                let (len, colon, minutes, seconds) = [
                    ("070000", 7, false, true, true),
                    ("07:00:00", 9, true, true, true),
                    ("0700", 5, false, true, false),
                    ("07:00", 6, true, true, false),
                    ("07", 3, false, false, false),
                ]
                .into_iter()
                .find(|(p, ..)| r[1..].starts_with(p))
                .map(|(_, l, c, m, s)| (l, c, m, s))
                .unwrap_or((3, false, false, false));
                if b[i] == b'Z' && t.offset == 0 {
                    ("Z".into(), len)
                } else {
                    (go_zone(t.offset, colon, minutes, seconds), len)
                }
            }
            // Fractional seconds: ".000"/",000" keep zeros, ".999"/",999" drop trailing ones;
            // followed by a digit they are plain text.
            b'.' | b',' if r.len() >= 2 && matches!(b[i + 1], b'0' | b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    ((b[i] as char).to_string(), 1)
                } else {
                    let digits = format!("{:09}", t.nanos % 1_000_000_000);
                    let mut f = digits[..(j - i - 1).min(9)].to_string();
                    if ch == b'9' {
                        f.truncate(f.trim_end_matches('0').len());
                    }
                    if f.is_empty() {
                        (String::new(), j - i)
                    } else {
                        (format!("{}{f}", b[i] as char), j - i)
                    }
                }
            }
            _ => {
                let ch = r.chars().next().unwrap_or(' ');
                (ch.to_string(), ch.len_utf8())
            }
        };
        out.push_str(&chunk);
        i += len;
    }
    out
}

/// `strftime` as Packer's go-strftime does it: each `%x` maps to a Go layout element; unknown
/// directives are copied.
pub(crate) fn strftime(t: &Time, format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(d) = chars.next() else {
            out.push('%');
            break;
        };
        let layout = match d {
            '%' => {
                out.push('%');
                continue;
            }
            'B' => "January",
            'b' => "Jan",
            'm' => "01",
            'A' => "Monday",
            'a' => "Mon",
            'd' => "02",
            'H' => "15",
            'I' => "03",
            'M' => "04",
            'S' => "05",
            'Y' => "2006",
            'y' => "06",
            'p' => "PM",
            'Z' => "MST",
            'z' => "-0700",
            'L' => ".000",
            _ => {
                out.push('%');
                out.push(d);
                continue;
            }
        };
        out.push_str(&go_format(t, layout));
    }
    out
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
