//! The `ansible` provisioner end to end: the real forge binary runs real ansible-core (the test
//! bed's, forge-testkit's ansible) against Debian's OpenSSH server started on loopback (null
//! builder, straight to the machine) and against a Docker container (through the adapter), with
//! packer 1.6.6 running the same template as the oracle; and its failures: a missing playbook, a
//! missing ansible-playbook, a failing task, an unreachable host, a galaxy file that cannot
//! resolve, and an interrupt during a long task.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use forge_testkit::build::{settle_processes, Out, Sandbox};
use forge_testkit::sshd::{Sshd, SshdOptions};
use forge_testkit::{ansible, docker, proxy};
use serde_json::{json, Value};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

/// A playbook of real work: a role (installed by ansible-galaxy from a local tarball), a
/// template, a handler, lineinfile, a command with `creates`, all under `dest`.
const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: true
  vars:
    greeting: "hello from {{ packer_builder_type }}"
  tasks:
    - name: Make the directory
      ansible.builtin.file:
        path: "{{ dest }}/etc"
        state: directory
        mode: "0755"
    - name: Render the template
      ansible.builtin.template:
        src: motd.j2
        dest: "{{ dest }}/etc/motd"
      notify: Record the handler
    - name: Add a line
      ansible.builtin.lineinfile:
        path: "{{ dest }}/etc/config"
        line: "answer=42"
        create: true
    - name: Run a command once
      ansible.builtin.command:
        cmd: "touch {{ dest }}/etc/ran-once"
        creates: "{{ dest }}/etc/ran-once"
    - name: Use the role
      ansible.builtin.include_role:
        name: greeter
  handlers:
    - name: Record the handler
      ansible.builtin.copy:
        content: "handled\n"
        dest: "{{ dest }}/etc/handler"
"#;

const MOTD: &str = "{{ greeting }} on {{ ansible_facts['hostname'] | length > 0 }}\n";

/// The `greeter` role's files.
const ROLE_TASKS: &str = r#"- name: Greet from the role
  ansible.builtin.copy:
    content: "role {{ greeter_word | default('hi') }}\n"
    dest: "{{ dest }}/etc/role"
"#;

/// A sandbox holding the playbook, its template, and the role as a tarball with a galaxy file
/// pointing at it.
fn sandbox(extra: &[(&str, &str)]) -> Sandbox {
    let mut files = vec![
        ("play.yml", PLAYBOOK),
        ("motd.j2", MOTD),
        ("role-src/greeter/tasks/main.yml", ROLE_TASKS),
        (
            "role-src/greeter/meta/main.yml",
            "galaxy_info:\n  author: forge\n  description: test\n  license: MIT\n  min_ansible_version: '2.9'\n",
        ),
    ];
    files.extend_from_slice(extra);
    let sb = Sandbox::new(FORGE, &files);
    let st = Command::new("tar")
        .args(["-czf", "greeter.tar.gz", "-C", "role-src", "greeter"])
        .current_dir(&sb.dir)
        .status()
        .unwrap();
    assert!(st.success());
    let req = format!(
        "roles:\n  - src: file://{}\n    name: greeter\n",
        sb.path("greeter.tar.gz").display()
    );
    std::fs::write(sb.path("requirements.yml"), req).unwrap();
    sb
}

/// PATH with the test bed's Ansible first.
fn env_path() -> String {
    ansible::path_env()
}

fn key_comm(s: &Sshd) -> Value {
    json!({
        "ssh_host": s.host(), "ssh_port": s.port(), "ssh_username": s.user(),
        "ssh_private_key_file": s.key_ed25519(), "ssh_timeout": "20s"
    })
}

fn template(builder: Value, provisioners: Value) -> String {
    serde_json::to_string_pretty(&json!({"builders": [builder], "provisioners": provisioners}))
        .unwrap()
}

