//! Checks an evaluated plugin configuration against its schema, with the diagnostics Packer's
//! HCL decoder gives.

use std::collections::BTreeSet;

use super::registry::{PluginKind, Registry};
use super::{FieldKind, Nesting, Schema};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::plan::PluginConfig;
use crate::syntax::Body;
use crate::value::{convert, Kind, Type, Value};

/// Checks one plugin block's evaluated configuration against the built-in schema of its type and
/// reports every problem, each at `span`: an unknown plugin type, unsupported arguments and block
/// types, values of the wrong type, missing required arguments and blocks. Unknown values pass
/// the type checks.
pub fn check(kind: PluginKind, plugin_type: &str, config: &Value, span: Span) -> Diagnostics {
    Registry::builtin()
        .check(kind, plugin_type, config, span, None)
        .1
}

/// [`check`] on a planned plugin; when the unevaluated body is at hand it tells arguments and
/// blocks apart exactly and places type errors at the argument's value.
pub fn check_plugin(kind: PluginKind, plugin: &PluginConfig) -> Diagnostics {
    convert_plugin(kind, plugin).1
}

/// Converts a planned plugin's configuration to its schema with cty's rules, as Packer's HCL
/// decoder does before the plugin sees it: every argument, at any depth of nested blocks, takes
/// its schema type (`"2122"` for a number argument becomes 2122). Returns the converted
/// configuration (parts that do not convert are left as they are) and [`check_plugin`]'s
/// diagnostics.
pub fn convert_plugin(kind: PluginKind, plugin: &PluginConfig) -> (Value, Diagnostics) {
    Registry::builtin().check(
        kind,
        &plugin.plugin_type,
        &plugin.config,
        plugin.span,
        plugin.body.as_ref(),
    )
}

impl Registry {
    /// [`check`] against this registry; `body`, when given, is the block's unevaluated body.
    /// Also returns the configuration converted to the schema's types.
    pub fn check(
        &self,
        kind: PluginKind,
        plugin_type: &str,
        config: &Value,
        span: Span,
        body: Option<&Body>,
    ) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(schema) = self.get(kind, plugin_type) else {
            diags.push(unknown_type(kind, plugin_type, &self.names(kind)).at(span));
            return (config.clone(), diags);
        };
        let mut cx = Checker {
            span,
            diags: &mut diags,
        };
        let converted = cx.object(schema, config, body.map(Hint::Body).unwrap_or(Hint::None));
        (converted, diags)
    }
}

fn unknown_type(kind: PluginKind, t: &str, known: &[&str]) -> Diagnostic {
    let list = format!("[{}]", known.join(" "));
    match kind {
        PluginKind::Builder => Diagnostic::error(
            format!("Unknown source type {t}"),
            format!("known builders: {list}"),
        ),
        PluginKind::Provisioner => Diagnostic::error(
            format!("Unknown provisioner type {t:?}"),
            format!("known provisioners: {list}"),
        ),
        PluginKind::PostProcessor => Diagnostic::error(
            format!("Unknown post-processor type {t:?}"),
            format!("known post-processors: {list}"),
        ),
        PluginKind::DataSource => Diagnostic::error(
            format!("Unknown data type {t}"),
            format!("known data sources: {list}"),
        ),
    }
}

/// What is known about how a name was written.
#[derive(Clone, Copy)]
enum Hint<'a> {
    /// The unevaluated body: attributes and blocks are told apart exactly.
    Body(&'a Body),
    /// Only the value: a non-empty sequence of objects is taken for blocks.
    None,
}

