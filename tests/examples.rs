//! The templates in examples/ as a user runs them: every one passes `forge validate`, every one
//! has its line in the README, and those that can run here are built for real: `local` and
//! `file` anywhere, `docker` against the Docker test bed's base image (forge-testkit's docker),
//! `qemu` with the Debian test guest under TCG (forge-testkit's qemu). A missing test bed fails
//! with what to install. Each build runs in a sandbox and must leave nothing behind: no files
//! outside its output, nothing in TMPDIR, no journal, no container, image or qemu process.
//! scripts/quickstart.sh, the README's first command, runs too (with this test's forge binary).
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, cli, docker, qemu, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::path::{Path, PathBuf};

use build::{settle_processes, Sandbox};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Every directory under examples/.
fn all_examples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(example(""))
        .expect("read examples/")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The `-var`s an example needs to validate (those without defaults), pointing nowhere real.
fn validate_vars(name: &str) -> Vec<&'static str> {
    match name {
        "qemu" => vec!["-var", "disk_image=/nonexistent/disk.qcow2"],
        _ => vec![],
    }
}

/// Runs `forge build` on an example in `sb` with `args` before the template; asserts success.
fn build_ok(sb: &Sandbox, name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let path = example(name).display().to_string();
    let mut a = vec!["build", "-color=false"];
    a.extend_from_slice(args);
    a.push(&path);
    let out = sb.run(&a, None, env);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "forge build examples/{name} failed:\n{all}");
    all
}

/// Nothing in the sandbox's TMPDIR, no journal, and in its directory only `outputs`.
fn assert_clean(sb: &Sandbox, outputs: &[&str], log: &str) {
    let tmp = sb.tmp_leftovers();
    assert!(tmp.is_empty(), "left in TMPDIR: {tmp:?}\n{log}");
    let j = sb.journals();
    assert!(j.is_empty(), "journals left: {j:?}\n{log}");
    let mut files: Vec<String> = std::fs::read_dir(&sb.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    files.sort();
    assert_eq!(files, outputs, "files in the working directory\n{log}");
}

#[test]
fn every_example_validates_and_has_a_readme_line() {
    let examples = all_examples();
    for want in ["docker", "file", "local", "qemu"] {
        assert!(
            examples.iter().any(|e| e == want),
            "examples/{want} is missing"
        );
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let d = tempdir::dir(&[]);
    let dir = example("").display().to_string();
    let fmt = cli::forge(FORGE, &["fmt", "-check", "-recursive", &dir], &d, None);
    assert_eq!(
        fmt.code, 0,
        "examples/ is not formatted (forge fmt -recursive examples):\n{}{}",
        fmt.stdout, fmt.stderr
    );
    for name in &examples {
        assert!(
            readme.contains(&format!("examples/{name}")),
            "README.md does not mention examples/{name} (one line: what it builds, what it needs)"
        );
        let path = example(name).display().to_string();
        let mut args = vec!["validate"];
        args.extend(validate_vars(name));
        args.push(&path);
        let out = cli::forge(FORGE, &args, &d, None);
        assert_eq!(
            out.code, 0,
            "forge validate examples/{name}:\n{}{}",
            out.stdout, out.stderr
        );
        assert!(
            out.stdout.contains("The configuration is valid."),
            "{name}: {}",
            out.stdout
        );
    }
}

#[test]
fn the_local_example_builds() {
    let sb = Sandbox::new(FORGE, &[]);
    let log = build_ok(&sb, "local", &["-var", "greeting=hi from the tests"], &[]);
    assert!(log.contains("    null.here: hi from the tests"), "{log}");
    assert_clean(&sb, &[], &log);
}

#[test]
fn the_file_example_builds_with_checksums_and_a_manifest() {
    let sb = Sandbox::new(FORGE, &[]);
    let log = build_ok(&sb, "file", &["-var", "release=2.5"], &[]);
    let out = sb.path("output-file");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "manifest.json",
            "release-notes.md5",
            "release-notes.sha256",
            "release-notes.txt"
        ],
        "{log}"
    );
    let notes = std::fs::read_to_string(out.join("release-notes.txt")).unwrap();
    assert_eq!(notes, "release 2.5, built by forge\n");
    let sha = std::fs::read_to_string(out.join("release-notes.sha256")).unwrap();
    assert!(sha.ends_with("\trelease-notes.txt\n"), "{sha:?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
            .expect("manifest.json is JSON");
    assert_eq!(manifest["builds"][0]["builder_type"], "file", "{manifest}");
    assert_eq!(
        manifest["builds"][0]["custom_data"]["release"], "2.5",
        "{manifest}"
    );
    assert_clean(&sb, &["output-file"], &log);
}

#[test]
fn the_docker_example_builds_an_image_from_the_local_base() {
    let base = docker::base_image();
    let sb = Sandbox::new(FORGE, &[]);
    let repo = format!("forge-example/test-{}", std::process::id());
    let image = format!("{repo}:latest");
    let log = build_ok(
        &sb,
        "docker",
        &[
            "-var",
            &format!("image={base}"),
            "-var",
            "pull=false",
            "-var",
            &format!("repository={repo}"),
        ],
        &[],
    );
    let ran = std::process::Command::new("docker")
        .args(["run", "--rm", &image])
        .output()
        .expect("run docker");
    docker::remove_images(&[&image]);
    let motd = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success(), "docker run {image}: {ran:?}\n{log}");
    assert!(
        motd.starts_with("Hello from an image forge built.\nbuilt by forge on "),
        "{motd}\n{log}"
    );
    // The build's container is gone.
    let id = log
        .lines()
        .find_map(|l| l.split("Container ID: ").nth(1))
        .unwrap_or_else(|| panic!("no container id in the output:\n{log}"));
    assert!(
        !docker::docker(&["ps", "-aq", "--no-trunc"]).contains(id.trim()),
        "container {id} left\n{log}"
    );
    assert!(!docker::image_exists(&image));
    assert_clean(&sb, &[], &log);
}

