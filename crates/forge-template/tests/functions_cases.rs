//! Conformance rows from `tests/functions/cases.tsv`: each expression is evaluated by forge's
//! expression evaluator, as `forge console` will, and compared with what `packer console` (1.6.6) printed. Errors compare by
//! their detail, with line wrapping ignored. Rows listed in `known_differences.txt` are allowed
//! to differ (each line there says why); any other mismatch fails the test.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_template::testing::console;
use forge_testkit::cases;

use std::path::PathBuf;

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn console_conformance() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/functions");
    let fixtures = root.join("fixtures");
    let ctx = console::test_ctx(fixtures.clone(), false);
    let prefix = format!("{}/", fixtures.display());
    let (mut passed, mut failed, mut known_failed) = (0, 0, 0);
    let mut unexpected = Vec::new();
    for case in cases::load(&root) {
        let (expr, expected) = (case.expr.as_str(), case.expected.clone());
        let got = console::render(&console::eval_str(&ctx, expr)).replace(&prefix, "");
        let ok = if expected.starts_with("Error: ") {
            normalize_ws(&got) == normalize_ws(&expected)
        } else {
            got == expected
        };
        if ok {
            passed += 1;
        } else if case.known_difference {
            known_failed += 1;
        } else {
            failed += 1;
            unexpected.push(format!(
                "{expr}\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    println!("functions conformance: {passed} passed, {known_failed} known differences, {failed} unexpected");
    for u in &unexpected {
        println!("{u}");
    }
    println!("{passed} passed, {failed} failed");
    assert!(
        unexpected.is_empty(),
        "{} rows differ from packer console",
        unexpected.len()
    );
}
