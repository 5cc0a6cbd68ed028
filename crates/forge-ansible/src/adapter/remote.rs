//! Small POSIX commands run on the machine through the communicator, for the file operations
//! of sftp and scp: `stat`, `ls`, `mkdir`, `rm`, `mv`, `chmod`.

use forge_core::plugin::Stream;
use russh_sftp::protocol::StatusCode;

use super::{sh_quote, Shared};

/// Exit status a script of ours uses for "no such file".
pub(super) const MISSING: i32 = 44;
/// Exit status a script of ours uses for "already exists".
pub(super) const EXISTS: i32 = 45;
/// Exit status a script of ours uses for "not a directory".
pub(super) const NOT_DIR: i32 = 46;

/// Why a file operation failed, in the classes sftp distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FsError {
    /// ENOENT, ENOTDIR, ELOOP.
    NoSuchFile(String),
    /// EACCES, EPERM.
    Permission(String),
    /// Anything else (the communicator failed, the file exists, ...).
    Failure(String),
}

impl FsError {
    /// The sftp status code.
    pub(super) fn code(&self) -> StatusCode {
        match self {
            FsError::NoSuchFile(_) => StatusCode::NoSuchFile,
            FsError::Permission(_) => StatusCode::PermissionDenied,
            FsError::Failure(_) => StatusCode::Failure,
        }
    }

    /// The message.
    pub(super) fn message(&self) -> &str {
        match self {
            FsError::NoSuchFile(m) | FsError::Permission(m) | FsError::Failure(m) => m,
        }
    }

    /// Classifies a failed command by its error text (as OpenSSH's sftp-server maps errno).
    fn classify(msg: String) -> FsError {
        let m = msg.to_ascii_lowercase();
        if m.contains("no such file")
            || m.contains("not a directory")
            || m.contains("too many levels of symbolic links")
        {
            FsError::NoSuchFile(msg)
        } else if m.contains("permission denied") || m.contains("operation not permitted") {
            FsError::Permission(msg)
        } else {
            FsError::Failure(msg)
        }
    }
}

/// What a file looks like (`stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// Access time (seconds).
    pub atime: u32,
    /// Modification time (seconds).
    pub mtime: u32,
}

impl Stat {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }
}

/// The `stat -c` format [`parse_stat`] reads: size, uid, gid, raw mode (hex), atime, mtime, and
/// the name last (it may hold spaces).
pub(super) const STAT_FORMAT: &str = "%s %u %g %f %X %Y %n";

/// Parses one line of [`STAT_FORMAT`] into the stat and the name.
pub(super) fn parse_stat(line: &str) -> Option<(Stat, String)> {
    let mut it = line.splitn(7, ' ');
    let size = it.next()?.parse().ok()?;
    let uid = it.next()?.parse().ok()?;
    let gid = it.next()?.parse().ok()?;
    let mode = u32::from_str_radix(it.next()?, 16).ok()?;
    let atime = it.next()?.parse::<i64>().ok()?.clamp(0, u32::MAX as i64) as u32;
    let mtime = it.next()?.parse::<i64>().ok()?.clamp(0, u32::MAX as i64) as u32;
    let name = it.next()?.to_string();
    Some((
        Stat {
            size,
            uid,
            gid,
            mode,
            atime,
            mtime,
        },
        name,
    ))
}

/// Runs `script` on the machine; its stdout on success, else the classified error (`MISSING`,
/// `EXISTS` and `NOT_DIR` exits name their class; otherwise stderr decides).
pub(super) async fn run(shared: &Shared, what: &str, script: &str) -> Result<String, FsError> {
    let (mut out, mut err) = (String::new(), String::new());
    let mut collect = |s: Stream, l: &str| {
        let buf = if s == Stream::Stdout {
            &mut out
        } else {
            &mut err
        };
        buf.push_str(l);
        buf.push('\n');
    };
    let code = shared
        .comm
        .exec(&shared.ctx, script, &mut collect)
        .await
        .map_err(|e| FsError::Failure(format!("{what}: {e}")))?;
    let err = err.trim();
    match code {
        0 => Ok(out),
        MISSING => Err(FsError::NoSuchFile(format!(
            "{what}: no such file or directory"
        ))),
        EXISTS => Err(FsError::Failure(format!("{what}: file exists"))),
        NOT_DIR => Err(FsError::Failure(format!("{what}: not a directory"))),
        c if err.is_empty() => Err(FsError::Failure(format!("{what}: exited {c}"))),
        _ => Err(FsError::classify(format!("{what}: {err}"))),
    }
}

/// `stat`s `path` (following a last symlink when `follow`).
pub(super) async fn stat(shared: &Shared, path: &str, follow: bool) -> Result<Stat, FsError> {
    let script = format!(
        "stat {}-c '{STAT_FORMAT}' -- {}",
        if follow { "-L " } else { "" },
        sh_quote(path)
    );
    let out = run(shared, &format!("stat {path}"), &script).await?;
    out.lines()
        .next()
        .and_then(parse_stat)
        .map(|(s, _)| s)
        .ok_or_else(|| FsError::Failure(format!("stat {path}: unexpected output {out:?}")))
}

/// The entries of the directory `path` (without `.` and `..`), each with its `lstat`.
pub(super) async fn list(shared: &Shared, path: &str) -> Result<Vec<(String, Stat)>, FsError> {
    let q = sh_quote(path);
    let script = format!(
        "[ -e {q} ] || exit {MISSING}; [ -d {q} ] || exit {NOT_DIR}; cd -- {q} && \
         ls -A | while IFS= read -r f; do stat -c '{STAT_FORMAT}' -- \"$f\"; done"
    );
    let out = run(shared, &format!("listing {path}"), &script).await?;
    Ok(out
        .lines()
        .filter_map(parse_stat)
        .map(|(s, n)| (n, s))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_spaces_in_names_and_bad_lines_do_not() {
        let (s, n) = parse_stat("12 1000 100 81a4 1700000000 1700000001 a b c").unwrap();
        assert_eq!(n, "a b c");
        assert_eq!((s.size, s.uid, s.gid, s.mode), (12, 1000, 100, 0o100644));
        assert!(s.is_file() && !s.is_dir());
        let (d, _) = parse_stat("4096 0 0 41ed 1 2 /tmp").unwrap();
        assert!(d.is_dir());
        assert_eq!(parse_stat("stat: cannot stat"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn errors_map_like_sftp_server() {
        let c = |m: &str| FsError::classify(m.into()).code();
        assert_eq!(
            c("stat: cannot statx 'x': No such file or directory"),
            StatusCode::NoSuchFile
        );
        assert_eq!(
            c("mkdir: cannot create directory 'a/b': Not a directory"),
            StatusCode::NoSuchFile
        );
        assert_eq!(
            c("rm: cannot remove 'x': Permission denied"),
            StatusCode::PermissionDenied
        );
        assert_eq!(
            c("mkdir: cannot create directory 'x': File exists"),
            StatusCode::Failure
        );
    }
}
