//! `forge build` with the docker builder, end to end through the binary against the real
//! Docker engine: shell and file provisioners in the container, a commit, docker-tag and
//! docker-push to Debian's docker-registry with basic auth, bad input, and interrupts at random
//! points (SIGINT, and SIGKILL followed by `forge cleanup`) that must leave no container.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{build, cli, docker, registry, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::time::{Duration, Instant};

use build::{signal, Rng, Sandbox};

const EVENTS: &str = ".events.jsonl";

/// The run id a build wrote at the head of its event stream (waits up to 20 s for it).
fn run_id(sb: &Sandbox) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(sb.path(EVENTS)).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            let v: serde_json::Value = serde_json::from_str(line).expect("an event");
            return v["run"].as_str().expect("a run id").to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no event stream");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn label(run: &str) -> String {
    format!("forge.run-id={run}")
}

/// Removes the images a run committed (they carry the container's run label).
fn remove_run_images(run: &str) {
    let f = format!("label={}", label(run));
    let ids = docker::docker(&["images", "-q", "--no-trunc", "--filter", &f]);
    let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
    docker::remove_images(&ids);
}

/// No container of the run, nothing in TMPDIR, no journal left.
fn assert_nothing_left(sb: &Sandbox, run: &str, what: &str, output: &str) {
    let left = docker::containers_with_label(&label(run));
    if !left.is_empty() {
        docker::remove_containers(&left);
        panic!("{what}: containers left behind: {left:?}\n{output}");
    }
    let tmp = sb.tmp_leftovers();
    assert!(tmp.is_empty(), "{what}: left in TMPDIR: {tmp:?}\n{output}");
    let j = sb.journals();
    assert!(j.is_empty(), "{what}: journals left: {j:?}\n{output}");
}

fn build_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec!["build", "-color=false", "--events", EVENTS];
    a.extend_from_slice(extra);
    a
}

