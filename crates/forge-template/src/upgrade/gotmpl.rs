//! The part of Go's `text/template` that `packer hcl2_upgrade` relies on: it runs every
//! generated HCL block through a template whose functions print HCL2 expressions.
//!
//! Parsing follows Go's lexer and parser closely enough to give the same results and the same
//! error texts for what legacy templates contain (actions, pipelines, string/raw/number
//! literals, fields, trim markers, comments); control structures parse, but `hcl2_upgrade`
//! refuses them afterwards ("unhandled node type").

use crate::gocompat::quote::{quote, unicode, unquote};

/// A parse or execution error, with Go's full message (`template: hcl2_upgrade:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TplError(pub String);

/// The template name Packer uses.
const NAME: &str = "hcl2_upgrade";

/// Functions every Go template has.
const BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// A value a pipeline produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An invalid value (a field of the nil data).
    Invalid,
}

/// A parameter type of a template function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Str,
    Int,
}

impl Param {
    fn go_name(self) -> &'static str {
        match self {
            Param::Str => "string",
            Param::Int => "int",
        }
    }
}

/// A function signature: fixed parameters and an optional variadic one.
#[derive(Debug, Clone)]
pub struct Sig {
    pub params: Vec<Param>,
    pub variadic: Option<Param>,
}

/// The functions a template may call.
pub trait Funcs {
    /// The signature of a function, if it exists.
    fn sig(&self, name: &str) -> Option<Sig>;
    /// Calls the function with arguments already checked against its signature.
    fn call(&mut self, name: &str, args: &[Val]) -> Result<String, String>;
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Ident(String, usize),
    Field(String, usize),
    Var(String, usize),
    Str {
        quoted: String,
        value: String,
        pos: usize,
    },
    Num {
        text: String,
        int: Option<i64>,
        float: Option<f64>,
        pos: usize,
    },
    Bool(bool, usize),
    Nil(usize),
    Dot(usize),
    Pipe(Pipe, usize),
}

impl Arg {
    fn pos(&self) -> usize {
        match self {
            Arg::Ident(_, p)
            | Arg::Field(_, p)
            | Arg::Var(_, p)
            | Arg::Bool(_, p)
            | Arg::Nil(p)
            | Arg::Dot(p)
            | Arg::Pipe(_, p) => *p,
            Arg::Str { pos, .. } | Arg::Num { pos, .. } => *pos,
        }
    }

