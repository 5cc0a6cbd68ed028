//! The parser: Go's `text/template/parse/parse.go` over the lexer's tokens, building the tree of
//! [`Node`]s. Errors are [`ParseError`]s that each engine words as it always has.

use super::lex::{self, Keyword, LexError, Lexed, NumLit, Piece, Tok, Token};
use super::{Dialect, MAX_DEPTH};
use crate::gocompat::quote::unquote;

/// An operand's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A function name.
    Ident,
    /// `.A` or `.A.B` (its text is the operand's source).
    Field,
    /// `$x` or `$x.A` (Go dialect).
    Var,
    /// `.`
    Dot,
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// A number or character constant.
    Number(NumLit),
    /// A string literal's value.
    Str(String),
    /// A parenthesised pipeline.
    Pipe(Box<Pipeline>),
    /// Fields of something that is not a field or variable, `(x).A` (Go dialect): the base
    /// and the byte range of the fields.
    Chain(Box<Operand>, usize, usize),
}

/// An operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// What it is.
    pub term: Term,
    /// Its byte range in the source (a parenthesised pipeline's includes the parentheses).
    pub start: usize,
    /// See `start`.
    pub end: usize,
}

impl Operand {
    /// Its source text.
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

/// A command: operands separated by spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Its operands; never empty.
    pub args: Vec<Operand>,
}

/// A pipeline: commands separated by `|`, after optional variable declarations.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The declared or assigned variables (`$x :=`), as byte ranges.
    pub decl: Vec<(usize, usize)>,
    /// Its commands; never empty.
    pub cmds: Vec<Command>,
}

/// `if`, `range` or `with` with its lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// The condition (or ranged-over / `with`) pipeline.
    pub pipe: Pipeline,
    /// The list run when it holds.
    pub list: Vec<Node>,
    /// The `{{else}}` list, if any; an `{{else if}}` is an `if` alone in it.
    pub else_list: Option<Vec<Node>>,
    /// From its `{{` to the end of its `{{end}}`.
    pub start: usize,
    /// See `start`.
    pub end: usize,
}

/// A node of the template.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text (a byte range).
    Text(usize, usize),
    /// `{{ pipeline }}`, with the byte range of the whole action.
    Action(Pipeline, usize, usize),
    /// `{{if}}`.
    If(Branch),
    /// `{{range}}` (Go dialect).
    Range(Branch),
    /// `{{with}}` (Go dialect).
    With(Branch),
    /// `{{template "name" pipeline}}` (Go dialect): the name token and the pipeline.
    Template(Token, Option<Pipeline>),
    /// `{{break}}` (Go dialect).
    Break,
    /// `{{continue}}` (Go dialect).
    Continue,
}

/// Where in the grammar a token was unexpected (Go's context words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// An action's pipeline.
    Command,
    /// An `if` pipeline.
    If,
    /// A `range` pipeline.
    Range,
    /// A `with` pipeline.
    With,
    /// A parenthesised pipeline.
    Paren,
    /// After `template`.
    TemplateClause,
    /// After an operand.
    Operand,
    /// After `else`, `end`, `break`, `continue`.
    After(Keyword),
}

impl Ctx {
    /// Go's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Ctx::Command => "command",
            Ctx::If => "if",
            Ctx::Range => "range",
            Ctx::With => "with",
            Ctx::Paren => "parenthesized pipeline",
            Ctx::TemplateClause => "template clause",
            Ctx::Operand => "operand",
            Ctx::After(k) => k.as_str(),
        }
    }
}