impl<'a> Hint<'a> {
    /// Where the argument `name` is written, when the body is known.
    fn attr_span(&self, name: &str) -> Option<Span> {
        match self {
            Hint::Body(b) => b.attr(name).map(|a| a.name_span),
            Hint::None => None,
        }
    }
    /// Where the value of argument `name` is written, when the body is known.
    fn value_span(&self, name: &str) -> Option<Span> {
        match self {
            Hint::Body(b) => b.attr(name).map(|a| a.expr.span),
            Hint::None => None,
        }
    }
    /// The bodies of the blocks of type `name`, when they are written out one by one (no
    /// `dynamic` block of that type), so that the i-th body is the i-th evaluated block.
    fn block_bodies(&self, name: &str) -> Option<Vec<(&'a Body, Span)>> {
        let Hint::Body(b) = *self else { return None };
        let dynamic = b
            .blocks
            .iter()
            .any(|blk| blk.ty == "dynamic" && blk.labels.first().is_some_and(|(l, _)| l == name));
        (!dynamic).then(|| {
            b.blocks
                .iter()
                .filter(|blk| blk.ty == name)
                .map(|blk| (&blk.body, blk.type_span))
                .collect()
        })
    }
    /// Where the first block of type `name` is written, when the body is known.
    fn block_span(&self, name: &str) -> Option<Span> {
        match self {
            Hint::Body(b) => b.blocks_of(name).next().map(|bl| bl.type_span),
            Hint::None => None,
        }
    }
    /// Whether `name` was written as block(s).
    fn is_block(&self, name: &str, v: &Value) -> bool {
        match self {
            Hint::Body(b) => {
                if b.attr(name).is_some() {
                    return false;
                }
                if b.blocks.iter().any(|blk| {
                    blk.ty == name
                        || (blk.ty == "dynamic"
                            && blk.labels.first().is_some_and(|(l, _)| l == name))
                }) {
                    return true;
                }
                looks_like_blocks(v)
            }
            Hint::None => looks_like_blocks(v),
        }
    }
}

fn looks_like_blocks(v: &Value) -> bool {
    match &v.kind {
        Kind::Tuple(items) | Kind::List(_, items) => {
            !items.is_empty()
                && items.iter().all(|x| {
                    matches!(x.kind, Kind::Object(_)) || matches!(x.kind, Kind::Unknown(_))
                })
        }
        _ => false,
    }
}

struct Checker<'d> {
    span: Span,
    diags: &'d mut Diagnostics,
}

