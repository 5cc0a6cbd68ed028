//! `forge validate` against `packer validate` (Debian's Packer 1.6.6) on small templates that
//! exercise every option of the Windows provisioners (`powershell`, `windows-shell`,
//! `windows-restart`), valid and invalid: both must accept the same templates and, for the
//! others, report the same errors. Options newer than 1.6.6 (`use_pwsh`, `env`, `pause_after`)
//! and the `windows-update` plugin, which 1.6.6 does not know, are accepted by forge as newer
//! Packer accepts them; the test checks that 1.6.6 still rejects them, so the list stays true.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

fn packer() -> PathBuf {
    let p = std::env::var_os("PACKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/packer"));
    let ok = Command::new(&p)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "packer is missing at {}: install Debian's packer (apt-get install --no-install-recommends packer)",
        p.display()
    );
    p
}

/// Exit status and stdout+stderr of `bin validate t.json` in `dir`.
fn validate(bin: &Path, dir: &Path) -> (i32, String) {
    let o = Command::new(bin)
        .args(["validate", "t.json"])
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// The `* ...` items of an error report, whitespace collapsed (Packer wraps long lines).
fn items(text: &str) -> Vec<String> {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut v: Vec<String> = flat
        .split(" * ")
        .skip(1)
        .map(|s| s.trim().to_string())
        .collect();
    v.sort();
    v
}

fn template(provisioner: serde_json::Value) -> String {
    json!({
        "builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [provisioner],
    })
    .to_string()
}

/// Each provisioner configuration, checked in a directory holding `s.ps1` and `s.bat`.
fn cases() -> Vec<serde_json::Value> {
    let mut v = vec![
        // Valid.
        json!({"type": "powershell", "inline": ["Write-Host hi"]}),
        json!({"type": "powershell", "script": "s.ps1"}),
        json!({"type": "powershell", "scripts": ["s.ps1", "s.ps1"], "environment_vars": ["A=1", "B=x=y", "C="],
               "env_var_format": "$env:%s='%s'; ", "elevated_env_var_format": "$env:%s=\"%s\"; ",
               "execute_command": "powershell -file {{.Path}}", "elevated_execute_command": "powershell -file {{.Path}}",
               "elevated_user": "Administrator", "elevated_password": "{{.WinRMPassword}}",
               "remote_path": "c:/Windows/Temp/x.ps1", "remote_env_var_path": "c:/Windows/Temp/v.ps1",
               "debug_mode": 1, "valid_exit_codes": [0, 3010], "skip_clean": true,
               "start_retry_timeout": "10m", "binary": true}),
        json!({"type": "powershell", "inline": ["x"], "elevated_user": "SYSTEM"}),
        json!({"type": "powershell", "inline": ["x"], "debug_mode": 2}),
        json!({"type": "powershell", "inline": ["x"], "execution_policy": "3"}),
        json!({"type": "powershell", "inline": ["x"], "execution_policy": -1}),
        json!({"type": "powershell", "inline": ["x"], "execution_policy": 7}),
        json!({"type": "powershell", "inline": [], "script": "s.ps1"}),
        json!({"type": "windows-shell", "inline": ["dir c:\\"]}),
        json!({"type": "windows-shell", "scripts": ["s.bat"], "environment_vars": ["A=1"],
               "env_var_format": "set %s=%s && ", "execute_command": "cmd /c {{.Vars}}{{.Path}}",
               "remote_path": "c:/t/x.bat", "valid_exit_codes": [0, 1], "start_retry_timeout": "1m",
               "binary": false}),
        json!({"type": "windows-restart"}),
        json!({"type": "windows-restart", "restart_command": "shutdown /r /t 5", "restart_check_command": "echo up",
               "restart_timeout": "15m", "check_registry": true, "registry_keys": ["HKLM:SOFTWARE\\x"]}),
        json!({"type": "windows-restart", "registry_keys": [], "restart_timeout": "-1s"}),
        // Invalid.
        json!({"type": "powershell"}),
        json!({"type": "powershell", "inline": []}),
        json!({"type": "powershell", "script": "nope.ps1", "scripts": ["s.ps1"], "environment_vars": ["=x", "y"]}),
        json!({"type": "powershell", "inline": ["x"], "script": "s.ps1"}),
        json!({"type": "powershell", "inline": ["x"], "debug_mode": 3, "elevated_password": "p"}),
        json!({"type": "powershell", "inline": ["x"], "debug_mode": -1}),
        json!({"type": "powershell", "inline": ["x"], "execution_policy": 9}),
        json!({"type": "powershell", "inline": ["x"], "execution_policy": "8"}),
        json!({"type": "powershell", "inline": ["x"], "execution_policy": "Bypass"}),
        json!({"type": "powershell", "inline": ["x"], "start_retry_timeout": "soon"}),
        json!({"type": "powershell", "inline": ["x"], "skip_clean": "maybe"}),
        json!({"type": "windows-shell"}),
        json!({"type": "windows-shell", "script": "s.bat", "inline": ["x"], "environment_vars": ["nope"]}),
        json!({"type": "windows-shell", "scripts": ["missing.bat"], "start_retry_timeout": "x"}),
        json!({"type": "windows-restart", "restart_timeout": "x"}),
        json!({"type": "windows-restart", "check_registry": "yes"}),
    ];
    for p in EXECUTION_POLICIES {
        v.push(json!({"type": "powershell", "inline": ["x"], "execution_policy": p}));
    }
    v
}

const EXECUTION_POLICIES: [&str; 8] = [
    "bypass",
    "allsigned",
    "default",
    "remotesigned",
    "restricted",
    "undefined",
    "unrestricted",
    "none",
];

fn dir_for(provisioner: &serde_json::Value) -> PathBuf {
    forge_testkit::tempdir::dir(&[
        ("t.json", &template(provisioner.clone())),
        ("s.ps1", "Write-Host hi\n"),
        ("s.bat", "@echo hi\r\n"),
    ])
}

#[test]
fn windows_provisioners_validate_as_packer_1_6_6_does() {
    let packer = packer();
    let forge = PathBuf::from(env!("CARGO_BIN_EXE_forge"));
    let mut failures = Vec::new();
    for p in cases() {
        let d = dir_for(&p);
        let (pc, pout) = validate(&packer, &d);
        let (fc, fout) = validate(&forge, &d);
        if pc != fc || items(&pout) != items(&fout) {
            failures.push(format!(
                "{p}\n--- packer (exit {pc})\n{pout}\n--- forge (exit {fc})\n{fout}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn options_newer_than_1_6_6_are_accepted() {
    let packer = packer();
    let forge = PathBuf::from(env!("CARGO_BIN_EXE_forge"));
    for p in [
        json!({"type": "powershell", "inline": ["x"], "use_pwsh": true}),
        json!({"type": "powershell", "inline": ["x"], "env": {"A": "b"}}),
        json!({"type": "powershell", "inline": ["x"], "pause_after": "1s"}),
        json!({"type": "windows-shell", "inline": ["x"], "env": {"A": "b"}}),
        json!({"type": "windows-update"}),
        json!({"type": "windows-update", "search_criteria": "IsInstalled=0", "filters": ["include:$true"],
               "update_limit": 25, "update_max_retries": 2, "restart_timeout": "1h",
               "username": "vagrant", "password": "vagrant"}),
    ] {
        let d = dir_for(&p);
        let (pc, pout) = validate(&packer, &d);
        assert_eq!(pc, 1, "packer 1.6.6 now accepts {p}: {pout}");
        let (fc, fout) = validate(&forge, &d);
        assert_eq!(fc, 0, "{p}: {fout}");
    }
    // Their bad values are still errors.
    let d = dir_for(&json!({"type": "windows-update", "restart_timeout": "x"}));
    let (fc, fout) = validate(&forge, &d);
    assert_eq!(fc, 1, "{fout}");
    assert!(
        fout.contains("error decoding 'restart_timeout': time: invalid duration \"x\""),
        "{fout}"
    );
}
