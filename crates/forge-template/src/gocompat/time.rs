//! Go's `time` formatting: an instant with its UTC offset, `time.Format` reference layouts,
//! RFC 3339 output and the `strftime` directives Packer maps onto layouts.

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
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub weekday: u32,
    pub yday: u32,
}

pub(crate) const MONTHS: [&str; 12] = [
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
pub(crate) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
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

pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(crate) fn days_in(m: u32, y: i64) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Time {
    pub(crate) fn civil(&self) -> Civil {
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
    pub(crate) fn iso_week(&self) -> (i64, u32) {
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

/// A numeric zone as `Z07:00` (`z`) or `-07:00`/`-0700` writes it.
pub(crate) fn offset_text(offset: i32, colon: bool, z: bool) -> String {
    if z && offset == 0 {
        return "Z".into();
    }
    zone(offset, colon, true, false)
}

pub(crate) fn year4(y: i64) -> String {
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

/// Go's numeric zone forms (`-0700`, `-07:00`, `-07`, `-070000`, `-07:00:00`).
pub(crate) fn zone(offset: i32, colon: bool, minutes: bool, seconds: bool) -> String {
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
pub(crate) fn format(t: &Time, layout: &str) -> String {
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
                    zone(t.offset, false, true, false)
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
                    (zone(t.offset, colon, minutes, seconds), len)
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
pub(crate) fn strftime(t: &Time, directives: &str) -> String {
    let mut out = String::new();
    let mut chars = directives.chars();
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
        out.push_str(&format(t, layout));
    }
    out
}

/// Formats a UTC time with a Go reference layout (`2006-01-02T15:04:05Z07:00`).
pub fn format_utc(t: &chrono::DateTime<chrono::Utc>, layout: &str) -> String {
    format(&Time::from(t), layout)
}

/// Packer's `strftime` (go-strftime directives) of a UTC time.
pub fn strftime_utc(t: &chrono::DateTime<chrono::Utc>, directives: &str) -> String {
    strftime(&Time::from(t), directives)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2009-11-10 23:04:05.012 at -07:00 (Go's playground epoch, shifted).
    fn t() -> Time {
        Time {
            secs: 1_257_919_445,
            nanos: 12_000_000,
            offset: -7 * 3600,
        }
    }

    #[test]
    fn layouts_as_go_formats_them() {
        let t = t();
        for (layout, want) in [
            ("2006-01-02T15:04:05Z07:00", "2009-11-10T23:04:05-07:00"),
            (
                "Mon Jan _2 15:04:05 MST 2006",
                "Tue Nov 10 23:04:05 -0700 2009",
            ),
            (
                "Monday, 02-Jan-06 03:04:05 PM -0700",
                "Tuesday, 10-Nov-09 11:04:05 PM -0700",
            ),
            ("15:04:05.000", "23:04:05.012"),
            ("15:04:05.999", "23:04:05.012"),
            ("05,000000", "05,012000"),
            ("January 2, 2006 002 __2", "November 10, 2009 314 314"),
            ("Z0700 -07 -07:00:00", "-0700 -07 -07:00:00"),
        ] {
            assert_eq!(format(&t, layout), want, "{layout}");
        }
        let utc = Time { offset: 0, ..t };
        assert_eq!(format(&utc, "Z07:00 MST"), "Z UTC");
        assert_eq!(rfc3339(&utc), "2009-11-11T06:04:05Z");
        assert_eq!(
            strftime(&t, "%Y-%m-%d %H:%M:%S %z %%q"),
            "2009-11-10 23:04:05 -0700 %q"
        );
    }
}
