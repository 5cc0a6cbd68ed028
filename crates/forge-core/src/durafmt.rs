//! Durations the way Packer prints them (hako/durafmt, first two non-zero units):
//! `1 second 275 milliseconds`, `44 milliseconds 265 microseconds`.

use std::time::Duration;

/// Formats `d` with its two largest non-zero units.
pub fn format(d: Duration) -> String {
    const UNITS: [(&str, u128); 8] = [
        ("year", 365 * 86_400_000_000),
        ("week", 7 * 86_400_000_000),
        ("day", 86_400_000_000),
        ("hour", 3_600_000_000),
        ("minute", 60_000_000),
        ("second", 1_000_000),
        ("millisecond", 1_000),
        ("microsecond", 1),
    ];
    let mut us = d.as_micros();
    let mut parts = Vec::new();
    for (name, size) in UNITS {
        let n = us / size;
        us %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        return "0 microseconds".into();
    }
    parts.truncate(2);
    parts.join(" ")
}

/// A short form for timelines: `850ms`, `12.3s`, `2m05s`.
pub fn short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packer_shapes() {
        assert_eq!(
            format(Duration::from_micros(1_275_300)),
            "1 second 275 milliseconds"
        );
        assert_eq!(
            format(Duration::from_micros(44_265)),
            "44 milliseconds 265 microseconds"
        );
        assert_eq!(format(Duration::from_micros(3)), "3 microseconds");
        assert_eq!(format(Duration::from_secs(3600 + 5)), "1 hour 5 seconds");
    }
}
