//! Canonical formatting of HCL native syntax, byte-for-byte identical to `packer fmt`.
//!
//! `packer fmt` parses a file to reject syntax errors and then rewrites only the blank space
//! between the file's tokens (`hclwrite.Format`). The same happens here, in three passes
//! over the lines of tokens:
//!
//! 1. indentation: two spaces per level of brackets left open by the lines before;
//! 2. spacing: the space between neighbouring tokens on a line follows fixed rules
//!    (`a = 1`, `f(x)`, `[1, 2]`, `a.b[0]`, `-x`, `!x`, `{ a = 1 }`, `{}`, …);
//! 3. alignment: the `=` of attribute lines that follow one another, and the comments that
//!    end lines that follow one another, are lined up in columns.
//!
//! The text of strings, heredocs and comments is never changed, nor is the order of
//! anything, nor the line breaks.

pub(crate) mod lexer;
mod width;

use std::fmt;

use lexer::{Kind, Token};

/// A file that cannot be formatted because it is not valid HCL native syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// What is wrong.
    pub message: String,
    /// The 1-based line of the error.
    pub line: usize,
    /// The 1-based column of the error.
    pub column: usize,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for FormatError {}

/// Formats HCL native syntax exactly as `packer fmt` (hclwrite.Format) does.
pub fn format_hcl(src: &str) -> Result<String, FormatError> {
    check_syntax(src)?;
    Ok(format_tokens(src))
}

/// Formats like `hclwrite.Format`, which never checks syntax: text that is not valid HCL is
/// still re-spaced token by token (`packer hcl2_upgrade` formats its output this way).
pub fn format_hcl_unchecked(src: &str) -> String {
    format_tokens(src)
}

/// Rejects what HCL's parser rejects, the way `packer fmt` refuses to format such a file.
///
/// HCL's parser accepts an object constructor that repeats a key (only evaluating it fails)
/// while hcl-edit's parser rejects it; such a key is renamed to a unique name of the same
/// length and the text parsed again.
fn check_syntax(src: &str) -> Result<(), FormatError> {
    use crate::syntax::dupkeys::{original_offset, repeated_object_keys, respell_repeated_keys};
    reject_namespaced_functions(src)?;
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut text = src.to_string();
    // Repeated keys, re-spelt all at once (offsets map back to `src` through them).
    let mut respelt = Vec::new();
    let mut renamed = 0usize;
    let mut reparses = crate::syntax::dupkeys::reparse_budget(text.len());
    loop {
        let err = match hcl_edit::parser::parse_body(&text) {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let offset = err.location().offset();
        let duplicate_key = err.message().contains("redefined object key");
        if duplicate_key && respelt.is_empty() && renamed == 0 {
            respelt = repeated_object_keys(&text);
            if !respelt.is_empty() {
                text = respell_repeated_keys(&text, &respelt);
                continue;
            }
        }
        // A repeat the scan did not see: rename that one (keeping the text's length) and parse
        // again, within a budget that keeps the time bounded by the text's size.
        if duplicate_key && reparses > 0 {
            if let Some(next) = rename_object_key(&text, offset, renamed) {
                text = next;
                renamed += 1;
                reparses -= 1;
                continue;
            }
        }
        let (line, column) = line_column(src, original_offset(&respelt, offset));
        return Err(FormatError {
            message: err.message().to_string(),
            line,
            column,
        });
    }
}

/// hcl-edit accepts provider functions (`provider::name::fn(…)`), which the HCL of Packer
/// 1.6.6 cannot parse: two colons in a row are never valid there.
fn reject_namespaced_functions(src: &str) -> Result<(), FormatError> {
    let tokens = lexer::lex(src);
    for pair in tokens.windows(2) {
        if pair[0].kind == Kind::Colon && pair[1].kind == Kind::Colon {
            let (line, column) = line_column(src, pair[1].start);
            return Err(FormatError {
                message: "invalid expression; unexpected \"::\"".to_string(),
                line,
                column,
            });
        }
    }
    Ok(())
}

/// The 1-based line and column (in characters) of byte `offset` of `src`; an offset inside a
/// character (the parser may report one) counts as that character's start.
fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A key name of `len` bytes, numbered `n`, that no HCL text is likely to use.
fn same_length_name(len: usize, n: usize) -> Option<String> {
    let name = if len == 1 {
        const CHARS: &[u8] = b"_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (CHARS[n % CHARS.len()] as char).to_string()
    } else {
        format!("_{:0>width$}", n, width = len.saturating_sub(1))
    };
    (name.len() == len && len > 0).then_some(name)
}

/// Replaces the identifier or plain quoted-string object key at byte `offset` of `text` by a
/// name, numbered `n`, that no HCL text is likely to use, keeping the text's length.
fn rename_object_key(text: &str, offset: usize, n: usize) -> Option<String> {
    let tokens = lexer::lex(text);
    let i = tokens.iter().position(|t| t.start == offset)?;
    let (start, end) = match tokens[i].kind {
        Kind::Ident => (tokens[i].start, tokens[i].end),
        Kind::OQuote
            if tokens.get(i + 1)?.kind == Kind::QuotedLit
                && tokens.get(i + 2)?.kind == Kind::CQuote =>
        {
            (tokens[i + 1].start, tokens[i + 1].end)
        }
        _ => return None,
    };
    let name = same_length_name(end - start, n)?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.push_str(&name);
    out.push_str(&text[end..]);
    Some(out)
}

/// The tokens of one line, split into up to three cells whose starts may be aligned with
/// those of neighbouring lines: `lead`, the `assign` cell from a line's `=` on, and a
/// trailing `comment`. Each cell is a range of token indexes.
#[derive(Debug, Default, Clone)]
struct Line {
    lead: (usize, usize),
    assign: Option<(usize, usize)>,
    comment: Option<usize>,
}

/// Formats the tokens of `src` without checking its syntax.
fn format_tokens(src: &str) -> String {
    let mut tokens = lexer::lex(src);
    let lines = split_lines(&tokens, src.as_bytes());
    indent(&mut tokens, &lines);
    space(src, &mut tokens, &lines);
    align(&mut tokens, &lines, src);

    let mut out = String::with_capacity(src.len() + src.len() / 8);
    for tok in &tokens {
        out.extend(std::iter::repeat_n(' ', tok.spaces_before));
        out.push_str(&src[tok.start..tok.end]);
    }
    out
}

/// Whether a token ends a line: a newline, or a `#`/`//` comment that took its newline.
fn ends_line(tok: &Token, src: &[u8]) -> bool {
    match tok.kind {
        Kind::Newline => true,
        Kind::Comment => tok.end > tok.start && src[tok.end - 1] == b'\n',
        _ => false,
    }
}

/// +1 for tokens that open a bracket, -1 for those that close one.
fn bracket_change(kind: Kind) -> i64 {
    match kind {
        Kind::OBrace
        | Kind::OBrack
        | Kind::OParen
        | Kind::TemplateControl
        | Kind::TemplateInterp => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
        _ => 0,
    }
}

fn split_lines_raw(tokens: &[Token], src: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, tok) in tokens.iter().enumerate() {
        if tok.kind == Kind::Eof {
            lines.push((start, i));
            return lines;
        }
        if ends_line(tok, src) {
            lines.push((start, i + 1));
            start = i + 1;
        }
    }
    lines.push((start, tokens.len()));
    lines
}

