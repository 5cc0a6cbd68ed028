//! ansible-local against this machine: `forge_core::testing::LocalComm` (a real communicator:
//! `sh -c` and `cp`) and the real ansible-core of the test bed (`forge_testkit::ansible`).
//! Each test runs the provisioner as a build would, then looks at what Ansible did.

use std::path::{Path, PathBuf};

use forge_ansible::local::factory;
use forge_core::plugin::BuildData;
use forge_core::testing::{ctx, info, value, LocalComm};
use serde_json::json;

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/local")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn bin(name: &str) -> String {
    forge_testkit::ansible::bin_dir()
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Extra arguments every run needs: where the playbooks write, and the test bed's Python for
/// the modules (whatever `python3` is first on PATH may lack what Ansible needs).
fn base_args(out: &Path) -> Vec<String> {
    vec![
        "--extra-vars".into(),
        format!("out_dir={}", out.display()),
        "-e".into(),
        format!("ansible_python_interpreter={}", bin("python")),
    ]
}

fn data() -> BuildData {
    let mut d = BuildData::new();
    d.insert("PackerHTTPAddr".into(), "10.0.2.2:8100".into());
    d
}

/// Configures and runs the provisioner; its result and everything it printed.
async fn provision(cfg: serde_json::Value) -> (forge_core::Result<()>, String) {
    let p = match factory(&value(cfg), &info("null")) {
        Ok(p) => p,
        Err(e) => panic!("prepare failed: {e:?}"),
    };
    let (ctx, buf) = ctx("null");
    let r = p
        .provision(&ctx, &ctx.ui, Some(std::sync::Arc::new(LocalComm)), &data())
        .await;
    (r, buf.text())
}

fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The staging directory the run announced first.
fn announced_staging(out: &str) -> PathBuf {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("    null: Creating directory: "))
        .unwrap_or_else(|| panic!("no staging directory in:\n{out}"));
    PathBuf::from(line)
}

