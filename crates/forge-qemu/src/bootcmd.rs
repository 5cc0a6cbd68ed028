//! Packer's boot command language: parsing (with the exact grammar of Packer's
//! `bootcommand/boot_command.pigeon`), validation at `forge validate` time, X11 keysyms, and
//! typing the parsed actions through a [`KeyDriver`] (the VNC client in [`crate::vnc`]).
//!
//! Grammar summary, as Packer has it:
//! - `<wait>` is 1s, `<waitN>` N seconds, `<waitDUR>` a Go duration (`<wait1m30s>`,
//!   `<wait250ms>`); the word `wait` and the units are case-sensitive; a wait must be positive.
//! - `<name>`, `<nameOn>`, `<nameOff>` for the special keys in [`SPECIAL_KEYS`]; names and
//!   `On`/`Off` are case-insensitive.
//! - `<cOn>`/`<cOff>` hold or release a single literal character `c`.
//! - Anything else is typed literally, including a `<` that starts none of the above.
//!
//! The entries of `boot_command` are concatenated before parsing, as Packer does.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use forge_template::gocompat::duration::{
    format as go_duration_string, parse as parse_go_duration,
};
use tokio_util::sync::CancellationToken;

/// X11 keysym of the left shift key, held for shifted characters.
pub const XK_SHIFT_L: u32 = 0xFFE1;
/// Packer's default delay after every key event over VNC.
pub const DEFAULT_KEY_INTERVAL: Duration = Duration::from_millis(100);
/// Environment variable overriding [`DEFAULT_KEY_INTERVAL`] (a Go duration), as in Packer.
pub const KEY_INTERVAL_ENV: &str = "PACKER_KEY_INTERVAL";

/// Characters typed with shift held besides upper-case letters (Packer's list, US layout).
pub const SHIFTED_CHARS: &str = "~!@#$%^&*()_+{}|:\"<>?";

/// Special keys in the grammar's order of precedence, with their X11 keysyms (as Packer's VNC
/// driver sends them). `left`/`right` come last so `leftAlt` etc. win.
pub const SPECIAL_KEYS: &[(&str, u32)] = &[
    ("bs", 0xFF08),
    ("del", 0xFFFF),
    ("enter", 0xFF0D),
    ("esc", 0xFF1B),
    ("f10", 0xFFC7),
    ("f11", 0xFFC8),
    ("f12", 0xFFC9),
    ("f1", 0xFFBE),
    ("f2", 0xFFBF),
    ("f3", 0xFFC0),
    ("f4", 0xFFC1),
    ("f5", 0xFFC2),
    ("f6", 0xFFC3),
    ("f7", 0xFFC4),
    ("f8", 0xFFC5),
    ("f9", 0xFFC6),
    ("return", 0xFF0D),
    ("tab", 0xFF09),
    ("up", 0xFF52),
    ("down", 0xFF54),
    ("spacebar", 0x0020),
    ("insert", 0xFF63),
    ("home", 0xFF50),
    ("end", 0xFF57),
    ("pageUp", 0xFF55),
    ("pageDown", 0xFF56),
    ("leftAlt", 0xFFE9),
    ("leftCtrl", 0xFFE3),
    ("leftShift", 0xFFE1),
    ("rightAlt", 0xFFEA),
    ("rightCtrl", 0xFFE4),
    ("rightShift", 0xFFE2),
    ("leftSuper", 0xFFEB),
    ("rightSuper", 0xFFEC),
    ("leftCommand", 0xFFE9),
    ("rightCommand", 0xFFEA),
    ("leftOption", 0xFFE7),
    ("rightOption", 0xFFE8),
    ("left", 0xFF51),
    ("right", 0xFF53),
    ("menu", 0xFF67),
];

/// One step of a parsed boot command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Press and release the key.
    KeyPress(u32),
    /// Press the key and hold it.
    KeyDown(u32),
    /// Release the key.
    KeyUp(u32),
    /// Pause typing.
    Wait(Duration),
}

