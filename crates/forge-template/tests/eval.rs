//! Expression evaluation: operators, traversals, splats, `for`, templates, and marks.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::collections::BTreeMap;
use std::path::PathBuf;

use forge_template::console::eval_line;
use forge_template::value::Value;

fn names() -> Vec<(String, Value)> {
    let secret = Value::string("hunter2").mark_sensitive();
    let var = Value::object(BTreeMap::from([
        ("s".to_string(), secret),
        ("n".to_string(), Value::int(3)),
        (
            "l".to_string(),
            Value::tuple(vec![
                Value::object(BTreeMap::from([("a".to_string(), Value::int(1))])),
                Value::object(BTreeMap::from([("a".to_string(), Value::int(2))])),
            ]),
        ),
    ]));
    vec![("var".into(), var)]
}

fn ok(src: &str) -> String {
    match eval_line(src, &names(), PathBuf::from(".")) {
        Ok(v) => v.to_console_string(),
        Err((d, f)) => panic!("{src}: {}", d.render(&f)),
    }
}

fn fails(src: &str) -> String {
    match eval_line(src, &names(), PathBuf::from(".")) {
        Ok(v) => panic!("{src} should fail, got {}", v.to_console_string()),
        Err((d, _)) => format!("{}: {}", d.0[0].summary, d.0[0].detail),
    }
}

#[test]
fn arithmetic_and_comparison() {
    assert_eq!(ok("1 + 2 * 3"), "7");
    assert_eq!(ok("\"2\" + 1"), "3");
    assert_eq!(ok("7 % 3"), "1");
    assert_eq!(ok("1 < 2 && !false"), "true");
    assert_eq!(ok("1 == \"1\""), "false");
    assert_eq!(ok("[1] == [1]"), "true");
    assert!(fails("1 / 0").contains("divide by zero"));
    assert!(fails("1 + true").contains("a number is required"));
}

#[test]
fn conditionals_unify_types() {
    assert_eq!(ok("true ? \"a\" : 1"), "a");
    assert_eq!(ok("false ? \"a\" : 1"), "1");
    assert!(fails("\"x\" ? 1 : 2").contains("Incorrect condition type"));
}

#[test]
fn traversal_and_splat() {
    assert_eq!(ok("var.l[1].a"), "2");
    assert_eq!(ok("var.l[*].a"), "[\n  1,\n  2,\n]");
    assert_eq!(ok("var.l.*.a"), "[\n  1,\n  2,\n]");
    assert!(fails("var.missing").contains("does not have an attribute named \"missing\""));
    assert!(fails("var.l[5]").contains("Invalid index"));
    assert!(fails("nope").contains("There is no variable named \"nope\""));
}

#[test]
fn for_expressions() {
    assert_eq!(
        ok("[for x in [1, 2, 3] : x * 2 if x > 1]"),
        "[\n  4,\n  6,\n]"
    );
    assert_eq!(
        ok("{for k, v in {a = 1, b = 2} : v => k}"),
        "{\n  \"1\" = \"a\"\n  \"2\" = \"b\"\n}"
    );
    assert_eq!(
        ok("{for s in [\"a\", \"b\", \"a\"] : s => s...}"),
        "{\n  \"a\" = [\n    \"a\",\n    \"a\",\n  ]\n  \"b\" = [\n    \"b\",\n  ]\n}"
    );
    assert!(fails("{for s in [\"a\", \"a\"] : s => s}").contains("Duplicate object key"));
}

#[test]
fn templates_and_directives() {
    assert_eq!(ok("\"n=${var.n}\""), "n=3");
    assert_eq!(
        ok("\"%{ if var.n > 2 }big%{ else }small%{ endif }\""),
        "big"
    );
    assert_eq!(ok("\"%{ for x in [1, 2] }<${x}>%{ endfor }\""), "<1><2>");
    assert_eq!(ok("\"a  ${~ \"b\" ~}  c\""), "abc");
    assert!(fails("\"a${null}\"").contains("null value"));
    assert_eq!(ok("\"${null}\""), "null");
}

#[test]
fn sensitive_marks_survive_operations() {
    assert_eq!(ok("var.s"), "<sensitive>");
    assert_eq!(ok("\"x-${var.s}\""), "<sensitive>");
    assert_eq!(ok("[var.s]"), "[\n  \"<sensitive>\",\n]");
    assert_eq!(ok("var.s == \"hunter2\""), "<sensitive>");
    assert_eq!(
        ok("{for k in [1] : k => var.s}"),
        "{\n  \"1\" = \"<sensitive>\"\n}"
    );
    assert_eq!(ok("upper(var.s)"), "<sensitive>");
}

#[test]
fn numbers_keep_precision() {
    assert_eq!(ok("9007199254740993"), "9007199254740993");
    assert_eq!(ok("1/3"), "0.3333333333333333");
}

#[test]
fn convert_and_try() {
    assert_eq!(
        ok("convert([\"a\", 1], list(string))"),
        "[\n  \"a\",\n  \"1\",\n]"
    );
    assert_eq!(ok("try(var.missing, \"fallback\")"), "fallback");
    assert_eq!(ok("can(var.missing)"), "false");
    assert_eq!(ok("can(var.n)"), "true");
    assert_eq!(
        ok("convert({a = 1}, object({a = number, b = optional(string, \"d\")}))"),
        "{\n  \"a\" = 1\n  \"b\" = \"d\"\n}"
    );
}
