//! The lexer: splits a template into text and actions, and an action into tokens.
//!
//! It follows Go's `text/template/parse/lex.go`: text up to `{{`, trim markers (`{{- ` and
//! ` -}}`), `{{/* comments */}}`, and the items of an action. Like Go's, it stops at the first
//! error, which the parser reports when it reaches it ([`Tok::Error`]).

use super::Dialect;
use crate::gocompat::number::int_literal;
use crate::gocompat::quote::{unescape, Escape};

/// The keywords of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `if`
    If,
    /// `else`
    Else,
    /// `end`
    End,
    /// `range`
    Range,
    /// `with`
    With,
    /// `define`
    Define,
    /// `template`
    Template,
    /// `block`
    Block,
    /// `break`
    Break,
    /// `continue`
    Continue,
}

impl Keyword {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::If => "if",
            Keyword::Else => "else",
            Keyword::End => "end",
            Keyword::Range => "range",
            Keyword::With => "with",
            Keyword::Define => "define",
            Keyword::Template => "template",
            Keyword::Block => "block",
            Keyword::Break => "break",
            Keyword::Continue => "continue",
        }
    }

    fn from_word(w: &str) -> Option<Keyword> {
        Some(match w {
            "if" => Keyword::If,
            "else" => Keyword::Else,
            "end" => Keyword::End,
            "range" => Keyword::Range,
            "with" => Keyword::With,
            "define" => Keyword::Define,
            "template" => Keyword::Template,
            "block" => Keyword::Block,
            "break" => Keyword::Break,
            "continue" => Keyword::Continue,
            _ => return None,
        })
    }
}

/// What a token is; its text is the source between its start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// Spaces between items.
    Space,
    /// A function name.
    Ident,
    /// A keyword.
    Keyword(Keyword),
    /// `.Name`; in the legacy dialect the whole path `.A.B`.
    Field,
    /// `$name` (Go dialect).
    Var,
    /// A double-quoted string.
    Str,
    /// A back-quoted string.
    RawStr,
    /// A character constant `'x'` (Go dialect).
    CharConst,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `.` alone.
    Dot,
    /// `|`.
    Pipe,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `=` (Go dialect).
    Assign,
    /// `:=` (Go dialect).
    Declare,
    /// Other printable ASCII punctuation (Go dialect).
    Char,
    /// `}}` or ` -}}`.
    RightDelim,
    /// Where lexing stopped with [`Lexed::error`].
    Error,
}

/// A token: its kind and its byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// The kind.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

impl Token {
    /// Its text in `src`.
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

/// What went wrong while lexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexErrorKind {
    /// The source ends inside an action.
    UnclosedAction,
    /// `{{/*` without `*/`.
    UnclosedComment,
    /// `*/` not followed by `}}`.
    CommentEnd,
    /// A `"` string not closed on its line.
    UnterminatedQuoted,
    /// A back-quoted string not closed.
    UnterminatedRaw,
    /// A character constant not closed on its line.
    UnterminatedChar,
    /// An escape the legacy dialect cannot read (Go's "invalid syntax").
    InvalidEscape,
    /// `:` not followed by `=`.
    ExpectedDeclare,
    /// A number the lexer rejects; its text is the given byte range.
    BadNumber(usize, usize),
    /// A name followed by a character that cannot end it (or, in the legacy dialect, a path
    /// with an empty element).
    BadChar(char),
    /// A character that starts no token.
    Unrecognized(char),
    /// `$` in the legacy dialect.
    Variable,
    /// `)` without a `(`.
    UnexpectedRightParen,
    /// The action closes with a `(` open (Go dialect).
    UnclosedLeftParen,
}

/// A lexing error with the two places engines report it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexError {
    /// What went wrong.
    pub kind: LexErrorKind,
    /// The byte offset the legacy engine reports (start of the token or action, or the
    /// character at fault).
    pub offset: usize,
    /// The byte offset whose line Go's lexer reports.
    pub line_pos: usize,
}

/// One `{{ }}` action, tokenised.
#[derive(Debug, Clone)]
pub struct Action {
    /// Offset of its `{{`.
    pub open: usize,
    /// Offset of its first token (after `{{` and a `- ` trim marker).
    pub inner: usize,
    /// Offset just past its `}}` (the source's end when lexing stopped inside it).
    pub end: usize,
    /// Its tokens, ending with [`Tok::RightDelim`] (or [`Tok::Error`]).
    pub toks: Vec<Token>,
}

