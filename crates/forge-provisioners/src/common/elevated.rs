//! Packer's elevated runner (SDK `guestexec.GenerateElevatedRunner`): a command runs as a
//! Windows scheduled task of the elevated user, its output redirected to a log file that a
//! wrapper script tails; the wrapper is uploaded and run with PowerShell.

use std::collections::BTreeMap;

use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::Result;

use super::windows::{fill, ps_escape, time_ordered_uuid, upload_text, xml_escape_text};

/// The wrapper script's template, as the SDK writes it (its leading newline included).
const TEMPLATE: &str = include_str!("elevated-task.ps1");

/// What the wrapper for one command holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevatedRunner {
    /// The scheduled task's name, `packer-<uuid>`.
    pub task_name: String,
    /// Where the wrapper is uploaded: `C:/Windows/Temp/packer-elevated-shell-<uuid>.ps1`.
    pub path: String,
    /// The wrapper script.
    pub script: String,
    /// The command that runs the wrapper.
    pub command: String,
}

impl ElevatedRunner {
    /// The wrapper that runs `command` as `user` (`password` empty: a service account, whose
    /// task has no password logon).
    pub fn new(command: &str, user: &str, password: &str) -> ElevatedRunner {
        let task_name = format!("packer-{}", time_ordered_uuid());
        // %SYSTEMROOT% (not $env:) because the template expands it with .NET.
        let log_file = format!("%SYSTEMROOT%/Temp/{task_name}.out");
        let redirected = format!("{command} > {log_file} 2>&1");
        let path = format!(
            "C:/Windows/Temp/packer-elevated-shell-{}.ps1",
            time_ordered_uuid()
        );
        let (user, password, xml) = (
            ps_escape(user),
            ps_escape(password),
            xml_escape_text(&redirected),
        );
        let values = BTreeMap::from([
            ("TaskName", task_name.as_str()),
            ("TaskDescription", "Packer elevated task"),
            ("LogFile", log_file.as_str()),
            ("XMLEscapedCommand", xml.as_str()),
            ("User", user.as_str()),
            ("Password", password.as_str()),
            ("ScriptFile", path.as_str()),
        ]);
        let script = format!("\n{}", fill(TEMPLATE.trim_end_matches('\n'), &values));
        ElevatedRunner {
            command: format!("powershell -executionpolicy bypass -file \"{path}\""),
            task_name,
            path,
            script,
        }
    }

    /// Uploads the wrapper (once, as Packer does); the command that runs it.
    pub async fn upload(&self, ctx: &BuildCtx, comm: &dyn Communicator) -> Result<String> {
        upload_text(ctx, comm, &self.path, self.script.as_bytes())
            .await
            .map_err(|e| e.context("Error preparing elevated powershell script"))?;
        Ok(self.command.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_holds_the_escaped_command_and_credentials() {
        let r = ElevatedRunner::new(
            "powershell -executionpolicy bypass \"& { . c:/v.ps1; &'c:/s.ps1'; exit $LastExitCode }\"",
            "ad$min",
            "p\"w'd",
        );
        assert!(r.task_name.starts_with("packer-"));
        assert!(r.path.starts_with("C:/Windows/Temp/packer-elevated-shell-"));
        assert_eq!(
            r.command,
            format!("powershell -executionpolicy bypass -file \"{}\"", r.path)
        );
        let s = &r.script;
        assert!(s.starts_with("\n$name = \"packer-"), "{s}");
        assert!(s.ends_with("exit $result"), "{s}");
        let log = format!("%SYSTEMROOT%/Temp/{}.out", r.task_name);
        assert!(s.contains(&format!(
            "<Arguments>/c powershell -executionpolicy bypass &#34;&amp; {{ . c:/v.ps1; &amp;&#39;c:/s.ps1&#39;; exit $LastExitCode }}&#34; &gt; {log} 2&gt;&amp;1</Arguments>"
        )), "{s}");
        assert!(s.contains("<UserId>ad`$min</UserId>"), "{s}");
        assert!(s.contains("$password = \"p`\"w`'d\""), "{s}");
        assert!(s.contains("$f.RegisterTaskDefinition($name, $t, 6, \"ad`$min\", $password, $logon_type, $null) | Out-Null"));
        assert!(s.contains(&format!("ExpandEnvironmentVariables(\"{}\")\nif", r.path)));
        assert!(s.contains("<Description>Packer elevated task</Description>"));
        assert!(!s.contains("{{."), "{s}");
    }
}