#[test]
fn the_qemu_example_builds_a_disk_from_the_test_guest() {
    let g = qemu::guest();
    let sb = Sandbox::new(FORGE, &[]);
    let cmdline = format!("kernel_cmdline={}", g.cmdline);
    let vars = [
        format!("disk_image={}", g.disk.display()),
        format!("ssh_private_key_file={}", g.key.display()),
        format!("kernel={}", g.kernel.display()),
        format!("initrd={}", g.initrd.display()),
        cmdline,
        "accelerator=tcg".to_string(),
        format!("output_dir={}", sb.path("output-qemu").display()),
    ];
    let mut args = Vec::new();
    for v in &vars {
        args.push("-var");
        args.push(v.as_str());
    }
    let ports = sb.path(".ports").display().to_string();
    let cache = sb.path(".cache").display().to_string();
    let log = build_ok(
        &sb,
        "qemu",
        &args,
        &[
            ("FORGE_PORT_LOCK_DIR", &ports),
            ("PACKER_CACHE_DIR", &cache),
        ],
    );
    assert!(log.contains("==> qemu.debian: Connected to SSH!"), "{log}");
    let image = sb.path("output-qemu/image.qcow2");
    assert!(image.is_file(), "no {}:\n{log}", image.display());
    let procs = settle_processes(&sb.dir.display().to_string());
    assert!(procs.is_empty(), "processes left: {procs:?}\n{log}");
    let locks: Vec<_> = std::fs::read_dir(sb.path(".ports"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(locks.is_empty(), "port locks left: {locks:?}\n{log}");
    assert_clean(&sb, &["output-qemu"], &log);
}

/// The README's first command, with this test binary instead of a release build and the test
/// bed's base image: it builds examples/docker, runs the result and reports its timings.
#[test]
fn the_quickstart_script_builds_and_runs_the_docker_example() {
    let base = docker::base_image();
    let repo = format!("forge-example/quickstart-{}", std::process::id());
    let sb = Sandbox::new(FORGE, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/quickstart.sh");
    let out = cli::output(
        std::process::Command::new("bash")
            .arg(&script)
            .env("FORGE_BIN", env!("CARGO_BIN_EXE_forge"))
            .env("EXAMPLE_IMAGE", base)
            .env("EXAMPLE_REPO", &repo)
            .env("TMPDIR", &sb.tmp)
            .env("FORGE_STATE_DIR", &sb.state)
            .env("PACKER_TMP_DIR", &sb.tmp)
            .env("CHECKPOINT_DISABLE", "1"),
        None,
    );
    docker::remove_images(&[format!("{repo}:latest")]);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "scripts/quickstart.sh failed:\n{all}");
    for want in [
        "=== forge build examples/docker",
        "Hello from an image forge built.",
        "=== time taken",
        "  forge build ",
        "  total ",
    ] {
        assert!(all.contains(want), "missing {want:?}:\n{all}");
    }
    assert_clean(&sb, &[], &all);
}
