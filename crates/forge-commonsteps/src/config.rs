//! Configuration pieces the builders decode alike.

use std::time::Duration;

use forge_template::plan::parse_duration;

/// A duration field (`boot_wait`, `shutdown_timeout`): `default` when unset or empty, zero
/// when negative, and the error Go's parser gives (pushed to `errs`) when malformed.
pub fn duration(
    field: &str,
    o: &Option<String>,
    default: Duration,
    errs: &mut Vec<String>,
) -> Duration {
    match o.as_deref().filter(|s| !s.is_empty()) {
        None => default,
        Some(t) => match parse_duration(t) {
            Some(d) => d,
            None if t.starts_with('-') => Duration::ZERO,
            None => {
                errs.push(format!("{field}: time: invalid duration {t:?}"));
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let mut errs = Vec::new();
        let d = Duration::from_secs(10);
        assert_eq!(duration("boot_wait", &None, d, &mut errs), d);
        assert_eq!(duration("boot_wait", &Some(String::new()), d, &mut errs), d);
        assert_eq!(
            duration("boot_wait", &Some("1m5s".into()), d, &mut errs),
            Duration::from_secs(65)
        );
        assert_eq!(
            duration("boot_wait", &Some("-5s".into()), d, &mut errs),
            Duration::ZERO
        );
        assert!(errs.is_empty());
        assert_eq!(duration("boot_wait", &Some("5x".into()), d, &mut errs), d);
        assert_eq!(errs, ["boot_wait: time: invalid duration \"5x\""]);
    }
}
