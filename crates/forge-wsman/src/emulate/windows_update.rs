//! forge's `windows-update` provisioner's scripts, against a catalogue of simulated updates
//! ([`crate::Config::windows_updates`]):
//!
//! - the elevated wrapper (`$service = New-Object -ComObject 'Schedule.Service'`, a task whose
//!   action is `cmd /c COMMAND >%SYSTEMROOT%\Temp\NAME.out 2>&1`): the password is checked
//!   (none for `SYSTEM`), COMMAND runs as the task's user, its output is shown, and the script
//!   exits with the task's result;
//! - `<path>.ps1 [-SearchCriteria '...'] [-Filters '...',...] [-UpdateLimit N]
//!   [-OnlyCheckForRebootRequired]`, where the file at `<path>` is the uploaded update script
//!   (recognised by its first line): the script's behaviour on the catalogue, with its messages.
//!
//! What it understands of the Windows Update Agent: search criteria joined by `and` over
//! `IsInstalled`, `IsHidden`, `BrowseOnly`, `AutoSelectOnWebSites`, `RebootRequired` and `Type`;
//! filter expressions `$true`, `$false`, `$_.Title -like|-notlike|-match|-notmatch '...'` and
//! the boolean properties `$_.InstallationBehavior.CanRequestUserInput`,
//! `$_.AutoSelectOnWebSites`, `$_.IsHidden`, `$_.BrowseOnly`. Anything else is "not
//! emulated". Downloads and installs always succeed; the Modules Installer is never busy.

use super::{packer, Ctx, Machine};
use std::sync::Arc;

/// The first line of the uploaded update script.
const SCRIPT_MARKER: &str = "# Installs Windows updates through the Windows Update Agent API";

/// `Some(exit code)` when `script` is one of the windows-update provisioner's.
pub(super) async fn try_run(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> Option<i32> {
    if script.contains("$service = New-Object -ComObject 'Schedule.Service'") {
        return Some(elevated(m, ctx, script).await);
    }
    let call = parse_call(script.trim())?;
    let text = std::fs::read(m.host_path(&call.path, &ctx.cwd)).ok()?;
    let text = super::powershell::decode_text(&text);
    if !text.trim_start().starts_with(SCRIPT_MARKER) {
        return None;
    }
    Some(update(m, ctx, &call))
}

/// forge's elevated wrapper.
async fn elevated(m: &Arc<Machine>, ctx: &mut Ctx, script: &str) -> i32 {
    let field = |name: &str| dq_value(script, &format!("${name} = \"")).map(packer::ps_unescape);
    let (Some(name), Some(user), Some(password), Some(args)) = (
        field("name"),
        field("username"),
        field("password"),
        packer::between(script, "<Arguments>", "</Arguments>").map(packer::xml_unescape),
    ) else {
        return ctx.not_emulated("forge's elevated task script in an unknown form");
    };
    let log = format!("%SYSTEMROOT%\\Temp\\{name}.out");
    let Some(command) = args
        .strip_prefix("/c ")
        .and_then(|c| c.strip_suffix(&format!(" >{log} 2>&1")))
    else {
        return ctx.not_emulated("forge's elevated task without `cmd /c COMMAND >LOG 2>&1`");
    };
    let system =
        user.eq_ignore_ascii_case("SYSTEM") || user.eq_ignore_ascii_case("NT AUTHORITY\\SYSTEM");
    let accepted = (system && password.is_empty()) || m.check_password(&user, &password);
    if !accepted {
        ctx.out_line("ERROR: Exception calling \"RegisterTaskDefinition\" with \"7\" argument(s): \"The user name or password is incorrect. (Exception from HRESULT: 0x8007052E)\"");
        return 1;
    }
    let log = ctx.expand_percent(&log);
    packer::run_as_task(m, ctx, &user, command, &log).await
}

/// The text of the double-quoted string after `prefix` (its opening quote), escapes kept.
fn dq_value<'a>(script: &'a str, prefix: &str) -> Option<&'a str> {
    let start = script.find(prefix)? + prefix.len();
    let mut escaped = false;
    for (i, c) in script[start..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '`' => escaped = true,
            '"' => return Some(&script[start..start + i]),
            _ => {}
        }
    }
    None
}

