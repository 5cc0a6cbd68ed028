//! The adapter against the real OpenSSH client, scp, sftp and ansible-playbook, over
//! `LocalComm` (a real communicator to this machine).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::testing::{ctx, FakeComm, LocalComm, Reply};

use super::*;

fn require(tool: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is missing: install it (apt-get install --no-install-recommends openssh-client)"
    );
}

/// A fresh local directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(format!("forge-adapter-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn join(&self, s: &str) -> PathBuf {
        self.0.join(s)
    }
    fn s(&self, sub: &str) -> String {
        self.join(sub).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(comm: Arc<dyn Communicator>) -> (BuildCtx, Adapter) {
    require("ssh");
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_test_writer()
        .try_init();
    let (c, _) = ctx("adapter.test");
    let a = Adapter::start(&c, comm, AdapterOptions::default())
        .await
        .unwrap();
    (c, a)
}

/// The options every client run gets: the key, the port, no host key checks, no prompts.
fn client_opts(key: &Path, port: u16, port_flag: &str) -> Vec<String> {
    vec![
        "-i".into(),
        key.to_string_lossy().into_owned(),
        port_flag.into(),
        port.to_string(),
        "-o".into(),
        "StrictHostKeyChecking=no".into(),
        "-o".into(),
        "UserKnownHostsFile=/dev/null".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "LogLevel=ERROR".into(),
    ]
}

async fn run(prog: &str, args: &[String]) -> Output {
    require(prog);
    let child = tokio::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .unwrap_or_else(|_| panic!("{prog} {args:?} hung"))
        .unwrap()
}

async fn ssh(a: &Adapter, key: &Path, cmd: &str) -> Output {
    let mut args = client_opts(key, a.port(), "-p");
    args.extend(["x@127.0.0.1".to_string(), cmd.to_string()]);
    run("ssh", &args).await
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Bytes of every value, twice, and a few KiB more: binary data that crosses packet sizes.
fn sample(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_exec_relays_output_and_exit_status_promptly() {
    let (_c, a) = start(Arc::new(LocalComm)).await;
    let key = a.client_key_file().unwrap().to_path_buf();
    let t = Instant::now();
    let o = ssh(&a, &key, "echo hi; echo err >&2; exit 3").await;
    assert_eq!(text(&o.stdout), "hi\n");
    assert_eq!(text(&o.stderr), "err\n");
    assert_eq!(o.status.code(), Some(3));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    // Ansible's form, and a command that prints nothing.
    let o = ssh(&a, &key, "/bin/sh -c 'echo ~ && exit 0'").await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), std::env::var("HOME").unwrap());
    let o = ssh(&a, &key, "true").await;
    assert_eq!((o.status.code(), o.stdout.len()), (Some(0), 0));
    // Much output (beyond the channel window) arrives whole; input is read and dropped.
    let o = ssh(&a, &key, "seq 1 200000; seq 1 50000 >&2").await;
    let lines: Vec<String> = text(&o.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 200_000);
    assert_eq!(lines.last().map(String::as_str), Some("200000"));
    assert_eq!(text(&o.stderr).lines().count(), 50_000);
    let d = Dir::new();
    std::fs::write(d.join("in"), sample(1_000_000)).unwrap();
    let mut args = client_opts(&key, a.port(), "-p");
    args.extend(["x@127.0.0.1".to_string(), "echo done".to_string()]);
    let child = tokio::process::Command::new("ssh")
        .args(&args)
        .stdin(std::fs::File::open(d.join("in")).unwrap())
        .output();
    let o = tokio::time::timeout(Duration::from_secs(30), child)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text(&o.stdout), "done\n", "{}", text(&o.stderr));
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_communicator_gives_a_nonzero_status_not_a_hang() {
    let fake = Arc::new(FakeComm::scripted(|_, _| {
        Reply::fail("docker exec: no such container")
    }));
    let (_c, a) = start(fake.clone()).await;
    let key = a.client_key_file().unwrap().to_path_buf();
    let o = ssh(&a, &key, "/bin/sh -c 'echo x'").await;
    assert_eq!(o.status.code(), Some(255));
    assert!(
        text(&o.stderr).contains("no such container"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(fake.commands(), vec!["/bin/sh -c 'echo x'".to_string()]);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_key_is_refused() {
    let (c, a) = start(Arc::new(LocalComm)).await;
    let other = keys::generate(KeyType::Ecdsa, "other").unwrap();
    let f = forge_core::local::temp_file(
        &c,
        "forge-other-key-",
        keys::private_openssh(&other).unwrap().as_bytes(),
        false,
    )
    .unwrap();
    let o = ssh(&a, f.path(), "echo hi").await;
    assert_eq!(o.status.code(), Some(255));
    assert!(
        text(&o.stderr).contains("Permission denied"),
        "{}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_keys_are_used_and_rsa_signs_with_sha2() {
    let (c, _) = ctx("adapter.keys");
    let d = Dir::new();
    let host = keys::generate(KeyType::Rsa, "host").unwrap();
    std::fs::write(d.join("host"), keys::private_openssh(&host).unwrap()).unwrap();
    let client = keys::generate(KeyType::Ecdsa, "client").unwrap();
    let client_file = d.join("client");
    std::fs::write(&client_file, keys::private_openssh(&client).unwrap()).unwrap();
    std::fs::set_permissions(
        &client_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        d.join("client.pub"),
        client.public_key().to_openssh().unwrap(),
    )
    .unwrap();
    let opts = AdapterOptions {
        host_key_file: Some(d.join("host")),
        authorized_key_file: Some(d.join("client.pub")),
        ..Default::default()
    };
    let a = Adapter::start(&c, Arc::new(LocalComm), opts).await.unwrap();
    assert!(a.client_key_file().is_none());
    let mut args = client_opts(&client_file, a.port(), "-p");
    args.extend([
        "-o".into(),
        "HostKeyAlgorithms=rsa-sha2-512,rsa-sha2-256".into(),
    ]);
    args.extend(["x@127.0.0.1".to_string(), "echo ok".to_string()]);
    let o = run("ssh", &args).await;
    assert_eq!(text(&o.stdout), "ok\n", "{}", text(&o.stderr));
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_files_are_clear_errors() {
    let (c, _) = ctx("adapter.badkeys");
    let d = Dir::new();
    std::fs::write(d.join("k"), "garbage\n").unwrap();
    for opts in [
        AdapterOptions {
            host_key_file: Some(d.join("k")),
            ..Default::default()
        },
        AdapterOptions {
            authorized_key_file: Some(d.join("k")),
            ..Default::default()
        },
        AdapterOptions {
            authorized_key_file: Some(d.join("missing")),
            ..Default::default()
        },
    ] {
        let e = match Adapter::start(&c, Arc::new(LocalComm), opts).await {
            Ok(_) => panic!("a bad key file was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("ssh_host_key_file") || e.contains("ssh_authorized_key_file"),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_rsa_keys_work_with_openssh() {
    let (c, _) = ctx("adapter.rsa");
    let opts = AdapterOptions {
        key_type: KeyType::Rsa,
        ..Default::default()
    };
    let a = Adapter::start(&c, Arc::new(LocalComm), opts).await.unwrap();
    let key = a.client_key_file().unwrap().to_path_buf();
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .contains("OPENSSH PRIVATE KEY"));
    let mode = std::fs::metadata(&key).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let o = ssh(&a, &key, "echo rsa").await;
    assert_eq!(text(&o.stdout), "rsa\n", "{}", text(&o.stderr));
    a.stop().await;
    assert!(!key.exists(), "the client key outlived the adapter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_port_is_tried_then_the_next_ones() {
    let (c, _) = ctx("adapter.port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let opts = AdapterOptions {
        local_port: Some(port),
        ..Default::default()
    };
    let a = Adapter::start(&c, Arc::new(LocalComm), opts).await.unwrap();
    assert!(
        a.port() > port && a.port() <= port + 9,
        "{} vs {port}",
        a.port()
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_cancel_close_the_port_and_end_running_commands() {
    let (c, a) = start(Arc::new(LocalComm)).await;
    let key = a.client_key_file().unwrap().to_path_buf();
    let port = a.port();
    let mut args = client_opts(&key, port, "-p");
    args.extend(["x@127.0.0.1".to_string(), "sleep 30".to_string()]);
    let long = tokio::spawn(async move { run("ssh", &args).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = Instant::now();
    a.stop().await;
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let o = long.await.unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_ne!(o.status.code(), Some(0));
    drop(c);

    // The build's cancellation does the same, and dropping closes the port too.
    let (c, a) = start(Arc::new(LocalComm)).await;
    let port = a.port();
    c.cancel.cancel();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still listening after cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(a);
    let (_c, a) = start(Arc::new(LocalComm)).await;
    let port = a.port();
    drop(a);
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still listening after drop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scp_round_trip(legacy: bool) {
    let (_c, a) = start(Arc::new(LocalComm)).await;
    let key = a.client_key_file().unwrap().to_path_buf();
    let d = Dir::new();
    let data = sample(300_000);
    std::fs::write(d.join("src.bin"), &data).unwrap();
    std::fs::create_dir_all(d.join("remote")).unwrap();
    let scp = |from: String, to: String| {
        let mut args = client_opts(&key, a.port(), "-P");
        if legacy {
            args.push("-O".into());
        }
        args.extend([from, to]);
        args
    };
    // Upload to a file name, then into a directory; download back.
    let o = run(
        "scp",
        &scp(
            d.s("src.bin"),
            format!("x@127.0.0.1:{}", d.s("remote/up.bin")),
        ),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(d.join("remote/up.bin")).unwrap(), data);
    let o = run(
        "scp",
        &scp(d.s("src.bin"), format!("x@127.0.0.1:{}", d.s("remote"))),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(d.join("remote/src.bin")).unwrap(), data);
    let o = run(
        "scp",
        &scp(
            format!("x@127.0.0.1:{}", d.s("remote/up.bin")),
            d.s("down.bin"),
        ),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(d.join("down.bin")).unwrap(), data);
    // A directory tree, both ways.
    std::fs::create_dir_all(d.join("tree/sub")).unwrap();
    std::fs::write(d.join("tree/sub/f.txt"), "deep\n").unwrap();
    std::fs::write(d.join("tree/top.txt"), "top\n").unwrap();
    let mut up = scp(d.s("tree"), format!("x@127.0.0.1:{}", d.s("remote/tree")));
    up.insert(0, "-r".into());
    let o = run("scp", &up).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("remote/tree/sub/f.txt")).unwrap(),
        "deep\n"
    );
    let mut down = scp(format!("x@127.0.0.1:{}", d.s("remote/tree")), d.s("back"));
    down.insert(0, "-r".into());
    let o = run("scp", &down).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("back/sub/f.txt")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("back/top.txt")).unwrap(),
        "top\n"
    );
    // A missing file is an error naming it.
    let o = run(
        "scp",
        &scp(format!("x@127.0.0.1:{}", d.s("remote/missing")), d.s("m")),
    )
    .await;
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("No such file") || err.contains("not found"),
        "{:?} {err}",
        o.status
    );
    assert!(!d.join("m").exists());
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scp_in_sftp_mode_uploads_and_downloads() {
    scp_round_trip(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_scp_uploads_and_downloads() {
    scp_round_trip(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_batch_put_get_ls_mkdir_rm() {
    let (_c, a) = start(Arc::new(LocalComm)).await;
    let key = a.client_key_file().unwrap().to_path_buf();
    let d = Dir::new();
    let data = sample(100_000);
    std::fs::write(d.join("a.bin"), &data).unwrap();
    let r = d.s("r");
    let batch = format!(
        "mkdir {r}\nput {a} {r}/a.bin\nls -l {r}\nget {r}/a.bin {back}\nrename {r}/a.bin {r}/b.bin\n\
         chmod 600 {r}/b.bin\nmkdir {r}/gone\nrmdir {r}/gone\nls {r}\nrm {r}/b.bin\nls {r}\n",
        a = d.s("a.bin"),
        back = d.s("back.bin"),
    );
    std::fs::write(d.join("batch"), batch).unwrap();
    let sftp = |batch: String| {
        let mut args = client_opts(&key, a.port(), "-P");
        args.extend(["-b".into(), batch, "x@127.0.0.1".into()]);
        args
    };
    let o = run("sftp", &sftp(d.s("batch"))).await;
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(d.join("back.bin")).unwrap(), data);
    let out = text(&o.stdout);
    assert!(out.contains("-rw-"), "{out}");
    assert!(out.contains("a.bin"), "{out}");
    assert!(d.join("r").is_dir());
    assert!(!d.join("r/b.bin").exists() && !d.join("r/gone").exists());
    // Failures carry sftp's codes: a missing file, a missing directory.
    std::fs::write(d.join("bad"), format!("get {r}/nothing {}\n", d.s("x"))).unwrap();
    let o = run("sftp", &sftp(d.s("bad"))).await;
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not found"), "{}", text(&o.stderr));
    std::fs::write(d.join("bad"), format!("mkdir {r}/no/such\n")).unwrap();
    let o = run("sftp", &sftp(d.s("bad"))).await;
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("No such file"),
        "{}",
        text(&o.stderr)
    );
    a.stop().await;
}

/// `LocalComm`, counting what goes through it.
#[derive(Default)]
struct Counting {
    execs: std::sync::atomic::AtomicUsize,
    uploads: std::sync::atomic::AtomicUsize,
    downloads: std::sync::atomic::AtomicUsize,
}

fn bump(n: &std::sync::atomic::AtomicUsize) {
    n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

#[async_trait::async_trait]
impl Communicator for Counting {
    async fn exec(
        &self,
        ctx: &BuildCtx,
        command: &str,
        output: &mut (dyn for<'a> FnMut(forge_core::plugin::Stream, &'a str) + Send),
    ) -> forge_core::Result<i32> {
        bump(&self.execs);
        LocalComm.exec(ctx, command, output).await
    }
    async fn upload(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> forge_core::Result<()> {
        bump(&self.uploads);
        LocalComm.upload(ctx, dst, src).await
    }
    async fn upload_dir(&self, ctx: &BuildCtx, dst: &str, src: &Path) -> forge_core::Result<()> {
        LocalComm.upload_dir(ctx, dst, src).await
    }
    async fn download(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> forge_core::Result<()> {
        bump(&self.downloads);
        LocalComm.download(ctx, src, dst).await
    }
    async fn download_dir(&self, ctx: &BuildCtx, src: &str, dst: &Path) -> forge_core::Result<()> {
        LocalComm.download_dir(ctx, src, dst).await
    }
}

/// Runs a playbook of command, copy, template, file and fetch tasks through the adapter over
/// `LocalComm` with `env` set, checks what it made, and returns its output.
async fn playbook(env: &[(&str, &str)], args: &[&str]) -> String {
    let bin = forge_testkit::ansible::bin_dir();
    let comm = Arc::new(Counting::default());
    let (_c, a) = start(comm.clone()).await;
    let key = a.client_key_file().unwrap().to_path_buf();
    let d = Dir::new();
    let user = text(
        &std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    );
    std::fs::write(
        d.join("inventory"),
        format!(
            "default ansible_host=127.0.0.1 ansible_port={} ansible_user={} \
             ansible_ssh_private_key_file={} ansible_python_interpreter=/usr/bin/python3\n",
            a.port(),
            user.trim(),
            key.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("out")).unwrap();
    std::fs::write(d.join("src.txt"), "copied file\n").unwrap();
    std::fs::write(
        d.join("t.j2"),
        "host {{ inventory_hostname }} says {{ greeting }}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("play.yml"),
        format!(
            r#"- hosts: all
  gather_facts: true
  vars:
    out: {out}
    greeting: hello
  tasks:
    - command: echo from-command
      register: cmd
    - copy:
        content: "{{{{ cmd.stdout }}}}\n"
        dest: "{{{{ out }}}}/content.txt"
    - copy:
        src: {src}
        dest: "{{{{ out }}}}/copied.txt"
        mode: "0640"
    - template:
        src: {tpl}
        dest: "{{{{ out }}}}/templated.txt"
    - file:
        path: "{{{{ out }}}}/dir/sub"
        state: directory
    - file:
        path: "{{{{ out }}}}/dir/sub/touched"
        state: touch
    - fetch:
        src: "{{{{ out }}}}/copied.txt"
        dest: {fetched}
        flat: true
"#,
            out = d.s("out"),
            src = d.s("src.txt"),
            tpl = d.s("t.j2"),
            fetched = d.s("fetched.txt"),
        ),
    )
    .unwrap();
    let t = Instant::now();
    let child = tokio::process::Command::new(bin.join("ansible-playbook"))
        .args(["-i", &d.s("inventory"), &d.s("play.yml")])
        .args(args)
        .envs(env.iter().copied())
        .env("PATH", forge_testkit::ansible::path_env())
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let o = tokio::time::timeout(Duration::from_secs(300), child)
        .await
        .expect("ansible-playbook hung")
        .unwrap();
    let took = t.elapsed();
    let n = |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!(
        "ansible-playbook through the adapter ({env:?}) took {took:?}: {} execs, {} uploads, \
         {} downloads",
        n(&comm.execs),
        n(&comm.uploads),
        n(&comm.downloads)
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap();
    assert_eq!(read("out/content.txt"), "from-command\n");
    assert_eq!(read("out/copied.txt"), "copied file\n");
    assert_eq!(read("out/templated.txt"), "host default says hello\n");
    assert_eq!(read("fetched.txt"), "copied file\n");
    assert!(d.join("out/dir/sub/touched").is_file());
    let mode = std::fs::metadata(d.join("out/copied.txt"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o640
    );
    assert!(text(&o.stdout).contains("failed=0"), "{}", text(&o.stdout));
    a.stop().await;
    text(&o.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ansible_playbook_runs_through_the_adapter() {
    // ssh_transfer_method smart: sftp first.
    let out = playbook(&[], &["-vvv"]).await;
    assert!(out.contains("EXEC sftp"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ansible_playbook_transfers_with_legacy_scp() {
    let env = [
        ("ANSIBLE_SSH_TRANSFER_METHOD", "scp"),
        ("ANSIBLE_SCP_EXTRA_ARGS", "-O"),
    ];
    let out = playbook(&env, &["-vvv"]).await;
    assert!(out.contains("EXEC scp") && out.contains("-O"), "{out}");
    assert!(!out.contains("EXEC sftp"), "{out}");
}
