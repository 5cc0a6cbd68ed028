//! Values and types as Packer has them (cty): primitives, collections, structural types, null,
//! unknown, and the sensitive mark.
//!
//! A [`Value`] carries its own `sensitive` mark; collection elements carry theirs. Operations that
//! combine values mark their result when any input was marked, so a secret never loses its mark.

pub mod convert;
pub(crate) mod display;
pub mod number;
pub mod types;

use std::collections::BTreeMap;

pub use crate::gocompat::quote::quote;
pub use convert::{convert, unify, ConvertError};
pub use number::Number;
pub use types::Type;

/// A value with its sensitive mark.
#[derive(Clone, Debug)]
pub struct Value {
    /// What the value is.
    pub kind: Kind,
    /// Whether the value (as a whole) is sensitive.
    pub sensitive: bool,
}

/// The shapes a value can take. Maps and objects keep their keys sorted, as cty does; set elements
/// are kept sorted and unique.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A typed null.
    Null(Type),
    /// A value not known until the build runs (or a data source not evaluated).
    Unknown(Type),
    /// A string.
    String(String),
    /// A number.
    Number(Number),
    /// A bool.
    Bool(bool),
    /// A list of one element type.
    List(Type, Vec<Value>),
    /// A set of one element type.
    Set(Type, Vec<Value>),
    /// A map of one element type.
    Map(Type, BTreeMap<String, Value>),
    /// A tuple: a sequence of any types.
    Tuple(Vec<Value>),
    /// An object: named attributes of any types.
    Object(BTreeMap<String, Value>),
}

