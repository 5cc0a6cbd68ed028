//! Type constraint expressions (`list(string)`, `object({ a = optional(number, 1) })`) and
//! conversion of values to them, defaults for optional attributes included.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::syntax::{Expr, ExprKind};
use crate::value::{convert, ConvertError, Type, Value};

/// A type constraint with optional object attributes and their defaults.
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// `string`, `number`, `bool` or `any`.
    Prim(Type),
    /// `list(T)`
    List(Box<Constraint>),
    /// `set(T)`
    Set(Box<Constraint>),
    /// `map(T)`
    Map(Box<Constraint>),
    /// `tuple([...])`
    Tuple(Vec<Constraint>),
    /// `object({...})`: attribute constraint, whether optional, and its default.
    Object(BTreeMap<String, (Constraint, bool, Option<Value>)>),
}

impl Constraint {
    /// The plain type (optional markers dropped).
    pub fn ty(&self) -> Type {
        match self {
            Constraint::Prim(t) => t.clone(),
            Constraint::List(c) => Type::list(c.ty()),
            Constraint::Set(c) => Type::set(c.ty()),
            Constraint::Map(c) => Type::map(c.ty()),
            Constraint::Tuple(v) => Type::Tuple(v.iter().map(Constraint::ty).collect()),
            Constraint::Object(m) => {
                Type::Object(m.iter().map(|(k, (c, _, _))| (k.clone(), c.ty())).collect())
            }
        }
    }

