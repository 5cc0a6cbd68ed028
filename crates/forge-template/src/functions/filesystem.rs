//! Filesystem functions: abspath, basename, dirname, file, filebase64, fileexists, fileset,
//! pathexpand, templatefile; and `env`, which reads the environment where Packer allows it.

use std::path::{Path, PathBuf};

use super::encoding::b64;
use super::{arg_err, arg_str, call_err, p, FuncCtx, FuncResult, Function};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let path = || vec![p("path", Type::String)];
    v.push(Function::new("abspath", path(), Type::String, abspath));
    v.push(Function::new("basename", path(), Type::String, basename));
    v.push(Function::new("dirname", path(), Type::String, dirname));
    v.push(Function::new(
        "pathexpand",
        path(),
        Type::String,
        pathexpand,
    ));
    v.push(Function::new("file", path(), Type::String, file));
    v.push(Function::new(
        "filebase64",
        path(),
        Type::String,
        filebase64,
    ));
    v.push(Function::new("fileexists", path(), Type::Bool, fileexists));
    v.push(Function::new(
        "fileset",
        vec![p("path", Type::String), p("pattern", Type::String)],
        Type::set(Type::String),
        fileset,
    ));
    v.push(Function::new(
        "templatefile",
        vec![p("path", Type::String), p("vars", Type::Dynamic)],
        Type::Dynamic,
        templatefile,
    ));
    v.push(Function::new(
        "env",
        vec![p("key", Type::String)],
        Type::String,
        env,
    ));
}

/// Go's `filepath.Clean` for slash-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        return clean(b);
    }
    if b.is_empty() {
        return clean(a);
    }
    clean(&format!("{a}/{b}"))
}

fn base_dir(ctx: &FuncCtx) -> String {
    ctx.base_dir.to_string_lossy().into_owned()
}

fn home(ctx: &FuncCtx) -> Option<String> {
    (ctx.env)("HOME").or_else(|| std::env::var("HOME").ok())
}

/// go-homedir's `Expand`.
fn expand(ctx: &FuncCtx, path: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    if !rest.is_empty() && !rest.starts_with('/') && !rest.starts_with('\\') {
        return Err("cannot expand user-specific home dir".into());
    }
    let h = home(ctx).ok_or_else(|| "$HOME is not defined".to_string())?;
    Ok(join(&h, rest))
}

fn resolve(ctx: &FuncCtx, path: &str) -> Result<String, String> {
    let p = expand(ctx, path).map_err(|e| format!("failed to expand ~: {e}"))?;
    Ok(if p.starts_with('/') {
        clean(&p)
    } else {
        join(&base_dir(ctx), &p)
    })
}

fn abspath(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let p = arg_str(a, 0);
    if p.starts_with('/') {
        return Ok(Value::string(clean(p)));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| call_err(e.to_string()))?
        .to_string_lossy()
        .into_owned();
    Ok(Value::string(join(&cwd, p)))
}

/// Go's `filepath.Base`.
fn basename(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let p = arg_str(a, 0);
    if p.is_empty() {
        return Ok(Value::string("."));
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return Ok(Value::string("/"));
    }
    Ok(Value::string(t.rsplit('/').next().unwrap_or(t)))
}

/// Go's `filepath.Dir`.
fn dirname(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let p = arg_str(a, 0);
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    Ok(Value::string(clean(dir)))
}

fn pathexpand(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    expand(ctx, arg_str(a, 0))
        .map(Value::string)
        .map_err(call_err)
}

fn read(ctx: &FuncCtx, path: &str) -> Result<Vec<u8>, String> {
    let full = resolve(ctx, path)?;
    std::fs::read(&full).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("no file exists at {full}")
        } else {
            format!("failed to read {full}")
        }
    })
}

fn file(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let path = arg_str(a, 0);
    let bytes = read(ctx, path).map_err(call_err)?;
    String::from_utf8(bytes).map(Value::string).map_err(|_| {
        call_err(format!("contents of {path} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"))
    })
}

fn filebase64(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let path = arg_str(a, 0);
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        join(&base_dir(ctx), path)
    };
    let bytes = std::fs::read(&full).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        call_err(format!("failed to read file {path:?}: open {full}: {why}"))
    })?;
    Ok(Value::string(b64(&bytes)))
}

fn mode_string(md: &std::fs::Metadata) -> String {
    let ft = md.file_type();
    let mut s = String::new();
    s.push(if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'L'
    } else {
        '-'
    });
    #[cfg(unix)]
    let bits = {
        use std::os::unix::fs::PermissionsExt;
        md.permissions().mode()
    };
    #[cfg(not(unix))]
    let bits = if md.permissions().readonly() {
        0o555
    } else {
        0o777
    };
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if bits & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    s
}