/// The update script's invocation.
#[derive(Debug, Default, PartialEq)]
struct Call {
    path: String,
    criteria: Option<String>,
    filters: Option<Vec<String>>,
    limit: Option<usize>,
    only_check: bool,
}

/// Parses `PATH.ps1 -Name value ...` (values: single-quoted literals, comma lists of them, or
/// bare words).
fn parse_call(s: &str) -> Option<Call> {
    let (path, mut rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    let path = path.trim_matches(['\'', '"']);
    if !path.to_ascii_lowercase().ends_with(".ps1") || s.contains('\n') {
        return None;
    }
    let mut call = Call {
        path: path.to_string(),
        ..Call::default()
    };
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(call);
        }
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        if name == "-onlycheckforrebootrequired" {
            call.only_check = true;
            continue;
        }
        let mut values = Vec::new();
        loop {
            rest = rest.trim_start();
            let (v, after) = if let Some(r) = rest.strip_prefix('\'') {
                literal(r)?
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == ',')
                    .unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            };
            values.push(v);
            rest = after.trim_start();
            match rest.strip_prefix(',') {
                Some(r) => rest = r,
                None => break,
            }
        }
        match name.as_str() {
            "-searchcriteria" => call.criteria = values.pop(),
            "-filters" => call.filters = Some(values),
            "-updatelimit" => call.limit = Some(values.pop()?.parse().ok()?),
            _ => return None,
        }
    }
}

