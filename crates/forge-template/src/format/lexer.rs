//! A lexer for HCL native syntax that reproduces the token boundaries and token kinds that
//! HCL's own scanner produces, which is what `packer fmt` formats.
//!
//! Only the information the formatter needs is kept: every token knows its kind, its byte
//! range in the source and how many bytes of blank space (spaces and tabs) precede it.
//! Adjacent pieces of literal text inside a template may be split differently from HCL's
//! scanner; that never matters because the formatter never puts space around literal text.

/// The kinds of token the formatter distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    OQuote,
    CQuote,
    OHeredoc,
    CHeredoc,
    Star,
    Slash,
    Plus,
    Minus,
    Percent,
    Equal,
    EqualOp,
    NotEqual,
    LessThan,
    LessThanEq,
    GreaterThan,
    GreaterThanEq,
    And,
    Or,
    Bang,
    Dot,
    Comma,
    Ellipsis,
    FatArrow,
    Question,
    Colon,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    /// Literal text inside a quoted template.
    QuotedLit,
    /// Literal text inside a heredoc template.
    StringLit,
    NumberLit,
    Ident,
    Comment,
    Newline,
    Eof,
    /// Tokens HCL scans but never accepts (`&`, `|`, `~`, `^`, `;`, backtick, `'`, a newline
    /// inside a quoted string, anything unrecognised). The parse check rejects files with them.
    Invalid,
    /// The placeholder for "no token" at either end of a cell.
    Nil,
}

/// One token: a byte range of the source and the blank bytes before it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub spaces_before: usize,
}

/// What the scanner is doing at the top of its mode stack.
#[derive(Debug)]
enum Mode {
    /// Ordinary expression/structural tokens.
    Main,
    /// Inside a `"…"` template.
    Quoted,
    /// Inside a heredoc template, with its closing marker and whether we are at the start of
    /// a line of the heredoc.
    Heredoc { marker: String, line_start: bool },
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    last_end: usize,
    tokens: Vec<Token>,
    modes: Vec<Mode>,
    /// Current depth of braces, counting `{`, `${` and `%{`.
    braces: i64,
    /// Brace depths at which a `}` closes a template sequence rather than an object/block.
    seq_braces: Vec<i64>,
}

/// Splits `src` into tokens, always ending with an [`Kind::Eof`] token.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        last_end: 0,
        tokens: Vec::new(),
        modes: vec![Mode::Main],
        braces: 0,
        seq_braces: Vec::new(),
    };
    // A UTF-8 byte order mark is skipped; it counts as leading blank bytes of the first token,
    // so it disappears from the output just like with HCL.
    if src.starts_with('\u{feff}') {
        lx.pos = 3;
    }
    while lx.pos < lx.bytes.len() {
        match lx.modes.last() {
            Some(Mode::Main) | None => lx.main(),
            Some(Mode::Quoted) => lx.quoted(),
            Some(Mode::Heredoc { .. }) => lx.heredoc(),
        }
    }
    let end = lx.bytes.len();
    lx.emit(Kind::Eof, end, end);
    lx.tokens
}

