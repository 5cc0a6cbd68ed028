//! The `sftp` subsystem, served here over the communicator (it has no streaming stdin to run a
//! remote `sftp-server` through).
//!
//! - A file opened for writing is buffered in a local temporary file and uploaded with
//!   [`Communicator::upload`](forge_core::plugin::Communicator::upload) when it is closed (so a
//!   missing directory or a full disk shows at close); without `TRUNCATE` an existing file is
//!   downloaded first, so partial writes and appends keep its other bytes. An `fsetstat` size
//!   truncates the buffer; a mode given on open or by `fsetstat` is applied after the upload.
//! - A file opened for reading is downloaded to a local temporary file on open; reads are served
//!   from it (changes on the machine after the open are not seen).
//! - `stat`/`lstat`/`opendir`/`readdir`/`mkdir`/`rmdir`/`remove`/`rename`/`setstat`/`readlink`
//!   run `stat -c`, `ls -A`, `mkdir`, `rmdir`, `rm`, `mv`, `chmod`/`chown`/`touch`/`truncate`,
//!   `readlink` on the machine; failures map to `NoSuchFile`, `PermissionDenied` or `Failure`
//!   as OpenSSH's sftp-server maps errno.
//!
//! Not modelled: `realpath` is lexical (relative to the directory commands start in, asked once
//! with `pwd`; symlinks not resolved); `symlink` and extensions (`posix-rename@openssh.com`, `statvfs`, ...) answer
//! `OpUnsupported`; `rename` refuses an existing target (SFTPv3); user and group names are not
//! reported; names holding a newline are not listed; a file open for writing is invisible to
//! other handles until it is closed.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use russh::server::Msg;
use russh::Channel;
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::exec::Out;
use super::remote::{self, FsError, Stat};
use super::{sh_quote, Shared};

/// Serves sftp on `channel` (in a task of its own) until the client closes it.
pub(super) async fn start(shared: Arc<Shared>, channel: Channel<Msg>) {
    let shared_cancel = shared.ctx.cancel.child_token();
    let handler = Sftp {
        shared,
        handles: HashMap::new(),
        next: 0,
        last_stat: None,
    };
    // The sftp server runs on one end of a pipe; the channel is pumped to the other, so the
    // exit status (which `scp` checks) can be sent when the session ends.
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    russh_sftp::server::run(theirs, handler).await;
    tokio::spawn(pump(shared_cancel, channel, ours));
}

/// Copies the channel to the sftp server and back; when the server ends (the client sent EOF or
/// left), sends exit status 0 and closes the channel.
async fn pump(cancel: CancellationToken, channel: Channel<Msg>, pipe: tokio::io::DuplexStream) {
    let (mut read, write) = channel.split();
    let out = Out::new(write, cancel);
    let (mut from_sftp, mut to_sftp) = tokio::io::split(pipe);
    let inbound = async {
        let _ = tokio::io::copy(&mut read.make_reader(), &mut to_sftp).await;
        let _ = to_sftp.shutdown().await;
    };
    let outbound = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from_sftp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !out.send(false, buf[..n].to_vec()).await {
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(inbound, outbound) } => {}
        _ = out.gone.cancelled() => {}
    }
    out.finish(0).await;
}

/// One open handle.
enum Open {
    /// A file buffered locally: uploaded on close when `write`.
    File {
        path: String,
        local: PathBuf,
        file: std::fs::File,
        write: bool,
        attrs: Option<FileAttributes>,
        stat: Stat,
    },
    /// A directory listing, handed out by the first `readdir`.
    Dir { entries: Option<Vec<File>> },
}

struct Sftp {
    shared: Arc<Shared>,
    handles: HashMap<String, Open>,
    next: u64,
    /// The answer to the last `stat`: an `open` of that path right after it reuses it (clients
    /// stat before they open); anything that changes files forgets it.
    last_stat: Option<(String, Result<Stat, FsError>)>,
}

impl Drop for Sftp {
    fn drop(&mut self) {
        for (_, h) in self.handles.drain() {
            if let Open::File { local, .. } = h {
                let _ = std::fs::remove_file(local);
            }
        }
    }
}

fn fail(e: FsError) -> StatusReply {
    tracing::debug!("ansible proxy sftp: {}", e.message());
    StatusReply::new(e.code()).with_message(e.message())
}