fn split_lines(tokens: &[Token], src: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    for (start, end) in split_lines_raw(tokens, src) {
        let mut line = Line {
            lead: (start, end),
            ..Line::default()
        };
        let (ls, mut le) = (start, end);
        if le - ls > 1 && tokens[le - 1].kind == Kind::Comment {
            line.comment = Some(le - 1);
            le -= 1;
        }
        // The first `=` after the start of the line begins the assign cell, but only when
        // the rest of the line is a whole expression (its brackets balance).
        if let Some(eq) = (ls + 1..le).find(|&i| tokens[i].kind == Kind::Equal) {
            let net: i64 = tokens[eq..le].iter().map(|t| bracket_change(t.kind)).sum();
            if net == 0 {
                line.assign = Some((eq, le));
                le = eq;
            }
        }
        line.lead = (ls, le);
        lines.push(line);
    }
    lines
}

/// Pass 1: sets the indentation of every line from the brackets left open before it.
fn indent(tokens: &mut [Token], lines: &[Line]) {
    // Each entry is the number of brackets a line opened when it increased the indentation.
    let mut levels: Vec<i64> = Vec::new();
    for line in lines {
        let (ls, le) = line.lead;
        if ls == le {
            continue;
        }
        if tokens[ls].kind == Kind::Newline {
            tokens[ls].spaces_before = 0;
            continue;
        }
        let mut net = 0;
        for tok in &tokens[ls..le] {
            net += bracket_change(tok.kind);
            // Brackets inside a heredoc's text do not count.
            if tok.kind == Kind::OHeredoc {
                break;
            }
        }
        if let Some((s, e)) = line.assign {
            net += tokens[s..e]
                .iter()
                .map(|t| bracket_change(t.kind))
                .sum::<i64>();
        }
        if net > 0 {
            tokens[ls].spaces_before = 2 * levels.len();
            levels.push(net);
        } else {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = levels.last_mut() else { break };
                if closed >= *top {
                    closed -= *top;
                    levels.pop();
                } else {
                    *top -= closed;
                    closed = 0;
                }
            }
            tokens[ls].spaces_before = 2 * levels.len();
        }
    }
}

