//! The part of Go's `text/template` that `packer hcl2_upgrade` relies on: it runs every
//! generated HCL block through a template whose functions print HCL2 expressions.
//!
//! Parsing is the shared [`crate::gotemplate`] parser in its Go dialect, with Go's error texts;
//! this module prints and executes the tree. Control structures parse, but `hcl2_upgrade`
//! refuses them afterwards ("unhandled node type").

use crate::gotemplate::{
    self as gt, line_of, Command, Dialect, ErrorKind, Node, Operand, ParseError, Pipeline, Term,
};

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

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    text: String,
}

/// Parses a template; `defined` says which non-builtin function names exist.
pub fn parse(src: &str, defined: &dyn Fn(&str) -> bool) -> Result<Template, TplError> {
    let known = |n: &str| defined(n) || BUILTINS.contains(&n);
    match gt::parse(src, Dialect::Go, &known) {
        Ok(nodes) => Ok(Template {
            nodes,
            text: src.to_string(),
        }),
        Err(e) => Err(parse_error(src, &e)),
    }
}

/// Go's wording of a parse error, with the line it is on.
fn parse_error(src: &str, e: &ParseError) -> TplError {
    let (pos, mut msg) = e.go_message(src);
    let line = line_of(src, pos);
    // Go adds where the action started to a lexing error the parser met on a later line.
    if let ErrorKind::Lex(_, false) = e.kind {
        let action_line = line_of(src, e.inner);
        if action_line != line {
            let started = format!(" started at {NAME}:{action_line}");
            if !msg.ends_with(" action") {
                msg.push_str(" in action");
            }
            msg.push_str(&started);
        }
    }
    TplError(format!("template: {NAME}:{line}: {msg}"))
}

/// The `*parse.XNode` type of a control node (`hcl2_upgrade` refuses them).
fn control_kind(n: &Node) -> Option<&'static str> {
    Some(match n {
        Node::Text(..) | Node::Action(..) => return None,
        Node::If(_) => "*parse.IfNode",
        Node::Range(_) => "*parse.RangeNode",
        Node::With(_) => "*parse.WithNode",
        Node::Template(..) => "*parse.TemplateNode",
        Node::Break => "*parse.BreakNode",
        Node::Continue => "*parse.ContinueNode",
    })
}

/// An operand as Go's `String()` prints it.
fn render_operand(src: &str, a: &Operand) -> String {
    match &a.term {
        Term::Pipe(p) => format!("({})", render_pipe(src, p)),
        Term::Chain(base, s, e) => render_operand(src, base) + &src[*s..*e],
        _ => a.text(src).to_string(),
    }
}