impl Value {
    fn new(kind: Kind) -> Value {
        Value {
            kind,
            sensitive: false,
        }
    }
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::new(Kind::String(s.into()))
    }
    /// A number value.
    pub fn number(n: Number) -> Value {
        Value::new(Kind::Number(n))
    }
    /// A number from an integer.
    pub fn int(i: i64) -> Value {
        Value::number(Number::from_i64(i))
    }
    /// A bool value.
    pub fn bool(b: bool) -> Value {
        Value::new(Kind::Bool(b))
    }
    /// A null of the given type.
    pub fn null(t: Type) -> Value {
        Value::new(Kind::Null(t))
    }
    /// A null of no particular type.
    pub fn dynamic_null() -> Value {
        Value::null(Type::Dynamic)
    }
    /// An unknown of the given type.
    pub fn unknown(t: Type) -> Value {
        Value::new(Kind::Unknown(t))
    }
    /// A list; `elem` is the element type (used when the list is empty).
    pub fn list(elem: Type, items: Vec<Value>) -> Value {
        Value::new(Kind::List(elem, items))
    }
    /// A list whose element type is inferred from its items (they must already share a type).
    pub fn list_of(items: Vec<Value>) -> Value {
        let t = items.first().map(|v| v.ty()).unwrap_or(Type::Dynamic);
        Value::list(t, items)
    }
    /// A set; elements are sorted and made unique.
    pub fn set(elem: Type, mut items: Vec<Value>) -> Value {
        items.sort_by(set_order);
        items.dedup_by(|a, b| a.raw_equals(b));
        Value::new(Kind::Set(elem, items))
    }
    /// A map.
    pub fn map(elem: Type, items: BTreeMap<String, Value>) -> Value {
        Value::new(Kind::Map(elem, items))
    }
    /// A tuple.
    pub fn tuple(items: Vec<Value>) -> Value {
        Value::new(Kind::Tuple(items))
    }
    /// An object.
    pub fn object(attrs: BTreeMap<String, Value>) -> Value {
        Value::new(Kind::Object(attrs))
    }
    /// An empty object.
    pub fn empty_object() -> Value {
        Value::object(BTreeMap::new())
    }

    /// Returns this value with the sensitive mark set when `mark` is true.
    pub fn marked(mut self, mark: bool) -> Value {
        self.sensitive |= mark;
        self
    }
    /// Returns this value marked sensitive.
    pub fn mark_sensitive(self) -> Value {
        self.marked(true)
    }
    /// Whether this value or anything inside it is sensitive.
    pub fn is_sensitive_deep(&self) -> bool {
        self.sensitive || self.children().any(|c| c.is_sensitive_deep())
    }
    /// Removes every mark, deeply, and reports whether there was one.
    pub fn unmark_deep(mut self) -> (Value, bool) {
        let had = self.strip_marks();
        (self, had)
    }
    fn strip_marks(&mut self) -> bool {
        let mut had = std::mem::take(&mut self.sensitive);
        match &mut self.kind {
            Kind::List(_, v) | Kind::Set(_, v) | Kind::Tuple(v) => {
                for x in v {
                    had |= x.strip_marks();
                }
            }
            Kind::Map(_, m) | Kind::Object(m) => {
                for x in m.values_mut() {
                    had |= x.strip_marks();
                }
            }
            _ => {}
        }
        had
    }

    /// The value's type.
    pub fn ty(&self) -> Type {
        match &self.kind {
            Kind::Null(t) | Kind::Unknown(t) => t.clone(),
            Kind::String(_) => Type::String,
            Kind::Number(_) => Type::Number,
            Kind::Bool(_) => Type::Bool,
            Kind::List(t, _) => Type::List(Box::new(t.clone())),
            Kind::Set(t, _) => Type::Set(Box::new(t.clone())),
            Kind::Map(t, _) => Type::Map(Box::new(t.clone())),
            Kind::Tuple(v) => Type::Tuple(v.iter().map(Value::ty).collect()),
            Kind::Object(m) => Type::Object(m.iter().map(|(k, v)| (k.clone(), v.ty())).collect()),
        }
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null(_))
    }
    /// Whether the value itself is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self.kind, Kind::Unknown(_))
    }
    /// Whether the value or anything inside it is unknown.
    pub fn is_unknown_deep(&self) -> bool {
        self.is_unknown() || self.children().any(|c| c.is_unknown_deep())
    }
    /// Whether every part of the value is known.
    pub fn is_wholly_known(&self) -> bool {
        !self.is_unknown_deep()
    }

    /// The direct children of a collection or structural value.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Value> + '_> {
        match &self.kind {
            Kind::List(_, v) | Kind::Set(_, v) | Kind::Tuple(v) => Box::new(v.iter()),
            Kind::Map(_, m) | Kind::Object(m) => Box::new(m.values()),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// The string, when this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }
    /// The number, when this is a known number.
    pub fn as_number(&self) -> Option<&Number> {
        match &self.kind {
            Kind::Number(n) => Some(n),
            _ => None,
        }
    }
    /// The bool, when this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The elements of a list, set or tuple.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::List(_, v) | Kind::Set(_, v) | Kind::Tuple(v) => Some(v),
            _ => None,
        }
    }
    /// The entries of a map or object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match &self.kind {
            Kind::Map(_, m) | Kind::Object(m) => Some(m),
            _ => None,
        }
    }
    /// The number of elements of a collection or structure (None for primitives).
    pub fn len(&self) -> Option<usize> {
        self.as_seq()
            .map(<[Value]>::len)
            .or_else(|| self.as_entries().map(BTreeMap::len))
    }
    /// Whether a collection or structure has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Structural equality, including type and marks ignored; unknowns equal only by type.
    pub fn raw_equals(&self, other: &Value) -> bool {
        use Kind::*;
        match (&self.kind, &other.kind) {
            (Null(a), Null(b)) | (Unknown(a), Unknown(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (List(ta, a), List(tb, b)) | (Set(ta, a), Set(tb, b)) => {
                (ta == tb || a.len() + b.len() > 0)
                    && a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| x.raw_equals(y))
            }
            (Tuple(a), Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.raw_equals(y))
            }
            (Map(_, a), Map(_, b)) | (Object(a), Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.raw_equals(vb))
            }
            _ => false,
        }
    }

    /// The `==` operator: a bool, or unknown when either side is not wholly known.
    pub fn equals(&self, other: &Value) -> Value {
        let mark = self.is_sensitive_deep() || other.is_sensitive_deep();
        if self.is_unknown_deep() || other.is_unknown_deep() {
            return Value::unknown(Type::Bool).marked(mark);
        }
        let eq = match (&self.kind, &other.kind) {
            (Kind::Null(_), Kind::Null(_)) => true,
            (Kind::Null(_), _) | (_, Kind::Null(_)) => false,
            _ => {
                let (a, _) = self.clone().unmark_deep();
                let (b, _) = other.clone().unmark_deep();
                if a.ty().equals_loosely(&b.ty()) {
                    a.raw_equals(&b)
                } else {
                    false
                }
            }
        };
        Value::bool(eq).marked(mark)
    }
}

/// The order of set elements: cty sorts strings lexically, numbers numerically, false before
/// true, and everything else by its rendering.
pub fn set_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (&a.kind, &b.kind) {
        (Kind::String(x), Kind::String(y)) => x.cmp(y),
        (Kind::Number(x), Kind::Number(y)) => x.cmp(y),
        (Kind::Bool(x), Kind::Bool(y)) => x.cmp(y),
        (Kind::Unknown(_), Kind::Unknown(_)) => std::cmp::Ordering::Equal,
        (Kind::Unknown(_), _) => std::cmp::Ordering::Greater,
        (_, Kind::Unknown(_)) => std::cmp::Ordering::Less,
        _ => a.to_console_string().cmp(&b.to_console_string()),
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.raw_equals(other)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::string(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::string(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::int(i)
    }
}
