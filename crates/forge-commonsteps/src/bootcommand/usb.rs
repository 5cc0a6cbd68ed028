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

/// Where a [`UsbSender`] delivers key events.
#[async_trait]
pub trait UsbSink: Send {
    /// Presses (`down`) or releases the key of a HID usage.
    async fn send(&mut self, usage: u8, down: bool) -> Result<(), String>;
}

/// Types keys as USB HID usages, one event at a time, pausing `interval` after each.
pub struct UsbSender<S> {
    /// Where the events go.
    pub sink: S,
    /// The pause after each event.
    pub interval: Duration,
}

impl<S: UsbSink> UsbSender<S> {
    async fn event(&mut self, key: Key, down: bool) -> Result<(), String> {
        let u = usage(key).ok_or_else(|| match key {
            Key::Char(c) => format!("{c:?} cannot be typed as a USB key (US layout)"),
            k => format!("{k:?} has no USB HID usage"),
        })?;
        self.sink.send(u, down).await?;
        if !self.interval.is_zero() {
            tokio::time::sleep(self.interval).await;
        }
        Ok(())
    }
}

#[async_trait]
impl<S: UsbSink> KeySender for UsbSender<S> {
    async fn key_down(&mut self, key: Key) -> Result<(), String> {
        self.event(key, true).await
    }
    async fn key_up(&mut self, key: Key) -> Result<(), String> {
        self.event(key, false).await
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

    struct Sink(Vec<(u8, bool)>);

    #[async_trait]
    impl UsbSink for Sink {
        async fn send(&mut self, usage: u8, down: bool) -> Result<(), String> {
            self.0.push((usage, down));
            Ok(())
        }
    }

    #[tokio::test]
    async fn typing_sends_usages() {
        let mut s = UsbSender {
            sink: Sink(Vec::new()),
            interval: Duration::ZERO,
        };
        let actions = parse("a?<leftCtrlOn>c<leftCtrlOff>").unwrap();
        type_actions(&mut s, &actions, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            s.sink.0,
            vec![
                (0x04, true),
                (0x04, false),
                (0xe1, true),
                (0x38, true),
                (0x38, false),
                (0xe1, false),
                (0xe0, true),
                (0x06, true),
                (0x06, false),
                (0xe0, false),
            ]
        );
    }
}