fn render_cmd(src: &str, c: &Command) -> String {
    c.args
        .iter()
        .map(|a| render_operand(src, a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_pipe(src: &str, p: &Pipeline) -> String {
    let mut s = String::new();
    if !p.decl.is_empty() {
        let vars: Vec<&str> = p.decl.iter().map(|&(a, b)| &src[a..b]).collect();
        s.push_str(&vars.join(", "));
        s.push_str(" := ");
    }
    let cmds: Vec<String> = p.cmds.iter().map(|c| render_cmd(src, c)).collect();
    s.push_str(&cmds.join(" | "));
    s
}

impl Template {
    /// `reTemplate` of `hcl2_upgrade.go`: a new template text in which actions that are not a
    /// call of one of `known` are escaped so that executing prints them unchanged.
    pub fn retemplate(&self, known: &dyn Fn(&str) -> bool) -> Result<String, String> {
        let mut out = String::new();
        let src = self.text.as_str();
        for n in &self.nodes {
            match n {
                Node::Text(s, e) => out.push_str(&src[*s..*e]),
                Node::Action(pipe, ..) => {
                    let whole = format!("{{{{{}}}}}", render_pipe(src, pipe));
                    if pipe.cmds.len() > 1 || pipe.cmds[0].args.len() > 1 {
                        out.push_str(&whole);
                        continue;
                    }
                    let cmd = &pipe.cmds[0];
                    let first = render_operand(src, &cmd.args[0]);
                    if known(&first) {
                        out.push_str(&whole);
                    } else {
                        out.push_str(&format!(
                            "{{{{ \"{{{{\" }}}} {} {{{{ \"}}}}\" }}}}",
                            render_cmd(src, cmd)
                        ));
                    }
                }
                n => {
                    let kind = control_kind(n).unwrap_or_default();
                    return Err(format!("unhandled node type {kind}"));
                }
            }
        }
        Ok(out)
    }

    /// Executes the template with nil data.
    pub fn execute(&self, funcs: &mut dyn Funcs) -> Result<String, TplError> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(s, e) => out.push_str(&self.text[*s..*e]),
                Node::Action(pipe, ..) => {
                    let v = self.eval_pipe(pipe, funcs)?;
                    match v {
                        Val::Str(s) => out.push_str(&s),
                        Val::Int(i) => out.push_str(&i.to_string()),
                        Val::Float(f) => out.push_str(&crate::gocompat::number::format_v(f)),
                        Val::Bool(b) => out.push_str(&b.to_string()),
                        Val::Invalid => out.push_str("<no value>"),
                    }
                }
                n => {
                    let kind = control_kind(n).unwrap_or_default();
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

    fn eval_pipe(&self, pipe: &Pipeline, funcs: &mut dyn Funcs) -> Result<Val, TplError> {
        let mut final_val: Option<Val> = None;
        for cmd in &pipe.cmds {
            final_val = Some(self.eval_cmd(cmd, final_val, funcs)?);
        }
        Ok(final_val.unwrap_or(Val::Invalid))
    }

    fn eval_cmd(
        &self,
        cmd: &Command,
        final_val: Option<Val>,
        funcs: &mut dyn Funcs,
    ) -> Result<Val, TplError> {
        let first = &cmd.args[0];
        match first.term {
            Term::Ident => self.call(
                first.text(&self.text),
                first.start,
                &cmd.args[1..],
                final_val,
                funcs,
            ),
            _ => {
                if cmd.args.len() > 1 || final_val.is_some() {
                    let text = render_operand(&self.text, first);
                    return Err(self.exec_err(
                        first.start,
                        &text,
                        format!("can't give argument to non-function {text}"),
                    ));
                }
                self.eval_value(first, funcs)
            }
        }
    }

    fn eval_value(&self, a: &Operand, funcs: &mut dyn Funcs) -> Result<Val, TplError> {
        Ok(match &a.term {
            Term::Ident => self.call(a.text(&self.text), a.start, &[], None, funcs)?,
            Term::Str(value) => Val::Str(value.clone()),
            Term::Number(n) => match (n.int, n.float) {
                (Some(i), _) => Val::Int(i),
                (None, Some(f)) => Val::Float(f),
                _ => Val::Invalid,
            },
            Term::Bool(b) => Val::Bool(*b),
            Term::Pipe(p) => self.eval_pipe(p, funcs)?,
            Term::Nil => return Err(self.exec_err(a.start, "nil", "nil is not a command")),
            Term::Field | Term::Var | Term::Dot | Term::Chain(..) => Val::Invalid,
        })
    }

    fn call(
        &self,
        name: &str,
        pos: usize,
        args: &[Operand],
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

    fn eval_arg(&self, a: &Operand, want: Param, funcs: &mut dyn Funcs) -> Result<Val, TplError> {
        let ctx = render_operand(&self.text, a);
        let pos = a.start;
        match &a.term {
            Term::Ident
            | Term::Pipe(..)
            | Term::Field
            | Term::Var
            | Term::Dot
            | Term::Chain(..) => {
                let v = self.eval_value(a, funcs)?;
                self.validate(v, want, pos, &ctx)
            }
            Term::Nil => Err(self.exec_err(
                pos,
                "nil",
                format!("cannot assign nil to {}", want.go_name()),
            )),
            Term::Str(value) => match want {
                Param::Str => Ok(Val::Str(value.clone())),
                Param::Int => {
                    Err(self.exec_err(pos, &ctx, format!("expected integer; found {ctx}")))
                }
            },
            Term::Number(n) => match (want, n.int) {
                (Param::Int, Some(i)) => Ok(Val::Int(i)),
                (Param::Int, None) => {
                    Err(self.exec_err(pos, &ctx, format!("expected integer; found {ctx}")))
                }
                (Param::Str, _) => {
                    Err(self.exec_err(pos, &ctx, format!("expected string; found {ctx}")))
                }
            },
            Term::Bool(_) => Err(self.exec_err(
                pos,
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
