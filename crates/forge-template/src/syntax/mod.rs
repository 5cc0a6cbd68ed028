//! The syntax tree every template is lowered into, whatever it was written in (HCL native syntax
//! or HCL JSON): bodies of attributes and blocks, and expressions with spans.

pub(crate) mod dupkeys;
mod lower_hcl;
mod lower_json;

pub use lower_hcl::{parse_expression, parse_hcl_body, parse_template, parse_template_at};
pub use lower_json::parse_json_body;

use crate::diag::Span;
use crate::value::Value;

/// A body: attributes and nested blocks.
#[derive(Clone, Debug, Default)]
pub struct Body {
    /// Attributes in source order.
    pub attrs: Vec<Attribute>,
    /// Blocks in source order.
    pub blocks: Vec<Block>,
    /// The whole body.
    pub span: Span,
}

impl Body {
    /// The attribute of that name.
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.iter().find(|a| a.name == name)
    }
    /// The blocks of that type.
    pub fn blocks_of<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.ty == ty)
    }
}

/// `name = expr`
#[derive(Clone, Debug)]
pub struct Attribute {
    /// The name.
    pub name: String,
    /// Where the name is.
    pub name_span: Span,
    /// The value.
    pub expr: Expr,
    /// The whole attribute.
    pub span: Span,
}

/// `type "label" ... { body }`
#[derive(Clone, Debug)]
pub struct Block {
    /// The block type.
    pub ty: String,
    /// Where the type is.
    pub type_span: Span,
    /// The labels and where they are.
    pub labels: Vec<(String, Span)>,
    /// The contents.
    pub body: Body,
    /// The whole block.
    pub span: Span,
}

impl Block {
    /// The header span: type and labels.
    pub fn header_span(&self) -> Span {
        self.labels
            .last()
            .map(|(_, s)| self.type_span.to(*s))
            .unwrap_or(self.type_span)
    }
    /// How Packer names it in diagnostics: `source "null" "x"`.
    pub fn describe(&self) -> String {
        let mut s = self.ty.clone();
        for (l, _) in &self.labels {
            s.push_str(&format!(" {l:?}"));
        }
        s
    }
}

/// An expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal value.
    Literal(Value),
    /// A string template. One lone interpolation yields its value unconverted.
    Template(Vec<TemplatePart>),
    /// `[a, b]`
    Tuple(Vec<Expr>),
    /// `{ k = v }`; keys are expressions (a bare identifier key is a literal string).
    Object(Vec<(Expr, Expr)>),
    /// A root variable name, such as `var` or `local`.
    Var(String),
    /// Attribute, index and splat access on an expression.
    Traverse(Box<Expr>, Vec<Op>),
    /// A function call; `expand` is a final `...`.
    Call {
        /// The function name.
        name: String,
        /// Where the name is.
        name_span: Span,
        /// The arguments.
        args: Vec<Expr>,
        /// Whether the last argument is expanded.
        expand: bool,
    },
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `-x`, `!x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b` and friends.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `[for ...]` / `{for ...}`
    For(Box<ForExpr>),
    /// `( x )`
    Paren(Box<Expr>),
}

/// One traversal step.
#[derive(Clone, Debug)]
pub enum Op {
    /// `.name`
    Attr(String, Span),
    /// `[expr]`, or `.0`
    Index(Expr),
    /// `.*` (attribute-only splat) or `[*]` (full splat).
    Splat {
        /// `[*]`
        full: bool,
        /// Where.
        span: Span,
    },
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<=`
    LessEq,
    /// `>=`
    GreaterEq,
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&&`
    And,
    /// `||`
    Or,
}

/// A `for` expression.
#[derive(Clone, Debug)]
pub struct ForExpr {
    /// The key (or index) variable.
    pub key_var: Option<String>,
    /// The value variable.
    pub value_var: String,
    /// What is iterated.
    pub collection: Expr,
    /// `k => ...` for object results.
    pub key: Option<Expr>,
    /// The element or value.
    pub value: Expr,
    /// `...` grouping.
    pub grouping: bool,
    /// `if cond`
    pub cond: Option<Expr>,
}

/// One piece of a string template.
#[derive(Clone, Debug)]
pub enum TemplatePart {
    /// Literal text.
    Literal(String),
    /// `${ expr }`
    Interp(Expr),
    /// `%{ if c }...%{ else }...%{ endif }`
    If {
        /// Condition.
        cond: Expr,
        /// Parts when true.
        then: Vec<TemplatePart>,
        /// Parts when false.
        otherwise: Vec<TemplatePart>,
    },
    /// `%{ for k, v in coll }...%{ endfor }`
    For {
        /// Key variable.
        key_var: Option<String>,
        /// Value variable.
        value_var: String,
        /// Collection.
        collection: Expr,
        /// Parts per element.
        body: Vec<TemplatePart>,
    },
}

