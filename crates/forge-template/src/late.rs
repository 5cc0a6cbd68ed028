//! Late evaluation: a plugin's configuration once the build has generated its data
//! (`build.ID`, `build.Host`, ...), which the plan could only hold as unknown values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::body_eval::eval_body;
use crate::diag::Diagnostics;
use crate::eval::{EvalEnv, Scope};
use crate::legacy::interp::{render, InterpContext};
use crate::plan::{BuildPlan, PlannedBuild, PluginConfig};
use crate::schema::{convert_plugin, PluginKind};
use crate::value::{Kind, Type, Value};

/// `cfg` evaluated again with `build.*` set from `data`. HCL2 bodies are re-evaluated in the
/// plan's scope and converted to the schema of the `kind` plugin, as when the template loaded;
/// legacy configurations render their remaining `{{ .X }}` fields.
pub fn resolve(
    plan: &BuildPlan,
    build: &PlannedBuild,
    kind: PluginKind,
    cfg: &PluginConfig,
    data: &BTreeMap<String, String>,
) -> Result<Value, String> {
    let Some(body) = &cfg.body else {
        return Ok(render_legacy(&cfg.config, data));
    };
    let root = plan
        .scope
        .iter()
        .find(|(k, _)| k == "path")
        .and_then(|(_, v)| match &v.kind {
            Kind::Object(m) => m.get("root").and_then(|r| r.as_str()).map(PathBuf::from),
            _ => None,
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let env = EvalEnv::new(root);
    let mut names = plan.scope.clone();
    names.push((
        "source".into(),
        Value::object(BTreeMap::from([
            ("name".to_string(), Value::string(build.local_name.clone())),
            (
                "type".to_string(),
                Value::string(build.builder_type.clone()),
            ),
        ])),
    ));
    let mut b: BTreeMap<String, Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::string(v.clone())))
        .collect();
    b.insert(
        "name".into(),
        Value::string(build.build_name.clone().unwrap_or_default()),
    );
    b.insert("type".into(), Value::string(build.builder_type.clone()));
    names.push(("build".into(), Value::object(b)));
    let scope = Scope::new(&env, names);
    let mut diags = Diagnostics::new();
    let v = eval_body(body, &scope, &mut diags);
    let (v, more) = convert_plugin(
        kind,
        &PluginConfig {
            config: v,
            ..cfg.clone()
        },
    );
    diags.extend(more);
    if diags.has_errors() {
        let msgs: Vec<String> = diags
            .errors()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        return Err(msgs.join("; "));
    }
    // Sensitive marks of the plan's value survive (the body holds the same expressions).
    Ok(v)
}

fn render_legacy(v: &Value, data: &BTreeMap<String, String>) -> Value {
    let sens = v.sensitive;
    let out = match &v.kind {
        Kind::String(s) if s.contains("{{") => {
            let vars = indexmap::IndexMap::new();
            let mut ic = InterpContext::new(&vars);
            ic.keep_unknown_fields = true;
            ic.data = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            Value::string(render(s, &ic).unwrap_or_else(|_| s.clone()))
        }
        Kind::List(t, items) => Value::list(
            t.clone(),
            items.iter().map(|x| render_legacy(x, data)).collect(),
        ),
        Kind::Tuple(items) => Value::tuple(items.iter().map(|x| render_legacy(x, data)).collect()),
        Kind::Map(t, m) => Value::map(
            t.clone(),
            m.iter()
                .map(|(k, x)| (k.clone(), render_legacy(x, data)))
                .collect(),
        ),
        Kind::Object(m) => Value::object(
            m.iter()
                .map(|(k, x)| (k.clone(), render_legacy(x, data)))
                .collect(),
        ),
        _ => v.clone(),
    };
    out.marked(sens)
}

/// The build variables (`build.ID`, ...) every builder provides, known once the build runs.
pub const BUILD_KEYS: &[&str] = &[
    "ID",
    "Host",
    "Port",
    "User",
    "Password",
    "ConnType",
    "PackerRunUUID",
    "PackerHTTPIP",
    "PackerHTTPPort",
    "PackerHTTPAddr",
    "SSHPublicKey",
    "SSHPrivateKey",
    "SSHPrivateKeyFile",
    "SSHAgentAuth",
    "WinRMPassword",
];

/// What `build.*` holds while plugins are prepared, before the build runs (Packer's
/// `"<unknown>"`).
pub const UNKNOWN_BUILD_VALUE: &str = "<unknown>";

/// The configuration a provisioner or post-processor is prepared with before the build runs, as
/// Packer prepares it: HCL2 bodies are evaluated with every `build.*` set to `"<unknown>"`, so
/// that a longer string keeps its literal parts (`"VM_NAME=<unknown>"`); what stays unknown
/// (data sources `validate` skips) becomes [`placeholders`].
pub fn prepare_value(
    plan: &BuildPlan,
    build: &PlannedBuild,
    kind: PluginKind,
    cfg: &PluginConfig,
) -> Value {
    if cfg.body.is_none() {
        return placeholders(&cfg.config);
    }
    let data: BTreeMap<String, String> = BUILD_KEYS
        .iter()
        .map(|k| (k.to_string(), UNKNOWN_BUILD_VALUE.to_string()))
        .collect();
    match resolve(plan, build, kind, cfg, &data) {
        Ok(v) => placeholders(&v),
        Err(_) => placeholders(&cfg.config),
    }
}

/// Packer's stand-in for a string not known yet (hcl2shim's `UnknownVariableValue`): plugins'
/// checks see it where a value only the build will know goes.
pub const UNKNOWN_STRING: &str = "74D93920-ED26-11E3-AC10-0800200C9A66";

/// `v` with every unknown leaf replaced by [`UNKNOWN_STRING`] (or null for non-strings), so
/// that a plugin can check the rest of its configuration before the build runs.
pub fn placeholders(v: &Value) -> Value {
    let sens = v.sensitive;
    let out = match &v.kind {
        Kind::Unknown(Type::String) | Kind::Unknown(Type::Dynamic) => Value::string(UNKNOWN_STRING),
        Kind::Unknown(t) => Value::null(t.clone()),
        Kind::List(t, items) => Value::list(t.clone(), items.iter().map(placeholders).collect()),
        Kind::Set(t, items) => Value::set(t.clone(), items.iter().map(placeholders).collect()),
        Kind::Tuple(items) => Value::tuple(items.iter().map(placeholders).collect()),
        Kind::Map(t, m) => Value::map(
            t.clone(),
            m.iter()
                .map(|(k, x)| (k.clone(), placeholders(x)))
                .collect(),
        ),
        Kind::Object(m) => Value::object(
            m.iter()
                .map(|(k, x)| (k.clone(), placeholders(x)))
                .collect(),
        ),
        _ => v.clone(),
    };
    out.marked(sens)
}

/// Every sensitive string leaf in `v` (the secrets the engine must redact).
pub fn sensitive_strings(v: &Value, out: &mut Vec<String>) {
    walk(v, false, out)
}

fn walk(v: &Value, inherited: bool, out: &mut Vec<String>) {
    let s = inherited || v.sensitive;
    match &v.kind {
        Kind::String(x) if s => out.push(x.clone()),
        Kind::Number(n) if s => out.push(n.to_json_string()),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            items.iter().for_each(|x| walk(x, s, out))
        }
        Kind::Map(_, m) | Kind::Object(m) => m.values().for_each(|x| walk(x, s, out)),
        _ => {}
    }
}
