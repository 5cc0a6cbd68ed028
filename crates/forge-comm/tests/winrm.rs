//! The `winrm` communicator against forge-wsman, the project's WS-Management test server (see
//! its README for what it models): Basic over HTTP, NTLM with message encryption, HTTPS; the
//! connect loop's reasons; streaming output and exit codes; transfers of files and directories
//! both ways, with the small-envelope fallback; Ctrl-C; reboots; and no shell left open.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use forge_comm::winrm::WinrmComm;
use forge_core::comm::WinrmConfig;
use forge_core::plugin::{BuildCtx, Communicator, Stream};
use forge_wsman::{Config, Server};

const USER: &str = "Administrator";
const PASSWORD: &str = "Pa$$w0rd'\"&<x>";

/// A server with the test's account, its C: drive in `dir`.
async fn server(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut c = Config {
        users: vec![(USER.into(), PASSWORD.into())],
        sandbox_root: dir.to_path_buf(),
        ..Config::default()
    };
    tweak(&mut c);
    Server::start(c).await.unwrap()
}

fn settings(s: &Server, tweak: impl FnOnce(&mut WinrmConfig)) -> WinrmConfig {
    let mut c = WinrmConfig {
        host: "127.0.0.1".into(),
        port: s.port(),
        user: USER.into(),
        password: Some(PASSWORD.into()),
        timeout: Duration::from_secs(20),
        use_ssl: false,
        insecure: false,
        use_ntlm: false,
        no_proxy: false,
        pause_before_connecting: Duration::ZERO,
    };
    tweak(&mut c);
    c
}

/// Runs `command`, returning (exit status, stdout lines, stderr lines).
async fn run(comm: &WinrmComm, ctx: &BuildCtx, command: &str) -> (i32, Vec<String>, Vec<String>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = comm
        .exec(ctx, command, &mut |s, l| match s {
            Stream::Stdout => out.push(l.to_string()),
            Stream::Stderr => err.push(l.to_string()),
        })
        .await
        .unwrap();
    (code, out, err)
}

fn ps(script: &str) -> String {
    forge_comm::winrm::powershell_command(script)
}

#[tokio::test]
async fn basic_over_http_runs_commands_with_exit_codes_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let (ctx, said) = forge_core::testing::ctx("null.win");
    let comm = WinrmComm::open(&ctx, settings(&s, |_| {})).await.unwrap();
    let text = said.text();
    assert!(
        text.contains("Waiting for WinRM to become available..."),
        "{text}"
    );
    assert!(text.contains("WinRM connected."), "{text}");
    assert!(text.contains("Connected to WinRM!"), "{text}");
    let (code, out, err) = run(
        &comm,
        &ctx,
        &ps("Write-Output \"hello\"\nWrite-Error \"oops\"\nexit 3"),
    )
    .await;
    assert_eq!((code, out, err.len()), (3, vec!["hello".to_string()], 1));
    assert!(s.not_emulated().is_empty(), "{:?}", s.not_emulated());
    assert!(s.open_shells().is_empty(), "{:?}", s.open_shells());
    assert!(s
        .connections()
        .iter()
        .all(|c| c.scheme == "Basic" && !c.tls));
    s.stop().await;
}

#[tokio::test]
async fn ntlm_encrypts_messages_when_the_server_refuses_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.allow_unencrypted = false).await;
    let (ctx, _) = forge_core::testing::ctx("null.win");
    let comm = WinrmComm::open(&ctx, settings(&s, |c| c.use_ntlm = true))
        .await
        .unwrap();
    let (code, out, _) = run(&comm, &ctx, &ps("Write-Output \"sealed\"")).await;
    assert_eq!((code, out), (0, vec!["sealed".to_string()]));
    let conns = s.connections();
    assert!(!conns.is_empty());
    // The handshake carries no message; every message after it is sealed (the server refuses
    // plaintext ones, so the command could not have run otherwise).
    assert!(conns.iter().all(|c| c.scheme == "NTLM"), "{conns:?}");
    assert!(conns.iter().any(|c| c.encrypted), "{conns:?}");
    assert!(s.open_shells().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn https_needs_winrm_insecure_for_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.tls = true).await;
    let (ctx, said) = forge_core::testing::ctx("null.win");
    let err = WinrmComm::open(
        &ctx,
        settings(&s, |c| {
            c.use_ssl = true;
            c.timeout = Duration::from_secs(2);
        }),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("Timeout waiting for WinRM"), "{err}");
    assert!(err.contains("winrm_insecure"), "{err}");
    assert!(
        said.text().contains("WinRM is not up yet: TLS"),
        "{}",
        said.text()
    );
    let comm = WinrmComm::open(
        &ctx,
        settings(&s, |c| {
            c.use_ssl = true;
            c.insecure = true;
        }),
    )
    .await
    .unwrap();
    let (code, out, _) = run(&comm, &ctx, &ps("Write-Output \"tls\"")).await;
    assert_eq!((code, out), (0, vec!["tls".to_string()]));
    assert!(s.connections().iter().any(|c| c.tls));
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_reported_with_the_offered_schemes_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.ntlm = false).await;
    for ntlm in [false, true] {
        let (ctx, said) = forge_core::testing::ctx("null.win");
        let err = WinrmComm::open(
            &ctx,
            settings(&s, |c| {
                c.password = Some("wrong-Secret-42".into());
                c.use_ntlm = ntlm;
                c.timeout = Duration::from_secs(1);
            }),
        )
        .await
        .err()
        .unwrap()
        .to_string();
        let all = format!("{err}\n{}", said.text());
        assert!(all.contains("HTTP 401"), "{all}");
        assert!(all.contains("the server offers Basic"), "{all}");
        assert!(!all.contains("wrong-Secret-42"), "{all}");
    }
    s.stop().await;
}

