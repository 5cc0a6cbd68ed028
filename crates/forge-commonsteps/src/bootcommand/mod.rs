//! Packer's boot command language: parsing (with the exact grammar of Packer's
//! `bootcommand/boot_command.pigeon`), validation at `forge validate` time, and typing the
//! parsed actions through a [`KeySender`]: the same [`Action`]s drive VNC ([`vnc`]: qemu,
//! vmware), PC scancodes ([`pc_xt`]: VirtualBox, Hyper-V) and USB HID usages ([`usb`]: vSphere).
//!
//! Grammar summary, as Packer has it:
//! - `<wait>` is 1s, `<waitN>` N seconds, `<waitDUR>` a Go duration (`<wait1m30s>`,
//!   `<wait250ms>`); the word `wait` and the units are case-sensitive; a wait must be positive.
//! - `<name>`, `<nameOn>`, `<nameOff>` for the special keys in [`SPECIAL_KEYS`]; names and
//!   `On`/`Off` are case-insensitive.
//! - `<cOn>`/`<cOff>` hold or release a single literal character `c`.
//! - Anything else is typed literally, including a `<` that starts none of the above.
//!
//! The entries of `boot_command` are concatenated before parsing, as Packer does. Upper-case
//! letters and [`SHIFTED_CHARS`] are typed with left shift held, as separate actions, so a
//! sender maps a character to its key on a US layout and never adds shift itself.

pub mod pc_xt;
pub mod usb;
pub mod vnc;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use forge_template::gocompat::duration::{
    format as go_duration_string, parse as parse_go_duration,
};
use tokio_util::sync::CancellationToken;

/// Packer's default delay after every key event.
pub const DEFAULT_KEY_INTERVAL: Duration = Duration::from_millis(100);
/// Environment variable overriding [`DEFAULT_KEY_INTERVAL`] (a Go duration), as in Packer.
pub const KEY_INTERVAL_ENV: &str = "PACKER_KEY_INTERVAL";

/// Characters typed with shift held besides upper-case letters (Packer's list, US layout).
pub const SHIFTED_CHARS: &str = "~!@#$%^&*()_+{}|:\"<>?";

/// A key the boot command presses or releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A literal character: the key that types it on a US layout (shift is a separate key).
    Char(char),
    /// `<bs>`.
    Backspace,
    /// `<del>`.
    Delete,
    /// `<enter>` and `<return>`.
    Enter,
    /// `<esc>`.
    Escape,
    /// `<tab>`.
    Tab,
    /// `<spacebar>`.
    Space,
    /// `<f1>` to `<f12>`.
    F(u8),
    /// `<up>`.
    Up,
    /// `<down>`.
    Down,
    /// `<left>`.
    Left,
    /// `<right>`.
    Right,
    /// `<insert>`.
    Insert,
    /// `<home>`.
    Home,
    /// `<end>`.
    End,
    /// `<pageUp>`.
    PageUp,
    /// `<pageDown>`.
    PageDown,
    /// `<menu>`.
    Menu,
    /// `<leftAlt>`.
    LeftAlt,
    /// `<leftCtrl>`.
    LeftCtrl,
    /// `<leftShift>`, also held for shifted characters.
    LeftShift,
    /// `<leftSuper>`.
    LeftSuper,
    /// `<rightAlt>`.
    RightAlt,
    /// `<rightCtrl>`.
    RightCtrl,
    /// `<rightShift>`.
    RightShift,
    /// `<rightSuper>`.
    RightSuper,
    /// `<leftCommand>` (Apple keyboards).
    LeftCommand,
    /// `<rightCommand>` (Apple keyboards).
    RightCommand,
    /// `<leftOption>` (Apple keyboards).
    LeftOption,
    /// `<rightOption>` (Apple keyboards).
    RightOption,
}

