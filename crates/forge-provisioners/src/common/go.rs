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

/// Go's `filepath.Clean` on a slash path: `.` and `..` resolved lexically, slashes collapsed.
pub use forge_template::functions::go_clean_path as clean;

/// Go's `filepath.Dir`: everything before the last slash, cleaned (`.` when there is none).
pub fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored (`.` for `""`, `/` for
/// slashes only).
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `filepath.Join(a, b)`: the non-empty parts joined by a slash, cleaned.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

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
    fn filepath_like_go() {
        assert_eq!(clean("a//b/./c/.."), "a/b");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../../x"), "../../x");
        assert_eq!(clean(""), ".");
        assert_eq!(dir("dl/q"), "dl");
        assert_eq!(dir("q"), ".");
        assert_eq!(dir("/q"), "/");
        assert_eq!(dir("a/b/"), "a/b");
        assert_eq!(base("/tmp/a.txt"), "a.txt");
        assert_eq!(base("/tmp/dir/"), "dir");
        assert_eq!(base(""), ".");
        assert_eq!(base("//"), "/");
        assert_eq!(join("dl/x/", "a.txt"), "dl/x/a.txt");
        assert_eq!(join("dl/./x", "../a"), "dl/a");
        assert_eq!(join("", "a"), "a");
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