fn local_fail(what: &str, e: std::io::Error) -> StatusReply {
    tracing::warn!("ansible proxy sftp: {what}: {e}");
    StatusReply::new(StatusCode::Failure).with_message(format!("{what}: {e}"))
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

fn attrs_of(s: &Stat) -> FileAttributes {
    FileAttributes {
        size: Some(s.size),
        uid: Some(s.uid),
        gid: Some(s.gid),
        permissions: Some(s.mode),
        atime: Some(s.atime),
        mtime: Some(s.mtime),
        ..FileAttributes::empty()
    }
}

/// `path` joined to `cwd` when relative, with `.` and `..` resolved lexically.
fn normalize(cwd: &str, path: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The script applying `attrs` to `path` (chmod, chown, touch, truncate); `None` when nothing.
fn setstat_script(path: &str, a: &FileAttributes) -> Option<String> {
    let q = sh_quote(path);
    let mut cmds = Vec::new();
    if let Some(size) = a.size {
        cmds.push(format!("truncate -s {size} -- {q}"));
    }
    if let Some(p) = a.permissions {
        cmds.push(format!("chmod {:o} -- {q}", p & 0o7777));
    }
    if let (Some(u), Some(g)) = (a.uid, a.gid) {
        cmds.push(format!("chown {u}:{g} -- {q}"));
    }
    if let Some(m) = a.mtime {
        cmds.push(format!("touch -m -d @{m} -- {q}"));
    }
    if let Some(t) = a.atime {
        cmds.push(format!("touch -a -d @{t} -- {q}"));
    }
    (!cmds.is_empty()).then(|| format!("set -e; {}", cmds.join("; ")))
}

impl Sftp {
    fn new_handle(&mut self, open: Open) -> String {
        self.next += 1;
        let h = self.next.to_string();
        self.handles.insert(h.clone(), open);
        h
    }

    async fn path(&mut self, path: &str) -> Result<String, StatusReply> {
        if path.starts_with('/') {
            return Ok(normalize("/", path));
        }
        let known = self.shared.cwd.lock().ok().and_then(|c| c.clone());
        let cwd = match known {
            Some(c) => c,
            None => {
                let out = remote::run(&self.shared, "finding the working directory", "pwd")
                    .await
                    .map_err(fail)?;
                let c = out.trim().to_string();
                if let Ok(mut slot) = self.shared.cwd.lock() {
                    *slot = Some(c.clone());
                }
                c
            }
        };
        Ok(normalize(&cwd, path))
    }

    async fn setstat_path(
        &mut self,
        path: &str,
        attrs: &FileAttributes,
    ) -> Result<(), StatusReply> {
        self.last_stat = None;
        if let Some(script) = setstat_script(path, attrs) {
            remote::run(&self.shared, &format!("setstat {path}"), &script)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    async fn open_file(
        &mut self,
        path: String,
        flags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<String, StatusReply> {
        let write = flags.intersects(OpenFlags::WRITE | OpenFlags::APPEND);
        let known = match self.last_stat.take() {
            Some((p, r)) if p == path => Some(r),
            _ => None,
        };
        let stat = match known {
            Some(r) => r,
            None => remote::stat(&self.shared, &path, true).await,
        };
        let existing = match stat {
            Ok(s) => Some(s),
            Err(FsError::NoSuchFile(_)) => None,
            Err(e) => return Err(fail(e)),
        };
        if let Some(s) = &existing {
            if s.is_dir() {
                return Err(StatusReply::new(StatusCode::Failure)
                    .with_message(format!("{path}: is a directory")));
            }
            if write && flags.contains(OpenFlags::CREATE | OpenFlags::EXCLUDE) {
                return Err(StatusReply::new(StatusCode::Failure)
                    .with_message(format!("{path}: file exists")));
            }
        } else if !write || !flags.contains(OpenFlags::CREATE) {
            return Err(StatusReply::new(StatusCode::NoSuchFile)
                .with_message(format!("{path}: no such file or directory")));
        }
        let local = self.shared.tmp_file("sftp");
        let fetch = existing.is_some() && !(write && flags.contains(OpenFlags::TRUNCATE));
        if fetch {
            if let Err(e) = self
                .shared
                .comm
                .download(&self.shared.ctx, &path, &local)
                .await
            {
                let _ = std::fs::remove_file(&local);
                return Err(StatusReply::new(StatusCode::Failure)
                    .with_message(format!("downloading {path}: {e}")));
            }
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!fetch)
            .open(&local)
            .map_err(|e| local_fail("opening a local buffer", e))?;
        let mut stat = existing.unwrap_or_default();
        if existing.is_none() {
            stat.mode = 0o100000 | attrs.permissions.map_or(0o644, |p| p & 0o7777);
        }
        let attrs = (write && attrs.permissions.is_some()).then_some(FileAttributes {
            permissions: attrs.permissions,
            ..FileAttributes::empty()
        });
        Ok(self.new_handle(Open::File {
            path,
            local,
            file,
            write,
            attrs,
            stat,
        }))
    }

    async fn close_file(&mut self, handle: &str) -> Result<(), StatusReply> {
        self.last_stat = None;
        let Some(open) = self.handles.remove(handle) else {
            return Err(StatusReply::new(StatusCode::Failure).with_message("no such handle"));
        };
        let Open::File {
            path,
            local,
            file,
            write,
            attrs,
            stat,
        } = open
        else {
            return Ok(());
        };
        let mut result = Ok(());
        if write {
            use std::os::unix::fs::PermissionsExt;
            drop(file);
            // A new file gets this mode from communicators that copy modes (docker cp, scp).
            let mode = std::fs::Permissions::from_mode(stat.mode & 0o777);
            let _ = std::fs::set_permissions(&local, mode);
            result = match self
                .shared
                .comm
                .upload(&self.shared.ctx, &path, &local)
                .await
            {
                Ok(()) => match &attrs {
                    Some(a) => self.setstat_path(&path, a).await,
                    None => Ok(()),
                },
                Err(e) => Err(StatusReply::new(StatusCode::Failure)
                    .with_message(format!("uploading {path}: {e}"))),
            };
        }
        let _ = std::fs::remove_file(&local);
        result
    }
}

impl russh_sftp::server::Handler for Sftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusReply::new(StatusCode::OpUnsupported)
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let path = self.path(&filename).await?;
        tracing::debug!(path, flags = pflags.bits(), "ansible proxy sftp: open");
        let handle = self.open_file(path, pflags, attrs).await?;
        Ok(Handle { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.close_file(&handle).await?;
        Ok(ok(id))
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let Some(Open::File { file, .. }) = self.handles.get(&handle) else {
            return Err(StatusReply::new(StatusCode::Failure).with_message("not a file handle"));
        };
        let mut buf = vec![0u8; len.min(256 * 1024) as usize];
        let n = file
            .read_at(&mut buf, offset)
            .map_err(|e| local_fail("reading the local buffer", e))?;
        if n == 0 && len > 0 {
            return Err(StatusReply::new(StatusCode::Eof));
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        match self.handles.get(&handle) {
            Some(Open::File {
                file, write: true, ..
            }) => {
                file.write_all_at(&data, offset)
                    .map_err(|e| local_fail("writing the local buffer", e))?;
                Ok(ok(id))
            }
            _ => Err(StatusReply::new(StatusCode::PermissionDenied)
                .with_message("not a handle open for writing")),
        }
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let path = self.path(&path).await?;
        let s = remote::stat(&self.shared, &path, false)
            .await
            .map_err(fail)?;
        Ok(Attrs {
            id,
            attrs: attrs_of(&s),
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let path = self.path(&path).await?;
        let r = remote::stat(&self.shared, &path, true).await;
        self.last_stat = Some((path, r.clone()));
        let s = r.map_err(fail)?;
        Ok(Attrs {
            id,
            attrs: attrs_of(&s),
        })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        match self.handles.get(&handle) {
            Some(Open::File { file, stat, .. }) => {
                let mut s = *stat;
                if let Ok(m) = file.metadata() {
                    s.size = m.len();
                }
                Ok(Attrs {
                    id,
                    attrs: attrs_of(&s),
                })
            }
            _ => Err(StatusReply::new(StatusCode::Failure).with_message("not a file handle")),
        }
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = self.path(&path).await?;
        self.setstat_path(&path, &attrs).await?;
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = match self.handles.get_mut(&handle) {
            Some(Open::File {
                write: true,
                attrs: pending,
                stat,
                file,
                ..
            }) => {
                // The size applies to the local buffer; the rest after the upload, on close.
                if let Some(size) = attrs.size {
                    file.set_len(size)
                        .map_err(|e| local_fail("truncating the local buffer", e))?;
                }
                if let Some(p) = attrs.permissions {
                    stat.mode = (stat.mode & !0o7777) | (p & 0o7777);
                }
                let mut a = pending.take().unwrap_or_default();
                a.permissions = attrs.permissions.or(a.permissions);
                a.uid = attrs.uid.or(a.uid);
                a.gid = attrs.gid.or(a.gid);
                a.atime = attrs.atime.or(a.atime);
                a.mtime = attrs.mtime.or(a.mtime);
                *pending = Some(a);
                return Ok(ok(id));
            }
            Some(Open::File { path, .. }) => path.clone(),
            _ => {
                return Err(StatusReply::new(StatusCode::Failure).with_message("not a file handle"))
            }
        };
        self.setstat_path(&path, &attrs).await?;
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = self.path(&path).await?;
        let entries = remote::list(&self.shared, &path).await.map_err(fail)?;
        let files = entries
            .into_iter()
            .map(|(name, s)| File::new(name, attrs_of(&s)))
            .collect();
        let handle = self.new_handle(Open::Dir {
            entries: Some(files),
        });
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.handles.get_mut(&handle) {
            Some(Open::Dir { entries }) => match entries.take() {
                Some(files) if !files.is_empty() => Ok(Name { id, files }),
                _ => Err(StatusReply::new(StatusCode::Eof)),
            },
            _ => Err(StatusReply::new(StatusCode::Failure).with_message("not a directory handle")),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let path = self.path(&filename).await?;
        self.last_stat = None;
        let q = sh_quote(&path);
        let script = format!(
            "[ -e {q} ] || [ -L {q} ] || exit {}; rm -- {q}",
            remote::MISSING
        );
        remote::run(&self.shared, &format!("removing {path}"), &script)
            .await
            .map_err(fail)?;
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = self.path(&path).await?;
        let mode = attrs
            .permissions
            .map(|p| format!("-m {:o} ", p & 0o7777))
            .unwrap_or_default();
        self.last_stat = None;
        let script = format!("mkdir {mode}-- {}", sh_quote(&path));
        remote::run(&self.shared, &format!("mkdir {path}"), &script)
            .await
            .map_err(fail)?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        let path = self.path(&path).await?;
        self.last_stat = None;
        let script = format!("rmdir -- {}", sh_quote(&path));
        remote::run(&self.shared, &format!("rmdir {path}"), &script)
            .await
            .map_err(fail)?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let path = self.path(&path).await?;
        Ok(Name {
            id,
            files: vec![File::dummy(path)],
        })
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        let from = self.path(&oldpath).await?;
        let to = self.path(&newpath).await?;
        self.last_stat = None;
        let (f, t) = (sh_quote(&from), sh_quote(&to));
        let script = format!(
            "[ -e {f} ] || [ -L {f} ] || exit {}; [ -e {t} ] || [ -L {t} ] && exit {}; mv -- {f} {t}",
            remote::MISSING,
            remote::EXISTS
        );
        remote::run(&self.shared, &format!("renaming {from} to {to}"), &script)
            .await
            .map_err(fail)?;
        Ok(ok(id))
    }

    async fn readlink(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let path = self.path(&path).await?;
        let script = format!("readlink -- {}", sh_quote(&path));
        let out = remote::run(&self.shared, &format!("readlink {path}"), &script)
            .await
            .map_err(fail)?;
        Ok(Name {
            id,
            files: vec![File::dummy(out.trim_end_matches('\n'))],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize("/home/u", "."), "/home/u");
        assert_eq!(normalize("/home/u", "a/../b/./c"), "/home/u/b/c");
        assert_eq!(normalize("/x", "/tmp//y/"), "/tmp/y");
        assert_eq!(normalize("/", "../.."), "/");
    }

    #[test]
    fn setstat_scripts_quote_and_skip_empty_attrs() {
        assert_eq!(setstat_script("/a", &FileAttributes::empty()), None);
        let a = FileAttributes {
            permissions: Some(0o100755),
            mtime: Some(5),
            ..FileAttributes::empty()
        };
        let s = setstat_script("/it's", &a).unwrap();
        assert_eq!(
            s,
            "set -e; chmod 755 -- '/it'\\''s'; touch -m -d @5 -- '/it'\\''s'"
        );
    }
}