/// Special key names in the grammar's order of precedence. `left`/`right` come last so
/// `leftAlt` etc. win.
pub const SPECIAL_KEYS: &[(&str, Key)] = &[
    ("bs", Key::Backspace),
    ("del", Key::Delete),
    ("enter", Key::Enter),
    ("esc", Key::Escape),
    ("f10", Key::F(10)),
    ("f11", Key::F(11)),
    ("f12", Key::F(12)),
    ("f1", Key::F(1)),
    ("f2", Key::F(2)),
    ("f3", Key::F(3)),
    ("f4", Key::F(4)),
    ("f5", Key::F(5)),
    ("f6", Key::F(6)),
    ("f7", Key::F(7)),
    ("f8", Key::F(8)),
    ("f9", Key::F(9)),
    ("return", Key::Enter),
    ("tab", Key::Tab),
    ("up", Key::Up),
    ("down", Key::Down),
    ("spacebar", Key::Space),
    ("insert", Key::Insert),
    ("home", Key::Home),
    ("end", Key::End),
    ("pageUp", Key::PageUp),
    ("pageDown", Key::PageDown),
    ("leftAlt", Key::LeftAlt),
    ("leftCtrl", Key::LeftCtrl),
    ("leftShift", Key::LeftShift),
    ("rightAlt", Key::RightAlt),
    ("rightCtrl", Key::RightCtrl),
    ("rightShift", Key::RightShift),
    ("leftSuper", Key::LeftSuper),
    ("rightSuper", Key::RightSuper),
    ("leftCommand", Key::LeftCommand),
    ("rightCommand", Key::RightCommand),
    ("leftOption", Key::LeftOption),
    ("rightOption", Key::RightOption),
    ("left", Key::Left),
    ("right", Key::Right),
    ("menu", Key::Menu),
];

/// One step of a parsed boot command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Press and release the key.
    KeyPress(Key),
    /// Press the key and hold it.
    KeyDown(Key),
    /// Release the key.
    KeyUp(Key),
    /// Pause typing.
    Wait(Duration),
}

/// A boot command syntax error; `column` counts characters from 1 in the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootCommandError {
    /// Where the error is, in characters from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for BootCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for BootCommandError {}

/// Something that presses and releases keys in a machine: a VNC connection, a hypervisor's
/// scancode or USB HID interface, a recorder in tests. A sender paces its own events (the key
/// interval); [`type_actions`] drives it and stops it when the build is cancelled.
#[async_trait]
pub trait KeySender: Send {
    /// Presses `key` and holds it.
    async fn key_down(&mut self, key: Key) -> Result<(), String>;
    /// Releases `key`.
    async fn key_up(&mut self, key: Key) -> Result<(), String>;
    /// Presses and releases `key`; by default [`key_down`](Self::key_down) then
    /// [`key_up`](Self::key_up).
    async fn press(&mut self, key: Key) -> Result<(), String> {
        self.key_down(key).await?;
        self.key_up(key).await
    }
    /// A `<wait>`: sends what is buffered ([`flush`](Self::flush)), then pauses for `d`.
    async fn wait(&mut self, d: Duration) -> Result<(), String> {
        self.flush().await?;
        tokio::time::sleep(d).await;
        Ok(())
    }
    /// Sends what a buffering sender still holds; called before waits and after the last
    /// action. Nothing to do by default.
    async fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// The special key of a name (case-insensitive, without `<>`).
pub fn special_key(name: &str) -> Option<Key> {
    SPECIAL_KEYS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, k)| k)
}