/// A piece of the source.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Text outside actions, already trimmed by trim markers (a byte range).
    Text(usize, usize),
    /// An action.
    Action(Action),
}

/// A lexed template.
#[derive(Debug, Clone)]
pub struct Lexed {
    /// The pieces up to where lexing stopped.
    pub pieces: Vec<Piece>,
    /// Why lexing stopped early.
    pub error: Option<LexError>,
}

/// Go's `isSpace`.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Whether `src[p..]` is a right delimiter with a trim marker (` -}}`).
fn trim_close_at(b: &[u8], p: usize) -> bool {
    b.len() >= p + 4 && is_space(b[p]) && b[p + 1] == b'-' && b[p + 2] == b'}' && b[p + 3] == b'}'
}

/// Lexes the whole template.
pub fn lex(src: &str, dialect: Dialect) -> Lexed {
    let b = src.as_bytes();
    let mut pieces = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    loop {
        let open = src[pos..].find("{{").map(|i| i + pos);
        let (mut start, mut end) = (pos, open.unwrap_or(b.len()));
        if trim_next {
            while start < end && is_space(b[start]) {
                start += 1;
            }
        }
        let Some(open) = open else {
            if start < end {
                pieces.push(Piece::Text(start, end));
            }
            break;
        };
        let mut inner = open + 2;
        if b.get(inner) == Some(&b'-') && b.get(inner + 1).is_some_and(|&c| is_space(c)) {
            while start < end && is_space(b[end - 1]) {
                end -= 1;
            }
            inner += 2;
        }
        if start < end {
            pieces.push(Piece::Text(start, end));
        }
        let result = if src[inner..].starts_with("/*") {
            comment(src, open, inner)
        } else {
            let mut lx = ActionLexer {
                src,
                b,
                dialect,
                open,
                toks: Vec::new(),
            };
            let r = lx.run(inner);
            let toks = lx.toks;
            match r {
                Ok((after, trim)) => {
                    pieces.push(Piece::Action(Action {
                        open,
                        inner,
                        end: after,
                        toks,
                    }));
                    Ok((after, trim))
                }
                Err(e) => {
                    let mut toks = toks;
                    toks.push(Token {
                        tok: Tok::Error,
                        start: e.line_pos,
                        end: e.line_pos,
                    });
                    pieces.push(Piece::Action(Action {
                        open,
                        inner,
                        end: b.len(),
                        toks,
                    }));
                    Err(e)
                }
            }
        };
        match result {
            Ok((after, trim)) => {
                pos = after;
                trim_next = trim;
            }
            Err(e) => {
                return Lexed {
                    pieces,
                    error: Some(e),
                }
            }
        }
    }
    Lexed {
        pieces,
        error: None,
    }
}

/// A comment action starting at `inner` (`/*`): where the text after it starts, and whether a
/// trim marker trims that text.
fn comment(src: &str, open: usize, inner: usize) -> Result<(usize, bool), LexError> {
    let b = src.as_bytes();
    let err = |kind, offset| LexError {
        kind,
        offset,
        line_pos: inner,
    };
    let Some(close) = src[inner + 2..].find("*/") else {
        return Err(err(LexErrorKind::UnclosedComment, open));
    };
    let q = inner + 2 + close + 2;
    if trim_close_at(b, q) {
        Ok((q + 4, true))
    } else if src[q..].starts_with("}}") {
        Ok((q + 2, false))
    } else {
        Err(err(LexErrorKind::CommentEnd, q))
    }
}

struct ActionLexer<'s> {
    src: &'s str,
    b: &'s [u8],
    dialect: Dialect,
    open: usize,
    toks: Vec<Token>,
}

