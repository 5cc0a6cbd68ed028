//! Keys as PC/XT scancodes (set 1), as VirtualBox's `keyboardputscancode` and Hyper-V's
//! keyboard take them: a key's make code when pressed, its break code (make code | 0x80) when
//! released, both after an `0xe0` prefix for the extended keys (arrows, the navigation block,
//! right ctrl and alt, the super and menu keys).
//!
//! [`PcXtSender`] buffers the codes of typed keys and hands them to a [`ScancodeSink`] in
//! chunks that never split a key's sequence, pausing the key interval after each chunk, as
//! Packer's PC-XT driver does; the platform provides the sink.

use std::time::Duration;

use async_trait::async_trait;

use super::{Key, KeySender};

/// The prefix of an extended key's codes.
pub const EXTENDED: u8 = 0xe0;

/// The set-1 make code of a key and whether it is extended (`0xe0`-prefixed); `None` for a
/// character no key of a US layout types. Characters map to their unshifted key (`A` and `a`
/// both to 0x1e); newline and tab type enter and tab. The Apple keys are the PC keys in their
/// place: command is super, option is alt.
pub fn make_code(key: Key) -> Option<(bool, u8)> {
    let plain = |c| Some((false, c));
    let ext = |c| Some((true, c));
    match key {
        Key::Char(c) => char_code(c).map(|c| (false, c)),
        Key::Escape => plain(0x01),
        Key::Backspace => plain(0x0e),
        Key::Tab => plain(0x0f),
        Key::Enter => plain(0x1c),
        Key::LeftCtrl => plain(0x1d),
        Key::LeftShift => plain(0x2a),
        Key::RightShift => plain(0x36),
        Key::LeftAlt | Key::LeftOption => plain(0x38),
        Key::Space => plain(0x39),
        Key::F(n @ 1..=10) => plain(0x3a + n),
        Key::F(11) => plain(0x57),
        Key::F(12) => plain(0x58),
        Key::F(_) => None,
        Key::RightCtrl => ext(0x1d),
        Key::RightAlt | Key::RightOption => ext(0x38),
        Key::Home => ext(0x47),
        Key::Up => ext(0x48),
        Key::PageUp => ext(0x49),
        Key::Left => ext(0x4b),
        Key::Right => ext(0x4d),
        Key::End => ext(0x4f),
        Key::Down => ext(0x50),
        Key::PageDown => ext(0x51),
        Key::Insert => ext(0x52),
        Key::Delete => ext(0x53),
        Key::LeftSuper | Key::LeftCommand => ext(0x5b),
        Key::RightSuper | Key::RightCommand => ext(0x5c),
        Key::Menu => ext(0x5d),
    }
}

/// The make code of the key typing `c` on a US layout (shifted or not).
fn char_code(c: char) -> Option<u8> {
    // Each row of the main block, unshifted and shifted, from its first key's code.
    const ROWS: &[(&str, &str, u8)] = &[
        ("1234567890-=", "!@#$%^&*()_+", 0x02),
        ("qwertyuiop[]", "QWERTYUIOP{}", 0x10),
        ("asdfghjkl;'`", "ASDFGHJKL:\"~", 0x1e),
        ("\\zxcvbnm,./", "|ZXCVBNM<>?", 0x2b),
    ];
    match c {
        ' ' => return Some(0x39),
        '\n' => return Some(0x1c),
        '\t' => return Some(0x0f),
        _ => {}
    }
    ROWS.iter().find_map(|&(lower, upper, first)| {
        let at = lower.chars().position(|l| l == c);
        let at = at.or_else(|| upper.chars().position(|u| u == c))?;
        Some(first + at as u8)
    })
}

/// The codes sent when `key` goes down (`down`) or up.
pub fn codes(key: Key, down: bool) -> Option<Vec<u8>> {
    let (extended, make) = make_code(key)?;
    let code = if down { make } else { make | 0x80 };
    Some(if extended {
        vec![EXTENDED, code]
    } else {
        vec![code]
    })
}

fn unmapped(key: Key) -> String {
    match key {
        Key::Char(c) => format!("{c:?} cannot be typed as PC scancodes (US layout)"),
        k => format!("{k:?} has no PC scancode"),
    }
}

/// Where a [`PcXtSender`] delivers scancodes (VirtualBox: `VBoxManage controlvm <vm>
/// keyboardputscancode <hex>...`).
#[async_trait]
pub trait ScancodeSink: Send {
    /// Sends one chunk of codes to the machine.
    async fn send(&mut self, codes: &[u8]) -> Result<(), String>;
}

/// Types keys as PC scancodes: the codes are buffered and sent at waits and at the end, in
/// chunks of at most `chunk_size` codes (0: no limit) that keep each key's codes together.
pub struct PcXtSender<S> {
    /// Where the chunks go.
    pub sink: S,
    /// The most codes sent at once; 0 for no limit.
    pub chunk_size: usize,
    /// The pause after each chunk.
    pub interval: Duration,
    buffer: Vec<Vec<u8>>,
}

impl<S: ScancodeSink> PcXtSender<S> {
    /// A sender over `sink`.
    pub fn new(sink: S, chunk_size: usize, interval: Duration) -> Self {
        PcXtSender {
            sink,
            chunk_size,
            interval,
            buffer: Vec::new(),
        }
    }

    fn push(&mut self, key: Key, down: bool) -> Result<(), String> {
        self.buffer
            .push(codes(key, down).ok_or_else(|| unmapped(key))?);
        Ok(())
    }
}

