//! Redacting build output: every line a build prints passes through the [`Redactor`]. Measures
//! a MiB of provisioner-like output with 10 secrets registered (none present, and one in every
//! 100 lines in a random encoding), and registering a secret (compiling the pattern again).
//! Target: redaction well below the speed output arrives at (tens of MiB/s), registration
//! under 50 ms.
//!
//! Run with `cargo bench -p forge-core --bench redact`.
#![allow(missing_docs)] // criterion_group! and criterion_main! make undocumented items

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use forge_core::redact::Redactor;

fn secrets() -> Vec<String> {
    (0..10)
        .map(|i| format!("s3cr3t/{i}+P@ss w0rd&<{i}>\"quote'{i}"))
        .collect()
}

fn output(with_secret: Option<&str>) -> String {
    let mut out = String::new();
    let mut n = 0;
    while out.len() < 1 << 20 {
        n += 1;
        match with_secret {
            Some(s) if n % 100 == 0 => {
                out.push_str(&format!("    amazon-ebs: token={}\n", urlish(s)));
            }
            _ => out.push_str(&format!(
                "    amazon-ebs: Get:{n} http://deb.debian.org/debian bookworm/main amd64 libfoo{n} 1.2.3-4 [123 kB]\n"
            )),
        }
    }
    out
}

fn urlish(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let r = Redactor::new();
    let list = secrets();
    for s in &list {
        r.add(s);
    }
    let mut g = c.benchmark_group("redact");
    g.throughput(Throughput::Bytes(1 << 20));
    let clean = output(None);
    g.bench_function("1MiB, no secret present", |b| {
        b.iter(|| clean.lines().map(|l| r.redact(l).len()).sum::<usize>())
    });
    let dirty = output(Some(&list[3]));
    assert!(!r.redact(&dirty).contains(&urlish(&list[3])));
    g.bench_function("1MiB, a secret every 100 lines", |b| {
        b.iter(|| dirty.lines().map(|l| r.redact(l).len()).sum::<usize>())
    });
    g.finish();
    c.bench_function("register the 11th secret", |b| {
        b.iter(|| {
            let r = Redactor::new();
            for s in &list {
                r.add(s);
            }
            r.add("one more secret");
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