/// Whether Packer types `c` with left shift held: upper-case letters and [`SHIFTED_CHARS`].
pub fn needs_shift(c: char) -> bool {
    c.is_uppercase() || SHIFTED_CHARS.contains(c)
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
        let (k, shift) = (Key::Char(c), needs_shift(c));
        let a = &mut self.actions;
        match mode {
            Mode::Press => {
                if shift {
                    a.push(Action::KeyDown(Key::LeftShift));
                }
                a.push(Action::KeyPress(k));
                if shift {
                    a.push(Action::KeyUp(Key::LeftShift));
                }
            }
            Mode::On => {
                if shift {
                    a.push(Action::KeyDown(Key::LeftShift));
                }
                a.push(Action::KeyDown(k));
            }
            Mode::Off => {
                a.push(Action::KeyUp(k));
                if shift {
                    a.push(Action::KeyUp(Key::LeftShift));
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
        let (j, key) = SPECIAL_KEYS
            .iter()
            .find_map(|&(name, k)| self.word_ci(i + 1, name).map(|j| (j, k)))?;
        let (j, mode) = self.toggle(j).unwrap_or((j, Mode::Press));
        self.word(j, ">")?;
        self.actions.push(match mode {
            Mode::Press => Action::KeyPress(key),
            Mode::On => Action::KeyDown(key),
            Mode::Off => Action::KeyUp(key),
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

fn cancelled() -> String {
    "typing the boot command was cancelled".into()
}

/// Types parsed actions through `sender`, then flushes it; every key event and wait stops
/// early with an error when `cancel` fires.
pub async fn type_actions(
    sender: &mut dyn KeySender,
    actions: &[Action],
    cancel: &CancellationToken,
) -> Result<(), String> {
    for action in actions {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let sent = match *action {
            Action::KeyPress(k) => sender.press(k),
            Action::KeyDown(k) => sender.key_down(k),
            Action::KeyUp(k) => sender.key_up(k),
            Action::Wait(d) => sender.wait(d),
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(cancelled()),
            r = sent => r?,
        }
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(cancelled()),
        r = sender.flush() => r,
    }
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
            let shift = needs_shift(c);
            if shift {
                v.push(KeyDown(Key::LeftShift));
            }
            v.push(KeyPress(Key::Char(c)));
            if shift {
                v.push(KeyUp(Key::LeftShift));
            }
        }
        v
    }

    #[test]
    fn plain_characters() {
        assert_eq!(
            p("ab 1"),
            "ab 1"
                .chars()
                .map(|c| KeyPress(Key::Char(c)))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            p("A"),
            vec![
                KeyDown(Key::LeftShift),
                KeyPress(Key::Char('A')),
                KeyUp(Key::LeftShift)
            ]
        );
        assert_eq!(p(""), vec![]);
        assert_eq!(p("é"), vec![KeyPress(Key::Char('é'))]);
        assert_eq!(p("界"), vec![KeyPress(Key::Char('界'))]);
    }

    #[test]
    fn every_special_key() {
        use Key::*;
        let expected: &[(&str, Key)] = &[
            ("bs", Backspace),
            ("del", Delete),
            ("enter", Enter),
            ("return", Enter),
            ("esc", Escape),
            ("tab", Tab),
            ("f1", F(1)),
            ("f2", F(2)),
            ("f3", F(3)),
            ("f4", F(4)),
            ("f5", F(5)),
            ("f6", F(6)),
            ("f7", F(7)),
            ("f8", F(8)),
            ("f9", F(9)),
            ("f10", F(10)),
            ("f11", F(11)),
            ("f12", F(12)),
            ("up", Up),
            ("down", Down),
            ("left", Left),
            ("right", Right),
            ("spacebar", Space),
            ("insert", Insert),
            ("home", Home),
            ("end", End),
            ("pageUp", PageUp),
            ("pageDown", PageDown),
            ("menu", Menu),
            ("leftAlt", LeftAlt),
            ("leftCtrl", LeftCtrl),
            ("leftShift", LeftShift),
            ("leftSuper", LeftSuper),
            ("rightAlt", RightAlt),
            ("rightCtrl", RightCtrl),
            ("rightShift", RightShift),
            ("rightSuper", RightSuper),
            ("leftCommand", LeftCommand),
            ("rightCommand", RightCommand),
            ("leftOption", LeftOption),
            ("rightOption", RightOption),
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
        let (shift, a) = (Key::LeftShift, Key::Char('a'));
        assert_eq!(
            p("<leftShiftOn>a<leftShiftOff>"),
            vec![KeyDown(shift), KeyPress(a), KeyUp(shift)]
        );
        assert_eq!(p("<aOn><aoff>"), vec![KeyDown(a), KeyUp(a)]);
        // A shifted literal toggle holds shift until released.
        assert_eq!(
            p("<AOn><AOff>"),
            vec![
                KeyDown(shift),
                KeyDown(Key::Char('A')),
                KeyUp(Key::Char('A')),
                KeyUp(shift)
            ]
        );
        assert_eq!(p("<<on>"), vec![KeyDown(shift), KeyDown(Key::Char('<'))]);
        // Packer's own test: `<fon> b<fOff>`.
        let mut want = vec![KeyDown(Key::Char('f'))];
        want.extend(press(" b"));
        want.push(KeyUp(Key::Char('f')));
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
        want.push(KeyPress(Key::Enter));
        want.extend(press("<"));
        assert_eq!(p("a<enter><"), want);
    }

    #[test]
    fn packer_mixed_example() {
        let mut want = vec![Wait(SEC), Wait(20 * SEC), Wait(3 * SEC)];
        want.extend(press("foo/bar > one "));
        want.extend([
            KeyPress(Key::F(3)),
            KeyPress(Key::F(12)),
            KeyPress(Key::Space),
            KeyPress(Key::LeftAlt),
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
    fn shifted_characters_and_names() {
        for c in "aZ0 `-=[]\\;',./é".chars() {
            assert_eq!(needs_shift(c), c.is_uppercase(), "{c}");
        }
        for c in SHIFTED_CHARS.chars().chain("AZÉ".chars()) {
            assert!(needs_shift(c), "{c}");
        }
        assert_eq!(special_key("PAGEup"), Some(Key::PageUp));
        assert_eq!(special_key("Return"), Some(Key::Enter));
        assert_eq!(special_key("nope"), None);
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

    /// What a [`Recorder`] was asked to do.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Event {
        Down(Key),
        Up(Key),
        Wait(Duration),
        Flush,
    }

    /// A fake sender recording every call; each key event takes `delay`.
    #[derive(Default)]
    pub(crate) struct Recorder {
        pub(crate) events: Vec<Event>,
        pub(crate) delay: Duration,
    }

    #[async_trait]
    impl KeySender for Recorder {
        async fn key_down(&mut self, key: Key) -> Result<(), String> {
            tokio::time::sleep(self.delay).await;
            self.events.push(Event::Down(key));
            Ok(())
        }
        async fn key_up(&mut self, key: Key) -> Result<(), String> {
            tokio::time::sleep(self.delay).await;
            self.events.push(Event::Up(key));
            Ok(())
        }
        async fn wait(&mut self, d: Duration) -> Result<(), String> {
            self.events.push(Event::Wait(d));
            Ok(())
        }
        async fn flush(&mut self) -> Result<(), String> {
            self.events.push(Event::Flush);
            Ok(())
        }
    }

    #[tokio::test]
    async fn typing_sends_events_in_order() {
        use Event::*;
        let mut r = Recorder::default();
        let actions = p("A<leftCtrlOn>c<leftCtrlOff><wait250ms><f1>");
        let cancel = CancellationToken::new();
        type_actions(&mut r, &actions, &cancel).await.unwrap();
        let (shift, ctrl) = (Key::LeftShift, Key::LeftCtrl);
        assert_eq!(
            r.events,
            vec![
                Down(shift),
                Down(Key::Char('A')),
                Up(Key::Char('A')),
                Up(shift),
                Down(ctrl),
                Down(Key::Char('c')),
                Up(Key::Char('c')),
                Up(ctrl),
                Wait(Duration::from_millis(250)),
                Down(Key::F(1)),
                Up(Key::F(1)),
                Flush,
            ]
        );
    }

    #[tokio::test]
    async fn waits_are_cancellable() {
        let mut r = Recorder::default();
        let actions = p("a<wait1h>b");
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c2.cancel();
        });
        // The default wait sleeps.
        struct Sleeper(Recorder);
        #[async_trait]
        impl KeySender for Sleeper {
            async fn key_down(&mut self, key: Key) -> Result<(), String> {
                self.0.key_down(key).await
            }
            async fn key_up(&mut self, key: Key) -> Result<(), String> {
                self.0.key_up(key).await
            }
        }
        let mut s = Sleeper(Recorder::default());
        let t = std::time::Instant::now();
        let err = type_actions(&mut s, &actions, &cancel).await.unwrap_err();
        assert!(err.contains("cancelled"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
        use Event::*;
        assert_eq!(s.0.events, vec![Down(Key::Char('a')), Up(Key::Char('a'))]);
        // A slow key event is cancellable too.
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c2.cancel();
        });
        r.delay = Duration::from_secs(3600);
        let t = std::time::Instant::now();
        assert!(type_actions(&mut r, &p("x"), &cancel).await.is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(r.events.is_empty());
    }

    #[tokio::test]
    async fn one_command_every_sender() {
        use Event::*;
        let mut r = Recorder::default();
        type_actions(&mut r, &p("Hi!<enter>"), &CancellationToken::new())
            .await
            .unwrap();
        let events = |f: &dyn Fn(Key, bool) -> Vec<u32>| -> Vec<u32> {
            r.events
                .iter()
                .flat_map(|e| match *e {
                    Down(k) => f(k, true),
                    Up(k) => f(k, false),
                    _ => Vec::new(),
                })
                .collect()
        };
        // VNC: keysyms, the high bit marking a release.
        let up = 0x8000_0000;
        assert_eq!(
            events(&|k, down| vec![vnc::keysym(k) | if down { 0 } else { up }]),
            [
                0xFFE1,
                0x48,
                0x48 | up,
                0xFFE1 | up,
                0x69,
                0x69 | up,
                0xFFE1,
                0x21,
                0x21 | up,
                0xFFE1 | up,
                0xFF0D,
                0xFF0D | up
            ]
        );
        // PC scancodes: make and break codes.
        assert_eq!(
            events(&|k, down| pc_xt::codes(k, down)
                .unwrap()
                .into_iter()
                .map(u32::from)
                .collect()),
            [0x2a, 0x23, 0xa3, 0xaa, 0x17, 0x97, 0x2a, 0x02, 0x82, 0xaa, 0x1c, 0x9c]
        );
        // USB HID usages, 0x100 marking a release.
        assert_eq!(
            events(&|k, down| vec![
                u32::from(usb::usage(k).unwrap()) | if down { 0 } else { 0x100 }
            ]),
            [0xe1, 0x0b, 0x10b, 0x1e1, 0x0c, 0x10c, 0xe1, 0x1e, 0x11e, 0x1e1, 0x28, 0x128]
        );
    }
}
