//! `powershell.exe` invocations and a small PowerShell interpreter.
//!
//! The interpreter's subset (statements separated by newlines or `;`):
//! `Write-Output X`, `Write-Host X`, `echo X` (X a '...' or "..." string, a `$env:NAME`, or bare
//! words), `Write-Error X` (to stderr), `exit [N|$LastExitCode]`, `$env:NAME = "value"`,
//! `Start-Sleep [-Seconds] N` / `-s N` / `-Milliseconds N` / `-m N` (really sleeps),
//! `Set-Content -Path P -Value V`, `Remove-Item P [-Force] [-ErrorAction X]`,
//! `Restart-Computer [-Force]` (a simulated reboot), `. 'file.ps1'` (dot-source),
//! `& 'file.ps1'` / `&'file.bat'` (run; sets `$LastExitCode`), `$ProgressPreference = ...` and
//! `$ErrorActionPreference = ...` (ignored), Packer's
//! `if (Test-Path variable:global:ProgressPreference){...}` preamble (ignored),
//! `if (Test-Path P) {...}` (the body runs when P exists), `& {...}` (a script block), `#`
//! comments.
//! Double-quoted strings expand `$env:NAME`, `${env:NAME}` and backtick escapes.

use super::{forge_transfer, packer, windows_update, BoxFut, Ctx, Machine};
use std::sync::Arc;
use std::time::Duration;

/// `powershell ARGS...` from cmd (`line` is the whole command line, for the record).
pub(super) async fn invoke(m: &Arc<Machine>, ctx: &mut Ctx, args: &[String], line: &str) -> i32 {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_ascii_lowercase();
        let a = a.trim_matches('"');
        if !a.starts_with('-') && !a.starts_with('/') {
            // The rest is the command.
            let script = args[i..].join(" ");
            return run_command_text(m, ctx, &script, line).await;
        }
        let flag = a.trim_start_matches(['-', '/']);
        match flag {
            "noprofile" | "nop" | "noninteractive" | "noni" | "nologo" | "mta" | "sta" => i += 1,
            "executionpolicy" | "ep" | "exec" | "inputformat" | "outputformat" | "windowstyle"
            | "w" | "version" => i += 2,
            "encodedcommand" | "enc" | "e" | "ec" => {
                let Some(script) = args.get(i + 1).and_then(|b| super::decode_utf16_b64(b)) else {
                    return ctx.not_emulated(line);
                };
                return run_script(m, ctx, &script).await;
            }
            "file" | "f" => {
                let Some(path) = args.get(i + 1) else {
                    return ctx.not_emulated(line);
                };
                let path = path.trim_matches('"').to_string();
                return run_file(m, ctx, &path, line).await;
            }
            "command" | "c" => {
                let script = args[i + 1..].join(" ");
                return run_command_text(m, ctx, &script, line).await;
            }
            _ => return ctx.not_emulated(line),
        }
    }
    ctx.not_emulated(line)
}

async fn run_command_text(m: &Arc<Machine>, ctx: &mut Ctx, text: &str, _line: &str) -> i32 {
    let mut t = text.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t = &t[1..t.len() - 1];
    }
    let t = t.replace("\\\"", "\"");
    let t = t.trim();
    // `& { ... }`
    let body = t
        .strip_prefix('&')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('{'))
        .and_then(|r| r.trim_end().strip_suffix('}'))
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string());
    run_script(m, ctx, &body).await
}

/// Runs a `.ps1` file.
pub(super) async fn run_file(m: &Arc<Machine>, ctx: &mut Ctx, path: &str, _line: &str) -> i32 {
    let host = m.host_path(path, &ctx.cwd);
    match std::fs::read(&host) {
        Ok(bytes) => {
            let text = decode_text(&bytes);
            run_script(m, ctx, &text).await
        }
        Err(_) => {
            ctx.err_line(&format!(
                "The argument '{path}' to the -File parameter does not exist. Provide the path to an existing '.ps1' file as an argument to the -File parameter."
            ));
            -196608
        }
    }
}

