//! Parses and evaluates the whole template corpus (../shared/corpus): every HCL2 and legacy JSON
//! entry of MANIFEST.tsv is loaded into a build plan, as `forge validate` would.
//!
//! Run with `cargo bench -p forge-template --bench corpus` (FORGE_CORPUS overrides the path).
#![allow(missing_docs)] // criterion_group! and criterion_main! make undocumented items

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use forge_template::{load, LoadOptions};

fn corpus_entries() -> Vec<PathBuf> {
    let dir = std::env::var_os("FORGE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap_or_else(|_| panic!("the corpus is expected at {}", dir.display()));
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .map(|p| dir.join(p))
        .collect()
}

fn bench(c: &mut Criterion) {
    let entries = corpus_entries();
    let opts = LoadOptions {
        unset_as_unknown: true,
        ..LoadOptions::default()
    };
    c.bench_function(
        &format!("load whole corpus ({} entries)", entries.len()),
        |b| {
            b.iter(|| {
                for e in &entries {
                    std::hint::black_box(load(e, &opts));
                }
            })
        },
    );
    let one = entries
        .iter()
        .find(|e| {
            e.to_string_lossy()
                .ends_with("hashicorp__packer/hcl2template/testdata/complete")
        })
        .cloned()
        .unwrap_or_else(|| entries[0].clone());
    c.bench_function(
        "load one multi-file template (hcl2template/testdata/complete)",
        |b| b.iter(|| std::hint::black_box(load(&one, &opts))),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
