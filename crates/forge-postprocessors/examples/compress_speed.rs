//! A quick measure of the `compress` post-processor's writer: compresses a 256 MiB file (a mix
//! of zeros, text-like and random blocks, like a disk image) to tar.gz with one thread and
//! with every core, and prints the times and sizes.
//!
//! `cargo run --release -p forge-postprocessors --example compress_speed [MiB] [output name]`
//! (the output name picks the format as in the post-processor; default `x.tar.gz`).

use std::io::Write;
use std::time::Instant;

use forge_postprocessors::compress::{self, Algorithm, Archive};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let name = args.next().unwrap_or_else(|| "x.tar.gz".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("disk.img");
    write_input(&input, mib << 20);
    let files = vec![input.display().to_string()];
    let (archive, algorithm) = compress::detect(&name, None, Archive::None, Algorithm::None);
    let all = compress::default_threads();
    println!(
        "{mib} MiB to {name} ({archive:?} + {}), level 6",
        algorithm.name()
    );
    let mut base = None;
    let mut counts = vec![1];
    if all > 1 {
        counts.push(all);
    }
    for threads in counts {
        let out = dir.path().join(format!("{threads}-{name}"));
        let opts = compress::Options {
            archive,
            algorithm,
            level: None,
            threads,
        };
        let start = Instant::now();
        compress::compress_files(&files, &out, &opts, &|_| {}, None).expect("compress");
        let secs = start.elapsed().as_secs_f64();
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        let speedup = base
            .map(|b: f64| format!(", {:.2}x", b / secs))
            .unwrap_or_default();
        base.get_or_insert(secs);
        println!(
            "{threads:>3} thread(s): {secs:7.2} s, {:7.1} MiB/s, {:.1} MiB out{speedup}",
            mib as f64 / secs,
            size as f64 / (1 << 20) as f64
        );
    }
}

/// Writes `len` bytes: 1 MiB blocks that are zeros, text-like or random in turn.
fn write_input(path: &std::path::Path, len: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create input"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    let words: &[&[u8]] = &[
        b"packer ",
        b"forge ",
        b"image ",
        b"build ",
        b"artifact ",
        b"\n",
    ];
    let mut written = 0;
    let mut i = 0u64;
    while written < len {
        match i % 3 {
            0 => block.fill(0),
            1 => {
                let mut p = 0;
                while p < block.len() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let w = words[(x % words.len() as u64) as usize];
                    let n = w.len().min(block.len() - p);
                    block[p..p + n].copy_from_slice(&w[..n]);
                    p += n;
                }
            }
            _ => {
                for c in block.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
                }
            }
        }
        let n = block.len().min(len - written);
        f.write_all(&block[..n]).expect("write input");
        written += n;
        i += 1;
    }
    f.flush().expect("flush input");
}
