//! ansible-local's checks and its flow against the scripted communicator double: the exact
//! commands, uploads and messages of each option group. Real Ansible runs are in
//! `tests/ansible_local.rs`.

use std::path::{Path, PathBuf};

use forge_core::plugin::{BuildCtx, BuildData, Stream};
use forge_core::testing::{info, ui, value, Call, FakeComm, Reply};
use serde_json::json;

use super::*;

/// The fixtures, as the relative paths a template would hold (tests run in the crate's dir).
const FX: &str = "tests/fixtures/local";

fn fx(rel: &str) -> String {
    format!("{FX}/{rel}")
}

fn abs_fx(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FX)
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn prepare(v: serde_json::Value) -> std::result::Result<Config, Vec<String>> {
    Config::prepare(&value(v), &info("null"))
}

/// A config with `staging_directory` `/s` and `playbook_file` site.yml, plus `extra`.
fn with(extra: serde_json::Value) -> Config {
    let mut v = json!({"playbook_file": fx("site/site.yml"), "staging_directory": "/s"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    prepare(v).unwrap()
}

fn data() -> BuildData {
    let mut d = BuildData::new();
    d.insert("PackerHTTPAddr".into(), "10.0.2.2:8100".into());
    d
}

async fn provision(
    c: &Config,
    comm: &FakeComm,
    data: &BuildData,
) -> (forge_core::Result<()>, String) {
    let ctx = BuildCtx::for_test("null");
    let (ui, buf) = ui("null");
    let r = run::run(&ctx, &ui, c, comm, data).await;
    (r, buf.text())
}

/// The generated inventory's remote name: `/s/packer-provisioner-ansible-local<digits>`.
fn generated_inventory(comm: &FakeComm) -> String {
    let (dst, _) = comm
        .uploads()
        .into_iter()
        .find(|(d, _)| d.starts_with("/s/packer-provisioner-ansible-local"))
        .expect("a generated inventory upload");
    let digits = &dst["/s/packer-provisioner-ansible-local".len()..];
    assert!(
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()),
        "{dst}"
    );
    dst
}

const EXTRA_VARS: &str = "--extra-vars \"packer_build_name=null packer_builder_type=null packer_http_addr=10.0.2.2:8100 -o IdentitiesOnly=yes\"";

// ---- configuration ----

#[test]
fn packer_defaults() {
    let c = prepare(json!({"playbook_file": fx("site/site.yml")})).unwrap();
    assert_eq!(
        c.command,
        "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook"
    );
    assert_eq!(c.galaxy_command, "ansible-galaxy");
    // /tmp/packer-provisioner-ansible-local/<time-ordered uuid>
    let id = c
        .staging_dir
        .strip_prefix("/tmp/packer-provisioner-ansible-local/")
        .expect("default staging dir");
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
    assert!(
        id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{id}"
    );
    let secs = u32::from_str_radix(&id[..8], 16).unwrap() as u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(secs) < 120, "the uuid starts with the time");
    assert_eq!(
        c.galaxy_roles_path,
        format!("{}/galaxy_roles", c.staging_dir)
    );
    assert_eq!(
        c.galaxy_collections_path,
        format!("{}/galaxy_collections", c.staging_dir)
    );
    assert!(!c.clean_staging_dir && !c.galaxy_force_install);
    assert!(c.extra_arguments.is_empty() && c.inventory_groups.is_empty());
    assert_eq!(
        (c.build_name.as_str(), c.builder_type.as_str()),
        ("null", "null")
    );
    // Each provisioner gets its own staging directory.
    let d = prepare(json!({"playbook_file": fx("site/site.yml")})).unwrap();
    assert_ne!(c.staging_dir, d.staging_dir);
}

#[test]
fn galaxy_paths_follow_the_staging_dir_cleaned() {
    let c = with(json!({"staging_directory": "/opt/st/"}));
    // The staging dir is used as written; the paths below it are joined (and cleaned).
    assert_eq!(c.staging_dir, "/opt/st/");
    assert_eq!(c.galaxy_roles_path, "/opt/st/galaxy_roles");
    assert_eq!(c.galaxy_collections_path, "/opt/st/galaxy_collections");
    let c = with(json!({"galaxy_roles_path": "/r", "galaxy_collections_path": "/c"}));
    assert_eq!(
        (
            c.galaxy_roles_path.as_str(),
            c.galaxy_collections_path.as_str()
        ),
        ("/r", "/c")
    );
}