impl ActionLexer<'_> {
    fn err(&self, kind: LexErrorKind, offset: usize, line_pos: usize) -> LexError {
        LexError {
            kind,
            offset,
            line_pos,
        }
    }

    fn push(&mut self, tok: Tok, start: usize, end: usize) {
        self.toks.push(Token { tok, start, end });
    }

    /// The end of the run of name characters from `p` (Unicode in Go, ASCII in legacy).
    fn name_end(&self, mut p: usize) -> usize {
        let go = self.dialect == Dialect::Go;
        while let Some(c) = self.src[p..].chars().next() {
            if !(if go {
                is_alnum(c)
            } else {
                c == '_' || c.is_ascii_alphanumeric()
            }) {
                break;
            }
            p += c.len_utf8();
        }
        p
    }

    /// Go's `atTerminator` check after a name (Go dialect only).
    fn check_terminator(&self, p: usize, start: usize) -> Result<(), LexError> {
        if self.dialect != Dialect::Go {
            return Ok(());
        }
        let rest = &self.src[p..];
        let Some(c) = rest.chars().next() else {
            return Ok(());
        };
        if c.is_ascii() && (is_space(c as u8) || matches!(c, '.' | ',' | '|' | ':' | ')' | '('))
            || rest.starts_with("}}")
        {
            return Ok(());
        }
        Err(self.err(LexErrorKind::BadChar(c), p, start))
    }

    /// Lexes tokens from `p` to the closing delimiter: where the text after it starts, and
    /// whether ` -}}` trims that text.
    fn run(&mut self, mut p: usize) -> Result<(usize, bool), LexError> {
        let (src, b) = (self.src, self.b);
        let go = self.dialect == Dialect::Go;
        let mut paren = 0usize;
        loop {
            let close = if trim_close_at(b, p) {
                Some(4)
            } else if src[p..].starts_with("}}") {
                Some(2)
            } else {
                None
            };
            if let Some(n) = close {
                if paren > 0 && go {
                    return Err(self.err(LexErrorKind::UnclosedLeftParen, p, p));
                }
                self.push(Tok::RightDelim, p, p + n);
                return Ok((p + n, n == 4));
            }
            let Some(c) = src[p..].chars().next() else {
                return Err(self.err(LexErrorKind::UnclosedAction, self.open, p));
            };
            let start = p;
            let tok = match c {
                c if c.is_ascii() && is_space(c as u8) => {
                    p += 1;
                    while p < b.len() && is_space(b[p]) && !trim_close_at(b, p) {
                        p += 1;
                    }
                    Tok::Space
                }
                '|' => {
                    p += 1;
                    Tok::Pipe
                }
                '(' => {
                    p += 1;
                    paren += 1;
                    Tok::LParen
                }
                ')' => {
                    if paren == 0 {
                        return Err(self.err(LexErrorKind::UnexpectedRightParen, p, p));
                    }
                    paren -= 1;
                    p += 1;
                    Tok::RParen
                }
                '"' => {
                    p = if go {
                        self.go_quoted(p)?
                    } else {
                        legacy_quoted(src, p)?.1
                    };
                    Tok::Str
                }
                '`' => match src[p + 1..].find('`') {
                    Some(k) => {
                        p += k + 2;
                        Tok::RawStr
                    }
                    None => return Err(self.err(LexErrorKind::UnterminatedRaw, p, p)),
                },
                '.' if !b.get(p + 1).is_some_and(u8::is_ascii_digit) => {
                    let (tok, end) = self.field(p)?;
                    p = end;
                    tok
                }
                '+' | '-' | '.' | '0'..='9' => {
                    p = self.number(p)?;
                    Tok::Number
                }
                '\'' if go => {
                    p = self.char_const(p)?;
                    Tok::CharConst
                }
                '$' if go => {
                    p = self.name_end(p + 1);
                    self.check_terminator(p, start)?;
                    Tok::Var
                }
                '$' => return Err(self.err(LexErrorKind::Variable, p, p)),
                '=' if go => {
                    p += 1;
                    Tok::Assign
                }
                ':' if go => {
                    if b.get(p + 1) != Some(&b'=') {
                        return Err(self.err(LexErrorKind::ExpectedDeclare, p, p));
                    }
                    p += 2;
                    Tok::Declare
                }
                c if (go && is_alnum(c)) || c == '_' || c.is_ascii_alphabetic() => {
                    p = self.name_end(p);
                    self.check_terminator(p, start)?;
                    match &src[start..p] {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => Keyword::from_word(w).map_or(Tok::Ident, Tok::Keyword),
                    }
                }
                c if go && c.is_ascii() && !c.is_ascii_control() => {
                    p += 1;
                    Tok::Char
                }
                c => return Err(self.err(LexErrorKind::Unrecognized(c), p, p)),
            };
            self.push(tok, start, p);
        }
    }

    /// A `"` string as Go's lexer finds its end (escapes are read by the parser).
    fn go_quoted(&self, start: usize) -> Result<usize, LexError> {
        let b = self.b;
        let mut q = start + 1;
        loop {
            match b.get(q) {
                None | Some(b'\n') => break,
                Some(b'\\') if matches!(b.get(q + 1), None | Some(b'\n')) => break,
                Some(b'\\') => q += 2,
                Some(b'"') => return Ok(q + 1),
                Some(_) => q += 1,
            }
        }
        Err(self.err(LexErrorKind::UnterminatedQuoted, start, q))
    }

    /// A character constant (Go dialect).
    fn char_const(&self, start: usize) -> Result<usize, LexError> {
        let b = self.b;
        let mut q = start + 1;
        loop {
            match b.get(q) {
                None | Some(b'\n') => {
                    return Err(self.err(LexErrorKind::UnterminatedChar, start, q));
                }
                Some(b'\\') => q += 2,
                Some(b'\'') => break,
                Some(_) => q += 1,
            }
        }
        let mut p = (q + 1).min(b.len());
        while !self.src.is_char_boundary(p) {
            p += 1;
        }
        Ok(p)
    }

    /// `.` or `.Name` (Go); `.`, or a path `.A.B` whose elements may not be empty (legacy).
    fn field(&self, start: usize) -> Result<(Tok, usize), LexError> {
        let end = self.name_end(start + 1);
        if self.dialect == Dialect::Go {
            self.check_terminator(end, start)?;
        } else if end > start + 1 {
            let mut p = end;
            while self.b.get(p) == Some(&b'.') {
                let e = self.name_end(p + 1);
                if e == p + 1 {
                    return Err(self.err(LexErrorKind::BadChar('.'), p, p));
                }
                p = e;
            }
            return Ok((Tok::Field, p));
        }
        Ok((
            if end == start + 1 {
                Tok::Dot
            } else {
                Tok::Field
            },
            end,
        ))
    }

    /// A number: where it ends.
    fn number(&self, start: usize) -> Result<usize, LexError> {
        let (src, b) = (self.src, self.b);
        let mut q = start + 1;
        if self.dialect == Dialect::Go {
            while let Some(&ch) = b.get(q) {
                let sign_ok =
                    matches!(ch, b'+' | b'-') && matches!(b[q - 1], b'e' | b'E' | b'p' | b'P');
                if !(ch.is_ascii_alphanumeric() || ch == b'.' || ch == b'_' || sign_ok) {
                    break;
                }
                q += 1;
            }
            if let Some(c) = src[q..].chars().next().filter(|&c| is_alnum(c)) {
                let end = q + c.len_utf8();
                return Err(self.err(LexErrorKind::BadNumber(start, end), start, start));
            }
            return Ok(q);
        }
        q = start;
        while q < b.len()
            && (b[q].is_ascii_alphanumeric() || matches!(b[q], b'.' | b'_' | b'+' | b'-'))
        {
            // A sign is only part of the number at the start or right after an exponent marker.
            let sign_ok = q == start
                || (matches!(b[q - 1], b'e' | b'E')
                    && !src[start..q].to_ascii_lowercase().contains("0x"));
            if matches!(b[q], b'+' | b'-') && !sign_ok {
                break;
            }
            q += 1;
        }
        if legacy_number(&src[start..q]).is_none() {
            return Err(self.err(LexErrorKind::BadNumber(start, q), start, start));
        }
        Ok(q)
    }
}

