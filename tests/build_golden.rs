//! `forge build` against `packer build` (Packer 1.6.6, Debian's package at /usr/bin/packer).
//!
//! Every directory under tests/golden/build/ is one case: the template file(s) it holds and an
//! optional `args` file, one variant per line (the words after `build`, split on whitespace;
//! `#` starts a comment line). Without `args` the case runs `build <the one template file>`.
//! Adding a case is adding one directory with one template.
//!
//! Each variant runs twice, Packer then forge, each in a fresh copy of the case directory with
//! its own TMPDIR and FORGE_STATE_DIR, CHECKPOINT_DISABLE=1 and no PACKER_* variables. Then:
//! exit codes, stdout and stderr (normalised, see [`normalise`]; concurrent builds compared as
//! per-build streams, see [`Streams`]), the files left in the working directory, and what is
//! left in TMPDIR must be the same. Cases named `ssh-*` run against a private OpenSSH server
//! (one per run, see forge-testkit's sshd): their templates say `@SSH_PORT@`, `@SSH_KEY@` and
//! `@REMOTE@` (a directory the test user owns), and the files left there are compared too.
//! Cases named `docker-*` run against the Docker engine: their templates say `@IMAGE@` (the
//! Docker test bed's base image) and `@REPO@` (a repository name of their own, for tags); both
//! tools get their own PACKER_TMP_DIR, and the images each run made are removed afterwards.
//! Deliberate differences are listed in [`KNOWN`] and
//! [`special`], each with its reason; nothing else is tolerated.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::{cli, docker, sshd, tempdir};

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use regex::Regex;

const PACKER: &str = "/usr/bin/packer";

/// A deliberate difference: in `case` (variants whose arguments contain `variant`), Packer's
/// normalised stdout has `packer` where forge prints `forge`. The replacement must apply, so a
/// difference that stops existing is noticed.
struct Known {
    case: &'static str,
    variant: &'static str,
    packer: &'static str,
    forge: &'static str,
}

/// Every deliberate difference between forge and Packer 1.6.6 in these cases, and why.
const KNOWN: &[Known] = &[
    // Packer 1.6.6's -machine-readable UI writes messages without passing them through its
    // secret filter, so a sensitive variable's value leaks into `ui,message` lines; forge
    // redacts every line in every mode.
    Known {
        case: "hcl2-null-file",
        variant: "-machine-readable",
        packer: "hunter2",
        forge: "<sensitive>",
    },
    // The same leak, for a legacy JSON template's `sensitive-variables`.
    Known {
        case: "legacy-vars-only-override",
        variant: "-machine-readable",
        packer: "s3cr3t-value",
        forge: "<sensitive>",
    },
    // Packer 1.6.6 reports a cancelled build as `finished` (the null builder returns no error
    // when its run is cancelled, and Packer calls any build without an error finished); forge
    // says `cancelled`.
    Known {
        case: "cancel-sigterm",
        variant: "",
        packer: "Build 'null.slow' finished after <DURATION>.",
        forge: "Build 'null.slow' cancelled after <DURATION>.",
    },
    // A provisioner that runs out its `timeout`: Packer 1.6.6 reports whatever the cancelled
    // provisioner returns (shell-local: `Error executing script: <path> ... see output above`),
    // which does not say that the timeout fired; forge says so.
    Known {
        case: "timeout-json",
        variant: "",
        packer: "Error executing script: <TMP>/packer-shell<N>\n\nPlease see output above for more information.",
        forge: "provisioner \"shell-local\" timed out after 1s",
    },
];

/// How a case runs and compares beyond the default.
#[derive(Default)]
struct Special {
    /// Send SIGTERM to the main process after this long. (SIGTERM, not SIGINT: Packer's
    /// panicwrap parent ignores SIGINT, expecting the terminal to signal the whole group, and
    /// forwards only SIGTERM to the real packer process.)
    terminate_after: Option<Duration>,
    /// Configuration errors: compare only the exit code and that both outputs name each of these
    /// problems. The layouts differ on purpose: forge's diagnostics show a code frame where
    /// Packer 1.6.6 prints `(source code not available)`.
    prepare_error: Option<&'static [&'static str]>,
    /// Lines Packer prints from a goroutine of their own, so that where they fall among the
    /// build's other lines varies from run to run: each must occur as often in both outputs,
    /// and they are left out of the ordered comparison.
    unordered: &'static [&'static str],
    /// Whether Packer may print no `unordered` line at all: its goroutine can lose the race with
    /// the step that ends the build, which happens on a loaded machine.
    packer_may_drop_unordered: bool,
    /// Files Packer may leave in TMPDIR where forge leaves nothing (ignored in Packer's list).
    packer_may_leave_in_tmp: &'static [&'static str],
}