/// A single-quoted literal's value (after its opening quote) and what follows it.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == '\'' {
            if it.peek().map(|(_, c)| *c) == Some('\'') {
                out.push('\'');
                it.next();
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `n` bytes in MB as .NET's `ToString('0.##')` writes it.
fn mb(n: u64) -> String {
    let s = format!("{:.2}", n as f64 / (1024.0 * 1024.0));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One test of a filter expression against an update.
enum Test {
    Const(bool),
    Flag(fn(&crate::WindowsUpdate) -> bool),
    Title { op: String, pattern: String },
}

fn parse_test(expr: &str) -> Option<Test> {
    let e = expr.trim();
    match e.to_ascii_lowercase().as_str() {
        "$true" => return Some(Test::Const(true)),
        "$false" => return Some(Test::Const(false)),
        "$_.installationbehavior.canrequestuserinput" => {
            return Some(Test::Flag(|u| u.can_request_user_input))
        }
        "$_.autoselectonwebsites" => return Some(Test::Flag(|u| u.auto_select_on_web_sites)),
        "$_.ishidden" => return Some(Test::Flag(|u| u.hidden)),
        "$_.browseonly" => return Some(Test::Flag(|u| u.browse_only)),
        _ => {}
    }
    let rest = e.get(..9).filter(|p| p.eq_ignore_ascii_case("$_.Title "))?;
    let rest = e[rest.len()..].trim_start();
    let (op, rest) = rest.split_once(char::is_whitespace)?;
    let op = op.to_ascii_lowercase();
    if !matches!(op.as_str(), "-like" | "-notlike" | "-match" | "-notmatch") {
        return None;
    }
    let (pattern, after) = literal(rest.trim_start().strip_prefix('\'')?)?;
    if !after.trim().is_empty() {
        return None;
    }
    Some(Test::Title { op, pattern })
}

impl Test {
    fn eval(&self, u: &crate::WindowsUpdate) -> Option<bool> {
        Some(match self {
            Test::Const(b) => *b,
            Test::Flag(f) => f(u),
            Test::Title { op, pattern } => match op.as_str() {
                "-like" => like(&u.title, pattern)?,
                "-notlike" => !like(&u.title, pattern)?,
                "-match" => title_regex(pattern)?.is_match(&u.title),
                _ => !title_regex(pattern)?.is_match(&u.title),
            },
        })
    }
}

fn title_regex(p: &str) -> Option<regex::Regex> {
    regex::RegexBuilder::new(p)
        .case_insensitive(true)
        .build()
        .ok()
}

/// PowerShell's `-like` (case-insensitive; `*` and `?`; `None` for `[...]` classes).
fn like(text: &str, pattern: &str) -> Option<bool> {
    if pattern.contains('[') {
        return None;
    }
    let mut re = String::from("(?is)^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Some(regex::Regex::new(&re).ok()?.is_match(text))
}

/// One `Name=value` term of the search criteria.
enum Term {
    /// A 0/1 property, and the value it must have.
    Flag(fn(&crate::WindowsUpdate) -> bool, bool),
    /// `Type='...'`.
    Type(String),
}

/// The criteria's `and`-joined terms (`None`: not understood).
fn parse_criteria(criteria: &str) -> Option<Vec<Term>> {
    let splitter = regex::Regex::new(r"(?i)\s+and\s+").ok()?;
    let mut terms = Vec::new();
    for term in splitter.split(criteria.trim()) {
        let (name, value) = term.split_once('=')?;
        let value = value.trim().trim_matches('\'');
        let flag = |f: fn(&crate::WindowsUpdate) -> bool| match value {
            "0" => Some(Term::Flag(f, false)),
            "1" => Some(Term::Flag(f, true)),
            _ => None,
        };
        terms.push(match name.trim().to_ascii_lowercase().as_str() {
            "isinstalled" => flag(|u| u.installed)?,
            "ishidden" => flag(|u| u.hidden)?,
            "browseonly" => flag(|u| u.browse_only)?,
            "autoselectonwebsites" => flag(|u| u.auto_select_on_web_sites)?,
            "rebootrequired" => flag(|u| u.reboot_required)?,
            "type" => Term::Type(value.to_string()),
            _ => return None,
        });
    }
    Some(terms)
}

/// Whether `u` meets every term.
fn meets(terms: &[Term], u: &crate::WindowsUpdate) -> bool {
    terms.iter().all(|t| match t {
        Term::Flag(f, want) => f(u) == *want,
        // An update without a type is software.
        Term::Type(kind) => {
            let own = if u.kind.is_empty() {
                "Software"
            } else {
                &u.kind
            };
            own.eq_ignore_ascii_case(kind)
        }
    })
}

/// The update script on the machine's catalogue.
fn update(m: &Arc<Machine>, ctx: &mut Ctx, call: &Call) -> i32 {
    const WAITING: &str = "Waiting for the Windows Modules Installer to exit...";
    if m.updates_pending_restart() {
        ctx.out_line(WAITING);
        return 101;
    }
    if call.only_check {
        let name = ctx.env("COMPUTERNAME").unwrap_or_default();
        ctx.out_line(&format!("{name} restarted."));
        return 0;
    }
    let criteria = call
        .criteria
        .clone()
        .unwrap_or_else(|| "BrowseOnly=0 and IsInstalled=0".into());
    let filters = call
        .filters
        .clone()
        .unwrap_or_else(|| vec!["include:$true".into()]);
    let mut rules = Vec::new();
    for f in &filters {
        let (action, expr) = f.split_once(':').unwrap_or((f, ""));
        match parse_test(expr) {
            Some(t) => rules.push((action.eq_ignore_ascii_case("include"), t)),
            None => return ctx.not_emulated(&format!("windows-update filter {f:?}")),
        }
    }
    let limit = call.limit.unwrap_or(1000);
    ctx.out_line("Searching for Windows updates...");
    let Some(terms) = parse_criteria(&criteria) else {
        return ctx.not_emulated(&format!("windows-update search criteria {criteria:?}"));
    };
    let catalogue = m.windows_updates();
    let found: Vec<&crate::WindowsUpdate> = catalogue.iter().filter(|u| meets(&terms, u)).collect();
    let mut restart = false;
    let mut selected: Vec<&crate::WindowsUpdate> = Vec::new();
    let mut size = 0;
    for u in found {
        let summary = format!(
            "Windows update ({}; {} MB): {}",
            u.date,
            mb(u.size),
            u.title
        );
        let mut wanted = false;
        for (include, t) in &rules {
            match t.eval(u) {
                Some(true) => {
                    wanted = *include;
                    break;
                }
                Some(false) => {}
                None => return ctx.not_emulated("windows-update filter pattern"),
            }
        }
        if !wanted {
            ctx.out_line(&format!("Skipped (filter) {summary}"));
            continue;
        }
        if u.can_request_user_input {
            let t = &u.title;
            ctx.out_line(&format!("Warning The update '{t}' has the CanRequestUserInput flag set (if the install hangs, you might need to exclude it with the filter 'exclude:$_.InstallationBehavior.CanRequestUserInput' or 'exclude:$_.Title -like '*{t}*'')"));
        }
        if selected.iter().any(|s| s.title == u.title) {
            ctx.out_line(&format!(
                "Warning, Skipping queueing the duplicated titled update '{}'.",
                u.title
            ));
            continue;
        }
        ctx.out_line(&format!("Found {summary}"));
        size += u.size;
        selected.push(u);
        if selected.len() >= limit {
            restart = true;
            break;
        }
    }
    if selected.is_empty() {
        if restart {
            ctx.out_line(WAITING);
            return 101;
        }
        ctx.out_line("No Windows updates found");
        return 0;
    }
    ctx.out_line(&format!(
        "Downloading Windows updates ({} updates; {} MB)...",
        selected.len(),
        mb(size)
    ));
    ctx.out_line("Installing Windows updates...");
    let titles: Vec<String> = selected.iter().map(|u| u.title.clone()).collect();
    restart |= m.install_updates(&titles);
    if restart || m.updates_pending_restart() {
        ctx.out_line(WAITING);
        return 101;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_as_the_provisioner_writes_them() {
        let c = parse_call("C:/Windows/Temp/packer-windows-update.ps1 -SearchCriteria 'IsInstalled=0 and IsHidden = 0' -Filters 'exclude:$_.Title -like ''*Preview*''','include:$true' -UpdateLimit 25").unwrap();
        assert_eq!(c.path, "C:/Windows/Temp/packer-windows-update.ps1");
        assert_eq!(
            c.criteria.as_deref(),
            Some("IsInstalled=0 and IsHidden = 0")
        );
        assert_eq!(
            c.filters.unwrap(),
            ["exclude:$_.Title -like '*Preview*'", "include:$true"]
        );
        assert_eq!(c.limit, Some(25));
        let c = parse_call("C:/x/u.ps1 -OnlyCheckForRebootRequired").unwrap();
        assert!(c.only_check);
        assert!(parse_call("Write-Output hi").is_none());
        assert!(parse_call("C:/x/u.ps1 -Other 1").is_none());
    }

    #[test]
    fn filters_and_criteria_evaluate_like_powershell() {
        let u = crate::WindowsUpdate {
            title: "2026-11 Cumulative Update Preview for Windows".into(),
            kind: "Software".into(),
            ..Default::default()
        };
        let t = parse_test("$_.Title -like '*preview*'").unwrap();
        assert_eq!(t.eval(&u), Some(true));
        let t = parse_test("$_.Title -notmatch 'KB\\d+'").unwrap();
        assert_eq!(t.eval(&u), Some(true));
        assert!(parse_test("$_.Title.Length -gt 3").is_none());
        let meets_text = |c: &str| parse_criteria(c).map(|t| meets(&t, &u));
        assert_eq!(meets_text("IsInstalled=0 and Type='Software'"), Some(true));
        assert_eq!(meets_text("IsInstalled=1"), Some(false));
        assert_eq!(meets_text("IsInstalled=0 or IsHidden=0"), None);
        assert_eq!(meets_text("IsInstalled=1 and Bogus=1"), None);
        let untyped = crate::WindowsUpdate::default();
        assert!(meets(&parse_criteria("Type='Software'").unwrap(), &untyped));
        assert_eq!(mb(0), "0");
        assert_eq!(mb(1024 * 1024 * 3 / 2), "1.5");
        assert_eq!(mb(1_234_567), "1.18");
    }
}
