//! Lowers hcl-edit's span-preserving syntax tree (HCL native syntax) into forge's own tree.

use hcl_edit::expr::{self as hexpr, Expression as HExpr, ObjectKey, TraversalOperator};
use hcl_edit::structure::{self as hstruct, BlockLabel, Structure};
use hcl_edit::template::{self as htpl, Directive, Element, Strip};
use hcl_edit::Span as _;

use super::*;
use crate::diag::{Diagnostic, Diagnostics, FileId};
use crate::value::Number;

struct Lower<'s> {
    src: &'s str,
    file: FileId,
    /// Added to every span: where the parsed text starts in its file.
    base: usize,
    diags: Diagnostics,
}

impl Lower<'_> {
    fn span(&self, s: &impl hcl_edit::Span) -> Span {
        let r = s.span().unwrap_or(0..0);
        Span::new(self.file, r.start + self.base..r.end + self.base)
    }
}

fn parse_error(file: FileId, src: &str, e: hcl_edit::parser::Error) -> Diagnostic {
    // The parser's offset may fall inside a multi-byte character: step back to its start.
    let mut off = e.location().offset().min(src.len());
    while !src.is_char_boundary(off) {
        off -= 1;
    }
    let end = src[off..]
        .chars()
        .next()
        .map(|c| off + c.len_utf8())
        .unwrap_or(off);
    Diagnostic::error(
        "Invalid HCL syntax",
        format!("The file could not be parsed: {}.", e.message()),
    )
    .at(Span::new(file, off..end))
}

/// Parses a whole file of HCL native syntax into a body.
pub fn parse_hcl_body(file: FileId, src: &str) -> Result<Body, Diagnostics> {
    let (body, text) =
        parse_lenient(src, hcl_edit::parser::parse_body).map_err(|e| parse_error(file, src, e))?;
    let mut l = Lower {
        src: &text,
        file,
        base: 0,
        diags: Diagnostics::new(),
    };
    let out = l.body(&body);
    if l.diags.has_errors() {
        return Err(l.diags);
    }
    Ok(out)
}

