//! Glob matching for `-only`/`-except`, as gobwas/glob does it without separators: `*` matches
//! any run of characters (dots included), `?` one character, `[abc]`/`[!a-z]` a class, and
//! `{a,b}` alternatives.

/// Whether `name` matches `pattern`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

fn matches(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| matches(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && matches(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().position(|&c| c == ']') else {
                return !n.is_empty() && n[0] == '[' && matches(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else {
                return false;
            };
            let mut class = &p[1..close];
            let negate = matches!(class.first(), Some('!'));
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && matches(&p[close + 1..], &n[1..])
        }
        Some('{') => {
            let Some(close) = p.iter().position(|&c| c == '}') else {
                return !n.is_empty() && n[0] == '{' && matches(&p[1..], &n[1..]);
            };
            let rest = &p[close + 1..];
            p[1..close].split(|&c| c == ',').any(|alt| {
                let mut cand: Vec<char> = alt.to_vec();
                cand.extend_from_slice(rest);
                matches(&cand, n)
            })
        }
        Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && matches(&p[2..], &n[1..]),
        Some(&c) => !n.is_empty() && n[0] == c && matches(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_like_gobwas_without_separators() {
        assert!(glob_match("*", "b.null.x"));
        assert!(glob_match("null.*", "null.a.b"));
        assert!(glob_match("*.x", "b.null.x"));
        assert!(!glob_match("null.x", "b.null.x"));
        assert!(glob_match("b.{null,docker}.?", "b.docker.x"));
        assert!(glob_match("[a-c]*", "build"));
        assert!(!glob_match("[!a-c]*", "build"));
    }
}
