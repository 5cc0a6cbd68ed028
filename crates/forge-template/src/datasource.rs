//! Data sources while loading a template. With `skip` (validate without
//! `-evaluate-datasources`) every value is unknown, as in Packer; otherwise the data sources forge
//! implements and those the plugin declarations give ([`Executors`]) are executed for real, and
//! the others stay unknown until their plugins exist.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics};
use crate::syntax::Block;
use crate::value::{Type, Value};

/// Runs a data source: its configuration in, its outputs or an error message out.
pub type Executor = fn(&Value) -> Result<Value, String>;

/// The data sources implemented outside this crate, by type (the plugin declarations give
/// them; [`crate::LoadOptions::datasources`] carries them to the loader).
pub type Executors = BTreeMap<&'static str, Executor>;

/// The data sources this crate implements: `null` and `http`.
pub const BUILTIN: &[(&str, Executor)] = &[("null", null), ("http", http)];

/// The `null` data source echoes its `input` as `output`; nothing outside is touched.
pub fn null(config: &Value) -> Result<Value, String> {
    let input = config
        .as_entries()
        .and_then(|m| m.get("input"))
        .cloned()
        .unwrap_or_else(Value::dynamic_null);
    Ok(Value::object(BTreeMap::from([
        ("input".to_string(), input.clone()),
        ("output".to_string(), input),
    ])))
}

/// The value of `data.<type>.<name>`: executed by the built-in data source of that type or by
/// one of `others`, unknown when neither has it.
pub fn evaluate(
    ty: &str,
    config: &Value,
    block: &Block,
    skip: bool,
    others: &Executors,
    diags: &mut Diagnostics,
) -> Value {
    if skip || !config.is_wholly_known() {
        return Value::unknown(Type::Dynamic);
    }
    let builtin = BUILTIN.iter().find(|(t, _)| *t == ty).map(|(_, f)| *f);
    match builtin
        .or_else(|| others.get(ty).copied())
        .map(|f| f(config))
    {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            // Packer reports a failed data source with the error as the summary.
            diags.push(Diagnostic::error(e, "").at(block.header_span()));
            Value::unknown(Type::Dynamic)
        }
        None => Value::unknown(Type::Dynamic),
    }
}

/// Packer's `http` data source: one request, a 2xx response required. Its outputs are `url`,
/// `body`, and the response headers under `request_headers` (Packer's own naming).
pub fn http(config: &Value) -> Result<Value, String> {
    let m = config.as_entries().cloned().unwrap_or_default();
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let url = s("url");
    let mut errs = Vec::new();
    if url.is_empty() {
        errs.push("the `url` must be specified".to_string());
    }
    let mut method = s("method");
    if method.is_empty() {
        method = "GET".into();
    }
    const ALLOWED: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
    if !ALLOWED.contains(&method.as_str()) {
        errs.push(format!(
            "the `method` must be one of [{}]",
            ALLOWED.join(" ")
        ));
    }
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    let headers: Vec<(&str, String)> = m
        .get("request_headers")
        .and_then(|h| h.as_entries())
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let body = s("request_body");
    let resp = crate::secrets::http_send(
        &method,
        &url,
        &headers,
        (!body.is_empty()).then_some(body.as_bytes()),
    )?;
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "HTTP request error. Response code: {}",
            resp.status
        ));
    }
    let mut rh = BTreeMap::new();
    for (k, v) in resp.headers {
        rh.entry(canonical_header(&k)).or_insert(Value::string(v));
    }
    Ok(Value::object(BTreeMap::from([
        ("url".to_string(), Value::string(url)),
        ("body".to_string(), Value::string(resp.body)),
        ("request_headers".to_string(), Value::map(Type::String, rh)),
    ])))
}

/// Go's canonical header form: `content-type` → `Content-Type`.
fn canonical_header(k: &str) -> String {
    k.split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