fn fileexists(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let full = resolve(ctx, arg_str(a, 0)).map_err(call_err)?;
    match std::fs::metadata(&full) {
        Ok(md) if md.is_file() => Ok(Value::bool(true)),
        Ok(md) => Err(call_err(format!(
            "{full} is not a regular file, but {:?}",
            mode_string(&md)
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::bool(false)),
        Err(_) => Err(call_err(format!("failed to stat {full}"))),
    }
}

/// One glob component matched against one path component (doublestar's rules, without `**`).
fn match_component(pat: &[char], name: &[char]) -> Result<bool, ()> {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pat.len() {
            match pat[p] {
                '*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                '?' if n < name.len() => {
                    p += 1;
                    n += 1;
                    continue;
                }
                '[' if n < name.len() => {
                    let (ok, next) = match_class(pat, p, name[n])?;
                    if ok {
                        p = next;
                        n += 1;
                        continue;
                    }
                }
                '{' => {
                    let close = find_close(pat, p).ok_or(())?;
                    let alts = split_alts(&pat[p + 1..close]);
                    for alt in alts {
                        let mut np: Vec<char> = alt;
                        np.extend_from_slice(&pat[close + 1..]);
                        if match_component(&np, &name[n..])? {
                            return Ok(true);
                        }
                    }
                    // fall through to backtracking
                }
                '\\' if p + 1 < pat.len() && n < name.len() && pat[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                '\\' if p + 1 >= pat.len() => return Err(()),
                c if c != '[' && c != '?' && c != '\\' && n < name.len() && c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        } else if n == name.len() {
            return Ok(true);
        }
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp + 1;
                n = sn + 1;
            }
            _ => return Ok(false),
        }
    }
}

fn find_close(pat: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = open;
    while i < pat.len() {
        match pat[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn split_alts(body: &[char]) -> Vec<Vec<char>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        match c {
            '\\' => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                    if let Some(&n) = body.get(i + 1) {
                        last.push(n);
                    }
                }
                i += 2;
                continue;
            }
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(Vec::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
        i += 1;
    }
    out
}

fn match_class(pat: &[char], open: usize, c: char) -> Result<(bool, usize), ()> {
    let mut i = open + 1;
    let negate = matches!(pat.get(i), Some('^') | Some('!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let Some(&lo) = pat.get(i) else {
            return Err(());
        };
        if lo == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if lo == '\\' {
            i += 1;
            *pat.get(i).ok_or(())?
        } else {
            lo
        };
        i += 1;
        if pat.get(i) == Some(&'-') && pat.get(i + 1).is_some_and(|x| *x != ']') {
            let mut hi = *pat.get(i + 1).ok_or(())?;
            i += 2;
            if hi == '\\' {
                hi = *pat.get(i).ok_or(())?;
                i += 1;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
        } else if lo == c {
            matched = true;
        }
    }
    Ok((matched != negate, i))
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '[', '{', '\\'])
}

/// Whether the slash-separated `path` matches `pattern`: Go's `filepath.Match` per component,
/// and `**` for any number of components. A malformed pattern matches nothing.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let comps = |s: &str| -> Vec<Vec<char>> {
        s.split('/')
            .filter(|c| !c.is_empty())
            .map(|c| c.chars().collect())
            .collect()
    };
    match_path(&comps(pattern), &comps(path)).unwrap_or(false)
}

