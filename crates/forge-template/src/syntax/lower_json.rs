//! Lowers HCL JSON syntax (`.pkr.json`, `.pkrvars.json`) into forge's syntax tree.
//!
//! JSON does not say which properties are blocks, so the block types Packer's own schema knows
//! (with their label counts) are looked up by nesting; inside plugin bodies every property is an
//! attribute, and nested blocks arrive as objects or arrays of objects, which evaluate to the same
//! shapes. Strings are templates (`"${var.x}"`); a `"//"` property is a comment.

use super::{parse_template_at, Attribute, Block, Body, Expr, ExprKind};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span};
use crate::json::{parse_json, JsonKind, JsonValue};
use crate::value::{Number, Value};

/// Block types and their label counts, per enclosing block type ("" is the file's top level).
fn block_labels(parent: &str, name: &str) -> Option<usize> {
    let table: &[(&str, &str, usize)] = &[
        ("", "packer", 0),
        ("", "variable", 1),
        ("", "variables", 0),
        ("", "locals", 0),
        ("", "local", 1),
        ("", "source", 2),
        ("", "data", 2),
        ("", "build", 0),
        ("", "hcp_packer_registry", 0),
        ("packer", "required_plugins", 0),
        ("variable", "validation", 0),
        ("build", "source", 1),
        ("build", "provisioner", 1),
        ("build", "error-cleanup-provisioner", 1),
        ("build", "post-processor", 1),
        ("build", "post-processors", 0),
        ("build", "hcp_packer_registry", 0),
        ("post-processors", "post-processor", 1),
    ];
    table
        .iter()
        .find(|(p, n, _)| *p == parent && *n == name)
        .map(|(_, _, l)| *l)
}

/// Parses an HCL JSON file into a body.
pub fn parse_json_body(file: FileId, src: &str) -> Result<Body, Diagnostics> {
    let root = parse_json(src).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error(
                "Invalid JSON syntax",
                format!("The file could not be parsed: {}.", e.message),
            )
            .at(Span::new(file, e.offset..e.offset + 1)),
        )
    })?;
    let mut l = LowerJson {
        file,
        diags: Diagnostics::new(),
    };
    let body = l.body(&root, "");
    if l.diags.has_errors() {
        return Err(l.diags);
    }
    Ok(body)
}

struct LowerJson {
    file: FileId,
    diags: Diagnostics,
}

impl LowerJson {
    fn span(&self, r: &std::ops::Range<usize>) -> Span {
        Span::new(self.file, r.clone())
    }

    fn body(&mut self, v: &JsonValue, parent: &str) -> Body {
        let mut out = Body {
            span: self.span(&v.span),
            ..Body::default()
        };
        let JsonKind::Object(members) = &v.kind else {
            self.diags.push(
                Diagnostic::error(
                    "Incorrect JSON value type",
                    "A JSON object is required here, with properties for arguments and blocks.",
                )
                .at(self.span(&v.span)),
            );
            return out;
        };
        for m in members {
            if m.key == "//" {
                continue;
            }
            let key_span = self.span(&m.key_span);
            match block_labels(parent, &m.key) {
                Some(n) => self.blocks(&m.key, key_span, &m.value, n, Vec::new(), &mut out),
                None => {
                    if out.attrs.iter().any(|a| a.name == m.key) {
                        self.diags.push(
                            Diagnostic::error(
                                "Duplicate argument",
                                format!("The argument {:?} was already set.", m.key),
                            )
                            .at(key_span),
                        );
                        continue;
                    }
                    let expr = self.expr(&m.value);
                    out.attrs.push(Attribute {
                        name: m.key.clone(),
                        name_span: key_span,
                        span: key_span.to(expr.span),
                        expr,
                    });
                }
            }
        }
        out
    }

    /// A block property: labels are nested object keys; an array holds several blocks.
    fn blocks(
        &mut self,
        ty: &str,
        type_span: Span,
        v: &JsonValue,
        labels_left: usize,
        labels: Vec<(String, Span)>,
        out: &mut Body,
    ) {
        if let JsonKind::Array(items) = &v.kind {
            for it in items {
                self.blocks(ty, type_span, it, labels_left, labels.clone(), out);
            }
            return;
        }
        if labels_left == 0 {
            let body = self.body(v, ty);
            out.blocks.push(Block {
                ty: ty.to_string(),
                type_span,
                labels,
                span: type_span.to(body.span),
                body,
            });
            return;
        }
        let JsonKind::Object(members) = &v.kind else {
            self.diags.push(
                Diagnostic::error(
                    "Incorrect JSON value type",
                    format!("A JSON object is required for the labels of a {ty:?} block."),
                )
                .at(self.span(&v.span)),
            );
            return;
        };
        for m in members {
            let mut l = labels.clone();
            l.push((m.key.clone(), self.span(&m.key_span)));
            self.blocks(ty, type_span, &m.value, labels_left - 1, l, out);
        }
    }

    fn expr(&mut self, v: &JsonValue) -> Expr {
        let span = self.span(&v.span);
        let kind = match &v.kind {
            JsonKind::Null => ExprKind::Literal(Value::dynamic_null()),
            JsonKind::Bool(b) => ExprKind::Literal(Value::bool(*b)),
            JsonKind::Number(n) => match Number::parse(n) {
                Some(n) => ExprKind::Literal(Value::number(n)),
                None => ExprKind::Literal(Value::string(n.clone())),
            },
            JsonKind::String(s) => {
                if !s.contains("${") && !s.contains("%{") {
                    ExprKind::Literal(Value::string(s.clone()))
                } else {
                    match parse_template_at(self.file, s, v.span.start + 1) {
                        Ok(e) => e.kind,
                        Err(d) => {
                            self.diags.extend(d);
                            ExprKind::Literal(Value::dynamic_null())
                        }
                    }
                }
            }
            JsonKind::Array(items) => ExprKind::Tuple(items.iter().map(|x| self.expr(x)).collect()),
            JsonKind::Object(members) => ExprKind::Object(
                members
                    .iter()
                    .filter(|m| m.key != "//")
                    .map(|m| {
                        let k = Expr::literal(Value::string(m.key.clone()), self.span(&m.key_span));
                        (k, self.expr(&m.value))
                    })
                    .collect(),
            ),
        };
        Expr { kind, span }
    }
}
