//! The `{{ }}` engine of legacy JSON templates: the subset of Go's `text/template` that Packer
//! templates use, with Packer's function set (SDK `template/interpolate/funcs.go`).
//!
//! Supported: text, actions with pipelines (`{{ user "x" | upper }}`), function calls whose
//! arguments are "double-quoted" or `raw` strings, numbers, booleans, `.Field` lookups and
//! parenthesised pipelines, `{{- -}}` trim markers, `{{/* comments */}}`, and `if`/`else`/`end`.
//! Error texts follow Go's (`template: root:1: function "x" not defined`, `template: root:1:3:
//! executing "root" at <split ...>: error calling split: ...`); every error carries the byte
//! offset in the rendered string. Parsing is the shared [`crate::gotemplate`] parser in its
//! legacy dialect; this module words its errors and evaluates the tree.

use std::ops::Range;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use super::PACKER_COMPAT_VERSION;
use crate::gocompat::quote::unicode;
use crate::gotemplate::{
    self as gt, line_of, Command, Ctx, Dialect, ErrorKind, Keyword, LexErrorKind, Node, Operand,
    ParseError, Pipeline, Term, Tok,
};

/// Where `vault`, `consul_key` and `aws_secretsmanager` read secrets from.
pub trait SecretSource {
    /// `{{ vault `path` `key` }}`: the key of the secret at path.
    fn vault(&self, path: &str, key: &str) -> Result<String, String>;
    /// `{{ consul_key `key` }}`: the value stored at key.
    fn consul_key(&self, key: &str) -> Result<String, String>;
    /// `{{ aws_secretsmanager `name` `key` }}`: the secret, or one key of a JSON secret.
    fn aws_secretsmanager(&self, name: &str, key: Option<&str>) -> Result<String, String>;
    /// The secret exactly as stored (JSON objects are returned as their JSON text).
    fn aws_secretsmanager_raw(&self, name: &str) -> Result<String, String> {
        self.aws_secretsmanager(name, None)
    }
}

/// Looks up an environment variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Everything a render may look at.
pub struct InterpContext<'a> {
    /// Values for `{{ user `name` }}`.
    pub user_vars: &'a IndexMap<String, String>,
    /// The build's name (`build_name`), once known.
    pub build_name: Option<String>,
    /// The builder's type (`build_type`), once known.
    pub build_type: Option<String>,
    /// Absolute directory of the template, for `{{ template_dir }}`.
    pub template_dir: Option<String>,
    /// Values for `{{ .Field }}` and `{{ build `Field` }}`.
    pub data: IndexMap<String, String>,
    /// Leave `{{ .X }}` verbatim when `X` is not in `data`, and turn `{{ build `X` }}` into the
    /// `{{.X}}` placeholder, for a later render.
    pub keep_unknown_fields: bool,
    /// `env`, `vault`, `consul_key` and `aws_secretsmanager*` are only allowed in variable
    /// defaults. This also makes `user` of an unset variable an error.
    pub env_allowed: bool,
    /// Secret backend; `None` makes the secret functions fail (they never invent a value).
    pub secrets: Option<&'a dyn SecretSource>,
    /// Environment lookup for `env`; `None` reads the process environment.
    pub env: Option<EnvLookup<'a>>,
    /// Working directory for `pwd`; `None` asks the OS.
    pub pwd: Option<String>,
    /// The time `timestamp`, `isotime` and `strftime` use; `None` is the process start time.
    pub now: Option<DateTime<Utc>>,
}

impl<'a> InterpContext<'a> {
    /// A context with the given user variables and nothing else.
    pub fn new(user_vars: &'a IndexMap<String, String>) -> Self {
        InterpContext {
            user_vars,
            build_name: None,
            build_type: None,
            template_dir: None,
            data: IndexMap::new(),
            keep_unknown_fields: false,
            env_allowed: false,
            secrets: None,
            env: None,
            pwd: None,
            now: None,
        }
    }
}

/// A parse or execution error, with the byte offset (in the rendered string) it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpError {
    /// Packer's message.
    pub message: String,
    /// The byte offset it refers to.
    pub offset: usize,
}

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InterpError {}

/// The time the engine treats as "now" for the whole process (Packer's `InitTime`).
pub fn process_start_time() -> DateTime<Utc> {
    static START: OnceLock<DateTime<Utc>> = OnceLock::new();
    *START.get_or_init(Utc::now)
}

/// Renders `template` once.
pub fn render(template: &str, ctx: &InterpContext) -> Result<String, InterpError> {
    let nodes = parse(template)?;
    let mut ex = Exec { src: template, ctx };
    let mut out = String::new();
    ex.run(&nodes, &mut out)?;
    Ok(out)
}