#[test]
fn a_playbook_is_required_and_exclusive() {
    assert_eq!(
        prepare(json!({})).unwrap_err(),
        ["Either playbook_file or playbook_files must be specified"]
    );
    assert_eq!(
        prepare(json!({"playbook_file": "", "playbook_files": []})).unwrap_err(),
        ["Either playbook_file or playbook_files must be specified"]
    );
    assert_eq!(
        prepare(
            json!({"playbook_file": fx("site/site.yml"), "playbook_files": [fx("site/second.yml")]})
        )
        .unwrap_err(),
        ["Either playbook_file or playbook_files can be specified, not both"]
    );
}

#[test]
fn every_error_at_once_in_packers_order() {
    let errs = prepare(json!({
        "playbook_file": "nope.yml",
        "playbook_files": [fx("site"), "", "gone.yml", fx("site/second.yml")],
        "inventory_file": "no-inventory",
        "galaxy_file": fx("roles"),
        "playbook_dir": fx("site/site.yml"),
        "group_vars": "no-gv",
        "host_vars": fx("group_vars/all.yml"),
        "playbook_paths": ["no-pp", fx("playbooks/extra")],
        "role_paths": ["no-role"],
        "collection_paths": [fx("site/second.yml")],
    }))
    .unwrap_err();
    assert_eq!(
        errs,
        [
            "Either playbook_file or playbook_files can be specified, not both".to_string(),
            "playbook_file: nope.yml is invalid: stat nope.yml: no such file or directory".into(),
            format!("playbook_files: {FX}/site must point to a file"),
            "playbook_files must be specified.".into(),
            "playbook_files: gone.yml is invalid: stat gone.yml: no such file or directory".into(),
            "inventory_file: no-inventory is invalid: stat no-inventory: no such file or directory"
                .into(),
            format!("galaxy_file: {FX}/roles must point to a file"),
            format!("playbook_dir: {FX}/site/site.yml must point to a directory"),
            "group_vars: no-gv is invalid: stat no-gv: no such file or directory".into(),
            format!("host_vars: {FX}/group_vars/all.yml must point to a directory"),
            "playbook_paths: no-pp is invalid: stat no-pp: no such file or directory".into(),
            "role_paths: no-role is invalid: stat no-role: no such file or directory".into(),
            format!("collection_paths: {FX}/site/second.yml must point to a directory"),
        ]
    );
}

#[test]
fn a_path_through_a_file_is_not_a_directory() {
    let errs = prepare(json!({"playbook_file": fx("site/site.yml/x")})).unwrap_err();
    assert_eq!(
        errs,
        [format!(
            "playbook_file: {FX}/site/site.yml/x is invalid: stat {FX}/site/site.yml/x: not a directory"
        )]
    );
}

#[test]
fn bad_types_are_errors_not_panics() {
    let errs =
        prepare(json!({"playbook_file": fx("site/site.yml"), "clean_staging_directory": "maybe"}))
            .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("clean_staging_directory"), "{errs:?}");
    let errs =
        prepare(json!({"playbook_file": fx("site/site.yml"), "role_paths": {"a": 1}})).unwrap_err();
    assert!(errs[0].contains("role_paths"), "{errs:?}");
}

#[test]
fn playbook_files_are_made_absolute() {
    let c = prepare(json!({
        "playbook_files": [fx("site/../site/site.yml"), abs_fx("site/second.yml")],
    }))
    .unwrap();
    assert_eq!(
        c.playbook_files,
        [abs_fx("site/site.yml"), abs_fx("site/second.yml")]
    );
}

#[tokio::test]
async fn the_factory_checks_and_builds() {
    let Err(errs) = factory(&value(json!({})), &info("null")) else {
        panic!("accepted a config without a playbook");
    };
    assert_eq!(
        errs,
        ["Either playbook_file or playbook_files must be specified"]
    );
    let p = factory(
        &value(json!({"playbook_file": fx("site/site.yml"), "staging_directory": "/s"})),
        &info("null"),
    )
    .unwrap();
    let comm = FakeComm::new();
    let ctx = BuildCtx::for_test("null");
    let (ui, _) = ui("null");
    p.provision(&ctx, &ui, Some(std::sync::Arc::new(comm.clone())), &data())
        .await
        .unwrap();
    assert_eq!(comm.commands()[0], "mkdir -p '/s'");
}

