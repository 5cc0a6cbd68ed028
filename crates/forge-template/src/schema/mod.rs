//! Plugin configuration schemas: every builder, provisioner, post-processor and data source type
//! forge knows registers a typed config struct, written once with [`plugin_config!`]. The macro
//! derives serde support and a [`Schema`] (argument names, cty types, required-ness and nested
//! blocks) from the same declaration.
//!
//! [`check`] validates an evaluated plugin block against its schema the way Packer's HCL decoder
//! does, reporting every problem at once; [`decode`] turns a wholly-known configuration into the
//! typed struct.

pub(crate) mod check;
mod decode;
mod field;
pub mod forge;
pub mod older;
pub mod plugins;
mod registry;
pub mod weak;

#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;

pub use check::{check, check_plugin, convert_plugin};
pub use decode::{decode, to_json};
pub use field::{ConfigStruct, FieldType};
pub use registry::{known, lookup, PluginKind, Registry};

use crate::value::Type;

/// The schema of one configuration struct: its fields in declaration order.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// The Rust struct's name.
    pub name: &'static str,
    /// The struct's documentation.
    pub doc: String,
    /// The arguments and nested blocks.
    pub fields: Vec<Field>,
}

impl Schema {
    /// The field of that HCL name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// The object type a value of this struct has when written as an argument.
    pub fn object_type(&self) -> Type {
        Type::Object(
            self.fields
                .iter()
                .map(|f| {
                    let t = match &f.kind {
                        FieldKind::Attr(t) => t.clone(),
                        FieldKind::Block(s, Nesting::Single) => s.object_type(),
                        FieldKind::Block(s, Nesting::List) => Type::list(s.object_type()),
                    };
                    (f.name.clone(), t)
                })
                .collect(),
        )
    }
}

/// One argument or nested block type.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The HCL name.
    pub name: String,
    /// The field's documentation.
    pub doc: String,
    /// Whether the template must set it.
    pub required: bool,
    /// An argument or a block.
    pub kind: FieldKind,
}

/// What a field is in HCL.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    /// An argument of that cty type.
    Attr(Type),
    /// A nested block with its own schema.
    Block(Schema, Nesting),
}

/// How many blocks of a nested type a body may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one (`Option<T>`) or exactly one (`T`).
    Single,
    /// Any number (`Vec<T>`).
    List,
}

/// Declares a plugin configuration struct once; generates the struct (with `Serialize`,
/// `Deserialize`, `Debug`, `Clone`, `Default`, `PartialEq`) and its [`ConfigStruct`] schema.
///
/// Fields are HCL arguments named as the field (raw identifiers lose their `r#`). A field whose
/// type is another `plugin_config!` struct (or `Option`/`Vec` of one) is a nested block; every
/// other type is an argument whose cty type comes from [`FieldType`]. `Option<T>` fields are
/// optional, all others required. A field marked `@flatten` merges another config struct's
/// fields into this one (shared groups such as the communicator options).
///
/// ```
/// forge_template::plugin_config! {
///     /// Example.
///     pub struct Example {
///         /// A required string.
///         name: String,
///         count: Option<i64>,
///     }
/// }
/// use forge_template::schema::ConfigStruct;
/// assert_eq!(Example::schema().fields.len(), 2);
/// ```
#[macro_export]
macro_rules! plugin_config {
    ($(
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $(@$flag:ident)? $field:ident : $fty:ty
            ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, $crate::schema::__serde::Serialize)]
        #[serde(crate = "forge_template::schema::__serde")]
        #[allow(non_snake_case)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                $(#[serde($flag)])?
                #[serde(skip_serializing_if = "forge_template::schema::__is_unset")]
                pub $field: $fty,
            )*
        }

        const _: () = {
            use $crate::schema::__serde as serde;

            impl<'de> serde::Deserialize<'de> for $name {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let v = $crate::schema::__single_object::<D>(
                        <$crate::schema::__json::Value as serde::Deserialize>::deserialize(d)?,
                    )?;
                    Ok($name {
                        $(
                            $field: $crate::schema::__field::<D, $fty>(
                                &v,
                                $crate::schema::__strip_raw(stringify!($field)),
                                false $(|| { let _ = stringify!($flag); true })?,
                            )?,
                        )*
                    })
                }
            }

            impl $crate::schema::FieldType for $name {
                fn kind() -> $crate::schema::FieldKind {
                    $crate::schema::FieldKind::Block(
                        <$name as $crate::schema::ConfigStruct>::schema(),
                        $crate::schema::Nesting::Single,
                    )
                }
                fn flatten_fields() -> Vec<$crate::schema::Field> {
                    <$name as $crate::schema::ConfigStruct>::schema().fields
                }
            }

            impl $crate::schema::ConfigStruct for $name {
                fn schema() -> $crate::schema::Schema {
                    #[allow(unused_mut)]
                    let mut fields: Vec<$crate::schema::Field> = Vec::new();
                    $(
                        if false $(|| { let _ = stringify!($flag); true })? {
                            fields.extend(<$fty as $crate::schema::FieldType>::flatten_fields());
                        } else {
                            fields.push($crate::schema::Field {
                                name: $crate::schema::__strip_raw(stringify!($field)).to_string(),
                                doc: $crate::schema::__docs(&[$(stringify!($fmeta)),*]),
                                required: <$fty as $crate::schema::FieldType>::required(),
                                kind: <$fty as $crate::schema::FieldType>::kind(),
                            });
                        }
                    )*
                    $crate::schema::Schema {
                        name: stringify!($name),
                        doc: $crate::schema::__docs(&[$(stringify!($meta)),*]),
                        fields,
                    }
                }
            }
        };
    )*};
}

#[doc(hidden)]
pub use serde as __serde;
#[doc(hidden)]
pub use serde_json as __json;

#[doc(hidden)]
pub use decode::{__field, __is_unset, __single_object};

#[doc(hidden)]
pub fn __strip_raw(s: &'static str) -> &'static str {
    s.strip_prefix("r#").unwrap_or(s)
}

/// Joins the text of `doc = "..."` attributes (as `stringify!` renders them).
#[doc(hidden)]
pub fn __docs(metas: &[&str]) -> String {
    let mut out = Vec::new();
    for m in metas {
        let Some(rest) = m.trim().strip_prefix("doc") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let lit = rest.trim();
        let text = match lit.strip_prefix('r') {
            // A raw string: r"..." or r#"..."#.
            Some(raw) => raw.trim_matches('#').trim_matches('"').to_string(),
            None => serde_json::from_str::<String>(lit)
                .unwrap_or_else(|_| lit.trim_matches('"').to_string()),
        };
        out.push(text.trim().to_string());
    }
    out.join("\n")
}