/// Checks that `template` parses (Packer's `interpolate.Validate`).
pub fn validate(template: &str) -> Result<(), InterpError> {
    parse(template).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Parsing (the shared Go-template parser, legacy dialect)
// ---------------------------------------------------------------------------------------------

fn parse_err(src: &str, offset: usize, msg: impl std::fmt::Display) -> InterpError {
    InterpError {
        message: format!("template: root:{}: {msg}", line_of(src, offset)),
        offset,
    }
}

/// Parses `src` with the legacy dialect, wording errors as Packer does.
fn parse(src: &str) -> Result<Vec<Node>, InterpError> {
    gt::parse(src, Dialect::Legacy, &function_exists).map_err(|e| {
        let (offset, msg) = parse_message(src, &e);
        parse_err(src, offset, msg)
    })
}

/// The legacy engine's wording of a parse error, and the offset it refers to.
fn parse_message(src: &str, e: &ParseError) -> (usize, String) {
    let at = e.at.start;
    let unexpected_keyword = |k: Keyword| format!("unexpected <{}> in command", k.as_str());
    let missing = "missing value for command".to_string();
    match e.kind {
        ErrorKind::Lex(l, _) => (
            l.offset,
            match l.kind {
                LexErrorKind::Unrecognized(c) => {
                    format!("unexpected bad character {} in command", unicode(c))
                }
                LexErrorKind::Variable => {
                    "unexpected variables ($x) are not supported in command".into()
                }
                LexErrorKind::UnexpectedRightParen => "unexpected right paren U+0029 ')'".into(),
                kind => kind.go_message(src),
            },
        ),
        ErrorKind::NoCommand(ctx, at_start) => match e.at.tok {
            Tok::Keyword(k) => (at, unexpected_keyword(k)),
            Tok::RightDelim if ctx == Ctx::If && at_start => {
                (e.open, "missing value for if".into())
            }
            Tok::RightDelim => (e.open, missing),
            _ => (at, missing),
        },
        ErrorKind::Unexpected(Ctx::After(Keyword::Else)) => {
            (e.open, "unexpected tokens after else".into())
        }
        ErrorKind::Unexpected(_) => match e.at.tok {
            Tok::Keyword(k) => (at, unexpected_keyword(k)),
            _ => (at, "unexpected token in command".into()),
        },
        ErrorKind::UnclosedParen(open) => (open, "unclosed left paren".into()),
        ErrorKind::EmptyCommand => (at, missing),
        ErrorKind::TooDeep(true) => (e.open, "max expression depth exceeded".into()),
        ErrorKind::Stray(k) => (e.open, format!("unexpected {{{{{}}}}}", k.as_str())),
        ErrorKind::NotAllowed(k) => (
            e.open,
            format!(
                "{{{{{}}}}} is not supported in legacy templates",
                k.as_str()
            ),
        ),
        ErrorKind::ElseAfterElse => (e.open, "expected end; found {{else}}".into()),
        ErrorKind::UnexpectedEof => (src.len(), "unexpected EOF".into()),
        _ => e.go_message(src),
    }
}

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum P {
    S,
    I,
}

/// Parameter list and whether the last parameter is variadic (`...string`).
fn signature(name: &str) -> Option<(&'static [P], bool)> {
    use P::*;
    Some(match name {
        "build_name" | "build_type" | "timestamp" | "uuid" | "pwd" | "template_dir"
        | "packer_version" => (&[], false),
        "env"
        | "user"
        | "strftime"
        | "upper"
        | "lower"
        | "clean_resource_name"
        | "build"
        | "consul_key"
        | "aws_secretsmanager_raw" => (&[S], false),
        "isotime" | "aws_secretsmanager" => (&[S], true),
        "split" => (&[S, S, I], false),
        "replace" => (&[S, S, I, S], false),
        "replace_all" => (&[S, S, S], false),
        "vault" | "sed" => (&[S, S], false),
        _ => return None,
    })
}

/// Go's builtins that are cheap to support.
fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "not" | "and" | "or" | "eq" | "ne" | "print" | "len" | "println"
    )
}

fn function_exists(name: &str) -> bool {
    signature(name).is_some() || is_builtin(name)
}

// ---------------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// The data map itself (`{{ . }}`).
    Data,
    /// A field that is not known yet (kept verbatim for a later render).
    Unknown,
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "string",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Bool(_) => "bool",
            Val::Nil => "nil",
            Val::Data => "map[string]string",
            Val::Unknown => "unknown",
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Bool(b) => *b,
            Val::Nil => false,
            Val::Data | Val::Unknown => true,
        }
    }
}

struct Exec<'s, 'c, 'a> {
    src: &'s str,
    ctx: &'c InterpContext<'a>,
}

/// How an argument reached a function: a literal in the source, or a computed value.
struct Arg {
    val: Val,
    span: Range<usize>,
    literal: bool,
}

impl<'s> Exec<'s, '_, '_> {
    fn exec_err(
        &self,
        at: &Range<usize>,
        context: &str,
        msg: impl std::fmt::Display,
    ) -> InterpError {
        let offset = at.start.min(self.src.len());
        let line = line_of(self.src, offset);
        let line_start = self.src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let col = offset - line_start;
        InterpError {
            message: format!(
                "template: root:{line}:{col}: executing \"root\" at <{context}>: {msg}"
            ),
            offset,
        }
    }