    /// Converts a value to this constraint, filling in optional attributes.
    pub fn apply(&self, v: &Value) -> Result<Value, ConvertError> {
        if v.is_null() || v.is_unknown() {
            return convert(v, &self.ty());
        }
        match self {
            Constraint::Prim(t) => convert(v, t),
            Constraint::Object(attrs) => {
                let Some(entries) = v.as_entries() else {
                    return convert(v, &self.ty());
                };
                let mut filled = BTreeMap::new();
                for (k, (c, optional, default)) in attrs {
                    match entries.get(k) {
                        Some(x) if !(x.is_null() && default.is_some()) => {
                            filled.insert(k.clone(), c.apply(x).map_err(|e| at(e, k))?);
                        }
                        _ if *optional => {
                            let d = default.clone().unwrap_or_else(|| Value::null(c.ty()));
                            filled.insert(k.clone(), c.apply(&d).map_err(|e| at(e, k))?);
                        }
                        _ => {
                            return Err(ConvertError {
                                path: Vec::new(),
                                message: format!("attribute {k:?} is required"),
                            })
                        }
                    }
                }
                Ok(Value::object(filled).marked(v.sensitive))
            }
            Constraint::List(c) | Constraint::Set(c) | Constraint::Map(c) => {
                if !c.has_optional() {
                    return convert(v, &self.ty());
                }
                let conv = convert(v, &Type::Dynamic)?;
                let applied = match (&conv.kind, self) {
                    (_, Constraint::Map(_)) => {
                        let m = conv.as_entries().cloned().unwrap_or_default();
                        let mut out = BTreeMap::new();
                        for (k, x) in m {
                            out.insert(k.clone(), c.apply(&x)?);
                        }
                        Value::object(out)
                    }
                    _ => Value::tuple(
                        conv.as_seq()
                            .unwrap_or(&[])
                            .iter()
                            .map(|x| c.apply(x))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                };
                convert(&applied, &self.ty()).map(|x| x.marked(v.sensitive))
            }
            Constraint::Tuple(cs) => {
                let items = v.as_seq().unwrap_or(&[]);
                if items.len() != cs.len() {
                    return convert(v, &self.ty());
                }
                Ok(Value::tuple(
                    items
                        .iter()
                        .zip(cs)
                        .map(|(x, c)| c.apply(x))
                        .collect::<Result<Vec<_>, _>>()?,
                )
                .marked(v.sensitive))
            }
        }
    }

    fn has_optional(&self) -> bool {
        match self {
            Constraint::Prim(_) => false,
            Constraint::List(c) | Constraint::Set(c) | Constraint::Map(c) => c.has_optional(),
            Constraint::Tuple(v) => v.iter().any(Constraint::has_optional),
            Constraint::Object(_) => true,
        }
    }
}

fn at(mut e: ConvertError, k: &str) -> ConvertError {
    e.path.insert(0, format!("attribute {k:?}"));
    e
}

fn bad(expr: &Expr, detail: &str) -> Diagnostic {
    Diagnostic::error("Invalid type specification", detail).at(expr.span)
}

/// Reads a type constraint expression.
pub fn type_constraint(e: &Expr) -> Result<Constraint, Diagnostic> {
    constraint(e)
}

fn constraint(e: &Expr) -> Result<Constraint, Diagnostic> {
    match &e.kind {
        ExprKind::Paren(x) => constraint(x),
        // HCL JSON writes the type expression as a string.
        ExprKind::Literal(v) if v.as_str().is_some() => {
            let src = v.as_str().unwrap_or_default();
            let parsed = crate::syntax::parse_expression(e.span.file, src)
                .map_err(|_| bad(e, "The string does not hold a valid type expression."))?;
            constraint(&parsed).map_err(|d| d.at(e.span))
        }
        ExprKind::Var(name) => match name.as_str() {
            "string" => Ok(Constraint::Prim(Type::String)),
            "number" => Ok(Constraint::Prim(Type::Number)),
            "bool" => Ok(Constraint::Prim(Type::Bool)),
            "any" => Ok(Constraint::Prim(Type::Dynamic)),
            "list" | "set" | "map" | "tuple" | "object" => Err(bad(
                e,
                &format!("The {name} type constructor requires one argument specifying the element type."),
            )),
            other => Err(bad(e, &format!("The keyword {other:?} is not a valid type specification."))),
        },
        ExprKind::Call { name, args, .. } => {
            let one = |what: &str| -> Result<&Expr, Diagnostic> {
                match args.as_slice() {
                    [a] => Ok(a),
                    _ => Err(bad(
                        e,
                        &format!("The {what} type constructor requires one argument specifying the element type."),
                    )),
                }
            };
            match name.as_str() {
                "list" => Ok(Constraint::List(Box::new(constraint(one("list")?)?))),
                "set" => Ok(Constraint::Set(Box::new(constraint(one("set")?)?))),
                "map" => Ok(Constraint::Map(Box::new(constraint(one("map")?)?))),
                "tuple" => {
                    let a = one("tuple")?;
                    let ExprKind::Tuple(items) = &a.kind else {
                        return Err(bad(a, "Tuple type constructor requires a list of element types."));
                    };
                    Ok(Constraint::Tuple(
                        items
                            .iter()
                            .map(constraint)
                            .collect::<Result<_, _>>()?,
                    ))
                }
                "object" => {
                    let a = one("object")?;
                    let ExprKind::Object(items) = &a.kind else {
                        return Err(bad(a, "Object type constructor requires a map whose keys are attribute names and whose values are the corresponding attribute types."));
                    };
                    let mut out = BTreeMap::new();
                    for (k, v) in items {
                        let key = match &k.kind {
                            ExprKind::Literal(x) => x.as_str().map(str::to_string),
                            ExprKind::Var(n) => Some(n.clone()),
                            _ => None,
                        }
                        .ok_or_else(|| bad(k, "Object constructor map keys must be attribute names."))?;
                        out.insert(key, object_attr(v)?);
                    }
                    Ok(Constraint::Object(out))
                }
                "optional" => Err(bad(
                    e,
                    "Keyword \"optional\" is valid only as a modifier for object type attributes.",
                )),
                other => Err(bad(e, &format!("Keyword {other:?} is not a valid type constructor."))),
            }
        }
        _ => Err(bad(e, "A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).")),
    }
}

fn object_attr(v: &Expr) -> Result<(Constraint, bool, Option<Value>), Diagnostic> {
    if let ExprKind::Call { name, args, .. } = &v.kind {
        if name == "optional" {
            return match args.as_slice() {
                [t] => Ok((constraint(t)?, true, None)),
                [t, d] => {
                    let c = constraint(t)?;
                    let env = crate::eval::EvalEnv::new(std::path::PathBuf::from("."));
                    let scope = crate::eval::Scope::new(&env, Vec::new());
                    let dv = scope.eval(d)?;
                    let dv = c.apply(&dv).map_err(|e| {
                        Diagnostic::error(
                            "Invalid default value for optional attribute",
                            format!("This default value is not compatible with the attribute's type constraint: {e}."),
                        )
                        .at(d.span)
                    })?;
                    Ok((c, true, Some(dv)))
                }
                _ => Err(bad(v, "Optional attribute modifier expects at most two arguments: the attribute type, and a default value.")),
            };
        }
    }
    Ok((constraint(v)?, false, None))
}