/// What went wrong while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A lexing error; `plain` when reached where an operand was read (Go then adds no
    /// "in action started at").
    Lex(LexError, bool),
    /// A command was expected at the token; `at_start` when the pipeline has none yet.
    NoCommand(Ctx, bool),
    /// The token may not follow what came before.
    Unexpected(Ctx),
    /// The action closes inside the parenthesis opened at this offset.
    UnclosedParen(usize),
    /// A command without operands.
    EmptyCommand,
    /// The token names a function that does not exist.
    FunctionNotDefined,
    /// The token is a variable never declared.
    UndefinedVariable,
    /// The token is a string literal with a bad escape.
    InvalidString,
    /// The token is a number that does not read.
    IllegalNumber,
    /// Nested too deeply: at a block keyword (`true`) or a parenthesis.
    TooDeep(bool),
    /// A later stage of the pipeline ending at the token starts with a literal.
    NonExecutable(usize),
    /// `{{else}}` or `{{end}}` outside a block.
    Stray(Keyword),
    /// A keyword the dialect does not have.
    NotAllowed(Keyword),
    /// A second `{{else}}` (legacy).
    ElseAfterElse,
    /// `{{break}}`/`{{continue}}` outside `{{range}}`.
    OutsideRange(Keyword),
    /// The source ends inside a block.
    UnexpectedEof,
}

/// A parse error: what, the token it concerns, and the action it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The token concerned (for errors at the end of the source, an empty one there).
    pub at: Token,
    /// Offset of the action's `{{`.
    pub open: usize,
    /// Offset of the action's first token.
    pub inner: usize,
}

/// Parses `src` in `dialect`; `defined` says which function names exist.
pub fn parse(
    src: &str,
    dialect: Dialect,
    defined: &dyn Fn(&str) -> bool,
) -> Result<Vec<Node>, ParseError> {
    let lexed = lex::lex(src, dialect);
    parse_lexed(src, &lexed, dialect, defined)
}

/// An open block.
struct Frame {
    kw: Keyword,
    pipe: Pipeline,
    list: Vec<Node>,
    else_list: Option<Vec<Node>>,
    start: usize,
    /// Opened by `{{else if}}`: closed by the same `{{end}}` as the block it is in.
    chained: bool,
}

