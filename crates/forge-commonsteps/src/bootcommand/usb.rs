//! Keys as USB HID usages of the keyboard page (0x07), as vSphere's `PutUsbScanCodes` takes
//! them. Characters map to their key on a US layout; shift is typed as its own key, so a
//! platform driver that sends modifier flags with each usage derives them from the held
//! modifier keys ([`is_modifier`]).
//!
//! [`UsbSender`] hands each key event to a [`UsbSink`], pausing the key interval after it.

use std::time::Duration;

use async_trait::async_trait;

use super::{Key, KeySender};

/// The HID usage (keyboard page) of a key; `None` for a character no key of a US layout types.
/// The Apple keys are on the keys in their place: command is GUI, option is alt.
pub fn usage(key: Key) -> Option<u8> {
    Some(match key {
        Key::Char(c) => return char_usage(c),
        Key::Enter => 0x28,
        Key::Escape => 0x29,
        Key::Backspace => 0x2a,
        Key::Tab => 0x2b,
        Key::Space => 0x2c,
        Key::F(n @ 1..=12) => 0x39 + n,
        Key::F(_) => return None,
        Key::Insert => 0x49,
        Key::Home => 0x4a,
        Key::PageUp => 0x4b,
        Key::Delete => 0x4c,
        Key::End => 0x4d,
        Key::PageDown => 0x4e,
        Key::Right => 0x4f,
        Key::Left => 0x50,
        Key::Down => 0x51,
        Key::Up => 0x52,
        Key::Menu => 0x65,
        Key::LeftCtrl => 0xe0,
        Key::LeftShift => 0xe1,
        Key::LeftAlt | Key::LeftOption => 0xe2,
        Key::LeftSuper | Key::LeftCommand => 0xe3,
        Key::RightCtrl => 0xe4,
        Key::RightShift => 0xe5,
        Key::RightAlt | Key::RightOption => 0xe6,
        Key::RightSuper | Key::RightCommand => 0xe7,
    })
}

/// Whether a usage is one of the eight modifier keys (0xe0 to 0xe7).
pub fn is_modifier(usage: u8) -> bool {
    (0xe0..=0xe7).contains(&usage)
}

/// The usage of the key typing `c` on a US layout (shifted or not).
fn char_usage(c: char) -> Option<u8> {
    // Runs of keys with consecutive usages, unshifted and shifted, from the first one's usage.
    const KEYS: &[(&str, &str, u8)] = &[
        (
            "abcdefghijklmnopqrstuvwxyz",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            0x04,
        ),
        ("1234567890", "!@#$%^&*()", 0x1e),
        ("\n", "", 0x28),
        ("\t ", "", 0x2b),
        ("-=[]\\", "_+{}|", 0x2d),
        (";'`,./", ":\"~<>?", 0x33),
    ];
    KEYS.iter().find_map(|&(lower, upper, first)| {
        let at = lower.chars().position(|l| l == c);
        let at = at.or_else(|| upper.chars().position(|u| u == c))?;
        Some(first + at as u8)
    })
}

/// One key typed through a USB keyboard interface such as vSphere's `PutUsbScanCodes`: the
/// key's HID usage with the left modifiers sent along (Packer's USB driver sends only these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keystroke {
    /// The HID usage (keyboard page).
    pub usage: u8,
    /// Left control.
    pub ctrl: bool,
    /// Left alt.
    pub alt: bool,
    /// Left shift.
    pub shift: bool,
}

impl Keystroke {
    /// vSphere's `usbHidCode`: the usage in the upper 16 bits, then the keyboard page (7).
    pub fn hid_code(&self) -> i32 {
        (i32::from(self.usage) << 16) | 7
    }
}

/// Where a [`UsbSender`] delivers keystrokes.
#[async_trait]
pub trait UsbSink: Send {
    /// Types one keystroke.
    async fn send(&mut self, k: Keystroke) -> Result<(), String>;
}

