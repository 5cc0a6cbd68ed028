//! Go compatibility: the few places where forge must write or read text exactly as Packer's
//! Go runtime does. One implementation each, shared by the template engines, the config
//! decoders and the plugins.
//!
//! - [`duration`]: `time.ParseDuration` and `Duration.String`.
//! - [`quote`]: `strconv.Quote`/`QuoteRune`/`Unquote` and `unicode.IsPrint`.
//! - [`number`]: float64 text (`strconv` `'g'`, `fmt` `%v`) and `math.Pow`.
//! - [`time`]: `time.Format` layouts, RFC 3339 and Packer's `strftime`.
//! - [`path`]: `path/filepath` on slash paths.
//! - [`os_error`]: the text of Go's `*PathError`.

pub mod duration;
pub mod number;
pub mod path;
pub mod quote;
pub mod time;

/// Go's `*PathError` text for `op` (`stat`, `open`, `mkdir`) on `path`:
/// `stat x.sh: no such file or directory`.
pub fn os_error(op: &str, path: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let why = match e.kind() {
        ErrorKind::NotFound => "no such file or directory".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::NotADirectory => "not a directory".to_string(),
        ErrorKind::IsADirectory => "is a directory".to_string(),
        ErrorKind::AlreadyExists => "file exists".to_string(),
        // Rust appends " (os error N)" to strerror's text; Go prints it bare, in lower case.
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    };
    format!("{op} {path}: {why}")
}