#[tokio::test]
async fn the_connect_loop_waits_for_a_server_that_is_not_there_yet() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ctx, said) = forge_core::testing::ctx("null.win");
    let cfg = WinrmConfig {
        host: "127.0.0.1".into(),
        port,
        user: USER.into(),
        password: Some(PASSWORD.into()),
        timeout: Duration::from_millis(800),
        use_ssl: false,
        insecure: false,
        use_ntlm: false,
        no_proxy: false,
        pause_before_connecting: Duration::ZERO,
    };
    let err = WinrmComm::open(&ctx, cfg).await.err().unwrap().to_string();
    assert!(err.contains("not up after 800ms (winrm_timeout)"), "{err}");
    assert!(
        said.text().to_lowercase().contains("connection refused"),
        "{}",
        said.text()
    );
    drop(dir);
}

/// Bytes that exercise base64 and line splitting: every value, in a length that is no
/// multiple of anything.
fn blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn files_and_directories_travel_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let (ctx, _) = forge_core::testing::ctx("null.win");
    let comm = WinrmComm::open(&ctx, settings(&s, |_| {})).await.unwrap();

    let big = local.path().join("big.bin");
    std::fs::write(&big, blob(3 * 1024 * 1024 + 17)).unwrap();
    comm.upload(&ctx, "C:/Windows/Temp/big.bin", &big)
        .await
        .unwrap();
    let empty = local.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    comm.upload(&ctx, "C:\\Windows\\Temp\\", &empty)
        .await
        .unwrap();

    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("top.txt"), "top\r\n").unwrap();
    std::fs::write(tree.join("a/b/deep.bin"), blob(1000)).unwrap();
    comm.upload_dir(&ctx, "C:/data", &tree).await.unwrap();

    // What landed on the C: drive.
    let find = |rel: &str| -> Vec<u8> {
        let p = walk(dir.path())
            .into_iter()
            .find(|p| {
                p.to_string_lossy()
                    .to_lowercase()
                    .ends_with(&rel.to_lowercase())
            })
            .unwrap_or_else(|| panic!("{rel} is not in the sandbox: {:?}", walk(dir.path())));
        std::fs::read(p).unwrap()
    };
    assert_eq!(find("windows/temp/big.bin"), blob(3 * 1024 * 1024 + 17));
    assert_eq!(find("windows/temp/empty.txt"), b"");
    assert_eq!(find("data/tree/top.txt"), b"top\r\n");
    assert_eq!(find("data/tree/a/b/deep.bin"), blob(1000));

    let back = local.path().join("back.bin");
    comm.download(&ctx, "C:/Windows/Temp/big.bin", &back)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), blob(3 * 1024 * 1024 + 17));
    let again = local.path().join("again");
    comm.download_dir(&ctx, "C:/data/tree", &again)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(again.join("a/b/deep.bin")).unwrap(),
        blob(1000)
    );
    assert_eq!(std::fs::read(again.join("top.txt")).unwrap(), b"top\r\n");

    let missing = comm
        .download(&ctx, "C:/nope.txt", &local.path().join("n"))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("Download of C:/nope.txt"), "{missing}");
    let gone = comm
        .upload(&ctx, "C:/x", &local.path().join("absent"))
        .await
        .unwrap_err()
        .to_string();
    assert!(gone.contains("no such file or directory"), "{gone}");

    // One command per transfer (a large file: one per part, in flight together, and one to
    // put it in place), not one per 8 KB.
    let cmds = s.commands();
    assert!(cmds.len() < 20, "{} commands", cmds.len());
    let marked = |m: &str| {
        cmds.iter()
            .filter(|c| c.script.as_deref().is_some_and(|t| t.starts_with(m)))
            .count()
    };
    assert_eq!(marked("# forge:upload-part"), 4);
    assert_eq!(marked("# forge:commit"), 1);
    assert!(
        !walk(dir.path())
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".forge-upload")),
        "{:?}",
        walk(dir.path())
    );
    assert!(s.not_emulated().is_empty(), "{:?}", s.not_emulated());
    assert!(s.open_shells().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_server_with_small_envelopes_gets_small_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| {
        c.max_envelope_size = 153_600;
        c.max_operations_per_shell = 15;
    })
    .await;
    let (ctx, _) = forge_core::testing::ctx("null.win");
    let comm = WinrmComm::open(&ctx, settings(&s, |_| {})).await.unwrap();
    // Large enough to go in parts: each part in flight is refused, and retried smaller.
    let f = local.path().join("f.bin");
    std::fs::write(&f, blob(3 * 1024 * 1024 + 5)).unwrap();
    comm.upload(&ctx, "C:/f.bin", &f).await.unwrap();
    let back = local.path().join("back.bin");
    comm.download(&ctx, "C:/f.bin", &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), blob(3 * 1024 * 1024 + 5));
    assert!(s.open_shells().is_empty());
    s.stop().await;
}

