//! Times loading each corpus entry (a development aid for the corpus benchmark): prints the
//! slowest entries.
fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/corpus".into()),
    );
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_default();
    let opts = forge_template::LoadOptions {
        unset_as_unknown: true,
        ..Default::default()
    };
    let mut times = Vec::new();
    for line in manifest.lines().skip(1) {
        let p = line.split('\t').next().unwrap_or_default();
        let t = std::time::Instant::now();
        let _ = forge_template::load(&dir.join(p), &opts);
        times.push((t.elapsed(), p.to_string()));
    }
    times.sort();
    let total: std::time::Duration = times.iter().map(|t| t.0).sum();
    println!("total {total:?} over {} entries", times.len());
    for (d, p) in times.iter().rev().take(8) {
        println!("{d:?}\t{p}");
    }
}
