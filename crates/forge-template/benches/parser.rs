//! Parsing adversarial and large HCL text: the inputs fuzzing found (operands nested deep that
//! fail only at the innermost level, after a chain of binary operators) and inputs of 64 KiB, as
//! a template attribute, a `forge console` line and `forge fmt` input. Targets: under 10 ms for
//! the fuzzer's inputs, under 1 s for any input of up to 64 KiB.
//!
//! Run with `cargo bench -p forge-template --bench parser`.
#![allow(missing_docs)] // criterion_group! and criterion_main! make undocumented items

use std::collections::HashMap;

use criterion::{criterion_group, criterion_main, Criterion};
use forge_template::{load_hcl_text, LoadOptions};

fn nest(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

fn big(part: &str, bytes: usize) -> String {
    part.repeat(bytes / part.len())
}

fn inputs() -> Vec<(&'static str, String)> {
    vec![
        ("parenthesised operands d63", nest("1*1*(", "1!x", ")", 63)),
        ("object keys d60", nest("1*1*{(", "1!x", ")=1}", 60)),
        ("function arguments d63", nest("1*1*f(", "1!x", ")", 63)),
        ("interpolations d60", nest("1*1*\"${", "1!x", "}\"", 60)),
        ("64KiB operator chain", format!("{}1", big("1*!2+", 65_000))),
        (
            "64KiB list of strings",
            format!("[{}\"z\"]", big("\"abcdefghij\",", 65_000)),
        ),
        (
            "64KiB nested lists d60",
            nest("[", &format!("{}1", big("1,", 64_500)), "]", 60),
        ),
        (
            "64KiB repeated keys",
            format!("[{}{{a=1}}]", big("{a=1,a=2},", 65_000)),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let opts = LoadOptions {
        env: Some(HashMap::new()),
        ..LoadOptions::default()
    };
    let root = std::env::temp_dir();
    let mut g = c.benchmark_group("parser");
    g.sample_size(10);
    for (name, input) in inputs() {
        let text = format!("locals {{\n  x = {input}\n}}\n");
        g.bench_function(format!("attribute: {name}"), |b| {
            b.iter(|| std::hint::black_box(load_hcl_text("b.pkr.hcl", &text, &root, &opts)))
        });
        g.bench_function(format!("console: {name}"), |b| {
            b.iter(|| {
                std::hint::black_box(forge_template::console::eval_line(
                    &input,
                    &[],
                    root.clone(),
                ))
            })
        });
        g.bench_function(format!("fmt: {name}"), |b| {
            b.iter(|| std::hint::black_box(forge_template::format::format_hcl(&text)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