fn special(case: &str) -> Special {
    match case {
        "cancel-sigterm" => Special {
            terminate_after: Some(Duration::from_millis(1500)),
            // Packer 1.6.6 often (a race between cancellation and its shell-local plugin's own
            // cleanup) leaves the cancelled build's inline script behind; forge's journal
            // removes every temporary file it made.
            packer_may_leave_in_tmp: &["packer-shell<N>"],
            ..Default::default()
        },
        "file-no-target" | "file-no-target-json" => Special {
            prepare_error: Some(&["target required"]),
            ..Default::default()
        },
        // Packer's timeout watcher prints its message when the deadline passes, racing the
        // provisioning step's own messages.
        "timeout-json" => Special {
            unordered: &["Cancelling provisioner after a timeout..."],
            packer_may_drop_unordered: true,
            ..Default::default()
        },
        _ => Special::default(),
    }
}

struct Case {
    name: String,
    dir: PathBuf,
    variants: Vec<Vec<String>>,
}

/// Files in a case directory that belong to the harness, not to the template.
const HARNESS_FILES: &[&str] = &["args"];

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/build");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("read {}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let variants = match std::fs::read_to_string(dir.join("args")) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.split_whitespace().map(String::from).collect())
                .collect(),
            Err(_) => {
                let templates: Vec<String> = std::fs::read_dir(&dir)
                    .unwrap()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".pkr.hcl") || n.ends_with(".json"))
                    .collect();
                assert_eq!(
                    templates.len(),
                    1,
                    "case {name}: without an `args` file the case needs exactly one template"
                );
                vec![templates]
            }
        };
        assert!(!variants.is_empty(), "case {name}: `args` has no variant");
        out.push(Case {
            name,
            dir,
            variants,
        });
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            copy_dir(&p, &to.join(&name));
        } else if !HARNESS_FILES.contains(&name.to_string_lossy().as_ref()) {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

fn uuid_re() -> &'static Regex {
    static UUID: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    UUID.get_or_init(|| {
        Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap()
    })
}

/// Every file under `dir`, by relative path, with its contents.
fn files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                // Run ids (manifests) differ from run to run.
                let uuid = uuid_re();
                let text = String::from_utf8_lossy(&bytes);
                let mut text = uuid.replace_all(&text, "<UUID>").into_owned();
                if rel.ends_with("manifest.json") {
                    text = sort_manifest_builds(&text);
                }
                out.insert(rel, text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Packer appends a manifest entry when each build finishes, and under `-parallel-builds=1`
/// Go's scheduler decides which waiting build goes first, so two builds' entries come in
/// either order. The entries are compared sorted by build name.
fn sort_manifest_builds(text: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_string();
    };
    if let Some(builds) = v.get_mut("builds").and_then(|b| b.as_array_mut()) {
        builds.sort_by_key(|b| b["name"].as_str().unwrap_or_default().to_string());
    } else {
        return text.to_string();
    }
    serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string())
}

/// What one tool did for one variant, normalised.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    /// Files in the working directory afterwards.
    files: BTreeMap<String, String>,
    /// Files left in TMPDIR afterwards.
    tmp_left: Vec<String>,
    /// Files left on the SSH server (`ssh-*` cases).
    remote: BTreeMap<String, String>,
}

/// Puts the server's port, key and remote directory into the copied templates.
fn substitute(dir: &Path, s: &sshd::Sshd) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            substitute(&p, s);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            let text = text
                .replace("@SSH_PORT@", &s.port().to_string())
                .replace("@SSH_KEY@", &s.key_ed25519().display().to_string())
                .replace("@REMOTE@", &s.scratch().display().to_string());
            std::fs::write(&p, text).unwrap();
        }
    }
}

enum Tool {
    Packer,
    Forge,
}

/// Puts the base image and a repository name of the run's own into the copied templates.
fn substitute_docker(dir: &Path, repo: &str) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            substitute_docker(&p, repo);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            let text = text
                .replace("@IMAGE@", docker::base_image())
                .replace("@REPO@", repo);
            std::fs::write(&p, text).unwrap();
        }
    }
}

