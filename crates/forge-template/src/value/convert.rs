//! cty's conversion rules: primitive conversions, collection and structural conversions, and type
//! unification for `any` element types.

use std::collections::BTreeMap;
use std::fmt;

use super::{Kind, Number, Type, Value};

/// Why a value could not be converted, with the path inside the value where it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertError {
    /// Steps from the root to the failing part ("attribute \"a\"", "element 0").
    pub path: Vec<String>,
    /// What was required.
    pub message: String,
}

impl ConvertError {
    fn new(message: impl Into<String>) -> ConvertError {
        ConvertError {
            path: Vec::new(),
            message: message.into(),
        }
    }
    fn at(mut self, step: String) -> ConvertError {
        self.path.insert(0, step);
        self
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.last() {
            Some(step) => write!(f, "{step}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConvertError {}

/// Converts `v` to type `want` with cty's rules. The sensitive mark is kept.
pub fn convert(v: &Value, want: &Type) -> Result<Value, ConvertError> {
    if *want == Type::Dynamic {
        return Ok(v.clone());
    }
    let mark = v.sensitive;
    let out = match &v.kind {
        Kind::Null(_) => Value::null(want.clone()),
        Kind::Unknown(t) => {
            if !type_convertible(t, want) {
                return Err(mismatch(want, t));
            }
            Value::unknown(want.clone())
        }
        _ => convert_known(v, want)?,
    };
    Ok(out.marked(mark))
}

fn mismatch(want: &Type, got: &Type) -> ConvertError {
    let _ = got;
    match want {
        Type::Object(_) => ConvertError::new("object required"),
        Type::Tuple(_) => ConvertError::new("tuple required"),
        _ => ConvertError::new(format!("{} required", want.friendly_name())),
    }
}

/// Whether a value of type `from` could in principle convert to `to`.
pub fn type_convertible(from: &Type, to: &Type) -> bool {
    use Type::*;
    match (from, to) {
        (Dynamic, _) | (_, Dynamic) => true,
        (a, b) if a == b => true,
        (String | Number | Bool, String) => true,
        (String, Number | Bool) => true,
        (List(a) | Set(a), List(b) | Set(b)) => type_convertible(a, b),
        (Tuple(ts), List(b) | Set(b)) => ts.iter().all(|t| type_convertible(t, b)),
        (List(_) | Set(_), Tuple(_)) => true,
        (Tuple(a), Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| type_convertible(x, y))
        }
        (Map(a), Map(b)) => type_convertible(a, b),
        (Object(m), Map(b)) => m.values().all(|t| type_convertible(t, b)),
        (Map(_), Object(_)) => true,
        (Object(a), Object(b)) => b
            .iter()
            .all(|(k, t)| a.get(k).is_some_and(|s| type_convertible(s, t))),
        _ => false,
    }
}

fn convert_known(v: &Value, want: &Type) -> Result<Value, ConvertError> {
    match want {
        Type::Dynamic => Ok(v.clone()),
        Type::String => match &v.kind {
            Kind::String(_) => Ok(v.clone()),
            Kind::Number(n) => Ok(Value::string(n.to_string())),
            Kind::Bool(b) => Ok(Value::string(b.to_string())),
            _ => Err(mismatch(want, &v.ty())),
        },
        Type::Number => match &v.kind {
            Kind::Number(_) => Ok(v.clone()),
            Kind::String(s) => Number::parse(s)
                .filter(|_| {
                    !s.starts_with(char::is_whitespace) && !s.ends_with(char::is_whitespace)
                })
                .map(Value::number)
                .ok_or_else(|| ConvertError::new("a number is required")),
            _ => Err(mismatch(want, &v.ty())),
        },
        Type::Bool => match &v.kind {
            Kind::Bool(_) => Ok(v.clone()),
            Kind::String(s) => match s.as_str() {
                "true" | "1" => Ok(Value::bool(true)),
                "false" | "0" => Ok(Value::bool(false)),
                other if other.eq_ignore_ascii_case("true") => Err(ConvertError::new(
                    "a bool is required; to convert from string, use lowercase \"true\"",
                )),
                other if other.eq_ignore_ascii_case("false") => Err(ConvertError::new(
                    "a bool is required; to convert from string, use lowercase \"false\"",
                )),
                _ => Err(ConvertError::new("a bool is required")),
            },
            _ => Err(mismatch(want, &v.ty())),
        },
        Type::List(et) | Type::Set(et) => {
            let items = match &v.kind {
                Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => v.as_seq().unwrap_or(&[]),
                _ => return Err(mismatch(want, &v.ty())),
            };
            let (elem, out) = convert_elements(items.iter(), et, |i| format!("element {i}"))?;
            Ok(match want {
                Type::Set(_) => Value::set(elem, out),
                _ => Value::list(elem, out),
            })
        }
        Type::Map(et) => {
            let entries = match &v.kind {
                Kind::Map(..) | Kind::Object(_) => v.as_entries().cloned().unwrap_or_default(),
                _ => return Err(mismatch(want, &v.ty())),
            };
            let keys: Vec<String> = entries.keys().cloned().collect();
            let (elem, out) = convert_elements(entries.values(), et, |i| {
                format!(
                    "element {:?}",
                    keys.get(i).map(String::as_str).unwrap_or("")
                )
            })?;
            Ok(Value::map(elem, keys.into_iter().zip(out).collect()))
        }
        Type::Object(attrs) => {
            let entries = match &v.kind {
                Kind::Map(..) | Kind::Object(_) => v.as_entries().cloned().unwrap_or_default(),
                _ => return Err(mismatch(want, &v.ty())),
            };
            let mut out = BTreeMap::new();
            for (k, t) in attrs {
                let Some(src) = entries.get(k) else {
                    return Err(ConvertError::new(format!("attribute {k:?} is required")));
                };
                out.insert(
                    k.clone(),
                    convert(src, t).map_err(|e| e.at(format!("attribute {k:?}")))?,
                );
            }
            Ok(Value::object(out))
        }
        Type::Tuple(types) => {
            let items = match &v.kind {
                Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => v.as_seq().unwrap_or(&[]),
                _ => return Err(mismatch(want, &v.ty())),
            };
            if items.len() != types.len() {
                return Err(ConvertError::new(format!(
                    "tuple required with exactly {} elements",
                    types.len()
                )));
            }
            let out = items
                .iter()
                .zip(types)
                .enumerate()
                .map(|(i, (x, t))| convert(x, t).map_err(|e| e.at(format!("element {i}"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::tuple(out))
        }
    }
}

/// Converts every element to `et`, unifying first when `et` is `any`.
fn convert_elements<'a>(
    items: impl Iterator<Item = &'a Value> + Clone,
    et: &Type,
    step: impl Fn(usize) -> String,
) -> Result<(Type, Vec<Value>), ConvertError> {
    let target = if et.has_dynamic() {
        let types: Vec<Type> = items.clone().map(Value::ty).collect();
        if types.is_empty() {
            et.clone()
        } else {
            unify(&types)
                .ok_or_else(|| ConvertError::new("all elements must be of the same type"))?
        }
    } else {
        et.clone()
    };
    let out = items
        .enumerate()
        .map(|(i, x)| convert(x, &target).map_err(|e| e.at(step(i))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((target, out))
}

/// Finds one type that every given type converts to, as cty's `unify` does.
pub fn unify(types: &[Type]) -> Option<Type> {
    let first = types.first()?;
    if types.iter().all(|t| t == first) {
        return Some(first.clone());
    }
    if types.contains(&Type::Dynamic) {
        return Some(Type::Dynamic);
    }
    if types.iter().all(Type::is_primitive) {
        // Mixed primitives unify to string, unless number and bool meet without a string.
        return types.contains(&Type::String).then_some(Type::String);
    }
    let all = |f: fn(&Type) -> bool| types.iter().all(f);
    if all(|t| matches!(t, Type::List(_) | Type::Tuple(_))) {
        let mut elems = Vec::new();
        for t in types {
            match t {
                Type::List(e) => elems.push((**e).clone()),
                Type::Tuple(v) => elems.extend(v.iter().cloned()),
                _ => {}
            }
        }
        return Some(Type::list(if elems.is_empty() {
            Type::Dynamic
        } else {
            unify(&elems)?
        }));
    }
    if all(|t| matches!(t, Type::Set(_))) {
        let elems: Vec<Type> = types.iter().filter_map(|t| t.element().cloned()).collect();
        return Some(Type::set(unify(&elems)?));
    }
    if all(|t| matches!(t, Type::Object(_))) {
        // Objects with the same attribute names unify attribute-wise; otherwise to a map.
        let keys: Vec<Vec<&String>> = types
            .iter()
            .map(|t| match t {
                Type::Object(m) => m.keys().collect(),
                _ => Vec::new(),
            })
            .collect();
        if keys.iter().all(|k| *k == keys[0]) {
            let mut out = BTreeMap::new();
            for k in &keys[0] {
                let ts: Vec<Type> = types
                    .iter()
                    .filter_map(|t| match t {
                        Type::Object(m) => m.get(*k).cloned(),
                        _ => None,
                    })
                    .collect();
                out.insert((*k).clone(), unify(&ts)?);
            }
            return Some(Type::Object(out));
        }
    }
    if all(|t| matches!(t, Type::Map(_) | Type::Object(_))) {
        let mut elems = Vec::new();
        for t in types {
            match t {
                Type::Map(e) => elems.push((**e).clone()),
                Type::Object(m) => elems.extend(m.values().cloned()),
                _ => {}
            }
        }
        return Some(Type::map(if elems.is_empty() {
            Type::Dynamic
        } else {
            unify(&elems)?
        }));
    }
    None
}