impl Expr {
    /// A literal at a span.
    pub fn literal(v: Value, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Literal(v),
            span,
        }
    }
    /// The root variable names this expression refers to, with the first attribute after each
    /// (`var.x` → ("var", Some("x"))); used to build the dependency graph.
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        self.collect_refs(&mut Vec::new(), &mut out);
        out
    }

    fn collect_refs(&self, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
        match &self.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Var(name) => {
                if !bound.contains(name) {
                    out.push(Reference {
                        root: name.clone(),
                        attrs: Vec::new(),
                        span: self.span,
                    })
                }
            }
            ExprKind::Traverse(base, ops) => {
                if let ExprKind::Var(name) = &base.kind {
                    if !bound.contains(name) {
                        let attrs = ops
                            .iter()
                            .map_while(|op| match op {
                                Op::Attr(a, _) => Some(a.clone()),
                                Op::Index(Expr {
                                    kind: ExprKind::Literal(v),
                                    ..
                                }) => v.as_str().map(str::to_string),
                                _ => None,
                            })
                            .collect();
                        out.push(Reference {
                            root: name.clone(),
                            attrs,
                            span: self.span,
                        });
                    }
                } else {
                    base.collect_refs(bound, out);
                }
                for op in ops {
                    if let Op::Index(e) = op {
                        e.collect_refs(bound, out);
                    }
                }
            }
            ExprKind::Template(parts) => collect_template_refs(parts, bound, out),
            ExprKind::Tuple(items) => items.iter().for_each(|e| e.collect_refs(bound, out)),
            ExprKind::Object(items) => items.iter().for_each(|(k, v)| {
                k.collect_refs(bound, out);
                v.collect_refs(bound, out);
            }),
            ExprKind::Call { args, .. } => args.iter().for_each(|e| e.collect_refs(bound, out)),
            ExprKind::Cond(a, b, c) => {
                a.collect_refs(bound, out);
                b.collect_refs(bound, out);
                c.collect_refs(bound, out);
            }
            ExprKind::Unary(_, e) | ExprKind::Paren(e) => e.collect_refs(bound, out),
            ExprKind::Binary(_, a, b) => {
                a.collect_refs(bound, out);
                b.collect_refs(bound, out);
            }
            ExprKind::For(f) => {
                f.collection.collect_refs(bound, out);
                let n = bound.len();
                bound.extend(f.key_var.iter().cloned());
                bound.push(f.value_var.clone());
                if let Some(k) = &f.key {
                    k.collect_refs(bound, out);
                }
                f.value.collect_refs(bound, out);
                if let Some(c) = &f.cond {
                    c.collect_refs(bound, out);
                }
                bound.truncate(n);
            }
        }
    }
}

fn collect_template_refs(
    parts: &[TemplatePart],
    bound: &mut Vec<String>,
    out: &mut Vec<Reference>,
) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => e.collect_refs(bound, out),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                cond.collect_refs(bound, out);
                collect_template_refs(then, bound, out);
                collect_template_refs(otherwise, bound, out);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                collection.collect_refs(bound, out);
                let n = bound.len();
                bound.extend(key_var.iter().cloned());
                bound.push(value_var.clone());
                collect_template_refs(body, bound, out);
                bound.truncate(n);
            }
        }
    }
}

/// A reference from an expression to a named thing: `var.x`, `local.y`, `data.t.n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The root name (`var`, `local`, `data`, ...).
    pub root: String,
    /// The static attribute names that follow.
    pub attrs: Vec<String>,
    /// Where.
    pub span: Span,
}

impl Expr {
    /// Replaces free references to the variable `name` with a literal value (used to expand
    /// `dynamic` blocks into plain blocks). Inner `for` bindings of the same name shadow it.
    pub fn substitute(&mut self, name: &str, value: &Value) {
        match &mut self.kind {
            ExprKind::Var(n) if n == name => self.kind = ExprKind::Literal(value.clone()),
            ExprKind::Literal(_) | ExprKind::Var(_) => {}
            ExprKind::Template(parts) => substitute_parts(parts, name, value),
            ExprKind::Tuple(items) => items.iter_mut().for_each(|e| e.substitute(name, value)),
            ExprKind::Object(items) => items.iter_mut().for_each(|(k, v)| {
                k.substitute(name, value);
                v.substitute(name, value);
            }),
            ExprKind::Traverse(base, ops) => {
                base.substitute(name, value);
                for op in ops {
                    if let Op::Index(e) = op {
                        e.substitute(name, value);
                    }
                }
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(|e| e.substitute(name, value)),
            ExprKind::Cond(a, b, c) => {
                a.substitute(name, value);
                b.substitute(name, value);
                c.substitute(name, value);
            }
            ExprKind::Unary(_, e) | ExprKind::Paren(e) => e.substitute(name, value),
            ExprKind::Binary(_, a, b) => {
                a.substitute(name, value);
                b.substitute(name, value);
            }
            ExprKind::For(f) => {
                f.collection.substitute(name, value);
                if f.value_var != name && f.key_var.as_deref() != Some(name) {
                    if let Some(k) = &mut f.key {
                        k.substitute(name, value);
                    }
                    f.value.substitute(name, value);
                    if let Some(c) = &mut f.cond {
                        c.substitute(name, value);
                    }
                }
            }
        }
    }
}

fn substitute_parts(parts: &mut [TemplatePart], name: &str, value: &Value) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => e.substitute(name, value),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                cond.substitute(name, value);
                substitute_parts(then, name, value);
                substitute_parts(otherwise, name, value);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                collection.substitute(name, value);
                if value_var != name && key_var.as_deref() != Some(name) {
                    substitute_parts(body, name, value);
                }
            }
        }
    }
}

impl Body {
    /// Substitutes a variable in every expression of the body, nested blocks included.
    pub fn substitute(&mut self, name: &str, value: &Value) {
        for a in &mut self.attrs {
            a.expr.substitute(name, value);
        }
        for b in &mut self.blocks {
            b.body.substitute(name, value);
        }
    }
}
