//! The `winrm` communicator and the Windows provisioners end to end: the real forge binary
//! against forge-wsman (the project's WS-Management server emulating a Windows machine; see its
//! README for what it models), with packer 1.6.6 running the same templates against a server of
//! its own as the oracle: the same commands, the same output, the same files on the machine.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use forge_testkit::build::{Out, Sandbox};
use forge_wsman::{CommandRecord, Config, Server};
use serde_json::{json, Value};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");
const PACKER: &str = "/usr/bin/packer";

const USER: &str = "Administrator";
/// Quotes, a dollar and markup: it must survive every layer, and never be shown.
const PASSWORD: &str = "S3cr\"et'$pw<&>";
const ELEVATED_PASSWORD: &str = "El3vated-`pw$x";

/// A machine on loopback: forge-wsman on a runtime of its own, its C: drive in a temporary
/// directory.
struct Machine {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    c: tempfile::TempDir,
}

impl Machine {
    fn start(tweak: impl FnOnce(&mut Config)) -> Machine {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let c = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            users: vec![(USER.into(), PASSWORD.into())],
            sandbox_root: c.path().to_path_buf(),
            reboot_duration: Duration::from_secs(2),
            ..Config::default()
        };
        tweak(&mut cfg);
        let server = rt.block_on(Server::start(cfg)).unwrap();
        Machine {
            rt,
            server: Some(server),
            c,
        }
    }

    fn s(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The communicator settings that reach this machine.
    fn comm(&self, extra: Value) -> Value {
        let mut v = json!({
            "communicator": "winrm",
            "winrm_host": "127.0.0.1",
            "winrm_port": self.s().port(),
            "winrm_username": USER,
            "winrm_password": PASSWORD,
            "winrm_timeout": "30s",
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    /// Every file on the machine's C: drive, with its content.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(self.c.path(), self.c.path(), &mut out);
        out
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.stop());
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

/// A legacy JSON template: one null builder with `comm`, then `provisioners`.
fn template(comm: Value, provisioners: Value) -> String {
    let mut b = json!({"type": "null"});
    for (k, v) in comm.as_object().unwrap() {
        b[k] = v.clone();
    }
    serde_json::to_string_pretty(&json!({"builders": [b], "provisioners": provisioners})).unwrap()
}

/// `build t.json` in the sandbox, by the sandbox's binary (forge or packer).
fn build_with(sb: &Sandbox, env: &[(&str, &str)]) -> Out {
    let mut env = env.to_vec();
    env.push(("CHECKPOINT_DISABLE", "1"));
    sb.run(&["build", "-color=false", "t.json"], None, &env)
}

fn ok(who: &str, out: &Out) {
    assert_eq!(out.code, 0, "{who} failed:\n{}{}", out.stdout, out.stderr);
}

/// The lines the machine printed, as the UI shows them (`    null: ...`), without the UI's
/// own messages.
fn machine_lines(out: &Out) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("    null: "))
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Fails when `secret`, or an encoding of it a Windows tool chain makes, is in `text`.
fn no_secret(text: &str, secret: &str) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let utf16: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let forms = [
        secret.to_string(),
        b64.encode(secret),
        b64.encode(&utf16),
        secret.replace('$', "`$").replace('"', "`\""),
        secret.replace('\'', "''"),
    ];
    for f in forms {
        assert!(
            !text.contains(&f),
            "a secret ({f:?}) reached the output:\n{text}"
        );
    }
}

/// The provisioners' own commands (not transfers, probes or clean-up), with the random parts
/// of temporary names and environment files made equal.
fn provisioner_commands(cmds: &[CommandRecord]) -> Vec<String> {
    let uuid = regex::Regex::new(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    )
    .unwrap();
    let num =
        regex::Regex::new(r"(packer-(?:elevated-shell|ps-env-vars|windows-shell)?-?)[0-9a-z-]+")
            .unwrap();
    cmds.iter()
        .map(|c| c.script.clone().unwrap_or_else(|| c.command_line.clone()))
        .filter(|t| {
            !t.contains("# forge:")
                && !t.contains("WinRM connected.")
                && !t.contains("$dest_file_path")
                && !t.contains("ReadAllBytes")
                && !t.starts_with("echo ")
                && !t.contains("cmd /c echo")
                && !t.contains("$tmp_file_path")
        })
        .map(|t| {
            num.replace_all(&uuid.replace_all(&t, "UUID"), "${1}X")
                .into_owned()
        })
        .collect()
}

/// The Windows provisioners over WinRM, forge and packer 1.6.6 side by side on fresh machines:
/// powershell (inline with environment variables, a script, allowed exit codes, elevated),
/// windows-shell, file uploads and a download, windows-restart and a command after it.
#[test]
fn windows_provisioners_side_by_side_with_packer() {
    forge_testkit::require::path(PACKER, "packer");
    let files: &[(&str, &str)] = &[
        (
            "scripts/one.ps1",
            "Write-Output \"script one\"\r\nSet-Content -Path C:\\one.txt -Value \"one\"\r\n",
        ),
        (
            "scripts/two.bat",
            "echo batch two\r\necho two> C:\\two.txt\r\n",
        ),
        ("files/up.txt", "uploaded\n"),
        ("files/dir/a.txt", "a\n"),
        ("files/dir/sub/b.txt", "b\n"),
    ];
    let provisioners = json!([
        {"type": "powershell", "environment_vars": ["GREETING=world"],
         "inline": ["Write-Output \"hello $env:GREETING\"", "Set-Content -Path C:\\inline.txt -Value \"inline\""]},
        {"type": "powershell", "script": "scripts/one.ps1"},
        {"type": "powershell", "inline": ["exit 3"], "valid_exit_codes": [0, 3]},
        {"type": "powershell", "elevated_user": "elevated", "elevated_password": ELEVATED_PASSWORD,
         "inline": ["Write-Output \"elevated\""]},
        {"type": "windows-shell", "inline": ["echo shell-hi", "echo shell> C:\\shell.txt"]},
        {"type": "windows-shell", "script": "scripts/two.bat"},
        {"type": "file", "source": "files/up.txt", "destination": "C:/up.txt"},
        {"type": "file", "source": "files/dir", "destination": "C:/dirs"},
        {"type": "file", "direction": "download", "source": "C:/inline.txt", "destination": "down/inline.txt"},
        {"type": "windows-restart", "restart_timeout": "1m"},
        {"type": "powershell", "inline": ["Write-Output \"after restart\""]},
    ]);
    let mut runs = Vec::new();
    for (who, exe) in [("forge", FORGE), ("packer", PACKER)] {
        let m = Machine::start(|c| {
            c.users.push(("elevated".into(), ELEVATED_PASSWORD.into()));
        });
        let t = template(m.comm(json!({})), provisioners.clone());
        let mut all: Vec<(&str, &str)> = files.to_vec();
        all.push(("t.json", &t));
        let sb = Sandbox::new(exe, &all);
        let out = if who == "forge" {
            let mut o = sb.run(
                &["build", "-color=false", "-events", "events.jsonl", "t.json"],
                None,
                &[("PACKER_LOG", "1")],
            );
            // The log (stderr) and the event stream are checked for secrets with the output.
            o.stderr
                .push_str(&std::fs::read_to_string(sb.path("events.jsonl")).unwrap());
            o
        } else {
            build_with(&sb, &[("PACKER_LOG", "1")])
        };
        ok(who, &out);
        assert!(
            m.s().not_emulated().is_empty(),
            "{who}: {:?}",
            m.s().not_emulated()
        );
        assert!(m.s().open_shells().is_empty(), "{who} left shells open");
        assert_eq!(
            std::fs::read_to_string(sb.path("down/inline.txt")).unwrap(),
            std::fs::read_to_string(m.s().host_path("C:\\inline.txt")).unwrap(),
            "{who}: the download"
        );
        if who == "forge" {
            assert!(
                sb.tmp_leftovers().is_empty(),
                "forge left {:?}",
                sb.tmp_leftovers()
            );
        }
        runs.push((who, out, m.files(), m.s().commands(), m.s().boot_id()));
    }
    let (forge, packer) = (&runs[0], &runs[1]);
    for l in [
        "hello world",
        "script one",
        "elevated",
        "shell-hi",
        "batch two",
        "after restart",
    ] {
        for r in [forge, packer] {
            assert!(
                machine_lines(&r.1).iter().any(|x| x.contains(l)),
                "{}: {l:?} missing in\n{}",
                r.0,
                r.1.stdout
            );
        }
    }
    // The same files on the machine, temporary files included: forge cleans up what packer does.
    let names = |f: &BTreeMap<String, Vec<u8>>| f.keys().cloned().collect::<Vec<_>>();
    let strip = |f: &BTreeMap<String, Vec<u8>>| {
        f.iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("windows/temp/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        strip(&forge.2),
        strip(&packer.2),
        "files: forge {:?} packer {:?}",
        names(&forge.2),
        names(&packer.2)
    );
    // Both rebooted the machine once.
    assert_eq!(forge.4, packer.4, "reboots");
    // The same provisioner commands, in the same order.
    let (fc, pc) = (
        provisioner_commands(&forge.3),
        provisioner_commands(&packer.3),
    );
    assert_eq!(fc, pc);
    for want in [
        "shutdown /r /f /t 0",
        "script-UUID.ps1",
        "packer-elevated-shell",
    ] {
        assert!(
            fc.iter().any(|c| c.contains(want)),
            "no {want:?} in {fc:#?}"
        );
    }
    // forge moves each file in one command; packer 1.6.6 echoes 8 KB chunks.
    assert!(
        forge.3.len() <= packer.3.len(),
        "forge {} commands, packer {}",
        forge.3.len(),
        packer.3.len()
    );
    for s in [PASSWORD, ELEVATED_PASSWORD] {
        no_secret(&format!("{}{}", forge.1.stdout, forge.1.stderr), s);
    }
}

/// One provisioner run by `exe` against `m`, with `comm` added to the communicator settings.
fn run_one(exe: &str, m: &Machine, comm: Value, provisioners: Value) -> Out {
    let t = template(m.comm(comm), provisioners);
    let sb = Sandbox::new(exe, &[("t.json", &t)]);
    build_with(&sb, &[])
}

fn failed(who: &str, out: &Out, wants: &[&str]) {
    assert_eq!(
        out.code, 1,
        "{who} should fail:\n{}{}",
        out.stdout, out.stderr
    );
    for w in wants {
        assert!(
            out.stdout.contains(w) || out.stderr.contains(w),
            "{who}: {w:?} missing in:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
    no_secret(&format!("{}{}", out.stdout, out.stderr), PASSWORD);
}

/// A non-zero exit fails the build with Packer's words, after the same output.
#[test]
fn a_failing_script_fails_the_build_as_packer_says() {
    forge_testkit::require::path(PACKER, "packer");
    let p = json!([{"type": "powershell", "inline": ["Write-Output \"before\"", "exit 2"]}]);
    for (who, exe) in [("forge", FORGE), ("packer", PACKER)] {
        let m = Machine::start(|_| {});
        let out = run_one(exe, &m, json!({}), p.clone());
        failed(
            who,
            &out,
            &[
                "before",
                "Script exited with non-zero exit status: 2.Allowed exit codes are: [0]",
            ],
        );
        assert!(m.s().open_shells().is_empty());
    }
}

/// A wrong password: the build fails when winrm_timeout runs out, saying the server refused
/// the credentials and which schemes it offers, and never showing the password.
#[test]
fn a_wrong_password_says_why_it_cannot_connect() {
    let m = Machine::start(|c| c.users = vec![(USER.into(), "another".into())]);
    let out = run_one(
        FORGE,
        &m,
        json!({"winrm_timeout": "3s"}),
        json!([{"type": "powershell", "inline": ["exit 0"]}]),
    );
    failed(
        "forge",
        &out,
        &[
            "WinRM is not up yet: HTTP 401",
            "Negotiate, Basic",
            "Timeout waiting for WinRM",
        ],
    );
}

/// A wrong password over NTLM, and a server that answers every request with HTTP 500 and a
/// WS-Management fault: each reason is named, and no password is shown.
#[test]
fn ntlm_refusals_and_server_faults_are_named() {
    let m = Machine::start(|c| c.users = vec![(USER.into(), "another".into())]);
    let p = json!([{"type": "powershell", "inline": ["exit 0"]}]);
    let out = run_one(
        FORGE,
        &m,
        json!({"winrm_timeout": "3s", "winrm_use_ntlm": true}),
        p.clone(),
    );
    failed(
        "forge",
        &out,
        &[
            "HTTP 401",
            "forge used NTLM (winrm_use_ntlm = true)",
            "Timeout waiting for WinRM",
        ],
    );
    let m = Machine::start(|c| c.fail_with_500 = true);
    let out = run_one(FORGE, &m, json!({"winrm_timeout": "3s"}), p);
    failed(
        "forge",
        &out,
        &["WinRM is not up yet", "Timeout waiting for WinRM"],
    );
    assert!(m.s().open_shells().is_empty());
}

/// An upload of a file that does not exist fails the build naming the provisioner and the
/// file, as packer 1.6.6 does, and leaves no shell open.
#[test]
fn an_upload_of_a_missing_file_fails_clearly() {
    forge_testkit::require::path(PACKER, "packer");
    let p = json!([{"type": "file", "source": "nothing-here.txt", "destination": "C:/x.txt"}]);
    for (who, exe) in [("forge", FORGE), ("packer", PACKER)] {
        let m = Machine::start(|_| {});
        let out = run_one(exe, &m, json!({}), p.clone());
        assert_ne!(
            out.code, 0,
            "{who} should fail:\n{}{}",
            out.stdout, out.stderr
        );
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains("nothing-here.txt"), "{who}:\n{all}");
        assert!(m.s().open_shells().is_empty());
    }
}

/// NTLM with message encryption against a server that refuses plaintext (Windows' default),
/// and HTTPS with a self-signed certificate, which needs winrm_insecure.
#[test]
fn ntlm_encryption_and_https() {
    let m = Machine::start(|c| {
        c.allow_unencrypted = false;
        c.basic = false;
    });
    let p = json!([{"type": "powershell", "inline": ["Write-Output \"sealed\""]}]);
    let out = run_one(FORGE, &m, json!({"winrm_use_ntlm": true}), p.clone());
    ok("forge", &out);
    assert!(
        machine_lines(&out).iter().any(|l| l == "sealed"),
        "{}",
        out.stdout
    );
    assert!(m
        .s()
        .connections()
        .iter()
        .any(|c| c.scheme == "NTLM" && c.encrypted));
    // Basic is refused over plain HTTP by this server: the reason names what it offers.
    let out = run_one(FORGE, &m, json!({"winrm_timeout": "2s"}), p.clone());
    failed("forge", &out, &["HTTP 401", "Negotiate"]);

    let m = Machine::start(|c| c.tls = true);
    let out = run_one(
        FORGE,
        &m,
        json!({"winrm_use_ssl": true, "winrm_timeout": "2s"}),
        p.clone(),
    );
    failed("forge", &out, &["certificate", "winrm_insecure"]);
    let out = run_one(
        FORGE,
        &m,
        json!({"winrm_use_ssl": true, "winrm_insecure": true}),
        p,
    );
    ok("forge", &out);
    assert!(m.s().connections().iter().all(|c| c.tls));
}

/// A machine that never comes back from windows-restart: restart_timeout ends the wait, as in
/// packer 1.6.6.
#[test]
fn a_machine_that_does_not_come_back_times_out() {
    forge_testkit::require::path(PACKER, "packer");
    let p = json!([{"type": "windows-restart", "restart_timeout": "5s"}]);
    for (who, exe) in [("forge", FORGE), ("packer", PACKER)] {
        let m = Machine::start(|c| c.reboot_duration = Duration::from_secs(3600));
        let out = run_one(exe, &m, json!({}), p.clone());
        failed(who, &out, &["Timeout waiting for machine to restart."]);
    }
}

/// Ctrl-C during a long command: forge signals it, deletes its shell and fails the build.
#[test]
fn an_interrupt_stops_the_running_command() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let m = Machine::start(|c| c.log_file = Some(log.path().to_path_buf()));
    let t = template(
        m.comm(json!({})),
        json!([{"type": "powershell", "inline": ["Start-Sleep -Seconds 120"]}]),
    );
    let sb = Sandbox::new(FORGE, &[("t.json", &t)]);
    let mut child = sb.spawn(&["build", "-color=false", "t.json"], &[]);
    let running = || {
        m.s()
            .commands()
            .iter()
            .any(|c| c.exit_code.is_none() && c.command_line.contains("powershell"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started:\n{}",
            sb.spawned_output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    forge_testkit::build::signal(child.id(), "INT");
    let status = child.wait().unwrap();
    assert!(!status.success());
    let out = sb.spawned_output();
    assert!(
        out.contains("Build 'null' errored") || out.contains("interrupted"),
        "{out}"
    );
    assert!(
        m.s().open_shells().is_empty(),
        "shells left: {:?}",
        m.s().open_shells()
    );
    // The command was told Ctrl-C before its shell went.
    let events = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"event\":\"signal\"") && l.contains("signal/ctrl_c")),
        "no Ctrl-C signal in the server's log:\n{events}"
    );
}

/// amazon-ebs with WinRM and no password: forge makes a temporary RSA key pair, waits for
/// GetPasswordData (moto answers it as EC2 does, encrypted to the key pair), decrypts the
/// Administrator password and connects with it; the password never reaches the output, and
/// nothing is left in EC2.
#[test]
fn amazon_ebs_gets_the_windows_password_and_connects_over_winrm() {
    use forge_testkit::moto::{Moto, WINDOWS_PASSWORD};
    let moto = Moto::start(None);
    let (ami, _) = moto.windows_image("us-east-1");
    let m = Machine::start(|c| c.users = vec![(USER.into(), WINDOWS_PASSWORD.into())]);
    let t = format!(
        r#"
source "amazon-ebs" "win" {{
  access_key          = "AKIAFORGETEST"
  secret_key          = "forge-test-secret"
  region              = "us-east-1"
  custom_endpoint_ec2 = "{endpoint}"
  source_ami          = "{ami}"
  instance_type       = "t2.micro"
  ami_name            = "win-${{uuidv4()}}"
  communicator        = "winrm"
  winrm_username      = "{USER}"
  winrm_host          = "127.0.0.1"
  winrm_port          = {port}
  winrm_timeout       = "30s"
}}

build {{
  sources = ["source.amazon-ebs.win"]
  provisioner "powershell" {{
    inline = ["Write-Output \"on $env:COMPUTERNAME as ${{build.User}}\""]
  }}
}}
"#,
        endpoint = moto.endpoint(),
        port = m.s().port(),
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let out = sb.run(
        &["build", "-color=false", "t.pkr.hcl"],
        None,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAFORGETEST"),
            ("AWS_SECRET_ACCESS_KEY", "forge-test-secret"),
        ],
    );
    ok("forge", &out);
    for w in [
        "Waiting for auto-generated password for instance...",
        "Password retrieved!",
        "Connected to WinRM!",
        "on FORGE-WIN as Administrator",
    ] {
        assert!(out.stdout.contains(w), "{w:?} missing in\n{}", out.stdout);
    }
    no_secret(&format!("{}{}", out.stdout, out.stderr), WINDOWS_PASSWORD);
    assert!(m.s().connections().iter().all(|c| c.user == USER));
    let left: Vec<String> = moto
        .leftovers("us-east-1")
        .into_iter()
        .filter(|l| !(l.starts_with("AMI ") || l.starts_with("snapshot ")))
        .collect();
    assert!(left.is_empty(), "left in moto: {left:?}\n{}", out.stdout);
    assert!(sb.tmp_leftovers().is_empty() && sb.journals().is_empty());
}

/// windows-update against the machine's simulated catalogue: the filters and the search
/// criteria choose, the update limit and an update needing a restart make it restart, the
/// pending-restart check runs, and it updates again until nothing is left. The elevated task
/// runs as a user whose password never shows.
#[test]
fn windows_update_installs_and_restarts_until_nothing_is_left() {
    use forge_wsman::WindowsUpdate;
    let update = |title: &str, reboot: bool| WindowsUpdate {
        title: title.into(),
        date: "2026-11-10".into(),
        size: 3 * 1024 * 1024 / 2,
        reboot_required: reboot,
        ..WindowsUpdate::default()
    };
    let catalogue = vec![
        update(
            "2026-11 Cumulative Update for Windows Server (KB5070001)",
            true,
        ),
        update("Servicing Stack Update (KB5070002)", false),
        WindowsUpdate {
            can_request_user_input: true,
            ..update("Security Intelligence Update (KB2267602)", false)
        },
        update("VMware - Display - 9.17.4.3", false),
        WindowsUpdate {
            installed: true,
            ..update("Already there (KB4000000)", false)
        },
        WindowsUpdate {
            hidden: true,
            ..update("Hidden (KB4000001)", false)
        },
    ];
    let m = Machine::start(|c| {
        c.windows_updates = catalogue;
        c.users.push(("updater".into(), ELEVATED_PASSWORD.into()));
    });
    let out = run_one(
        FORGE,
        &m,
        json!({}),
        json!([{
            "type": "windows-update",
            "username": "updater",
            "password": ELEVATED_PASSWORD,
            "search_criteria": "IsInstalled=0 and IsHidden = 0",
            "filters": ["exclude:$_.Title -like '*VMware*'", "include:$true"],
            "update_limit": 2,
        }]),
    );
    ok("forge", &out);
    assert!(
        m.s().not_emulated().is_empty(),
        "{:?}",
        m.s().not_emulated()
    );
    let installed: Vec<String> = m
        .s()
        .windows_updates()
        .into_iter()
        .filter(|u| u.installed)
        .map(|u| u.title)
        .collect();
    assert_eq!(
        installed,
        [
            "2026-11 Cumulative Update for Windows Server (KB5070001)",
            "Servicing Stack Update (KB5070002)",
            "Security Intelligence Update (KB2267602)",
            "Already there (KB4000000)",
        ]
    );
    // Two updates (the limit), a restart, then the third; nothing after it.
    assert_eq!(m.s().boot_id(), 2, "{}", out.stdout);
    let lines = machine_lines(&out);
    let want = [
        "Found Windows update (2026-11-10; 1.5 MB): 2026-11 Cumulative Update for Windows Server (KB5070001)",
        "Found Windows update (2026-11-10; 1.5 MB): Servicing Stack Update (KB5070002)",
        "Downloading Windows updates (2 updates; 3 MB)...",
        "Waiting for the Windows Modules Installer to exit...",
        "FORGE-WIN restarted.",
        "Found Windows update (2026-11-10; 1.5 MB): Security Intelligence Update (KB2267602)",
        "Skipped (filter) Windows update (2026-11-10; 1.5 MB): VMware - Display - 9.17.4.3",
    ];
    let mut at = 0;
    for w in want {
        match lines[at..].iter().position(|l| l == w) {
            Some(i) => at += i + 1,
            None => panic!("{w:?} missing (in order) in:\n{}", out.stdout),
        }
    }
    for w in ["Restarting the machine...", "Restart complete"] {
        assert!(out.stdout.contains(w), "{w:?} missing in:\n{}", out.stdout);
    }
    no_secret(&format!("{}{}", out.stdout, out.stderr), ELEVATED_PASSWORD);
    no_secret(&format!("{}{}", out.stdout, out.stderr), PASSWORD);
    assert!(m.s().open_shells().is_empty());
    // The scripts stay on the machine as the plugin leaves them; the task logs are gone.
    let files = m.files();
    assert!(files.contains_key("Windows/Temp/packer-windows-update.ps1"));
    assert!(
        !files.keys().any(|f| f.ends_with(".out")),
        "{:?}",
        files.keys()
    );
}

/// windows-update with a task password the machine refuses: the update run fails after its
/// retries, naming the build, and the password never shows.
#[test]
fn windows_update_with_a_wrong_task_password_fails_clearly() {
    let m = Machine::start(|c| c.users.push(("updater".into(), ELEVATED_PASSWORD.into())));
    let out = run_one(
        FORGE,
        &m,
        json!({}),
        json!([{
            "type": "windows-update",
            "username": "updater",
            "password": "Wr0ng-`pw$y",
            "update_max_retries": 1,
        }]),
    );
    failed(
        "forge",
        &out,
        &[
            "The user name or password is incorrect",
            "Windows update script exited with non-zero exit status: 1",
        ],
    );
    no_secret(&format!("{}{}", out.stdout, out.stderr), "Wr0ng-`pw$y");
    assert!(
        m.s().not_emulated().is_empty(),
        "{:?}",
        m.s().not_emulated()
    );
}
