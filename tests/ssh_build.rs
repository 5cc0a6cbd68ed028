//! The SSH communicator with the shell and file provisioners, end to end: the real forge binary
//! against Debian's OpenSSH server, started by each test on loopback (see forge-testkit's sshd), a
//! second sshd as bastion, and real SOCKS5 and HTTP CONNECT proxies.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, proxy, sshd};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::path::Path;
use std::time::{Duration, Instant};

use build::{Out, Sandbox};
use serde_json::{json, Value};
use sshd::{Sshd, SshdOptions};

/// The communicator settings to reach `s` with the ed25519 key.
fn key_comm(s: &Sshd) -> Value {
    json!({
        "ssh_host": s.host(), "ssh_port": s.port(), "ssh_username": s.user(),
        "ssh_private_key_file": s.key_ed25519(), "ssh_timeout": "20s"
    })
}

/// A legacy JSON template: one null builder with `comm`, then `provisioners`.
fn template(comm: Value, provisioners: Value) -> String {
    let mut b = json!({"type": "null"});
    for (k, v) in comm.as_object().unwrap() {
        b[k] = v.clone();
    }
    serde_json::to_string_pretty(&json!({"builders": [b], "provisioners": provisioners})).unwrap()
}

fn build(sb: &Sandbox, env: &[(&str, &str)]) -> Out {
    sb.run(&["build", "-color=false", "t.json"], None, env)
}

fn ok(out: &Out, s: &Sshd) {
    assert_eq!(
        out.code,
        0,
        "forge failed:\n{}{}\nsshd log:\n{}",
        out.stdout,
        out.stderr,
        s.log()
    );
    assert!(
        !out.stdout.contains("-----BEGIN"),
        "a private key reached the output"
    );
}

