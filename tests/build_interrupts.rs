//! Interrupts at random points leave nothing behind: SIGINT at 50 points (every build cancels
//! and cleans up), SIGKILL followed by `forge cleanup`, and a second SIGINT that stops at once
//! and lists what may be left. The forge-fixture builder creates real temporary directories,
//! files and processes, each journaled before it exists.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::build;

/// The binary under test.
const FORGE: &str = env!("CARGO_BIN_EXE_forge");

use std::time::{Duration, Instant};

use build::{settle_processes, signal, Rng, Sandbox};

fn template(marker: &str) -> String {
    format!(
        r#"
source "forge-fixture" "a" {{
  marker     = "{marker}"
  step_delay = "40ms"
  hold       = "250ms"
}}
source "forge-fixture" "b" {{
  marker     = "{marker}"
  files      = 2
  processes  = 1
  step_delay = "60ms"
  hold       = "150ms"
}}
build {{
  sources = ["source.forge-fixture.a", "source.forge-fixture.b"]
  provisioner "shell-local" {{
    inline = ["sleep 0.2"]
  }}
  provisioner "shell-local" {{
    inline = ["sh -c 'sleep 0.1; : {marker}'"]
  }}
}}
"#
    )
}

/// Waits for the child, killing it (and failing) after `limit`.
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

fn assert_nothing_left(sb: &Sandbox, marker: &str, what: &str) {
    let procs = settle_processes(marker);
    assert!(
        procs.is_empty(),
        "{what}: processes left: {procs:?}\n{}",
        sb.spawned_output()
    );
    let tmp = sb.tmp_leftovers();
    assert!(
        tmp.is_empty(),
        "{what}: left in TMPDIR: {tmp:?}\n{}",
        sb.spawned_output()
    );
    let j = sb.journals();
    assert!(
        j.is_empty(),
        "{what}: journals left: {j:?}\n{}",
        sb.spawned_output()
    );
}

#[test]
fn sigint_at_50_random_points_leaves_nothing_behind() {
    let marker = format!("mk-int-{}", std::process::id());
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template(&marker))]);
    // How long an uninterrupted run takes, to spread the interrupts over it.
    let start = Instant::now();
    let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
    assert_eq!(
        wait_for(&mut child, Duration::from_secs(30), &sb),
        0,
        "{}",
        sb.spawned_output()
    );
    let full = start.elapsed().as_millis() as u64;
    assert_nothing_left(&sb, &marker, "uninterrupted run");
    let mut rng = Rng::new();
    let mut interrupted = 0;
    for i in 0..50 {
        let at = rng.below(full + 50);
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
        std::thread::sleep(Duration::from_millis(at));
        signal(child.id(), "INT");
        let code = wait_for(&mut child, Duration::from_secs(20), &sb);
        let out = sb.spawned_output();
        if code != 0 {
            interrupted += 1;
            // -1: the signal came before forge listened for it (its first milliseconds, when
            // nothing exists yet), and killed it; what is left is checked below all the same.
            assert!(
                code == 1 || (code == -1 && out.is_empty()),
                "run {i} at {at} ms, exit {code}: {out}"
            );
        }
        assert_nothing_left(&sb, &marker, &format!("SIGINT run {i} at {at} ms"));
    }
    assert!(
        interrupted >= 25,
        "only {interrupted} of 50 runs were really interrupted"
    );
}

#[test]
fn sigkill_then_forge_cleanup_leaves_nothing_behind() {
    let marker = format!("mk-kill-{}", std::process::id());
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &template(&marker))]);
    let mut rng = Rng::new();
    let mut found_leftovers = 0;
    for i in 0..12 {
        let at = 30 + rng.below(700);
        let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
        std::thread::sleep(Duration::from_millis(at));
        signal(child.id(), "KILL");
        let _ = wait_for(&mut child, Duration::from_secs(10), &sb);
        if !sb.journals().is_empty() {
            found_leftovers += 1;
        }
        let c = sb.run(&["cleanup"], None, &[]);
        assert_eq!(c.code, 0, "cleanup after kill {i} at {at} ms: {}", c.stdout);
        assert_nothing_left(&sb, &marker, &format!("SIGKILL run {i} at {at} ms"));
    }
    assert!(
        found_leftovers > 0,
        "no kill ever left a journal: the test proves nothing"
    );
}

#[test]
fn second_sigint_stops_at_once_and_lists_what_may_be_left() {
    let marker = format!("mk-twice-{}", std::process::id());
    let t = format!(
        r#"
source "null" "one" {{
  communicator = "none"
}}
build {{
  sources = ["source.null.one"]
  provisioner "shell-local" {{
    inline = ["trap '' TERM", "sh -c 'sleep 30; : {marker}'"]
  }}
}}
"#
    );
    let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
    let mut child = sb.spawn(&["build", "-color=false", "t.pkr.hcl"], &[]);
    // Wait until the script runs.
    let start = Instant::now();
    while build::processes_with(&marker).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the script never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), "INT");
    // The script ignores SIGTERM: forge waits before killing it; the second Ctrl-C cuts that.
    std::thread::sleep(Duration::from_millis(300));
    signal(child.id(), "INT");
    let code = wait_for(&mut child, Duration::from_secs(5), &sb);
    assert_eq!(code, 1);
    let out = sb.spawned_output();
    assert!(
        out.contains("Cancelling build after receiving interrupt"),
        "{out}"
    );
    assert!(out.contains("Stopping at once after a second interrupt. These may be left behind; `forge cleanup` removes them"), "{out}");
    assert!(out.contains("  - process "), "{out}");
    assert!(out.contains("  - file "), "{out}");
    let c = sb.run(&["cleanup"], None, &[]);
    assert_eq!(c.code, 0, "{}", c.stdout);
    assert!(c.stdout.contains("Removed process "), "{}", c.stdout);
    assert_nothing_left(&sb, &marker, "after forge cleanup");
}