// ---- running ----

#[tokio::test]
async fn playbook_file_flow_commands_uploads_and_messages() {
    let c = with(json!({}));
    let comm = FakeComm::new();
    let (r, out) = provision(&c, &comm, &data()).await;
    r.unwrap();
    let inv = generated_inventory(&comm);
    let site = std::fs::read_to_string(fx("site/site.yml")).unwrap();
    assert_eq!(
        comm.uploads(),
        [
            ("/s/site.yml".to_string(), site),
            (inv.clone(), "127.0.0.1".to_string())
        ]
    );
    let run = format!(
        "cd /s &&  ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /s/site.yml {EXTRA_VARS}  -c local -i {inv}"
    );
    assert_eq!(comm.commands(), ["mkdir -p '/s'".to_string(), run.clone()]);
    assert_eq!(
        out,
        format!(
            "==> null: Provisioning with Ansible...\n\
             \x20   null: Creating Ansible staging directory...\n\
             \x20   null: Creating directory: /s\n\
             \x20   null: Uploading main Playbook file...\n\
             \x20   null: Uploading inventory file...\n\
             \x20   null: Executing Ansible: {run}\n"
        )
    );
    // The local inventory is gone once the provisioner is done.
    let local = comm
        .calls()
        .into_iter()
        .find_map(|c| match c {
            Call::Upload(d, src, _) if d == inv => Some(src),
            _ => None,
        })
        .unwrap();
    assert!(!local.exists(), "{}", local.display());
}