/// A large upload whose destination is a directory fails in its parts, says why, and leaves
/// no temporary file behind.
#[tokio::test]
async fn a_failed_upload_in_parts_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("target")).unwrap();
    let s = server(dir.path(), |_| {}).await;
    let (ctx, _) = forge_core::testing::ctx("null.win");
    let comm = WinrmComm::open(&ctx, settings(&s, |_| {})).await.unwrap();
    let f = local.path().join("f.bin");
    std::fs::write(&f, blob(3 * 1024 * 1024)).unwrap();
    let e = comm
        .upload(&ctx, "C:/target", &f)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Upload of") && e.contains("it is a directory"),
        "{e}"
    );
    let left: Vec<_> = walk(dir.path());
    assert!(left.is_empty(), "{left:?}");
    let discards = s
        .commands()
        .iter()
        .filter(|c| {
            c.script
                .as_deref()
                .is_some_and(|t| t.starts_with("# forge:discard"))
        })
        .count();
    assert_eq!(discards, 1);
    assert!(s.open_shells().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn cancelling_signals_the_running_command_and_closes_its_shell() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let (ctx, _) = forge_core::testing::ctx("null.win");
    let ctx = Arc::new(ctx);
    let comm = Arc::new(WinrmComm::open(&ctx, settings(&s, |_| {})).await.unwrap());
    let cancel = ctx.cancel.clone();
    let c2 = comm.clone();
    let ctx2 = ctx.clone();
    let job = tokio::spawn(async move {
        c2.exec(&ctx2, &ps("Start-Sleep -Seconds 60"), &mut |_, _| {})
            .await
    });
    // The command is running once the server has it.
    for _ in 0..200 {
        if s.commands().iter().any(|c| {
            c.script
                .as_deref()
                .is_some_and(|t| t.contains("Start-Sleep"))
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(15), job)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r, Err(forge_core::Error::Cancelled)), "{r:?}");
    assert!(s.open_shells().is_empty(), "{:?}", s.open_shells());
    s.stop().await;
}

#[tokio::test]
async fn commands_after_a_reboot_reach_the_machine_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| {
        c.reboot_duration = Duration::from_millis(500)
    })
    .await;
    let (ctx, _) = forge_core::testing::ctx("null.win");
    let comm = WinrmComm::open(&ctx, settings(&s, |_| {})).await.unwrap();
    let before = s.boot_id();
    // While it is down a command fails; once it is back, one runs again on the same communicator.
    let (_, ran) = tokio::join!(s.reboot(), async {
        let mut failed_while_down = false;
        for _ in 0..100 {
            let mut out = Vec::new();
            match comm
                .exec(&ctx, &ps("Write-Output \"back\""), &mut |_, l| {
                    out.push(l.to_string())
                })
                .await
            {
                Ok(0) if out == ["back"] => {
                    if failed_while_down {
                        return Some(out);
                    }
                }
                // Refused, or started and cut off (Packer's status for a lost connection).
                _ => failed_while_down = true,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    });
    assert!(ran.is_some(), "no command ran after the reboot");
    assert_ne!(s.boot_id(), before);
    s.stop().await;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
