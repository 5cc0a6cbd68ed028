//! Go's spelling of things Packer prints or computes: `Sprintf` with two `%s`, `%v` of an int
//! slice, `os` errors, `path/filepath` on slash paths, and `time.Duration`.

use std::time::Duration;

/// Go's `fmt.Sprintf(format, a, b)` for the `%s` verbs `env_var_format` uses.
pub fn sprintf2(format: &str, a: &str, b: &str) -> String {
    let mut out = String::new();
    let mut args = [a, b].into_iter();
    let mut chars = format.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '%' {
            match chars.next() {
                Some('s') => out.push_str(args.next().unwrap_or("%!s(MISSING)")),
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// Go's `%v` of an `[]int`: `[0 3]`.
pub fn int_slice(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(" "))
}

pub use forge_template::gocompat::os_error;

pub use forge_template::gocompat::path::{base, clean, dir, join};

/// A Go `time.Duration` as a provisioner field holds it: a magnitude and a sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoDuration {
    /// The magnitude.
    pub abs: Duration,
    /// Whether it was written with a leading `-`.
    pub negative: bool,
}

impl GoDuration {
    /// Parses the field `name`: `""` is zero; a bad value is Packer's decode error
    /// (`error decoding 'pause_after': time: invalid duration "x"`).
    pub fn parse(name: &str, text: Option<&str>) -> Result<GoDuration, String> {
        let text = text.unwrap_or_default();
        if text.is_empty() {
            return Ok(GoDuration::default());
        }
        let decode_err = |e: String| format!("error decoding '{name}': {e}");
        let ns = forge_template::gocompat::duration::parse(text).map_err(decode_err)?;
        Ok(GoDuration {
            abs: Duration::from_nanos(ns.unsigned_abs()),
            negative: ns < 0,
        })
    }

    /// Whether it is zero (Go's "unset" for durations).
    pub fn is_zero(&self) -> bool {
        self.abs.is_zero()
    }

    /// How long to wait for it: a negative duration is already over.
    pub fn wait(&self) -> Duration {
        if self.negative {
            Duration::ZERO
        } else {
            self.abs
        }
    }
}

impl std::fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `1.5s`, `5m0s`, `-1s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.negative && !self.abs.is_zero() {
            "-"
        } else {
            ""
        };
        write!(
            f,
            "{sign}{}",
            forge_template::gocompat::duration::format_std(self.abs)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprintf_and_slices() {
        assert_eq!(sprintf2("%s='%s' ", "A", "b"), "A='b' ");
        assert_eq!(sprintf2("export %s=%s\n", "A", "b"), "export A=b\n");
        assert_eq!(
            sprintf2("%s %s %s 100%%", "A", "b"),
            "A b %!s(MISSING) 100%"
        );
        assert_eq!(int_slice(&[0, 3]), "[0 3]");
        assert_eq!(int_slice(&[]), "[]");
    }

    #[test]
    fn os_errors() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            os_error("stat", "x.sh", &e),
            "stat x.sh: no such file or directory"
        );
    }

    #[test]
    fn durations() {
        let d = GoDuration::parse("pause_after", Some("1500ms")).unwrap();
        assert_eq!(d.to_string(), "1.5s");
        assert_eq!(d.wait(), Duration::from_millis(1500));
        let d = GoDuration::parse("pause_after", Some("-1s")).unwrap();
        assert_eq!(d.to_string(), "-1s");
        assert_eq!(d.wait(), Duration::ZERO);
        assert!(GoDuration::parse("x", None).unwrap().is_zero());
        assert_eq!(
            GoDuration::parse("start_retry_timeout", Some("bogus")).unwrap_err(),
            "error decoding 'start_retry_timeout': time: invalid duration \"bogus\""
        );
        assert_eq!(
            GoDuration::parse("start_retry_timeout", Some("5m"))
                .unwrap()
                .to_string(),
            "5m0s"
        );
    }
}