    fn render(&self) -> String {
        match self {
            Arg::Ident(s, _) | Arg::Field(s, _) | Arg::Var(s, _) => s.clone(),
            Arg::Str { quoted, .. } => quoted.clone(),
            Arg::Num { text, .. } => text.clone(),
            Arg::Bool(b, _) => b.to_string(),
            Arg::Nil(_) => "nil".into(),
            Arg::Dot(_) => ".".into(),
            Arg::Pipe(p, _) => format!("({})", p.render()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Cmd {
    args: Vec<Arg>,
}

impl Cmd {
    fn render(&self) -> String {
        self.args
            .iter()
            .map(Arg::render)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Pipe {
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

impl Pipe {
    fn render(&self) -> String {
        let mut s = String::new();
        if !self.decl.is_empty() {
            s.push_str(&self.decl.join(", "));
            s.push_str(" := ");
        }
        s.push_str(
            &self
                .cmds
                .iter()
                .map(Cmd::render)
                .collect::<Vec<_>>()
                .join(" | "),
        );
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipe),
    /// A control structure at the top level (`*parse.IfNode`, …).
    Control(&'static str),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Space,
    Ident(String),
    Keyword(String),
    Field(String),
    Var(String),
    Str(String),
    Raw(String),
    CharConst(String),
    Num(String),
    Bool(bool),
    Nil,
    Dot,
    Pipe,
    LParen,
    RParen,
    Assign,
    Declare,
    Char(char),
    RightDelim,
    /// A lexing error: Go's lexer reports it only when the parser reaches it.
    Error(String),
}

impl Tok {
    /// How Go's `item.String()` shows the token in "unexpected X in Y".
    fn describe(&self) -> String {
        let val: String = match self {
            Tok::Space => " ".into(),
            Tok::Ident(s) | Tok::Field(s) | Tok::Var(s) | Tok::Str(s) | Tok::Raw(s) => s.clone(),
            Tok::CharConst(s) | Tok::Num(s) => s.clone(),
            Tok::Keyword(s) => return format!("<{s}>"),
            Tok::Bool(b) => b.to_string(),
            Tok::Nil => return "<nil>".into(),
            Tok::Dot => return "<.>".into(),
            Tok::Pipe => "|".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Assign => "=".into(),
            Tok::Declare => ":=".into(),
            Tok::Char(c) => c.to_string(),
            Tok::RightDelim => "}}".into(),
            Tok::Error(e) => return e.clone(),
        };
        if val.chars().count() > 10 {
            let short: String = val.chars().take(10).collect();
            format!("{}...", quote(&short))
        } else {
            quote(&val)
        }
    }
}

struct Parser<'f> {
    src: &'f str,
    pos: usize,
    /// Tokens of the current action with their positions and lines.
    toks: Vec<(Tok, usize, usize)>,
    i: usize,
    funcs: &'f dyn Fn(&str) -> bool,
    vars: Vec<String>,
    /// The line the current action starts on.
    action_line: usize,
    /// How many parentheses the parser is inside.
    depth: usize,
    /// The byte offsets of the source's newlines, for line numbers in logarithmic time.
    newlines: Vec<usize>,
}

/// How deeply parenthesized pipelines may nest: parsing and rendering recurse once per level,
/// so the limit keeps hostile input from overflowing the stack. Go's text/template words the
/// error the same way.
const MAX_DEPTH: usize = 200;

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'f> Parser<'f> {
    fn line_at(&self, pos: usize) -> usize {
        1 + self.newlines.partition_point(|&nl| nl < pos)
    }

    fn lex_err(&self, line: usize, msg: impl std::fmt::Display) -> (usize, String) {
        (line, msg.to_string())
    }

    fn err(&self, line: usize, msg: impl std::fmt::Display) -> TplError {
        TplError(format!("template: {NAME}:{line}: {msg}"))
    }

    /// Lexes the inside of an action starting at `self.pos` (just after `{{` and any trim
    /// marker); returns where the text after the action starts and whether `-}}` trims it.
    fn lex_action(&mut self) -> (usize, bool) {
        self.toks.clear();
        self.i = 0;
        self.action_line = self.line_at(self.pos);
        match self.lex_action_tokens() {
            Ok(r) => r,
            Err((line, msg)) => {
                let at = self.src.len();
                self.toks.push((Tok::Error(msg), at, line));
                (at, false)
            }
        }
    }

    fn lex_action_tokens(&mut self) -> Result<(usize, bool), (usize, String)> {
        let s = self.src;
        let b = s.as_bytes();
        let mut p = self.pos;
        let mut paren = 0i32;
        loop {
            let rest = &s[p..];
            // Right delimiter, with or without a trim marker.
            if rest.len() >= 4
                && is_space(rest.as_bytes()[0] as char)
                && rest.as_bytes()[1] == b'-'
                && rest[2..].starts_with("}}")
            {
                if paren > 0 {
                    return Err(self.lex_err(self.line_at(p), "unclosed left paren"));
                }
                self.toks.push((Tok::RightDelim, p, self.line_at(p)));
                return Ok((p + 4, true));
            }
            if rest.starts_with("}}") {
                if paren > 0 {
                    return Err(self.lex_err(self.line_at(p), "unclosed left paren"));
                }
                self.toks.push((Tok::RightDelim, p, self.line_at(p)));
                return Ok((p + 2, false));
            }
            let Some(c) = rest.chars().next() else {
                return Err(self.lex_err(self.line_at(p), "unclosed action"));
            };
            let start = p;
            let line = self.line_at(p);
            let tok = if is_space(c) {
                let mut q = p;
                while let Some(c) = s[q..].chars().next() {
                    if !is_space(c) {
                        break;
                    }
                    let r = &s[q..];
                    if r.len() >= 4 && r.as_bytes()[1] == b'-' && r[2..].starts_with("}}") {
                        break;
                    }
                    q += c.len_utf8();
                }
                if q == p {
                    // A space that starts a trim marker is handled at the top.
                    q = p + 1;
                }
                p = q;
                Tok::Space
            } else if c == '=' {
                p += 1;
                Tok::Assign
            } else if c == ':' {
                if b.get(p + 1) != Some(&b'=') {
                    return Err(self.lex_err(line, "expected :="));
                }
                p += 2;
                Tok::Declare
            } else if c == '|' {
                p += 1;
                Tok::Pipe
            } else if c == '"' {
                let mut q = p + 1;
                loop {
                    match b.get(q) {
                        None | Some(b'\n') => {
                            return Err(self.lex_err(self.line_at(q), "unterminated quoted string"))
                        }
                        Some(b'\\') => {
                            if matches!(b.get(q + 1), None | Some(b'\n')) {
                                return Err(
                                    self.lex_err(self.line_at(q), "unterminated quoted string")
                                );
                            }
                            q += 2;
                        }
                        Some(b'"') => break,
                        Some(_) => q += 1,
                    }
                }
                p = q + 1;
                Tok::Str(s[start..p].to_string())
            } else if c == '`' {
                match s[p + 1..].find('`') {
                    Some(k) => {
                        p = p + 1 + k + 1;
                        Tok::Raw(s[start..p].to_string())
                    }
                    None => return Err(self.lex_err(line, "unterminated raw quoted string")),
                }
            } else if c == '\'' {
                let mut q = p + 1;
                loop {
                    match b.get(q) {
                        None | Some(b'\n') => {
                            return Err(
                                self.lex_err(self.line_at(q), "unterminated character constant")
                            )
                        }
                        Some(b'\\') => q += 2,
                        Some(b'\'') => break,
                        Some(_) => q += 1,
                    }
                }
                p = (q + 1).min(s.len());
                while !s.is_char_boundary(p) {
                    p += 1;
                }
                Tok::CharConst(s[start..p].to_string())
            } else if c == '$' {
                let mut q = p + 1;
                while let Some(c) = s[q..].chars().next() {
                    if !is_alnum(c) {
                        break;
                    }
                    q += c.len_utf8();
                }
                p = q;
                self.check_terminator(p, line)?;
                Tok::Var(s[start..p].to_string())
            } else if c == '.' && !b.get(p + 1).is_some_and(u8::is_ascii_digit) {
                let mut q = p + 1;
                while let Some(c) = s[q..].chars().next() {
                    if !is_alnum(c) {
                        break;
                    }
                    q += c.len_utf8();
                }
                p = q;
                self.check_terminator(p, line)?;
                if q == start + 1 {
                    Tok::Dot
                } else {
                    Tok::Field(s[start..p].to_string())
                }
            } else if c == '+' || c == '-' || c == '.' || c.is_ascii_digit() {
                let mut q = p + 1;
                while let Some(&ch) = b.get(q) {
                    let ok = ch.is_ascii_alphanumeric()
                        || ch == b'.'
                        || ch == b'_'
                        || ((ch == b'+' || ch == b'-')
                            && matches!(b[q - 1], b'e' | b'E' | b'p' | b'P'));
                    if !ok {
                        break;
                    }
                    q += 1;
                }
                p = q;
                if let Some(c) = s[p..].chars().next() {
                    if is_alnum(c) {
                        return Err(self.lex_err(
                            line,
                            format!("bad number syntax: {}", quote(&s[start..=p])),
                        ));
                    }
                }
                Tok::Num(s[start..p].to_string())
            } else if is_alnum(c) {
                let mut q = p;
                while let Some(c) = s[q..].chars().next() {
                    if !is_alnum(c) {
                        break;
                    }
                    q += c.len_utf8();
                }
                p = q;
                self.check_terminator(p, line)?;
                let w = &s[start..p];
                match w {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                    | "break" | "continue" => Tok::Keyword(w.to_string()),
                    _ => Tok::Ident(w.to_string()),
                }
            } else if c == '(' {
                paren += 1;
                p += 1;
                Tok::LParen
            } else if c == ')' {
                paren -= 1;
                if paren < 0 {
                    return Err(self.lex_err(line, "unexpected right paren"));
                }
                p += 1;
                Tok::RParen
            } else if c.is_ascii() && !c.is_ascii_control() {
                p += 1;
                Tok::Char(c)
            } else {
                return Err(self.lex_err(
                    line,
                    format!("unrecognized character in action: {}", unicode(c)),
                ));
            };
            self.toks.push((tok, start, line));
        }
    }

    fn check_terminator(&self, p: usize, line: usize) -> Result<(), (usize, String)> {
        let rest = &self.src[p..];
        let Some(c) = rest.chars().next() else {
            return Ok(());
        };
        if is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(') || rest.starts_with("}}") {
            return Ok(());
        }
        Err(self.lex_err(line, format!("bad character {}", unicode(c))))
    }

    fn peek(&self) -> Option<&(Tok, usize, usize)> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> (Tok, usize, usize) {
        let t = self
            .toks
            .get(self.i)
            .or(self.toks.last())
            .cloned()
            .unwrap_or((
                Tok::RightDelim,
                self.src.len(),
                self.line_at(self.src.len()),
            ));
        self.i += 1;
        t
    }

    fn next_non_space(&mut self) -> (Tok, usize, usize) {
        loop {
            let t = self.next();
            if t.0 != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Option<Tok> {
        while let Some((Tok::Space, _, _)) = self.peek() {
            self.i += 1;
        }
        self.peek().map(|t| t.0.clone())
    }

    fn unexpected(&self, t: &(Tok, usize, usize), ctx: &str) -> TplError {
        if let Tok::Error(msg) = &t.0 {
            let mut extra = String::new();
            if self.action_line != t.2 {
                extra = format!(" in action started at {NAME}:{}", self.action_line);
                if msg.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.err(t.2, format!("{msg}{extra}"));
        }
        if t.0 == Tok::RightDelim {
            return self.err(t.2, format!("unexpected \"}}\" in {ctx}"));
        }
        self.err(t.2, format!("unexpected {} in {ctx}", t.0.describe()))
    }

    /// Go's `pipeline(context, end)`.
    fn pipeline(&mut self, ctx: &str, end_paren: bool) -> Result<Pipe, TplError> {
        let mut pipe = Pipe {
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=` / `$x =`.
        if let Some(Tok::Var(v)) = self.peek_non_space() {
            let save = self.i;
            self.i += 1;
            let after = self.peek_non_space();
            if matches!(after, Some(Tok::Declare) | Some(Tok::Assign)) {
                self.i += 1;
                if after == Some(Tok::Declare) {
                    self.vars.push(v.clone());
                }
                pipe.decl.push(v);
            } else {
                self.i = save;
            }
        }
        loop {
            let t = self.next_non_space();
            let is_end = if end_paren {
                t.0 == Tok::RParen
            } else {
                t.0 == Tok::RightDelim
            };
            if is_end {
                if pipe.cmds.is_empty() {
                    return Err(self.err(t.2, format!("missing value for {ctx}")));
                }
                for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                    if matches!(
                        c.args.first(),
                        Some(
                            Arg::Bool(..)
                                | Arg::Dot(_)
                                | Arg::Nil(_)
                                | Arg::Num { .. }
                                | Arg::Str { .. }
                        )
                    ) {
                        return Err(self.err(
                            t.2,
                            format!("non executable command in pipeline stage {}", i + 1),
                        ));
                    }
                }
                return Ok(pipe);
            }
            match t.0 {
                Tok::Bool(_)
                | Tok::CharConst(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Num(_)
                | Tok::Nil
                | Tok::Raw(_)
                | Tok::Str(_)
                | Tok::Var(_)
                | Tok::LParen => {
                    self.i -= 1;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&t, ctx)),
            }
        }
    }

    fn command(&mut self) -> Result<Cmd, TplError> {
        let mut cmd = Cmd { args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(a) = self.operand()? {
                cmd.args.push(a);
            }
            let t = self.next();
            match t.0 {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RParen => self.i -= 1,
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            let line = self.peek().map(|t| t.2).unwrap_or(1);
            return Err(self.err(line, "empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, TplError> {
        let Some(mut a) = self.term()? else {
            return Ok(None);
        };
        // Field chains: `.A.B`, `$x.A`, `(pipe).A`.
        while let Some((Tok::Field(f), _, _)) = self.peek().cloned() {
            self.i += 1;
            a = match a {
                Arg::Field(s, p) => Arg::Field(s + &f, p),
                Arg::Var(s, p) => Arg::Var(s + &f, p),
                other => {
                    let p = other.pos();
                    Arg::Field(other.render() + &f, p)
                }
            };
        }
        Ok(Some(a))
    }

    fn term(&mut self) -> Result<Option<Arg>, TplError> {
        let t = self.next_non_space();
        let (tok, pos, line) = t.clone();
        Ok(Some(match tok {
            Tok::Error(msg) => return Err(self.err(line, msg)),
            Tok::Ident(name) => {
                if !(self.funcs)(&name) && !BUILTINS.contains(&name.as_str()) {
                    return Err(self.err(line, format!("function {} not defined", quote(&name))));
                }
                Arg::Ident(name, pos)
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Var(v) => {
                let base = v.split('.').next().unwrap_or("").to_string();
                if base != "$" && !self.vars.contains(&base) {
                    return Err(self.err(line, format!("undefined variable {}", quote(&base))));
                }
                Arg::Var(v, pos)
            }
            Tok::Field(f) => Arg::Field(f, pos),
            Tok::Bool(b) => Arg::Bool(b, pos),
            Tok::Num(text) | Tok::CharConst(text) => {
                let (int, float) = parse_go_number(&text);
                if int.is_none() && float.is_none() {
                    return Err(self.err(line, format!("illegal number syntax: {}", quote(&text))));
                }
                Arg::Num {
                    text,
                    int,
                    float,
                    pos,
                }
            }
            Tok::LParen => {
                if self.depth >= MAX_DEPTH {
                    return Err(self.err(line, "max expression depth exceeded"));
                }
                self.depth += 1;
                let p = self.pipeline("parenthesized pipeline", true);
                self.depth -= 1;
                Arg::Pipe(p?, pos)
            }
            Tok::Str(q) => {
                let value = unquote(&q).ok_or_else(|| self.err(line, "invalid syntax"))?;
                Arg::Str {
                    quoted: q,
                    value,
                    pos,
                }
            }
            Tok::Raw(q) => {
                let value = q[1..q.len() - 1].replace('\r', "");
                Arg::Str {
                    quoted: q,
                    value,
                    pos,
                }
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }

    /// Skips the rest of a control action (`{{if pipeline}}`), checking its pipeline.
    fn control_pipeline(&mut self, ctx: &str) -> Result<(), TplError> {
        self.pipeline(ctx, false).map(|_| ())
    }

    fn expect_end_delim(&mut self, ctx: &str) -> Result<(), TplError> {
        let t = self.next_non_space();
        if t.0 != Tok::RightDelim {
            return Err(self.unexpected(&t, ctx));
        }
        Ok(())
    }
}

/// Parses a template; `defined` says which non-builtin function names exist.
pub fn parse(src: &str, defined: &dyn Fn(&str) -> bool) -> Result<Template, TplError> {
    let mut p = Parser {
        src,
        pos: 0,
        toks: Vec::new(),
        i: 0,
        funcs: defined,
        vars: vec!["$".into()],
        action_line: 1,
        depth: 0,
        newlines: src.match_indices('\n').map(|(i, _)| i).collect(),
    };
    let mut nodes = Vec::new();
    let mut stack: Vec<&'static str> = Vec::new();
    let mut trim_next = false;
    let mut at = 0usize;
    loop {
        let found = src[at..].find("{{").map(|k| at + k);
        let text_end = found.unwrap_or(src.len());
        let mut text = &src[at..text_end];
        if trim_next {
            text = text.trim_start_matches(is_space);
            trim_next = false;
        }
        let Some(open) = found else {
            if !text.is_empty() && stack.is_empty() {
                nodes.push(Node::Text(text.to_string()));
            }
            break;
        };
        let mut inner = open + 2;
        let rest = &src[inner..];
        if rest.len() >= 2 && rest.as_bytes()[0] == b'-' && is_space(rest.as_bytes()[1] as char) {
            text = text.trim_end_matches(is_space);
            inner += 2;
        }
        if !text.is_empty() && stack.is_empty() {
            nodes.push(Node::Text(text.to_string()));
        }
        // Comments.
        if src[inner..].starts_with("/*") {
            let line = p.line_at(inner);
            let Some(k) = src[inner + 2..].find("*/") else {
                return Err(p.err(line, "unclosed comment"));
            };
            let mut after = inner + 2 + k + 2;
            let r = &src[after..];
            if r.len() >= 4
                && is_space(r.as_bytes()[0] as char)
                && r.as_bytes()[1] == b'-'
                && r[2..].starts_with("}}")
            {
                after += 4;
                trim_next = true;
            } else if r.starts_with("}}") {
                after += 2;
            } else {
                return Err(p.err(line, "comment ends before closing delimiter"));
            }
            at = after;
            continue;
        }
        p.pos = inner;
        let (after, trim) = p.lex_action();
        trim_next = trim;
        at = after;
        // The action's first token decides what it is.
        let first = p.peek_non_space();
        match first {
            Some(Tok::Keyword(k)) => {
                let t = p.next_non_space();
                match k.as_str() {
                    "if" | "range" | "with" => {
                        if stack.is_empty() {
                            nodes.push(Node::Control(match k.as_str() {
                                "if" => "*parse.IfNode",
                                "range" => "*parse.RangeNode",
                                _ => "*parse.WithNode",
                            }));
                        }
                        stack.push(match k.as_str() {
                            "if" => "if",
                            "range" => "range",
                            _ => "with",
                        });
                        p.control_pipeline(&k)?;
                    }
                    "else" => {
                        if stack.is_empty() {
                            return Err(p.err(t.2, "unexpected {{else}}"));
                        }
                        if p.peek_non_space() == Some(Tok::Keyword("if".into())) {
                            p.next_non_space();
                            p.control_pipeline("if")?;
                        } else {
                            p.expect_end_delim("else")?;
                        }
                    }
                    "end" => {
                        if stack.pop().is_none() {
                            return Err(p.err(t.2, "unexpected {{end}}"));
                        }
                        p.expect_end_delim("end")?;
                    }
                    "template" => {
                        if stack.is_empty() {
                            nodes.push(Node::Control("*parse.TemplateNode"));
                        }
                        let n = p.next_non_space();
                        if !matches!(n.0, Tok::Str(_) | Tok::Raw(_)) {
                            return Err(p.unexpected(&n, "template clause"));
                        }
                        if p.peek_non_space() != Some(Tok::RightDelim) {
                            p.control_pipeline("template clause")?;
                        }
                    }
                    "break" | "continue" => {
                        if !stack.contains(&"range") {
                            return Err(p.err(t.2, format!("{{{{{k}}}}} outside {{{{range}}}}")));
                        }
                        p.expect_end_delim(&k)?;
                    }
                    _ => return Err(p.err(t.2, format!("unexpected <{k}> in command"))),
                }
            }
            _ => {
                let pipe = p.pipeline("command", false)?;
                if stack.is_empty() {
                    nodes.push(Node::Action(pipe));
                }
            }
        }
    }
    if !stack.is_empty() {
        return Err(p.err(p.line_at(src.len()), "unexpected EOF"));
    }
    Ok(Template {
        nodes,
        text: src.to_string(),
    })
}

impl Template {
    /// `reTemplate` of `hcl2_upgrade.go`: a new template text in which actions that are not a
    /// call of one of `known` are escaped so that executing prints them unchanged.
    pub fn retemplate(&self, known: &dyn Fn(&str) -> bool) -> Result<String, String> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let whole = format!("{{{{{}}}}}", pipe.render());
                    if pipe.cmds.len() > 1 || pipe.cmds[0].args.len() > 1 {
                        out.push_str(&whole);
                        continue;
                    }
                    let cmd = &pipe.cmds[0];
                    let first = cmd.args[0].render();
                    if known(&first) {
                        out.push_str(&whole);
                    } else {
                        out.push_str(&format!(
                            "{{{{ \"{{{{\" }}}} {} {{{{ \"}}}}\" }}}}",
                            cmd.render()
                        ));
                    }
                }
                Node::Control(kind) => return Err(format!("unhandled node type {kind}")),
            }
        }
        Ok(out)
    }

    /// Executes the template with nil data.
    pub fn execute(&self, funcs: &mut dyn Funcs) -> Result<String, TplError> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.eval_pipe(pipe, funcs)?;
                    match v {
                        Val::Str(s) => out.push_str(&s),
                        Val::Int(i) => out.push_str(&i.to_string()),
                        Val::Float(f) => out.push_str(&crate::gocompat::number::format_v(f)),
                        Val::Bool(b) => out.push_str(&b.to_string()),
                        Val::Invalid => out.push_str("<no value>"),
                    }
                }
                Node::Control(kind) => {
                    return Err(TplError(format!("unhandled node type {kind}")));
                }
            }
        }
        Ok(out)
    }

    fn exec_err(&self, pos: usize, ctx: &str, msg: impl std::fmt::Display) -> TplError {
        let before = &self.text[..pos.min(self.text.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(k) => pos - (k + 1),
            None => pos,
        };
        let ctx = if ctx.len() > 20 {
            let mut end = 20;
            while !ctx.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}...", &ctx[..end])
        } else {
            ctx.to_string()
        };
        TplError(format!(
            "template: {NAME}:{line}:{col}: executing \"{NAME}\" at <{}>: {msg}",
            ctx.replace('%', "%%")
        ))
    }

    fn eval_pipe(&self, pipe: &Pipe, funcs: &mut dyn Funcs) -> Result<Val, TplError> {
        let mut final_val: Option<Val> = None;
        for cmd in &pipe.cmds {
            final_val = Some(self.eval_cmd(cmd, final_val, funcs)?);
        }
        Ok(final_val.unwrap_or(Val::Invalid))
    }

    fn eval_cmd(
        &self,
        cmd: &Cmd,
        final_val: Option<Val>,
        funcs: &mut dyn Funcs,
    ) -> Result<Val, TplError> {
        let first = &cmd.args[0];
        match first {
            Arg::Ident(name, pos) => self.call(name, *pos, &cmd.args[1..], final_val, funcs),
            _ => {
                if cmd.args.len() > 1 || final_val.is_some() {
                    return Err(self.exec_err(
                        first.pos(),
                        &first.render(),
                        format!("can't give argument to non-function {}", first.render()),
                    ));
                }
                self.eval_value(first, funcs)
            }
        }
    }

    fn eval_value(&self, a: &Arg, funcs: &mut dyn Funcs) -> Result<Val, TplError> {
        Ok(match a {
            Arg::Ident(name, pos) => self.call(name, *pos, &[], None, funcs)?,
            Arg::Str { value, .. } => Val::Str(value.clone()),
            Arg::Num { int, float, .. } => match (int, float) {
                (Some(i), _) => Val::Int(*i),
                (None, Some(f)) => Val::Float(*f),
                _ => Val::Invalid,
            },
            Arg::Bool(b, _) => Val::Bool(*b),
            Arg::Pipe(p, _) => self.eval_pipe(p, funcs)?,
            Arg::Nil(p) => return Err(self.exec_err(*p, "nil", "nil is not a command")),
            Arg::Field(..) | Arg::Var(..) | Arg::Dot(_) => Val::Invalid,
        })
    }

    fn call(
        &self,
        name: &str,
        pos: usize,
        args: &[Arg],
        final_val: Option<Val>,
        funcs: &mut dyn Funcs,
    ) -> Result<Val, TplError> {
        let Some(sig) = funcs.sig(name) else {
            return Err(self.exec_err(
                pos,
                name,
                format!("{name} is not supported by forge's template subset"),
            ));
        };
        let num_in = args.len() + usize::from(final_val.is_some());
        match sig.variadic {
            Some(_) => {
                if num_in < sig.params.len() {
                    return Err(self.exec_err(
                        pos,
                        name,
                        format!(
                            "wrong number of args for {name}: want at least {} got {}",
                            sig.params.len(),
                            args.len()
                        ),
                    ));
                }
            }
            None => {
                if num_in != sig.params.len() {
                    return Err(self.exec_err(
                        pos,
                        name,
                        format!(
                            "wrong number of args for {name}: want {} got {num_in}",
                            sig.params.len()
                        ),
                    ));
                }
            }
        }
        let param_at = |i: usize| -> Param {
            sig.params
                .get(i)
                .copied()
                .or(sig.variadic)
                .unwrap_or(Param::Str)
        };
        let mut vals = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            vals.push(self.eval_arg(a, param_at(i), funcs)?);
        }
        if let Some(f) = final_val {
            let want = param_at(args.len());
            vals.push(self.validate(f, want, pos, name)?);
        }
        funcs
            .call(name, &vals)
            .map(Val::Str)
            .map_err(|e| self.exec_err(pos, name, format!("error calling {name}: {e}")))
    }

    fn validate(&self, v: Val, want: Param, pos: usize, ctx: &str) -> Result<Val, TplError> {
        match (&v, want) {
            (Val::Str(_), Param::Str) | (Val::Int(_), Param::Int) => Ok(v),
            (Val::Invalid, _) => Err(self.exec_err(
                pos,
                ctx,
                format!("invalid value; expected {}", want.go_name()),
            )),
            _ => Err(self.exec_err(
                pos,
                ctx,
                format!(
                    "wrong type for value; expected {}; got {}",
                    want.go_name(),
                    match v {
                        Val::Str(_) => "string",
                        Val::Int(_) => "int",
                        Val::Float(_) => "float64",
                        Val::Bool(_) => "bool",
                        Val::Invalid => "invalid",
                    }
                ),
            )),
        }
    }

    fn eval_arg(&self, a: &Arg, want: Param, funcs: &mut dyn Funcs) -> Result<Val, TplError> {
        let ctx = a.render();
        match a {
            Arg::Ident(..) | Arg::Pipe(..) | Arg::Field(..) | Arg::Var(..) | Arg::Dot(_) => {
                let v = self.eval_value(a, funcs)?;
                self.validate(v, want, a.pos(), &ctx)
            }
            Arg::Nil(p) => Err(self.exec_err(
                *p,
                "nil",
                format!("cannot assign nil to {}", want.go_name()),
            )),
            Arg::Str { value, pos, .. } => match want {
                Param::Str => Ok(Val::Str(value.clone())),
                Param::Int => {
                    Err(self.exec_err(*pos, &ctx, format!("expected integer; found {ctx}")))
                }
            },
            Arg::Num { int, pos, .. } => match (want, int) {
                (Param::Int, Some(i)) => Ok(Val::Int(*i)),
                (Param::Int, None) => {
                    Err(self.exec_err(*pos, &ctx, format!("expected integer; found {ctx}")))
                }
                (Param::Str, _) => {
                    Err(self.exec_err(*pos, &ctx, format!("expected string; found {ctx}")))
                }
            },
            Arg::Bool(_, pos) => Err(self.exec_err(
                *pos,
                &ctx,
                format!(
                    "expected {}; found {ctx}",
                    if want == Param::Int {
                        "integer"
                    } else {
                        "string"
                    }
                ),
            )),
        }
    }
}

/// A Go number literal as an integer and/or a float.
fn parse_go_number(text: &str) -> (Option<i64>, Option<f64>) {
    if text.starts_with('\'') {
        let inner = &text[1..text.len().saturating_sub(1)];
        let c = unquote(&format!("\"{}\"", inner.replace('"', "\\\""))).and_then(|s| {
            let mut it = s.chars();
            let c = it.next()?;
            it.next().is_none().then_some(c)
        });
        return match c {
            Some(c) => (Some(c as i64), Some(c as u32 as f64)),
            None => (None, None),
        };
    }
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let int = crate::gocompat::number::int_literal(&lower);
    let int = int.map(|i| if neg { -i } else { i });
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
    (int, float)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl Funcs for Upper {
        fn sig(&self, name: &str) -> Option<Sig> {
            match name {
                "up" => Some(Sig {
                    params: vec![Param::Str],
                    variadic: None,
                }),
                "n" => Some(Sig {
                    params: vec![],
                    variadic: None,
                }),
                _ => None,
            }
        }
        fn call(&mut self, name: &str, args: &[Val]) -> Result<String, String> {
            Ok(match (name, args) {
                ("up", [Val::Str(s)]) => s.to_uppercase(),
                _ => "N".into(),
            })
        }
    }

    fn run(src: &str) -> Result<String, String> {
        let known = |n: &str| n == "up" || n == "n";
        let t = parse(src, &known).map_err(|e| e.0)?;
        let re = t.retemplate(&known)?;
        let t = parse(&re, &known).map_err(|e| e.0)?;
        t.execute(&mut Upper).map_err(|e| e.0)
    }

    #[test]
    fn actions_pipes_and_escapes() {
        assert_eq!(run("a {{up `x`}} b").unwrap(), "a X b");
        assert_eq!(run("{{ `x` | up }}").unwrap(), "X");
        assert_eq!(run("{{ .Vars }}").unwrap(), "{{ .Vars }}");
        assert_eq!(run("{{ up n }}").unwrap(), "N");
        assert_eq!(run("a {{- n -}} b").unwrap(), "aNb");
        assert_eq!(run("a{{/* c */}}b").unwrap(), "ab");
        assert_eq!(
            run("{{ nope }}").unwrap_err(),
            "template: hcl2_upgrade:1: function \"nope\" not defined"
        );
        assert_eq!(
            run("{{ up \\\"x\\\" }}").unwrap_err(),
            "template: hcl2_upgrade:1: unexpected \"\\\\\" in operand"
        );
        assert_eq!(
            run("x\n{{ up }}").unwrap_err(),
            "template: hcl2_upgrade:2:2: executing \"hcl2_upgrade\" at <up>: wrong number of args for up: want 1 got 0"
        );
        assert_eq!(
            run("{{ if n }}x{{ end }}").unwrap_err(),
            "unhandled node type *parse.IfNode"
        );
        assert_eq!(
            run("{{").unwrap_err(),
            "template: hcl2_upgrade:1: unclosed action"
        );
    }
}
