//! Go's `time.Duration`: `time.ParseDuration` with its error texts, and `Duration.String`.

use std::time::Duration;

const LIMIT: u64 = 1 << 63;

/// Go's `time.ParseDuration`: signed nanoseconds, or Go's error text.
pub fn parse(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(s));
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let (whole, after) = leading_int(rest).ok_or_else(invalid)?;
        let had_int = after.len() != rest.len();
        rest = after;
        let (mut frac, mut scale, mut had_frac) = (0, 1.0, false);
        if let Some(r) = rest.strip_prefix('.') {
            let (f, sc, after) = leading_fraction(r);
            had_frac = after.len() != r.len();
            (frac, scale, rest) = (f, sc, after);
        }
        if !had_int && !had_frac {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let unit_ns: u64 = match unit {
            "" => return Err(format!("time: missing unit in duration {}", quote(s))),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit),
                    quote(s)
                ))
            }
        };
        if whole > LIMIT / unit_ns {
            return Err(invalid());
        }
        let mut v = whole * unit_ns;
        if frac > 0 {
            v += (frac as f64 * (unit_ns as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// [`parse`] into a `std` duration, a negative one clamped to zero (as a Go sleep treats it).
pub fn parse_std(s: &str) -> Result<Duration, String> {
    parse(s).map(|ns| Duration::from_nanos(ns.max(0) as u64))
}

/// The digits at the front of `s` as a number no larger than 2^63; `None` on overflow.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut x: u64 = 0;
    for d in s[..end].bytes() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(d - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[end..]))
}

/// The digits of a fraction, with the power of ten they are scaled by; digits beyond what
/// fits are read and dropped.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (mut x, mut scale, mut overflow) = (0u64, 1.0, false);
    for d in s[..end].bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(d - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[end..])
}

/// The `time` package's own quoting in its errors: `"` and `\` escaped, bytes of control and
/// non-ASCII characters as `\x..`.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c < ' ' || !c.is_ascii() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Go's `Duration.String`: `1h2m3.5s`, `1.5µs`, `-1m0s`, `0s`.
pub fn format(ns: i64) -> String {
    let mut u = ns.unsigned_abs();
    let sign = if ns < 0 { "-" } else { "" };
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            1..=999 => return format!("{sign}{u}ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        return format!("{sign}{}{unit}", with_fraction(u, prec));
    }
    let secs = with_fraction(u, 9);
    u /= 1_000_000_000;
    let (h, m) = (u / 3600, u / 60 % 60);
    let s = secs_part(&secs, u % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// [`format`] of a `std` duration (saturating at Go's largest duration).
pub fn format_std(d: Duration) -> String {
    format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `v / 10^prec` with the fraction's trailing zeros dropped (and no point when none is left).
fn with_fraction(v: u64, prec: u32) -> String {
    let unit = 10u64.pow(prec);
    let (whole, rest) = (v / unit, v % unit);
    if rest == 0 {
        return whole.to_string();
    }
    let digits = format!("{rest:0width$}", width = prec as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The seconds field: `with_fraction`'s fraction on the seconds within the minute.
fn secs_part(all: &str, secs: u64) -> String {
    match all.split_once('.') {
        Some((_, frac)) => format!("{secs}.{frac}"),
        None => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go() {
        for (s, ns) in [
            ("0", 0),
            ("-0", 0),
            ("5s", 5_000_000_000),
            ("1h2m3.5s", 3_723_500_000_000),
            ("+2.5s", 2_500_000_000),
            ("-1.5h", -5_400_000_000_000),
            (".5h", 1_800_000_000_000),
            ("1.s", 1_000_000_000),
            ("10µs", 10_000),
            ("10us", 10_000),
            ("1.0000000009s", 1_000_000_000),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ] {
            assert_eq!(parse(s), Ok(ns), "{s}");
        }
    }

    #[test]
    fn errors_as_go() {
        for (s, e) in [
            ("", r#"time: invalid duration """#),
            ("-", r#"time: invalid duration "-""#),
            ("10", r#"time: missing unit in duration "10""#),
            ("10x", r#"time: unknown unit "x" in duration "10x""#),
            (".s", r#"time: invalid duration ".s""#),
            ("s", r#"time: invalid duration "s""#),
            ("1s2", r#"time: missing unit in duration "1s2""#),
            (
                "9223372036854775808ns",
                r#"time: invalid duration "9223372036854775808ns""#,
            ),
            ("3000000h", r#"time: invalid duration "3000000h""#),
            (
                "1é",
                r#"time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9""#,
            ),
            ("\"1\"", r#"time: invalid duration "\"1\"""#),
        ] {
            assert_eq!(parse(s), Err(e.to_string()), "{s}");
        }
        assert_eq!(parse_std("-5s"), Ok(Duration::ZERO));
    }

    #[test]
    fn prints_as_go() {
        for (ns, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (500_000_000, "500ms"),
            (1_500_000_000, "1.5s"),
            (5_000_000_000, "5s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_400_000_000_000, "1h30m0s"),
            (7_200_500_000_000, "2h0m0.5s"),
            (-60_000_000_000, "-1m0s"),
            (-250_000_000, "-250ms"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(format(ns), s, "{ns}");
        }
        assert_eq!(format_std(Duration::from_millis(1500)), "1.5s");
    }
}