fn failed(out: &Out, wants: &[&str]) {
    assert_eq!(
        out.code, 1,
        "forge should fail:\n{}{}",
        out.stdout, out.stderr
    );
    for w in wants {
        assert!(
            out.stdout.contains(w) || out.stderr.contains(w),
            "{w:?} missing in:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn shell_and_file_provisioners_over_key_auth() {
    let s = Sshd::start(SshdOptions::default());
    let remote = s.scratch();
    let sb = Sandbox::new(
        FORGE,
        &[
            ("one.txt", "one\n"),
            ("tree/a.txt", "a\n"),
            ("tree/sub/b.txt", "b\n"),
            ("script.sh", "#!/bin/sh\necho \"script sees $GREETING\"\n"),
        ],
    );
    let r = remote.display();
    let t = template(
        key_comm(&s),
        json!([
            {"type": "shell", "inline": ["echo out-line", "echo err-line >&2", "whoami", format!("mkdir {r}/contents")]},
            {"type": "shell", "script": "script.sh", "environment_vars": ["GREETING=it's me"]},
            {"type": "file", "source": "one.txt", "destination": format!("{r}/one.txt")},
            {"type": "file", "source": "tree", "destination": format!("{r}/with-name")},
            {"type": "file", "source": "tree", "destination": format!("{r}/with-name")},
            {"type": "file", "source": "tree/", "destination": format!("{r}/contents")},
            {"type": "file", "content": "from content", "destination": format!("{r}/content.txt")},
            {"type": "file", "source": format!("{r}/one.txt"), "destination": "down/", "direction": "download"},
            {"type": "file", "source": format!("{r}/with-name/tree/"), "destination": "downdir", "direction": "download"},
            {"type": "shell", "inline": ["exit 7"], "valid_exit_codes": [0, 7]},
        ]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let out = build(&sb, &[]);
    ok(&out, &s);
    for want in [
        "==> null: Waiting for SSH to become available...",
        "==> null: Connected to SSH!",
        "    null: out-line",
        "==> null: err-line",
        "    null: forgetest",
        "    null: script sees it's me",
        "==> null: Uploading tree => ",
    ] {
        assert!(
            out.stdout.contains(want),
            "{want:?} missing:\n{}",
            out.stdout
        );
    }
    assert_eq!(read(&remote.join("one.txt")), "one\n");
    // scp -r's rule: the first upload creates with-name as the copy, the second (with-name now
    // a directory) puts tree inside it.
    assert_eq!(read(&remote.join("with-name/a.txt")), "a\n");
    assert_eq!(read(&remote.join("with-name/tree/a.txt")), "a\n");
    assert_eq!(read(&remote.join("with-name/tree/sub/b.txt")), "b\n");
    assert_eq!(read(&remote.join("contents/sub/b.txt")), "b\n");
    assert!(!remote.join("contents/tree").exists());
    assert_eq!(read(&remote.join("content.txt")), "from content");
    assert_eq!(read(&sb.path("down/one.txt")), "one\n");
    assert_eq!(read(&sb.path("downdir/tree/sub/b.txt")), "b\n");
    // The scripts were removed from the machine.
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("script_"))
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("script sees")))
        .collect();
    assert!(left.is_empty(), "scripts left on the machine: {left:?}");
}

#[test]
fn sftp_moves_the_same_files() {
    let s = Sshd::start(SshdOptions::default());
    let remote = s.scratch();
    let r = remote.display();
    let sb = Sandbox::new(FORGE, &[("one.txt", "one\n"), ("tree/sub/b.txt", "b\n")]);
    let mut comm = key_comm(&s);
    comm["ssh_file_transfer_method"] = json!("sftp");
    let t = template(
        comm,
        json!([
            {"type": "file", "source": "one.txt", "destination": format!("{r}/one.txt")},
            {"type": "file", "source": "tree", "destination": format!("{r}")},
            {"type": "file", "source": format!("{r}/one.txt"), "destination": "back.txt", "direction": "download"},
        ]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let out = build(&sb, &[]);
    ok(&out, &s);
    assert_eq!(read(&remote.join("one.txt")), "one\n");
    assert_eq!(read(&remote.join("tree/sub/b.txt")), "b\n");
    assert_eq!(read(&sb.path("back.txt")), "one\n");
}

#[test]
fn every_way_of_logging_in() {
    // Password (PAM), keyboard-interactive only, an RSA PEM key, an encrypted key.
    let pw = Sshd::start(
        SshdOptions::default()
            .pubkey(false)
            .keyboard_interactive(false),
    );
    let kbd = Sshd::start(
        SshdOptions::default()
            .pubkey(false)
            .password(false)
            .keyboard_interactive(true),
    );
    let keys = Sshd::start(SshdOptions::pubkey_only());
    let run = |s: &Sshd, comm: Value, env: &[(&str, &str)]| {
        let sb = Sandbox::new(FORGE, &[]);
        let t = template(
            comm,
            json!([{"type": "shell", "inline": ["echo logged-in"]}]),
        );
        std::fs::write(sb.path("t.json"), t).unwrap();
        let out = build(&sb, env);
        ok(&out, s);
        assert!(out.stdout.contains("    null: logged-in"), "{}", out.stdout);
    };
    let base = |s: &Sshd| json!({"ssh_host": s.host(), "ssh_port": s.port(), "ssh_username": s.user(), "ssh_timeout": "20s"});
    let mut c = base(&pw);
    c["ssh_password"] = json!(pw.password());
    run(&pw, c, &[]);
    let mut c = base(&kbd);
    c["ssh_password"] = json!(kbd.password());
    run(&kbd, c, &[]);
    let mut c = base(&keys);
    c["ssh_private_key_file"] = json!(keys.key_rsa_pem());
    run(&keys, c, &[]);
    let mut c = base(&keys);
    c["ssh_private_key_file"] = json!(keys.key_ed25519_encrypted());
    run(
        &keys,
        c.clone(),
        &[("FORGE_SSH_KEY_PASSPHRASE", keys.passphrase())],
    );
    // Without the passphrase: a configuration error that says what to do.
    let sb = Sandbox::new(FORGE, &[]);
    std::fs::write(sb.path("t.json"), template(c, json!([]))).unwrap();
    failed(
        &build(&sb, &[("FORGE_SSH_KEY_PASSPHRASE", "")]),
        &[
            "ssh_private_key_file is invalid",
            "is encrypted: set FORGE_SSH_KEY_PASSPHRASE",
        ],
    );
}

#[test]
fn agent_keys_log_in() {
    forge_testkit::require::path("/usr/bin/ssh-agent", "openssh-client");
    let s = Sshd::start(SshdOptions::pubkey_only());
    let sock = s.dir().join("agent.sock");
    let mut agent = std::process::Command::new("/usr/bin/ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start ssh-agent");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = std::process::Command::new("/usr/bin/ssh-add")
        .arg(s.key_ed25519())
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .expect("ssh-add");
    assert!(added.status.success(), "ssh-add: {:?}", added);
    let sb = Sandbox::new(FORGE, &[]);
    let comm = json!({"ssh_host": s.host(), "ssh_port": s.port(), "ssh_username": s.user(),
        "ssh_agent_auth": true, "ssh_timeout": "20s"});
    std::fs::write(
        sb.path("t.json"),
        template(
            comm,
            json!([{"type": "shell", "inline": ["echo via-agent"]}]),
        ),
    )
    .unwrap();
    let out = build(&sb, &[("SSH_AUTH_SOCK", sock.to_str().unwrap())]);
    let _ = agent.kill();
    let _ = agent.wait();
    ok(&out, &s);
    assert!(out.stdout.contains("    null: via-agent"));
}

#[test]
fn temporary_key_pair_is_made_used_and_removed() {
    let s = Sshd::start(SshdOptions::pubkey_only());
    let before = read(&s.authorized_keys());
    let sb = Sandbox::new(FORGE, &[]);
    for kind in ["ed25519", "rsa"] {
        let t = json!({
            "builders": [{"type": "forge-fixture", "files": 0, "processes": 0, "hold": "0s",
                "communicator": "ssh", "ssh_host": s.host(), "ssh_port": s.port(),
                "ssh_username": s.user(), "temporary_key_pair_type": kind,
                "temporary_key_pair_bits": 2048,
                "authorized_keys_file": s.authorized_keys(), "ssh_timeout": "20s"}],
            "provisioners": [
                {"type": "shell", "inline": ["echo remote-ok"]},
                {"type": "shell-local", "inline": ["echo 'pub={{ build `SSHPublicKey` }}' > pub.txt"]}
            ]
        });
        std::fs::write(sb.path("t.json"), t.to_string()).unwrap();
        let out = build(&sb, &[]);
        ok(&out, &s);
        assert!(out.stdout.contains(&format!(
            "Creating temporary {kind} SSH key for instance..."
        )));
        assert!(
            out.stdout.contains("    forge-fixture: remote-ok"),
            "{}",
            out.stdout
        );
        let public = read(&sb.path("pub.txt"));
        let algo = if kind == "rsa" {
            "pub=ssh-rsa "
        } else {
            "pub=ssh-ed25519 "
        };
        assert!(
            public.starts_with(algo) && public.contains(" packer_"),
            "{public}"
        );
        assert!(
            s.log().contains("Accepted publickey"),
            "the temporary key did not log in:\n{}",
            s.log()
        );
        assert_eq!(
            read(&s.authorized_keys()),
            before,
            "the temporary key stayed authorized"
        );
    }
}

#[test]
fn bastion_and_proxies_carry_the_connection() {
    let target = Sshd::start(SshdOptions::default());
    let bastion = Sshd::start(SshdOptions::bastion());
    let socks = proxy::SocksProxy::ssh(&bastion);
    let http = proxy::HttpProxy::start(&[target.port()]);
    let run = |extra: Value, label: &str| {
        let sb = Sandbox::new(FORGE, &[]);
        let mut comm = key_comm(&target);
        for (k, v) in extra.as_object().unwrap() {
            comm[k] = v.clone();
        }
        let t = template(
            comm,
            json!([{"type": "shell", "inline": [format!("echo {label}")]}]),
        );
        std::fs::write(sb.path("t.json"), t).unwrap();
        let out = build(&sb, &[]);
        ok(&out, &target);
        assert!(
            out.stdout.contains(&format!("    null: {label}")),
            "{}",
            out.stdout
        );
    };
    run(
        json!({"ssh_bastion_host": bastion.host(), "ssh_bastion_port": bastion.port(),
               "ssh_bastion_username": bastion.user(),
               "ssh_bastion_private_key_file": bastion.key_ed25519()}),
        "through-bastion",
    );
    assert!(
        bastion.log().contains("Accepted publickey"),
        "the bastion was not used:\n{}",
        bastion.log()
    );
    run(
        json!({"ssh_proxy_host": "127.0.0.1", "ssh_proxy_port": socks.port()}),
        "through-socks",
    );
    run(
        json!({"ssh_proxy_host": "http://127.0.0.1", "ssh_proxy_port": http.port()}),
        "through-http-proxy",
    );
    assert!(
        http.log().contains("CONNECT") || !http.log().is_empty(),
        "{}",
        http.log()
    );
}

/// A one-shot TCP server that answers `reply` to the first connection.
fn answer_once(reply: &'static str) -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut c, _)) = l.accept() {
            let _ = c.write_all(reply.as_bytes());
        }
    });
    (port, h)
}

