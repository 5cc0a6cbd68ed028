//! Packer 1.6.6's PowerShell scripts, recognised by their fixed text: winrmcp's restore
//! script (1.6.6's line-by-line one and the newer one) and clean-up script, the WinRM communicator's download script, and packer-plugin-sdk's elevated
//! (scheduled task) wrapper. Packer's probes (`echo "WinRM connected."`, windows-restart's
//! `echo ("{0} restarted." -f ...)`, `Test-Path` registry probes) and the powershell
//! provisioner's execute_command go through the interpreter.

use super::powershell;
use super::{Ctx, Machine};
use base64::Engine as _;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The first `Marker("value")` argument in `script` (a double-quoted PowerShell string, with
/// `$env:X` expanded).
fn dq_arg(ctx: &Ctx, script: &str, marker: &str) -> Option<String> {
    let at = script.find(marker)? + marker.len();
    let rest = &script[at..];
    let start = rest.find('"')? + 1;
    let end = rest[start..].find('"')? + start;
    Some(powershell::expand_dq(ctx, &rest[start..end]))
}

/// `Some(exit code)` when `script` is one of Packer's.
pub(super) async fn try_run(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> Option<i32> {
    if script.contains("FromBase64String")
        && (script.contains("WriteAllBytes") || script.contains("$reader.ReadLine()"))
        && script.contains("$dest_file_path")
    {
        return Some(restore(m, ctx, script));
    }
    if script.contains("Remove-Item $tmp_file_path") && !script.contains("$dest_file_path") {
        return Some(cleanup(m, ctx, script));
    }
    if script.contains("ReadAllBytes") && script.contains("ToBase64String") {
        return Some(download(m, ctx, script));
    }
    if script.contains("New-Object -ComObject \"Schedule.Service\"") {
        return Some(elevated(m, ctx, script).await);
    }
    None
}

/// winrmcp: the base64 temp file(s) in %TEMP% → the destination.
fn restore(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> i32 {
    let Some(dest) = dq_arg(
        ctx,
        script,
        "$dest_file_path = [System.IO.Path]::GetFullPath(",
    ) else {
        return ctx.not_emulated("winrmcp restore script without a destination");
    };
    // The pieces: a `-like "PREFIX*"` pattern in %TEMP% (newer winrmcp), or one temp file.
    let temp = ctx.env("TEMP").unwrap_or_default();
    let mut pieces: Vec<std::path::PathBuf> = Vec::new();
    if let Some(prefix) = dq_arg(ctx, script, "$_.Name -like ") {
        let prefix = prefix.trim_end_matches('*').to_ascii_lowercase();
        let dir = m.host_path(&temp, &ctx.cwd);
        let mut found: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().to_ascii_lowercase();
                        if !name.starts_with(&prefix) {
                            return None;
                        }
                        let n = name
                            .rsplit("tmp.")
                            .next()
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(0);
                        Some((n, e.path()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        pieces = found.into_iter().map(|(_, p)| p).collect();
    } else if let Some(tmp) = dq_arg(
        ctx,
        script,
        "$tmp_file_path = [System.IO.Path]::GetFullPath(",
    ) {
        pieces.push(m.host_path(&tmp, &ctx.cwd));
    }
    // winrmcp as packer 1.6.6 has it: each line is base64 of its own, written through a
    // stream; without a temporary file the destination is made empty.
    let by_line = script.contains("$reader.ReadLine()");
    if by_line && pieces.iter().all(|p| !p.exists()) {
        pieces.clear();
    }
    ctx.out_line("");
    let mut text = String::new();
    for p in &pieces {
        match std::fs::read(p) {
            Ok(b) => text.push_str(&String::from_utf8_lossy(&b)),
            Err(_) => {
                ctx.err_line(&format!(
                    "Get-Content : Cannot find path '{}' because it does not exist.",
                    m.windows_path(p)
                ));
                return 1;
            }
        }
    }
    let decoded = if by_line {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| B64.decode(l))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.concat())
    } else {
        let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        B64.decode(joined.as_bytes())
    };
    let bytes = match decoded {
        Ok(b) => b,
        Err(_) => {
            ctx.err_line("Exception calling \"FromBase64String\" with \"1\" argument(s): \"The input is not a valid Base-64 string.\"");
            return 1;
        }
    };
    let host = m.host_path(&dest, &ctx.cwd);
    if dest.ends_with('\\') || dest.ends_with('/') || host.is_dir() {
        ctx.err_line(&format!(
            "Exception calling \"WriteAllBytes\" with \"2\" argument(s): \"Access to the path '{dest}' is denied.\""
        ));
        return 1;
    }
    if let Some(parent) = host.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if std::fs::write(&host, &bytes).is_err() {
        ctx.err_line(&format!(
            "Exception calling \"WriteAllBytes\": Could not write '{dest}'."
        ));
        return 1;
    }
    for p in &pieces {
        let _ = std::fs::remove_file(p);
    }
    0
}

/// winrmcp's clean-up (packer 1.6.6): removes the temporary file if it is there.
fn cleanup(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> i32 {
    let Some(tmp) = dq_arg(
        ctx,
        script,
        "$tmp_file_path = [System.IO.Path]::GetFullPath(",
    ) else {
        return ctx.not_emulated("winrmcp clean-up script without a file");
    };
    let _ = std::fs::remove_file(m.host_path(&tmp, &ctx.cwd));
    0
}

/// The WinRM communicator's Download: the file's base64 on stdout.
fn download(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> i32 {
    let Some(src) = dq_arg(ctx, script, "ReadAllBytes(") else {
        return ctx.not_emulated("download script without a source");
    };
    let host = m.host_path(&src, &ctx.cwd);
    match std::fs::read(&host) {
        Ok(b) if host.is_file() => {
            ctx.out_line(&B64.encode(b));
            0
        }
        _ => {
            ctx.err_line(&format!(
                "Exception calling \"ReadAllBytes\" with \"1\" argument(s): \"Could not find file '{src}'.\""
            ));
            1
        }
    }
}

pub(super) fn ps_unescape(s: &str) -> String {
    s.replace("``", "\u{0}")
        .replace("`$", "$")
        .replace("`\"", "\"")
        .replace("`'", "'")
        .replace('\u{0}', "`")
}

pub(super) fn xml_unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x9;", "\t")
        .replace("&#xA;", "\n")
        .replace("&#xD;", "\r")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

pub(super) fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let a = s.find(start)? + start.len();
    let b = s[a..].find(end)? + a;
    Some(&s[a..b])
}

/// Runs `command` as `user`'s scheduled task: its output goes to `log` (a Windows path), is
/// shown, and the log is removed, as the wrappers that tail it do.
pub(super) async fn run_as_task(
    m: &Arc<Machine>,
    ctx: &mut Ctx,
    user: &str,
    command: &str,
    log: &str,
) -> i32 {
    let mut sub = ctx.sub();
    sub.user = user.to_string();
    let code = m.clone().run_line(&mut sub, command).await;
    ctx.not_emulated.append(&mut sub.not_emulated);
    let (out, err) = sub.io.take_all();
    let mut all = out;
    all.extend(err);
    let log_host = m.host_path(log, &ctx.cwd);
    if let Some(p) = log_host.parent() {
        let _ = std::fs::create_dir_all(p);
    }
    let _ = std::fs::write(&log_host, &all);
    for line in String::from_utf8_lossy(&all).lines() {
        ctx.out_line(line);
    }
    let _ = std::fs::remove_file(&log_host);
    code
}

/// packer-plugin-sdk guestexec's elevated wrapper: a scheduled task running `cmd /c COMMAND >
/// LOG 2>&1` as the elevated user; the script tails LOG and exits with the task's result.
async fn elevated(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> i32 {
    let (Some(user), Some(password), Some(args), Some(log)) = (
        between(script, "<UserId>", "</UserId>"),
        between(script, "$password = \"", "\"\nif")
            .or_else(|| between(script, "$password = \"", "\"\r\n")),
        between(script, "<Arguments>", "</Arguments>"),
        dq_arg(
            ctx,
            script,
            "$log = [System.Environment]::ExpandEnvironmentVariables(",
        ),
    ) else {
        return ctx.not_emulated("elevated task script in an unknown form");
    };
    let user = ps_unescape(user);
    let password = ps_unescape(password);
    if !m.check_password(&user, &password) {
        ctx.err_line("Exception calling \"RegisterTaskDefinition\" with \"7\" argument(s): \"The user name or password is incorrect. (Exception from HRESULT: 0x8007052E)\"");
        return 1;
    }
    let command = xml_unescape(args);
    let Some(command) = command.strip_prefix("/c ") else {
        return ctx.not_emulated("elevated task without cmd /c");
    };
    // The task's output goes to the log (`> LOG 2>&1`, LOG as written or expanded).
    let expanded = ctx.expand_percent(&log);
    let command = [&log, &expanded]
        .iter()
        .find_map(|l| command.strip_suffix(format!(" > {l} 2>&1").as_str()))
        .unwrap_or(command)
        .to_string();
    let code = run_as_task(m, ctx, &user, &command, &expanded).await;
    if let Some(sf) = dq_arg(
        ctx,
        script,
        "$script = [System.Environment]::ExpandEnvironmentVariables(",
    ) {
        let sf = ctx.expand_percent(&sf);
        let _ = std::fs::remove_file(m.host_path(&sf, &ctx.cwd));
    }
    code
}
