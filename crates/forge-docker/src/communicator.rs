//! The docker communicator: commands through the Engine's exec endpoint, files through its
//! archive endpoint (PUT/GET `/containers/{id}/archive`), as Packer's `docker exec`/`docker cp`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::local::{track, TempPath};
use forge_core::plugin::{BuildCtx, Communicator, Stream};
use forge_core::{Error, Result};

use crate::driver::Driver;
use crate::shell::{Outcome, Session};

/// Files up to this size are uploaded from memory rather than through a temporary archive.
const SMALL: u64 = 1 << 20;

/// A user's persistent shell, and whether it has run a command yet.
type Shell = (Option<String>, Box<dyn Session>, bool);

/// A communicator into one running container.
pub struct DockerCommunicator {
    /// The engine.
    pub driver: Arc<dyn Driver>,
    /// The container.
    pub container_id: String,
    /// `exec_user`: who runs commands.
    pub exec_user: Option<String>,
    /// The container's configured user (owner of uploads; root when empty).
    pub container_user: String,
    /// `fix_upload_owner`.
    pub fix_upload_owner: bool,
    /// Persistent shells by user (see [`crate::shell`]), with whether each has run a command.
    pub sessions: tokio::sync::Mutex<Vec<Shell>>,
    /// Set when the container cannot keep a shell (no `/bin/sh`): plain execs from then on.
    pub plain: std::sync::atomic::AtomicBool,
}

impl DockerCommunicator {
    /// A communicator into container `container_id`.
    pub fn new(
        driver: Arc<dyn Driver>,
        container_id: String,
        exec_user: Option<String>,
        container_user: String,
        fix_upload_owner: bool,
    ) -> DockerCommunicator {
        DockerCommunicator {
            driver,
            container_id,
            exec_user,
            container_user,
            fix_upload_owner,
            sessions: Default::default(),
            plain: Default::default(),
        }
    }

    /// Runs `cmd` through `/bin/sh` as `user`: in the user's persistent shell when the container
    /// can keep one, else in an exec of its own (`/bin/sh -c "(cmd)"`, as Packer).
    async fn sh(
        &self,
        ctx: &BuildCtx,
        user: Option<&str>,
        cmd: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        use std::sync::atomic::Ordering;
        if !self.plain.load(Ordering::SeqCst) {
            let key = user.map(str::to_string);
            let mut sessions = self.sessions.lock().await;
            let known = sessions.iter().any(|(k, _, _)| *k == key);
            if !known {
                match self.driver.shell(&self.container_id, user).await {
                    Ok(s) => sessions.push((key.clone(), s, false)),
                    Err(e) => {
                        tracing::debug!("no persistent shell ({e}); using one exec per command");
                        self.plain.store(true, Ordering::SeqCst);
                    }
                }
            }
            let found = sessions.iter().position(|(k, _, _)| *k == key);
            if let Some(i) = found {
                let r = sessions[i].1.run(ctx, cmd, output).await;
                match r {
                    Ok(Outcome::Exited(code)) => {
                        sessions[i].2 = true;
                        return Ok(code);
                    }
                    Ok(Outcome::ShellDied) if !sessions[i].2 => {
                        // It never ran a command: the container has no usable /bin/sh to
                        // keep; the command did not run.
                        sessions.remove(i);
                        self.plain.store(true, Ordering::SeqCst);
                    }
                    Ok(Outcome::ShellDied) => {
                        sessions.remove(i);
                        return Err(Error::msg(
                            "the container's shell ended while the command ran (did the command stop the container or kill its shell?)",
                        ));
                    }
                    Err(e) => {
                        sessions.remove(i);
                        return Err(e);
                    }
                }
            }
        }
        let argv = ["/bin/sh".to_string(), "-c".into(), format!("({cmd})")];
        self.driver
            .exec(ctx, &self.container_id, user, &argv, output)
            .await
    }
}

/// The directory part of a container path (`/` for a bare name).
fn dirname(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => t[..i].to_string(),
        None => "/".into(),
    }
}