/// Parses with `parse`, accepting what HCL accepts but hcl-edit rejects: an object constructor
/// that repeats a key (the later value wins when evaluated). Every repeated key is re-spelt as a
/// quoted or parenthesised key of the same name, which hcl-edit treats as distinct; columns after
/// it on that line shift. A repeat the one-pass scan misses is re-spelt where hcl-edit reports
/// it, within a budget of re-parses that keeps the time bounded by the text's size.
fn parse_lenient<T>(
    src: &str,
    parse: impl Fn(&str) -> Result<T, hcl_edit::parser::Error>,
) -> Result<(T, std::borrow::Cow<'_, str>), hcl_edit::parser::Error> {
    use super::dupkeys::{reparse_budget, repeated_object_keys, respell_repeated_keys};
    let mut text = std::borrow::Cow::Borrowed(src);
    let mut scanned = false;
    let mut reparses = reparse_budget(src.len());
    loop {
        match parse(&text) {
            Ok(b) => return Ok((b, text)),
            Err(e) if e.message().contains("redefined object key") => {
                if !scanned {
                    scanned = true;
                    let keys = repeated_object_keys(&text);
                    if !keys.is_empty() {
                        text = std::borrow::Cow::Owned(respell_repeated_keys(&text, &keys));
                        continue;
                    }
                }
                let at = e.location().offset();
                match respell_key(&text, at) {
                    Some(respelt) if reparses > 0 => {
                        reparses -= 1;
                        text = std::borrow::Cow::Owned(respelt);
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Rewrites the object key starting at byte `at`: `k` → `"k"`, `"k"` → `("k")`.
fn respell_key(text: &str, at: usize) -> Option<String> {
    let rest = text.get(at..)?;
    let len = if let Some(q) = rest.strip_prefix('"') {
        q.find('"')? + 2
    } else {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))?
    };
    if len == 0 {
        return None;
    }
    let key = &rest[..len];
    let new = if key.starts_with('"') {
        format!("({key})")
    } else {
        format!("\"{key}\"")
    };
    Some(format!("{}{}{}", &text[..at], new, &rest[len..]))
}

/// Parses one expression (for `-var` values, the console, and type expressions).
pub fn parse_expression(file: FileId, src: &str) -> Result<Expr, Diagnostics> {
    let (e, text) =
        parse_lenient(src, hcl_edit::parser::parse_expr).map_err(|e| parse_error(file, src, e))?;
    let mut l = Lower {
        src: &text,
        file,
        base: 0,
        diags: Diagnostics::new(),
    };
    let out = l.expr(&e);
    if l.diags.has_errors() {
        return Err(l.diags);
    }
    Ok(out)
}

/// Parses a bare template (the contents of a `templatefile` file).
pub fn parse_template(file: FileId, src: &str) -> Result<Expr, Diagnostics> {
    parse_template_at(file, src, 0)
}

/// Parses a template that starts at byte `base` of its file (a string in an HCL JSON file).
pub fn parse_template_at(file: FileId, src: &str, base: usize) -> Result<Expr, Diagnostics> {
    let t = hcl_edit::parser::parse_template(src).map_err(|e| {
        let mut d = parse_error(file, src, e);
        if let Some(s) = d.subject.as_mut() {
            s.start += base as u32;
            s.end += base as u32;
        }
        d
    })?;
    let mut l = Lower {
        src,
        file,
        base,
        diags: Diagnostics::new(),
    };
    let parts = l.template(&t);
    Ok(Expr {
        kind: ExprKind::Template(parts),
        span: Span::new(file, base..base + src.len()),
    })
}

impl Lower<'_> {
    fn body(&mut self, b: &hstruct::Body) -> Body {
        let mut out = Body {
            span: self.span(b),
            ..Body::default()
        };
        for s in b.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str().to_string();
                    let name_span = self.span(&a.key);
                    if let Some(prev) = out.attrs.iter().find(|x| x.name == name) {
                        let _ = prev;
                        self.diags.push(
                            Diagnostic::error(
                                "Attribute redefined",
                                format!("The argument {name:?} was already set. Each argument may be set only once."),
                            )
                            .at(name_span),
                        );
                        continue;
                    }
                    let expr = self.expr(&a.value);
                    out.attrs.push(Attribute {
                        name,
                        name_span,
                        expr,
                        span: self.span(a),
                    });
                }
                Structure::Block(bl) => {
                    let labels = bl
                        .labels
                        .iter()
                        .map(|l| {
                            let s = match l {
                                BlockLabel::Ident(i) => i.as_str().to_string(),
                                BlockLabel::String(s) => s.as_str().to_string(),
                            };
                            (s, self.span(l))
                        })
                        .collect();
                    out.blocks.push(Block {
                        ty: bl.ident.as_str().to_string(),
                        type_span: self.span(&bl.ident),
                        labels,
                        body: self.body(&bl.body),
                        span: self.span(bl),
                    });
                }
            }
        }
        out
    }

    fn expr(&mut self, e: &HExpr) -> Expr {
        let span = self.span(e);
        let kind = match e {
            HExpr::Null(_) => ExprKind::Literal(crate::value::Value::dynamic_null()),
            HExpr::Bool(b) => ExprKind::Literal((*b.value()).into()),
            HExpr::Number(n) => {
                let text = n
                    .span()
                    .and_then(|r| self.src.get(r))
                    .map(|t| t.trim().to_string())
                    .unwrap_or_else(|| n.value().to_string());
                match Number::parse(&text) {
                    Some(n) => ExprKind::Literal(crate::value::Value::number(n)),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                "Invalid number literal",
                                format!("{text:?} is not a valid number."),
                            )
                            .at(span),
                        );
                        ExprKind::Literal(crate::value::Value::dynamic_null())
                    }
                }
            }
            HExpr::String(s) => ExprKind::Literal(s.value().as_str().into()),
            HExpr::Array(a) => ExprKind::Tuple(a.iter().map(|x| self.expr(x)).collect()),
            HExpr::Object(o) => ExprKind::Object(
                o.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            ObjectKey::Ident(i) => Expr::literal(i.as_str().into(), self.span(i)),
                            ObjectKey::Expression(x) => self.expr(x),
                        };
                        (key, self.expr(v.expr()))
                    })
                    .collect(),
            ),
            HExpr::StringTemplate(t) => ExprKind::Template(self.template(t)),
            HExpr::HeredocTemplate(h) => ExprKind::Template(self.template(&h.template)),
            HExpr::Parenthesis(p) => ExprKind::Paren(Box::new(self.expr(p.inner()))),
            HExpr::Variable(v) => ExprKind::Var(v.as_str().to_string()),
            HExpr::Conditional(c) => ExprKind::Cond(
                Box::new(self.expr(&c.cond_expr)),
                Box::new(self.expr(&c.true_expr)),
                Box::new(self.expr(&c.false_expr)),
            ),
            HExpr::FuncCall(f) => {
                let mut name = String::new();
                for ns in &f.name.namespace {
                    name.push_str(ns.as_str());
                    name.push_str("::");
                }
                name.push_str(f.name.name.as_str());
                ExprKind::Call {
                    name,
                    name_span: self.span(&f.name.name),
                    args: f.args.iter().map(|a| self.expr(a)).collect(),
                    expand: f.args.expand_final(),
                }
            }
            HExpr::Traversal(t) => {
                let base = self.expr(&t.expr);
                let ops = t
                    .operators
                    .iter()
                    .map(|op| {
                        let sp = self.span(op);
                        match op.value() {
                            TraversalOperator::AttrSplat(_) => Op::Splat {
                                full: false,
                                span: sp,
                            },
                            TraversalOperator::FullSplat(_) => Op::Splat {
                                full: true,
                                span: sp,
                            },
                            TraversalOperator::GetAttr(i) => Op::Attr(i.as_str().to_string(), sp),
                            TraversalOperator::Index(x) => Op::Index(self.expr(x)),
                            TraversalOperator::LegacyIndex(n) => Op::Index(Expr::literal(
                                crate::value::Value::number(Number::from_i64(
                                    i64::try_from(*n.value()).unwrap_or(i64::MAX),
                                )),
                                sp,
                            )),
                        }
                    })
                    .collect();
                ExprKind::Traverse(Box::new(base), ops)
            }
            HExpr::UnaryOp(u) => ExprKind::Unary(
                match u.operator.value() {
                    hexpr::UnaryOperator::Neg => UnaryOp::Neg,
                    hexpr::UnaryOperator::Not => UnaryOp::Not,
                },
                Box::new(self.expr(&u.expr)),
            ),
            HExpr::BinaryOp(b) => {
                use hexpr::BinaryOperator as B;
                let op = match b.operator.value() {
                    B::Eq => BinaryOp::Eq,
                    B::NotEq => BinaryOp::NotEq,
                    B::LessEq => BinaryOp::LessEq,
                    B::GreaterEq => BinaryOp::GreaterEq,
                    B::Less => BinaryOp::Less,
                    B::Greater => BinaryOp::Greater,
                    B::Plus => BinaryOp::Add,
                    B::Minus => BinaryOp::Sub,
                    B::Mul => BinaryOp::Mul,
                    B::Div => BinaryOp::Div,
                    B::Mod => BinaryOp::Mod,
                    B::And => BinaryOp::And,
                    B::Or => BinaryOp::Or,
                };
                ExprKind::Binary(
                    op,
                    Box::new(self.expr(&b.lhs_expr)),
                    Box::new(self.expr(&b.rhs_expr)),
                )
            }
            HExpr::ForExpr(f) => ExprKind::For(Box::new(ForExpr {
                key_var: f.intro.key_var.as_ref().map(|k| k.as_str().to_string()),
                value_var: f.intro.value_var.as_str().to_string(),
                collection: self.expr(&f.intro.collection_expr),
                key: f.key_expr.as_ref().map(|k| self.expr(k)),
                value: self.expr(&f.value_expr),
                grouping: f.grouping,
                cond: f.cond.as_ref().map(|c| self.expr(&c.expr)),
            })),
        };
        Expr { kind, span }
    }

    fn template(&mut self, t: &htpl::Template) -> Vec<TemplatePart> {
        let mut parts: Vec<TemplatePart> = Vec::new();
        // Pending "strip the whitespace at the start of the next literal".
        let mut strip_next = false;
        for el in t.iter() {
            match el {
                Element::Literal(s) => {
                    let text = if strip_next {
                        s.value().trim_start().to_string()
                    } else {
                        s.value().to_string()
                    };
                    strip_next = false;
                    parts.push(TemplatePart::Literal(text));
                }
                Element::Interpolation(i) => {
                    strip_prev(&mut parts, i.strip);
                    parts.push(TemplatePart::Interp(self.expr(&i.expr)));
                    strip_next = matches!(i.strip, Strip::End | Strip::Both);
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(i) => {
                        strip_prev(&mut parts, i.if_expr.strip);
                        let mut then = self.template(&i.if_expr.template);
                        strip_first(&mut then, i.if_expr.strip);
                        let mut otherwise = Vec::new();
                        if let Some(e) = &i.else_expr {
                            strip_last(&mut then, e.strip);
                            otherwise = self.template(&e.template);
                            strip_first(&mut otherwise, e.strip);
                            strip_last(&mut otherwise, i.endif_expr.strip);
                        } else {
                            strip_last(&mut then, i.endif_expr.strip);
                        }
                        parts.push(TemplatePart::If {
                            cond: self.expr(&i.if_expr.cond_expr),
                            then,
                            otherwise,
                        });
                        strip_next = matches!(i.endif_expr.strip, Strip::End | Strip::Both);
                    }
                    Directive::For(f) => {
                        let fe = &f.for_expr;
                        strip_prev(&mut parts, fe.strip);
                        let mut body = self.template(&fe.template);
                        strip_first(&mut body, fe.strip);
                        strip_last(&mut body, f.endfor_expr.strip);
                        parts.push(TemplatePart::For {
                            key_var: fe.key_var.as_ref().map(|k| k.as_str().to_string()),
                            value_var: fe.value_var.as_str().to_string(),
                            collection: self.expr(&fe.collection_expr),
                            body,
                        });
                        strip_next = matches!(f.endfor_expr.strip, Strip::End | Strip::Both);
                    }
                },
            }
        }
        parts
    }
}

/// `~` before a marker strips the whitespace at the end of the literal before it.
fn strip_prev(parts: &mut [TemplatePart], strip: Strip) {
    if matches!(strip, Strip::Start | Strip::Both) {
        if let Some(TemplatePart::Literal(s)) = parts.last_mut() {
            *s = s.trim_end().to_string();
        }
    }
}

/// `~` after an opening marker strips the whitespace at the start of the body.
fn strip_first(parts: &mut [TemplatePart], strip: Strip) {
    if matches!(strip, Strip::End | Strip::Both) {
        if let Some(TemplatePart::Literal(s)) = parts.first_mut() {
            *s = s.trim_start().to_string();
        }
    }
}

/// `~` before a closing marker strips the whitespace at the end of the body.
fn strip_last(parts: &mut [TemplatePart], strip: Strip) {
    strip_prev(parts, strip)
}