/// Types keys as Packer's USB driver does, one keystroke per key event, pausing `interval`
/// after each: a character is one keystroke (with shift for upper-case letters and shifted
/// characters), a special key one keystroke per press, `On` and `Off`; the left control, alt
/// and shift keys stay held from their `On` to their `Off` and go along with every keystroke
/// in between (and an `On` keystroke carries shift, as in Packer).
///
/// The parser types a shifted character as left shift down, the character, left shift up;
/// Packer's driver sends the character alone, with shift. So a left shift press is held back
/// until the next event shows whether it is the parser's own.
pub struct UsbSender<S> {
    sink: S,
    interval: Duration,
    ctrl: bool,
    alt: bool,
    shift: bool,
    /// A left shift press held back.
    pending_shift: bool,
    /// Shifted characters that took a held-back shift: their shift releases are not sent.
    auto_shift: u32,
}

impl<S: UsbSink> UsbSender<S> {
    /// A sender typing into `sink`, pausing `interval` after each keystroke.
    pub fn new(sink: S, interval: Duration) -> Self {
        UsbSender {
            sink,
            interval,
            ctrl: false,
            alt: false,
            shift: false,
            pending_shift: false,
            auto_shift: 0,
        }
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Packer's `(code, down)` event: tracks the left modifiers, then types the keystroke.
    async fn event(&mut self, usage: u8, down: bool) -> Result<(), String> {
        match usage {
            0xe0 => self.ctrl = down,
            0xe1 => self.shift = down,
            0xe2 => self.alt = down,
            _ => {}
        }
        let k = Keystroke {
            usage,
            ctrl: self.ctrl,
            alt: self.alt,
            shift: down || self.shift,
        };
        self.sink.send(k).await?;
        if !self.interval.is_zero() {
            tokio::time::sleep(self.interval).await;
        }
        Ok(())
    }

    /// Sends a held-back shift press.
    async fn release_pending(&mut self) -> Result<(), String> {
        if std::mem::take(&mut self.pending_shift) {
            self.event(0xe1, true).await?;
        }
        Ok(())
    }

    /// A key event: `down` is `Some` for a key's `On`/`Off`, `None` for a press.
    async fn key(&mut self, key: Key, down: Option<bool>) -> Result<(), String> {
        let u = usage(key).ok_or_else(|| match key {
            Key::Char(c) => format!("{c:?} cannot be typed as a USB key (US layout)"),
            k => format!("{k:?} has no USB HID usage"),
        })?;
        if let Key::Char(c) = key {
            let shifted = super::needs_shift(c);
            if shifted && self.pending_shift && down != Some(false) {
                self.pending_shift = false;
                self.auto_shift += 1;
            } else {
                self.release_pending().await?;
            }
            return self.event(u, shifted).await;
        }
        if key == Key::LeftShift {
            match down {
                Some(true) => {
                    self.release_pending().await?;
                    self.pending_shift = true;
                    return Ok(());
                }
                Some(false) if !self.pending_shift && self.auto_shift > 0 => {
                    self.auto_shift -= 1;
                    return Ok(());
                }
                _ => {}
            }
        }
        self.release_pending().await?;
        self.event(u, down == Some(true)).await
    }
}

#[async_trait]
impl<S: UsbSink> KeySender for UsbSender<S> {
    async fn key_down(&mut self, key: Key) -> Result<(), String> {
        self.key(key, Some(true)).await
    }
    async fn key_up(&mut self, key: Key) -> Result<(), String> {
        self.key(key, Some(false)).await
    }
    async fn press(&mut self, key: Key) -> Result<(), String> {
        self.key(key, None).await
    }
    async fn flush(&mut self) -> Result<(), String> {
        self.release_pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootcommand::{parse, type_actions, SPECIAL_KEYS};
    use tokio_util::sync::CancellationToken;

    #[test]
    fn characters() {
        let u = |c| usage(Key::Char(c)).unwrap();
        assert_eq!((u('a'), u('z'), u('A'), u('Z')), (0x04, 0x1d, 0x04, 0x1d));
        assert_eq!((u('1'), u('9'), u('0')), (0x1e, 0x26, 0x27));
        for (i, c) in "!@#$%^&*()".chars().enumerate() {
            assert_eq!(u(c), 0x1e + i as u8, "{c}");
        }
        for (i, c) in "-=[]\\".chars().zip("_+{}|".chars()).enumerate() {
            assert_eq!((u(c.0), u(c.1)), (0x2d + i as u8, 0x2d + i as u8), "{c:?}");
        }
        for (i, c) in ";'`,./".chars().zip(":\"~<>?".chars()).enumerate() {
            assert_eq!((u(c.0), u(c.1)), (0x33 + i as u8, 0x33 + i as u8), "{c:?}");
        }
        assert_eq!((u(' '), u('\n'), u('\t')), (0x2c, 0x28, 0x2b));
        assert_eq!(usage(Key::Char('é')), None);
    }

    #[test]
    fn special_keys() {
        for &(name, key) in SPECIAL_KEYS {
            assert!(usage(key).is_some(), "{name}");
        }
        let u = |k| usage(k).unwrap();
        assert_eq!((u(Key::F(1)), u(Key::F(12))), (0x3a, 0x45));
        assert_eq!(
            (u(Key::Enter), u(Key::Escape), u(Key::Backspace)),
            (0x28, 0x29, 0x2a)
        );
        assert_eq!(
            (u(Key::Up), u(Key::Down), u(Key::Left), u(Key::Right)),
            (0x52, 0x51, 0x50, 0x4f)
        );
        assert_eq!((u(Key::LeftCommand), u(Key::RightOption)), (0xe3, 0xe6));
        assert!(is_modifier(u(Key::LeftShift)) && !is_modifier(u(Key::Menu)));
        assert_eq!(usage(Key::F(13)), None);
    }

    #[derive(Default)]
    struct Sink(Vec<String>);

    #[async_trait]
    impl UsbSink for Sink {
        async fn send(&mut self, k: Keystroke) -> Result<(), String> {
            let m: String = [(k.ctrl, 'C'), (k.alt, 'A'), (k.shift, 'S')]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| *c)
                .collect();
            self.0.push(format!("{:02x}{m}", k.usage));
            Ok(())
        }
    }