/// Removes the images a docker case's run made: every image id its output names (tags go
/// with them).
fn remove_docker_images(output: &str) {
    static ID: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = ID.get_or_init(|| Regex::new(r"sha256:[0-9a-f]{64}").unwrap());
    let mut ids: Vec<&str> = re.find_iter(output).map(|m| m.as_str()).collect();
    ids.sort();
    ids.dedup();
    let base = docker::docker(&["image", "inspect", "-f", "{{.Id}}", docker::base_image()]);
    ids.retain(|i| *i != base);
    docker::remove_images(&ids);
}

fn run(tool: Tool, case: &Case, args: &[String], special: &Special) -> Outcome {
    let root = tempdir::dir(&[]);
    let work = root.join("work");
    let tmp = root.join("tmp");
    let state = root.join("state");
    copy_dir(&case.dir, &work);
    let server = case
        .name
        .starts_with("ssh-")
        .then(|| sshd::Sshd::start(sshd::SshdOptions::default()));
    if let Some(s) = &server {
        substitute(&work, s);
    }
    let is_docker = case.name.starts_with("docker-");
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let repo = format!(
        "forge-golden/{}-{}-{}",
        case.name,
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let ptmp = root.join("ptmp");
    if is_docker {
        substitute_docker(&work, &repo);
        std::fs::create_dir_all(&ptmp).unwrap();
    }
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let mut full: Vec<&str> = vec!["build"];
    full.extend(args.iter().map(String::as_str));
    let mut cmd = match tool {
        Tool::Packer => {
            let mut c = Command::new(PACKER);
            c.args(&full).current_dir(&work);
            c
        }
        Tool::Forge => cli::forge_command(FORGE, &full, &work),
    };
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PACKER_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("CHECKPOINT_DISABLE", "1")
        .env("TMPDIR", &tmp)
        .env("FORGE_STATE_DIR", &state)
        .env("PACKER_TMP_DIR", &ptmp)
        .env_remove("FORGE_LOG")
        .env_remove("NO_COLOR");
    let r = match special.terminate_after {
        None => cli::output(&mut cmd, None),
        Some(after) => {
            let child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the build");
            std::thread::sleep(after);
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            cli::finish(child, None)
        }
    };
    let machine = args.iter().any(|a| a == "-machine-readable");
    if is_docker {
        remove_docker_images(&r.stdout);
    }
    let norm = |text: &str| {
        let mut t = text.to_string();
        if is_docker {
            t = docker_normalise(&t.replace(&repo, "<REPO>"), &ptmp);
        }
        if let Some(s) = &server {
            t = t
                .replace(&s.scratch().display().to_string(), "<REMOTE>")
                .replace(&s.key_ed25519().display().to_string(), "<KEY>")
                .replace(&s.port().to_string(), "<PORT>");
        }
        normalise(&t, &work, &tmp, machine)
    };
    let mut tmp_left: Vec<String> = files(&tmp).into_keys().map(|k| norm(&k)).collect();
    tmp_left.extend(
        files(&ptmp)
            .into_keys()
            .map(|k| format!("<PTMP>/{}", norm(&k))),
    );
    let out = Outcome {
        code: r.code,
        stdout: norm(&r.stdout),
        stderr: norm(&r.stderr),
        files: files(&work)
            .into_iter()
            .map(|(k, v)| (k, norm(&v)))
            .collect(),
        tmp_left,
        remote: server
            .as_ref()
            .map(|s| files(&s.scratch()))
            .unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&root);
    out
}

/// What varies from run to run, replaced by placeholders: the working directory (`<DIR>`),
/// TMPDIR (`<TMP>`) and the random digits of temporary script names (`packer-shell<N>`),
/// durations (`<DURATION>`), the unix time at the start of machine-readable lines (`<TS>`) and
/// `-timestamp-ui` RFC 3339 stamps (`<TIME>`). ANSI escapes are kept, written `\e`. forge's own
/// closing `==> Timeline:` section is cut off (human output only; Packer has none).
fn normalise(text: &str, work: &Path, tmp: &Path, machine: bool) -> String {
    static RES: std::sync::OnceLock<[(Regex, &str); 5]> = std::sync::OnceLock::new();
    let res = RES.get_or_init(|| {
        let unit = r"(?:hours?|minutes?|seconds?|milliseconds?|microseconds?|nanoseconds?)";
        [
            (Regex::new(r"packer-shell\d+").unwrap(), "packer-shell<N>"),
            (
                Regex::new(&format!(r"after \d+ {unit}(?: \d+ {unit})*")).unwrap(),
                "after <DURATION>",
            ),
            (Regex::new(r"(?m)^\d+,").unwrap(), "<TS>,"),
            (
                Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)").unwrap(),
                "<TIME>",
            ),
            (Regex::new("\x1b").unwrap(), r"\e"),
        ]
    });
    // TMPDIR and the working directory are siblings, so neither replacement touches the other.
    let mut s = text
        .replace(&tmp.display().to_string(), "<TMP>")
        .replace(&work.display().to_string(), "<DIR>");
    for (re, with) in res {
        s = re.replace_all(&s, *with).into_owned();
    }
    if !machine {
        if let Some(i) = s.find("\n\n==> Timeline:\n") {
            s.truncate(i + 1);
        }
        s = sort_error_list(&s);
    }
    s
}

