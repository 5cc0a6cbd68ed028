use std::collections::BTreeMap;

use super::*;
use crate::diag::Span;
use crate::value::{Number, Type, Value};

crate::plugin_config! {
    /// A nested block for the tests.
    pub struct TestInner {
        key: String,
        value: Option<i64>,
    }

    /// A test plugin.
    pub struct TestPlugin {
        /// The name.
        name: String,
        count: Option<i64>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
        inline: Option<Vec<String>>,
        extra: Option<serde_json::Value>,
        r#type: Option<String>,
        tag: Vec<TestInner>,
        single: Option<TestInner>,
        @flatten common: TestCommon,
    }

    /// A shared group.
    pub struct TestCommon {
        shared_opt: Option<String>,
    }
}

fn obj(items: Vec<(&str, Value)>) -> Value {
    Value::object(items.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register::<TestPlugin>(PluginKind::Provisioner, "test");
    r
}

fn run(config: &Value) -> Vec<(String, String)> {
    registry()
        .check(
            PluginKind::Provisioner,
            "test",
            config,
            Span::default(),
            None,
        )
        .1
         .0
        .into_iter()
        .map(|d| (d.summary, d.detail))
        .collect()
}

#[test]
fn schema_from_struct() {
    let s = TestPlugin::schema();
    let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "name",
            "count",
            "enabled",
            "tags",
            "inline",
            "extra",
            "type",
            "tag",
            "single",
            "shared_opt"
        ]
    );
    let f = |n: &str| s.field(n).unwrap().clone();
    assert!(f("name").required);
    assert!(!f("count").required);
    assert!(!f("tag").required);
    assert_eq!(f("count").kind, FieldKind::Attr(Type::Number));
    assert_eq!(f("tags").kind, FieldKind::Attr(Type::map(Type::String)));
    assert_eq!(f("inline").kind, FieldKind::Attr(Type::list(Type::String)));
    assert_eq!(f("extra").kind, FieldKind::Attr(Type::Dynamic));
    assert!(matches!(f("tag").kind, FieldKind::Block(_, Nesting::List)));
    assert!(matches!(
        f("single").kind,
        FieldKind::Block(_, Nesting::Single)
    ));
    assert_eq!(s.doc, "A test plugin.");
    assert_eq!(f("name").doc, "The name.");
}

#[test]
fn valid_config_passes() {
    let c = obj(vec![
        ("name", "x".into()),
        ("count", Value::string("3")),
        ("inline", Value::tuple(vec!["a".into(), "b".into()])),
        (
            "tag",
            Value::tuple(vec![obj(vec![("key", "k".into()), ("value", 1.into())])]),
        ),
        ("shared_opt", "s".into()),
    ]);
    assert_eq!(run(&c), vec![]);
}

#[test]
fn unknown_argument_with_suggestion() {
    let c = obj(vec![
        ("name", "x".into()),
        ("cuont", 1.into()),
        ("zzz", 1.into()),
    ]);
    assert_eq!(
        run(&c),
        vec![
            (
                "Unsupported argument".into(),
                "An argument named \"cuont\" is not expected here. Did you mean \"count\"?".into()
            ),
            (
                "Unsupported argument".into(),
                "An argument named \"zzz\" is not expected here.".into()
            ),
        ]
    );
}

#[test]
fn unknown_block_type() {
    let c = obj(vec![
        ("name", "x".into()),
        ("foo", Value::tuple(vec![Value::empty_object()])),
    ]);
    assert_eq!(
        run(&c),
        vec![(
            "Unsupported block type".into(),
            "Blocks of type \"foo\" are not expected here.".into()
        )]
    );
}

#[test]
fn wrong_types() {
    let c = obj(vec![
        ("name", Value::tuple(vec![])),
        ("count", "abc".into()),
        ("enabled", "yes".into()),
        ("inline", "x".into()),
    ]);
    let got = run(&c);
    assert_eq!(
        got,
        vec![
            (
                "Incorrect attribute value type".into(),
                "Inappropriate value for attribute \"name\": string required.".into()
            ),
            (
                "Incorrect attribute value type".into(),
                "Inappropriate value for attribute \"count\": a number is required.".into()
            ),
            (
                "Incorrect attribute value type".into(),
                "Inappropriate value for attribute \"enabled\": a bool is required.".into()
            ),
            (
                "Incorrect attribute value type".into(),
                "Inappropriate value for attribute \"inline\": list of string required.".into()
            ),
        ]
    );
}