/// The last part of a container path.
fn basename(p: &str) -> String {
    p.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn temp_tar(ctx: &BuildCtx) -> Result<TempPath> {
    let p = std::env::temp_dir().join(format!("forge-docker-{}.tar", uuid::Uuid::new_v4()));
    track(ctx, &p, false)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    what: String,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::msg(format!("{what}: {e}")))?
        .map_err(|e| Error::msg(format!("{what}: {e}")))
}

impl DockerCommunicator {
    /// Runs a command as root, failing on a non-zero exit.
    async fn root(&self, ctx: &BuildCtx, cmd: &str) -> Result<()> {
        let mut out = Vec::new();
        let code = self
            .sh(ctx, Some("root"), cmd, &mut |_, l| out.push(l.to_string()))
            .await?;
        if code != 0 {
            return Err(Error::msg(format!(
                "{cmd} exited with status {code}: {}",
                out.join("\n")
            )));
        }
        Ok(())
    }

    /// Packer's fixDestinationOwner: `chown -R <container user> <dst>` after an upload.
    async fn fix_owner(&self, ctx: &BuildCtx, dst: &str) -> Result<()> {
        if !self.fix_upload_owner {
            return Ok(());
        }
        let owner = self.owner();
        self.root(
            ctx,
            &format!("chown -R {} {}", sh_quote(owner), sh_quote(dst)),
        )
        .await
        .map_err(|e| e.context(format!("fixing the owner of {dst}")))
    }

    /// Who should own uploads: the container's user, root when it has none.
    fn owner(&self) -> &str {
        match self.container_user.as_str() {
            "" | "0" | "0:0" => "root",
            u => u,
        }
    }

    /// Makes sure the directory an archive goes into exists.
    async fn mkdir(&self, ctx: &BuildCtx, dir: &str) -> Result<()> {
        self.root(ctx, &format!("mkdir -p {}", sh_quote(dir))).await
    }

    async fn put(&self, ctx: &BuildCtx, dir: &str, tar: &Path) -> Result<()> {
        self.mkdir(ctx, dir).await?;
        self.driver.upload(ctx, &self.container_id, dir, tar).await
    }
}