/// Pass 2: sets the space between neighbouring tokens within the lead and assign cells.
fn space(src: &str, tokens: &mut [Token], lines: &[Line]) {
    for line in lines {
        space_cell(src, tokens, line.lead, false);
        if let Some(cell) = line.assign {
            space_cell(src, tokens, cell, true);
        }
    }
}

fn space_cell(src: &str, tokens: &mut [Token], (start, end): (usize, usize), is_assign: bool) {
    if is_assign && start < end {
        tokens[start].spaces_before = 1;
    }
    for i in start..end {
        if i + 1 >= end {
            break;
        }
        let before = if i > start {
            tokens[i - 1].kind
        } else {
            Kind::Nil
        };
        let spaced = space_after(src, &tokens[i], before, tokens[i + 1].kind);
        tokens[i + 1].spaces_before = usize::from(spaced);
    }
}

/// Whether `subject` is followed by a space when a token of kind `after` follows it;
/// `before` is the kind of the token before `subject` in the same cell ([`Kind::Nil`] if
/// none) and `src` the text the tokens come from.
fn space_after(src: &str, subject: &Token, before: Kind, after: Kind) -> bool {
    let sk = subject.kind;
    use Kind::*;
    if after == Newline || after == Nil {
        return false;
    }
    if sk == Ident && after == OParen {
        return false;
    }
    if sk == Dot || after == Dot {
        return false;
    }
    if after == Comma || after == Ellipsis {
        return false;
    }
    if sk == Comma {
        return true;
    }
    if matches!(sk, QuotedLit | StringLit | OQuote | OHeredoc)
        || matches!(after, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        return false;
    }
    if sk == Ident && &src[subject.start..subject.end] == "in" && before == Ident {
        return true;
    }
    if after == OBrack && (sk == Ident || sk == NumberLit || bracket_change(sk) < 0) {
        return false;
    }
    // Packer 1.6.6 predates hclwrite's rule against a space after `!`, so `!x` is written
    // `! x` by the default rule below.
    if sk == Minus {
        // A minus is a negation, without a space after it, unless what comes before it
        // could end an operand.
        return !matches!(
            before,
            Nil | OParen
                | OBrace
                | OBrack
                | Equal
                | Colon
                | Comma
                | Question
                | Plus
                | Star
                | Slash
                | Percent
                | Minus
                | EqualOp
                | NotEqual
                | GreaterThan
                | GreaterThanEq
                | LessThan
                | LessThanEq
                | And
                | Or
                | Bang
        );
    }
    if sk == OBrace || after == CBrace {
        return !(sk == OBrace && after == CBrace);
    }
    if matches!(sk, TemplateInterp | TemplateControl) && after == OBrace {
        return true;
    }
    if sk == CBrace && after == TemplateSeqEnd {
        return true;
    }
    if sk == TemplateSeqEnd && matches!(after, TemplateInterp | TemplateControl) {
        return false;
    }
    if bracket_change(sk) > 0 || bracket_change(after) < 0 {
        return false;
    }
    true
}

/// The width in columns of a range of tokens, including the space before each.
fn cell_columns(src: &str, tokens: &[Token], (start, end): (usize, usize)) -> usize {
    tokens[start..end]
        .iter()
        .map(|t| t.spaces_before + width::columns(&src[t.start..t.end]))
        .sum()
}

/// Pass 3: aligns the `=` of consecutive attribute lines, then the trailing comments of
/// consecutive lines that have one.
fn align(tokens: &mut [Token], lines: &[Line], src: &str) {
    // Runs of consecutive lines that have an assign cell.
    let mut i = 0;
    while i < lines.len() {
        if lines[i].assign.is_none() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < lines.len() && lines[j].assign.is_some() {
            j += 1;
        }
        let widths: Vec<usize> = lines[i..j]
            .iter()
            .map(|l| cell_columns(src, tokens, l.lead))
            .collect();
        let max = widths.iter().copied().max().unwrap_or(0);
        for (line, w) in lines[i..j].iter().zip(&widths) {
            if let Some((s, _)) = line.assign {
                tokens[s].spaces_before = max - w + 1;
            }
        }
        i = j;
    }

    // Runs of consecutive lines that end with a comment.
    let mut i = 0;
    while i < lines.len() {
        if lines[i].comment.is_none() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < lines.len() && lines[j].comment.is_some() {
            j += 1;
        }
        let widths: Vec<usize> = lines[i..j]
            .iter()
            .map(|l| {
                cell_columns(src, tokens, l.lead)
                    + l.assign.map_or(0, |a| cell_columns(src, tokens, a))
            })
            .collect();
        let max = widths.iter().copied().max().unwrap_or(0);
        for (line, w) in lines[i..j].iter().zip(&widths) {
            if let Some(c) = line.comment {
                tokens[c].spaces_before = max - w + 1;
            }
        }
        i = j;
    }
}

#[cfg(test)]
mod tests;