/// Parses already lexed `src`.
pub fn parse_lexed<'s>(
    src: &'s str,
    lexed: &'s Lexed,
    dialect: Dialect,
    defined: &dyn Fn(&str) -> bool,
) -> Result<Vec<Node>, ParseError> {
    let eof = Token {
        tok: Tok::Error,
        start: src.len(),
        end: src.len(),
    };
    let lex_error = |plain| {
        lexed.error.map(|e| ParseError {
            kind: ErrorKind::Lex(e, plain),
            at: eof,
            open: e.offset,
            inner: e.line_pos,
        })
    };
    // The legacy engine lexes everything before it parses.
    if dialect == Dialect::Legacy {
        if let Some(e) = lex_error(true) {
            return Err(e);
        }
    }
    let mut p = Parser {
        src,
        dialect,
        defined,
        lex_error: lexed.error,
        toks: &[],
        i: 0,
        open: 0,
        inner: 0,
        parens: 0,
        blocks: 0,
        vars: vec!["$"],
    };
    let mut top: Vec<Node> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for piece in &lexed.pieces {
        let a = match piece {
            Piece::Text(s, e) => {
                current(&mut top, &mut stack).push(Node::Text(*s, *e));
                continue;
            }
            Piece::Action(a) => a,
        };
        p.toks = &a.toks;
        p.i = 0;
        p.open = a.open;
        p.inner = a.inner;
        let kw = match p.peek_non_space() {
            Some(Token {
                tok: Tok::Keyword(k),
                ..
            }) => k,
            _ => {
                let pipe = p.pipeline(Ctx::Command, None)?;
                current(&mut top, &mut stack).push(Node::Action(pipe, a.open, a.end));
                continue;
            }
        };
        let t = p.next_non_space();
        if !dialect.has_keyword(kw) {
            return Err(p.error(ErrorKind::NotAllowed(kw), t));
        }
        match kw {
            Keyword::If | Keyword::Range | Keyword::With => {
                let pipe = p.block_pipeline(kw, t)?;
                stack.push(Frame {
                    kw,
                    pipe,
                    list: Vec::new(),
                    else_list: None,
                    start: a.open,
                    chained: false,
                });
            }
            Keyword::Else => {
                let Some(frame) = stack.last_mut() else {
                    return Err(p.error(ErrorKind::Stray(kw), t));
                };
                if frame.else_list.is_some() && dialect == Dialect::Legacy {
                    return Err(p.error(ErrorKind::ElseAfterElse, t));
                }
                frame.else_list.get_or_insert_with(Vec::new);
                match p.peek_non_space() {
                    Some(
                        t @ Token {
                            tok: Tok::Keyword(Keyword::If),
                            ..
                        },
                    ) => {
                        p.next_non_space();
                        let pipe = p.block_pipeline(Keyword::If, t)?;
                        stack.push(Frame {
                            kw: Keyword::If,
                            pipe,
                            list: Vec::new(),
                            else_list: None,
                            start: a.open,
                            chained: true,
                        });
                    }
                    _ => p.expect_end(Ctx::After(kw))?,
                }
            }
            Keyword::End => {
                let Some(mut frame) = stack.pop() else {
                    return Err(p.error(ErrorKind::Stray(kw), t));
                };
                // The legacy engine ignores what follows `end`.
                if dialect == Dialect::Go {
                    p.expect_end(Ctx::After(kw))?;
                }
                loop {
                    p.blocks -= 1;
                    let branch = Branch {
                        pipe: frame.pipe,
                        list: frame.list,
                        else_list: frame.else_list,
                        start: frame.start,
                        end: a.end,
                    };
                    let node = match frame.kw {
                        Keyword::Range => Node::Range(branch),
                        Keyword::With => Node::With(branch),
                        _ => Node::If(branch),
                    };
                    let chained = frame.chained;
                    match (chained, stack.pop()) {
                        (true, Some(outer)) => {
                            frame = outer;
                            frame.else_list.get_or_insert_with(Vec::new).push(node);
                        }
                        (_, outer) => {
                            if let Some(outer) = outer {
                                stack.push(outer);
                            }
                            current(&mut top, &mut stack).push(node);
                            break;
                        }
                    }
                }
            }
            Keyword::Template => {
                let name = p.next_non_space();
                if !matches!(name.tok, Tok::Str | Tok::RawStr) {
                    return Err(p.unexpected(name, Ctx::TemplateClause));
                }
                let pipe = match p.peek_non_space() {
                    Some(Token {
                        tok: Tok::RightDelim,
                        ..
                    }) => None,
                    _ => Some(p.pipeline(Ctx::TemplateClause, None)?),
                };
                current(&mut top, &mut stack).push(Node::Template(name, pipe));
            }
            Keyword::Break | Keyword::Continue => {
                if !stack.iter().any(|f| f.kw == Keyword::Range) {
                    return Err(p.error(ErrorKind::OutsideRange(kw), t));
                }
                p.expect_end(Ctx::After(kw))?;
                current(&mut top, &mut stack).push(if kw == Keyword::Break {
                    Node::Break
                } else {
                    Node::Continue
                });
            }
            Keyword::Define | Keyword::Block => return Err(p.error(ErrorKind::NotAllowed(kw), t)),
        }
    }
    if let Some(e) = lex_error(true) {
        return Err(e);
    }
    if !stack.is_empty() {
        p.open = src.len();
        p.inner = src.len();
        return Err(p.error(ErrorKind::UnexpectedEof, eof));
    }
    Ok(top)
}

/// The list new nodes go to: the innermost open block's, or the top level.
fn current<'n>(top: &'n mut Vec<Node>, stack: &'n mut [Frame]) -> &'n mut Vec<Node> {
    match stack.last_mut() {
        Some(f) => match &mut f.else_list {
            Some(l) => l,
            None => &mut f.list,
        },
        None => top,
    }
}

struct Parser<'s, 'd> {
    src: &'s str,
    dialect: Dialect,
    defined: &'d dyn Fn(&str) -> bool,
    lex_error: Option<LexError>,
    /// The current action's tokens.
    toks: &'s [Token],
    i: usize,
    open: usize,
    inner: usize,
    /// Parentheses open around the current token.
    parens: usize,
    /// Blocks open around the current action.
    blocks: usize,
    /// Declared variables (Go keeps them for the whole template here).
    vars: Vec<&'s str>,
}