#[test]
fn missing_required() {
    let got = run(&Value::empty_object());
    assert_eq!(
        got,
        vec![(
            "Missing required argument".into(),
            "The argument \"name\" is required, but no definition was found.".into()
        )]
    );
    // null counts as unset
    let got = run(&obj(vec![("name", Value::null(Type::String))]));
    assert_eq!(got.len(), 1);
}

#[test]
fn all_errors_at_once() {
    let c = obj(vec![
        ("bogus", 1.into()),
        ("count", "abc".into()),
        ("blk", Value::tuple(vec![Value::empty_object()])),
        (
            "tag",
            Value::tuple(vec![obj(vec![("value", "x".into()), ("nope", 1.into())])]),
        ),
    ]);
    let got: Vec<String> = run(&c).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        got,
        [
            "Unsupported argument",
            "Unsupported block type",
            "Missing required argument",
            "Incorrect attribute value type",
            "Unsupported argument",
            "Missing required argument",
            "Incorrect attribute value type",
        ]
    );
}

#[test]
fn unknown_values_pass() {
    let c = obj(vec![
        ("name", Value::unknown(Type::String)),
        ("count", Value::unknown(Type::Dynamic)),
        ("inline", Value::unknown(Type::list(Type::String))),
        ("tag", Value::tuple(vec![Value::unknown(Type::Dynamic)])),
        ("single", Value::unknown(Type::Dynamic)),
    ]);
    assert_eq!(run(&c), vec![]);
    assert_eq!(run(&Value::unknown(Type::Dynamic)), vec![]);
    // but a known type that cannot convert still fails
    let c = obj(vec![
        ("name", "x".into()),
        ("count", Value::unknown(Type::Bool)),
    ]);
    assert_eq!(run(&c).len(), 1);
}

#[test]
fn nested_blocks() {
    let c = obj(vec![
        ("name", "x".into()),
        (
            "single",
            Value::tuple(vec![
                obj(vec![("key", "a".into())]),
                obj(vec![("key", "b".into())]),
            ]),
        ),
        ("tag", "not a block".into()),
    ]);
    assert_eq!(
        run(&c),
        vec![
            (
                "Unsupported argument".into(),
                "An argument named \"tag\" is not expected here. Did you mean to define a block of type \"tag\"?".into()
            ),
            (
                "Duplicate single block".into(),
                "Only one block of type \"single\" is allowed.".into()
            ),
        ]
    );
    let c = obj(vec![
        ("name", "x".into()),
        (
            "tag",
            Value::tuple(vec![obj(vec![
                ("key", "a".into()),
                ("__labels", Value::tuple(vec!["l".into()])),
            ])]),
        ),
    ]);
    assert_eq!(
        run(&c),
        vec![(
            "Extraneous label for tag".into(),
            "No labels are expected for tag blocks.".into()
        )]
    );
}

#[test]
fn unknown_plugin_types() {
    let r = registry();
    let (_, d) = r.check(
        PluginKind::Provisioner,
        "nope",
        &Value::empty_object(),
        Span::default(),
        None,
    );
    assert_eq!(d.0[0].summary, "Unknown provisioner type \"nope\"");
    assert_eq!(d.0[0].detail, "known provisioners: [test]");
    let d = check(
        PluginKind::Builder,
        "nope",
        &Value::empty_object(),
        Span::default(),
    );
    assert_eq!(d.0[0].summary, "Unknown source type nope");
    assert!(d.0[0]
        .detail
        .starts_with("known builders: [amazon-chroot amazon-ebs "));
    let d = check(
        PluginKind::PostProcessor,
        "nope",
        &Value::empty_object(),
        Span::default(),
    );
    assert_eq!(d.0[0].summary, "Unknown post-processor type \"nope\"");
    assert!(d.0[0].detail.starts_with("known post-processors: ["));
    let d = check(
        PluginKind::DataSource,
        "nope",
        &Value::empty_object(),
        Span::default(),
    );
    assert_eq!(d.0[0].summary, "Unknown data type nope");
    assert_eq!(d.0[0].detail, "known data sources: [amazon-ami http null]");
}

