//! For every argument of every registered plugin schema, at any depth of nested blocks: its
//! string, number, bool, list and map forms, and whether each is accepted in HCL2 (cty's
//! conversion rules) and in legacy JSON (mapstructure's weak rules). The expected answers are
//! written out as tables below, not computed by the code under test.

use std::collections::BTreeMap;

use super::weak::{self, DURATIONS};
use super::{FieldKind, Nesting, PluginKind, Registry, Schema};
use crate::diag::Span;
use crate::value::{Kind, Number, Type, Value};

/// The forms every argument is given.
const FORMS: [&str; 11] = [
    "\"2\"", "\"abc\"", "\"\"", "\"true\"", "\"a,b\"", "2", "true", "[\"2\"]", "{k=1}", "\"1\"",
    "\"T\"",
];

fn form(i: usize) -> Value {
    match i {
        0 => Value::string("2"),
        1 => Value::string("abc"),
        2 => Value::string(""),
        3 => Value::string("true"),
        4 => Value::string("a,b"),
        5 => Value::int(2),
        6 => Value::bool(true),
        7 => Value::tuple(vec![Value::string("2")]),
        8 => Value::object(BTreeMap::from([("k".to_string(), Value::int(1))])),
        9 => Value::string("1"),
        _ => Value::string("T"),
    }
}

/// The element shapes the tables cover.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Str,
    Num,
    Bool,
    List(Prim),
    Map(Prim),
    Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Prim {
    Str,
    Num,
    Bool,
}

fn prim(t: &Type) -> Option<Prim> {
    match t {
        Type::String => Some(Prim::Str),
        Type::Number => Some(Prim::Num),
        Type::Bool => Some(Prim::Bool),
        _ => None,
    }
}

fn shape(name: &str, t: &Type) -> Option<Shape> {
    Some(match t {
        Type::String if DURATIONS.contains(&name) => Shape::Duration,
        Type::String => Shape::Str,
        Type::Number => Shape::Num,
        Type::Bool => Shape::Bool,
        Type::List(e) | Type::Set(e) => Shape::List(prim(e)?),
        Type::Map(e) => Shape::Map(prim(e)?),
        _ => return None,
    })
}

// 1 = accepted, 0 = refused, per form in FORMS order:
//                         "2" "abc" "" "true" "a,b" 2 true ["2"] {k=1} "1" "T"
const CTY_STR: [u8; 11] = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1];
const CTY_NUM: [u8; 11] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0];
const CTY_BOOL: [u8; 11] = [0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0];
const CTY_LIST_STR: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
const CTY_LIST_NUM: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
const CTY_LIST_BOOL: [u8; 11] = [0; 11];
const CTY_MAP_STR: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
const CTY_MAP_NUM: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
const CTY_MAP_BOOL: [u8; 11] = [0; 11];

//                          "2" "abc" "" "true" "a,b" 2 true ["2"] {k=1} "1" "T"
const WEAK_STR: [u8; 11] = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1];
const WEAK_NUM: [u8; 11] = [1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0];
const WEAK_BOOL: [u8; 11] = [0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1];
const WEAK_LIST_STR: [u8; 11] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1];
const WEAK_LIST_NUM: [u8; 11] = [1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0];
const WEAK_LIST_BOOL: [u8; 11] = [0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1];
const WEAK_MAP_STR: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
const WEAK_MAP_NUM: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
const WEAK_MAP_BOOL: [u8; 11] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
// A duration: a Go duration string, or a number (or bool) of nanoseconds.
const WEAK_DURATION: [u8; 11] = [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0];

fn expected(s: Shape) -> ([u8; 11], [u8; 11]) {
    match s {
        Shape::Str => (CTY_STR, WEAK_STR),
        Shape::Duration => (CTY_STR, WEAK_DURATION),
        Shape::Num => (CTY_NUM, WEAK_NUM),
        Shape::Bool => (CTY_BOOL, WEAK_BOOL),
        Shape::List(Prim::Str) => (CTY_LIST_STR, WEAK_LIST_STR),
        Shape::List(Prim::Num) => (CTY_LIST_NUM, WEAK_LIST_NUM),
        Shape::List(Prim::Bool) => (CTY_LIST_BOOL, WEAK_LIST_BOOL),
        Shape::Map(Prim::Str) => (CTY_MAP_STR, WEAK_MAP_STR),
        Shape::Map(Prim::Num) => (CTY_MAP_NUM, WEAK_MAP_NUM),
        Shape::Map(Prim::Bool) => (CTY_MAP_BOOL, WEAK_MAP_BOOL),
    }
}

/// An argument: the blocks leading to it, its name and type.
type Argument = (Vec<(String, Nesting)>, String, Type);

/// Every argument of a schema: the blocks leading to it, its name and type.
fn arguments(s: &Schema, outer: &[(String, Nesting)], out: &mut Vec<Argument>) {
    let mut seen = std::collections::BTreeSet::new();
    for f in &s.fields {
        if !seen.insert(f.name.clone()) {
            continue;
        }
        match &f.kind {
            FieldKind::Attr(t) => out.push((outer.to_vec(), f.name.clone(), t.clone())),
            FieldKind::Block(inner, n) if outer.len() < 4 => {
                let mut path = outer.to_vec();
                path.push((f.name.clone(), *n));
                arguments(inner, &path, out);
            }
            FieldKind::Block(..) => {}
        }
    }
}