#[test]
fn local_and_remote_tunnels_forward() {
    let s = Sshd::start(SshdOptions::default().tcp_forwarding(true));
    let (target_port, t1) = answer_once("hello-local-tunnel\n");
    let (back_port, t2) = answer_once("hello-remote-tunnel\n");
    let local = forge_testkit::free_port();
    let remote = forge_testkit::free_port();
    let mut comm = key_comm(&s);
    comm["ssh_local_tunnels"] = json!([format!("{local}:127.0.0.1:{target_port}")]);
    comm["ssh_remote_tunnels"] = json!([format!("{remote}:127.0.0.1:{back_port}")]);
    let sb = Sandbox::new(FORGE, &[]);
    let t = template(
        comm,
        json!([
            {"type": "shell-local", "inline": [format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{local}; head -1 <&3'")]},
            {"type": "shell", "inline": [format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{remote}; head -1 <&3'")]},
        ]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let out = build(&sb, &[]);
    ok(&out, &s);
    assert!(out.stdout.contains("hello-local-tunnel"), "{}", out.stdout);
    assert!(out.stdout.contains("hello-remote-tunnel"), "{}", out.stdout);
    t1.join().unwrap();
    t2.join().unwrap();
}

#[test]
fn pty_is_requested_when_asked() {
    let s = Sshd::start(SshdOptions::default());
    let mut comm = key_comm(&s);
    comm["ssh_pty"] = json!(true);
    let sb = Sandbox::new(FORGE, &[]);
    std::fs::write(
        sb.path("t.json"),
        template(comm, json!([{"type": "shell", "inline": ["tty"]}])),
    )
    .unwrap();
    let out = build(&sb, &[]);
    ok(&out, &s);
    assert!(out.stdout.contains("    null: /dev/pts/"), "{}", out.stdout);
}

/// Kills the SSH session the script runs in (as a reboot cuts it).
const DROP_SESSION: &str = "p=$PPID; while [ \"$(ps -o comm= -p $p)\" != sshd ] && [ \"$(ps -o comm= -p $p)\" != sshd-session ]; do p=$(ps -o ppid= -p $p | tr -d ' '); done; kill -9 $p";

#[test]
fn expected_disconnects_reconnect_and_unexpected_ones_fail() {
    let s = Sshd::start(SshdOptions::default());
    let sb = Sandbox::new(FORGE, &[]);
    std::fs::write(
        sb.path("t.json"),
        template(
            key_comm(&s),
            json!([
                {"type": "shell", "inline": ["echo going-down", DROP_SESSION], "expect_disconnect": true},
                {"type": "shell", "inline": ["echo back-again"]},
            ]),
        ),
    )
    .unwrap();
    let out = build(&sb, &[]);
    ok(&out, &s);
    assert!(
        out.stdout.contains("    null: back-again"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Reconnected over SSH: the machine has not rebooted (same boot id)"),
        "{}",
        out.stdout
    );
    std::fs::write(
        sb.path("t.json"),
        template(
            key_comm(&s),
            json!([{"type": "shell", "inline": [DROP_SESSION]}]),
        ),
    )
    .unwrap();
    failed(
        &build(&sb, &[]),
        &["Build 'null' errored", "Script disconnected unexpectedly"],
    );
}

#[test]
fn a_reboot_window_is_waited_out() {
    let mut s = Sshd::start(SshdOptions::default());
    let marker = s.scratch().join("going-down");
    let sb = Sandbox::new(FORGE, &[]);
    std::fs::write(
        sb.path("t.json"),
        template(
            key_comm(&s),
            json!([
                {"type": "shell", "inline": [format!("touch {}; sleep 60", marker.display())],
                 "expect_disconnect": true},
                {"type": "shell", "inline": ["echo after-reboot"], "start_retry_timeout": "1m"},
            ]),
        ),
    )
    .unwrap();
    let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the first script never ran:\n{}",
            sb.spawned_output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The machine goes away for two seconds: connections are refused meanwhile.
    s.restart_after(Duration::from_secs(2));
    let status = child.wait().unwrap();
    let text = sb.spawned_output();
    assert!(status.success(), "{text}\nsshd log:\n{}", s.log());
    assert!(text.contains("    null: after-reboot"), "{text}");
}

#[test]
fn bad_input_fails_clearly_and_cleans_up() {
    let s = Sshd::start(SshdOptions::default());
    let sb = Sandbox::new(FORGE, &[("big.bin", "")]);
    let check = |comm: Value, provs: Value, wants: &[&str]| {
        std::fs::write(sb.path("t.json"), template(comm, provs)).unwrap();
        let out = build(&sb, &[]);
        failed(&out, wants);
        assert!(
            sb.tmp_leftovers().is_empty(),
            "left in TMPDIR: {:?}",
            sb.tmp_leftovers()
        );
        out
    };
    let echo = json!([{"type": "shell", "inline": ["true"]}]);
    // Wrong password, with one attempt allowed.
    let mut c = json!({"ssh_host": s.host(), "ssh_port": s.port(), "ssh_username": s.user(),
        "ssh_password": "wrong", "ssh_handshake_attempts": 1});
    check(
        c.clone(),
        echo.clone(),
        &[
            "Build 'null' errored",
            "SSH authentication failed 1 times",
            "tried password",
        ],
    );
    // A key the server does not know.
    let other = Sshd::start(SshdOptions::pubkey_only());
    c = key_comm(&s);
    c["ssh_private_key_file"] = json!(other.key_rsa_pem());
    c["ssh_handshake_attempts"] = json!(1);
    c["ssh_timeout"] = json!("0s");
    check(c, echo.clone(), &["authentication rejected: tried key "]);
    // Nothing listens.
    c = key_comm(&s);
    c["ssh_port"] = json!(forge_testkit::free_port());
    c["ssh_timeout"] = json!("2s");
    check(
        c,
        echo.clone(),
        &["Timeout waiting for SSH", "Connection refused"],
    );
    // A script that fails, and a missing local file.
    check(
        key_comm(&s),
        json!([{"type": "shell", "inline": ["exit 3"]}]),
        &["Script exited with non-zero exit status: 3"],
    );
    check(
        key_comm(&s),
        json!([{"type": "file", "source": "missing.txt", "destination": "/tmp/x"}]),
        &["Bad source 'missing.txt'"],
    );
}

#[test]
fn a_connection_dropped_mid_transfer_fails_the_step() {
    let s = Sshd::start(SshdOptions::default());
    let sb = Sandbox::new(FORGE, &[]);
    // Big enough to take a while on loopback.
    let f = std::fs::File::create(sb.path("big.bin")).unwrap();
    f.set_len(1 << 30).unwrap();
    let dst = s.scratch().join("big.bin");
    std::fs::write(
        sb.path("t.json"),
        template(
            key_comm(&s),
            json!([{"type": "file", "source": "big.bin", "destination": dst}]),
        ),
    )
    .unwrap();
    let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dst.exists() {
        assert!(
            Instant::now() < deadline,
            "the upload never started:\n{}",
            sb.spawned_output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    s.kill_sessions();
    let status = child.wait().unwrap();
    let text = sb.spawned_output();
    assert!(!status.success(), "{text}");
    assert!(text.contains("Build 'null' errored"), "{text}");
    assert!(text.contains("Upload failed"), "{text}");
    assert!(sb.tmp_leftovers().is_empty(), "{:?}", sb.tmp_leftovers());
}

#[test]
fn an_interrupt_during_a_remote_command_cancels_promptly() {
    let s = Sshd::start(SshdOptions::default());
    let marker = s.scratch().join("started");
    let sb = Sandbox::new(FORGE, &[]);
    std::fs::write(
        sb.path("t.json"),
        template(
            key_comm(&s),
            json!([{"type": "shell", "inline": [format!("touch {}; sleep 120", marker.display())]}]),
        ),
    )
    .unwrap();
    let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the script never ran:\n{}",
            sb.spawned_output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    build::signal(child.id(), "INT");
    let stopped = Instant::now();
    let status = child.wait().unwrap();
    let text = sb.spawned_output();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "forge took {:?} to stop:\n{text}",
        stopped.elapsed()
    );
    assert!(
        text.contains("Cancelling build after receiving interrupt"),
        "{text}"
    );
    assert!(sb.tmp_leftovers().is_empty(), "{:?}", sb.tmp_leftovers());
}

#[test]
fn a_certificate_signed_key_logs_in() {
    // A user CA the server trusts, and a certificate for the test user's ed25519 key.
    let probe = Sshd::start(SshdOptions::pubkey_only());
    let ca = probe.dir().join("user_ca");
    let keygen = |args: &[&str]| {
        let out = std::process::Command::new("/usr/bin/ssh-keygen")
            .args(args)
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "ssh-keygen {args:?}: {out:?}");
    };
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", ca.to_str().unwrap()]);
    let key = probe.dir().join("cert_key");
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()]);
    let pubkey = format!("{}.pub", key.display());
    keygen(&[
        "-q",
        "-s",
        ca.to_str().unwrap(),
        "-I",
        "forge-test",
        "-n",
        sshd::USER,
        &pubkey,
    ]);
    let s = Sshd::start(
        SshdOptions::pubkey_only().line(&format!("TrustedUserCAKeys {}.pub", ca.display())),
    );
    let sb = Sandbox::new(FORGE, &[]);
    let comm = json!({"ssh_host": s.host(), "ssh_port": s.port(), "ssh_username": s.user(),
        "ssh_private_key_file": key, "ssh_certificate_file": format!("{}-cert.pub", key.display()),
        "ssh_timeout": "20s"});
    std::fs::write(
        sb.path("t.json"),
        template(
            comm,
            json!([{"type": "shell", "inline": ["echo with-certificate"]}]),
        ),
    )
    .unwrap();
    let out = build(&sb, &[]);
    ok(&out, &s);
    assert!(
        out.stdout.contains("    null: with-certificate"),
        "{}",
        out.stdout
    );
    assert!(
        s.log().contains("Accepted publickey") && s.log().contains("CERT"),
        "{}",
        s.log()
    );
}
