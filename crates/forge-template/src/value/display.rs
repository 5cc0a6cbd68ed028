//! How values print: `packer console`'s layout, and the string form templates interpolate.

use super::{Kind, Value};
use crate::gocompat::quote::quote;

/// The text shown for a sensitive value.
pub const SENSITIVE: &str = "<sensitive>";

impl Value {
    /// Renders the value exactly as `packer console` prints a result: a top-level string prints
    /// raw, everything else in HCL-like layout with two-space indents and trailing commas in lists.
    pub fn to_console_string(&self) -> String {
        if self.sensitive {
            return SENSITIVE.to_string();
        }
        match &self.kind {
            Kind::String(s) => s.clone(),
            _ => {
                let mut out = String::new();
                write_console(self, 0, &mut out);
                out
            }
        }
    }
}

fn write_console(v: &Value, indent: usize, out: &mut String) {
    if v.sensitive {
        out.push_str(&quote(SENSITIVE));
        return;
    }
    let pad = |n: usize| "  ".repeat(n);
    match &v.kind {
        Kind::Null(_) => out.push_str("null"),
        Kind::Unknown(_) => out.push_str("<unknown>"),
        Kind::String(s) => out.push_str(&quote(s)),
        Kind::Number(n) => out.push_str(&n.to_string()),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for item in items {
                out.push_str(&pad(indent + 1));
                write_console(item, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            let entries: Vec<_> = m.iter().filter(|(_, x)| !x.is_null()).collect();
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (k, x) in entries {
                out.push_str(&pad(indent + 1));
                out.push_str(&quote(k));
                out.push_str(" = ");
                write_console(x, indent + 1, out);
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
    }
}