impl<'s> Parser<'s, '_> {
    fn error(&self, kind: ErrorKind, at: Token) -> ParseError {
        ParseError {
            kind,
            at,
            open: self.open,
            inner: self.inner,
        }
    }

    /// The lexing error at an error token.
    fn lex_error(&self, at: Token, plain: bool) -> Option<ParseError> {
        if at.tok != Tok::Error {
            return None;
        }
        let e = self.lex_error?;
        Some(self.error(ErrorKind::Lex(e, plain), at))
    }

    /// Go's `unexpected`: a lexing error when lexing stopped there.
    fn unexpected(&self, at: Token, ctx: Ctx) -> ParseError {
        self.lex_error(at, false)
            .unwrap_or_else(|| self.error(ErrorKind::Unexpected(ctx), at))
    }

    fn next(&mut self) -> Token {
        let t = self.toks.get(self.i).or(self.toks.last()).copied();
        self.i += 1;
        t.unwrap_or(Token {
            tok: Tok::RightDelim,
            start: self.src.len(),
            end: self.src.len(),
        })
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.tok != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Option<Token> {
        while self.toks.get(self.i).is_some_and(|t| t.tok == Tok::Space) {
            self.i += 1;
        }
        self.toks.get(self.i).copied()
    }

    fn expect_end(&mut self, ctx: Ctx) -> Result<(), ParseError> {
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return Err(self.unexpected(t, ctx));
        }
        Ok(())
    }

    /// The pipeline of `if`/`range`/`with` (keyword `t`), counting the new block.
    fn block_pipeline(&mut self, kw: Keyword, t: Token) -> Result<Pipeline, ParseError> {
        self.blocks += 1;
        if self.blocks > MAX_DEPTH {
            return Err(self.error(ErrorKind::TooDeep(true), t));
        }
        let ctx = match kw {
            Keyword::Range => Ctx::Range,
            Keyword::With => Ctx::With,
            _ => Ctx::If,
        };
        self.pipeline(ctx, None)
    }

    /// Go's `pipeline`; `paren` is the offset of the `(` a parenthesised one is in.
    fn pipeline(&mut self, ctx: Ctx, paren: Option<usize>) -> Result<Pipeline, ParseError> {
        let mut pipe = Pipeline {
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        if let Some(v @ Token { tok: Tok::Var, .. }) = self.peek_non_space() {
            let save = self.i;
            self.i += 1;
            match self.peek_non_space().map(|t| t.tok) {
                Some(tok @ (Tok::Declare | Tok::Assign)) => {
                    self.i += 1;
                    if tok == Tok::Declare {
                        self.vars.push(v.text(self.src));
                    }
                    pipe.decl.push((v.start, v.end));
                }
                _ => self.i = save,
            }
        }
        let end_tok = if paren.is_some() {
            Tok::RParen
        } else {
            Tok::RightDelim
        };
        let mut after_pipe = false;
        loop {
            let t = self.next_non_space();
            if t.tok == end_tok {
                // The legacy engine also wants a command after the last `|`.
                if pipe.cmds.is_empty() || (after_pipe && self.dialect == Dialect::Legacy) {
                    return Err(self.error(ErrorKind::NoCommand(ctx, pipe.cmds.is_empty()), t));
                }
                if self.dialect == Dialect::Go {
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args[0].term,
                            Term::Bool(_) | Term::Dot | Term::Nil | Term::Number(_) | Term::Str(_)
                        ) {
                            return Err(self.error(ErrorKind::NonExecutable(i + 1), t));
                        }
                    }
                }
                return Ok(pipe);
            }
            if starts_operand(t.tok) {
                self.i -= 1;
                let (cmd, piped) = self.command()?;
                pipe.cmds.push(cmd);
                after_pipe = piped;
                continue;
            }
            if let Some(e) = self.lex_error(t, false) {
                return Err(e);
            }
            return Err(match paren {
                Some(open) if t.tok == Tok::RightDelim && !pipe.cmds.is_empty() && !after_pipe => {
                    self.error(ErrorKind::UnclosedParen(open), t)
                }
                _ => self.error(ErrorKind::NoCommand(ctx, pipe.cmds.is_empty()), t),
            });
        }
    }

    /// Go's `command`: the command and whether it ended at a `|`.
    fn command(&mut self) -> Result<(Command, bool), ParseError> {
        let mut args = Vec::new();
        let piped = loop {
            self.peek_non_space();
            if let Some(a) = self.operand()? {
                args.push(a);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RParen => {
                    self.i -= 1;
                    break false;
                }
                Tok::Pipe => break true,
                // Legacy operands need no space between them.
                tok if self.dialect == Dialect::Legacy && starts_operand(tok) => {
                    self.i -= 1;
                    continue;
                }
                _ => return Err(self.unexpected(t, Ctx::Operand)),
            }
        };
        if args.is_empty() {
            let at = self.toks.get(self.i).copied().unwrap_or(Token {
                tok: Tok::Error,
                start: 0,
                end: 0,
            });
            return Err(self.error(ErrorKind::EmptyCommand, at));
        }
        Ok((Command { args }, piped))
    }

    /// Go's `operand`: a term and the fields chained to it (Go dialect).
    fn operand(&mut self) -> Result<Option<Operand>, ParseError> {
        let Some(mut a) = self.term()? else {
            return Ok(None);
        };
        if self.dialect == Dialect::Go {
            while let Some(
                f @ Token {
                    tok: Tok::Field, ..
                },
            ) = self.toks.get(self.i).copied()
            {
                self.i += 1;
                a = match a.term {
                    Term::Field | Term::Var => Operand { end: f.end, ..a },
                    Term::Chain(base, s, _) => Operand {
                        term: Term::Chain(base, s, f.end),
                        end: f.end,
                        start: a.start,
                    },
                    _ => Operand {
                        start: a.start,
                        end: f.end,
                        term: Term::Chain(Box::new(a), f.start, f.end),
                    },
                };
            }
        }
        Ok(Some(a))
    }

    /// Go's `term`.
    fn term(&mut self) -> Result<Option<Operand>, ParseError> {
        let t = self.next_non_space();
        let text = t.text(self.src);
        let term = match t.tok {
            Tok::Error => {
                if let Some(e) = self.lex_error(t, true) {
                    return Err(e);
                }
                self.i -= 1;
                return Ok(None);
            }
            Tok::Ident => {
                if !(self.defined)(text) {
                    return Err(self.error(ErrorKind::FunctionNotDefined, t));
                }
                Term::Ident
            }
            Tok::Dot => Term::Dot,
            Tok::Nil => Term::Nil,
            Tok::Bool(b) => Term::Bool(b),
            Tok::Field => Term::Field,
            Tok::Var => {
                if text != "$" && !self.vars.contains(&text) {
                    return Err(self.error(ErrorKind::UndefinedVariable, t));
                }
                Term::Var
            }
            Tok::Number | Tok::CharConst => match lex::number_value(text, self.dialect) {
                Some(n) => Term::Number(n),
                None => return Err(self.error(ErrorKind::IllegalNumber, t)),
            },
            Tok::Str => {
                let value = match self.dialect {
                    Dialect::Go => unquote(text),
                    Dialect::Legacy => lex::legacy_quoted(self.src, t.start).ok().map(|v| v.0),
                };
                match value {
                    Some(v) => Term::Str(v),
                    None => return Err(self.error(ErrorKind::InvalidString, t)),
                }
            }
            Tok::RawStr => {
                let inner = &text[1..text.len() - 1];
                Term::Str(match self.dialect {
                    Dialect::Go => inner.replace('\r', ""),
                    Dialect::Legacy => inner.to_string(),
                })
            }
            Tok::LParen => {
                let outer = self.parens
                    + match self.dialect {
                        Dialect::Legacy => self.blocks,
                        Dialect::Go => 0,
                    };
                if outer >= MAX_DEPTH {
                    return Err(self.error(ErrorKind::TooDeep(false), t));
                }
                self.parens += 1;
                let pipe = self.pipeline(Ctx::Paren, Some(t.start));
                self.parens -= 1;
                let end = self
                    .toks
                    .get(self.i.wrapping_sub(1))
                    .map_or(t.end, |r| r.end);
                return Ok(Some(Operand {
                    term: Term::Pipe(Box::new(pipe?)),
                    start: t.start,
                    end,
                }));
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        };
        Ok(Some(Operand {
            term,
            start: t.start,
            end: t.end,
        }))
    }
}