#[async_trait]
impl Communicator for DockerCommunicator {
    async fn exec(
        &self,
        ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(Stream, &'a str) + Send),
    ) -> Result<i32> {
        self.sh(ctx, self.exec_user.as_deref(), command, output)
            .await
    }

    async fn upload(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        let dst = if dst.ends_with('/') {
            format!(
                "{dst}{}",
                src.file_name().unwrap_or_default().to_string_lossy()
            )
        } else {
            dst.to_string()
        };
        let name = basename(&dst);
        let size = std::fs::metadata(src).map(|m| m.len()).unwrap_or(u64::MAX);
        let r = if size <= SMALL {
            // A small file (a script, a config) travels as an in-memory archive.
            // Owned by root in the archive when root is the owner to be: no chown needed.
            let as_root = self.fix_upload_owner && self.owner() == "root";
            let s = src.to_path_buf();
            let tar = blocking(
                move || {
                    let mut b = tar::Builder::new(Vec::new());
                    let mut f = std::fs::File::open(&s)?;
                    let mut h = tar::Header::new_gnu();
                    h.set_metadata(&f.metadata()?);
                    if as_root {
                        h.set_uid(0);
                        h.set_gid(0);
                    }
                    b.append_data(&mut h, &name, &mut f)?;
                    b.into_inner()
                },
                format!("packing {} for upload", src.display()),
            )
            .await?;
            self.mkdir(ctx, &dirname(&dst)).await?;
            self.driver
                .upload_bytes(ctx, &self.container_id, &dirname(&dst), tar)
                .await
                .map(|_| as_root)
        } else {
            let tar = temp_tar(ctx)?;
            let (tp, s) = (tar.path().to_path_buf(), src.to_path_buf());
            blocking(
                move || {
                    let mut b = tar::Builder::new(std::fs::File::create(&tp)?);
                    let mut f = std::fs::File::open(&s)?;
                    b.append_file(&name, &mut f)?;
                    b.into_inner().map(drop)
                },
                format!("packing {} for upload", src.display()),
            )
            .await?;
            self.put(ctx, &dirname(&dst), tar.path())
                .await
                .map(|_| false)
        };
        let owned = r.map_err(|e| e.context(format!("uploading {} to {dst}", src.display())))?;
        if owned {
            return Ok(());
        }
        self.fix_owner(ctx, &dst).await
    }

    async fn upload_dir(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> Result<()> {
        // Packer's rule: `src/` uploads the contents into dst, `src` uploads dst/<basename>.
        let contents = src.as_os_str().to_string_lossy().ends_with('/');
        let prefix = if contents {
            PathBuf::from(".")
        } else {
            PathBuf::from(src.file_name().unwrap_or_default())
        };
        let target = if contents {
            dst.to_string()
        } else {
            format!("{}/{}", dst.trim_end_matches('/'), prefix.display())
        };
        let tar = temp_tar(ctx)?;
        let (tp, s) = (tar.path().to_path_buf(), src.to_path_buf());
        blocking(
            move || {
                let mut b = tar::Builder::new(std::fs::File::create(&tp)?);
                b.follow_symlinks(false);
                b.append_dir_all(&prefix, &s)?;
                b.into_inner().map(drop)
            },
            format!("packing {} for upload", src.display()),
        )
        .await?;
        self.put(ctx, dst, tar.path())
            .await
            .map_err(|e| e.context(format!("uploading {} to {dst}", src.display())))?;
        self.fix_owner(ctx, &target).await
    }

    async fn download(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let tar = temp_tar(ctx)?;
        self.driver
            .download(&self.container_id, src, tar.path())
            .await
            .map_err(|e| match e {
                // Packer's text: the docker CLI's stderr, newline included.
                Error::Msg(m) => Error::msg(format!("Error downloading file: {m}\n")),
                e => e,
            })?;
        let (tp, d) = (tar.path().to_path_buf(), dst.to_path_buf());
        blocking(
            move || {
                let mut a = tar::Archive::new(std::fs::File::open(&tp)?);
                let mut e = a.entries()?.next().ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "the archive is empty")
                })??;
                let mut f = std::fs::File::create(&d)?;
                std::io::copy(&mut e, &mut f)?;
                Ok(())
            },
            format!("downloading {src} to {}", dst.display()),
        )
        .await
    }

    async fn download_dir(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> Result<()> {
        let tar = temp_tar(ctx)?;
        self.driver
            .download(&self.container_id, src, tar.path())
            .await?;
        let (tp, d) = (tar.path().to_path_buf(), dst.to_path_buf());
        blocking(
            move || {
                std::fs::create_dir_all(&d)?;
                let mut a = tar::Archive::new(std::fs::File::open(&tp)?);
                for e in a.entries()? {
                    let mut e = e?;
                    // Entries are rooted at basename(src): unpack its contents into dst.
                    let p = e.path()?.into_owned();
                    let rel: PathBuf = p.components().skip(1).collect();
                    if rel.as_os_str().is_empty() {
                        continue;
                    }
                    if rel
                        .components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                    {
                        continue;
                    }
                    let to = d.join(&rel);
                    if let Some(p) = to.parent() {
                        std::fs::create_dir_all(p)?;
                    }
                    e.unpack(&to)?;
                }
                Ok(())
            },
            format!("downloading {src} to {}", dst.display()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(dirname("/tmp/a.txt"), "/tmp");
        assert_eq!(dirname("/a.txt"), "/");
        assert_eq!(dirname("a.txt"), "/");
        assert_eq!(basename("/tmp/a.txt"), "a.txt");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }

    use crate::fake::{ctx, Call, FakeDriver, Op, Reply};

    /// A communicator into a running container of the fake whose user is `user`.
    async fn comm(user: &str, fix: bool) -> (Arc<FakeDriver>, DockerCommunicator) {
        let fake = FakeDriver::new();
        let id = fake.running("c", None).await;
        let c = DockerCommunicator::new(fake.clone(), id, None, user.into(), fix);
        (fake, c)
    }

    /// The commands run so far: `(user, command)`, through a shell or an exec.
    fn commands(fake: &FakeDriver) -> Vec<(String, String)> {
        fake.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::ShellRun { user, cmd, .. } => Some((user.unwrap_or_default(), cmd)),
                Call::Exec { user, cmd, .. } => {
                    Some((user.unwrap_or_default(), format!("exec {}", cmd.join(" "))))
                }
                _ => None,
            })
            .collect()
    }

    async fn run(c: &DockerCommunicator, ctx: &BuildCtx, cmd: &str) -> Result<(i32, Vec<String>)> {
        let mut out = Vec::new();
        let code = c
            .exec(ctx, cmd, &mut |s, l| out.push(format!("{s:?}:{l}")))
            .await?;
        Ok((code, out))
    }

    fn file(dir: &Path, name: &str, len: usize) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![b'x'; len]).unwrap();
        p
    }

    #[tokio::test]
    async fn commands_share_one_shell_per_user_and_pass_output_and_status_on() {
        let (ctx, _) = ctx();
        let (fake, mut c) = comm("", true).await;
        c.exec_user = Some("app".into());
        fake.reply(
            "make",
            Reply::code(
                2,
                &[(Stream::Stdout, "building"), (Stream::Stderr, "failed")],
            ),
        );
        assert_eq!(
            run(&c, &ctx, "make").await.unwrap(),
            (2, vec!["Stdout:building".into(), "Stderr:failed".into()])
        );
        assert_eq!(run(&c, &ctx, "true").await.unwrap().0, 0);
        let shells = fake.calls_of(Op::Shell);
        assert_eq!(
            shells,
            [Call::Shell {
                id: c.container_id.clone(),
                user: Some("app".into())
            }]
        );
        assert_eq!(
            commands(&fake),
            [("app".into(), "make".into()), ("app".into(), "true".into())]
        );
    }

    #[tokio::test]
    async fn without_a_shell_each_command_is_an_exec_of_its_own() {
        let (ctx, _) = ctx();
        let (fake, c) = comm("", true).await;
        fake.fail(
            Op::Shell,
            "OCI runtime exec failed: exec: \"/bin/sh\": not found",
        );
        fake.reply("exit 4", Reply::code(4, &[]));
        assert_eq!(run(&c, &ctx, "exit 4").await.unwrap().0, 4);
        assert_eq!(run(&c, &ctx, "echo hi").await.unwrap().0, 0);
        assert_eq!(fake.calls_of(Op::Shell).len(), 1, "tried once");
        assert_eq!(
            commands(&fake),
            [
                (String::new(), "exec /bin/sh -c (exit 4)".into()),
                (String::new(), "exec /bin/sh -c (echo hi)".into())
            ]
        );
    }

    #[tokio::test]
    async fn a_shell_that_dies_at_once_means_execs_and_one_that_dies_later_is_an_error() {
        let (ctx, _) = ctx();
        let (fake, c) = comm("", true).await;
        fake.reply("first", Reply::dies());
        assert_eq!(run(&c, &ctx, "first").await.unwrap().0, 0);
        assert_eq!(
            commands(&fake)[1],
            (String::new(), "exec /bin/sh -c (first)".into())
        );

        let (ctx, _) = crate::fake::ctx();
        let (fake, c) = comm("", true).await;
        fake.reply("kill", Reply::dies());
        run(&c, &ctx, "true").await.unwrap();
        let m = run(&c, &ctx, "kill -9 $$").await.unwrap_err().to_string();
        assert_eq!(m, "the container's shell ended while the command ran (did the command stop the container or kill its shell?)");
        // The next command gets a new shell.
        run(&c, &ctx, "true").await.unwrap();
        assert_eq!(fake.calls_of(Op::Shell).len(), 2);
        assert!(fake.calls_of(Op::Exec).is_empty());
    }

    #[tokio::test]
    async fn commands_in_a_removed_container_fail() {
        let (ctx, _) = ctx();
        let (fake, c) = comm("", true).await;
        fake.fail(Op::Shell, "x");
        fake.remove_container(&c.container_id).await.unwrap();
        let m = run(&c, &ctx, "true").await.unwrap_err().to_string();
        assert_eq!(
            m,
            format!(
                "creating an exec in the container: No such container: {}",
                c.container_id
            )
        );
    }

    #[tokio::test]
    async fn a_small_upload_travels_in_memory_owned_by_root_without_a_chown() {
        let (ctx, _) = ctx();
        let (fake, c) = comm("0", true).await;
        let d = tempfile::tempdir().unwrap();
        let src = file(d.path(), "script.sh", 10);
        // Whoever owns it here, it arrives as root's.
        let _ = std::os::unix::fs::chown(&src, Some(65534), Some(65534));
        c.upload(&ctx, "/opt/bin/", &src).await.unwrap();
        let up = fake.calls_of(Op::UploadBytes);
        assert_eq!(
            up,
            [Call::Upload {
                id: c.container_id.clone(),
                dir: "/opt/bin".into(),
                entries: vec![("script.sh".into(), 0)],
                in_memory: true,
            }]
        );
        assert_eq!(
            commands(&fake),
            [("root".into(), "mkdir -p '/opt/bin'".into())]
        );
        assert_eq!(
            fake.model().containers[&c.container_id].files["/opt/bin/script.sh"],
            vec![b'x'; 10]
        );
    }

    #[tokio::test]
    async fn without_fix_upload_owner_a_small_upload_keeps_the_files_owner() {
        use std::os::unix::fs::MetadataExt;
        let (ctx, _) = ctx();
        let (fake, c) = comm("", false).await;
        let d = tempfile::tempdir().unwrap();
        let src = file(d.path(), "f", 3);
        // Not root's (a non-root test runner owns it anyway).
        let _ = std::os::unix::fs::chown(&src, Some(65534), Some(65534));
        let uid = std::fs::metadata(&src).unwrap().uid() as u64;
        assert_ne!(uid, 0);
        c.upload(&ctx, "/tmp/f", &src).await.unwrap();
        let Call::Upload { entries, .. } = fake.calls_of(Op::UploadBytes).remove(0) else {
            unreachable!()
        };
        assert_eq!(entries, [("f".to_string(), uid)]);
        assert!(!commands(&fake).iter().any(|(_, c)| c.contains("chown")));
    }

    #[tokio::test]
    async fn a_large_upload_travels_through_a_temporary_archive_then_is_chowned() {
        let (ctx, _) = ctx();
        let (fake, c) = comm("app", true).await;
        let d = tempfile::tempdir().unwrap();
        let src = file(d.path(), "big.bin", (SMALL + 1) as usize);
        c.upload(&ctx, "/data/big.bin", &src).await.unwrap();
        assert_eq!(
            fake.ops()[1..],
            [Op::Shell, Op::ShellRun, Op::Upload, Op::ShellRun]
        );
        assert_eq!(
            commands(&fake),
            [
                ("root".into(), "mkdir -p '/data'".into()),
                ("root".into(), "chown -R 'app' '/data/big.bin'".into())
            ]
        );
        assert_eq!(
            fake.model().containers[&c.container_id].files["/data/big.bin"].len() as u64,
            SMALL + 1
        );
        // The temporary archive is gone.
        assert!(
            ctx.journal.live(None).is_empty(),
            "{:?}",
            ctx.journal.live(None)
        );
    }

    #[tokio::test]
    async fn upload_failures_name_the_file_and_what_failed() {
        let (ctx, _) = ctx();
        let d = tempfile::tempdir().unwrap();
        let src = file(d.path(), "f", 3);
        let (fake, c) = comm("app", true).await;
        fake.reply(
            "mkdir",
            Reply::code(
                1,
                &[(
                    Stream::Stderr,
                    "mkdir: cannot create directory '/ro': Read-only file system",
                )],
            ),
        );
        let m = c.upload(&ctx, "/ro/f", &src).await.unwrap_err().to_string();
        // A small file's failed mkdir is reported without the upload's context (a large
        // file's carries it, through `put`).
        assert_eq!(
            m,
            "mkdir -p '/ro' exited with status 1: mkdir: cannot create directory '/ro': Read-only file system"
        );
        assert!(fake.calls_of(Op::UploadBytes).is_empty());

        let (fake, c) = comm("app", true).await;
        fake.fail(Op::UploadBytes, "Could not find the file /x in container c");
        let m = c.upload(&ctx, "/x/f", &src).await.unwrap_err().to_string();
        assert_eq!(
            m,
            format!("uploading {} to /x/f: copying into the container's /x: Could not find the file /x in container c", src.display())
        );
        assert!(!commands(&fake).iter().any(|(_, c)| c.contains("chown")));

        let (fake, c) = comm("app", true).await;
        fake.reply(
            "chown",
            Reply::code(1, &[(Stream::Stderr, "chown: invalid user: 'app'")]),
        );
        let m = c
            .upload(&ctx, "/tmp/f", &src)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            "fixing the owner of /tmp/f: chown -R 'app' '/tmp/f' exited with status 1: chown: invalid user: 'app'"
        );
    }

    #[tokio::test]
    async fn directories_upload_with_or_without_their_name() {
        let (ctx, _) = ctx();
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/f"), "deep").unwrap();
        let (fake, c) = comm("app", true).await;
        c.upload_dir(&ctx, "/opt/x", &tree).await.unwrap();
        let mut slash = tree.as_os_str().to_owned();
        slash.push("/");
        c.upload_dir(&ctx, "/opt/y", Path::new(&slash))
            .await
            .unwrap();
        let files = fake.model().containers[&c.container_id].files.clone();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["/opt/x/tree/sub/f", "/opt/y/sub/f"]
        );
        assert_eq!(
            commands(&fake),
            [
                ("root".into(), "mkdir -p '/opt/x'".into()),
                ("root".into(), "chown -R 'app' '/opt/x/tree'".into()),
                ("root".into(), "mkdir -p '/opt/y'".into()),
                ("root".into(), "chown -R 'app' '/opt/y'".into()),
            ]
        );
    }

    #[tokio::test]
    async fn files_and_directories_come_back() {
        let (ctx, _) = ctx();
        let (fake, c) = comm("", true).await;
        fake.put_file(&c.container_id, "/etc/app.conf", b"conf");
        fake.put_file(&c.container_id, "/var/log/app/a.log", b"a");
        fake.put_file(&c.container_id, "/var/log/app/sub/b.log", b"b");
        let d = tempfile::tempdir().unwrap();
        c.download(&ctx, "/etc/app.conf", &d.path().join("app.conf"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(d.path().join("app.conf")).unwrap(), b"conf");
        c.download_dir(&ctx, "/var/log/app", &d.path().join("logs"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(d.path().join("logs/a.log")).unwrap(), b"a");
        assert_eq!(
            std::fs::read(d.path().join("logs/sub/b.log")).unwrap(),
            b"b"
        );
        assert_eq!(
            fake.calls_of(Op::Download),
            [
                Call::Download {
                    id: c.container_id.clone(),
                    path: "/etc/app.conf".into()
                },
                Call::Download {
                    id: c.container_id.clone(),
                    path: "/var/log/app".into()
                }
            ]
        );
        let m = c
            .download(&ctx, "/nope", &d.path().join("nope"))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            format!(
                "Error downloading file: Error response from daemon: Could not find the file /nope in container {}\n",
                c.container_id
            )
        );
        assert!(!d.path().join("nope").exists());
        assert!(
            ctx.journal.live(None).is_empty(),
            "temporary archives removed"
        );
    }
}