/// The legacy engine's reading of a `"` string at `start`: its value and where it ends. An
/// escaped byte above ASCII becomes U+FFFD.
pub(crate) fn legacy_quoted(src: &str, start: usize) -> Result<(String, usize), LexError> {
    let mut out = String::new();
    let base = start + 1;
    let mut it = src[base..].char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Ok((out, base + i + 1)),
            '\n' => break,
            '\\' => {
                let Some(&(j, _)) = it.peek() else { break };
                match unescape(|| it.next().map(|(_, c)| c)) {
                    Some(Escape::Char(c)) => out.push(c),
                    Some(Escape::Byte(b)) if b.is_ascii() => out.push(char::from(b)),
                    Some(Escape::Byte(_)) => out.push('\u{fffd}'),
                    None => {
                        return Err(LexError {
                            kind: LexErrorKind::InvalidEscape,
                            offset: base + j,
                            line_pos: base + j,
                        })
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(LexError {
        kind: LexErrorKind::UnterminatedQuoted,
        offset: start,
        line_pos: start,
    })
}

/// A number literal's value: an integer, a float, or (Go) both when it is integral.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumLit {
    /// Its value as an integer, if it has one.
    pub int: Option<i64>,
    /// Its value as a float, if it has one.
    pub float: Option<f64>,
}

/// The legacy engine's numbers: an integer literal is an int; otherwise decimal digits, `.`,
/// `e` and signs make a float.
fn legacy_number(text: &str) -> Option<NumLit> {
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower: String = digits
        .chars()
        .filter(|&c| c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if let Some(i) = int_literal(&lower) {
        return Some(NumLit {
            int: Some(if neg { -i } else { i }),
            float: None,
        });
    }
    if lower.is_empty()
        || !lower
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    let f = lower.parse::<f64>().ok()?;
    Some(NumLit {
        int: None,
        float: Some(if neg { -f } else { f }),
    })
}

/// Go's `NumberNode`: a number (or character constant) as an integer and/or a float.
fn go_number(text: &str) -> Option<NumLit> {
    if text.starts_with('\'') {
        let inner = &text[1..text.len().saturating_sub(1)];
        let c = crate::gocompat::quote::unquote(&format!("\"{}\"", inner.replace('"', "\\\"")))
            .and_then(|s| {
                let mut it = s.chars();
                let c = it.next()?;
                it.next().is_none().then_some(c)
            })?;
        return Some(NumLit {
            int: Some(c as i64),
            float: Some(c as u32 as f64),
        });
    }
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.trim_start_matches('+')),
    };
    let lower = body.to_ascii_lowercase();
    let int = int_literal(&lower).map(|i| if neg { -i } else { i });
    let float = if int.is_some() {
        int.map(|i| i as f64)
    } else if lower.starts_with("0x") {
        None
    } else {
        lower
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| if neg { -f } else { f })
    };
    // A float with an integral value is also an integer, as in Go.
    let int = int.or_else(|| {
        float
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    });
    (int.is_some() || float.is_some()).then_some(NumLit { int, float })
}

