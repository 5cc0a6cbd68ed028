//! Display width of token text, counted in user-perceived characters (grapheme clusters) as
//! HCL does when it aligns `=` signs and trailing comments.
//!
//! This is a compact approximation of extended grapheme cluster segmentation: it joins
//! combining marks, variation selectors, emoji modifiers, zero-width joiner sequences,
//! regional-indicator pairs, Hangul syllable parts and `\r\n` into the preceding character.

/// Counts the grapheme clusters in `s`.
pub(crate) fn columns(s: &str) -> usize {
    if s.is_ascii() {
        // `\r\n` is a single cluster.
        return s.len() - s.matches("\r\n").count();
    }
    let mut count = 0;
    let mut prev: Option<char> = None;
    let mut regional_run = 0usize;
    for c in s.chars() {
        let joins = match prev {
            None => false,
            Some(p) => {
                (p == '\r' && c == '\n')
                    || is_extend(c)
                    || p == '\u{200d}' && is_pictographic(c)
                    || (is_regional(c) && is_regional(p) && regional_run % 2 == 1)
                    || hangul_joins(p, c)
            }
        };
        regional_run = if is_regional(c) { regional_run + 1 } else { 0 };
        if !joins {
            count += 1;
        }
        prev = Some(c);
    }
    count
}

fn is_extend(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F
        | 0x0483..=0x0489
        | 0x0591..=0x05BD
        | 0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x0900..=0x0903
        | 0x093A..=0x094F
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200C | 0x200D
        | 0x20D0..=0x20FF
        | 0x302A..=0x302F
        | 0x3099 | 0x309A
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF
        | 0xE0020..=0xE007F
        | 0xE0100..=0xE01EF)
}

fn is_pictographic(c: char) -> bool {
    matches!(c as u32, 0x2600..=0x27BF | 0x1F300..=0x1FAFF)
}

fn is_regional(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}

fn hangul_joins(p: char, c: char) -> bool {
    let (p, c) = (p as u32, c as u32);
    let lead = (0x1100..=0x115F).contains(&p);
    let vowel_or_syllable = (0x1160..=0x11A7).contains(&c) || (0xAC00..=0xD7A3).contains(&c);
    let trail = (0x11A8..=0x11FF).contains(&c);
    (lead && (vowel_or_syllable || (0x1100..=0x115F).contains(&c)))
        || (((0x1160..=0x11A7).contains(&p) || (0xAC00..=0xD7A3).contains(&p))
            && ((0x1160..=0x11A7).contains(&c) || trail))
}

#[cfg(test)]
mod tests {
    use super::columns;

    #[test]
    fn counts_clusters() {
        assert_eq!(columns("abc"), 3);
        assert_eq!(columns("a\r\nb"), 3);
        assert_eq!(columns("é"), 1);
        assert_eq!(columns("e\u{301}"), 1);
        assert_eq!(columns("日本"), 2);
        assert_eq!(columns("👍🏽"), 1);
        assert_eq!(columns("🇩🇪🇫🇷"), 2);
    }
}