/// Groups `events` (each one key's codes) into chunks of at most `size` codes without
/// splitting an event; `size` 0 puts everything in one chunk.
pub fn chunk(events: &[Vec<u8>], size: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut running: Vec<u8> = Vec::new();
    for e in events {
        if size > 0 && !running.is_empty() && running.len() + e.len() > size {
            out.push(std::mem::take(&mut running));
        }
        running.extend_from_slice(e);
    }
    if !running.is_empty() {
        out.push(running);
    }
    out
}

#[async_trait]
impl<S: ScancodeSink> KeySender for PcXtSender<S> {
    async fn key_down(&mut self, key: Key) -> Result<(), String> {
        self.push(key, true)
    }
    async fn key_up(&mut self, key: Key) -> Result<(), String> {
        self.push(key, false)
    }
    async fn flush(&mut self) -> Result<(), String> {
        let events = std::mem::take(&mut self.buffer);
        for c in chunk(&events, self.chunk_size) {
            self.sink.send(&c).await?;
            if !self.interval.is_zero() {
                tokio::time::sleep(self.interval).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootcommand::{parse, type_actions, SPECIAL_KEYS};
    use tokio_util::sync::CancellationToken;

    #[test]
    fn characters() {
        let ch = |c| make_code(Key::Char(c)).unwrap();
        for (s, first) in [
            ("1234567890-=", 0x02),
            ("qwertyuiop[]", 0x10),
            ("asdfghjkl;'`", 0x1e),
            ("\\zxcvbnm,./", 0x2b),
        ] {
            for (i, c) in s.chars().enumerate() {
                assert_eq!(ch(c), (false, first + i as u8), "{c}");
            }
        }
        // Shifted characters are on the same keys.
        for pair in "1! 2@ 0) -_ =+ qQ [{ ]} aA ;: '\" `~ \\| zZ ,< .> /?".split(' ') {
            let v: Vec<char> = pair.chars().collect();
            assert_eq!(ch(v[0]), ch(v[1]), "{pair}");
        }
        assert_eq!(ch(' '), (false, 0x39));
        assert_eq!(ch('\n'), (false, 0x1c));
        assert_eq!(ch('\t'), (false, 0x0f));
        assert_eq!(make_code(Key::Char('é')), None);
    }

    #[test]
    fn every_special_key_has_a_code() {
        for &(name, key) in SPECIAL_KEYS {
            assert!(make_code(key).is_some(), "{name}");
        }
        assert_eq!(codes(Key::Enter, true), Some(vec![0x1c]));
        assert_eq!(codes(Key::Enter, false), Some(vec![0x9c]));
        assert_eq!(codes(Key::Up, true), Some(vec![0xe0, 0x48]));
        assert_eq!(codes(Key::Up, false), Some(vec![0xe0, 0xc8]));
        assert_eq!(codes(Key::F(1), true), Some(vec![0x3b]));
        assert_eq!(codes(Key::F(10), false), Some(vec![0xc4]));
        assert_eq!(codes(Key::F(12), true), Some(vec![0x58]));
        assert_eq!(codes(Key::RightCtrl, false), Some(vec![0xe0, 0x9d]));
        assert_eq!(codes(Key::LeftSuper, true), Some(vec![0xe0, 0x5b]));
        assert_eq!(codes(Key::Menu, false), Some(vec![0xe0, 0xdd]));
        assert_eq!(codes(Key::Delete, true), Some(vec![0xe0, 0x53]));
        assert_eq!(codes(Key::F(13), true), None);
    }

    #[test]
    fn chunks_keep_keys_whole() {
        let ev = vec![vec![0x2a], vec![0xe0, 0x48], vec![0xe0, 0xc8], vec![0xaa]];
        assert_eq!(
            chunk(&ev, 0),
            vec![vec![0x2a, 0xe0, 0x48, 0xe0, 0xc8, 0xaa]]
        );
        assert_eq!(
            chunk(&ev, 3),
            vec![vec![0x2a, 0xe0, 0x48], vec![0xe0, 0xc8, 0xaa]]
        );
        assert_eq!(
            chunk(&ev, 2),
            vec![vec![0x2a], vec![0xe0, 0x48], vec![0xe0, 0xc8], vec![0xaa]]
        );
        assert!(chunk(&[], 4).is_empty());
    }

    struct Sink(Vec<Vec<u8>>);

    #[async_trait]
    impl ScancodeSink for Sink {
        async fn send(&mut self, codes: &[u8]) -> Result<(), String> {
            self.0.push(codes.to_vec());
            Ok(())
        }
    }

    #[tokio::test]
    async fn typing_buffers_until_waits() {
        let mut s = PcXtSender::new(Sink(Vec::new()), 4, Duration::ZERO);
        let actions = parse("aB<wait10ms><up>").unwrap();
        type_actions(&mut s, &actions, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            s.sink.0,
            vec![
                vec![0x1e, 0x9e, 0x2a, 0x30],
                vec![0xb0, 0xaa],
                vec![0xe0, 0x48, 0xe0, 0xc8]
            ]
        );
        let mut s = PcXtSender::new(Sink(Vec::new()), 0, Duration::ZERO);
        let e = type_actions(&mut s, &parse("é").unwrap(), &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(e.contains("cannot be typed as PC scancodes"), "{e}");
    }
}