impl Checker<'_> {
    fn err(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(summary, detail).at(self.span));
    }

    /// Like [`Checker::err`], at `at` when the body says where the thing is written.
    fn err_at(&mut self, at: Option<Span>, summary: impl Into<String>, detail: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(summary, detail).at(at.unwrap_or(self.span)));
    }

    /// Checks a block body's value and returns it with every argument converted to its type.
    fn object(&mut self, schema: &Schema, v: &Value, hint: Hint<'_>) -> Value {
        let empty = std::collections::BTreeMap::new();
        let entries = match &v.kind {
            Kind::Unknown(_) => return v.clone(),
            Kind::Null(_) => &empty,
            Kind::Object(m) | Kind::Map(_, m) => m,
            _ => {
                self.err(
                    "Incorrect block value",
                    format!(
                        "A block's contents must be an object, not {}.",
                        v.ty().friendly_name()
                    ),
                );
                return v.clone();
            }
        };
        let mut out = entries.clone();
        let present = |name: &str| entries.get(name).is_some_and(|x| !is_null(x));

        // Names the schema does not have: arguments first, then block types, as HCL reports them.
        let mut unknown_attrs = Vec::new();
        let mut unknown_blocks = Vec::new();
        for (name, x) in entries {
            if name == "__labels" || schema.field(name).is_some() {
                continue;
            }
            if hint.is_block(name, x) {
                unknown_blocks.push(name.as_str());
            } else {
                unknown_attrs.push(name.as_str());
            }
        }
        let attr_names: Vec<&str> = schema
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Attr(_)) && !present(&f.name))
            .map(|f| f.name.as_str())
            .collect();
        let block_names: Vec<&str> = schema
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Block(..)))
            .map(|f| f.name.as_str())
            .collect();
        for name in unknown_attrs {
            let at = hint.attr_span(name);
            let hint = match suggestion(name, &attr_names) {
                Some(s) => format!(" Did you mean {s:?}?"),
                None => String::new(),
            };
            self.err_at(
                at,
                "Unsupported argument",
                format!("An argument named {name:?} is not expected here.{hint}"),
            );
        }
        for name in unknown_blocks {
            let at = hint.block_span(name);
            let hint = match suggestion(name, &block_names) {
                Some(s) => format!(" Did you mean {s:?}?"),
                None => String::new(),
            };
            self.err_at(
                at,
                "Unsupported block type",
                format!("Blocks of type {name:?} are not expected here.{hint}"),
            );
        }

        let mut seen = BTreeSet::new();
        for f in &schema.fields {
            // A flattened group may repeat a name; the first definition wins.
            if !seen.insert(f.name.as_str()) {
                continue;
            }
            let Some(x) = entries.get(&f.name).filter(|x| !is_null(x)) else {
                if f.required {
                    match &f.kind {
                        FieldKind::Attr(_) => self.err(
                            "Missing required argument",
                            format!(
                                "The argument {:?} is required, but no definition was found.",
                                f.name
                            ),
                        ),
                        FieldKind::Block(..) => self.err(
                            format!("Missing {} block", f.name),
                            format!("A block of type {:?} is required here.", f.name),
                        ),
                    }
                }
                continue;
            };
            match &f.kind {
                FieldKind::Attr(t) => {
                    if matches!(hint, Hint::Body(_)) && hint.is_block(&f.name, x) {
                        self.err(
                            "Unsupported block type",
                            format!(
                                "Blocks of type {:?} are not expected here. Did you mean to define argument {:?}? If so, use the equals sign to assign it a value.",
                                f.name, f.name
                            ),
                        );
                        continue;
                    }
                    if let Some(c) = self.attr(&f.name, t, x, hint.value_span(&f.name)) {
                        out.insert(f.name.clone(), c);
                    }
                }
                FieldKind::Block(s, nesting) => {
                    if x.is_unknown() {
                        continue;
                    }
                    if !hint.is_block(&f.name, x) {
                        self.err(
                            "Unsupported argument",
                            format!(
                                "An argument named {:?} is not expected here. Did you mean to define a block of type {:?}?",
                                f.name, f.name
                            ),
                        );
                        continue;
                    }
                    let items = x.as_seq().unwrap_or(&[]);
                    if *nesting == Nesting::Single && items.len() > 1 {
                        self.err(
                            format!("Duplicate {} block", f.name),
                            format!("Only one block of type {:?} is allowed.", f.name),
                        );
                    }
                    let bodies = hint
                        .block_bodies(&f.name)
                        .filter(|b| b.len() == items.len());
                    let mut converted = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        if let Some(labels) = item.as_entries().and_then(|m| m.get("__labels")) {
                            if !labels.is_empty() {
                                self.err(
                                    format!("Extraneous label for {}", f.name),
                                    format!("No labels are expected for {} blocks.", f.name),
                                );
                            }
                        }
                        let (sub, span) = match bodies.as_ref().and_then(|b| b.get(i)) {
                            Some((body, span)) => (Hint::Body(body), *span),
                            None => (Hint::None, self.span),
                        };
                        let outer = std::mem::replace(&mut self.span, span);
                        converted.push(self.object(s, item, sub));
                        self.span = outer;
                    }
                    out.insert(f.name.clone(), Value::tuple(converted).marked(x.sensitive));
                }
            }
        }
        Value::object(out).marked(v.sensitive)
    }

    /// Converts an argument's value to its type, or reports Packer's error at `at` (the value's
    /// position when known).
    fn attr(&mut self, name: &str, t: &Type, v: &Value, at: Option<Span>) -> Option<Value> {
        match convert(v, t) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err_at(
                    at,
                    "Incorrect attribute value type",
                    format!("Inappropriate value for attribute {name:?}: {e}."),
                );
                None
            }
        }
    }
}

fn is_null(v: &Value) -> bool {
    matches!(v.kind, Kind::Null(_))
}

/// HCL's "did you mean": the first candidate within edit distance 2.
pub(crate) fn suggestion<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .copied()
        .find(|c| levenshtein(given, c) < 3)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