impl Lexer<'_> {
    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        self.tokens.push(Token {
            kind,
            start,
            end,
            spaces_before: start.saturating_sub(self.last_end),
        });
        self.last_end = end;
        self.pos = end;
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.src.get(i..).and_then(|s| s.chars().next())
    }

    /// The end of an identifier starting at `i`, if one starts there.
    fn ident_end(&self, i: usize) -> Option<usize> {
        let first = self.char_at(i)?;
        if !(first == '_' || unicode_ident::is_xid_start(first)) {
            return None;
        }
        let mut j = i + first.len_utf8();
        while let Some(c) = self.char_at(j) {
            if c == '-' || unicode_ident::is_xid_continue(c) {
                j += c.len_utf8();
            } else {
                break;
            }
        }
        Some(j)
    }

    /// The end of a number literal starting at the digit at `i`.
    fn number_end(&self, i: usize) -> usize {
        // A number is a digit followed by "continuations" (digits, dots and exponents) but it
        // never ends with a dot: `1.` is the number `1` followed by a dot.
        let mut j = i + 1;
        let mut good = j;
        loop {
            match self.at(j) {
                Some(b'0'..=b'9') => {
                    j += 1;
                    good = j;
                }
                Some(b'.') => j += 1,
                Some(b'e' | b'E') => {
                    let mut k = j + 1;
                    if matches!(self.at(k), Some(b'+' | b'-')) {
                        k += 1;
                    }
                    if matches!(self.at(k), Some(b'0'..=b'9')) {
                        j = k + 1;
                        good = j;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        good
    }

    fn main(&mut self) {
        let p = self.pos;
        let b = self.bytes[p];
        let next = self.at(p + 1);
        match b {
            b' ' | b'\t' => {
                let mut j = p;
                while matches!(self.at(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                self.pos = j;
            }
            b'0'..=b'9' => {
                let end = self.number_end(p);
                self.emit(Kind::NumberLit, p, end);
            }
            b'#' => self.line_comment(p),
            b'/' if next == Some(b'/') => self.line_comment(p),
            b'/' if next == Some(b'*') => match self.src[p + 2..].find("*/") {
                Some(off) => self.emit(Kind::Comment, p, p + 2 + off + 2),
                None => self.emit(Kind::Slash, p, p + 1),
            },
            b'\n' => self.emit(Kind::Newline, p, p + 1),
            b'\r' if next == Some(b'\n') => self.emit(Kind::Newline, p, p + 2),
            b'=' if next == Some(b'=') => self.emit(Kind::EqualOp, p, p + 2),
            b'=' if next == Some(b'>') => self.emit(Kind::FatArrow, p, p + 2),
            b'!' if next == Some(b'=') => self.emit(Kind::NotEqual, p, p + 2),
            b'>' if next == Some(b'=') => self.emit(Kind::GreaterThanEq, p, p + 2),
            b'<' if next == Some(b'=') => self.emit(Kind::LessThanEq, p, p + 2),
            b'&' if next == Some(b'&') => self.emit(Kind::And, p, p + 2),
            b'|' if next == Some(b'|') => self.emit(Kind::Or, p, p + 2),
            b'.' if next == Some(b'.') && self.at(p + 2) == Some(b'.') => {
                self.emit(Kind::Ellipsis, p, p + 3)
            }
            b'<' if next == Some(b'<') => {
                if let Some((end, marker)) = self.heredoc_intro(p) {
                    self.emit(Kind::OHeredoc, p, end);
                    self.modes.push(Mode::Heredoc {
                        marker,
                        line_start: true,
                    });
                } else {
                    self.emit(Kind::LessThan, p, p + 1);
                }
            }
            b'{' => {
                self.braces += 1;
                self.emit(Kind::OBrace, p, p + 1);
            }
            b'}' => {
                if self.seq_braces.last() == Some(&self.braces) {
                    self.end_sequence(p, p + 1);
                } else {
                    self.braces -= 1;
                    self.emit(Kind::CBrace, p, p + 1);
                }
            }
            b'~' if next == Some(b'}') => {
                if self.seq_braces.last() == Some(&self.braces) {
                    self.end_sequence(p, p + 2);
                } else {
                    self.braces -= 1;
                    self.emit(Kind::TemplateSeqEnd, p, p + 2);
                }
            }
            b'"' => {
                self.emit(Kind::OQuote, p, p + 1);
                self.modes.push(Mode::Quoted);
            }
            _ => {
                let single = match b {
                    b'[' => Some(Kind::OBrack),
                    b']' => Some(Kind::CBrack),
                    b'(' => Some(Kind::OParen),
                    b')' => Some(Kind::CParen),
                    b'.' => Some(Kind::Dot),
                    b',' => Some(Kind::Comma),
                    b'*' => Some(Kind::Star),
                    b'/' => Some(Kind::Slash),
                    b'%' => Some(Kind::Percent),
                    b'+' => Some(Kind::Plus),
                    b'-' => Some(Kind::Minus),
                    b'=' => Some(Kind::Equal),
                    b'<' => Some(Kind::LessThan),
                    b'>' => Some(Kind::GreaterThan),
                    b'!' => Some(Kind::Bang),
                    b'?' => Some(Kind::Question),
                    b':' => Some(Kind::Colon),
                    b'&' | b'|' | b'~' | b'^' | b';' | b'`' | b'\'' => Some(Kind::Invalid),
                    _ => None,
                };
                if let Some(kind) = single {
                    self.emit(kind, p, p + 1);
                } else if let Some(end) = self.ident_end(p) {
                    self.emit(Kind::Ident, p, end);
                } else {
                    let len = self.char_at(p).map_or(1, char::len_utf8);
                    self.emit(Kind::Invalid, p, p + len);
                }
            }
        }
    }

    /// A `#` or `//` comment, which includes its terminating newline when it has one.
    fn line_comment(&mut self, p: usize) {
        let end = match self.src[p..].find('\n') {
            Some(off) => p + off + 1,
            None => self.bytes.len(),
        };
        self.emit(Kind::Comment, p, end);
    }

    /// Recognises `<<ID\n` or `<<-ID\n` at `p`, returning the end of the introducer (after
    /// its newline) and the marker.
    fn heredoc_intro(&self, p: usize) -> Option<(usize, String)> {
        let mut i = p + 2;
        if self.at(i) == Some(b'-') {
            i += 1;
        }
        let id_end = self.ident_end(i)?;
        let marker = self.src[i..id_end].to_string();
        match (self.at(id_end), self.at(id_end + 1)) {
            (Some(b'\n'), _) => Some((id_end + 1, marker)),
            (Some(b'\r'), Some(b'\n')) => Some((id_end + 2, marker)),
            _ => None,
        }
    }

    /// Emits a closing `}`/`~}` of a `${`/`%{` sequence and returns to the template.
    fn end_sequence(&mut self, start: usize, end: usize) {
        self.emit(Kind::TemplateSeqEnd, start, end);
        self.braces -= 1;
        self.seq_braces.pop();
        self.modes.pop();
    }

    /// Recognises `${`, `${~`, `%{`, `%{~` at `p`.
    fn begin_sequence(&mut self, p: usize) -> bool {
        let kind = match (self.at(p), self.at(p + 1)) {
            (Some(b'$'), Some(b'{')) => Kind::TemplateInterp,
            (Some(b'%'), Some(b'{')) => Kind::TemplateControl,
            _ => return false,
        };
        let end = if self.at(p + 2) == Some(b'~') {
            p + 3
        } else {
            p + 2
        };
        self.emit(kind, p, end);
        self.braces += 1;
        self.seq_braces.push(self.braces);
        if let Some(Mode::Heredoc { line_start, .. }) = self.modes.last_mut() {
            *line_start = false;
        }
        self.modes.push(Mode::Main);
        true
    }

    /// The end of a `$`/`%` that does not start a sequence: either a lone sign, or the escape
    /// `$${` / `%%{` (with an optional `~`).
    fn escaped_sign_end(&self, p: usize) -> usize {
        let sign = self.bytes[p];
        if self.at(p + 1) == Some(sign) && self.at(p + 2) == Some(b'{') {
            if self.at(p + 3) == Some(b'~') {
                p + 4
            } else {
                p + 3
            }
        } else {
            p + 1
        }
    }

    fn quoted(&mut self) {
        let p = self.pos;
        match self.bytes[p] {
            b'"' => {
                self.emit(Kind::CQuote, p, p + 1);
                self.modes.pop();
            }
            b'$' | b'%' => {
                if !self.begin_sequence(p) {
                    let end = self.escaped_sign_end(p);
                    self.emit(Kind::QuotedLit, p, end);
                }
            }
            b'\r' | b'\n' => {
                let mut j = p;
                while matches!(self.at(j), Some(b'\r' | b'\n')) {
                    j += 1;
                }
                self.emit(Kind::Invalid, p, j);
            }
            _ => {
                // A run of literal characters, where a backslash escapes any following
                // character other than a newline.
                let mut j = p;
                loop {
                    match self.at(j) {
                        None | Some(b'"' | b'$' | b'%' | b'\r' | b'\n') => break,
                        Some(b'\\') => match self.char_at(j + 1) {
                            Some('\r' | '\n') | None => break,
                            Some(c) => j += 1 + c.len_utf8(),
                        },
                        Some(_) => j += self.char_at(j).map_or(1, char::len_utf8),
                    }
                }
                if j == p {
                    // A backslash before a newline or the end of input.
                    self.emit(Kind::Invalid, p, p + 1);
                } else {
                    self.emit(Kind::QuotedLit, p, j);
                }
            }
        }
    }

    fn heredoc(&mut self) {
        let p = self.pos;
        let b = self.bytes[p];
        if (b == b'$' || b == b'%') && self.begin_sequence(p) {
            return;
        }
        // One literal chunk: a lone or escaped sign, or a run up to the next sign or line end.
        let mut j = if b == b'$' || b == b'%' {
            self.escaped_sign_end(p)
        } else {
            let mut j = p;
            while let Some(c) = self.at(j) {
                if matches!(c, b'$' | b'%' | b'\r' | b'\n') {
                    break;
                }
                j += 1;
            }
            j
        };
        let eol = match (self.at(j), self.at(j + 1)) {
            (Some(b'\n'), _) => Some(j + 1),
            (Some(b'\r'), Some(b'\n')) => Some(j + 2),
            _ => None,
        };
        let Some(Mode::Heredoc { marker, line_start }) = self.modes.last_mut() else {
            return;
        };
        match eol {
            Some(after) => {
                if *line_start && self.src[p..j].trim() == marker.as_str() {
                    self.modes.pop();
                    self.emit(Kind::CHeredoc, p, j);
                    self.emit(Kind::Newline, j, after);
                    return;
                }
                *line_start = true;
                self.emit(Kind::StringLit, p, after);
            }
            None => {
                *line_start = false;
                if j == p {
                    // A carriage return that does not end a line: HCL cannot scan this.
                    j = self.bytes.len();
                    self.emit(Kind::Invalid, p, j);
                } else {
                    self.emit(Kind::StringLit, p, j);
                }
            }
        }
    }
}