#[tokio::test]
async fn every_upload_option_in_packers_order() {
    let c = prepare(json!({
        "playbook_dir": fx("site"),
        "playbook_files": [fx("site/site.yml"), fx("bad/fail.yml"), fx("site/second.yml")],
        "staging_directory": "/s",
        "group_vars": fx("group_vars"),
        "host_vars": fx("host_vars/"),
        "role_paths": [fx("roles/greet"), fx("galaxy_src/galaxyrole")],
        "collection_paths": [fx("collections/ansible_collections")],
        "playbook_paths": [fx("playbooks/extra")],
        "inventory_groups": ["web", "db"],
        "extra_arguments": ["-v", "--extra-vars", "a=b"],
    }))
    .unwrap();
    let comm = FakeComm::new();
    let (r, out) = provision(&c, &comm, &data()).await;
    r.unwrap();
    let inv = generated_inventory(&comm);
    let fail_abs = abs_fx("bad/fail.yml");
    let fail_dir = abs_fx("bad");
    let pb = |p: &str| {
        format!(
            "cd /s &&  ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:/s/collections ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook {p} {EXTRA_VARS} -v --extra-vars a=b -c local -i {inv}"
        )
    };
    let dir = |p: &str| PathBuf::from(format!("{p}/"));
    assert_eq!(
        comm.calls(),
        [
            Call::Exec("mkdir -p '/s'".into()),
            Call::UploadDir("/s".into(), dir(&fx("site"))),
            Call::Exec(format!("mkdir -p '/s{fail_dir}'")),
            Call::Upload(
                format!("/s{fail_abs}"),
                PathBuf::from(&fail_abs),
                std::fs::read(&fail_abs).unwrap()
            ),
            Call::Upload(
                inv.clone(),
                comm.calls()
                    .iter()
                    .find_map(|c| match c {
                        Call::Upload(d, s, _) if *d == inv => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap(),
                b"[web]\n127.0.0.1\n[db]\n127.0.0.1\n".to_vec()
            ),
            Call::Exec("mkdir -p '/s/group_vars'".into()),
            Call::UploadDir("/s/group_vars".into(), dir(&fx("group_vars"))),
            Call::Exec("mkdir -p '/s/host_vars'".into()),
            // A trailing slash is kept as it is, not doubled.
            Call::UploadDir("/s/host_vars".into(), PathBuf::from(fx("host_vars/"))),
            Call::Exec("mkdir -p '/s/roles/greet'".into()),
            Call::UploadDir("/s/roles/greet".into(), dir(&fx("roles/greet"))),
            Call::Exec("mkdir -p '/s/roles/galaxyrole'".into()),
            Call::UploadDir(
                "/s/roles/galaxyrole".into(),
                dir(&fx("galaxy_src/galaxyrole"))
            ),
            Call::Exec("mkdir -p '/s/collections/ansible_collections'".into()),
            Call::UploadDir(
                "/s/collections/ansible_collections".into(),
                dir(&fx("collections/ansible_collections"))
            ),
            Call::Exec("mkdir -p '/s/playbooks'".into()),
            Call::Exec("mkdir -p '/s/playbooks/extra'".into()),
            Call::UploadDir("/s/playbooks/extra".into(), dir(&fx("playbooks/extra"))),
            // Files inside playbook_dir run from where the directory put them; the others from
            // below the staging dir at their absolute path.
            Call::Exec(pb("/s/site.yml")),
            Call::Exec(pb(&format!("/s{fail_abs}"))),
            Call::Exec(pb("/s/second.yml")),
        ]
    );
    let messages: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains("Executing Ansible") && !l.contains("Creating directory"))
        .collect();
    assert_eq!(
        messages,
        [
            "==> null: Provisioning with Ansible...".to_string(),
            "    null: Uploading Playbook directory to Ansible staging directory...".into(),
            format!("    null: Uploading playbook file: {fail_abs}"),
            "    null: Uploading inventory file...".into(),
            "    null: Uploading group_vars directory...".into(),
            "    null: Uploading host_vars directory...".into(),
            "    null: Uploading role directories...".into(),
            "    null: Uploading collection directories...".into(),
            "    null: Uploading additional Playbooks...".into(),
        ]
    );
}

#[tokio::test]
async fn a_given_inventory_file_is_uploaded_as_it_is() {
    let c = with(
        json!({"inventory_file": fx("host_vars/127.0.0.1.yml"), "inventory_groups": ["ignored"]}),
    );
    let comm = FakeComm::new();
    let (r, _) = provision(&c, &comm, &data()).await;
    r.unwrap();
    let inv = std::fs::read_to_string(fx("host_vars/127.0.0.1.yml")).unwrap();
    assert_eq!(comm.uploads()[1], ("/s/127.0.0.1.yml".to_string(), inv));
    assert!(
        comm.commands()[1].ends_with(" -c local -i /s/127.0.0.1.yml"),
        "{:?}",
        comm.commands()
    );
}

#[tokio::test]
async fn build_data_and_custom_commands() {
    let c = with(json!({"command": "/opt/ap", "extra_arguments": ["--tags=x"]}));
    let comm = FakeComm::new();
    // No PackerHTTPAddr at all: Go's %s of a missing map entry.
    let (r, _) = provision(&c, &comm, &BuildData::new()).await;
    r.unwrap();
    let inv = generated_inventory(&comm);
    assert_eq!(
        comm.commands()[1],
        format!(
            "cd /s &&  /opt/ap /s/site.yml --extra-vars \"packer_build_name=null packer_builder_type=null packer_http_addr=%!s(<nil>) -o IdentitiesOnly=yes\" --tags=x -c local -i {inv}"
        )
    );
}

/// Runs with `galaxy_file` set to a file holding `text`; the commands.
async fn galaxy_run(text: &str, extra: serde_json::Value) -> (Vec<String>, String) {
    let dir = forge_testkit::tempdir::dir(&[("requirements.yml", text)]);
    let mut v = json!({"galaxy_file": dir.join("requirements.yml").to_string_lossy()});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    let c = with(v);
    let comm = FakeComm::new();
    let (r, out) = provision(&c, &comm, &data()).await;
    r.unwrap();
    let inv = generated_inventory(&comm);
    assert_eq!(
        comm.uploads()[1],
        ("/s/requirements.yml".to_string(), text.to_string()),
        "the galaxy file goes before the inventory"
    );
    assert!(
        out.contains("    null: Uploading galaxy file...\n    null: Uploading inventory file...\n"),
        "{out}"
    );
    for cmd in comm.commands().iter().filter(|c| c.contains("galaxy ")) {
        assert!(
            out.contains(&format!("    null: Executing Ansible Galaxy: {cmd}\n")),
            "{out}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
    (comm.commands(), inv)
}

#[tokio::test]
async fn galaxy_old_list_format_installs_roles_only() {
    let (cmds, inv) = galaxy_run("- src: foo.bar\n", json!({})).await;
    assert_eq!(
        cmds,
        [
            "mkdir -p '/s'".to_string(),
            "cd /s && ansible-galaxy install -r /s/requirements.yml -p /s/galaxy_roles".into(),
            // Packer sets no roles path for this format.
            format!("cd /s &&  ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /s/site.yml {EXTRA_VARS}  -c local -i {inv}"),
        ]
    );
}

#[tokio::test]
async fn galaxy_roles_and_collections_forced_to_custom_paths() {
    let (cmds, inv) = galaxy_run(
        "---\nroles:\n  - src: a.b\ncollections:\n  - name: c.d\n",
        json!({"galaxy_force_install": true, "galaxy_roles_path": "/gr", "galaxy_collections_path": "/gc",
               "galaxy_command": "/opt/galaxy", "collection_paths": [fx("collections/ansible_collections")]}),
    )
    .await;
    assert_eq!(
        cmds,
        [
            "mkdir -p '/s'".to_string(),
            "mkdir -p '/s/collections/ansible_collections'".into(),
            "cd /s && /opt/galaxy install -r /s/requirements.yml -p /gr -f".into(),
            "cd /s && /opt/galaxy collection install -r /s/requirements.yml -p /gc -f".into(),
            format!("cd /s &&  ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:/gc:/s/collections ANSIBLE_ROLES_PATH=$ANSIBLE_ROLES_PATH:/gr ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /s/site.yml {EXTRA_VARS}  -c local -i {inv}"),
        ]
    );
}

#[tokio::test]
async fn galaxy_collections_only() {
    let (cmds, inv) = galaxy_run("collections:\n  - name: c.d\n", json!({})).await;
    assert_eq!(
        cmds,
        [
            "mkdir -p '/s'".to_string(),
            "cd /s && ansible-galaxy collection install -r /s/requirements.yml -p /s/galaxy_collections".into(),
            format!("cd /s &&  ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:/s/galaxy_collections ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /s/site.yml {EXTRA_VARS}  -c local -i {inv}"),
        ]
    );
}

#[tokio::test]
async fn output_is_streamed_line_by_line() {
    let c = with(json!({}));
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(cmd) if cmd.contains("ansible-playbook") => Reply::out(&[
            (Stream::Stdout, "PLAY [all] ***  "),
            (Stream::Stderr, "[WARNING]: careful"),
            (Stream::Stdout, ""),
            (Stream::Stdout, "10%\r100%"),
        ]),
        _ => Reply::code(0),
    });
    let (r, out) = provision(&c, &comm, &data()).await;
    r.unwrap();
    let tail: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("Executing Ansible"))
        .skip(1)
        .collect();
    assert_eq!(
        tail,
        [
            "    null: PLAY [all] ***",
            "==> null: [WARNING]: careful",
            "    null:",
            "    null: 100%",
        ]
    );
}