/// Text of a script file: UTF-8 (with or without BOM) or UTF-16LE with BOM.
pub(super) fn decode_text(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xff, 0xfe]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    let b = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(bytes);
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a PowerShell script: forge's transfer and windows-update scripts, added recognisers, Packer's scripts,
/// then the interpreter.
pub(super) fn run_script<'a>(m: &'a Arc<Machine>, ctx: &'a mut Ctx, script: &'a str) -> BoxFut<'a> {
    Box::pin(async move {
        if let Some(code) = forge_transfer::try_run(m, ctx, script).await {
            return code;
        }
        if let Some(code) = windows_update::try_run(m, ctx, script).await {
            return code;
        }
        let recognisers = super::lock(&m.recognisers).clone();
        for r in &recognisers {
            if let Some(fut) = r.recognise(m, ctx, script) {
                return fut.await;
            }
        }
        if let Some(code) = packer::try_run(m, ctx, script).await {
            return code;
        }
        interpret(m, ctx, script).await
    })
}

/// Splits a script into statements at newlines and `;` outside quotes, braces and parentheses.
pub(super) fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == '`' && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    if chars.peek() == Some(&q) {
                        cur.push(q);
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '#' if depth == 0 && (cur.trim().is_empty() || cur.ends_with(' ')) => {
                    // comment to end of line
                    for n in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                    out.push(std::mem::take(&mut cur));
                }
                '{' | '(' => {
                    depth += 1;
                    cur.push(c);
                }
                '}' | ')' => {
                    depth -= 1;
                    cur.push(c);
                }
                '\n' | ';' if depth <= 0 => out.push(std::mem::take(&mut cur)),
                '\r' => {}
                _ => cur.push(c),
            },
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The value of a PowerShell expression the interpreter understands.
pub(super) fn eval(ctx: &Ctx, m: &Machine, expr: &str) -> Option<String> {
    let e = expr.trim();
    if e.len() >= 2 && e.starts_with('\'') && e.ends_with('\'') {
        return Some(e[1..e.len() - 1].replace("''", "'"));
    }
    if e.len() >= 2 && e.starts_with('"') && e.ends_with('"') {
        return Some(expand_dq(ctx, &e[1..e.len() - 1]));
    }
    if let Some(name) = e.strip_prefix("$env:") {
        return Some(ctx.env(name).unwrap_or_default());
    }
    if e.eq_ignore_ascii_case("$LastExitCode") {
        return Some(ctx.last_exit.to_string());
    }
    let lower = e.to_ascii_lowercase().replace(' ', "");
    if lower == "[system.net.dns]::gethostname()" || lower == "$env:computername" {
        return Some(m.hostname().to_string());
    }
    // ("{0} restarted." -f [System.Net.Dns]::GetHostName())
    if let Some(inner) = e.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        if let Some((fmt, arg)) = inner.split_once(" -f ") {
            let f = eval(ctx, m, fmt)?;
            let a = eval(ctx, m, arg)?;
            return Some(f.replace("{0}", &a));
        }
        return eval(ctx, m, inner);
    }
    if !e.is_empty()
        && e.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:\\/".contains(c))
        && !e.starts_with('$')
    {
        return Some(e.to_string());
    }
    None
}

