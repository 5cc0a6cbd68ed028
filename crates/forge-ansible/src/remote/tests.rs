//! The `ansible` provisioner's checks, inventory, command lines and masking, against Packer's;
//! the runs against real Ansible are in the repository's tests/ansible_build.rs.

use forge_core::plugin::BuildData;
use forge_core::testing::{info, value};
use serde_json::json;

use super::command::{self, Target};
use super::*;

/// A scratch directory holding `play.yml` and `requirements.yml`.
fn scratch() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "forge-ansible-test-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("play.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    std::fs::write(d.join("requirements.yml"), "roles:\n  - src: x\n").unwrap();
    d
}

fn prepare(mut v: serde_json::Value) -> std::result::Result<Config, Vec<String>> {
    if let Some(m) = v.as_object_mut() {
        m.entry("skip_version_check").or_insert(json!(true));
    }
    Config::prepare(&value(v), &info("null"))
}

fn config(dir: &std::path::Path, extra: serde_json::Value) -> Config {
    let mut v = json!({ "playbook_file": dir.join("play.yml").to_str().unwrap() });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    prepare(v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn packer_checks_every_file_at_once() {
    let e = prepare(json!({})).unwrap_err();
    assert_eq!(e, vec!["playbook_file must be specified.".to_string()]);
    let d = scratch();
    let e = prepare(json!({
        "playbook_file": "nope.yml",
        "galaxy_file": d.to_str().unwrap(),
        "ssh_host_key_file": "/nonexistent/host_key",
        "local_port": 70000,
        "inventory_directory": d.join("play.yml").to_str().unwrap(),
        "ansible_proxy_key_type": "dsa",
    }))
    .unwrap_err();
    assert_eq!(
        e,
        vec![
            "playbook_file: nope.yml is invalid: stat nope.yml: no such file or directory"
                .to_string(),
            format!("galaxy_file: {} must point to a file", d.display()),
            "ssh_host_key_file: /nonexistent/host_key is invalid: stat /nonexistent/host_key: \
             no such file or directory"
                .to_string(),
            "local_port: 70000 must be a valid port".to_string(),
            format!(
                "inventory_directory: {} must point to a directory",
                d.join("play.yml").display()
            ),
            "Invalid value for ansible_proxy_key_type: \"DSA\". Supported values are ECDSA or RSA."
                .to_string(),
        ]
    );
}

#[test]
fn a_missing_ansible_fails_the_configuration_naming_what_to_install() {
    let d = scratch();
    let e = Config::prepare(
        &value(json!({
            "playbook_file": d.join("play.yml").to_str().unwrap(),
            "command": "/nonexistent/bin/ansible-playbook",
        })),
        &info("null"),
    )
    .unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with(
        "Error running \"/nonexistent/bin/ansible-playbook --version\": exec: \
         \"/nonexistent/bin/ansible-playbook\": executable file not found in $PATH"
    ));
    assert!(e[0].contains("pip install ansible-core"));
}

#[test]
fn defaults_and_packer_environment() {
    let d = scratch();
    let c = config(&d, json!({}));
    assert_eq!(c.command, "ansible-playbook");
    assert_eq!(c.galaxy_command, "ansible-galaxy");
    assert_eq!(c.host_alias, "default");
    assert_eq!(c.sftp_command, "/usr/lib/sftp-server -e");
    assert_eq!(c.use_proxy, UseProxy::Unset);
    assert_eq!(
        c.env_vars,
        strings(&["ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_SCP_IF_SSH=True"])
    );
    assert_eq!(c.playbook_file, d.join("play.yml"));
    let c = config(
        &d,
        json!({"use_sftp": true, "ssh_host_key_file": d.join("play.yml").to_str().unwrap(),
               "ansible_env_vars": ["A=1"], "use_proxy": false}),
    );
    assert_eq!(c.env_vars, strings(&["A=1"]));
    assert_eq!(c.use_proxy, UseProxy::No);
    // ansible_winrm_use_http adds the scheme, unless the arguments set it.
    let c = config(&d, json!({"ansible_winrm_use_http": true}));
    assert_eq!(
        c.extra_arguments,
        strings(&["-e", "ansible_winrm_scheme=http"])
    );
    let c = config(
        &d,
        json!({"ansible_winrm_use_http": true, "extra_arguments": ["-e", "ansible_winrm_scheme=https"]}),
    );
    assert_eq!(
        c.extra_arguments,
        strings(&["-e", "ansible_winrm_scheme=https"])
    );
}

fn target() -> Target {
    Target {
        host: "10.0.0.5".into(),
        port: 2222,
        user: "admin".into(),
    }
}

#[test]
fn inventory_as_packer_writes_it() {
    let d = scratch();
    let data = BuildData::new();
    let c = config(
        &d,
        json!({"groups": ["web", "db"], "empty_groups": ["none"]}),
    );
    assert_eq!(
        command::inventory(&c, &data, &target()).unwrap(),
        "default ansible_host=10.0.0.5 ansible_user=admin ansible_port=2222\n\
         [web]\ndefault ansible_host=10.0.0.5 ansible_user=admin ansible_port=2222\n\
         [db]\ndefault ansible_host=10.0.0.5 ansible_user=admin ansible_port=2222\n\
         [none]\n"
    );
    let mut c = config(&d, json!({"host_alias": "box"}));
    c.major_version = 1;
    assert_eq!(
        command::inventory(&c, &data, &target()).unwrap(),
        "box ansible_ssh_host=10.0.0.5 ansible_ssh_user=admin ansible_ssh_port=2222\n"
    );
    // A template sees the host's fields and the build's data.
    let mut data = BuildData::new();
    data.insert("ID".into(), "i-123".into());
    let c = config(
        &d,
        json!({"inventory_file_template": "{{ .HostAlias }} ansible_host={{ .Host }} id={{ .ID }}\n"}),
    );
    assert_eq!(
        command::inventory(&c, &data, &target()).unwrap(),
        "default ansible_host=10.0.0.5 id=i-123\n"
    );
}

#[test]
fn playbook_arguments_in_packers_order() {
    let d = scratch();
    let mut c = config(&d, json!({"extra_arguments": ["-v", "--tags=web"]}));
    c.build_name = "web \"1\"".into();
    c.builder_type = "amazon-ebs".into();
    let play = d.join("play.yml").to_string_lossy().into_owned();
    assert_eq!(
        command::playbook_args(&c, Some("10.0.2.2:8080"), Some("/k"), None, "/inv"),
        strings(&[
            "-e",
            "packer_build_name=\"web \\\"1\\\"\"",
            "-e",
            "packer_builder_type=amazon-ebs",
            "-e",
            "packer_http_addr=10.0.2.2:8080",
            "--ssh-extra-args",
            "'-o IdentitiesOnly=yes'",
            "-v",
            "--tags=web",
            "-e",
            "ansible_ssh_private_key_file=/k",
            "-i",
            "/inv",
            &play,
        ])
    );
    // No build name, no HTTP, no key; a password in the arguments drops the key file; custom
    // SSH arguments replace IdentitiesOnly.
    c.build_name.clear();
    c.ssh_extra_args = strings(&["-o ForwardAgent=yes", "-o X=1"]);
    c.extra_arguments = strings(&["-e", "ansible_password=pw"]);
    assert_eq!(
        command::playbook_args(&c, None, Some("/k"), Some("/vars.json"), "/inv"),
        strings(&[
            "-e",
            "packer_builder_type=amazon-ebs",
            "--ssh-extra-args",
            "'-o ForwardAgent=yes' '-o X=1'",
            "-e",
            "ansible_password=pw",
            "-e",
            "@/vars.json",
            "-i",
            "/inv",
            &play,
        ])
    );
}

#[test]
fn galaxy_installs_roles_collections_or_both() {
    let d = scratch();
    let c = config(
        &d,
        json!({"galaxy_force_install": true, "roles_path": "r", "collections_path": "c"}),
    );
    assert_eq!(
        command::galaxy_args(&c, "req.yml", "- src: x\n"),
        vec![strings(&["install", "-r", "req.yml", "-f", "-p", "r"])]
    );
    assert_eq!(
        command::galaxy_args(&c, "req.yml", "collections:\n  - a.b\n"),
        vec![strings(&[
            "collection",
            "install",
            "-r",
            "req.yml",
            "-f",
            "-p",
            "c"
        ])]
    );
    let c = config(&d, json!({"galaxy_force_with_deps": true}));
    assert_eq!(
        command::galaxy_args(&c, "req.yml", "roles:\n- x\ncollections:\n- a.b\n"),
        vec![
            strings(&["install", "-r", "req.yml", "--force-with-deps"]),
            strings(&[
                "collection",
                "install",
                "-r",
                "req.yml",
                "--force-with-deps"
            ]),
        ]
    );
}

#[test]
fn the_printed_command_masks_passwords_and_secrets() {
    let argv = strings(&[
        "ansible-playbook",
        "-e",
        "db_password=hunter2",
        "-e",
        "api_SECRET=s3cr3t",
        "-e",
        "user=bob",
        "-e",
        "winrm=Wpass",
    ]);
    let mut data = BuildData::new();
    data.insert("WinRMPassword".into(), "Wpass".into());
    let extra = argv[1..].to_vec();
    assert_eq!(
        command::sanitized(&argv, &extra, &data),
        "ansible-playbook -e db_password=***** -e api_SECRET=***** -e user=bob -e winrm=*****"
    );
}

#[test]
fn the_failing_task_is_named() {
    let mut t = TaskTracker::default();
    for l in [
        "PLAY [all] *****",
        "TASK [Gathering Facts] *********",
        "ok: [default]",
        "TASK [web : Install [nginx]] ****",
        "fatal: [default]: FAILED! => {\"msg\": \"no\"}",
        "PLAY RECAP ****",
    ] {
        t.line(l);
    }
    assert_eq!(t.failed(), Some("web : Install [nginx]"));
    assert_eq!(TaskTracker::default().failed(), None);
}

#[test]
fn env_vars_split_at_the_first_equals_sign() {
    assert_eq!(
        command::env(&strings(&["A=1", "B=x=y", "BROKEN"])),
        vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "x=y".to_string())
        ]
    );
}

#[tokio::test]
async fn the_adapters_user_is_the_one_commands_run_as() {
    use forge_core::testing::{FakeComm, Reply};
    let ctx = forge_core::plugin::BuildCtx::for_test("docker");
    let comm =
        FakeComm::scripted(|_, _| Reply::out(&[(forge_core::plugin::Stream::Stdout, "builder\n")]));
    assert_eq!(
        super::machine_user(&ctx, &comm).await.as_deref(),
        Some("builder")
    );
    assert_eq!(comm.commands(), vec!["id -un".to_string()]);
    // A machine that cannot say (no `id`): none.
    let comm = FakeComm::scripted(|_, _| Reply::code(127));
    assert_eq!(super::machine_user(&ctx, &comm).await, None);
}
