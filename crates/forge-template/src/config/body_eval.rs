//! Evaluates a plugin block's body into an object value: attributes by name, nested blocks as
//! lists of objects under their type, `dynamic` blocks expanded.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::Scope;
use crate::syntax::{Block, Body};
use crate::value::Value;

/// Evaluates every attribute and block of `body`; errors are collected, not fatal.
pub fn eval_body(body: &Body, scope: &Scope, diags: &mut Diagnostics) -> Value {
    let expanded;
    let body = if body.blocks.iter().any(|b| b.ty == "dynamic") {
        expanded = expand_dynamic_blocks(body, scope, diags);
        &expanded
    } else {
        body
    };
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for a in &body.attrs {
        match scope.eval(&a.expr) {
            Ok(v) => {
                out.insert(a.name.clone(), v);
            }
            Err(d) => diags.push(d),
        }
    }
    let mut blocks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in &body.blocks {
        let v = eval_body(&b.body, scope, diags);
        blocks
            .entry(b.ty.clone())
            .or_default()
            .push(with_labels(v, b));
    }
    for (k, v) in blocks {
        out.insert(k, Value::tuple(v));
    }
    Value::object(out)
}

fn with_labels(v: Value, b: &Block) -> Value {
    if b.labels.is_empty() {
        return v;
    }
    let mut m = v.as_entries().cloned().unwrap_or_default();
    m.insert(
        "__labels".into(),
        Value::tuple(
            b.labels
                .iter()
                .map(|(l, _)| Value::string(l.clone()))
                .collect(),
        ),
    );
    Value::object(m)
}

/// Expands `dynamic` blocks of a body (recursively) into plain blocks, as Packer's dynblock
/// expansion does before decoding: each element of `for_each` yields one block whose `content`
/// has the iterator (`<label>.key`, `<label>.value`) substituted. An unknown `for_each` yields
/// no blocks.
pub fn expand_dynamic_blocks(body: &Body, scope: &Scope, diags: &mut Diagnostics) -> Body {
    let mut out = Body {
        attrs: body.attrs.clone(),
        blocks: Vec::new(),
        span: body.span,
    };
    for b in &body.blocks {
        if b.ty != "dynamic" {
            let mut nb = b.clone();
            nb.body = expand_dynamic_blocks(&b.body, scope, diags);
            out.blocks.push(nb);
            continue;
        }
        let Some((ty, _)) = b.labels.first() else {
            diags.push(
                Diagnostic::error(
                    "Missing name for dynamic block",
                    "A dynamic block requires one label: the type of block to generate.",
                )
                .at(b.header_span()),
            );
            continue;
        };
        let (Some(for_each), Some(content)) =
            (b.body.attr("for_each"), b.body.blocks_of("content").next())
        else {
            diags.push(
                Diagnostic::error(
                    "Incomplete dynamic block",
                    "A dynamic block needs a \"for_each\" argument and a nested \"content\" block.",
                )
                .at(b.header_span()),
            );
            continue;
        };
        let iter_name = match b.body.attr("iterator").map(|a| &a.expr.kind) {
            Some(crate::syntax::ExprKind::Var(n)) => n.clone(),
            _ => ty.clone(),
        };
        let coll = match scope.eval(&for_each.expr) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        if coll.is_unknown() {
            continue;
        }
        let is_set = matches!(coll.kind, crate::value::Kind::Set(..));
        let pairs: Vec<(Value, Value)> = match (coll.as_seq(), coll.as_entries()) {
            // A set's elements are their own keys.
            (Some(items), _) => items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let key = if is_set {
                        x.clone()
                    } else {
                        Value::int(i as i64)
                    };
                    (key, x.clone())
                })
                .collect(),
            (_, Some(m)) => m
                .iter()
                .map(|(k, x)| (Value::string(k.clone()), x.clone()))
                .collect(),
            _ => {
                diags.push(
                    Diagnostic::error(
                        "Invalid dynamic for_each value",
                        "Cannot use this value in for_each. An iterable collection is required.",
                    )
                    .at(for_each.expr.span),
                );
                continue;
            }
        };
        for (k, v) in pairs {
            let it = Value::object(BTreeMap::from([
                ("key".to_string(), k),
                ("value".to_string(), v),
            ]));
            let mut cbody = content.body.clone();
            cbody.substitute(&iter_name, &it);
            let mut labels = Vec::new();
            if let Some(l) = b.body.attr("labels") {
                let mut le = l.expr.clone();
                le.substitute(&iter_name, &it);
                match scope.eval(&le) {
                    Ok(lv) => {
                        labels = lv
                            .as_seq()
                            .unwrap_or(&[])
                            .iter()
                            .filter_map(|x| x.as_str().map(|s| (s.to_string(), l.expr.span)))
                            .collect()
                    }
                    Err(d) => diags.push(d),
                }
            }
            out.blocks.push(Block {
                ty: ty.clone(),
                type_span: b.type_span,
                labels,
                body: expand_dynamic_blocks(&cbody, scope, diags),
                span: b.span,
            });
        }
    }
    out
}
