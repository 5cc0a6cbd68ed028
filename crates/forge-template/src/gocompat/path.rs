//! Go's `path/filepath` on slash paths, as Packer's plugins compute file names: `Clean`, `Dir`,
//! `Base`, `Join` and `Abs`.

/// `filepath.Clean`: `.` and `..` resolved lexically, slashes collapsed (`.` for `""`).
pub use crate::functions::go_clean_path as clean;

/// `filepath.Dir`: everything before the last slash, cleaned (`.` when there is none).
pub fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

/// `filepath.Base`: the last element, trailing slashes ignored (`.` for `""`, `/` for slashes
/// only).
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

/// `filepath.Join`: the non-empty parts joined by slashes, cleaned (`""` when all are empty).
pub fn join(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

/// `filepath.Abs`: joined to the working directory unless already absolute, cleaned.
pub fn abs(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        return Ok(clean(path));
    }
    let cwd = std::env::current_dir().map_err(|e| format!("getwd: {e}"))?;
    Ok(join(&[&cwd.to_string_lossy(), path]))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(join(&["dl/x/", "a.txt"]), "dl/x/a.txt");
        assert_eq!(join(&["dl/./x", "../a"]), "dl/a");
        assert_eq!(join(&["", "a"]), "a");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(abs("/a/./b").unwrap(), "/a/b");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(abs("x/../y").unwrap(), format!("{}/y", cwd.display()));
    }
}