/// A configuration setting only `name` (inside its blocks) to `v`.
fn config(path: &[(String, Nesting)], name: &str, v: Value) -> Value {
    let mut inner = Value::object(BTreeMap::from([(name.to_string(), v)]));
    for (block, _) in path.iter().rev() {
        inner = Value::object(BTreeMap::from([(block.clone(), Value::tuple(vec![inner]))]));
    }
    inner
}

/// The argument's value after conversion, found along its blocks.
fn leaf<'a>(v: &'a Value, path: &[(String, Nesting)], name: &str) -> Option<&'a Value> {
    let mut cur = v;
    for (block, _) in path {
        let b = cur.as_entries()?.get(block)?;
        cur = match &b.kind {
            Kind::Tuple(items) | Kind::List(_, items) => items.first()?,
            _ => b,
        };
    }
    cur.as_entries()?.get(name)
}

#[test]
fn every_argument_of_every_schema_converts_as_cty_and_mapstructure_do() {
    let registry = Registry::builtin();
    let (mut checked, mut skipped) = (0usize, 0usize);
    let mut failures = Vec::new();
    for kind in PluginKind::ALL {
        for ty in registry.names(kind) {
            let Some(schema) = registry.get(kind, ty) else {
                continue;
            };
            let mut args = Vec::new();
            arguments(schema, &[], &mut args);
            for (path, name, t) in args {
                let Some(sh) = shape(&name, &t) else {
                    skipped += 1;
                    continue;
                };
                let (cty_want, weak_want) = expected(sh);
                for (i, label) in FORMS.iter().enumerate() {
                    let cfg = config(&path, &name, form(i));
                    let (converted, diags) = registry.check(kind, ty, &cfg, Span::default(), None);
                    let needle = format!("Inappropriate value for attribute {name:?}");
                    let cty_ok = !diags.0.iter().any(|d| d.detail.starts_with(&needle));
                    if cty_ok != (cty_want[i] == 1) {
                        failures.push(format!(
                            "{ty} {path:?} {name} ({t}) = {label}: cty accepted {cty_ok}"
                        ));
                    }
                    // What cty accepts takes the argument's type exactly.
                    if cty_ok {
                        let got = leaf(&converted, &path, &name).map(Value::ty);
                        let want_ty = match &t {
                            Type::Set(e) => Type::Set(e.clone()),
                            other => other.clone(),
                        };
                        if got.as_ref() != Some(&want_ty) {
                            failures.push(format!(
                                "{ty} {name} = {label}: converted to {got:?}, not {t}"
                            ));
                        }
                    }
                    let weak_ok = weak::convert(schema, &cfg).is_ok();
                    if weak_ok != (weak_want[i] == 1) {
                        failures.push(format!(
                            "{ty} {path:?} {name} ({t}) = {label}: mapstructure accepted {weak_ok}"
                        ));
                    }
                }
                checked += 1;
            }
        }
    }
    eprintln!("{checked} arguments checked in 11 forms each; {skipped} of other types skipped");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every registered type's primitive, list and map arguments are in the table.
    assert!(
        checked > 3000,
        "only {checked} arguments checked ({skipped} skipped)"
    );
}

#[test]
fn weak_conversions_give_the_values_mapstructure_gives() {
    let mut r = Registry::new();
    r.register::<super::plugins::ShellLocalProvisioner>(PluginKind::Provisioner, "shell-local");
    let schema = r
        .get(PluginKind::Provisioner, "shell-local")
        .cloned()
        .expect("registered");
    let cfg = Value::object(BTreeMap::from([
        ("valid_exit_codes".to_string(), Value::string("0,3")),
        ("inline".to_string(), Value::string("")),
        ("use_linux_pathing".to_string(), Value::string("T")),
        ("environment_vars".to_string(), Value::int(5)),
    ]));
    let out = weak::convert(&schema, &cfg).unwrap_or_else(|e| panic!("{e:?}"));
    let m = out.as_entries().cloned().unwrap_or_default();
    let nums: Vec<String> = m["valid_exit_codes"]
        .as_seq()
        .unwrap_or(&[])
        .iter()
        .map(|v| v.as_number().map(Number::to_string).unwrap_or_default())
        .collect();
    assert_eq!(nums, ["0", "3"]);
    assert_eq!(m["inline"].as_seq().map(<[Value]>::len), Some(0));
    assert_eq!(m["use_linux_pathing"].as_bool(), Some(true));
    assert_eq!(
        m["environment_vars"].as_seq().and_then(|s| s[0].as_str()),
        Some("5")
    );
    // Bools become "1"/"0" in a string setting, as in Go.
    let cfg = Value::object(BTreeMap::from([("command".to_string(), Value::bool(true))]));
    let out = weak::convert(&schema, &cfg).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        out.as_entries().and_then(|m| m["command"].as_str()),
        Some("1")
    );
}