#[test]
fn decode_round_trip() {
    let c = obj(vec![
        ("name", Value::string("n").mark_sensitive()),
        ("count", Value::number(Number::parse("42").unwrap())),
        ("enabled", true.into()),
        ("type", "t".into()),
        (
            "tags",
            Value::map(
                Type::String,
                BTreeMap::from([("a".to_string(), "b".into())]),
            ),
        ),
        ("extra", obj(vec![("deep", Value::tuple(vec![1.into()]))])),
        (
            "tag",
            Value::tuple(vec![obj(vec![("key", "k".into()), ("value", 7.into())])]),
        ),
        ("single", Value::tuple(vec![obj(vec![("key", "s".into())])])),
        ("shared_opt", "shared".into()),
    ]);
    let t: TestPlugin = decode(&c).unwrap();
    assert_eq!(t.name, "n");
    assert_eq!(t.count, Some(42));
    assert_eq!(t.enabled, Some(true));
    assert_eq!(t.r#type.as_deref(), Some("t"));
    assert_eq!(t.tags.as_ref().unwrap()["a"], "b");
    assert_eq!(t.extra, Some(serde_json::json!({"deep": [1]})));
    assert_eq!(t.tag.len(), 1);
    assert_eq!(t.tag[0].value, Some(7));
    assert_eq!(t.single.as_ref().unwrap().key, "s");
    assert_eq!(t.common.shared_opt.as_deref(), Some("shared"));
    // and back through JSON
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["type"], "t");
    assert_eq!(json["shared_opt"], "shared");
    let again: TestPlugin = serde_json::from_value(json).unwrap();
    assert_eq!(again, t);
}

#[test]
fn decode_errors() {
    assert!(decode::<TestPlugin>(&Value::empty_object())
        .unwrap_err()
        .contains("name"));
    let c = obj(vec![("name", Value::unknown(Type::String))]);
    assert!(decode::<TestPlugin>(&c).is_err());
    let c = obj(vec![("name", "x".into()), ("count", Value::string("1.5"))]);
    assert!(decode::<TestPlugin>(&c).is_err());
}

#[test]
fn builtin_plugins() {
    for kind in PluginKind::ALL {
        for name in known(kind) {
            let s = lookup(kind, name).unwrap();
            // an empty configuration is accepted: Packer requires nothing at decode time
            assert!(
                check(kind, name, &Value::empty_object(), Span::default()).is_empty(),
                "{kind:?} {name}"
            );
            assert!(!s.fields.is_empty() || name == "breakpoint", "{name}");
        }
    }
    let null = lookup(PluginKind::Builder, "null").unwrap();
    for f in [
        "communicator",
        "ssh_host",
        "ssh_port",
        "winrm_username",
        "packer_force",
    ] {
        assert!(null.field(f).is_some(), "{f}");
    }
    let shell = lookup(PluginKind::Provisioner, "shell").unwrap();
    assert_eq!(
        shell.field("inline").unwrap().kind,
        FieldKind::Attr(Type::list(Type::String))
    );
    let d = check(
        PluginKind::Builder,
        "null",
        &obj(vec![
            ("communicator", "none".into()),
            ("bogus", 1.into()),
            ("ssh_port", "abc".into()),
        ]),
        Span::default(),
    );
    let got: Vec<&str> = d.0.iter().map(|d| d.detail.as_str()).collect();
    assert_eq!(
        got,
        [
            "An argument named \"bogus\" is not expected here.",
            "Inappropriate value for attribute \"ssh_port\": a number is required."
        ]
    );
    let cfg: plugins::NullBuilder = decode(&obj(vec![
        ("communicator", "ssh".into()),
        ("ssh_port", 2222.into()),
    ]))
    .unwrap();
    assert_eq!(cfg.communicator.ssh_port, Some(2222));
    assert_eq!(cfg.communicator.communicator.as_deref(), Some("ssh"));
}