/// Expands a double-quoted string's content.
pub(super) fn expand_dq(ctx: &Ctx, s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' && i + 1 < chars.len() {
            out.push(match chars[i + 1] {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                '0' => '\0',
                o => o,
            });
            i += 2;
            continue;
        }
        if c == '"' && chars.get(i + 1) == Some(&'"') {
            out.push('"');
            i += 2;
            continue;
        }
        if c == '$' {
            let rest: String = chars[i..].iter().collect();
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("${env:") {
                if let Some(end) = rest.find('}') {
                    out.push_str(&ctx.env(&rest[6..end]).unwrap_or_default());
                    i += rest[..=end].chars().count();
                    continue;
                }
            }
            if lower.starts_with("$env:") {
                let name: String = rest[5..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push_str(&ctx.env(&name).unwrap_or_default());
                i += 5 + name.chars().count();
                continue;
            }
            if lower.starts_with("$lastexitcode") {
                out.push_str(&ctx.last_exit.to_string());
                i += 13;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Splits a statement into words (quotes kept).
pub(super) fn ps_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0;
    for c in s.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c == '(' => {
                depth += 1;
                cur.push(c);
            }
            None if c == ')' => {
                depth -= 1;
                cur.push(c);
            }
            None if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Named parameters of a cmdlet call: (`-name` lowercased → value words), positional words.
fn params(words: &[String]) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let mut named = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w.starts_with('-') && w.len() > 1 && !w[1..].starts_with(|c: char| c.is_ascii_digit()) {
            let name = w[1..].to_ascii_lowercase();
            let is_switch = matches!(
                name.as_str(),
                "force" | "recurse" | "confirm:$false" | "nonewline"
            );
            if !is_switch && i + 1 < words.len() && !words[i + 1].starts_with('-') {
                named.push((name, Some(words[i + 1].clone())));
                i += 2;
            } else {
                named.push((name, None));
                i += 1;
            }
        } else {
            pos.push(w.clone());
            i += 1;
        }
    }
    (named, pos)
}

fn param<'a>(named: &'a [(String, Option<String>)], names: &[&str]) -> Option<&'a str> {
    named
        .iter()
        .find(|(n, _)| {
            names
                .iter()
                .any(|x| n.starts_with(x) && !x.is_empty() && !n.is_empty())
        })
        .and_then(|(_, v)| v.as_deref())
}

