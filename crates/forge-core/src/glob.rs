//! Go's `filepath.Match` and `filepath.Glob` (Unix rules): `*`, `?`, `[...]` classes with `^`
//! negation and ranges, `\` escapes; a pattern without magic characters names a path that
//! exists or nothing.

use std::os::unix::ffi::OsStrExt;

/// Go's `ErrBadPattern` text.
pub const BAD_PATTERN: &str = "syntax error in pattern";

/// Checks that `pattern` is well formed.
pub fn check(pattern: &str) -> Result<(), &'static str> {
    matches(pattern.as_bytes(), b"").map(|_| ())
}

/// Whether `name` matches `pattern` (Go's `filepath.Match`).
pub fn matches(pattern: &[u8], name: &[u8]) -> Result<bool, &'static str> {
    let (mut pattern, mut name) = (pattern, name);
    'outer: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest unless it holds a separator.
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok, err) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if let Some(e) = err {
            return Err(e);
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'outer;
                }
                if let Some(e) = err {
                    return Err(e);
                }
                i += 1;
            }
        }
        // Keep checking the rest of the pattern for syntax errors, as Go does.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if let (_, _, Some(e)) = match_chunk(chunk, b"") {
                return Err(e);
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut inrange = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// One UTF-8 character of `b` (U+FFFD and length 1 when invalid) and its length.
fn decode(b: &[u8]) -> (u32, usize) {
    let w = match b.first() {
        None => return (0xFFFD, 0),
        Some(0..=0x7f) => 1,
        Some(0xc0..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf7) => 4,
        _ => return (0xFFFD, 1),
    };
    match b.get(..w).and_then(|p| std::str::from_utf8(p).ok()) {
        Some(s) => (s.chars().next().map(|c| c as u32).unwrap_or(0xFFFD), w),
        None => (0xFFFD, 1),
    }
}

/// Matches `chunk` at the start of `s`: the rest of `s`, whether it matched, a syntax error.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> (&'a [u8], bool, Option<&'static str>) {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (c, n) = decode(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = match get_esc(chunk) {
                        Ok(x) => x,
                        Err(e) => return (b"", false, Some(e)),
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = match get_esc(&chunk[1..]) {
                            Ok(x) => x,
                            Err(e) => return (b"", false, Some(e)),
                        };
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&c) => c,
                        None => return (b"", false, Some(BAD_PATTERN)),
                    }
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        (b"", false, None)
    } else {
        (s, true, None)
    }
}

/// One possibly escaped character of a class; the rest must not be empty.
fn get_esc(mut chunk: &[u8]) -> Result<(u32, &[u8]), &'static str> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BAD_PATTERN);
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BAD_PATTERN);
        }
    }
    let (r, n) = decode(chunk);
    if r == 0xFFFD && n == 1 && chunk[0] >= 0x80 {
        return Err(BAD_PATTERN);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BAD_PATTERN);
    }
    Ok((r, rest))
}

fn has_meta(p: &str) -> bool {
    p.bytes().any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

/// The paths matching `pattern`, sorted within each directory (Go's `filepath.Glob`).
pub fn glob(pattern: &str) -> Result<Vec<String>, &'static str> {
    check(pattern)?;
    if !has_meta(pattern) {
        return Ok(if std::fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        });
    }
    let (dir, file) = match pattern.rfind('/') {
        Some(i) => (&pattern[..=i], &pattern[i + 1..]),
        None => ("", pattern),
    };
    let dir = clean_glob_dir(dir);
    if !has_meta(&dir) {
        return glob_dir(&dir, file, Vec::new());
    }
    if dir == pattern {
        return Err(BAD_PATTERN);
    }
    let mut out = Vec::new();
    for d in glob(&dir)? {
        out = glob_dir(&d, file, out)?;
    }
    Ok(out)
}

fn clean_glob_dir(dir: &str) -> String {
    match dir {
        "" => ".".into(),
        "/" => "/".into(),
        d => d[..d.len() - 1].to_string(),
    }
}

fn glob_dir(dir: &str, pattern: &str, mut out: Vec<String>) -> Result<Vec<String>, &'static str> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        _ => return Ok(out),
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut names: Vec<Vec<u8>> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    for n in names {
        if matches(pattern.as_bytes(), &n)? {
            let joined = format!("{dir}/{}", String::from_utf8_lossy(&n));
            out.push(clean(&joined));
        }
    }
    Ok(out)
}

/// Go's `filepath.Clean`: the shortest lexically equivalent path.
pub use forge_template::functions::go_clean_path as clean;

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> Result<bool, &'static str> {
        matches(p.as_bytes(), n.as_bytes())
    }

    #[test]
    fn match_as_go() {
        // Cases from Go's path/filepath match_test.go.
        let ok = [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
        ];
        for (p, n, want) in ok {
            assert_eq!(m(p, n), Ok(want), "{p} vs {n}");
        }
        for (p, n) in [
            ("[]a]", "]"),
            ("[-]", "-"),
            ("[x-]", "x"),
            ("[-x]", "x"),
            ("\\", "a"),
            ("[a-b-c]", "a"),
            ("[", "a"),
            ("[^", "a"),
            ("[^bc", "a"),
            ("a[", "a"),
            ("a[", "ab"),
            ("a[", "x"),
            ("a/b[", "x"),
        ] {
            assert_eq!(m(p, n), Err(BAD_PATTERN), "{p} vs {n}");
        }
    }

    #[test]
    fn glob_relative_patterns_as_go() {
        // Tests run in the package directory.
        assert_eq!(
            glob("src/bui*/m?d.rs"),
            Ok(vec!["src/builtin/mod.rs".to_string()])
        );
        assert_eq!(glob("./Cargo.t[o]ml"), Ok(vec!["Cargo.toml".to_string()]));
        assert_eq!(glob("./Cargo.toml"), Ok(vec!["./Cargo.toml".to_string()]));
        assert_eq!(glob("no-such-file"), Ok(vec![]));
        assert_eq!(glob("src/*/nothing*"), Ok(vec![]));
        assert_eq!(glob("src/[/x"), Err(BAD_PATTERN));
    }

    #[test]
    fn clean_as_go() {
        for (i, o) in [
            ("", "."),
            ("./out/a", "out/a"),
            ("a//b/./c/..", "a/b"),
            ("/../x", "/x"),
            ("../../x", "../../x"),
            ("/", "/"),
        ] {
            assert_eq!(clean(i), o);
        }
    }
}