#[test]
fn a_docker_build_provisions_commits_tags_and_pushes() {
    let image = docker::base_image();
    let reg = registry::Registry::start(Some(("forge", "pa55-e2e-word")));
    let addr = reg.addr();
    let repo = format!("{addr}/forge/e2e-{}", std::process::id());
    let template = format!(
        r#"
variable "password" {{
  type      = string
  sensitive = true
}}

source "docker" "app" {{
  image   = "{image}"
  pull    = false
  commit  = true
  changes = ["ENV APP=forge", "WORKDIR /srv"]
}}

build {{
  sources = ["source.docker.app"]

  provisioner "shell" {{
    environment_vars = ["GREETING=hello"]
    inline = [
      "echo $GREETING from debian $(cut -c1-2 /etc/debian_version)",
      "mkdir -p /srv && echo baked > /srv/marker",
    ]
  }}
  provisioner "file" {{
    source      = "files/"
    destination = "/srv/files"
  }}
  provisioner "file" {{
    content     = "generated content"
    destination = "/srv/content.txt"
  }}
  provisioner "shell" {{
    script = "setup.sh"
  }}
  provisioner "file" {{
    direction   = "download"
    source      = "/srv/marker"
    destination = "downloaded.txt"
  }}

  post-processors {{
    post-processor "docker-tag" {{
      repository = "{repo}"
      tags       = ["1.0", "latest"]
    }}
    post-processor "docker-push" {{
      login          = true
      login_server   = "{addr}"
      login_username = "forge"
      login_password = var.password
    }}
  }}
  post-processor "manifest" {{}}
}}
"#
    );
    let sb = Sandbox::new(
        FORGE,
        &[
            ("t.pkr.hcl", &template),
            ("files/a.txt", "file a\n"),
            ("files/sub/b.txt", "file b\n"),
            (
                "setup.sh",
                "#!/bin/sh\nset -e\necho from-script > /srv/script.txt\n",
            ),
        ],
    );
    let args = build_args(&["-var", "password=pa55-e2e-word", "t.pkr.hcl"]);
    let out = sb.run(&args, None, &[]);
    let run = run_id(&sb);
    let all = format!("{}{}", out.stdout, out.stderr);
    let cleanup = || {
        remove_run_images(&run);
        docker::remove_images(&[format!("{repo}:1.0"), format!("{repo}:latest")]);
    };
    if out.code != 0 {
        cleanup();
        panic!("forge build failed:\n{all}");
    }
    for want in [
        "==> docker.app: Creating a temporary directory for sharing data...",
        "==> docker.app: Starting docker container...",
        "    docker.app: Run command: docker run -v ",
        "==> docker.app: Using docker communicator to connect: ",
        "    docker.app: hello from debian 12",
        "==> docker.app: Committing the container",
        "==> docker.app: Killing the container: ",
        "docker.app (docker-tag): Tagging image: sha256:",
        "docker.app (docker-push): Pushing: ",
        "--> docker.app: Imported Docker image: ",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    assert!(
        !all.contains("pa55-e2e-word"),
        "the password leaked:\n{all}"
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("downloaded.txt")).unwrap(),
        "baked\n"
    );
    // The pushed image, pulled back from the registry's content: everything is inside.
    assert!(reg.has_tag(&repo[addr.len() + 1..], "1.0"), "{}", reg.log());
    assert!(
        reg.has_tag(&repo[addr.len() + 1..], "latest"),
        "{}",
        reg.log()
    );
    let cat = docker::docker(&[
        "run",
        "--rm",
        &format!("{repo}:1.0"),
        "sh",
        "-c",
        "cat marker files/a.txt files/sub/b.txt content.txt script.txt; echo; echo $APP",
    ]);
    assert_eq!(
        cat,
        "baked\nfile a\nfile b\ngenerated contentfrom-script\n\nforge"
    );
    let manifest = std::fs::read_to_string(sb.path("packer-manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["builds"][0]["builder_type"], "docker");
    assert!(
        m["builds"][0]["artifact_id"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{manifest}"
    );
    assert_nothing_left(&sb, &run, "a good build", &all);
    cleanup();
}

/// One failing build: its output, after checking that nothing was left.
fn failing(template: &str, env: &[(&str, &str)], files: &[(&str, &str)]) -> String {
    let mut all_files = vec![("t.pkr.hcl", template)];
    all_files.extend_from_slice(files);
    let sb = Sandbox::new(FORGE, &all_files);
    let out = sb.run(&build_args(&["t.pkr.hcl"]), None, env);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{all}");
    assert!(!all.contains("panicked"), "{all}");
    let run = run_id(&sb);
    assert_nothing_left(&sb, &run, "a failing build", &all);
    remove_run_images(&run);
    all
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_no_container() {
    let image = docker::base_image();
    let source = |extra: &str| {
        format!(
            "source \"docker\" \"app\" {{\n  image = \"{image}\"\n  pull = false\n  commit = true\n{extra}\n}}\n"
        )
    };

    // An image that does not exist and cannot be pulled.
    let out = failing(
        "source \"docker\" \"app\" {\n  image = \"forge-test/no-such-image:1\"\n  discard = true\n}\nbuild {\n  sources = [\"source.docker.app\"]\n}\n",
        &[],
        &[],
    );
    assert!(out.contains("Build 'docker.app' errored after"), "{out}");
    assert!(
        out.contains("Error pulling Docker image: ") && out.contains("forge-test/no-such-image"),
        "{out}"
    );

    // An engine that is not running.
    let out = failing(
        &format!(
            "{}build {{\n  sources = [\"source.docker.app\"]\n}}\n",
            source("")
        ),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &[],
    );
    assert!(out.contains("Build 'docker.app' errored"), "{out}");
    assert!(
        out.contains("connecting to the Docker engine")
            && out.contains("is the Docker daemon running"),
        "{out}"
    );

    // A provisioner that fails.
    let out = failing(
        &format!(
            "{}build {{\n  sources = [\"source.docker.app\"]\n  provisioner \"shell\" {{\n    inline = [\"echo about to fail\", \"exit 3\"]\n  }}\n}}\n",
            source("")
        ),
        &[],
        &[],
    );
    assert!(out.contains("    docker.app: about to fail"), "{out}");
    assert!(
        out.contains("Build 'docker.app' errored after")
            && out.contains("Script exited with non-zero exit status: 3"),
        "{out}"
    );
    assert!(
        out.contains("==> docker.app: Killing the container: "),
        "{out}"
    );

    // A push the registry rejects.
    let reg = registry::Registry::start(Some(("forge", "right")));
    let addr = reg.addr();
    let out = failing(
        &format!(
            "{}build {{\n  sources = [\"source.docker.app\"]\n  post-processors {{\n    post-processor \"docker-tag\" {{\n      repository = \"{addr}/forge/rejected\"\n      tags = [\"1\"]\n    }}\n    post-processor \"docker-push\" {{\n      login = true\n      login_server = \"{addr}\"\n      login_username = \"forge\"\n      login_password = \"wrong\"\n    }}\n  }}\n}}\n",
            source("")
        ),
        &[],
        &[],
    );
    assert!(
        out.contains(&format!("Error pushing {addr}/forge/rejected:1")),
        "{out}"
    );
    assert!(out.contains("rejected the credentials"), "{out}");
    docker::remove_images(&[format!("{addr}/forge/rejected:1")]);
    assert!(!reg.has_tag("forge/rejected", "1"));

    // A Dockerfile that does not build.
    let out = failing(
        "source \"docker\" \"app\" {\n  discard = true\n  build {\n    path = \"Dockerfile\"\n    pull = false\n  }\n}\nbuild {\n  sources = [\"source.docker.app\"]\n}\n",
        &[],
        &[(
            "Dockerfile",
            &format!("FROM {image}\nRUN echo broken step; exit 4\n"),
        )],
    );
    assert!(
        out.contains("==> docker.app: Building base image..."),
        "{out}"
    );
    assert!(
        out.contains("docker build failed") && out.contains("returned a non-zero code: 4"),
        "{out}"
    );
}

/// A build long enough to interrupt anywhere: ten short provisioners, a file upload and a
/// commit.
fn long_template(image: &str) -> String {
    let mut t = format!(
        "source \"docker\" \"a\" {{\n  image = \"{image}\"\n  pull = false\n  commit = true\n}}\nbuild {{\n  sources = [\"source.docker.a\"]\n"
    );
    for i in 0..10 {
        t.push_str(&format!(
            "  provisioner \"shell\" {{\n    inline = [\"echo step {i}; sleep 0.2\"]\n  }}\n"
        ));
        if i == 4 {
            t.push_str(
                "  provisioner \"file\" {\n    source = \"payload\"\n    destination = \"/tmp/payload\"\n  }\n",
            );
        }
    }
    t.push_str("}\n");
    t
}

fn wait_for(child: &mut std::process::Child, limit: Duration, sb: &Sandbox) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "forge did not stop within {limit:?}:\n{}",
                sb.spawned_output()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How long the long template's build takes here, uninterrupted (it must succeed).
fn full_duration(template: &str, payload: &str) -> Duration {
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", template), ("payload", payload)]);
    let t = Instant::now();
    let out = sb.run(&build_args(&["t.pkr.hcl"]), None, &[]);
    let took = t.elapsed();
    let run = run_id(&sb);
    remove_run_images(&run);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_nothing_left(&sb, &run, "an uninterrupted build", &out.stdout);
    took
}

#[test]
fn sigint_at_random_points_leaves_no_container() {
    let image = docker::base_image();
    let template = long_template(image);
    let payload = "x".repeat(1 << 20);
    // Interrupt points spread over the whole build, from start-up to the commit.
    let span = full_duration(&template, &payload).as_millis() as u64;
    let mut rng = Rng::new();
    for round in 0..8 {
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template), ("payload", &payload)]);
        let mut child = sb.spawn(&build_args(&["t.pkr.hcl"]), &[]);
        let run = run_id(&sb);
        let after = Duration::from_millis(rng.below(span));
        std::thread::sleep(after);
        signal(child.id(), "INT");
        let code = wait_for(&mut child, Duration::from_secs(60), &sb);
        let out = sb.spawned_output();
        let what = format!("round {round}, SIGINT after {after:?} of {span} ms (exit {code})");
        let reached = out
            .lines()
            .rfind(|l| l.starts_with("==> docker.a:") && !l.contains("Killing"))
            .unwrap_or("(nothing yet)");
        eprintln!("{what}: last step message {reached:?}");
        assert!(!out.contains("panicked"), "{what}:\n{out}");
        assert_nothing_left(&sb, &run, &what, &out);
        remove_run_images(&run);
    }
}

#[test]
fn sigkill_then_forge_cleanup_leaves_no_container() {
    let image = docker::base_image();
    let template = long_template(image);
    let payload = "x".repeat(1 << 20);
    let mut rng = Rng::new();
    for round in 0..3 {
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template), ("payload", &payload)]);
        let mut child = sb.spawn(&build_args(&["t.pkr.hcl"]), &[]);
        let run = run_id(&sb);
        // Wait for the container, then kill at a random point after it.
        let start = Instant::now();
        while docker::containers_with_label(&label(&run)).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no container started:\n{}",
                sb.spawned_output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = Duration::from_millis(rng.below(2000));
        std::thread::sleep(after);
        signal(child.id(), "KILL");
        let _ = child.wait();
        let what = format!("round {round}, SIGKILL {after:?} after the container started");
        assert!(
            !docker::containers_with_label(&label(&run)).is_empty(),
            "{what}: the container went away without cleanup?"
        );
        let c = sb.run(&["cleanup"], None, &[]);
        assert_eq!(
            c.code, 0,
            "{what}: forge cleanup:\n{}{}",
            c.stdout, c.stderr
        );
        assert!(
            c.stdout.contains("docker-container"),
            "{what}: cleanup names what it removed:\n{}",
            c.stdout
        );
        let out = format!(
            "{}\n--- cleanup:\n{}{}",
            sb.spawned_output(),
            c.stdout,
            c.stderr
        );
        assert_nothing_left(&sb, &run, &what, &out);
        remove_run_images(&run);
    }
}