/// A number token's value in `dialect`; `None` is Go's "illegal number syntax" (the legacy
/// lexer has already rejected what it cannot read).
pub fn number_value(text: &str, dialect: Dialect) -> Option<NumLit> {
    match dialect {
        Dialect::Go => go_number(text),
        Dialect::Legacy => legacy_number(text),
    }
}

impl LexErrorKind {
    /// Go's wording of the error.
    pub fn go_message(self, src: &str) -> String {
        use crate::gocompat::quote::{quote, unicode};
        match self {
            LexErrorKind::UnclosedAction => "unclosed action".into(),
            LexErrorKind::UnclosedComment => "unclosed comment".into(),
            LexErrorKind::CommentEnd => "comment ends before closing delimiter".into(),
            LexErrorKind::UnterminatedQuoted => "unterminated quoted string".into(),
            LexErrorKind::UnterminatedRaw => "unterminated raw quoted string".into(),
            LexErrorKind::UnterminatedChar => "unterminated character constant".into(),
            LexErrorKind::InvalidEscape => "invalid syntax".into(),
            LexErrorKind::ExpectedDeclare => "expected :=".into(),
            LexErrorKind::BadNumber(s, e) => {
                format!("bad number syntax: {}", quote(src.get(s..e).unwrap_or("")))
            }
            LexErrorKind::BadChar(c) => format!("bad character {}", unicode(c)),
            LexErrorKind::Unrecognized(c) => {
                format!("unrecognized character in action: {}", unicode(c))
            }
            LexErrorKind::Variable => "variables are not supported".into(),
            LexErrorKind::UnexpectedRightParen => "unexpected right paren".into(),
            LexErrorKind::UnclosedLeftParen => "unclosed left paren".into(),
        }
    }
}