/// A boot command syntax error; `column` counts characters from 1 in the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootCommandError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for BootCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for BootCommandError {}

/// Something that can press and release keys by X11 keysym (a VNC connection).
#[async_trait]
pub trait KeyDriver: Send {
    async fn key(&mut self, keysym: u32, down: bool) -> Result<(), String>;
}

/// The keysym of a special key name (case-insensitive, without `<>`).
pub fn special_keysym(name: &str) -> Option<u32> {
    SPECIAL_KEYS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, k)| k)
}

/// The X11 keysym for a literal character and whether Packer types it with left shift held
/// (upper-case letters and [`SHIFTED_CHARS`]). Latin-1 characters are their own keysym, like
/// Packer; other characters use the X11 Unicode keysyms (`0x0100_0000 + code point`).
pub fn keysym_for_char(c: char) -> (u32, bool) {
    let cp = c as u32;
    let keysym = if cp <= 0xFF { cp } else { 0x0100_0000 + cp };
    (keysym, c.is_uppercase() || SHIFTED_CHARS.contains(c))
}

/// Parses a (concatenated) boot command into key actions; the first syntax error is returned.
pub fn parse(s: &str) -> Result<Vec<Action>, BootCommandError> {
    let (actions, mut errors) = parse_all(s);
    if errors.is_empty() {
        Ok(actions)
    } else {
        Err(errors.swap_remove(0))
    }
}

/// Validates `boot_command` entries the way Packer does at prepare time (they are joined first),
/// returning one message per error naming the entry and the column in it.
pub fn validate(commands: &[String]) -> Vec<String> {
    let joined: String = commands.concat();
    let (_, errors) = parse_all(&joined);
    errors
        .into_iter()
        .map(|e| {
            let (index, column) = locate(commands, e.column);
            format!("boot_command[{index}]: column {column}: {}", e.message)
        })
        .collect()
}

/// Maps a 1-based column of the joined command to (entry index, 1-based column in the entry).
fn locate(commands: &[String], column: usize) -> (usize, usize) {
    let mut start = 0;
    for (i, c) in commands.iter().enumerate() {
        let len = c.chars().count();
        if column > start && column <= start + len {
            return (i, column - start);
        }
        start += len;
    }
    (commands.len().saturating_sub(1), column)
}

/// How a literal or special key is acted on.
#[derive(Clone, Copy)]
enum Mode {
    Press,
    On,
    Off,
}

struct Parser<'a> {
    chars: &'a [char],
    actions: Vec<Action>,
    errors: Vec<BootCommandError>,
}

fn parse_all(s: &str) -> (Vec<Action>, Vec<BootCommandError>) {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser {
        chars: &chars,
        actions: Vec::new(),
        errors: Vec::new(),
    };
    let mut i = 0;
    while i < chars.len() {
        i = p.expression(i);
    }
    (p.actions, p.errors)
}