/// Runs a script with the interpreter.
pub(super) async fn interpret(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> i32 {
    for st in statements(script) {
        match statement(m, ctx, &st).await {
            Flow::Next => {}
            Flow::Exit(code) => return code,
        }
    }
    0
}

enum Flow {
    Next,
    Exit(i32),
}

async fn statement(m: &Arc<Machine>, ctx: &mut Ctx, st: &str) -> Flow {
    // A command given as one double-quoted string (`-Command "& { ... }"`).
    let st = match st
        .trim()
        .strip_prefix("\"&")
        .and_then(|r| r.strip_suffix('"'))
    {
        Some(inner) => &format!("&{inner}"),
        None => st,
    };
    let lower = st.to_ascii_lowercase();
    let compact = lower.replace(' ', "");
    // Packer's preamble and preference variables.
    if compact.starts_with("if(test-pathvariable:global:progresspreference)")
        || compact.starts_with("$progresspreference=")
        || compact.starts_with("$erroractionpreference=")
        || compact.starts_with("set-strictmode")
    {
        return Flow::Next;
    }
    // `& { ... }`: a script block, run in place.
    if let Some(block) = st.trim_start().strip_prefix('&').map(str::trim_start) {
        if block.starts_with('{') && block.trim_end().ends_with('}') {
            let body = &block.trim_end()[1..block.trim_end().len() - 1];
            for inner in statements(body) {
                if let Flow::Exit(code) = Box::pin(statement(m, ctx, &inner)).await {
                    return Flow::Exit(code);
                }
            }
            return Flow::Next;
        }
    }
    // `if (Test-Path P) { ... }`: the body runs when P exists.
    if compact.starts_with("if(test-path") {
        let (Some(open), Some(close)) = (st.find('{'), st.rfind('}')) else {
            return Flow::Exit(ctx.not_emulated(st));
        };
        let cond = &st[..open];
        let Some(arg) = cond
            .to_ascii_lowercase()
            .find("test-path")
            .map(|i| &cond[i + "test-path".len()..])
            .and_then(|c| c.trim().strip_suffix(')'))
        else {
            return Flow::Exit(ctx.not_emulated(st));
        };
        let Some(path) = eval(ctx, m, arg.trim()) else {
            return Flow::Exit(ctx.not_emulated(st));
        };
        if m.host_path(&path, &ctx.cwd).exists() {
            for inner in statements(&st[open + 1..close]) {
                if let Flow::Exit(code) = Box::pin(statement(m, ctx, &inner)).await {
                    return Flow::Exit(code);
                }
            }
        }
        return Flow::Next;
    }
    if let Some(rest) = st
        .strip_prefix("$env:")
        .or_else(|| st.strip_prefix("$ENV:"))
        .or_else(|| st.strip_prefix("$Env:"))
    {
        if let Some((name, value)) = rest.split_once('=') {
            match eval(ctx, m, value) {
                Some(v) => {
                    ctx.set_env(name.trim(), &v);
                    return Flow::Next;
                }
                None => return Flow::Exit(ctx.not_emulated(st)),
            }
        }
    }
    let words = ps_words(st);
    let Some(cmd) = words.first() else {
        return Flow::Next;
    };
    let cmd_l = cmd.to_ascii_lowercase();
    let args = &words[1..];
    match cmd_l.as_str() {
        "write-output" | "write-host" | "echo" | "write" => {
            let (named, pos) = params(args);
            let no_newline = named.iter().any(|(n, _)| n == "nonewline");
            let mut parts = Vec::new();
            for p in pos.iter().chain(named.iter().filter_map(|(n, v)| {
                if n.starts_with("object") || n.starts_with("inputobject") {
                    v.as_ref()
                } else {
                    None
                }
            })) {
                match eval(ctx, m, p) {
                    Some(v) => parts.push(v),
                    None => return Flow::Exit(ctx.not_emulated(st)),
                }
            }
            if cmd_l == "write-host" {
                let text = parts.join(" ");
                if no_newline {
                    ctx.io.stdout(text.as_bytes());
                } else {
                    ctx.out_line(&text);
                }
            } else {
                for p in parts {
                    ctx.out_line(&p);
                }
            }
            Flow::Next
        }
        "write-error" => {
            let (named, pos) = params(args);
            let msg = param(&named, &["message"])
                .map(str::to_string)
                .or_else(|| pos.first().cloned());
            match msg.and_then(|x| eval(ctx, m, &x)) {
                Some(v) => {
                    ctx.err_line(&v);
                    Flow::Next
                }
                None => Flow::Exit(ctx.not_emulated(st)),
            }
        }
        "exit" => {
            let code = match args.first() {
                None => 0,
                Some(a) => match eval(ctx, m, a).and_then(|v| v.trim().parse::<i64>().ok()) {
                    Some(n) => n as i32,
                    None => return Flow::Exit(ctx.not_emulated(st)),
                },
            };
            Flow::Exit(code)
        }
        "start-sleep" | "sleep" => {
            let (named, pos) = params(args);
            let (value, millis) = if let Some(v) = param(&named, &["milliseconds", "m"]) {
                (Some(v.to_string()), true)
            } else {
                (
                    param(&named, &["seconds", "s"])
                        .map(str::to_string)
                        .or_else(|| pos.first().cloned()),
                    false,
                )
            };
            match value
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
            {
                Some(v) => {
                    let d = if millis {
                        Duration::from_secs_f64(v / 1000.0)
                    } else {
                        Duration::from_secs_f64(v)
                    };
                    tokio::time::sleep(d).await;
                    Flow::Next
                }
                None => Flow::Exit(ctx.not_emulated(st)),
            }
        }
        "set-content" | "add-content" => {
            let (named, pos) = params(args);
            let path = param(&named, &["path"])
                .map(str::to_string)
                .or_else(|| pos.first().cloned());
            let value = param(&named, &["value"])
                .map(str::to_string)
                .or_else(|| pos.get(1).cloned());
            let (Some(path), Some(value)) = (
                path.and_then(|p| eval(ctx, m, &p)),
                value.and_then(|v| eval(ctx, m, &v)),
            ) else {
                return Flow::Exit(ctx.not_emulated(st));
            };
            let host = m.host_path(&path, &ctx.cwd);
            let append = cmd_l == "add-content";
            let res = (|| -> std::io::Result<()> {
                use std::io::Write as _;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(append)
                    .truncate(!append)
                    .open(&host)?;
                f.write_all(format!("{value}\r\n").as_bytes())
            })();
            if res.is_err() {
                ctx.err_line(&format!(
                    "Set-Content : Could not find a part of the path '{path}'."
                ));
            }
            Flow::Next
        }
        "remove-item" | "rm" | "del" => {
            let (named, pos) = params(args);
            let path = param(&named, &["path", "literalpath"])
                .map(str::to_string)
                .or_else(|| pos.first().cloned());
            let Some(path) = path.and_then(|p| eval(ctx, m, &p)) else {
                return Flow::Exit(ctx.not_emulated(st));
            };
            let quiet = param(&named, &["erroraction", "ea"])
                .is_some_and(|v| v.to_ascii_lowercase().contains("silentlycontinue"));
            remove_item(m, ctx, &path, quiet);
            Flow::Next
        }
        "restart-computer" => {
            m.schedule_reboot(Duration::ZERO);
            Flow::Next
        }
        "." => {
            let Some(path) = args.first().and_then(|p| eval(ctx, m, p)) else {
                return Flow::Exit(ctx.not_emulated(st));
            };
            let host = m.host_path(&path, &ctx.cwd);
            match std::fs::read(&host) {
                Ok(b) => {
                    let text = decode_text(&b);
                    let code = Box::pin(interpret(m, ctx, &text)).await;
                    if code != 0 {
                        ctx.last_exit = code;
                    }
                    Flow::Next
                }
                Err(_) => {
                    ctx.err_line(&format!("The term '{path}' is not recognized as the name of a cmdlet, function, script file, or operable program."));
                    Flow::Next
                }
            }
        }
        _ if cmd.starts_with('&') => {
            let target = if cmd == "&" {
                args.first().cloned()
            } else {
                Some(cmd[1..].to_string())
            };
            let Some(path) = target.and_then(|p| eval(ctx, m, &p)) else {
                return Flow::Exit(ctx.not_emulated(st));
            };
            let pl = path.to_ascii_lowercase();
            let code = if pl.ends_with(".ps1") {
                let host = m.host_path(&path, &ctx.cwd);
                match std::fs::read(&host) {
                    Ok(b) => {
                        let text = decode_text(&b);
                        run_script(m, ctx, &text).await
                    }
                    Err(_) => {
                        ctx.err_line(&format!("& : The term '{path}' is not recognized as the name of a cmdlet, function, script file, or operable program."));
                        1
                    }
                }
            } else if pl.ends_with(".bat") || pl.ends_with(".cmd") {
                m.run_batch(ctx, &path).await
            } else {
                return Flow::Exit(ctx.not_emulated(st));
            };
            ctx.last_exit = code;
            Flow::Next
        }
        _ => Flow::Exit(ctx.not_emulated(st)),
    }
}

/// Removes a file or directory tree (Remove-Item semantics, without wildcards).
pub(super) fn remove_item(m: &Machine, ctx: &mut Ctx, path: &str, quiet: bool) -> bool {
    let host = m.host_path(path, &ctx.cwd);
    let res = if host.is_dir() {
        std::fs::remove_dir_all(&host)
    } else {
        std::fs::remove_file(&host)
    };
    if res.is_err() && !quiet {
        ctx.err_line(&format!(
            "Remove-Item : Cannot find path '{path}' because it does not exist."
        ));
    }
    res.is_ok()
}