/// What varies between docker runs: the shared directory under PACKER_TMP_DIR (`<PTMP>/tmp<N>`),
/// container and image ids (`<ID>`), and the container's address.
fn docker_normalise(text: &str, ptmp: &Path) -> String {
    static RES: std::sync::OnceLock<[(Regex, &str); 3]> = std::sync::OnceLock::new();
    let res = RES.get_or_init(|| {
        [
            (Regex::new(r"<PTMP>/tmp\d+").unwrap(), "<PTMP>/tmp<N>"),
            (Regex::new(r"\b[0-9a-f]{64}\b").unwrap(), "<ID>"),
            (
                Regex::new(r"communicator to connect: \d+\.\d+\.\d+\.\d+").unwrap(),
                "communicator to connect: <IP>",
            ),
        ]
    });
    let mut s = text.replace(&ptmp.display().to_string(), "<PTMP>");
    for (re, with) in res {
        s = re.replace_all(&s, *with).into_owned();
    }
    s
}

/// Packer 1.6.6 lists the failed builds (`--> name: error` after "Some builds didn't complete
/// successfully") in Go's random map order; the list is compared sorted.
fn sort_error_list(text: &str) -> String {
    let Some(start) = text.find("==> Some builds didn't complete successfully and had errors:\n")
    else {
        return text.to_string();
    };
    let head_end = start + text[start..].find('\n').unwrap() + 1;
    let rest = &text[head_end..];
    // The blank line before the next heading is the run's own, not the last entry's.
    let end = rest.find("\n\n==> ").map(|i| i + 1).unwrap_or(rest.len());
    let mut entries: Vec<String> = Vec::new();
    for line in rest[..end].split_inclusive('\n') {
        match entries.last_mut() {
            Some(last) if !line.starts_with("--> ") => last.push_str(line),
            _ => entries.push(line.to_string()),
        }
    }
    entries.sort();
    format!("{}{}{}", &text[..head_end], entries.concat(), &rest[end..])
}

/// Output split by build. Builds run concurrently, so their lines interleave differently from
/// run to run; each build's own lines keep their order, and so do the run's global lines (the
/// colour legend, `Wait completed`, the summary headings). A build's line is recorded with the
/// number of global lines before it, so a build line that moves across a global line (say, an
/// artifact printed before `Builds finished`) still counts as a difference.
#[derive(Debug, PartialEq, Default)]
struct Streams {
    /// How many untargeted blank lines there are.
    blank: usize,
    global: Vec<String>,
    builds: BTreeMap<String, Vec<(usize, String)>>,
}