fn failing(on: &'static str, code: i32) -> FakeComm {
    FakeComm::scripted(move |call, _| match call {
        Call::Exec(cmd) if cmd.contains(on) => Reply::code(code),
        _ => Reply::code(0),
    })
}

#[tokio::test]
async fn a_failing_playbook_names_the_exit_status() {
    let c = with(json!({}));
    let comm = failing("ansible-playbook", 2);
    let (r, out) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: Non-zero exit status: 2"
    );
    // Without clean_staging_directory nothing is removed.
    assert!(!comm.commands().iter().any(|c| c.starts_with("rm ")));
    assert!(!out.contains("Removing"));
}

#[tokio::test]
async fn a_missing_ansible_playbook_is_named() {
    let c = with(json!({}));
    let comm = failing("ansible-playbook", 127);
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook could not be found. Verify that it is available on the\nPATH after connecting to the machine."
    );
}

#[tokio::test]
async fn a_failing_galaxy_stops_before_the_playbook() {
    let dir = forge_testkit::tempdir::dir(&[("req.yml", "roles: []\n")]);
    let c = with(json!({"galaxy_file": dir.join("req.yml").to_string_lossy()}));
    let comm = failing("ansible-galaxy", 1);
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: Error executing Ansible Galaxy: Non-zero exit status: 1"
    );
    assert!(!comm
        .commands()
        .iter()
        .any(|c| c.contains("ansible-playbook")));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn clean_staging_directory_after_success_and_after_failure() {
    let c = with(json!({"clean_staging_directory": true}));
    let comm = FakeComm::new();
    let (r, out) = provision(&c, &comm, &data()).await;
    r.unwrap();
    assert_eq!(comm.commands().last().unwrap(), "rm -rf '/s'");
    assert!(
        out.ends_with(
            "    null: Removing staging directory...\n    null: Removing directory: /s\n"
        ),
        "{out}"
    );

    let comm = failing("ansible-playbook", 4);
    let (r, out) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: Non-zero exit status: 4"
    );
    assert_eq!(comm.commands().last().unwrap(), "rm -rf '/s'");
    assert!(out.contains("Removing directory: /s"), "{out}");

    // A failed removal after success is the provisioner's error.
    let comm = failing("rm -rf", 1);
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error removing staging directory: Non-zero exit status. See output above for more information."
    );
    // After a failure, the first error stays the error and the removal's is shown.
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(c) if c.contains("ansible-playbook") => Reply::code(3),
        Call::Exec(c) if c.starts_with("rm ") => Reply::fail("connection lost"),
        _ => Reply::code(0),
    });
    let (r, out) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error executing Ansible: Non-zero exit status: 3"
    );
    assert!(
        out.contains("==> null: Error removing staging directory: connection lost"),
        "{out}"
    );
}

