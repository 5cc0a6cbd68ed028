//! Version constraints as Packer (hashicorp/go-version) reads them: `>= 1.7.0, < 2`, `~> 1.2`.

/// A parsed version: numeric segments and an optional prerelease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch, ... (missing ones are zero).
    pub segments: Vec<u64>,
    /// `-dev`, `-beta1`, ...
    pub pre: Option<String>,
    /// How many segments were written.
    pub written: usize,
}

impl Version {
    /// Parses `1.2.3`, `v1.2`, `1.2.3-beta1`.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let s = s.split('+').next()?;
        let (nums, pre) = match s.split_once('-') {
            Some((a, b)) => (a, Some(b.to_string())),
            None => (s, None),
        };
        let segments: Vec<u64> = nums
            .split('.')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        if segments.is_empty() || segments.len() > 4 {
            return None;
        }
        let written = segments.len();
        let mut segments = segments;
        segments.resize(3, 0);
        Some(Version {
            segments,
            pre,
            written,
        })
    }

    fn cmp_to(&self, o: &Version) -> std::cmp::Ordering {
        self.segments
            .cmp(&o.segments)
            .then_with(|| match (&self.pre, &o.pre) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

/// Whether `version` satisfies every comma-separated constraint in `constraints`.
pub fn satisfies(version: &str, constraints: &str) -> Result<bool, String> {
    let v = Version::parse(version).ok_or_else(|| format!("Malformed version: {version}"))?;
    for c in constraints.split(',') {
        let c = c.trim();
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", c));
        let want = Version::parse(rest).ok_or_else(|| format!("Malformed constraint: {c}"))?;
        let ord = v.cmp_to(&want);
        use std::cmp::Ordering::*;
        let ok = match op {
            "=" => ord == Equal,
            "!=" => ord != Equal,
            ">" => ord == Greater,
            "<" => ord == Less,
            ">=" => ord != Less,
            "<=" => ord != Greater,
            _ => {
                // ~> allows the last written segment to grow.
                let keep = want.written.saturating_sub(1).max(1);
                ord != Less && v.segments[..keep] == want.segments[..keep]
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::satisfies;

    #[test]
    fn constraints() {
        assert_eq!(satisfies("1.16.0", ">= 1.7.0"), Ok(true));
        assert_eq!(satisfies("1.16.0", ">= 1.7.0, < 1.10"), Ok(false));
        assert_eq!(satisfies("1.16.0", "~> 1.2"), Ok(true));
        assert_eq!(satisfies("1.16.0", "~> 1.2.0"), Ok(false));
        assert_eq!(satisfies("1.2.5", "~> 1.2.0"), Ok(true));
        assert!(satisfies("1.16.0", ">= banana").is_err());
    }
}
