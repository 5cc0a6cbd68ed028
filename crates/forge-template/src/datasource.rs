//! Data sources while loading a template. With `skip` (validate without
//! `-evaluate-datasources`) every value is unknown, as in Packer; otherwise the data sources forge
//! implements are executed for real, and the others stay unknown until their plugins exist.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics};
use crate::syntax::Block;
use crate::value::{Type, Value};

/// Runs a data source implemented outside this crate: its configuration in, its outputs or
/// an error message out.
pub type Executor = fn(&Value) -> Result<Value, String>;

fn executors() -> &'static std::sync::RwLock<BTreeMap<&'static str, Executor>> {
    static ALL: std::sync::OnceLock<std::sync::RwLock<BTreeMap<&'static str, Executor>>> =
        std::sync::OnceLock::new();
    ALL.get_or_init(Default::default)
}

/// Registers the executor of data source type `ty` (plugin crates call this at start-up).
pub fn register_executor(ty: &'static str, f: Executor) {
    executors()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(ty, f);
}

/// Whether `forge build` evaluates data source `ty` for real (built in, or registered).
pub fn evaluates(ty: &str) -> bool {
    ty == "null"
        || ty == "http"
        || executors()
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(ty)
}

/// The value of `data.<type>.<name>`.
pub fn evaluate(
    ty: &str,
    config: &Value,
    block: &Block,
    skip: bool,
    diags: &mut Diagnostics,
) -> Value {
    if skip || !config.is_wholly_known() {
        return Value::unknown(Type::Dynamic);
    }
    let get = |k: &str| config.as_entries().and_then(|m| m.get(k)).cloned();
    match ty {
        // The null data source echoes its `input` as `output`; nothing outside is touched.
        "null" => {
            let input = get("input").unwrap_or_else(Value::dynamic_null);
            Value::object(BTreeMap::from([
                ("input".to_string(), input.clone()),
                ("output".to_string(), input),
            ]))
        }
        "http" => match http(config) {
            Ok(v) => v,
            Err(e) => {
                // Packer reports a failed data source with the error as the summary.
                diags.push(Diagnostic::error(e, "").at(block.header_span()));
                Value::unknown(Type::Dynamic)
            }
        },
        _ => {
            let f = executors()
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(ty)
                .copied();
            match f.map(|f| f(config)) {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    diags.push(Diagnostic::error(e, "").at(block.header_span()));
                    Value::unknown(Type::Dynamic)
                }
                None => Value::unknown(Type::Dynamic),
            }
        }
    }
}

/// Packer's `http` data source: one request, a 2xx response required. Its outputs are `url`,
/// `body`, and the response headers under `request_headers` (Packer's own naming).
fn http(config: &Value) -> Result<Value, String> {
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
