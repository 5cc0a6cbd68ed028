//! Data sources at plan time. Without `-evaluate-datasources` their values are unknown, as in
//! Packer's validate; the engine evaluates the ones forge implements when a build runs.

use crate::diag::Diagnostics;
use crate::syntax::Block;
use crate::value::{Type, Value};

/// The value of `data.<type>.<name>` while planning.
pub fn evaluate(ty: &str, config: &Value, _block: &Block, _diags: &mut Diagnostics) -> Value {
    match ty {
        // The null data source echoes its `input` as `output`; nothing outside is touched.
        "null" => {
            let input = config
                .as_entries()
                .and_then(|m| m.get("input"))
                .cloned()
                .unwrap_or_else(Value::dynamic_null);
            Value::object(std::collections::BTreeMap::from([
                ("input".to_string(), input.clone()),
                ("output".to_string(), input),
            ]))
        }
        _ => Value::unknown(Type::Dynamic),
    }
}
