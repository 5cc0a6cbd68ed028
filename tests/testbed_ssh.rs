//! The OpenSSH test bed (forge-testkit: sshd, proxy) works, checked with real OpenSSH
//! clients: each key, each auth method as the options say, ProxyJump through a bastion, SOCKS5
//! and HTTP CONNECT proxies, keys authorized at run time, dropped sessions and restarts.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{proxy, sshd};

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use forge_testkit::require::path as require;
use proxy::{HttpProxy, SocksProxy};
use sshd::{Sshd, SshdOptions, USER};

const NC: &str = "/usr/bin/nc.openbsd";
const NCAT: &str = "/usr/bin/ncat";
const SSHPASS: &str = "/usr/bin/sshpass";

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` and returns its output, failing with the server's log when it does not succeed
/// as `ok` says.
fn expect(cmd: &mut Command, ok: bool, server: &Sshd) -> Output {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    if o.status.success() != ok {
        panic!(
            "{cmd:?} should {}:\n{}\nsshd log:\n{}",
            if ok { "succeed" } else { "fail" },
            text(&o),
            server.log()
        );
    }
    o
}

/// `ssh` to `s` with only the options given (no key unless passed), host key pinned.
fn ssh_bare(s: &Sshd) -> Command {
    require("/usr/bin/ssh", "openssh-client");
    let mut c = Command::new("/usr/bin/ssh");
    c.args(["-F", "/dev/null", "-p", &s.port().to_string()])
        .args(["-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", s.known_hosts().display()))
        .args(["-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "NumberOfPasswordPrompts=1"]);
    c
}

fn dest() -> String {
    format!("{USER}@127.0.0.1")
}

/// `ssh` with `key` only, no prompts.
fn ssh_key(s: &Sshd, key: &std::path::Path) -> Command {
    let mut c = ssh_bare(s);
    c.args([
        "-o",
        "BatchMode=yes",
        "-o",
        "PreferredAuthentications=publickey",
    ])
    .arg("-i")
    .arg(key)
    .arg(dest());
    c
}

/// `ssh` answering the password prompt of `method` with `password` through sshpass.
fn ssh_password(s: &Sshd, method: &str, password: &str) -> Command {
    require(SSHPASS, "sshpass");
    let mut c = Command::new(SSHPASS);
    c.args(["-p", password]).arg("/usr/bin/ssh");
    let inner = ssh_bare(s);
    c.args(inner.get_args())
        .args(["-o", &format!("PreferredAuthentications={method}")])
        .args(["-o", "PubkeyAuthentication=no", "-o", "BatchMode=no"])
        .arg(dest());
    c
}

/// The auth methods the server offers, from an ssh that has nothing to offer.
fn offered_methods(s: &Sshd) -> String {
    let o = expect(
        ssh_bare(s)
            .args(["-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no"])
            .arg(dest())
            .arg("true"),
        false,
        s,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    err.split("Permission denied (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no 'Permission denied' in: {err}"))
        .to_string()
}

#[test]
fn each_client_key_logs_in_and_the_user_has_sudo_and_sftp() {
    let s = Sshd::start(SshdOptions::default());
    assert!(s.port() > 1024);
    for key in [s.key_ed25519(), s.key_rsa_pem()] {
        let o = expect(ssh_key(&s, &key).arg("id -un; sudo -n id -u"), true, &s);
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{USER}\n0\n"));
    }
    let rsa = std::fs::read_to_string(s.key_rsa_pem()).unwrap();
    assert!(rsa.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{rsa}");

    // The encrypted key: unreadable without its passphrase, usable with it.
    let enc = s.key_ed25519_encrypted();
    let pubkey = |pass: &str| {
        Command::new("/usr/bin/ssh-keygen")
            .args(["-y", "-P", pass, "-f"])
            .arg(&enc)
            .output()
            .unwrap()
    };
    assert!(!pubkey("wrong").status.success());
    let ok = pubkey(s.passphrase());
    assert!(ok.status.success(), "{}", text(&ok));
    let derived = String::from_utf8_lossy(&ok.stdout);
    assert!(s.public_key(&enc).starts_with(derived.trim()));
    expect(ssh_key(&s, &enc).arg("true"), false, &s);
    let askpass = s.dir().join("askpass.sh");
    std::fs::write(&askpass, format!("#!/bin/sh\necho '{}'\n", s.passphrase())).unwrap();
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut c = ssh_bare(&s);
    c.args(["-o", "PreferredAuthentications=publickey", "-i"])
        .arg(&enc)
        .arg(dest())
        .arg("echo passphrase-ok")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0");
    let o = expect(&mut c, true, &s);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "passphrase-ok\n");

    // sftp through the configured subsystem, into the user's scratch dir.
    let local = s.dir().join("upload.txt");
    std::fs::write(&local, "hello\n").unwrap();
    let batch = s.dir().join("batch");
    std::fs::write(
        &batch,
        format!("put {} {}/up.txt\n", local.display(), s.scratch().display()),
    )
    .unwrap();
    expect(
        Command::new("/usr/bin/sftp")
            .args(["-F", "/dev/null", "-P", &s.port().to_string(), "-b"])
            .arg(&batch)
            .arg("-i")
            .arg(s.key_ed25519())
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
            ])
            .arg(format!("UserKnownHostsFile={}", s.known_hosts().display()))
            .arg(dest()),
        true,
        &s,
    );
    assert_eq!(
        std::fs::read_to_string(s.scratch().join("up.txt")).unwrap(),
        "hello\n"
    );
    assert!(std::path::Path::new(s.sftp_server()).exists());
    assert!(s.log().contains("Accepted publickey for forgetest"));
}

#[test]
fn auth_methods_follow_the_options() {
    let all = Sshd::start(SshdOptions::default());
    assert_eq!(
        offered_methods(&all),
        "publickey,password,keyboard-interactive"
    );
    let o = expect(
        ssh_password(&all, "password", all.password()).arg("echo pw"),
        true,
        &all,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pw\n");
    expect(
        ssh_password(&all, "keyboard-interactive", all.password()).arg("true"),
        true,
        &all,
    );
    expect(
        ssh_password(&all, "password", "not the password").arg("true"),
        false,
        &all,
    );
    let log = all.log();
    assert!(log.contains("Accepted password for forgetest"), "{log}");
    assert!(
        log.contains("Accepted keyboard-interactive/pam for forgetest"),
        "{log}"
    );

    let keys = Sshd::start(SshdOptions::pubkey_only());
    assert_eq!(offered_methods(&keys), "publickey");
    expect(
        ssh_password(&keys, "password", keys.password()).arg("true"),
        false,
        &keys,
    );

    let pw = Sshd::start(
        SshdOptions::default()
            .pubkey(false)
            .keyboard_interactive(false),
    );
    assert_eq!(offered_methods(&pw), "password");
    expect(ssh_key(&pw, &pw.key_ed25519()).arg("true"), false, &pw);
    expect(
        ssh_password(&pw, "password", pw.password()).arg("true"),
        true,
        &pw,
    );

    let kbd = Sshd::start(SshdOptions::default().pubkey(false).password(false));
    assert_eq!(offered_methods(&kbd), "keyboard-interactive");
    expect(
        ssh_password(&kbd, "keyboard-interactive", kbd.password()).arg("true"),
        true,
        &kbd,
    );
}

#[test]
fn proxy_jump_through_a_bastion() {
    let bastion = Sshd::start(SshdOptions::bastion());
    let target = Sshd::start(SshdOptions::pubkey_only());
    let plain = Sshd::start(SshdOptions::default());
    let config = target.dir().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "{}{}{}",
            bastion.ssh_config("bastion"),
            plain.ssh_config("plain"),
            target.ssh_config("target")
        ),
    )
    .unwrap();
    let o = expect(
        Command::new("/usr/bin/ssh").arg("-F").arg(&config).args([
            "-J",
            "bastion",
            "target",
            "echo jumped; echo $SSH_CONNECTION",
        ]),
        true,
        &target,
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("jumped\n127.0.0.1 "), "{out}");
    // A server without forwarding is no jump host.
    let o = expect(
        Command::new("/usr/bin/ssh")
            .arg("-F")
            .arg(&config)
            .args(["-J", "plain", "target", "true"]),
        false,
        &target,
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("stdio forwarding failed"),
        "{}",
        text(&o)
    );
    assert!(plain.log().contains("refused local port forward"));
}

#[test]
fn socks5_proxy_through_openssh_dynamic_forwarding() {
    require(NC, "netcat-openbsd");
    let bastion = Sshd::start(SshdOptions::bastion());
    let target = Sshd::start(SshdOptions::default());
    let socks = SocksProxy::ssh(&bastion);
    assert!(socks.credentials().is_none());
    let o = expect(
        ssh_key(&target, &target.key_ed25519())
            .arg("-o")
            .arg(format!("ProxyCommand={NC} -X 5 -x {} %h %p", socks.addr()))
            .arg("echo via-socks"),
        true,
        &target,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "via-socks\n");
    let log = socks.log();
    assert!(
        log.contains(&format!("socks5 host 127.0.0.1 port {}", target.port())),
        "the proxy did not forward to the target:\n{log}"
    );
}

#[test]
fn socks5_proxy_with_username_and_password_through_dante() {
    require(NCAT, "ncat");
    let target = Sshd::start(SshdOptions::default());
    let socks = SocksProxy::dante(true);
    let (user, pass) = socks.credentials().unwrap();
    let via = |auth: &str| {
        let mut c = ssh_key(&target, &target.key_ed25519());
        c.arg("-o")
            .arg(format!(
                "ProxyCommand={NCAT} --proxy {} --proxy-type socks5 --proxy-auth {auth} %h %p",
                socks.addr()
            ))
            .arg("echo via-dante");
        c
    };
    let o = expect(&mut via(&format!("{user}:{pass}")), true, &target);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "via-dante\n");
    expect(&mut via(&format!("{user}:wrong")), false, &target);

    let open = SocksProxy::dante(false);
    expect(
        ssh_key(&target, &target.key_ed25519())
            .arg("-o")
            .arg(format!("ProxyCommand={NC} -X 5 -x {} %h %p", open.addr()))
            .arg("true"),
        true,
        &target,
    );
}

#[test]
fn http_connect_proxy_through_tinyproxy() {
    require(NC, "netcat-openbsd");
    require(NCAT, "ncat");
    let target = Sshd::start(SshdOptions::default());
    let other = Sshd::start(SshdOptions::default());
    let http = HttpProxy::start(&[target.port()]);
    let via = |s: &Sshd, proxy: &str| {
        let mut c = ssh_key(s, &s.key_ed25519());
        c.arg("-o")
            .arg(format!("ProxyCommand={proxy}"))
            .arg("echo via-http");
        c
    };
    let nc = format!("{NC} -X connect -x {} %h %p", http.addr());
    let o = expect(&mut via(&target, &nc), true, &target);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "via-http\n");
    assert!(http.log().contains("CONNECT"), "{}", http.log());
    // Ports not listed in ConnectPort are refused.
    expect(&mut via(&other, &nc), false, &other);

    let authed = HttpProxy::with_basic_auth(&[target.port()], "proxyuser", "proxypass");
    let ncat = |auth: &str| {
        format!(
            "{NCAT} --proxy {} --proxy-type http --proxy-auth {auth} %h %p",
            authed.addr()
        )
    };
    expect(
        &mut via(&target, &ncat("proxyuser:proxypass")),
        true,
        &target,
    );
    expect(&mut via(&target, &ncat("proxyuser:wrong")), false, &target);
}

#[test]
fn keys_authorized_at_run_time_log_in() {
    let s = Sshd::start(SshdOptions::pubkey_only());
    let key = s.dir().join("temporary_key");
    let out = Command::new("/usr/bin/ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    expect(ssh_key(&s, &key).arg("true"), false, &s);
    s.authorize_key(&s.public_key(&key));
    expect(ssh_key(&s, &key).arg("true"), true, &s);
}

/// Starts `ssh ... 'echo started; sleep 60'` and returns once the session runs.
fn long_session(s: &Sshd) -> std::process::Child {
    let mut child = s
        .ssh()
        .arg("echo started; exec sleep 60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "started\n", "sshd log:\n{}", s.log());
    child
}

/// Waits up to 10 s for `child` to exit; its exit code.
fn exits_soon(child: &mut std::process::Child) -> i32 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("the ssh session survived");
}

#[test]
fn killing_sessions_drops_connections_and_the_server_stays_up() {
    let s = Sshd::start(SshdOptions::default());
    let mut a = long_session(&s);
    let mut b = long_session(&s);
    assert!(s.session_pids().len() >= 4, "{:?}", s.session_pids());
    let pid = s.pid();
    assert!(s.kill_sessions() >= 4);
    assert_eq!(exits_soon(&mut a), 255);
    assert_eq!(exits_soon(&mut b), 255);
    assert!(s.session_pids().is_empty());
    assert_eq!(s.pid(), pid);
    expect(s.ssh().arg("true"), true, &s);
}

#[test]
fn restart_keeps_the_port_and_drops_sessions() {
    let mut s = Sshd::start(SshdOptions::default());
    let (port, pid) = (s.port(), s.pid());
    let mut session = long_session(&s);
    s.stop();
    assert_eq!(exits_soon(&mut session), 255);
    assert_eq!(s.pid(), 0);
    assert!(std::net::TcpStream::connect(s.addr()).is_err());
    expect(s.ssh().arg("true"), false, &s);
    s.start_again();
    assert_eq!(s.port(), port);
    assert_ne!(s.pid(), pid);
    expect(s.ssh().arg("true"), true, &s);

    let mut session = long_session(&s);
    let before = s.pid();
    s.restart();
    assert_eq!(exits_soon(&mut session), 255);
    assert_ne!(s.pid(), before);
    expect(s.ssh().arg("echo back"), true, &s);
}

#[test]
fn dropping_a_server_stops_only_that_server() {
    let a = Sshd::start(SshdOptions::default());
    let b = Sshd::start(SshdOptions::default());
    let (pid, dir) = (a.pid(), a.dir().to_path_buf());
    let mut session = long_session(&a);
    drop(a);
    assert_eq!(exits_soon(&mut session), 255);
    let alive =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "sshd {pid} still runs");
    assert!(!dir.exists());
    expect(b.ssh().arg("true"), true, &b);
}

#[test]
fn a_missing_component_fails_with_an_install_hint() {
    let err = std::panic::catch_unwind(|| require("/usr/bin/forge-no-such-tool", "forge-pkg"))
        .expect_err("a missing program must fail the test");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("apt-get install --no-install-recommends forge-pkg"),
        "{msg}"
    );
}