    async fn typed(command: &str) -> Result<Vec<String>, String> {
        let mut s = UsbSender::new(Sink::default(), Duration::ZERO);
        let actions = parse(command).unwrap();
        type_actions(&mut s, &actions, &CancellationToken::new()).await?;
        Ok(s.sink.0)
    }

    /// One keystroke per character or special key event, modifiers as Packer's USB driver
    /// sends them (each expectation is what packer 1.6.6 sends for the same command).
    #[tokio::test]
    async fn typing_sends_packers_keystrokes() {
        let t = |c: &'static str| async move { typed(c).await.unwrap().join(" ") };
        assert_eq!(t("aA?1").await, "04 04S 38S 1e");
        assert_eq!(t("<enter><f12>").await, "28 45");
        assert_eq!(t("<leftCtrlOn>c<leftCtrlOff>").await, "e0CS 06C e0");
        assert_eq!(
            t("<leftShiftOn>aB<leftShiftOff>b").await,
            "e1S 04S 05S e1 05"
        );
        assert_eq!(t("<leftAltOn><f2><leftAltOff>").await, "e2AS 3bA e2");
        assert_eq!(t("<leftShiftOn><leftShiftOff>").await, "e1S e1");
        // A held-back shift is sent before a wait and at the end.
        assert_eq!(t("<leftShiftOn><wait1ms>").await, "e1S");
        assert_eq!(t("<AOn><AOff>").await, "04S 04S");
        assert_eq!(t("<rightShiftOn>a<rightShiftOff>").await, "e5S 04 e5");
        let e = typed("aé").await.unwrap_err();
        assert_eq!(e, "'é' cannot be typed as a USB key (US layout)");
    }

    #[test]
    fn hid_codes_carry_the_keyboard_page() {
        let k = Keystroke {
            usage: 0x28,
            ctrl: false,
            alt: false,
            shift: false,
        };
        assert_eq!(k.hid_code(), 0x0028_0007);
    }
}