#[tokio::test]
async fn role_group_and_host_vars_template_and_handler() {
    let out = forge_testkit::tempdir::dir(&[]);
    let staging = out.join("staging");
    let mut args = base_args(&out);
    args.push("-v".into());
    let (r, text) = provision(json!({
        "playbook_file": fixture("site/site.yml"),
        "role_paths": [fixture("roles/greet")],
        "group_vars": fixture("group_vars"),
        "host_vars": fixture("host_vars"),
        "playbook_paths": [fixture("playbooks/extra")],
        "inventory_groups": ["web", "db"],
        "command": bin("ansible-playbook"),
        "extra_arguments": args,
        "staging_directory": staging.to_string_lossy(),
    }))
    .await;
    r.unwrap_or_else(|e| panic!("{e}\n{text}"));

    // The template, with a group var and a host var; the handler it notified; the groups.
    assert_eq!(read(out.join("hello.txt")), "Hello, forge from 127.0.0.1\n");
    assert_eq!(read(out.join("handler.txt")), "handler ran\n");
    assert_eq!(read(out.join("groups.txt")), "db,web\n");

    // What was staged, where Packer puts it (kept: clean_staging_directory is off).
    assert_eq!(
        read(staging.join("site.yml")),
        read(fixture("site/site.yml"))
    );
    assert_eq!(
        read(staging.join("group_vars/all.yml")),
        "greeting: Hello\n"
    );
    assert_eq!(
        read(staging.join("host_vars/127.0.0.1.yml")),
        "who: forge\n"
    );
    assert!(staging.join("roles/greet/templates/hello.j2").is_file());
    assert!(staging.join("playbooks/extra/extra.yml").is_file());
    let inventory: Vec<PathBuf> = std::fs::read_dir(&staging)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with("packer-provisioner-ansible-local")
            })
        })
        .collect();
    assert_eq!(inventory.len(), 1, "{inventory:?}");
    assert_eq!(read(&inventory[0]), "[web]\n127.0.0.1\n[db]\n127.0.0.1\n");

    // Ansible's own output, line by line through the UI.
    let s = staging.display();
    let cmd = format!(
        "    null: Executing Ansible: cd {s} &&  {} {s}/site.yml --extra-vars \"packer_build_name=null packer_builder_type=null packer_http_addr=10.0.2.2:8100 -o IdentitiesOnly=yes\" --extra-vars out_dir={} -e ansible_python_interpreter={} -v -c local -i {}\n",
        bin("ansible-playbook"),
        out.display(),
        bin("python"),
        inventory[0].display()
    );
    assert!(text.contains(&cmd), "{cmd}\nnot in:\n{text}");
    assert!(
        text.contains("    null: TASK [greet : render the greeting] *"),
        "{text}"
    );
    assert!(
        text.contains("    null: RUNNING HANDLER [greet : greeted] *"),
        "{text}"
    );
    assert!(text.contains("    null: PLAY RECAP *"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("    null: 127.0.0.1")
            && l.contains("changed=3")
            && l.contains("failed=0")),
        "{text}"
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[tokio::test]
async fn playbook_dir_with_playbook_files_in_the_default_staging_dir_cleaned() {
    let out = forge_testkit::tempdir::dir(&[]);
    let (r, text) = provision(json!({
        "playbook_dir": fixture("site"),
        "playbook_files": [fixture("site/second.yml"), fixture("playbooks/extra/extra.yml")],
        "command": bin("ansible-playbook"),
        "extra_arguments": base_args(&out),
        "clean_staging_directory": true,
    }))
    .await;
    r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    // The build's data reached the playbook.
    assert_eq!(
        read(out.join("second.txt")),
        "second null null 10.0.2.2:8100\n"
    );
    let staging = announced_staging(&text);
    let id = staging
        .strip_prefix("/tmp/packer-provisioner-ansible-local")
        .unwrap_or_else(|_| panic!("{}", staging.display()));
    assert_eq!(id.to_string_lossy().len(), 36);
    // The file inside playbook_dir ran from there; the other was uploaded below the staging
    // dir at its absolute path.
    let s = staging.display();
    assert!(
        text.contains(&format!(" {s}/second.yml --extra-vars")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "    null: Uploading playbook file: {}\n",
            fixture("playbooks/extra/extra.yml")
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        " {s}{} --extra-vars",
        fixture("playbooks/extra/extra.yml")
    )));
    assert!(text.contains("extra playbook"), "{text}");
    assert!(
        text.ends_with(&format!(
            "    null: Removing staging directory...\n    null: Removing directory: {s}\n"
        )),
        "{text}"
    );
    assert!(!staging.exists(), "{s} is still there");
    std::fs::remove_dir_all(out).unwrap();
}

#[tokio::test]
async fn a_failing_task_fails_with_the_exit_status_and_cleans_up() {
    let out = forge_testkit::tempdir::dir(&[]);
    let staging = out.join("staging");
    let (r, text) = provision(json!({
        "playbook_file": fixture("bad/fail.yml"),
        "command": bin("ansible-playbook"),
        "extra_arguments": base_args(&out),
        "staging_directory": staging.to_string_lossy(),
        "clean_staging_directory": true,
    }))
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: Non-zero exit status: 2"
    );
    assert!(text.contains("the failing task failed"), "{text}");
    assert!(text.contains("failed=1"), "{text}");
    assert!(
        text.contains("    null: Removing staging directory...\n"),
        "{text}"
    );
    assert!(!staging.exists());
    std::fs::remove_dir_all(out).unwrap();
}