fn null_builder(s: &Sshd) -> Value {
    let mut b = json!({"type": "null"});
    for (k, v) in key_comm(s).as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

/// The ansible provisioner block for the playbook, writing under `dest`.
fn provisioner(sb: &Sandbox, dest: &Path, extra: Value) -> Value {
    let mut p = json!({
        "type": "ansible",
        "playbook_file": "play.yml",
        "galaxy_file": "requirements.yml",
        "roles_path": sb.path("roles").to_str().unwrap(),
        "ansible_env_vars": [format!("ANSIBLE_ROLES_PATH={}", sb.path("roles").display())],
        "extra_arguments": [
            "-e", format!("dest={}", dest.display()),
            "-e", "ansible_python_interpreter=/usr/bin/python3",
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

fn build(sb: &Sandbox, file: &str) -> Out {
    let path = env_path();
    sb.run(
        &["build", "-color=false", file],
        None,
        &[("PATH", path.as_str()), ("ANSIBLE_NOCOLOR", "1")],
    )
}

fn ok(out: &Out) {
    assert_eq!(out.code, 0, "forge failed:\n{}{}", out.stdout, out.stderr);
    assert!(
        !out.stdout.contains("-----BEGIN"),
        "a private key reached the output"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What the playbook leaves under `dest`.
fn check_machine(dest: &Path, builder_type: &str) {
    assert_eq!(
        read(&dest.join("etc/motd")),
        format!("hello from {builder_type} on True\n")
    );
    assert_eq!(read(&dest.join("etc/config")), "answer=42\n");
    assert_eq!(read(&dest.join("etc/handler")), "handled\n");
    assert_eq!(read(&dest.join("etc/role")), "role hi\n");
    assert!(dest.join("etc/ran-once").exists());
}

/// Nothing of the run is left: no temporary file, no journal entry, no Ansible or SSH master
/// process started for it.
fn nothing_left(sb: &Sandbox) {
    assert_eq!(
        sb.tmp_leftovers(),
        Vec::<String>::new(),
        "temporary files left"
    );
    // Its ansible-playbook names the sandbox's playbook and inventory; its SSH masters live in
    // the sandbox's TMPDIR.
    let marker = sb.dir.to_string_lossy().into_owned();
    assert_eq!(
        settle_processes(&marker),
        Vec::<String>::new(),
        "processes left"
    );
}

#[test]
fn ansible_runs_straight_against_an_ssh_machine() {
    let s = Sshd::start(SshdOptions::default());
    let dest = s.scratch();
    let sb = sandbox(&[]);
    let t = template(
        null_builder(&s),
        json!([provisioner(&sb, &dest, json!({}))]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let started = Instant::now();
    let out = build(&sb, "t.json");
    ok(&out);
    eprintln!("forge build with ansible: {:?}", started.elapsed());
    for want in [
        "==> null: Provisioning with Ansible...",
        "    null: Not using Proxy adapter for Ansible run:",
        "    null: Executing Ansible Galaxy",
        "==> null: Executing Ansible: ansible-playbook -e packer_build_name=\"null\" -e packer_builder_type=null --ssh-extra-args '-o IdentitiesOnly=yes' -e dest=",
        "    null: TASK [Render the template]",
        "    null: RUNNING HANDLER [Record the handler]",
        "    null: TASK [greeter : Greet from the role]",
        "    null: PLAY RECAP",
    ] {
        assert!(out.stdout.contains(want), "{want:?} missing:\n{}", out.stdout);
    }
    check_machine(&dest, "null");
    // The machine was reached as the communicator's user, with its key.
    let owner = Command::new("stat")
        .args(["-c", "%U"])
        .arg(dest.join("etc/motd"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), s.user());
    nothing_left(&sb);
}

#[test]
fn ansible_failures_name_the_build_and_the_provisioner() {
    let s = Sshd::start(SshdOptions::default());
    let dest = s.scratch();
    let sb = sandbox(&[
        ("fail.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Fine\n      ansible.builtin.command: \"true\"\n    - name: Break on purpose\n      ansible.builtin.command: \"false\"\n"),
        ("syntax.yml", "- hosts: all\n  tasks:\n    - name: x\n      ansible.builtin.command: [unclosed\n"),
        ("nogalaxy.yml", "roles:\n  - src: forge_test.surely_not_a_role_anywhere\n"),
    ]);
    let run = |name: &str, prov: Value| {
        let t = template(null_builder(&s), json!([prov]));
        std::fs::write(sb.path(name), t).unwrap();
        build(&sb, name)
    };
    let failed = |out: &Out, wants: &[&str]| {
        assert_eq!(out.code, 1, "should fail:\n{}{}", out.stdout, out.stderr);
        for w in wants {
            assert!(
                out.stdout.contains(w) || out.stderr.contains(w),
                "{w:?} missing:\n{}{}",
                out.stdout,
                out.stderr
            );
        }
    };
    // A failing task: Ansible's status and the task.
    let out = run(
        "fail.json",
        json!({"type": "ansible", "playbook_file": "fail.yml",
               "extra_arguments": ["-e", "ansible_python_interpreter=/usr/bin/python3"]}),
    );
    failed(
        &out,
        &[
            "Build 'null' errored after",
            "Error executing Ansible: Non-zero exit status: exit status 2 (the task that failed: \"Break on purpose\")",
        ],
    );
    // A syntax error.
    let out = run(
        "syntax.json",
        json!({"type": "ansible", "playbook_file": "syntax.yml"}),
    );
    failed(
        &out,
        &["Error executing Ansible: Non-zero exit status: exit status 4"],
    );
    // An unreachable host (the inventory points at a closed port).
    let out = run(
        "unreachable.json",
        json!({"type": "ansible", "playbook_file": "fail.yml",
               "inventory_file_template": "{{ .HostAlias }} ansible_host=127.0.0.1 ansible_port=1 ansible_user={{ .User }}\n"}),
    );
    failed(
        &out,
        &[
            "UNREACHABLE!",
            "Error executing Ansible: Non-zero exit status: exit status 4",
        ],
    );
    // A galaxy file that cannot resolve (no network here, and no such role anywhere).
    let out = run(
        "galaxy.json",
        json!({"type": "ansible", "playbook_file": "fail.yml", "galaxy_file": "nogalaxy.yml",
               "roles_path": sb.path("roles2").to_str().unwrap()}),
    );
    failed(
        &out,
        &["Error executing Ansible Galaxy: Non-zero exit status: exit status 1"],
    );
    // A missing playbook, found by validate and build alike.
    let t = template(
        null_builder(&s),
        json!([{"type": "ansible", "playbook_file": "missing.yml"}]),
    );
    std::fs::write(sb.path("missing.json"), t).unwrap();
    let path = env_path();
    let out = sb.run(
        &["validate", "missing.json"],
        None,
        &[("PATH", path.as_str())],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(
            "playbook_file: missing.yml is invalid: stat missing.yml: no such file or directory"
        ),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // No ansible-playbook where forge runs: say what to install.
    let out = sb.run(
        &["validate", "fail.json"],
        None,
        &[("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("executable file not found in $PATH (install Ansible where forge runs: `pip install ansible-core`"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(!dest.join("etc").exists());
    nothing_left(&sb);
}

#[test]
fn an_interrupt_during_a_long_task_stops_ansible_and_cleans_up() {
    let s = Sshd::start(SshdOptions::default());
    let sb = sandbox(&[(
        "long.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Take long\n      ansible.builtin.command: sleep 300\n",
    )]);
    let t = template(
        null_builder(&s),
        json!([{"type": "ansible", "playbook_file": "long.yml",
                "extra_arguments": ["-e", "ansible_python_interpreter=/usr/bin/python3"]}]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let path = env_path();
    let mut child = sb.spawn(
        &["build", "-color=false", "t.json"],
        &[("PATH", path.as_str())],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !sb.spawned_output().contains("TASK [Take long]") {
        assert!(
            Instant::now() < deadline,
            "never reached the task:\n{}",
            sb.spawned_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let stopped = Instant::now();
    forge_testkit::build::signal(child.id(), "INT");
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        stopped.elapsed() < Duration::from_secs(30),
        "took {:?}",
        stopped.elapsed()
    );
    assert!(
        sb.spawned_output().contains("Build 'null' errored after")
            || sb.spawned_output().contains("interrupted"),
        "{}",
        sb.spawned_output()
    );
    // Neither ansible-playbook nor the remote sleep lives on.
    assert_eq!(settle_processes("sleep 300"), Vec::<String>::new());
    nothing_left(&sb);
}

#[test]
fn ansible_through_the_adapter_into_a_docker_container() {
    let image = docker::python_image();
    let sb = sandbox(&[]);
    let dest = Path::new("/srv/forge");
    let t = template(
        json!({"type": "docker", "image": image, "pull": false, "discard": true}),
        json!([
            provisioner(&sb, dest, json!({})),
            {"type": "shell", "inline": ["cat /srv/forge/etc/motd /srv/forge/etc/role /srv/forge/etc/handler"]},
        ]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let started = Instant::now();
    let out = build(&sb, "t.json");
    ok(&out);
    eprintln!(
        "forge docker build with ansible through the adapter: {:?}",
        started.elapsed()
    );
    for want in [
        "    docker: Setting up proxy adapter for Ansible....",
        "    docker: TASK [greeter : Greet from the role]",
        "    docker: hello from docker on True",
        "    docker: role hi",
        "    docker: handled",
    ] {
        assert!(
            out.stdout.contains(want),
            "{want:?} missing:\n{}",
            out.stdout
        );
    }
    nothing_left(&sb);
}

/// packer 1.6.6 as the oracle: the same template (its default adapter fails against today's
/// OpenSSH, so `use_proxy = false` for both) leaves the same machine state, and Ansible's task
/// lines come out the same.
#[test]
fn ansible_side_by_side_with_packer() {
    forge_testkit::require::path("/usr/bin/packer", "packer");
    let s = Sshd::start(SshdOptions::default());
    let sb = sandbox(&[]);
    let (mut lines, mut commands) = (Vec::new(), Vec::new());
    for (who, bin) in [("forge", FORGE), ("packer", "/usr/bin/packer")] {
        let dest = s.scratch().join(who);
        let t = template(
            null_builder(&s),
            json!([provisioner(&sb, &dest, json!({"use_proxy": false}))]),
        );
        let name = format!("{who}.json");
        std::fs::write(sb.path(&name), t).unwrap();
        let out = build_with(bin, &sb, &name);
        assert_eq!(out.code, 0, "{who} failed:\n{}{}", out.stdout, out.stderr);
        check_machine(&dest, "null");
        // The command line, but for the inventory's temporary name.
        let exec = out
            .stdout
            .lines()
            .find(|l| l.contains("Executing Ansible: "))
            .unwrap_or_else(|| panic!("{who}:\n{}", out.stdout));
        let exec: Vec<&str> = exec.split(' ').collect();
        let exec: Vec<String> = exec
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i > 0 && exec[i - 1] == "-i" {
                    "INVENTORY".into()
                } else {
                    w.replace(&dest.display().to_string(), "DEST")
                }
            })
            .collect();
        commands.push(exec.join(" "));
        let tasks = task_lines(&out.stdout);
        lines.push(tasks);
    }
    assert!(!lines[0].is_empty());
    assert_eq!(
        lines[0], lines[1],
        "forge and packer 1.6.6 ran different tasks"
    );
}

/// The direct route beyond a plain key: through a bastion (an OpenSSH ProxyCommand), and with a
/// password (given to Ansible in a variables file, never on its command line, and masked).
#[test]
fn ansible_reaches_the_machine_through_a_bastion_and_with_a_password() {
    let target = Sshd::start(SshdOptions::default());
    let bastion = Sshd::start(SshdOptions::bastion());
    let sb = sandbox(&[]);
    // Through the bastion, with the build's key.
    let dest = target.scratch().join("bastion");
    let mut b = null_builder(&target);
    for (k, v) in json!({"ssh_bastion_host": bastion.host(), "ssh_bastion_port": bastion.port(),
                         "ssh_bastion_username": bastion.user(),
                         "ssh_bastion_private_key_file": bastion.key_ed25519()})
    .as_object()
    .unwrap()
    {
        b[k] = v.clone();
    }
    std::fs::write(
        sb.path("bastion.json"),
        template(b, json!([provisioner(&sb, &dest, json!({}))])),
    )
    .unwrap();
    let out = build(&sb, "bastion.json");
    ok(&out);
    check_machine(&dest, "null");
    // Two logins on the bastion: forge's communicator, then Ansible's ProxyCommand.
    assert!(
        bastion.log().matches("Accepted publickey").count() >= 2,
        "Ansible did not go through the bastion:\n{}",
        bastion.log()
    );
    // With a password only.
    let dest = target.scratch().join("password");
    let b = json!({"type": "null", "ssh_host": target.host(), "ssh_port": target.port(),
                   "ssh_username": target.user(), "ssh_password": target.password(),
                   "ssh_timeout": "20s"});
    std::fs::write(
        sb.path("password.json"),
        template(b, json!([provisioner(&sb, &dest, json!({}))])),
    )
    .unwrap();
    let out = build(&sb, "password.json");
    ok(&out);
    check_machine(&dest, "null");
    // (The test user's password is its name, so the check is on the command line Ansible got.)
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("Executing Ansible: "))
        .unwrap();
    assert!(
        line.contains(" -e @") && !line.contains("ansible_password"),
        "{line}"
    );
    nothing_left(&sb);
}

/// Through SOCKS5 and HTTP CONNECT proxies (an OpenSSH ProxyCommand over netcat), and through
/// forge's adapter over the SSH communicator when asked (`use_proxy = true`, Packer's default).
#[test]
fn ansible_through_proxies_and_through_the_adapter_over_ssh() {
    let target = Sshd::start(SshdOptions::default());
    let bastion = Sshd::start(SshdOptions::bastion());
    let socks = proxy::SocksProxy::ssh(&bastion);
    let http = proxy::HttpProxy::start(&[target.port()]);
    let sb = sandbox(&[]);
    for (label, extra, prov) in [
        (
            "socks",
            json!({"ssh_proxy_host": "127.0.0.1", "ssh_proxy_port": socks.port()}),
            json!({}),
        ),
        (
            "http",
            json!({"ssh_proxy_host": "http://127.0.0.1", "ssh_proxy_port": http.port()}),
            json!({}),
        ),
        ("adapter", json!({}), json!({"use_proxy": true})),
    ] {
        let dest = target.scratch().join(label);
        let mut b = null_builder(&target);
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        let name = format!("{label}.json");
        std::fs::write(
            sb.path(&name),
            template(b, json!([provisioner(&sb, &dest, prov)])),
        )
        .unwrap();
        let out = build(&sb, &name);
        ok(&out);
        check_machine(&dest, "null");
        let adapter = out
            .stdout
            .contains("Setting up proxy adapter for Ansible....");
        assert_eq!(adapter, label == "adapter", "{label}:\n{}", out.stdout);
    }
    assert!(http.log().contains("CONNECT"), "{}", http.log());
    nothing_left(&sb);
}

/// A sensitive variable given to Ansible in `extra_arguments` is masked in the printed command
/// and in Ansible's own output.
#[test]
fn sensitive_values_given_to_ansible_are_masked() {
    let s = Sshd::start(SshdOptions::default());
    let sb = sandbox(&[(
        "show.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Show the token\n      ansible.builtin.debug:\n        msg: \"token is {{ token }}\"\n",
    )]);
    let t = serde_json::to_string_pretty(&json!({
        "variables": {"token": "s3cr3t-t0ken-value"},
        "sensitive-variables": ["token"],
        "builders": [null_builder(&s)],
        "provisioners": [{"type": "ansible", "playbook_file": "show.yml",
                          "extra_arguments": ["-e", "token={{user `token`}}"]}],
    }))
    .unwrap();
    std::fs::write(sb.path("t.json"), t).unwrap();
    let out = build(&sb, "t.json");
    ok(&out);
    assert!(
        out.stdout.contains("token is <sensitive>"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cr3t"), "{}", out.stdout);
    assert!(!out.stderr.contains("s3cr3t"), "{}", out.stderr);
    nothing_left(&sb);
}

/// ansible-local end to end: forge uploads the playbook directory (its template, role and
/// group variables) over SSH and runs the machine's ansible-playbook there (the test bed's: the
/// machine is this one), then removes the staging directory.
#[test]
fn ansible_local_runs_on_the_machine_over_ssh() {
    let s = Sshd::start(SshdOptions::default());
    let dest = s.scratch().join("local");
    let staging = s.scratch().join("staging");
    let sb = Sandbox::new(
        FORGE,
        &[
            ("pb/play.yml", PLAYBOOK),
            ("pb/motd.j2", MOTD),
            ("pb/roles/greeter/tasks/main.yml", ROLE_TASKS),
            ("pb/group_vars/all.yml", "greeter_word: from-group-vars\n"),
        ],
    );
    let t = template(
        null_builder(&s),
        json!([local_provisioner(&dest, &staging)]),
    );
    std::fs::write(sb.path("t.json"), t).unwrap();
    let out = build(&sb, "t.json");
    ok(&out);
    assert!(
        out.stdout
            .contains("==> null: Provisioning with Ansible..."),
        "{}",
        out.stdout
    );
    assert_eq!(read(&dest.join("etc/role")), "role from-group-vars\n");
    assert_eq!(read(&dest.join("etc/handler")), "handled\n");
    assert!(read(&dest.join("etc/motd")).starts_with("hello from null on True"));
    assert!(!staging.exists(), "the staging directory stayed");
    nothing_left(&sb);
}

/// ansible-local against packer 1.6.6 on the same template: the same machine state and the same
/// task lines. (The command lines differ by design: forge follows the current plugin, see
/// docs/ansible.md.)
#[test]
fn ansible_local_side_by_side_with_packer() {
    forge_testkit::require::path("/usr/bin/packer", "packer");
    let s = Sshd::start(SshdOptions::default());
    let sb = Sandbox::new(
        FORGE,
        &[
            ("pb/play.yml", PLAYBOOK),
            ("pb/motd.j2", MOTD),
            ("pb/roles/greeter/tasks/main.yml", ROLE_TASKS),
        ],
    );
    let mut lines = Vec::new();
    for (who, exe) in [("forge", FORGE), ("packer", "/usr/bin/packer")] {
        let dest = s.scratch().join(who);
        let staging = s.scratch().join(format!("staging-{who}"));
        let t = template(
            null_builder(&s),
            json!([local_provisioner(&dest, &staging)]),
        );
        let name = format!("local-{who}.json");
        std::fs::write(sb.path(&name), t).unwrap();
        let out = build_with(exe, &sb, &name);
        assert_eq!(out.code, 0, "{who} failed:\n{}{}", out.stdout, out.stderr);
        check_local(&dest);
        assert!(!staging.exists(), "{who} left its staging directory");
        lines.push(task_lines(&out.stdout));
    }
    assert!(!lines[0].is_empty());
    assert_eq!(
        lines[0], lines[1],
        "forge and packer 1.6.6 ran different tasks"
    );
}

/// What the playbook leaves under `dest` when the role has no group variables.
fn check_local(dest: &Path) {
    assert!(read(&dest.join("etc/motd")).starts_with("hello from null on True"));
    assert_eq!(read(&dest.join("etc/role")), "role hi\n");
    assert_eq!(read(&dest.join("etc/handler")), "handled\n");
}

/// Ansible's task, handler and result lines of a null build's output.
fn task_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("    null: ")
                .or_else(|| l.strip_prefix("==> null: "))
        })
        .filter(|l| {
            l.starts_with("TASK [")
                || l.starts_with("RUNNING HANDLER")
                || l.starts_with("changed: ")
                || l.starts_with("ok: ")
        })
        .map(str::to_string)
        .collect()
}

/// `exe build` (forge or packer) of `name` in the sandbox's directory, with the test bed's
/// Ansible first on PATH.
fn build_with(exe: &str, sb: &Sandbox, name: &str) -> Out {
    forge_testkit::cli::output(
        Command::new(exe)
            .args(["build", "-color=false", name])
            .current_dir(&sb.dir)
            .env("PATH", env_path())
            .env("ANSIBLE_NOCOLOR", "1")
            .env("CHECKPOINT_DISABLE", "1"),
        None,
    )
}

/// The ansible-local provisioner of the `pb/` playbook directory, writing under `dest`, staged
/// in `staging` and cleaned after, with the test bed's ansible-playbook.
fn local_provisioner(dest: &Path, staging: &Path) -> Value {
    json!({
        "type": "ansible-local",
        "playbook_file": "pb/play.yml",
        "playbook_dir": "pb",
        "staging_directory": staging.to_str().unwrap(),
        "clean_staging_directory": true,
        "command": format!("{}/ansible-playbook", ansible::bin_dir().display()),
        "extra_arguments": ["-e", format!("dest={}", dest.display()),
                            "-e", "ansible_python_interpreter=/usr/bin/python3"],
    })
}