    fn text(&self, r: &Range<usize>) -> &'s str {
        &self.src[r.clone()]
    }

    fn run(&mut self, nodes: &[Node], out: &mut String) -> Result<(), InterpError> {
        for node in nodes {
            match node {
                Node::Text(s, e) => out.push_str(self.text(&(*s..*e))),
                Node::Action(pipe, s, e) => match self.pipeline(pipe)? {
                    Val::Unknown => out.push_str(self.text(&(*s..*e))),
                    v => out.push_str(&self.print(&v)),
                },
                Node::If(b) => match self.pipeline(&b.pipe)? {
                    Val::Unknown => out.push_str(self.text(&(b.start..b.end))),
                    v if v.truthy() => self.run(&b.list, out)?,
                    _ => self.run(b.else_list.as_deref().unwrap_or_default(), out)?,
                },
                // Not in the legacy dialect.
                Node::Range(_)
                | Node::With(_)
                | Node::Template(..)
                | Node::Break
                | Node::Continue => {}
            }
        }
        Ok(())
    }

    fn print(&self, v: &Val) -> String {
        match v {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => crate::gocompat::number::format_v(*f),
            Val::Bool(b) => b.to_string(),
            Val::Nil => "<nil>".into(),
            Val::Unknown => String::new(),
            Val::Data => {
                let mut kv: Vec<_> = self.ctx.data.iter().collect();
                kv.sort();
                let inner: Vec<String> = kv.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
        }
    }

    fn pipeline(&mut self, pipe: &Pipeline) -> Result<Val, InterpError> {
        let mut prev: Option<(Val, Range<usize>)> = None;
        for cmd in &pipe.cmds {
            let v = self.command(cmd, prev.take())?;
            prev = Some((v, command_span(cmd)));
        }
        Ok(prev.map_or(Val::Nil, |p| p.0))
    }

    fn command(
        &mut self,
        cmd: &Command,
        piped: Option<(Val, Range<usize>)>,
    ) -> Result<Val, InterpError> {
        let first = &cmd.args[0];
        let span = first.start..first.end;
        if let Term::Ident = first.term {
            return self.call(self.text(&span), &span, cmd, &cmd.args[1..], piped);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            return Err(self.exec_err(
                &span,
                self.text(&span),
                format!("can't give argument to non-function {}", self.text(&span)),
            ));
        }
        if let Term::Nil = first.term {
            return Err(self.exec_err(&span, "nil", "nil is not a command"));
        }
        self.operand(first)
    }

    fn operand(&mut self, op: &Operand) -> Result<Val, InterpError> {
        let span = op.start..op.end;
        Ok(match &op.term {
            Term::Ident => {
                let cmd = Command {
                    args: vec![op.clone()],
                };
                return self.call(self.text(&span), &span, &cmd, &[], None);
            }
            Term::Field => self.field(&span)?,
            Term::Dot => Val::Data,
            Term::Str(s) => Val::Str(s.clone()),
            Term::Number(n) => match (n.int, n.float) {
                (Some(i), _) => Val::Int(i),
                (None, Some(f)) => Val::Float(f),
                (None, None) => Val::Nil,
            },
            Term::Bool(b) => Val::Bool(*b),
            Term::Pipe(p) => self.pipeline(p)?,
            // `nil`, and what the legacy dialect does not have.
            Term::Nil | Term::Var | Term::Chain(..) => Val::Nil,
        })
    }

    /// `.A.B`: the data's value for key `A.B`.
    fn field(&self, span: &Range<usize>) -> Result<Val, InterpError> {
        let joined = &self.text(span)[1..];
        if let Some(v) = self.ctx.data.get(joined) {
            return Ok(Val::Str(v.clone()));
        }
        if self.ctx.keep_unknown_fields {
            return Ok(Val::Unknown);
        }
        let mut path = joined.split('.');
        let first = path.next().unwrap_or_default();
        if let Some(second) = path.next().filter(|_| self.ctx.data.contains_key(first)) {
            return Err(self.exec_err(
                span,
                self.text(span),
                format!("can't evaluate field {second} in type string"),
            ));
        }
        Err(self.exec_err(
            span,
            self.text(span),
            format!("map has no entry for key \"{first}\""),
        ))
    }

    fn call(
        &mut self,
        name: &str,
        name_span: &Range<usize>,
        cmd: &Command,
        args: &[Operand],
        piped: Option<(Val, Range<usize>)>,
    ) -> Result<Val, InterpError> {
        let given = args.len() + usize::from(piped.is_some());
        let cmd_text = self.command_text(cmd);
        if is_builtin(name) {
            let mut vals = Vec::with_capacity(given);
            for a in args {
                vals.push(self.operand(a)?);
            }
            if let Some((v, _)) = piped {
                vals.push(v);
            }
            return self.builtin(name, name_span, &cmd_text, vals);
        }
        let Some((params, variadic)) = signature(name) else {
            return Err(self.exec_err(name_span, name, format!("function \"{name}\" not defined")));
        };
        let ok = if variadic {
            given + 1 >= params.len()
        } else {
            given == params.len()
        };
        if !ok {
            let want = if variadic {
                format!("at least {}", params.len() - 1)
            } else {
                params.len().to_string()
            };
            return Err(self.exec_err(
                name_span,
                name,
                format!("wrong number of args for {name}: want {want} got {given}"),
            ));
        }
        let mut list: Vec<Arg> = Vec::with_capacity(given);
        for a in args {
            let literal = !matches!(
                a.term,
                Term::Field | Term::Pipe(_) | Term::Ident | Term::Dot | Term::Var | Term::Chain(..)
            );
            let val = self.operand(a)?;
            list.push(Arg {
                val,
                span: a.start..a.end,
                literal,
            });
        }
        if let Some((v, _)) = piped {
            // Go reports a bad piped value at the function's name.
            list.push(Arg {
                val: v,
                span: name_span.clone(),
                literal: false,
            });
        }
        // Unknown arguments make the whole call unknown (kept verbatim).
        if list.iter().any(|a| a.val == Val::Unknown) {
            return Ok(Val::Unknown);
        }
        let mut strs: Vec<String> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let p = if i < params.len() {
                params[i]
            } else {
                *params.last().unwrap_or(&P::S)
            };
            match (p, &a.val) {
                (P::S, Val::Str(s)) => strs.push(s.clone()),
                (P::I, Val::Int(n)) => ints.push(*n),
                (P::I, Val::Float(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                    ints.push(*f as i64)
                }
                (p, v) => {
                    let text = self.text(&a.span);
                    let msg = if a.literal {
                        let want = if p == P::S { "string" } else { "integer" };
                        format!("expected {want}; found {text}")
                    } else {
                        let want = if p == P::S { "string" } else { "int" };
                        format!(
                            "wrong type for value; expected {want}; got {}",
                            v.type_name()
                        )
                    };
                    return Err(self.exec_err(&a.span, text, msg));
                }
            }
        }
        let res = self.call_packer(name, &strs, &ints);
        match res {
            Ok(s) => Ok(Val::Str(s)),
            Err(msg) => Err(self.exec_err(
                &command_span(cmd),
                &cmd_text,
                format!("error calling {name}: {msg}"),
            )),
        }
    }

    /// A command as Go prints it: operands separated by single spaces.
    fn command_text(&self, cmd: &Command) -> String {
        cmd.args
            .iter()
            .map(|a| self.text(&(a.start..a.end)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn builtin(
        &self,
        name: &str,
        span: &Range<usize>,
        cmd_text: &str,
        vals: Vec<Val>,
    ) -> Result<Val, InterpError> {
        if vals.contains(&Val::Unknown) {
            return Ok(Val::Unknown);
        }
        let arity = |n: usize| -> Result<(), InterpError> {
            if vals.len() != n {
                return Err(self.exec_err(
                    span,
                    name,
                    format!(
                        "wrong number of args for {name}: want {n} got {}",
                        vals.len()
                    ),
                ));
            }
            Ok(())
        };
        let at_least_one = || -> Result<(), InterpError> {
            if vals.is_empty() {
                return Err(self.exec_err(
                    span,
                    name,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            Ok(())
        };
        Ok(match name {
            "not" => {
                arity(1)?;
                Val::Bool(!vals[0].truthy())
            }
            "and" => {
                at_least_one()?;
                let pick = vals.iter().find(|v| !v.truthy()).or(vals.last());
                pick.cloned().unwrap_or(Val::Nil)
            }
            "or" => {
                at_least_one()?;
                let pick = vals.iter().find(|v| v.truthy()).or(vals.last());
                pick.cloned().unwrap_or(Val::Nil)
            }
            "eq" | "ne" => {
                if vals.len() < 2 {
                    return Err(self.exec_err(
                        span,
                        cmd_text,
                        format!("error calling {name}: missing argument for comparison"),
                    ));
                }
                let a = &vals[0];
                let mut any = false;
                for b in &vals[1..] {
                    let same = match (a, b) {
                        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => {
                            (*x as f64) == *y
                        }
                        _ if std::mem::discriminant(a) != std::mem::discriminant(b) => {
                            return Err(self.exec_err(
                                span,
                                cmd_text,
                                format!("error calling {name}: incompatible types for comparison"),
                            ))
                        }
                        _ => a == b,
                    };
                    any |= same;
                    if name == "ne" {
                        break;
                    }
                }
                Val::Bool(if name == "eq" { any } else { !any })
            }
            "len" => {
                arity(1)?;
                match &vals[0] {
                    Val::Str(s) => Val::Int(s.len() as i64),
                    Val::Data => Val::Int(self.ctx.data.len() as i64),
                    v => {
                        return Err(self.exec_err(
                            span,
                            cmd_text,
                            format!("error calling len: len of type {}", v.type_name()),
                        ))
                    }
                }
            }
            "print" | "println" => {
                // Go's fmt.Sprint: spaces between operands when neither is a string.
                let mut s = String::new();
                for (i, v) in vals.iter().enumerate() {
                    if i > 0
                        && (name == "println"
                            || (!matches!(v, Val::Str(_)) && !matches!(vals[i - 1], Val::Str(_))))
                    {
                        s.push(' ');
                    }
                    s.push_str(&self.print(v));
                }
                if name == "println" {
                    s.push('\n');
                }
                Val::Str(s)
            }
            _ => Val::Nil,
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.ctx.now.unwrap_or_else(process_start_time)
    }

    fn call_packer(&self, name: &str, s: &[String], n: &[i64]) -> Result<String, String> {
        let ctx = self.ctx;
        match name {
            "user" => match ctx.user_vars.get(&s[0]) {
                Some(v) => Ok(v.clone()),
                None if ctx.env_allowed => Err(format!("Error: variable not set: {}", s[0])),
                None => Ok(String::new()),
            },
            "env" => {
                if !ctx.env_allowed {
                    return Err("env vars are not allowed here".into());
                }
                Ok(match ctx.env {
                    Some(f) => f(&s[0]),
                    None => std::env::var(&s[0]).ok(),
                }
                .unwrap_or_default())
            }
            "timestamp" => Ok(self.now().timestamp().to_string()),
            "isotime" => match s.len() {
                0 => Ok(crate::gocompat::time::format_utc(&self.now(), "2006-01-02T15:04:05Z07:00")),
                1 => Ok(crate::gocompat::time::format_utc(&self.now(), &s[0])),
                _ => Err(format!("too many values, 1 needed: [{}]", s.join(" "))),
            },
            "strftime" => Ok(crate::gocompat::time::strftime_utc(&self.now(), &s[0])),
            "uuid" => Ok(time_ordered_uuid()),
            "build_name" => ctx
                .build_name
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| "build_name not available".into()),
            "build_type" => ctx
                .build_type
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| "build_type not available".into()),
            "template_dir" => ctx
                .template_dir
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| "template path not available".into()),
            "pwd" => match &ctx.pwd {
                Some(p) => Ok(p.clone()),
                None => std::env::current_dir()
                    .map(|p| p.to_string_lossy().into_owned())
                    .map_err(|e| e.to_string()),
            },
            "packer_version" => Ok(PACKER_COMPAT_VERSION.to_string()),
            "split" => {
                let parts: Vec<&str> = go_split(&s[0], &s[1]);
                let i = n[0];
                if i < 0 {
                    return Err(format!(
                        "runtime error: index out of range [{i}]"
                    ));
                }
                match parts.get(i as usize) {
                    Some(p) => Ok((*p).to_string()),
                    None => Err(format!(
                        "the substring {i} was unavailable using the separator value, {}, only {} values were found",
                        s[1],
                        parts.len()
                    )),
                }
            }
            "replace" => {
                let (old, new, src) = (&s[0], &s[1], &s[2]);
                Ok(if n[0] < 0 {
                    src.replace(old.as_str(), new)
                } else {
                    src.replacen(old.as_str(), new, n[0] as usize)
                })
            }
            "replace_all" => Ok(s[2].replace(s[0].as_str(), &s[1])),
            "upper" => Ok(map_case(&s[0], true)),
            "lower" => Ok(map_case(&s[0], false)),
            "clean_resource_name" => Ok(clean_resource_name(&s[0])),
            "sed" => Err("template function `sed` is deprecated use `replace` or `replace_all` instead.Documentation: https://www.packer.io/docs/templates/engine".into()),
            "build" => {
                let key = &s[0];
                if ctx.keep_unknown_fields {
                    return Ok(format!("{{{{.{key}}}}}"));
                }
                if ctx.data.is_empty() {
                    return Err(format!("Error validating build variable: the given variable {key} will not be passed into your plugin."));
                }
                ctx.data
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("loaded data, but couldnt find {key} in it."))
            }
            "consul_key" => {
                if !ctx.env_allowed {
                    return Err("consul_key is not allowed here".into());
                }
                match ctx.secrets {
                    Some(sec) => sec.consul_key(&s[0]),
                    None => Err("consul_key: no secret backend is configured".into()),
                }
            }
            "vault" => {
                if !ctx.env_allowed {
                    return Err("Vault vars are only allowed in the variables section".into());
                }
                match ctx.secrets {
                    Some(sec) => sec.vault(&s[0], &s[1]),
                    None => Err("vault: no secret backend is configured".into()),
                }
            }
            "aws_secretsmanager" | "aws_secretsmanager_raw" => {
                if !ctx.env_allowed {
                    return Err("AWS Secrets Manager is only allowed in the variables section".into());
                }
                if name == "aws_secretsmanager" {
                    match s.len() {
                        0 => return Err("secret name must be provided".into()),
                        1 | 2 => {}
                        _ => {
                            return Err(
                                "only secret name and optional secret key can be provided.".into()
                            )
                        }
                    }
                }
                let Some(sec) = ctx.secrets else {
                    return Err(format!("{name}: no secret backend is configured"));
                };
                if name == "aws_secretsmanager_raw" {
                    sec.aws_secretsmanager_raw(&s[0])
                } else {
                    sec.aws_secretsmanager(&s[0], s.get(1).map(String::as_str))
                }
            }
            other => Err(format!("function \"{other}\" not defined")),
        }
    }
}

/// A command's byte range: from its first operand to its last.
fn command_span(cmd: &Command) -> Range<usize> {
    let start = cmd.args.first().map_or(0, |a| a.start);
    start..cmd.args.last().map_or(start, |a| a.end)
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn go_split<'s>(s: &'s str, sep: &str) -> Vec<&'s str> {
    if sep.is_empty() {
        return s
            .char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect();
    }
    s.split(sep).collect()
}

/// Go's `strings.ToUpper`/`ToLower`: one rune maps to one rune.
fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if m.len() == 1 {
                m.pop().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// googlecompute's `clean_resource_name`: lower-case, every byte outside `[a-z0-9-]` becomes
/// `-`, at most 63 characters.
pub fn clean_resource_name(s: &str) -> String {
    let lower = map_case(s, false);
    let mut out: String = lower
        .bytes()
        .map(|b| {
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' {
                b as char
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(63);
    out
}

/// A Packer time-ordered UUID: the top 32 bits are the Unix time, the other 96 are random.
pub fn time_ordered_uuid() -> String {
    let secs = Utc::now().timestamp() as u32;
    let r = uuid::Uuid::new_v4();
    let b = r.as_bytes();
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{secs:08x}-{}-{}-{}-{}",
        hex(&b[0..2]),
        hex(&b[2..4]),
        hex(&b[4..6]),
        hex(&b[6..12])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fixed() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2021, 3, 7, 14, 5, 9).unwrap()
            + chrono::Duration::nanoseconds(123_400_000)
    }

    fn ctx(vars: &IndexMap<String, String>) -> InterpContext<'_> {
        let mut c = InterpContext::new(vars);
        c.now = Some(fixed());
        c
    }

    fn vars() -> IndexMap<String, String> {
        let mut m = IndexMap::new();
        m.insert("name".to_string(), "World".to_string());
        m.insert("csv".to_string(), "a,b,c".to_string());
        m
    }

    fn r(t: &str) -> Result<String, InterpError> {
        let v = vars();
        render(t, &ctx(&v))
    }

    fn ok(t: &str) -> String {
        r(t).unwrap_or_else(|e| panic!("{t}: {}", e.message))
    }

    fn err(t: &str) -> String {
        r(t).unwrap_err().message
    }

    #[test]
    fn text_and_literals() {
        assert_eq!(ok("plain"), "plain");
        assert_eq!(ok(""), "");
        assert_eq!(ok(r#"{{ "a" }}"#), "a");
        assert_eq!(ok("{{ `a\\n` }}"), "a\\n");
        assert_eq!(ok(r#"{{ "a\tb\u00e9" }}"#), "a\tbé");
        assert_eq!(ok("{{ 5 }}"), "5");
        assert_eq!(ok("{{ -3 }}"), "-3");
        assert_eq!(ok("{{ 0x1F }}"), "31");
        assert_eq!(ok("{{ 1.5 }}"), "1.5");
        assert_eq!(ok("{{ true }}"), "true");
        assert_eq!(ok("a {{ \"}}\" }} b"), "a }} b");
    }

    #[test]
    fn user_and_pipelines() {
        assert_eq!(ok("Hello {{ user `name` }}!"), "Hello World!");
        assert_eq!(ok(r#"{{ user "name" | upper }}"#), "WORLD");
        assert_eq!(ok(r#"{{ user "name" | upper | lower }}"#), "world");
        assert_eq!(ok(r#"{{ upper (user "name") }}"#), "WORLD");
        assert_eq!(ok("{{user `missing`}}"), "");
        let v = vars();
        let mut c = ctx(&v);
        c.env_allowed = true;
        assert_eq!(
            render("{{user `missing`}}", &c).unwrap_err().message,
            "template: root:1:2: executing \"root\" at <user `missing`>: error calling user: Error: variable not set: missing"
        );
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(ok("a {{- \"b\" -}} c"), "abc");
        assert_eq!(ok("a  \n {{- `b` }} c"), "ab c");
        assert_eq!(ok("a {{ `b` -}} \n\t c"), "a bc");
        assert_eq!(ok("{{/* c */}}x"), "x");
        assert_eq!(ok("a {{- /* c */ -}} b"), "ab");
        assert_eq!(ok("{{-3}}"), "-3");
        assert!(err("{{/* c").contains("unclosed comment"));
        assert!(err("{{/* c */ x}}").contains("comment ends before closing delimiter"));
    }

    #[test]
    fn unknown_function() {
        let e = r(r#"{{ x "a" }}"#).unwrap_err();
        assert_eq!(e.message, "template: root:1: function \"x\" not defined");
        assert_eq!(e.offset, 3);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(err("{{"), "template: root:1: unclosed action");
        assert_eq!(
            err("{{ upper \"a }}"),
            "template: root:1: unterminated quoted string"
        );
        assert_eq!(
            err("{{ upper `a }}"),
            "template: root:1: unterminated raw quoted string"
        );
        assert_eq!(
            err("x\n{{ }}"),
            "template: root:2: missing value for command"
        );
        assert_eq!(err("{{ end }}"), "template: root:1: unexpected {{end}}");
        assert_eq!(err("{{ if true }}x"), "template: root:1: unexpected EOF");
        assert!(err("{{ $x }}").contains("not supported"));
        assert!(err("{{ range . }}{{ end }}").contains("not supported"));
    }

    #[test]
    fn arity_and_types() {
        assert_eq!(
            err("{{ upper }}"),
            "template: root:1:3: executing \"root\" at <upper>: wrong number of args for upper: want 1 got 0"
        );
        assert_eq!(
            err(r#"{{ upper "a" "b" }}"#),
            "template: root:1:3: executing \"root\" at <upper>: wrong number of args for upper: want 1 got 2"
        );
        assert_eq!(
            err(r#"{{ split "a" "," "x" }}"#),
            "template: root:1:17: executing \"root\" at <\"x\">: expected integer; found \"x\""
        );
        assert_eq!(
            err("{{ upper 5 }}"),
            "template: root:1:9: executing \"root\" at <5>: expected string; found 5"
        );
        assert_eq!(
            err("{{ 5 | upper }}"),
            "template: root:1:7: executing \"root\" at <upper>: wrong type for value; expected string; got int"
        );
        assert!(err(r#"{{ "a" "b" }}"#).contains("can't give argument to non-function"));
    }

    #[test]
    fn split_replace_case() {
        assert_eq!(ok("{{ split `a,b,c` `,` 1 }}"), "b");
        assert_eq!(ok("{{ split (user `csv`) `,` 2 }}"), "c");
        assert_eq!(ok("{{ split `abc` `` 2 }}"), "c");
        assert_eq!(
            err(r#"{{ split "a,b" "," 5 }}"#),
            "template: root:1:3: executing \"root\" at <split \"a,b\" \",\" 5>: error calling split: the substring 5 was unavailable using the separator value, ,, only 2 values were found"
        );
        assert!(err(r#"{{ split "a,b" "," -1 }}"#).contains("index out of range [-1]"));
        assert_eq!(ok(r#"{{ replace "a" "b" 1 "aaa" }}"#), "baa");
        assert_eq!(ok(r#"{{ replace "a" "b" -1 "aaa" }}"#), "bbb");
        assert_eq!(ok("{{replace `b` `c` 2 `ababa`}}"), "acaca");
        assert_eq!(ok("{{replace_all `b` `c` `ababab`}}"), "acacac");
        assert_eq!(ok("{{ \"abc\" | replace_all \"b\" \"x\" }}"), "axc");
        assert_eq!(ok("{{upper `héllo`}}"), "HÉLLO");
        assert_eq!(ok("{{lower `HÉLLO`}}"), "héllo");
    }

    #[test]
    fn clean_resource_name_semantics() {
        assert_eq!(
            ok("{{ clean_resource_name `My_Image.v1 2` }}"),
            "my-image-v1-2"
        );
        let long = "a".repeat(80);
        assert_eq!(clean_resource_name(&long).len(), 63);
        assert_eq!(clean_resource_name("ok-name-1"), "ok-name-1");
    }

    #[test]
    fn sed_is_an_error() {
        assert!(err("{{ sed `a` `b` }}").ends_with("error calling sed: template function `sed` is deprecated use `replace` or `replace_all` instead.Documentation: https://www.packer.io/docs/templates/engine"));
    }

    #[test]
    fn times() {
        assert_eq!(ok("{{ timestamp }}"), fixed().timestamp().to_string());
        assert_eq!(ok("{{ isotime }}"), "2021-03-07T14:05:09Z");
        assert_eq!(ok("{{ isotime `2006-01-02` }}"), "2021-03-07");
        assert_eq!(ok("{{ isotime `20060102150405` }}"), "20210307140509");
        assert_eq!(
            ok("{{ isotime `Mon Monday Jan January _2 2 02 1 01 06 3 03 15 4 04 5 05 PM pm MST -0700 -07:00 -07 Z0700 Z07:00 Z07` }}"),
            "Sun Sunday Mar March  7 7 07 3 03 21 2 02 14 5 05 9 09 PM pm UTC +0000 +00:00 +00 Z Z Z"
        );
        assert_eq!(ok("{{ isotime `15:04:05.000` }}"), "14:05:09.123");
        assert_eq!(ok("{{ isotime `05.999999` }}"), "09.1234");
        assert_eq!(ok("{{ isotime `05,000000` }}"), "09,123400");
        assert_eq!(ok("{{ isotime `002 __2` }}"), "066  66");
        assert_eq!(ok("{{ isotime `.0x` }}"), ".1x");
        assert_eq!(ok("{{ isotime `_2006` }}"), "_2021");
        assert!(err("{{ isotime `a` `b` }}").contains("too many values, 1 needed: [a b]"));
        assert_eq!(
            ok("{{ strftime `%Y-%m-%d %H:%M:%S %% %q %a %B` }}"),
            "2021-03-07 14:05:09 % %q Sun March"
        );
        assert_eq!(ok("{{ strftime `%j %L %p %y %f` }}"), "%j .123 PM 21 %f");
    }

    #[test]
    fn uuid_shape() {
        let a = ok("{{ uuid }}");
        let b = ok("{{ uuid }}");
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        let secs = u32::from_str_radix(parts[0], 16).unwrap() as i64;
        assert!((Utc::now().timestamp() - secs).abs() < 5);
    }

    #[test]
    fn build_context_functions() {
        let v = vars();
        let mut c = ctx(&v);
        assert_eq!(
            render("{{ build_name }}", &c).unwrap_err().message,
            "template: root:1:3: executing \"root\" at <build_name>: error calling build_name: build_name not available"
        );
        c.build_name = Some("vbox".into());
        c.build_type = Some("virtualbox-iso".into());
        c.template_dir = Some("/t".into());
        c.pwd = Some("/cwd".into());
        assert_eq!(
            render(
                "{{build_name}} {{build_type}} {{template_dir}} {{pwd}} {{packer_version}}",
                &c
            )
            .unwrap(),
            "vbox virtualbox-iso /t /cwd 1.16.0"
        );
    }

    #[test]
    fn fields_and_build() {
        let v = vars();
        let mut c = ctx(&v);
        c.data.insert("HTTPIP".into(), "10.0.0.1".into());
        c.data.insert("Name".into(), "n".into());
        assert_eq!(render("{{ .HTTPIP }}:{{.Name}}", &c).unwrap(), "10.0.0.1:n");
        assert_eq!(
            render("{{ .Missing }}", &c).unwrap_err().message,
            "template: root:1:3: executing \"root\" at <.Missing>: map has no entry for key \"Missing\""
        );
        assert_eq!(render("{{ build `Name` }}", &c).unwrap(), "n");
        assert!(render("{{ build `X` }}", &c)
            .unwrap_err()
            .message
            .contains("couldnt find X"));
        c.keep_unknown_fields = true;
        assert_eq!(
            render(
                "a {{ .Vars }} {{ .Path | upper }} {{.HTTPIP}} {{ build `ID` }}",
                &c
            )
            .unwrap(),
            "a {{ .Vars }} {{ .Path | upper }} 10.0.0.1 {{.ID}}"
        );
        assert_eq!(
            render("{{ if .X }}y{{ end }}", &c).unwrap(),
            "{{ if .X }}y{{ end }}"
        );
        let empty = IndexMap::new();
        let c2 = InterpContext::new(&empty);
        assert!(render("{{ build `X` }}", &c2)
            .unwrap_err()
            .message
            .contains("will not be passed into your plugin"));
    }

    #[test]
    fn if_else() {
        assert_eq!(ok("{{ if true }}y{{ else }}n{{ end }}"), "y");
        assert_eq!(ok("{{ if `` }}y{{ else }}n{{ end }}"), "n");
        assert_eq!(ok("{{ if eq (user `name`) `World` }}hi{{ end }}"), "hi");
        assert_eq!(
            ok("{{ if false }}a{{ else if true }}b{{ else }}c{{ end }}"),
            "b"
        );
        assert_eq!(ok("{{ if not true }}a{{ else }}b{{ end }}"), "b");
        assert_eq!(ok("{{ print `a` 1 2 }}"), "a1 2");
        assert_eq!(ok("{{ len `abc` }}"), "3");
    }

    #[test]
    fn env_and_secrets() {
        let v = vars();
        let mut c = ctx(&v);
        assert!(render("{{ env `HOME` }}", &c)
            .unwrap_err()
            .message
            .ends_with("error calling env: env vars are not allowed here"));
        assert!(render("{{ vault `a` `b` }}", &c)
            .unwrap_err()
            .message
            .ends_with("Vault vars are only allowed in the variables section"));
        assert!(render("{{ consul_key `a` }}", &c)
            .unwrap_err()
            .message
            .ends_with("consul_key is not allowed here"));
        assert!(render("{{ aws_secretsmanager `a` }}", &c)
            .unwrap_err()
            .message
            .ends_with("AWS Secrets Manager is only allowed in the variables section"));
        c.env_allowed = true;
        let lookup = |k: &str| (k == "FOO").then(|| "bar".to_string());
        c.env = Some(&lookup);
        assert_eq!(
            render("{{ env `FOO` }}|{{ env `NOPE` }}", &c).unwrap(),
            "bar|"
        );
        assert!(render("{{ vault `a` `b` }}", &c)
            .unwrap_err()
            .message
            .ends_with("error calling vault: vault: no secret backend is configured"));
        assert!(render("{{ consul_key `a` }}", &c)
            .unwrap_err()
            .message
            .ends_with("consul_key: no secret backend is configured"));
        assert!(render("{{ aws_secretsmanager `a` `b` `c` }}", &c)
            .unwrap_err()
            .message
            .ends_with("only secret name and optional secret key can be provided."));

        struct Fake;
        impl SecretSource for Fake {
            fn vault(&self, path: &str, key: &str) -> Result<String, String> {
                Ok(format!("v:{path}:{key}"))
            }
            fn consul_key(&self, key: &str) -> Result<String, String> {
                Err(format!("no key {key}"))
            }
            fn aws_secretsmanager(&self, name: &str, key: Option<&str>) -> Result<String, String> {
                Ok(format!("a:{name}:{}", key.unwrap_or("-")))
            }
        }
        let fake = Fake;
        c.secrets = Some(&fake);
        assert_eq!(
            render("{{ vault `p` `k` }} {{ aws_secretsmanager `n` }} {{ aws_secretsmanager `n` `k` }} {{ aws_secretsmanager_raw `r` }}", &c).unwrap(),
            "v:p:k a:n:- a:n:k a:r:-"
        );
        assert!(render("{{ consul_key `x` }}", &c)
            .unwrap_err()
            .message
            .ends_with("error calling consul_key: no key x"));
    }

    #[test]
    fn error_positions_are_offsets() {
        let e = r("line1\n  {{ split `a` `,` 3 }}").unwrap_err();
        assert!(
            e.message.starts_with("template: root:2:5: "),
            "{}",
            e.message
        );
        assert_eq!(e.offset, 11);
    }

    #[test]
    fn never_panics_on_garbage() {
        for t in [
            "{{",
            "}}",
            "{{{",
            "{{-",
            "{{- ",
            "{{ -}}",
            "{{ ( }}",
            "{{ ) }}",
            "{{ | }}",
            "{{ upper | }}",
            "{{ \"\\",
            "{{ \"\\x4",
            "{{ 1e }}",
            "{{ 0x }}",
            "{{ ..a }}",
            "{{ .a. }}",
            "{{ else }}",
            "{{ if }}",
            "{{ if 1 }}{{ else }}",
            "{{ if 1 }}{{ else x }}{{end}}",
            "{{/**/",
            "{{/* */ -}",
            "{{ é }}",
            "é{{ `é` }}é",
            "{{ ((upper `a`)) }}",
            "{{ 99999999999999999999 }}",
        ] {
            let _ = r(t);
        }
        assert_eq!(ok("é{{ `é` }}é"), "ééé");
        assert_eq!(ok("{{ ((upper `a`)) }}"), "A");
    }
}