#[tokio::test]
async fn staging_and_upload_failures() {
    let c = with(json!({}));
    let comm = failing("mkdir", 1);
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error creating staging directory: Non-zero exit status. See output above for more information."
    );
    assert_eq!(comm.calls().len(), 1);

    let comm = FakeComm::scripted(|call, _| match call {
        Call::Upload(..) => Reply::fail("disk full"),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!(
            "Error uploading main playbook: Error uploading {}: disk full",
            fx("site/site.yml")
        )
    );

    let c = with(json!({"playbook_dir": fx("site")}));
    let comm = FakeComm::scripted(|call, _| match call {
        Call::UploadDir(..) => Reply::fail("no sftp"),
        _ => Reply::code(0),
    });
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error uploading playbook_dir directory: no sftp"
    );

    let c = with(json!({"group_vars": fx("group_vars")}));
    let comm = failing("group_vars", 1);
    let (r, _) = provision(&c, &comm, &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Error uploading group_vars directory: Non-zero exit status. See output above for more information."
    );

    let c = prepare(json!({"playbook_files": [fx("bad/fail.yml")], "staging_directory": "/s"}))
        .unwrap();
    let comm = failing("mkdir -p '/s/", 1);
    let (r, _) = provision(&c, &comm, &data()).await;
    let f = abs_fx("bad/fail.yml");
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("Error uploading playbook file: {f} [Non-zero exit status. See output above for more information.]")
    );
}

#[tokio::test]
async fn a_local_file_gone_since_prepare() {
    let dir = forge_testkit::tempdir::dir(&[("p.yml", "- hosts: all\n")]);
    let p = dir.join("p.yml").to_string_lossy().into_owned();
    let c = prepare(json!({"playbook_file": p, "staging_directory": "/s"})).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (r, _) = provision(&c, &FakeComm::new(), &data()).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!(
            "Error uploading main playbook: Error opening: open {p}: no such file or directory"
        )
    );
}

#[tokio::test]
async fn sensitive_extra_arguments_are_masked() {
    let c = with(json!({"extra_arguments": ["--extra-vars", "token=hunter2-secret"]}));
    let comm = FakeComm::scripted(|call, _| match call {
        Call::Exec(cmd) if cmd.contains("ansible-playbook") => {
            Reply::out(&[(Stream::Stdout, "token is hunter2-secret")])
        }
        _ => Reply::code(0),
    });
    let ctx = BuildCtx::for_test("null");
    let (ui, buf) = ui("null");
    ui.output().redactor().add("hunter2-secret");
    run::run(&ctx, &ui, &c, &comm, &data()).await.unwrap();
    // The command itself carries the value; what is shown does not.
    assert!(comm.commands()[1].contains("token=hunter2-secret"));
    let out = buf.text();
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.contains("--extra-vars token="), "{out}");
}

#[tokio::test]
async fn without_a_communicator_uploads_fail_as_packers_none() {
    let p = AnsibleLocal::new(with(json!({})));
    let ctx = BuildCtx::for_test("null");
    let (ui, _) = ui("null");
    let e = p.provision(&ctx, &ui, None, &data()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Error uploading main playbook: Error uploading {}: Upload is not implemented when communicator = 'none'",
            fx("site/site.yml")
        )
    );
}