fn streams(text: &str) -> Streams {
    static RES: std::sync::OnceLock<(Regex, Regex, Regex, Regex)> = std::sync::OnceLock::new();
    let (ansi, targeted, build, machine) = RES.get_or_init(|| {
        (
            Regex::new(r"\\e\[[0-9;]*m").unwrap(),
            // `==> name: `, `    name: `, `--> name: `, and post-processors' `==> name (type): `.
            Regex::new(r"^(?:==>|-->|   ) ([^\s:]+)(?: \([^)]*\))?:(?: |$)").unwrap(),
            Regex::new(r"^Build '([^']+)' ").unwrap(),
            Regex::new(r"^<TS>,([^,]*),([^,]*),(.*)$").unwrap(),
        )
    });
    let mut out = Streams::default();
    // A Go multierror message continues on lines of its own: a blank one, then `* item` lines.
    let mut continuing: Option<(String, bool)> = None;
    for line in text.lines() {
        let mut clean = ansi.replace_all(line, "").into_owned();
        let mut target = None;
        if let Some(c) = machine.captures(&clean) {
            if !c[1].is_empty() {
                target = Some(c[1].to_string());
            } else if &c[2] == "ui" {
                clean = c[3]
                    .split_once(',')
                    .map(|(_, t)| t)
                    .unwrap_or("")
                    .to_string();
            }
        }
        let clean = clean.strip_prefix("<TIME>: ").unwrap_or(&clean);
        if target.is_none() {
            if let Some((t, seen_blank)) = &continuing {
                if (!seen_blank && clean.is_empty()) || (*seen_blank && clean.starts_with("* ")) {
                    target = Some(t.clone());
                    continuing = Some((t.clone(), true));
                }
            }
        }
        if target.is_none() {
            continuing = None;
            target = targeted
                .captures(clean)
                .or_else(|| build.captures(clean))
                .map(|c| c[1].to_string());
            if let Some(t) = &target {
                if clean.ends_with("error(s) occurred:") {
                    continuing = Some((t.clone(), false));
                }
            }
        }
        if clean.is_empty() && target.is_none() {
            // Where a blank line falls between concurrent builds' lines depends on timing (an
            // error message ending with a newline leaves one); blank lines are counted, not
            // placed: see `Streams::blank`.
            out.blank += 1;
            continue;
        }
        match target {
            Some(t) => out
                .builds
                .entry(t)
                .or_default()
                .push((out.global.len(), line.to_string())),
            None => out.global.push(line.to_string()),
        }
    }
    out
}

/// A unified diff of two texts, for failure messages.
fn diff(packer: &str, forge: &str) -> String {
    similar::TextDiff::from_lines(packer, forge)
        .unified_diff()
        .header("packer", "forge")
        .to_string()
}

fn show_streams(s: &Streams) -> String {
    let mut text = String::from("[global]\n");
    for l in &s.global {
        text.push_str(&format!("{l}\n"));
    }
    for (b, lines) in &s.builds {
        text.push_str(&format!("[{b}]\n"));
        for (g, l) in lines {
            text.push_str(&format!("{g:>3} {l}\n"));
        }
    }
    text
}

/// Compares one variant; the problems found, each described.
fn compare(case: &Case, args: &[String]) -> Vec<String> {
    let sp = special(&case.name);
    let mut packer = run(Tool::Packer, case, args, &sp);
    let forge = run(Tool::Forge, case, args, &sp);
    let joined = args.join(" ");
    let mut problems = Vec::new();
    for k in KNOWN
        .iter()
        .filter(|k| k.case == case.name && joined.contains(k.variant))
    {
        if !packer.stdout.contains(k.packer) {
            problems.push(format!(
                "known difference no longer seen: Packer's output has no {:?}; remove it from KNOWN",
                k.packer
            ));
        }
        packer.stdout = packer.stdout.replace(k.packer, k.forge);
    }
    packer
        .tmp_left
        .retain(|f| !sp.packer_may_leave_in_tmp.contains(&f.as_str()));
    let mut forge = forge;
    for u in sp.unordered {
        let count = |t: &str| t.lines().filter(|l| l.contains(u)).count();
        let dropped = sp.packer_may_drop_unordered && count(&packer.stdout) == 0;
        if count(&packer.stdout) != count(&forge.stdout) && !dropped {
            problems.push(format!(
                "{u:?} occurs {} times in Packer's output and {} times in forge's",
                count(&packer.stdout),
                count(&forge.stdout)
            ));
        }
        let strip = |t: &str| {
            t.split_inclusive('\n')
                .filter(|l| !l.contains(u))
                .collect::<String>()
        };
        packer.stdout = strip(&packer.stdout);
        forge.stdout = strip(&forge.stdout);
    }
    if packer.code != forge.code {
        problems.push(format!(
            "exit code: packer {}, forge {}",
            packer.code, forge.code
        ));
    }
    if let Some(mentions) = sp.prepare_error {
        for m in mentions {
            for (tool, o) in [("packer", &packer), ("forge", &forge)] {
                if !o.stdout.contains(m) && !o.stderr.contains(m) {
                    problems.push(format!(
                        "{tool} does not mention {m:?}:\n{}{}",
                        o.stdout, o.stderr
                    ));
                }
            }
        }
    } else {
        for (what, p, f) in [
            ("stdout", &packer.stdout, &forge.stdout),
            ("stderr", &packer.stderr, &forge.stderr),
        ] {
            let (ps, fs) = (streams(p), streams(f));
            if ps != fs {
                problems.push(format!(
                    "{what} differs, as streams (global line count, line):\n{}\nfull {what}:\n{}",
                    diff(&show_streams(&ps), &show_streams(&fs)),
                    diff(p, f)
                ));
            }
        }
    }
    if packer.files != forge.files {
        problems.push(format!(
            "files in the working directory differ:\npacker: {:#?}\nforge: {:#?}",
            packer.files, forge.files
        ));
    }
    if packer.remote != forge.remote {
        problems.push(format!(
            "files on the SSH server differ:\npacker: {:#?}\nforge: {:#?}",
            packer.remote, forge.remote
        ));
    }
    if packer.tmp_left != forge.tmp_left {
        problems.push(format!(
            "left in TMPDIR: packer {:?}, forge {:?}",
            packer.tmp_left, forge.tmp_left
        ));
    }
    problems
}