impl Parser<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Case-insensitive ASCII match of `word` at `i`; returns the index after it.
    fn word_ci(&self, i: usize, word: &str) -> Option<usize> {
        let mut j = i;
        for w in word.chars() {
            if !self.at(j)?.eq_ignore_ascii_case(&w) {
                return None;
            }
            j += 1;
        }
        Some(j)
    }

    /// Case-sensitive match of `word` at `i`.
    fn word(&self, i: usize, word: &str) -> Option<usize> {
        let mut j = i;
        for w in word.chars() {
            if self.at(j)? != w {
                return None;
            }
            j += 1;
        }
        Some(j)
    }

    /// `On` / `Off` (case-insensitive) at `i`.
    fn toggle(&self, i: usize) -> Option<(usize, Mode)> {
        if let Some(j) = self.word_ci(i, "on") {
            return Some((j, Mode::On));
        }
        self.word_ci(i, "off").map(|j| (j, Mode::Off))
    }

    /// Parses one expression at `i` (Wait / CharToggle / Special / Literal, in that order).
    fn expression(&mut self, i: usize) -> usize {
        let c = self.chars[i];
        if c == '<' {
            if let Some(end) = self.wait(i) {
                return end;
            }
            if let Some(end) = self.char_toggle(i) {
                return end;
            }
            if let Some(end) = self.special(i) {
                return end;
            }
        }
        self.literal(c, Mode::Press);
        i + 1
    }

    fn literal(&mut self, c: char, mode: Mode) {
        let (k, shift) = keysym_for_char(c);
        let a = &mut self.actions;
        match mode {
            Mode::Press => {
                if shift {
                    a.push(Action::KeyDown(XK_SHIFT_L));
                }
                a.push(Action::KeyPress(k));
                if shift {
                    a.push(Action::KeyUp(XK_SHIFT_L));
                }
            }
            Mode::On => {
                if shift {
                    a.push(Action::KeyDown(XK_SHIFT_L));
                }
                a.push(Action::KeyDown(k));
            }
            Mode::Off => {
                a.push(Action::KeyUp(k));
                if shift {
                    a.push(Action::KeyUp(XK_SHIFT_L));
                }
            }
        }
    }

    /// `<cOn>` / `<cOff>` for any single character `c`.
    fn char_toggle(&mut self, i: usize) -> Option<usize> {
        let c = self.at(i + 1)?;
        let (j, mode) = self.toggle(i + 2)?;
        self.word(j, ">")?;
        self.literal(c, mode);
        Some(j + 1)
    }

    /// `<name>`, `<nameOn>`, `<nameOff>`; the first name matching (in grammar order) commits.
    fn special(&mut self, i: usize) -> Option<usize> {
        let (j, keysym) = SPECIAL_KEYS
            .iter()
            .find_map(|&(name, k)| self.word_ci(i + 1, name).map(|j| (j, k)))?;
        let (j, mode) = self.toggle(j).unwrap_or((j, Mode::Press));
        self.word(j, ">")?;
        self.actions.push(match mode {
            Mode::Press => Action::KeyPress(keysym),
            Mode::On => Action::KeyDown(keysym),
            Mode::Off => Action::KeyUp(keysym),
        });
        Some(j + 1)
    }

    /// `<wait>`, `<waitN>`, `<waitDURATION>`.
    fn wait(&mut self, i: usize) -> Option<usize> {
        let start = self.word(i + 1, "wait")?;
        let (end, value) = if let Some(end) = self.duration_span(start) {
            let text: String = self.chars[start..end].iter().collect();
            (end, parse_go_duration(&text))
        } else if let Some(end) = self.integer_span(start) {
            let text: String = self.chars[start..end].iter().collect();
            let secs = text
                .parse::<i64>()
                .map_err(|_| format!("wait of {text} seconds is out of range"));
            let ns = secs.and_then(|s| {
                s.checked_mul(1_000_000_000).ok_or_else(|| {
                    format!(
                        "wait of {text} seconds is too long (at most {} seconds)",
                        i64::MAX / 1_000_000_000
                    )
                })
            });
            (end, ns)
        } else {
            (start, Ok(1_000_000_000))
        };
        self.word(end, ">")?;
        let column = i + 1;
        let source: String = self.chars[i..=end].iter().collect();
        match value {
            Ok(ns) if ns > 0 => self
                .actions
                .push(Action::Wait(Duration::from_nanos(ns as u64))),
            Ok(ns) => self.errors.push(BootCommandError {
                column,
                message: format!(
                    "expecting a positive wait value, got {} in {source}",
                    go_duration_string(ns)
                ),
            }),
            Err(e) => self.errors.push(BootCommandError {
                column,
                message: format!("{e} in {source}"),
            }),
        }
        Some(end + 1)
    }

    /// Integer = '0' / [1-9][0-9]*
    fn integer_span(&self, i: usize) -> Option<usize> {
        match self.at(i)? {
            '0' => Some(i + 1),
            '1'..='9' => {
                let mut j = i + 1;
                while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                    j += 1;
                }
                Some(j)
            }
            _ => None,
        }
    }

    /// Duration = ( '-'? Integer ('.' Digit+)? TimeUnit )+
    fn duration_span(&self, i: usize) -> Option<usize> {
        let mut end = None;
        let mut j = i;
        loop {
            let mut k = j;
            if self.at(k) == Some('-') {
                k += 1;
            }
            let Some(mut k) = self.integer_span(k) else {
                break;
            };
            if self.at(k) == Some('.') && self.at(k + 1).is_some_and(|c| c.is_ascii_digit()) {
                k += 1;
                while self.at(k).is_some_and(|c| c.is_ascii_digit()) {
                    k += 1;
                }
            }
            let Some(k) = ["ns", "us", "µs", "ms", "s", "m", "h"]
                .iter()
                .find_map(|u| self.word(k, u))
            else {
                break;
            };
            j = k;
            end = Some(k);
        }
        end
    }
}

