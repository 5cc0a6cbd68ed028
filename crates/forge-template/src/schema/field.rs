//! Rust types as schema fields: their cty type, whether they are required, and whether they are
//! nested blocks.

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;

use super::{Field, FieldKind, Nesting, Schema};
use crate::value::Type;

/// A type that can be a field of a plugin configuration struct.
pub trait FieldType: Sized {
    /// An argument of some cty type, or a nested block.
    fn kind() -> FieldKind;
    /// Whether a template must set the field (everything but `Option` and lists of blocks).
    fn required() -> bool {
        Self::absent().is_none()
    }
    /// The value a field takes when the template leaves it out, if it may.
    fn absent() -> Option<Self> {
        None
    }
    /// The fields a `@flatten` field contributes (config structs only).
    fn flatten_fields() -> Vec<Field> {
        Vec::new()
    }
    /// Whether the value is an unset optional (skipped when serializing).
    fn is_unset(&self) -> bool {
        false
    }
}

/// A configuration struct declared with [`plugin_config!`](crate::plugin_config).
pub trait ConfigStruct: FieldType + DeserializeOwned {
    /// The struct's schema.
    fn schema() -> Schema;
}

macro_rules! primitive {
    ($ty:expr => $($t:ty),*) => {$(
        impl FieldType for $t {
            fn kind() -> FieldKind {
                FieldKind::Attr($ty)
            }
        }
    )*};
}

primitive!(Type::String => String);
primitive!(Type::Bool => bool);
primitive!(Type::Number => i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, f32, f64);
primitive!(Type::Dynamic => serde_json::Value);

/// The cty type of a field written as an argument (blocks as objects).
fn attr_type(kind: FieldKind) -> Type {
    match kind {
        FieldKind::Attr(t) => t,
        FieldKind::Block(s, Nesting::Single) => s.object_type(),
        FieldKind::Block(s, Nesting::List) => Type::list(s.object_type()),
    }
}

impl<T: FieldType> FieldType for Option<T> {
    fn kind() -> FieldKind {
        T::kind()
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl<T: FieldType> FieldType for Vec<T> {
    fn kind() -> FieldKind {
        match T::kind() {
            FieldKind::Block(s, Nesting::Single) => FieldKind::Block(s, Nesting::List),
            k => FieldKind::Attr(Type::list(attr_type(k))),
        }
    }
    fn absent() -> Option<Self> {
        matches!(T::kind(), FieldKind::Block(..)).then(Vec::new)
    }
    fn is_unset(&self) -> bool {
        self.is_empty() && matches!(T::kind(), FieldKind::Block(..))
    }
}

impl<T: FieldType> FieldType for BTreeMap<String, T> {
    fn kind() -> FieldKind {
        FieldKind::Attr(Type::map(attr_type(T::kind())))
    }
}

impl<T: FieldType, S> FieldType for HashMap<String, T, S> {
    fn kind() -> FieldKind {
        FieldKind::Attr(Type::map(attr_type(T::kind())))
    }
}

/// Whether a field type is a single nested block.
pub(crate) fn is_single_block<T: FieldType>() -> bool {
    matches!(T::kind(), FieldKind::Block(_, Nesting::Single))
}
