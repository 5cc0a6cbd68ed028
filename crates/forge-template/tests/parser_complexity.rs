//! Inputs that once made the HCL parser backtrack exponentially (a few hundred bytes kept it busy
//! for minutes). Each reaches the parser through every way a user hands forge text: a template
//! attribute, a var file, `-var`, `PKR_VAR_*`, a `forge console` line and a `templatefile`
//! template. Each must finish (with a parse error) well inside a generous bound: the bound
//! catches a hang, not a slowdown; the speed itself is measured by `bench/parser-complexity.sh`.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use forge_template::{load, load_hcl_text, LoadOptions};

/// How long one parse may take before the test calls it a hang. Linear parsing takes well under
/// 10 ms for these inputs; the exponential one took 1.3 s at depth 20, doubling per level.
const BOUND: Duration = Duration::from_secs(5);

/// Nesting depth of the generated inputs: close to hcl-edit's limit of 64 levels.
const DEPTH: usize = 40;

/// `open` repeated `DEPTH` times, then `inner`, then `close` repeated.
fn nest(open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(DEPTH), close.repeat(DEPTH))
}

/// The regression inputs: each nests operands that fail to parse only at the innermost level,
/// after a chain of binary operators at every level.
fn inputs() -> Vec<(&'static str, String)> {
    vec![
        ("parenthesised operands", nest("1*1*(", "1!x", ")")),
        ("unary operands", nest("!1*!1*(", "!1!x", ")")),
        ("object values", nest("1*1*{a=", "1!x", "}")),
        ("object keys", nest("1*1*{(", "1!x", ")=1}")),
        (
            "for-object keys",
            nest("1*1*{for k, v in x : ", "1!x", " => v}"),
        ),
        ("function arguments", nest("1*1*f(", "1!x", ")")),
        ("tuple elements", nest("1*1*[", "1!x", "]")),
        ("interpolations", nest("1*1*\"${", "1!x", "}\"")),
        ("conditionals", nest("1*1*(1?", "1!x", ":1)")),
        ("traversal indexes", nest("1*1*x[", "1!x", "]")),
        (
            "operator soup with control characters",
            nest("!1*!1*(!", "1\u{1}", ")"),
        ),
    ]
}

/// Runs `f` on another thread and fails the test if it does not return within [`BOUND`].
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(BOUND) {
        Ok(v) => v,
        Err(_) => panic!("{what}: still parsing after {BOUND:?}"),
    }
}

fn opts() -> LoadOptions {
    LoadOptions {
        env: Some(HashMap::new()),
        ..LoadOptions::default()
    }
}

fn tmp() -> PathBuf {
    std::env::temp_dir()
}

