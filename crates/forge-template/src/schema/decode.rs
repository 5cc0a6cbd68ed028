//! From evaluated values to typed configuration structs, through JSON.

use serde::de::{DeserializeOwned, Error as _};
use serde::Deserializer;

use super::field::{is_single_block, ConfigStruct, FieldType};
use crate::value::{Kind, Value};

/// Turns a wholly-known configuration value into the typed struct, as Packer's plugins decode
/// theirs: first mapstructure's weak conversions to the struct's schema ([`weak`](super::weak)),
/// then the typed read. Sensitive marks are dropped; an unknown value anywhere is an error.
/// Conversion failures come back all at once, in mapstructure's summary.
pub fn decode<T: ConfigStruct>(config: &Value) -> Result<T, String> {
    let config =
        super::weak::convert(&T::schema(), config).map_err(|e| super::weak::summary(&e))?;
    let json = to_json(&config)?;
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// A wholly-known value as JSON: null, strings, numbers (exactly, as cty writes them), bools,
/// arrays for lists, sets and tuples, objects for maps and objects.
pub fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match &v.kind {
        Kind::Null(_) => J::Null,
        Kind::Unknown(_) => return Err("the value is not known until the build runs".into()),
        Kind::String(s) => J::String(s.clone()),
        Kind::Bool(b) => J::Bool(*b),
        Kind::Number(n) => {
            if n.is_infinite() {
                return Err("an infinite number has no JSON form".into());
            }
            let text = n.to_json_string();
            match text.parse::<serde_json::Number>() {
                Ok(num) => J::Number(num),
                Err(e) => return Err(format!("number {text}: {e}")),
            }
        }
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Kind::Map(_, m) | Kind::Object(m) => J::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), to_json(x)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// A block's body: an object, or a one-element list of one (how blocks are evaluated).
#[doc(hidden)]
pub fn __single_object<'de, D: Deserializer<'de>>(
    v: serde_json::Value,
) -> Result<serde_json::Value, D::Error> {
    match v {
        serde_json::Value::Object(_) => Ok(v),
        serde_json::Value::Array(mut items) if items.len() == 1 => {
            __single_object::<D>(items.pop().unwrap_or_default())
        }
        serde_json::Value::Array(items) => Err(D::Error::custom(format!(
            "expected one block, found {}",
            items.len()
        ))),
        other => Err(D::Error::custom(format!(
            "expected a block (an object), found {other}"
        ))),
    }
}

/// Reads one field of a config struct out of its JSON object.
#[doc(hidden)]
pub fn __field<'de, D: Deserializer<'de>, T: FieldType + DeserializeOwned>(
    whole: &serde_json::Value,
    name: &'static str,
    flatten: bool,
) -> Result<T, D::Error> {
    let at = |e: serde_json::Error| D::Error::custom(format!("{name}: {e}"));
    if flatten {
        return serde_json::from_value(whole.clone()).map_err(at);
    }
    let raw = whole.get(name).cloned().unwrap_or(serde_json::Value::Null);
    if raw.is_null() {
        return T::absent().ok_or_else(|| D::Error::missing_field(name));
    }
    let raw = match raw {
        serde_json::Value::Array(mut items) if is_single_block::<T>() => match items.len() {
            0 => serde_json::Value::Null,
            1 => items.pop().unwrap_or_default(),
            n => {
                return Err(D::Error::custom(format!(
                    "{name}: only one block is allowed, found {n}"
                )))
            }
        },
        other => other,
    };
    serde_json::from_value(raw).map_err(at)
}

/// Whether a field is an unset optional, for `skip_serializing_if`.
#[doc(hidden)]
pub fn __is_unset<T: FieldType>(v: &T) -> bool {
    v.is_unset()
}