/// Matches path components against pattern components, `**` matching any number of them.
fn match_path(pat: &[Vec<char>], path: &[Vec<char>]) -> Result<bool, ()> {
    let Some((first, rest)) = pat.split_first() else {
        return Ok(path.is_empty());
    };
    if first.len() == 2 && first[0] == '*' && first[1] == '*' {
        for i in 0..=path.len() {
            if match_path(rest, &path[i..])? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    match path.split_first() {
        Some((p0, prest)) => Ok(match_component(first, p0)? && match_path(rest, prest)?),
        None => Ok(false),
    }
}

fn walk(dir: &Path, rel: Vec<String>, out: &mut Vec<Vec<String>>, depth: usize) {
    if depth > 64 || out.len() > 100_000 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let mut r = rel.clone();
        r.push(name);
        let p = e.path();
        match std::fs::metadata(&p) {
            Ok(md) if md.is_dir() => {
                out.push(r.clone());
                walk(&p, r, out, depth + 1);
            }
            Ok(md) if md.is_file() => out.push(r),
            _ => {}
        }
    }
}

fn fileset(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut path = arg_str(a, 0).to_string();
    if !path.starts_with('/') {
        path = join(&base_dir(ctx), &path);
    }
    let pattern = join(&path, arg_str(a, 1));
    let comps: Vec<&str> = pattern.split('/').collect();
    let static_len = comps.iter().take_while(|c| !has_magic(c)).count();
    let (root, magic) = comps.split_at(static_len);
    let root_s = if pattern.starts_with('/') {
        format!(
            "/{}",
            root.iter()
                .filter(|c| !c.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/")
        )
    } else {
        root.join("/")
    };
    let mut matches: Vec<String> = Vec::new();
    let bad = || {
        call_err(format!(
            "failed to glob pattern ({pattern}): syntax error in pattern"
        ))
    };
    if magic.is_empty() {
        if Path::new(&root_s).is_file() {
            matches.push(root_s.clone());
        }
    } else {
        let pat: Vec<Vec<char>> = magic.iter().map(|c| c.chars().collect()).collect();
        let mut found = Vec::new();
        walk(
            &PathBuf::from(if root_s.is_empty() { "." } else { &root_s }),
            vec![],
            &mut found,
            0,
        );
        for f in found {
            let fc: Vec<Vec<char>> = f.iter().map(|c| c.chars().collect()).collect();
            if match_path(&pat, &fc).map_err(|_| bad())? {
                let full = join(&root_s, &f.join("/"));
                if Path::new(&full).is_file() {
                    matches.push(full);
                }
            }
        }
    }
    let mut out = Vec::new();
    for m in matches {
        let rel = relative(&path, &m);
        out.push(Value::string(rel));
    }
    Ok(Value::set(Type::String, out))
}

/// Go's `filepath.Rel` for the case where `target` is inside `base` (else a `../` path).
fn relative(base: &str, target: &str) -> String {
    let b: Vec<&str> = base
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let t: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; b.len() - common];
    parts.extend_from_slice(&t[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn templatefile(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    let path = arg_str(a, 0);
    let vars = &a[1];
    let src = read(ctx, path).map_err(call_err)?;
    let src = String::from_utf8(src).map_err(|_| {
        call_err(format!("contents of {path} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"))
    })?;
    let Some(entries) = vars.as_entries() else {
        return Err(arg_err(1, "invalid vars value: must be a map"));
    };
    for k in entries.keys() {
        if !valid_identifier(k) {
            return Err(arg_err(1, format!("invalid template variable name {k:?}: must start with a letter, followed by zero or more letters, digits, and underscores")));
        }
    }
    let Some(render) = ctx.render_template else {
        return Err(call_err("templatefile is not available in this context"));
    };
    render(&src, path, vars).map_err(call_err)
}

fn env(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string((ctx.env)(arg_str(a, 0)).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_ok, eval_in};
    use super::clean;

    #[test]
    fn paths() {
        assert_eq!(clean("a/../b/./c/"), "b/c");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(call_ok(r#"basename("/a/b/")"#), "b");
        assert_eq!(call_ok(r#"basename("")"#), ".");
        assert_eq!(call_ok(r#"dirname("/a/b/")"#), "/a/b");
        assert_eq!(call_ok(r#"dirname("a")"#), ".");
        assert_eq!(call_ok(r#"abspath("/a/../b")"#), "/b");
        assert_eq!(call_ok(r#"env("FORGE_TEST_ENV")"#), "hello");
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("forge-fs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub/deep")).expect("mkdir");
        std::fs::write(dir.join("a.txt"), "hello").expect("write");
        std::fs::write(dir.join("b.md"), "x").expect("write");
        std::fs::write(dir.join("sub/c.txt"), "y").expect("write");
        std::fs::write(dir.join("sub/deep/d.txt"), "z").expect("write");
        assert_eq!(eval_in(&dir, r#"file("a.txt")"#), "hello");
        assert_eq!(eval_in(&dir, r#"filebase64("a.txt")"#), "aGVsbG8=");
        assert_eq!(eval_in(&dir, r#"fileexists("a.txt")"#), "true");
        assert_eq!(eval_in(&dir, r#"fileexists("nope")"#), "false");
        assert_eq!(
            eval_in(&dir, r#"fileset(".", "*.txt")"#),
            "[\n  \"a.txt\",\n]"
        );
        assert_eq!(
            eval_in(&dir, r#"fileset(".", "**/*.txt")"#),
            "[\n  \"a.txt\",\n  \"sub/c.txt\",\n  \"sub/deep/d.txt\",\n]"
        );
        assert_eq!(
            eval_in(&dir, r#"fileset("sub", "{c,x}.txt")"#),
            "[\n  \"c.txt\",\n]"
        );
        assert!(eval_in(&dir, r#"file("nope")"#)
            .starts_with("Error: Call to function \"file\" failed: no file exists at "));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