#[test]
fn forge_build_matches_packer_1_6_6() {
    assert!(
        Path::new(PACKER).exists(),
        "{PACKER} is missing: these tests compare forge with Packer 1.6.6; install Debian's packer: apt-get install --no-install-recommends packer"
    );
    let version = Command::new(PACKER)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("run packer version");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with("Packer v1.6.6"),
        "expected Debian's Packer 1.6.6 at {PACKER}, found {version:?}; install Debian's packer: apt-get install --no-install-recommends packer"
    );
    let cases = cases();
    let known_cases: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for k in KNOWN {
        assert!(
            known_cases.contains(&k.case),
            "KNOWN names a case that does not exist: {}",
            k.case
        );
    }
    let jobs: Mutex<Vec<(&Case, &Vec<String>)>> = Mutex::new(
        cases
            .iter()
            .flat_map(|c| c.variants.iter().map(move |v| (c, v)))
            .rev()
            .collect(),
    );
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some((case, args)) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let problems = compare(case, args);
                if !problems.is_empty() {
                    failures.lock().unwrap().push(format!(
                        "=== case {} [build {}]:\n{}",
                        case.name,
                        args.join(" "),
                        problems.join("\n")
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let total: usize = cases.iter().map(|c| c.variants.len()).sum();
    assert!(
        failures.is_empty(),
        "{} of {total} golden build runs differ from Packer 1.6.6:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_normaliser_and_the_stream_split() {
    let work = Path::new("/w/work");
    let tmp = Path::new("/w/tmp");
    let text = "\x1b[1;32mnull.a: output will be in this color.\x1b[0m\n\n\
        \x1b[1;32m2021-01-02T03:04:05Z: ==> null.a: Running local shell script: /w/tmp/packer-shell123\x1b[0m\n\
        \x1b[1;31m2021-01-02T03:04:05Z: Build 'null.a' errored after 1 second 20 milliseconds: 1 error(s) occurred:\n\n\
        * Post-processor failed: x\x1b[0m\n\
        \n==> Wait completed after 6 microseconds\n\
        \n==> Timeline:\n--> null.a: errored in 1s\n";
    let n = normalise(text, work, tmp, false);
    assert_eq!(
        n,
        "\\e[1;32mnull.a: output will be in this color.\\e[0m\n\n\
         \\e[1;32m<TIME>: ==> null.a: Running local shell script: <TMP>/packer-shell<N>\\e[0m\n\
         \\e[1;31m<TIME>: Build 'null.a' errored after <DURATION>: 1 error(s) occurred:\n\n\
         * Post-processor failed: x\\e[0m\n\
         \n==> Wait completed after <DURATION>\n"
    );
    let s = streams(&n);
    assert_eq!((s.global.len(), s.blank), (2, 2), "{s:?}");
    assert_eq!(s.builds["null.a"].len(), 4, "{s:?}");
    assert!(s.builds["null.a"].iter().all(|(g, _)| *g == 1), "{s:?}");
    let m = normalise(
        "1609556645,,ui,say,==> null.a (shell-local): x\n1609556645,null.a,artifact-count,1\n1609556645,,ui,say,\\n==> Wait completed after 1 second\n",
        work,
        tmp,
        true,
    );
    let s = streams(&m);
    assert_eq!(
        s.global,
        ["<TS>,,ui,say,\\n==> Wait completed after <DURATION>"]
    );
    assert_eq!(s.builds["null.a"].len(), 2);
}