const LIST_VAR: &str = r#"
variable "x" {
  type    = list(string)
  default = []
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
"#;

#[test]
fn a_template_attribute_fails_fast() {
    for (name, input) in inputs() {
        let text = format!("locals {{\n  x = {input}\n}}\n");
        let l = bounded(name, move || {
            load_hcl_text("t.pkr.hcl", &text, &tmp(), &opts())
        });
        let out = l.diags.render(&l.files);
        assert!(
            out.contains("t.pkr.hcl line 2"),
            "{name}: expected a parse error at line 2, got: {out}"
        );
    }
}

#[test]
fn a_console_line_fails_fast() {
    for (name, input) in inputs() {
        let r = bounded(name, move || {
            forge_template::console::eval_line(&input, &[], tmp()).is_err()
        });
        assert!(r, "{name}: the console accepted an invalid line");
    }
}

#[test]
fn a_var_flag_fails_fast() {
    for (name, input) in inputs() {
        let l = bounded(name, move || {
            let o = LoadOptions {
                vars: vec![("x".into(), input)],
                ..opts()
            };
            load_hcl_text("t.pkr.hcl", LIST_VAR, &tmp(), &o)
        });
        let out = l.diags.render(&l.files);
        assert!(
            l.plan.is_none() && out.contains("variable"),
            "{name}: expected an error about the -var value, got: {out}"
        );
    }
}

#[test]
fn a_pkr_var_fails_fast() {
    for (name, input) in inputs() {
        let l = bounded(name, move || {
            let o = LoadOptions {
                env: Some(HashMap::from([("PKR_VAR_x".to_string(), input)])),
                ..opts()
            };
            load_hcl_text("t.pkr.hcl", LIST_VAR, &tmp(), &o)
        });
        let out = l.diags.render(&l.files);
        assert!(
            l.plan.is_none() && out.contains("variable"),
            "{name}: expected an error about PKR_VAR_x, got: {out}"
        );
    }
}

#[test]
fn a_var_file_fails_fast() {
    let dir = std::env::temp_dir().join(format!("forge-parser-complexity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("t.pkr.hcl"), LIST_VAR).expect("template");
    for (i, (name, input)) in inputs().into_iter().enumerate() {
        let vars = dir.join(format!("v{i}.pkrvars.hcl"));
        std::fs::write(&vars, format!("x = {input}\n")).expect("var file");
        let template = dir.join("t.pkr.hcl");
        let l = bounded(name, move || {
            let o = LoadOptions {
                var_files: vec![vars],
                ..opts()
            };
            load(&template, &o)
        });
        let out = l.diags.render(&l.files);
        assert!(
            out.contains(&format!("v{i}.pkrvars.hcl line 1")),
            "{name}: expected a parse error in the var file, got: {out}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_template_file_fails_fast() {
    for (name, input) in inputs() {
        let text = format!("a ${{{input}}} b");
        let r = bounded(name, move || {
            forge_template::syntax::parse_template(0, &text).is_err()
        });
        assert!(r, "{name}: the template parsed");
    }
}

#[test]
fn valid_deep_expressions_still_parse() {
    // The fix must not turn away what parses: the same shapes, completed, evaluate.
    let cases = [
        (nest("1*1*(", "1", ")"), "1"),
        (nest("1+(", "1", ")"), "41"),
        (format!("length(flatten({}))", nest("[", "1", "]")), "1"),
        (nest("{a=", "1", "}.a"), "1"),
    ];
    for (input, want) in cases {
        let v = bounded("valid", move || {
            forge_template::console::eval_line(&input, &[], tmp())
                .map(|v| v.to_console_string())
                .map_err(|(d, f)| d.render(&f))
        });
        let got = v.unwrap_or_else(|e| panic!("valid input rejected: {e}"));
        assert_eq!(got, want);
    }
}

/// `{{ }}` templates nested beyond any real template's depth: parentheses, `{{if}}` blocks and
/// `{{else if}}` chains. Each must give an error, not overflow the stack (which aborts the whole
/// process), whether it is rendered or upgraded to HCL2.
fn deep_go_templates() -> Vec<(&'static str, String)> {
    let n = 20_000;
    vec![
        (
            "parentheses",
            format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n)),
        ),
        ("unclosed parentheses", format!("{{{{{}}}}}", "(".repeat(n))),
        (
            "else-if chain",
            format!("{{{{if true}}}}{}{{{{end}}}}", "{{else if true}}".repeat(n)),
        ),
        (
            "nested ifs",
            format!("{}x{}", "{{if true}}".repeat(n), "{{end}}".repeat(n)),
        ),
    ]
}

#[test]
fn a_deep_go_template_is_an_error_not_a_crash() {
    use forge_template::legacy::interp::{render, InterpContext};
    for (name, text) in deep_go_templates() {
        let err = bounded(name, move || {
            let vars = Default::default();
            let ctx = InterpContext::new(&vars);
            render(&text, &ctx).err().map(|e| e.to_string())
        });
        let err = err.unwrap_or_else(|| panic!("{name}: rendered"));
        assert!(
            err.contains("max expression depth exceeded"),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_deep_legacy_template_fails_validation_and_upgrade() {
    for (name, text) in deep_go_templates() {
        let json = serde_json::json!({
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": [text]}],
        })
        .to_string();
        let up = json.clone();
        bounded(name, move || {
            let _ = forge_template::upgrade::hcl2_upgrade(&up, &Default::default());
        });
        let dir = std::env::temp_dir().join(format!("forge-deep-legacy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.json");
        std::fs::write(&path, json).expect("template");
        let l = bounded(name, move || load(&path, &opts()));
        let _ = l.diags.render(&l.files);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn go_templates_nested_a_little_still_render() {
    use forge_template::legacy::interp::{render, InterpContext};
    let vars = Default::default();
    let ctx = InterpContext::new(&vars);
    let parens = format!("{{{{{}\"x\"{}}}}}", "(".repeat(100), ")".repeat(100));
    assert_eq!(
        render(&parens, &ctx).map_err(|e| e.to_string()),
        Ok("x".to_string())
    );
    let chain = format!(
        "{{{{if false}}}}a{}{{{{else}}}}b{{{{end}}}}",
        "{{else if false}}a".repeat(100)
    );
    assert_eq!(
        render(&chain, &ctx).map_err(|e| e.to_string()),
        Ok("b".to_string())
    );
}

#[test]
fn repeated_object_keys_parse_once_and_the_last_value_wins() {
    // HCL accepts repeated keys and the last value wins; hcl-edit rejects them, so forge
    // re-spells them, all in one pass: thousands of repeats stay fast.
    let text = "locals {\n  x = {a = 1, a = 2, \"a\" = 3, a: 4}\n}\n".to_string();
    let l = load_hcl_text("t.pkr.hcl", &text, &tmp(), &opts());
    assert!(l.plan.is_some(), "{}", l.diags.render(&l.files));
    let v = forge_template::console::eval_line("{a = 1, a = 2, a = 3}", &[], tmp());
    assert!(v.is_ok());
    let many = format!(
        "locals {{\n  x = [{}{{a=1}}]\n}}\n",
        "{a=1,a=2,a=3},".repeat(5000)
    );
    let l = bounded("5000 objects with repeated keys", move || {
        load_hcl_text("t.pkr.hcl", &many, &tmp(), &opts())
    });
    assert!(l.plan.is_some(), "{}", l.diags.render(&l.files));
    let many = format!("x = [{}{{a=1}}]\n", "{a=1,a=2,a=3},".repeat(5000));
    let formatted = bounded("fmt of 5000 objects with repeated keys", move || {
        forge_template::format::format_hcl(&many).is_ok()
    });
    assert!(formatted);
}

#[test]
fn an_error_inside_a_multibyte_character_is_reported_not_a_panic() {
    // Found by the fmt fuzz target: hcl-edit reported a position inside the last character.
    let text = format!(
        "a{}ected newline or eof{}a\u{FEFB}\u{FEFB}",
        "u".repeat(69),
        "u".repeat(4)
    );
    let err = forge_template::format::format_hcl(&text).expect_err("not HCL");
    assert_eq!(err.line, 1);
    let l = load_hcl_text("t.pkr.hcl", &text, &tmp(), &opts());
    assert!(l.plan.is_none());
    let _ = l.diags.render(&l.files);
}
