//! Port ranges shared safely by concurrent builds (Packer's `ListenRangeConfig`): a port is
//! taken by holding an advisory lock on `<lock dir>/port-<n>.lock` and checking that nothing
//! listens on it. The lock is held until the [`PortLock`] is dropped, and the lock file is
//! journaled, so `forge cleanup` removes one a killed run left (the lock itself dies with the
//! process).

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

use forge_core::local::{track, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};

/// A reserved port.
pub struct PortLock {
    /// The port.
    pub port: u16,
    // Order matters: the file is removed (journaled TempPath, or by Drop for an unjournaled
    // one) while the lock is still held (File, dropped last).
    _journaled: Option<TempPath>,
    plain: Option<PathBuf>,
    _file: std::fs::File,
}

impl std::fmt::Debug for PortLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PortLock({})", self.port)
    }
}

impl Drop for PortLock {
    fn drop(&mut self) {
        if let Some(p) = self.plain.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Where the lock files live: one directory for every forge process on the machine.
fn lock_dir() -> PathBuf {
    std::env::var_os("FORGE_PORT_LOCK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/forge-port-locks"))
}

/// Tries to lock one port's file; the open file when this process now holds it.
fn try_lock(path: &std::path::Path) -> Option<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()?;
    // SAFETY: flock(2) on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return None;
    }
    // The holder before us may have removed the file between our open and our lock: the
    // lock only counts if the path still names the file we locked.
    let same = match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    };
    same.then_some(f)
}

/// Finds and locks a free port in `[min, max)` on `bind` (Packer's ranges exclude the maximum;
/// a range of one port, min == max, is allowed), starting at a random offset so concurrent
/// builds spread; returns it bound.
fn acquire(
    dir: &std::path::Path,
    min: u16,
    max: u16,
    bind: &str,
    what: &str,
    cancel: Option<&tokio_util::sync::CancellationToken>,
) -> Result<(u16, std::fs::File, PathBuf, TcpListener)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::msg(format!("creating {}: {e}", dir.display())))?;
    // Every user's builds share the directory.
    let _ = std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o1777));
    let max = max.max(min + 1);
    let span = (max - min) as u32;
    let start = (uuid::Uuid::new_v4().as_u128() % span as u128) as u32;
    for i in 0..span {
        if cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        let port = min + ((start + i) % span) as u16;
        let path = dir.join(format!("port-{port}.lock"));
        let Some(file) = try_lock(&path) else {
            continue;
        };
        let host = if bind.is_empty() { "0.0.0.0" } else { bind };
        let Ok(listener) = TcpListener::bind((host, port)) else {
            // In use by something other than a build: the lock is ours, so is the file.
            let _ = std::fs::remove_file(&path);
            continue;
        };
        return Ok((port, file, path, listener));
    }
    Err(Error::msg(format!(
        "no free {what} port in the range {min}-{max} on {bind}: every port is in use or held by another build"
    )))
}

/// Reserves a port for a program forge starts (qemu binds it itself); the lock file is
/// journaled.
pub fn reserve(ctx: &BuildCtx, min: u16, max: u16, bind: &str, what: &str) -> Result<PortLock> {
    reserve_in(ctx, &lock_dir(), min, max, bind, what)
}

fn reserve_in(
    ctx: &BuildCtx,
    dir: &std::path::Path,
    min: u16,
    max: u16,
    bind: &str,
    what: &str,
) -> Result<PortLock> {
    let (port, file, path, listener) = acquire(dir, min, max, bind, what, Some(&ctx.cancel))?;
    drop(listener);
    let guard = track(ctx, &path, false)?;
    Ok(PortLock {
        port,
        _journaled: Some(guard),
        plain: None,
        _file: file,
    })
}

/// Reserves a port and keeps it bound, for a server of forge's own.
pub fn listen(min: u16, max: u16, bind: &str, what: &str) -> Result<(TcpListener, PortLock)> {
    let (port, file, path, listener) = acquire(&lock_dir(), min, max, bind, what, None)?;
    Ok((
        listener,
        PortLock {
            port,
            _journaled: None,
            plain: Some(path),
            _file: file,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two adjacent ports nothing listens on now, below Linux's ephemeral range (32768 and up)
    /// so the outgoing connections of tests running beside this one cannot take them.
    fn free_pair() -> u16 {
        let start = (uuid::Uuid::new_v4().as_u128() % 10_000) as u16;
        (0..10_000u16)
            .map(|i| 20_000 + (start + i) % 10_000)
            .find(|&p| {
                TcpListener::bind(("127.0.0.1", p)).is_ok()
                    && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
            })
            .expect("two adjacent free ports between 20000 and 30001")
    }

    #[test]
    fn ports_are_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = BuildCtx::for_test("ports");
        let (min, max) = {
            let p = free_pair();
            (p, p + 2)
        };
        let reserve = |min, max, bind, what| reserve_in(&ctx, dir.path(), min, max, bind, what);
        let a = reserve(min, max, "127.0.0.1", "test").unwrap();
        let b = reserve(min, max, "127.0.0.1", "test").unwrap();
        assert_ne!(a.port, b.port);
        let e = reserve(min, max, "127.0.0.1", "test")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(&format!("no free test port in the range {min}-{max}")),
            "{e}"
        );
        let freed = a.port;
        drop(a);
        assert!(!dir.path().join(format!("port-{freed}.lock")).exists());
        let c = reserve(min, max, "127.0.0.1", "test").unwrap();
        assert_eq!(c.port, freed);
        // A port something else listens on is skipped.
        drop(c);
        let l = TcpListener::bind(("127.0.0.1", freed)).unwrap();
        let d = reserve(freed, freed, "127.0.0.1", "test");
        assert!(d.is_err());
        drop(l);
        drop(b);
    }
}