/// The per-key delay as Packer computes it: `boot_key_interval` when positive, else
/// `PACKER_KEY_INTERVAL` when it parses as a Go duration, else 100ms.
pub fn key_interval(boot_key_interval: Duration) -> Duration {
    key_interval_from(
        boot_key_interval,
        std::env::var(KEY_INTERVAL_ENV).ok().as_deref(),
    )
}

/// [`key_interval`] with the environment value given explicitly.
pub fn key_interval_from(boot_key_interval: Duration, env: Option<&str>) -> Duration {
    if !boot_key_interval.is_zero() {
        return boot_key_interval;
    }
    match env.map(parse_go_duration) {
        // A negative interval means no delay, as for Go's time.Sleep.
        Some(Ok(ns)) => Duration::from_nanos(ns.max(0) as u64),
        _ => DEFAULT_KEY_INTERVAL,
    }
}

/// Sleeps for `d` unless `cancel` fires first.
async fn pause(d: Duration, cancel: &CancellationToken) -> Result<(), String> {
    if d.is_zero() {
        return if cancel.is_cancelled() {
            Err(cancelled())
        } else {
            Ok(())
        };
    }
    tokio::select! {
        _ = cancel.cancelled() => Err(cancelled()),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

fn cancelled() -> String {
    "typing the boot command was cancelled".into()
}

/// Sends one key event, pausing `key_interval` after it (as Packer's VNC driver does).
async fn event(
    driver: &mut dyn KeyDriver,
    keysym: u32,
    down: bool,
    key_interval: Duration,
    cancel: &CancellationToken,
) -> Result<(), String> {
    tokio::select! {
        _ = cancel.cancelled() => return Err(cancelled()),
        r = driver.key(keysym, down) => r?,
    }
    pause(key_interval, cancel).await
}

/// Types parsed actions through `driver`, pausing `key_interval` after every key event; every
/// pause and wait stops early with an error when `cancel` fires.
pub async fn type_actions(
    driver: &mut dyn KeyDriver,
    actions: &[Action],
    key_interval: Duration,
    cancel: &CancellationToken,
) -> Result<(), String> {
    for action in actions {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        match *action {
            Action::KeyPress(k) => {
                event(driver, k, true, key_interval, cancel).await?;
                event(driver, k, false, key_interval, cancel).await?;
            }
            Action::KeyDown(k) => event(driver, k, true, key_interval, cancel).await?,
            Action::KeyUp(k) => event(driver, k, false, key_interval, cancel).await?,
            Action::Wait(d) => pause(d, cancel).await?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    const SEC: Duration = Duration::from_secs(1);

    fn p(s: &str) -> Vec<Action> {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn press(s: &str) -> Vec<Action> {
        let mut v = Vec::new();
        for c in s.chars() {
            let (k, shift) = keysym_for_char(c);
            if shift {
                v.push(KeyDown(XK_SHIFT_L));
            }
            v.push(KeyPress(k));
            if shift {
                v.push(KeyUp(XK_SHIFT_L));
            }
        }
        v
    }

    #[test]
    fn plain_characters() {
        assert_eq!(
            p("ab 1"),
            vec![
                KeyPress(0x61),
                KeyPress(0x62),
                KeyPress(0x20),
                KeyPress(0x31)
            ]
        );
        assert_eq!(
            p("A"),
            vec![KeyDown(XK_SHIFT_L), KeyPress(0x41), KeyUp(XK_SHIFT_L)]
        );
        assert_eq!(p(""), vec![]);
        assert_eq!(p("é"), vec![KeyPress(0xE9)]);
        assert_eq!(p("界"), vec![KeyPress(0x0100_754C)]);
    }

    #[test]
    fn every_special_key() {
        let expected: &[(&str, u32)] = &[
            ("bs", 0xFF08),
            ("del", 0xFFFF),
            ("enter", 0xFF0D),
            ("return", 0xFF0D),
            ("esc", 0xFF1B),
            ("tab", 0xFF09),
            ("f1", 0xFFBE),
            ("f2", 0xFFBF),
            ("f3", 0xFFC0),
            ("f4", 0xFFC1),
            ("f5", 0xFFC2),
            ("f6", 0xFFC3),
            ("f7", 0xFFC4),
            ("f8", 0xFFC5),
            ("f9", 0xFFC6),
            ("f10", 0xFFC7),
            ("f11", 0xFFC8),
            ("f12", 0xFFC9),
            ("up", 0xFF52),
            ("down", 0xFF54),
            ("left", 0xFF51),
            ("right", 0xFF53),
            ("spacebar", 0x20),
            ("insert", 0xFF63),
            ("home", 0xFF50),
            ("end", 0xFF57),
            ("pageUp", 0xFF55),
            ("pageDown", 0xFF56),
            ("menu", 0xFF67),
            ("leftAlt", 0xFFE9),
            ("leftCtrl", 0xFFE3),
            ("leftShift", 0xFFE1),
            ("leftSuper", 0xFFEB),
            ("rightAlt", 0xFFEA),
            ("rightCtrl", 0xFFE4),
            ("rightShift", 0xFFE2),
            ("rightSuper", 0xFFEC),
            ("leftCommand", 0xFFE9),
            ("rightCommand", 0xFFEA),
            ("leftOption", 0xFFE7),
            ("rightOption", 0xFFE8),
        ];
        assert_eq!(expected.len(), SPECIAL_KEYS.len());
        for &(name, k) in expected {
            assert_eq!(p(&format!("<{name}>")), vec![KeyPress(k)], "{name}");
            let upper = name.to_uppercase();
            assert_eq!(p(&format!("<{upper}>")), vec![KeyPress(k)], "{upper}");
            assert_eq!(p(&format!("<{name}On>")), vec![KeyDown(k)], "{name}On");
            assert_eq!(p(&format!("<{name}off>")), vec![KeyUp(k)], "{name}off");
            assert_eq!(p(&format!("<{upper}ON>")), vec![KeyDown(k)], "{upper}ON");
            assert_eq!(p(&format!("<{name}OfF>")), vec![KeyUp(k)], "{name}OfF");
        }
    }

    #[test]
    fn toggles_and_modifiers() {
        let (shift, a) = (XK_SHIFT_L, 0x61);
        assert_eq!(
            p("<leftShiftOn>a<leftShiftOff>"),
            vec![KeyDown(shift), KeyPress(a), KeyUp(shift)]
        );
        assert_eq!(p("<aOn><aoff>"), vec![KeyDown(a), KeyUp(a)]);
        // A shifted literal toggle holds shift until released.
        assert_eq!(
            p("<AOn><AOff>"),
            vec![KeyDown(shift), KeyDown(0x41), KeyUp(0x41), KeyUp(shift)]
        );
        assert_eq!(p("<<on>"), vec![KeyDown(shift), KeyDown(0x3C)]);
        // Packer's own test: `<fon> b<fOff>`.
        let mut want = vec![KeyDown(0x66)];
        want.extend(press(" b"));
        want.push(KeyUp(0x66));
        assert_eq!(p("<fon> b<fOff>"), want);
    }

    #[test]
    fn waits() {
        assert_eq!(p("<wait>"), vec![Wait(SEC)]);
        assert_eq!(p("<wait5>"), vec![Wait(5 * SEC)]);
        assert_eq!(p("<wait10>"), vec![Wait(10 * SEC)]);
        assert_eq!(p("<wait3s>"), vec![Wait(3 * SEC)]);
        assert_eq!(p("<wait1m30s>"), vec![Wait(90 * SEC)]);
        assert_eq!(p("<wait250ms>"), vec![Wait(Duration::from_millis(250))]);
        assert_eq!(p("<wait1.5s>"), vec![Wait(Duration::from_millis(1500))]);
        assert_eq!(p("<wait2h>"), vec![Wait(7200 * SEC)]);
        assert_eq!(
            p("<wait10us><wait10µs>"),
            vec![Wait(Duration::from_micros(10)); 2]
        );
        assert_eq!(
            p("<wait4m2ns>"),
            vec![Wait(Duration::from_nanos(240_000_000_002))]
        );
    }

    #[test]
    fn not_an_expression_is_literal() {
        for s in [
            "<",
            "<>",
            "<foo>",
            "<WAIT>",
            "<wait5x>",
            "<wait05s>",
            "<wait1s5>",
            "<wait-5>",
            "<f13>",
            "<enter",
            "<wait",
            "<leftShiftOnn>",
            "a<b",
        ] {
            assert_eq!(p(s), press(s), "{s}");
        }
        let mut want = press("a");
        want.push(KeyPress(0xFF0D));
        want.extend(press("<"));
        assert_eq!(p("a<enter><"), want);
    }

    #[test]
    fn packer_mixed_example() {
        let mut want = vec![Wait(SEC), Wait(20 * SEC), Wait(3 * SEC)];
        want.extend(press("foo/bar > one "));
        want.extend([
            KeyPress(0xFFC0),
            KeyPress(0xFFC9),
            KeyPress(0x20),
            KeyPress(0xFFE9),
        ]);
        assert_eq!(
            p("<wait><wait20><wait3s>foo/bar > one <f3><f12><spacebar><leftalt>"),
            want
        );
    }

    #[test]
    fn errors_carry_the_column() {
        let e = parse("ab<wait-1m>").unwrap_err();
        assert_eq!(e.column, 3);
        assert!(
            e.message.contains("positive wait value, got -1m0s"),
            "{}",
            e.message
        );
        let e = parse("<wait0>").unwrap_err();
        assert_eq!((e.column, e.message.contains("got 0s")), (1, true));
        let e = parse("xyz<wait0s>").unwrap_err();
        assert_eq!(e.column, 4);
        let e = parse("<wait1m-30s>").unwrap_err();
        assert!(
            e.message.contains("in duration \"1m-30s\""),
            "{}",
            e.message
        );
        let e = parse("é<wait99999999999h>").unwrap_err();
        assert_eq!(e.column, 2);
        assert!(e.message.contains("invalid duration"), "{}", e.message);
        let e = parse("<wait99999999999999999999999>").unwrap_err();
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = parse("<wait9999999999>").unwrap_err();
        assert!(e.message.contains("too long"), "{}", e.message);
        assert_eq!(e.to_string(), format!("column 1: {}", e.message));
    }

    #[test]
    fn validate_names_the_entry() {
        let cmds: Vec<String> = [
            "<esc><wait>",
            "linux <wait-2s>",
            "<enter>",
            "<wait0><wait1m-1s>",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let errs = validate(&cmds);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0]
                .starts_with("boot_command[1]: column 7: expecting a positive wait value, got -2s"),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].starts_with("boot_command[3]: column 1: "),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].starts_with(
                "boot_command[3]: column 8: time: unknown unit \"m-\" in duration \"1m-1s\""
            ),
            "{}",
            errs[2]
        );
        assert!(validate(&["<wait5><enter>".into(), "{{ .HTTPIP }}".into()]).is_empty());
        // Entries are concatenated like Packer does, so an expression may span two of them.
        assert_eq!(p(&["<wa", "it5>"].concat()), vec![Wait(5 * SEC)]);
    }

    #[test]
    fn never_panics_on_short_inputs() {
        let alphabet: Vec<char> = "<>wait0-1.msµOnFf".chars().collect();
        let n = alphabet.len();
        for len in 1..=4u32 {
            for mut k in 0..n.pow(len) {
                let mut s = String::new();
                for _ in 0..len {
                    s.push(alphabet[k % n]);
                    k /= n;
                }
                let _ = parse(&s);
                let _ = validate(&[s.clone(), s]);
            }
        }
    }

    #[test]
    fn keysyms() {
        assert_eq!(keysym_for_char('a'), (0x61, false));
        assert_eq!(keysym_for_char('Z'), (0x5A, true));
        assert_eq!(keysym_for_char('0'), (0x30, false));
        assert_eq!(keysym_for_char(' '), (0x20, false));
        for c in SHIFTED_CHARS.chars() {
            assert_eq!(keysym_for_char(c), (c as u32, true), "{c}");
        }
        for c in "`-=[]\\;',./".chars() {
            assert_eq!(keysym_for_char(c), (c as u32, false), "{c}");
        }
        assert_eq!(keysym_for_char('É'), (0xC9, true));
        assert_eq!(special_keysym("PAGEup"), Some(0xFF55));
        assert_eq!(special_keysym("nope"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(-60_000_000_000), "-1m0s");
        assert_eq!(go_duration_string(90_000_000_000), "1m30s");
        assert_eq!(go_duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration_string(-250_000_000), "-250ms");
        assert_eq!(go_duration_string(1_500_000_000), "1.5s");
        assert_eq!(go_duration_string(1_500), "1.5µs");
        assert_eq!(parse_go_duration("1h2m3.5s"), Ok(3_723_500_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("3x").is_err());
    }

    #[test]
    fn key_interval_resolution() {
        let ms = Duration::from_millis;
        assert_eq!(key_interval_from(Duration::ZERO, None), ms(100));
        assert_eq!(key_interval_from(Duration::ZERO, Some("10ms")), ms(10));
        assert_eq!(key_interval_from(Duration::ZERO, Some("junk")), ms(100));
        assert_eq!(key_interval_from(ms(5), Some("10ms")), ms(5));
        assert_eq!(
            key_interval_from(Duration::ZERO, Some("-1s")),
            Duration::ZERO
        );
    }

    struct Recorder(Vec<(u32, bool)>);

    #[async_trait]
    impl KeyDriver for Recorder {
        async fn key(&mut self, keysym: u32, down: bool) -> Result<(), String> {
            self.0.push((keysym, down));
            Ok(())
        }
    }

    #[tokio::test]
    async fn typing_sends_events_in_order() {
        let mut r = Recorder(Vec::new());
        let actions = p("A<leftCtrlOn>c<leftCtrlOff>");
        let cancel = CancellationToken::new();
        type_actions(&mut r, &actions, Duration::ZERO, &cancel)
            .await
            .unwrap();
        assert_eq!(
            r.0,
            vec![
                (XK_SHIFT_L, true),
                (0x41, true),
                (0x41, false),
                (XK_SHIFT_L, false),
                (0xFFE3, true),
                (0x63, true),
                (0x63, false),
                (0xFFE3, false),
            ]
        );
    }

    #[tokio::test]
    async fn waits_are_cancellable() {
        let mut r = Recorder(Vec::new());
        let actions = p("a<wait1h>b");
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c2.cancel();
        });
        let t = std::time::Instant::now();
        let err = type_actions(&mut r, &actions, Duration::ZERO, &cancel)
            .await
            .unwrap_err();
        assert!(err.contains("cancelled"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(r.0, vec![(0x61, true), (0x61, false)]);
        // The per-key interval is cancellable too.
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut r = Recorder(Vec::new());
        assert!(
            type_actions(&mut r, &p("x"), Duration::from_secs(3600), &cancel)
                .await
                .is_err()
        );
    }
}