/// Runs forge in the sandbox on a pseudo-terminal (util-linux `script`), as on a developer's
/// laptop; returns its exit code and everything the terminal showed.
fn run_on_tty(sb: &Sandbox, args: &[&str]) -> (i32, String) {
    forge_testkit::require::program("script", "bsdutils");
    let forge = sb.command(args, &[]);
    let quoted: Vec<String> = std::iter::once(forge.get_program())
        .chain(forge.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect();
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .current_dir(&sb.dir);
    for (k, v) in forge.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = cli::output(&mut script, None);
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

#[test]
fn pull_export_import_and_save_with_progress_bars_on_a_terminal() {
    let image = docker::base_image();
    let reg = registry::Registry::start(Some(("forge", "pull-pw")));
    let addr = reg.addr();
    let source = format!("{addr}/forge/pulled-{}:1", std::process::id());
    let imported = format!("forge-test/imported-{}", std::process::id());
    // An image only the registry has: a fresh 8 MiB layer over the base, pushed, then removed
    // locally, so the build's pull really downloads it.
    let cfg = tempdir::dir(&[]);
    let name = format!("forge-seed-{}", std::process::id());
    docker::docker(&[
        "run",
        "--name",
        &name,
        image,
        "sh",
        "-c",
        "head -c 8388608 /dev/urandom > /blob",
    ]);
    docker::docker(&["commit", &name, &source]);
    docker::remove_containers(&[&name]);
    let mut login = std::process::Command::new("docker");
    login
        .arg("--config")
        .arg(&cfg)
        .args(["login", "-u", "forge", "--password-stdin", &addr]);
    assert_eq!(cli::output(&mut login, Some("pull-pw")).code, 0);
    let cfg_s = cfg.to_string_lossy().into_owned();
    docker::docker(&["--config", &cfg_s, "push", &source]);
    docker::remove_images(&[&source]);
    assert!(!docker::image_exists(&source));

    let template = format!(
        r#"
source "docker" "app" {{
  image          = "{source}"
  login          = true
  login_server   = "{addr}"
  login_username = "forge"
  login_password = "pull-pw"
  export_path    = "fs.tar"
}}
build {{
  sources = ["source.docker.app"]
  provisioner "shell" {{
    inline = ["test -s /blob && echo blob-present"]
  }}
  post-processors {{
    post-processor "docker-import" {{
      repository = "{imported}"
      tag        = "1"
    }}
    post-processor "docker-save" {{
      path = "saved.tar"
    }}
  }}
}}
"#
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template)]);
    let (code, tty) = run_on_tty(&sb, &build_args(&["t.pkr.hcl"]));
    let cleanup = || docker::remove_images(&[format!("{imported}:1"), source.clone()]);
    if code != 0 {
        cleanup();
        panic!("forge build on a terminal failed:\n{tty}");
    }
    assert!(tty.contains("blob-present"), "{tty}");
    assert!(!tty.contains("pull-pw"), "the password leaked:\n{tty}");
    for bar in [
        format!("docker.app: pulling {source}"),
        "docker.app: exporting to fs.tar".to_string(),
        "docker.app (docker-import): importing".to_string(),
        "docker.app (docker-save): saving".to_string(),
    ] {
        assert!(
            tty.contains(&bar),
            "no {bar:?} progress bar on the terminal:\n{tty}"
        );
    }
    // docker-import does not keep its input: the exported tar is gone, as with Packer.
    assert!(!sb.path("fs.tar").exists());
    assert!(std::fs::metadata(sb.path("saved.tar")).unwrap().len() > 8 << 20);
    let run = run_id(&sb);
    assert_nothing_left(&sb, &run, "a build on a terminal", &tty);

    // Not on a terminal: the same build shows no bars.
    docker::remove_images(&[&source]);
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template)]);
    let out = sb.run(&build_args(&["t.pkr.hcl"]), None, &[]);
    let all = format!("{}{}", out.stdout, out.stderr);
    cleanup();
    assert_eq!(out.code, 0, "{all}");
    assert!(
        !all.contains("pulling "),
        "a bar without a terminal:\n{all}"
    );
    assert!(
        all.contains("==> docker.app: Pulling Docker image: "),
        "{all}"
    );
}
