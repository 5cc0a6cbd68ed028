//! Packer's `ansible-playbook --version` check, run while the provisioner is configured. The
//! answer is kept per command for the process: `validate` and `build` configure each
//! provisioner twice (before the build and with its generated data), and the check costs a
//! Python start-up.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// The major version `command --version` reports, or Packer's error (with what to install when
/// the command is missing).
pub fn major(command: &str) -> Result<u32, String> {
    static SEEN: OnceLock<Mutex<BTreeMap<String, Result<u32, String>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(r) = seen.lock().ok().and_then(|m| m.get(command).cloned()) {
        return r;
    }
    let r = check(command);
    if let Ok(mut m) = seen.lock() {
        m.insert(command.to_string(), r.clone());
    }
    r
}

fn check(command: &str) -> Result<u32, String> {
    let out = std::process::Command::new(command)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            return Err(format!(
                "Error running \"{command} --version\": {}",
                exit_text(&o.status)
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "Error running \"{command} --version\": exec: \"{command}\": executable file not \
                 found in $PATH (install Ansible where forge runs: `pip install ansible-core`, or \
                 your system's ansible package; or set `command` to its ansible-playbook)"
            ))
        }
        Err(e) => return Err(format!("Error running \"{command} --version\": {e}")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = parse(&text) else {
        return Err(format!(
            "Could not find {command} version in output:\n{text}"
        ));
    };
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("Could not parse major version from \"{version}\"."))
}

/// Go's `exec.ExitError` text.
fn exit_text(s: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("signal: {sig}"),
        _ => "exit status unknown".into(),
    }
}

/// The version Packer's regular expression finds: the first version number after a word
/// character and a space (`ansible-playbook [core 2.19.14]` gives `2.19.14`).
fn parse(text: &str) -> Option<String> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| regex::Regex::new(r"\w (\d+\.\d+[.\d+]*)").ok())
        .as_ref()?;
    Some(re.captures(text)?.get(1)?.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let core = "ansible-playbook [core 2.19.14]\n  config file = None\n";
        assert_eq!(parse(core).as_deref(), Some("2.19.14"));
        assert_eq!(
            parse("ansible-playbook 2.9.27\n").as_deref(),
            Some("2.9.27")
        );
        assert_eq!(parse("ansible-playbook 1.9\n").as_deref(), Some("1.9"));
        assert_eq!(parse("no version here 2\n"), None);
    }

    #[test]
    fn missing_command_says_what_to_install() {
        let e = major("/nonexistent/ansible-playbook").unwrap_err();
        assert!(e.starts_with("Error running \"/nonexistent/ansible-playbook --version\""));
        assert!(e.contains("pip install ansible-core"), "{e}");
    }

    #[test]
    fn a_failing_command_gives_its_exit_status() {
        assert_eq!(
            major("false").unwrap_err(),
            "Error running \"false --version\": exit status 1"
        );
    }
}