#[tokio::test]
async fn a_syntax_error_fails_with_the_exit_status() {
    let out = forge_testkit::tempdir::dir(&[]);
    let (r, text) = provision(json!({
        "playbook_file": fixture("bad/syntax.yml"),
        "command": bin("ansible-playbook"),
        "extra_arguments": base_args(&out),
        "staging_directory": out.join("staging").to_string_lossy(),
    }))
    .await;
    // ansible-playbook's exit status for a playbook it cannot parse.
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: Non-zero exit status: 4"
    );
    assert!(text.contains("==> null: [ERROR]:"), "{text}");
    // Kept: clean_staging_directory is off.
    assert!(out.join("staging/syntax.yml").is_file());
    std::fs::remove_dir_all(out).unwrap();
}

#[tokio::test]
async fn a_missing_command_is_named() {
    let out = forge_testkit::tempdir::dir(&[]);
    let (r, _) = provision(json!({
        "playbook_file": fixture("site/second.yml"),
        "command": "/nonexistent/ansible-playbook",
        "staging_directory": out.join("staging").to_string_lossy(),
    }))
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: /nonexistent/ansible-playbook could not be found. Verify that it is available on the\nPATH after connecting to the machine."
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[tokio::test]
async fn galaxy_installs_a_role_from_a_local_archive_and_a_collection_from_a_directory() {
    let out = forge_testkit::tempdir::dir(&[]);
    let archive = out.join("galaxyrole.tar.gz");
    let tar = std::process::Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(fixture("galaxy_src"))
        .arg("galaxyrole")
        .status()
        .expect("tar (Debian's tar) is needed to pack the galaxy role");
    assert!(tar.success());
    let requirements = out.join("requirements.yml");
    std::fs::write(
        &requirements,
        format!(
            "---\nroles:\n  - src: file://{}\n    name: galaxyrole\ncollections:\n  - name: {}\n    type: dir\n",
            archive.display(),
            fixture("collections/ansible_collections/forge/test")
        ),
    )
    .unwrap();
    let staging = out.join("staging");
    let (r, text) = provision(json!({
        "playbook_files": [fixture("galaxy_src/galaxy.yml"), fixture("galaxy_src/collection.yml")],
        "galaxy_file": requirements.to_string_lossy(),
        "galaxy_command": bin("ansible-galaxy"),
        "galaxy_force_install": true,
        "command": bin("ansible-playbook"),
        "extra_arguments": base_args(&out),
        "staging_directory": staging.to_string_lossy(),
    }))
    .await;
    r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let s = staging.display();
    assert!(
        text.contains(&format!(
            "    null: Executing Ansible Galaxy: cd {s} && {} install -r {s}/requirements.yml -p {s}/galaxy_roles -f\n",
            bin("ansible-galaxy")
        )),
        "{text}"
    );
    assert!(
        text.contains("galaxyrole was installed successfully"),
        "{text}"
    );
    assert!(
        text.contains("forge.test:1.0.0 was installed successfully"),
        "{text}"
    );
    assert!(staging
        .join("galaxy_roles/galaxyrole/tasks/main.yml")
        .is_file());
    assert!(staging
        .join("galaxy_collections/ansible_collections/forge/test/MANIFEST.json")
        .is_file());
    // Both playbooks found what galaxy installed, through the paths Packer adds.
    assert_eq!(read(out.join("galaxy.txt")), "galaxy role ran\n");
    assert_eq!(read(out.join("collection.txt")), "collection role ran\n");
    std::fs::remove_dir_all(out).unwrap();
}

#[tokio::test]
async fn collection_paths_are_found_by_the_playbook() {
    let out = forge_testkit::tempdir::dir(&[]);
    let staging = out.join("staging");
    let (r, text) = provision(json!({
        "playbook_file": fixture("galaxy_src/collection.yml"),
        "collection_paths": [fixture("collections/ansible_collections")],
        "command": bin("ansible-playbook"),
        "extra_arguments": base_args(&out),
        "staging_directory": staging.to_string_lossy(),
    }))
    .await;
    r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(staging
        .join("collections/ansible_collections/forge/test/roles/coll_role/tasks/main.yml")
        .is_file());
    assert_eq!(read(out.join("collection.txt")), "collection role ran\n");
    std::fs::remove_dir_all(out).unwrap();
}
