//! The legacy JSON template model, parsed and validated with Packer's rules and error texts
//! (SDK `template/parse.go`, `template/template.go`, core `validate`).
//!
//! Like Packer, errors are reported in phases: JSON syntax, then duplicate keys, then the root
//! structure (types of root keys, unknown keys), then the contents (variables, builders,
//! provisioners, post-processors), then cross-checks (`only`/`except`/`override` names, at least
//! one builder, `min_packer_version`). All errors of the first failing phase are returned.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;

use super::PACKER_COMPAT_VERSION;
use crate::json::{parse_json, JsonKind, JsonMember, JsonValue};

/// A template error: Packer's message and the byte offset it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyError {
    /// Packer's message.
    pub message: String,
    /// The byte offset it refers to.
    pub offset: usize,
}

impl LegacyError {
    /// An error with `message` at `offset`.
    pub fn new(message: impl Into<String>, offset: usize) -> Self {
        LegacyError {
            message: message.into(),
            offset,
        }
    }
}

impl std::fmt::Display for LegacyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LegacyError {}

/// A value with the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its byte range in the template.
    pub span: Range<usize>,
}

/// A parsed legacy JSON template.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyTemplate {
    /// `description`.
    pub description: Option<String>,
    /// `min_packer_version`, checked against the running version.
    pub min_packer_version: Option<Spanned<String>>,
    /// Variables in source order.
    pub variables: IndexMap<String, LegacyVariable>,
    /// Names listed in `sensitive-variables`, in order.
    pub sensitive_variables: Vec<Spanned<String>>,
    /// Builders in source order (names are unique).
    pub builders: Vec<LegacyBuilder>,
    /// `provisioners`, in order.
    pub provisioners: Vec<LegacyProvisioner>,
    /// `error-cleanup-provisioner`: runs when a build fails.
    pub error_cleanup_provisioner: Option<LegacyProvisioner>,
    /// Post-processor chains: each element of `post-processors` is one chain.
    pub post_processors: Vec<Vec<LegacyPostProcessor>>,
    /// Root keys starting with `_`.
    pub comments: IndexMap<String, String>,
    /// The whole document.
    pub root: JsonValue,
}

impl LegacyTemplate {
    /// Build names, sorted (the order Packer lists and runs them in).
    pub fn build_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.builders.iter().map(|b| b.name.clone()).collect();
        names.sort();
        names
    }

    /// The builder with this name.
    pub fn builder(&self, name: &str) -> Option<&LegacyBuilder> {
        self.builders.iter().find(|b| b.name == name)
    }

    /// Whether the variable is listed in `sensitive-variables`.
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.sensitive_variables.iter().any(|s| s.value == name)
    }
}

/// One entry of `variables`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyVariable {
    /// The variable's name.
    pub name: String,
    /// The default (`""` when required).
    pub default: String,
    /// `null` in the template: must be set with `-var`/`-var-file`.
    pub required: bool,
    /// The byte range of its key.
    pub key_span: Range<usize>,
    /// The byte range of its value.
    pub value_span: Range<usize>,
}

/// One entry of `builders`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyBuilder {
    /// `name`, or the type when none is given.
    pub name: String,
    /// `type`.
    pub builder_type: String,
    /// Whether `name` was given (otherwise it is the type).
    pub name_given: bool,
    /// The builder's object without `name` and `type`.
    pub config: JsonValue,
    /// The builder's whole object.
    pub span: Range<usize>,
}

/// A provisioner (also the `error-cleanup-provisioner`).
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyProvisioner {
    /// `type`.
    pub provisioner_type: String,
    /// `only`: the builds it runs in.
    pub only: Vec<Spanned<String>>,
    /// `except`: the builds it is skipped in.
    pub except: Vec<Spanned<String>>,
    /// `override`: builder name → object merged into the config for that build.
    pub overrides: Vec<(Spanned<String>, JsonValue)>,
    /// `pause_before`.
    pub pause_before: Option<Duration>,
    /// A number or a `{{ }}` template, as text.
    pub max_retries: Option<String>,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// The object without the reserved keys.
    pub config: JsonValue,
    /// The provisioner's whole object.
    pub span: Range<usize>,
}

/// A post-processor in a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyPostProcessor {
    /// `type`.
    pub pp_type: String,
    /// Defaults to the type.
    pub name: String,
    /// `only`: the builds it runs in.
    pub only: Vec<Spanned<String>>,
    /// `except`: the builds it is skipped in.
    pub except: Vec<Spanned<String>>,
    /// `keep_input_artifact`.
    pub keep_input_artifact: Option<bool>,
    /// The object without the reserved keys (an empty object for the string shorthand).
    pub config: JsonValue,
    /// The post-processor's whole object (or string).
    pub span: Range<usize>,
}

