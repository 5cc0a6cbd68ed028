//! Script files: the existence check at configuration time, inline commands as a script, and
//! the line-ending conversion scripts get on upload.

use std::borrow::Cow;

use super::go::os_error;

/// Packer's check that each script exists when the template is read:
/// `Bad script 'x.sh': stat x.sh: no such file or directory`.
pub fn check_exist(scripts: &[String], errs: &mut Vec<String>) {
    for s in scripts {
        if let Err(e) = std::fs::metadata(s) {
            errs.push(format!("Bad script '{s}': {}", os_error("stat", s, &e)));
        }
    }
}

/// The script for rendered inline `lines`: each line ends with a newline, and `#!<shebang>`
/// comes first when `always_shebang` (the shebang was set explicitly, or the provisioner always
/// writes one) or when the lines do not start with their own `#!`.
pub fn inline(lines: &[String], shebang: &str, always_shebang: bool) -> String {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if always_shebang || !body.starts_with("#!") {
        format!("#!{shebang}\n{body}")
    } else {
        body
    }
}

/// Packer's `UnixReader`: every line ends in `\n` (a `\r` before it dropped), the last line
/// included; borrowed when nothing changes.
pub fn unix_line_endings(b: &[u8]) -> Cow<'_, [u8]> {
    if !b.contains(&b'\r') && b.last().is_none_or(|l| *l == b'\n') {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len() + 1);
    for line in b.split_inclusive(|c| *c == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        out.push(b'\n');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shebangs() {
        assert_eq!(
            inline(&lines(&["echo a", "echo b"]), "/bin/sh -e", false),
            "#!/bin/sh -e\necho a\necho b\n"
        );
        // Lines with their own shebang keep it unless one was configured.
        let own = lines(&["#!/bin/bash", "echo a"]);
        assert_eq!(inline(&own, "/bin/sh -e", false), "#!/bin/bash\necho a\n");
        assert_eq!(
            inline(&own, "/bin/zsh", true),
            "#!/bin/zsh\n#!/bin/bash\necho a\n"
        );
    }

    #[test]
    fn missing_scripts_are_named() {
        let mut errs = Vec::new();
        check_exist(&["Cargo.toml".into(), "nope.sh".into()], &mut errs);
        assert_eq!(
            errs,
            ["Bad script 'nope.sh': stat nope.sh: no such file or directory"]
        );
    }

    #[test]
    fn line_endings() {
        assert_eq!(&*unix_line_endings(b"a\r\nb\nc"), b"a\nb\nc\n");
        assert_eq!(&*unix_line_endings(b"a\rb\r\n"), b"a\rb\n");
        assert_eq!(&*unix_line_endings(b"\r\n\r\n"), b"\n\n");
        assert!(matches!(unix_line_endings(b"a\nb\n"), Cow::Borrowed(_)));
        assert!(matches!(unix_line_endings(b""), Cow::Borrowed(_)));
    }
}