/// Whether a token starts an operand (Go's list in `pipeline`).
fn starts_operand(tok: Tok) -> bool {
    matches!(
        tok,
        Tok::Bool(_)
            | Tok::CharConst
            | Tok::Dot
            | Tok::Field
            | Tok::Ident
            | Tok::Number
            | Tok::Nil
            | Tok::RawStr
            | Tok::Str
            | Tok::Var
            | Tok::LParen
    )
}

impl ParseError {
    /// Go's wording of the error, and the offset whose line Go reports it on (without the
    /// "in action started at" that Go adds to some lexing errors; see [`ErrorKind::Lex`]).
    pub fn go_message(&self, src: &str) -> (usize, String) {
        use crate::gocompat::quote::quote;
        let text = self.at.text(src);
        let at = self.at.start;
        let msg = match self.kind {
            ErrorKind::Lex(e, _) => return (e.line_pos, e.kind.go_message(src)),
            ErrorKind::NoCommand(ctx, true)
                if self.at.tok
                    == if ctx == Ctx::Paren {
                        Tok::RParen
                    } else {
                        Tok::RightDelim
                    } =>
            {
                format!("missing value for {}", ctx.as_str())
            }
            ErrorKind::NoCommand(ctx, _) | ErrorKind::Unexpected(ctx) => {
                format!("unexpected {} in {}", describe(self.at, src), ctx.as_str())
            }
            ErrorKind::UnclosedParen(_) => {
                format!(
                    "unexpected {} in {}",
                    describe(self.at, src),
                    Ctx::Paren.as_str()
                )
            }
            ErrorKind::EmptyCommand => "empty command".into(),
            ErrorKind::FunctionNotDefined => format!("function {} not defined", quote(text)),
            ErrorKind::UndefinedVariable => format!("undefined variable {}", quote(text)),
            ErrorKind::InvalidString => "invalid syntax".into(),
            ErrorKind::IllegalNumber => format!("illegal number syntax: {}", quote(text)),
            ErrorKind::TooDeep(_) => "max expression depth exceeded".into(),
            ErrorKind::NonExecutable(stage) => {
                format!("non executable command in pipeline stage {stage}")
            }
            ErrorKind::Stray(k) => format!("unexpected {{{{{}}}}}", k.as_str()),
            ErrorKind::NotAllowed(k) => format!("unexpected <{}> in command", k.as_str()),
            ErrorKind::ElseAfterElse => "expected end; found {{else}}".into(),
            ErrorKind::OutsideRange(k) => format!("{{{{{}}}}} outside {{{{range}}}}", k.as_str()),
            ErrorKind::UnexpectedEof => "unexpected EOF".into(),
        };
        (at, msg)
    }
}

/// How Go's `item.String()` shows a token in "unexpected X in Y".
fn describe(t: Token, src: &str) -> String {
    use crate::gocompat::quote::quote;
    let val = match t.tok {
        Tok::Keyword(k) => return format!("<{}>", k.as_str()),
        Tok::Nil => return "<nil>".into(),
        Tok::Dot => return "<.>".into(),
        Tok::Space => " ",
        // `"}"`, as forge's hcl2_upgrade has always worded a closing delimiter here.
        Tok::RightDelim => return "\"}\"".into(),
        _ => t.text(src),
    };
    if val.chars().count() > 10 {
        let short: String = val.chars().take(10).collect();
        format!("{}...", quote(&short))
    } else {
        quote(val)
    }
}