/// Parses and validates a legacy JSON template.
pub fn parse_legacy(src: &str) -> Result<LegacyTemplate, Vec<LegacyError>> {
    let t = parse_legacy_unvalidated(src)?;
    let mut errs = Vec::new();
    validate(&t, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(t)
}

/// Parses a legacy JSON template as the SDK's `template.Parse` does, without the checks of
/// `Template.Validate` (`only`/`except`/`override` names, at least one builder,
/// `min_packer_version`), which Packer runs later.
pub fn parse_legacy_unvalidated(src: &str) -> Result<LegacyTemplate, Vec<LegacyError>> {
    let root = parse_json(src).map_err(|e| {
        vec![LegacyError::new(
            format!("Error parsing JSON: {}", e.message),
            e.offset,
        )]
    })?;

    // Phase: duplicate keys anywhere in the document.
    let mut errs = Vec::new();
    check_duplicates(&root, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }

    // Phase: root structure.
    let Some(members) = root.as_object() else {
        return Err(vec![LegacyError::new(
            format!("'' expected a map, got '{}'", go_kind(&root)),
            root.span.start,
        )]);
    };
    let mut raw = RawRoot::default();
    let mut unknown: Vec<&JsonMember> = Vec::new();
    for m in members {
        let slot = ROOT_KEYS
            .iter()
            .find(|k| **k == m.key)
            .or_else(|| ROOT_KEYS.iter().find(|k| k.eq_ignore_ascii_case(&m.key)));
        match slot {
            Some(&k) => raw.set(k, &m.value, &mut errs),
            None => unknown.push(m),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    unknown.sort_by(|a, b| a.key.cmp(&b.key));
    let mut comments = IndexMap::new();
    for m in unknown {
        if m.key.starts_with('_') {
            match m.value.as_str() {
                Some(s) => {
                    comments.insert(m.key.clone(), s.to_string());
                }
                None => {
                    return Err(vec![LegacyError::new(
                        format!(
                            "Failed to cast root level comment value in comment \"{}\" to string.",
                            m.key
                        ),
                        m.value.span.start,
                    )])
                }
            }
            continue;
        }
        errs.push(LegacyError::new(
            format!("Unknown root level key in template: '{}'", m.key),
            m.key_span.start,
        ));
    }
    if !errs.is_empty() {
        return Err(errs);
    }

    // Phase: contents.
    let mut t = LegacyTemplate {
        description: raw.description.and_then(|v| v.as_str().map(str::to_string)),
        min_packer_version: raw.min_version.and_then(|v| {
            v.as_str().map(|s| Spanned {
                value: s.to_string(),
                span: v.span.clone(),
            })
        }),
        variables: IndexMap::new(),
        sensitive_variables: Vec::new(),
        builders: Vec::new(),
        provisioners: Vec::new(),
        error_cleanup_provisioner: None,
        post_processors: Vec::new(),
        comments,
        root: root.clone(),
    };
    if let Some(sv) = raw.sensitive {
        for item in sv.as_array().unwrap_or_default() {
            if let Some(s) = item.as_str() {
                t.sensitive_variables.push(Spanned {
                    value: s.to_string(),
                    span: item.span.clone(),
                });
            }
        }
    }
    if let Some(vars) = raw.variables {
        for m in vars.as_object().unwrap_or_default() {
            let (default, required) = match &m.value.kind {
                JsonKind::Null => (String::new(), true),
                JsonKind::String(s) => (s.clone(), false),
                _ => {
                    errs.push(LegacyError::new(
                        format!(
                            "variable {}: '' expected type 'string', got unconvertible type '{}', value: '{}'",
                            m.key,
                            m.value.go_type_name(),
                            go_value_text(&m.value)
                        ),
                        m.value.span.start,
                    ));
                    continue;
                }
            };
            t.variables.insert(
                m.key.clone(),
                LegacyVariable {
                    name: m.key.clone(),
                    default,
                    required,
                    key_span: m.key_span.clone(),
                    value_span: m.value.span.clone(),
                },
            );
        }
    }
    if let Some(builders) = raw.builders {
        for (i, b) in builders.as_array().unwrap_or_default().iter().enumerate() {
            match decode_builder(i, b, &t.builders) {
                Ok(builder) => t.builders.push(builder),
                Err(e) => errs.push(e),
            }
        }
    }
    if let Some(pps) = raw.post_processors {
        for (i, v) in pps.as_array().unwrap_or_default().iter().enumerate() {
            match decode_pp_chain(i, v) {
                Ok(chain) => t.post_processors.push(chain),
                Err(mut e) => errs.append(&mut e),
            }
        }
    }
    if let Some(provs) = raw.provisioners {
        for (i, v) in provs.as_array().unwrap_or_default().iter().enumerate() {
            match decode_provisioner(v) {
                Ok(p) => t.provisioners.push(p),
                Err(e) => errs.push(LegacyError::new(
                    format!("provisioner {}: {}", i + 1, e.message),
                    e.offset,
                )),
            }
        }
    }
    if let Some(cp) = raw.cleanup {
        if !matches!(cp.kind, JsonKind::Null) {
            match decode_provisioner(cp) {
                Ok(p) => t.error_cleanup_provisioner = Some(p),
                Err(e) => errs.push(LegacyError::new(
                    format!("On Error Cleanup Provisioner error: {}", e.message),
                    e.offset,
                )),
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(t)
}

const ROOT_KEYS: &[&str] = &[
    "min_packer_version",
    "description",
    "builders",
    "push",
    "post-processors",
    "provisioners",
    "error-cleanup-provisioner",
    "variables",
    "sensitive-variables",
];

#[derive(Default)]
struct RawRoot<'t> {
    min_version: Option<&'t JsonValue>,
    description: Option<&'t JsonValue>,
    builders: Option<&'t JsonValue>,
    post_processors: Option<&'t JsonValue>,
    provisioners: Option<&'t JsonValue>,
    cleanup: Option<&'t JsonValue>,
    variables: Option<&'t JsonValue>,
    sensitive: Option<&'t JsonValue>,
}

impl<'t> RawRoot<'t> {
    fn set(&mut self, key: &str, v: &'t JsonValue, errs: &mut Vec<LegacyError>) {
        let null = matches!(v.kind, JsonKind::Null);
        match key {
            "min_packer_version" | "description" => {
                if !null && v.as_str().is_none() {
                    errs.push(unconvertible(key, "string", v));
                    return;
                }
                if key == "description" {
                    self.description = Some(v);
                } else {
                    self.min_version = Some(v);
                }
            }
            "builders" | "post-processors" | "provisioners" => {
                if !null && v.as_array().is_none() {
                    errs.push(LegacyError::new(
                        format!(
                            "'{key}': source data must be an array or slice, got {}",
                            go_kind(v)
                        ),
                        v.span.start,
                    ));
                    return;
                }
                let slot = match key {
                    "builders" => &mut self.builders,
                    "post-processors" => &mut self.post_processors,
                    _ => &mut self.provisioners,
                };
                *slot = Some(v);
            }
            "push" | "variables" => {
                if !null && v.as_object().is_none() {
                    errs.push(LegacyError::new(
                        format!("'{key}' expected a map, got '{}'", go_kind(v)),
                        v.span.start,
                    ));
                    return;
                }
                if key == "variables" {
                    self.variables = Some(v);
                }
            }
            "sensitive-variables" => {
                if null {
                    return;
                }
                let Some(items) = v.as_array() else {
                    errs.push(LegacyError::new(
                        format!(
                            "'{key}': source data must be an array or slice, got {}",
                            go_kind(v)
                        ),
                        v.span.start,
                    ));
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    if item.as_str().is_none() {
                        errs.push(unconvertible(&format!("{key}[{i}]"), "string", item));
                    }
                }
                self.sensitive = Some(v);
            }
            _ => self.cleanup = Some(v),
        }
    }
}

/// mapstructure's "expected type" message.
fn unconvertible(field: &str, want: &str, v: &JsonValue) -> LegacyError {
    LegacyError::new(
        format!(
            "'{field}' expected type '{want}', got unconvertible type '{}', value: '{}'",
            v.go_type_name(),
            go_value_text(v)
        ),
        v.span.start,
    )
}

/// reflect.Kind names, as mapstructure prints them.
fn go_kind(v: &JsonValue) -> &'static str {
    match v.kind {
        JsonKind::Null => "invalid",
        JsonKind::Bool(_) => "bool",
        JsonKind::Number(_) => "float64",
        JsonKind::String(_) => "string",
        JsonKind::Array(_) => "slice",
        JsonKind::Object(_) => "map",
    }
}

/// Roughly Go's `%v` of a decoded JSON value.
fn go_value_text(v: &JsonValue) -> String {
    match &v.kind {
        JsonKind::Null => "<nil>".into(),
        JsonKind::Bool(b) => b.to_string(),
        JsonKind::Number(n) => match n.parse::<f64>() {
            Ok(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            Ok(f) => f.to_string(),
            Err(_) => n.clone(),
        },
        JsonKind::String(s) => s.clone(),
        JsonKind::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(go_value_text)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        JsonKind::Object(members) => {
            let mut kv: Vec<String> = members
                .iter()
                .map(|m| format!("{}:{}", m.key, go_value_text(&m.value)))
                .collect();
            kv.sort();
            format!("map[{}]", kv.join(" "))
        }
    }
}

fn check_duplicates(v: &JsonValue, errs: &mut Vec<LegacyError>) {
    match &v.kind {
        JsonKind::Object(members) => {
            let mut seen = std::collections::HashSet::new();
            for m in members {
                if !seen.insert(m.key.as_str()) {
                    errs.push(LegacyError::new(
                        format!("template has duplicate field: {}", m.key),
                        m.key_span.start,
                    ));
                }
                check_duplicates(&m.value, errs);
            }
        }
        JsonKind::Array(items) => items.iter().for_each(|i| check_duplicates(i, errs)),
        _ => {}
    }
}

/// A member by name: exact match first, then case-insensitive (mapstructure's rule).
fn field<'v>(members: &'v [JsonMember], name: &str) -> Option<&'v JsonMember> {
    members
        .iter()
        .find(|m| m.key == name)
        .or_else(|| members.iter().find(|m| m.key.eq_ignore_ascii_case(name)))
}

/// The object without the named (exact-case) keys.
fn config_without(v: &JsonValue, reserved: &[&str]) -> JsonValue {
    let members = v
        .as_object()
        .unwrap_or_default()
        .iter()
        .filter(|m| !reserved.contains(&m.key.as_str()))
        .cloned()
        .collect();
    JsonValue {
        kind: JsonKind::Object(members),
        span: v.span.clone(),
    }
}

/// mapstructure's weak string conversion.
fn weak_string(field_name: &str, v: &JsonValue) -> Result<String, LegacyError> {
    match &v.kind {
        JsonKind::String(s) => Ok(s.clone()),
        JsonKind::Null => Ok(String::new()),
        JsonKind::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        JsonKind::Number(_) => Ok(go_value_text(v)),
        _ => Err(unconvertible(field_name, "string", v)),
    }
}

fn strict_string(field_name: &str, v: &JsonValue) -> Result<String, LegacyError> {
    match &v.kind {
        JsonKind::String(s) => Ok(s.clone()),
        JsonKind::Null => Ok(String::new()),
        _ => Err(unconvertible(field_name, "string", v)),
    }
}

/// A `[]string` field; `weak` also accepts a single value and numbers/bools.
fn string_list(
    field_name: &str,
    v: &JsonValue,
    weak: bool,
) -> Result<Vec<Spanned<String>>, LegacyError> {
    let conv = |i: usize, item: &JsonValue| -> Result<Spanned<String>, LegacyError> {
        let name = format!("{field_name}[{i}]");
        let value = if weak {
            weak_string(&name, item)?
        } else {
            strict_string(&name, item)?
        };
        Ok(Spanned {
            value,
            span: item.span.clone(),
        })
    };
    match &v.kind {
        JsonKind::Null => Ok(Vec::new()),
        JsonKind::Array(items) => items.iter().enumerate().map(|(i, x)| conv(i, x)).collect(),
        _ if weak && !matches!(v.kind, JsonKind::Object(_)) => Ok(vec![conv(0, v)?]),
        _ => Err(LegacyError::new(
            format!(
                "'{field_name}': source data must be an array or slice, got {}",
                go_kind(v)
            ),
            v.span.start,
        )),
    }
}

fn decode_builder(
    i: usize,
    b: &JsonValue,
    existing: &[LegacyBuilder],
) -> Result<LegacyBuilder, LegacyError> {
    let n = i + 1;
    let Some(members) = b.as_object() else {
        return Err(LegacyError::new(
            format!("builder {n}: '' expected a map, got '{}'", go_kind(b)),
            b.span.start,
        ));
    };
    let wrap = |e: LegacyError| LegacyError::new(format!("builder {n}: {}", e.message), e.offset);
    let ty = match field(members, "type") {
        Some(m) => Some((
            weak_string("type", &m.value).map_err(wrap)?,
            m.value.span.clone(),
        )),
        None => None,
    };
    let name = match field(members, "name") {
        Some(m) => Some((
            weak_string("name", &m.value).map_err(wrap)?,
            m.value.span.clone(),
        )),
        None => None,
    };
    let (builder_type, type_span) = match ty {
        Some((t, s)) if !t.is_empty() => (t, s),
        _ => {
            return Err(LegacyError::new(
                format!("builder {n}: missing 'type'"),
                b.span.start,
            ))
        }
    };
    let (name, name_span, name_given) = match name {
        Some((nm, s)) if !nm.is_empty() => (nm, s, true),
        _ => (builder_type.clone(), type_span, false),
    };
    if existing.iter().any(|x| x.name == name) {
        return Err(LegacyError::new(
            format!("builder {n}: builder with name '{name}' already exists"),
            name_span.start,
        ));
    }
    Ok(LegacyBuilder {
        name,
        builder_type,
        name_given,
        config: config_without(b, &["name", "type"]),
        span: b.span.clone(),
    })
}

/// `decodeProvisioner`; messages without the "provisioner N: " prefix.
fn decode_provisioner(v: &JsonValue) -> Result<LegacyProvisioner, LegacyError> {
    let dec_err = |e: LegacyError| {
        LegacyError::new(
            format!("Error decoding provisioner: {}", e.message),
            e.offset,
        )
    };
    let Some(members) = v.as_object() else {
        return Err(LegacyError::new(
            format!(
                "Error decoding provisioner: '' expected a map, got '{}'",
                go_kind(v)
            ),
            v.span.start,
        ));
    };
    let mut ty = String::new();
    let mut only = Vec::new();
    let mut except = Vec::new();
    let mut overrides = Vec::new();
    let mut pause_before = None;
    let mut max_retries = None;
    let mut timeout = None;
    if let Some(m) = field(members, "type") {
        ty = weak_string("type", &m.value).map_err(dec_err)?;
    }
    if let Some(m) = field(members, "only") {
        only = string_list("only", &m.value, true).map_err(dec_err)?;
    }
    if let Some(m) = field(members, "except") {
        except = string_list("except", &m.value, true).map_err(dec_err)?;
    }
    if let Some(m) = field(members, "override") {
        match &m.value.kind {
            JsonKind::Null => {}
            JsonKind::Object(items) => {
                for it in items {
                    overrides.push((
                        Spanned {
                            value: it.key.clone(),
                            span: it.key_span.clone(),
                        },
                        it.value.clone(),
                    ));
                }
            }
            _ => {
                return Err(dec_err(LegacyError::new(
                    format!("'override' expected a map, got '{}'", go_kind(&m.value)),
                    m.value.span.start,
                )))
            }
        }
    }
    if let Some(m) = field(members, "pause_before") {
        pause_before = Some(duration_field("pause_before", &m.value).map_err(dec_err)?);
    }
    if let Some(m) = field(members, "max_retries") {
        max_retries = Some(weak_string("max_retries", &m.value).map_err(dec_err)?);
    }
    if let Some(m) = field(members, "timeout") {
        timeout = Some(duration_field("timeout", &m.value).map_err(dec_err)?);
    }
    if ty.is_empty() {
        return Err(LegacyError::new("Provisioner missing 'type'", v.span.start));
    }
    Ok(LegacyProvisioner {
        provisioner_type: ty,
        only,
        except,
        overrides,
        pause_before,
        max_retries,
        timeout,
        config: config_without(
            v,
            &[
                "except",
                "only",
                "override",
                "pause_before",
                "max_retries",
                "type",
                "timeout",
            ],
        ),
        span: v.span.clone(),
    })
}

/// A `time.Duration` field: a Go duration string, or a number of nanoseconds.
fn duration_field(name: &str, v: &JsonValue) -> Result<Duration, LegacyError> {
    match &v.kind {
        JsonKind::Null => Ok(Duration::ZERO),
        JsonKind::String(s) => crate::gocompat::duration::parse_std(s).map_err(|msg| {
            LegacyError::new(format!("error decoding '{name}': {msg}"), v.span.start)
        }),
        JsonKind::Number(n) => {
            let f: f64 = n.parse().unwrap_or(0.0);
            Ok(Duration::from_nanos(if f > 0.0 { f as u64 } else { 0 }))
        }
        JsonKind::Bool(b) => Ok(Duration::from_nanos(u64::from(*b))),
        _ => Err(LegacyError::new(
            format!(
                "'{name}' expected type 'time.Duration', got unconvertible type '{}', value: '{}'",
                v.go_type_name(),
                go_value_text(v)
            ),
            v.span.start,
        )),
    }
}

fn decode_pp_chain(i: usize, v: &JsonValue) -> Result<Vec<LegacyPostProcessor>, Vec<LegacyError>> {
    let n = i + 1;
    let configs: Vec<&JsonValue> = match &v.kind {
        JsonKind::String(_) | JsonKind::Object(_) => vec![v],
        JsonKind::Array(items) => {
            let mut errs = Vec::new();
            for (j, item) in items.iter().enumerate() {
                match item.kind {
                    JsonKind::String(_) | JsonKind::Object(_) => {}
                    JsonKind::Array(_) => errs.push(LegacyError::new(
                        format!(
                            "post-processor {n}.{}: sequence not allowed to be nested in a sequence",
                            j + 1
                        ),
                        item.span.start,
                    )),
                    _ => errs.push(LegacyError::new(
                        format!("post-processor {n}.{}: unknown format", j + 1),
                        item.span.start,
                    )),
                }
            }
            if !errs.is_empty() {
                return Err(errs);
            }
            items.iter().collect()
        }
        _ => {
            return Err(vec![LegacyError::new(
                format!("post-processor {n}: bad format"),
                v.span.start,
            )])
        }
    };
    let mut errs = Vec::new();
    let mut chain = Vec::new();
    for (j, c) in configs.into_iter().enumerate() {
        let prefix = format!("post-processor {n}.{}", j + 1);
        match decode_pp(c) {
            Ok(pp) if pp.pp_type.is_empty() => errs.push(LegacyError::new(
                format!("{prefix}: type is required"),
                c.span.start,
            )),
            Ok(pp) => chain.push(pp),
            Err(e) => errs.push(LegacyError::new(
                format!("{prefix}: {}", e.message),
                e.offset,
            )),
        }
    }
    if errs.is_empty() {
        Ok(chain)
    } else {
        Err(errs)
    }
}

fn decode_pp(v: &JsonValue) -> Result<LegacyPostProcessor, LegacyError> {
    if let Some(s) = v.as_str() {
        return Ok(LegacyPostProcessor {
            pp_type: s.to_string(),
            name: s.to_string(),
            only: Vec::new(),
            except: Vec::new(),
            keep_input_artifact: None,
            config: JsonValue {
                kind: JsonKind::Object(Vec::new()),
                span: v.span.clone(),
            },
            span: v.span.clone(),
        });
    }
    let members = v.as_object().unwrap_or_default();
    let mut pp_type = String::new();
    let mut name = String::new();
    let mut only = Vec::new();
    let mut except = Vec::new();
    let mut keep = None;
    if let Some(m) = field(members, "type") {
        pp_type = strict_string("type", &m.value)?;
    }
    if let Some(m) = field(members, "name") {
        name = strict_string("name", &m.value)?;
    }
    if let Some(m) = field(members, "only") {
        only = string_list("only", &m.value, false)?;
    }
    if let Some(m) = field(members, "except") {
        except = string_list("except", &m.value, false)?;
    }
    if let Some(m) = field(members, "keep_input_artifact") {
        keep = match m.value.kind {
            JsonKind::Bool(b) => Some(b),
            JsonKind::Null => None,
            _ => return Err(unconvertible("keep_input_artifact", "bool", &m.value)),
        };
    }
    if name.is_empty() {
        name = pp_type.clone();
    }
    Ok(LegacyPostProcessor {
        pp_type,
        name,
        only,
        except,
        keep_input_artifact: keep,
        config: config_without(
            v,
            &["except", "only", "keep_input_artifact", "type", "name"],
        ),
        span: v.span.clone(),
    })
}

fn validate_only_except(
    t: &LegacyTemplate,
    prefix: &str,
    only: &[Spanned<String>],
    except: &[Spanned<String>],
    at: usize,
    errs: &mut Vec<LegacyError>,
) {
    if !only.is_empty() && !except.is_empty() {
        errs.push(LegacyError::new(
            format!("{prefix}: only one of 'only' or 'except' may be specified"),
            at,
        ));
        return;
    }
    for (list, which) in [(only, "only"), (except, "except")] {
        for n in list {
            if t.builder(&n.value).is_none() {
                errs.push(LegacyError::new(
                    format!(
                        "{prefix}: '{which}' specified builder '{}' not found",
                        n.value
                    ),
                    n.span.start,
                ));
            }
        }
    }
}

/// `Template.Validate` plus core's `min_packer_version` check.
fn validate(t: &LegacyTemplate, errs: &mut Vec<LegacyError>) {
    if t.builders.is_empty() {
        let at = t
            .root
            .as_object()
            .and_then(|m| field(m, "builders"))
            .map_or(t.root.span.start, |m| m.key_span.start);
        errs.push(LegacyError::new("at least one builder must be defined", at));
    }
    for (i, p) in t.provisioners.iter().enumerate() {
        let prefix = format!("provisioner {}", i + 1);
        validate_only_except(t, &prefix, &p.only, &p.except, p.span.start, errs);
        for (name, _) in &p.overrides {
            if t.builder(&name.value).is_none() {
                errs.push(LegacyError::new(
                    format!("{prefix}: override '{}' doesn't exist", name.value),
                    name.span.start,
                ));
            }
        }
    }
    for (i, chain) in t.post_processors.iter().enumerate() {
        for (j, pp) in chain.iter().enumerate() {
            let prefix = format!("post-processor {}.{}", i + 1, j + 1);
            validate_only_except(t, &prefix, &pp.only, &pp.except, pp.span.start, errs);
        }
    }
    if !errs.is_empty() {
        return;
    }
    if let Some(min) = &t.min_packer_version {
        if !min.value.is_empty() {
            match (
                parse_version(&min.value),
                parse_version(PACKER_COMPAT_VERSION),
            ) {
                (Err(e), _) => errs.push(LegacyError::new(
                    format!("min_version is invalid: {e}"),
                    min.span.start,
                )),
                (Ok(want), Ok(have)) => {
                    if compare_versions(&have, &want) == std::cmp::Ordering::Less {
                        errs.push(LegacyError::new(
                            format!(
                                "This template requires Packer version {} or higher; using {}",
                                want.display(),
                                have.display()
                            ),
                            min.span.start,
                        ));
                    }
                }
                (Ok(_), Err(_)) => {}
            }
        }
    }
}

/// A version as hashicorp/go-version reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The numeric segments (`1.6.6` → 1, 6, 6).
    pub segments: Vec<u64>,
    /// After `-`, without it.
    pub prerelease: String,
    /// After `+`, without it.
    pub metadata: String,
}

impl Version {
    /// go-version's `String()`: all segments (at least three), prerelease and metadata.
    pub fn display(&self) -> String {
        let mut s = self
            .segments
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if !self.prerelease.is_empty() {
            s.push('-');
            s.push_str(&self.prerelease);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }
}

/// Parses `v1.2.3-pre+meta` (go-version's rules, simplified).
pub fn parse_version(s: &str) -> Result<Version, String> {
    let malformed = || format!("Malformed version: {s}");
    let body = s.trim().strip_prefix('v').unwrap_or(s.trim());
    let (body, metadata) = match body.split_once('+') {
        Some((b, m)) => (b, m.to_string()),
        None => (body, String::new()),
    };
    let (nums, prerelease) = match body.find('-') {
        Some(i) => (&body[..i], body[i + 1..].to_string()),
        None => (body, String::new()),
    };
    if nums.is_empty() {
        return Err(malformed());
    }
    let mut segments = Vec::new();
    for part in nums.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        segments.push(part.parse::<u64>().map_err(|_| malformed())?);
    }
    while segments.len() < 3 {
        segments.push(0);
    }
    Ok(Version {
        segments,
        prerelease,
        metadata,
    })
}

/// Compares versions: segments numerically, then a prerelease sorts before the release.
pub fn compare_versions(a: &Version, b: &Version) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let n = a.segments.len().max(b.segments.len());
    for i in 0..n {
        let x = a.segments.get(i).copied().unwrap_or(0);
        let y = b.segments.get(i).copied().unwrap_or(0);
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    match (a.prerelease.is_empty(), b.prerelease.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.prerelease.cmp(&b.prerelease),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(src: &str) -> Vec<String> {
        parse_legacy(src)
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn basic_template() {
        let src = r#"{
  "_comment": "hi",
  "description": "d",
  "min_packer_version": "1.6.0",
  "variables": {"a": "x", "b": null},
  "sensitive-variables": ["a"],
  "builders": [{"type": "null", "communicator": "none"}, {"type": "file", "name": "f", "target": "t"}],
  "provisioners": [{"type": "shell", "only": ["f"], "pause_before": "1m30s", "max_retries": 3, "timeout": "5m", "override": {"null": {"inline": []}}, "inline": ["x"]}],
  "error-cleanup-provisioner": {"type": "shell-local", "inline": ["y"]},
  "post-processors": ["compress", {"type": "manifest", "name": "m", "except": ["null"], "keep_input_artifact": true}, [{"type": "a"}, "b"]],
  "push": {"name": "x"}
}"#;
        let t = parse_legacy(src).unwrap();
        assert_eq!(t.description.as_deref(), Some("d"));
        assert_eq!(t.comments.get("_comment").map(String::as_str), Some("hi"));
        assert_eq!(t.variables["a"].default, "x");
        assert!(t.variables["b"].required);
        assert!(t.is_sensitive("a"));
        assert_eq!(t.builders[0].name, "null");
        assert!(!t.builders[0].name_given);
        assert_eq!(t.builders[1].name, "f");
        assert_eq!(t.build_names(), vec!["f", "null"]);
        assert!(t.builders[0].config.get("type").is_none());
        assert!(t.builders[0].config.get("communicator").is_some());
        let p = &t.provisioners[0];
        assert_eq!(p.provisioner_type, "shell");
        assert_eq!(p.pause_before, Some(Duration::from_secs(90)));
        assert_eq!(p.timeout, Some(Duration::from_secs(300)));
        assert_eq!(p.max_retries.as_deref(), Some("3"));
        assert_eq!(p.only[0].value, "f");
        assert_eq!(p.overrides[0].0.value, "null");
        assert_eq!(p.config.as_object().unwrap().len(), 1);
        assert!(t.error_cleanup_provisioner.is_some());
        assert_eq!(t.post_processors.len(), 3);
        assert_eq!(t.post_processors[0][0].pp_type, "compress");
        assert_eq!(t.post_processors[1][0].name, "m");
        assert_eq!(t.post_processors[1][0].keep_input_artifact, Some(true));
        assert_eq!(t.post_processors[2].len(), 2);
        assert_eq!(t.post_processors[2][1].name, "b");
    }

    #[test]
    fn syntax_error_has_offset() {
        let e = parse_legacy("{\"a\":1,}").unwrap_err();
        assert_eq!(
            e[0].message,
            "Error parsing JSON: invalid character '}' looking for beginning of object key string"
        );
        assert_eq!(e[0].offset, 7);
    }

    #[test]
    fn duplicate_fields() {
        assert_eq!(
            errs(r#"{"builders":[{"type":"a","type":"b"}]}"#),
            vec!["template has duplicate field: type"]
        );
    }

    #[test]
    fn root_errors() {
        assert_eq!(
            errs(r#"{"builders":[{"type":"a"}],"bogus":1,"_c":"x","aaa":2}"#),
            vec![
                "Unknown root level key in template: 'aaa'",
                "Unknown root level key in template: 'bogus'"
            ]
        );
        assert_eq!(
            errs(r#"{"builders":{}}"#),
            vec!["'builders': source data must be an array or slice, got map"]
        );
        assert_eq!(errs("[]"), vec!["'' expected a map, got 'slice'"]);
        assert_eq!(
            errs(r#"{"builders":[{"type":"a"}],"_c":1}"#),
            vec!["Failed to cast root level comment value in comment \"_c\" to string."]
        );
        assert_eq!(
            errs(r#"{"description": 5, "builders":[{"type":"a"}]}"#),
            vec!["'description' expected type 'string', got unconvertible type 'float64', value: '5'"]
        );
    }

    #[test]
    fn content_errors_like_packer() {
        let src = r#"{"variables":{"a":1,"b":null,"c":["x"]},"builders":[{"type":"null"},{"type":"null"},{"name":"x"}],"provisioners":[{"type":"shell"},{"foo":1}],"post-processors":[[["x"]], 5, {"name":"y"}]}"#;
        assert_eq!(
            errs(src),
            vec![
                "variable a: '' expected type 'string', got unconvertible type 'float64', value: '1'",
                "variable c: '' expected type 'string', got unconvertible type '[]interface {}', value: '[x]'",
                "builder 2: builder with name 'null' already exists",
                "builder 3: missing 'type'",
                "post-processor 1.1: sequence not allowed to be nested in a sequence",
                "post-processor 2: bad format",
                "post-processor 3.1: type is required",
                "provisioner 2: Provisioner missing 'type'",
            ]
        );
    }

    #[test]
    fn validation_errors() {
        let src = r#"{"builders":[{"type":"a"}],
          "provisioners":[{"type":"s","only":["zz"],"override":{"q":{}}},{"type":"s","only":["a"],"except":["a"]},{"type":"s","except":["nope"]}],
          "post-processors":[{"type":"p","only":["x"]}]}"#;
        let e = parse_legacy(src).unwrap_err();
        let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            vec![
                "provisioner 1: 'only' specified builder 'zz' not found",
                "provisioner 1: override 'q' doesn't exist",
                "provisioner 2: only one of 'only' or 'except' may be specified",
                "provisioner 3: 'except' specified builder 'nope' not found",
                "post-processor 1.1: 'only' specified builder 'x' not found",
            ]
        );
        assert_eq!(&src[e[0].offset..e[0].offset + 4], "\"zz\"");
        assert_eq!(errs("{}"), vec!["at least one builder must be defined"]);
    }

    #[test]
    fn min_version() {
        assert_eq!(
            errs(r#"{"min_packer_version":"9.0","builders":[{"type":"a"}]}"#),
            vec!["This template requires Packer version 9.0.0 or higher; using 1.16.0"]
        );
        assert!(
            parse_legacy(r#"{"min_packer_version":"1.16.0","builders":[{"type":"a"}]}"#).is_ok()
        );
        assert!(parse_legacy(r#"{"min_packer_version":"v1.2","builders":[{"type":"a"}]}"#).is_ok());
        assert_eq!(
            errs(r#"{"min_packer_version":"abc","builders":[{"type":"a"}]}"#),
            vec!["min_version is invalid: Malformed version: abc"]
        );
    }

    #[test]
    fn provisioner_field_errors() {
        assert_eq!(
            errs(r#"{"builders":[{"type":"a"}],"provisioners":[{"type":"s","pause_before":"x"}]}"#),
            vec!["provisioner 1: Error decoding provisioner: error decoding 'pause_before': time: invalid duration \"x\""]
        );
        assert_eq!(
            errs(r#"{"builders":[{"type":"a"}],"provisioners":["s"]}"#),
            vec!["provisioner 1: Error decoding provisioner: '' expected a map, got 'string'"]
        );
        assert_eq!(
            errs(r#"{"builders":[{"type":"a"}],"error-cleanup-provisioner":{"x":1}}"#),
            vec!["On Error Cleanup Provisioner error: Provisioner missing 'type'"]
        );
        assert_eq!(
            errs(r#"{"builders":[{"type":"a"}],"post-processors":[{"type":"p","only":"a"}]}"#),
            vec!["post-processor 1.1: 'only': source data must be an array or slice, got string"]
        );
        // Provisioners decode weakly: a single string is a one-element list.
        let t =
            parse_legacy(r#"{"builders":[{"type":"a"}],"provisioners":[{"type":"s","only":"a"}]}"#)
                .unwrap();
        assert_eq!(t.provisioners[0].only[0].value, "a");
    }

    #[test]
    fn durations() {
        assert_eq!(
            crate::gocompat::duration::parse_std("1h2m3.5s"),
            Ok(Duration::from_millis(3_723_500))
        );
        assert_eq!(
            crate::gocompat::duration::parse_std("10ms"),
            Ok(Duration::from_millis(10))
        );
        assert_eq!(
            crate::gocompat::duration::parse_std("0"),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            crate::gocompat::duration::parse_std("1"),
            Err("time: missing unit in duration \"1\"".into())
        );
        assert_eq!(
            crate::gocompat::duration::parse_std("1x"),
            Err("time: unknown unit \"x\" in duration \"1x\"".into())
        );
        assert_eq!(
            crate::gocompat::duration::parse_std(""),
            Err("time: invalid duration \"\"".into())
        );
    }
}
