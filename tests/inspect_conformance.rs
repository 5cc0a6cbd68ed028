//! `forge inspect` against `packer inspect` (Debian's Packer 1.6.6) over the template corpus
//! (`$FORGE_CORPUS`, else ../shared/corpus): every legacy JSON entry, and every HCL2 entry that
//! 1.6.6 can read (its `validate -syntax-only` passed, per packer166-results.tsv; the others use
//! Packer 1.7+ syntax such as required_plugins or data blocks). Both run in the entry's
//! repository copy with no variables, so unset variables show as `<unknown>`.
//!
//! Justified differences, where forge follows Packer 1.16 rather than 1.6.6, are normalised
//! away before comparing (see `justified`), and counted.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::{Path, PathBuf};
use std::process::Command;

fn packer() -> PathBuf {
    let p = std::env::var_os("PACKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/packer"));
    let ok = Command::new(&p)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "packer is missing at {}: install Debian's packer (apt-get install --no-install-recommends packer)",
        p.display()
    );
    p
}

fn run(bin: &Path, cwd: &Path, rel: &str) -> (i32, String) {
    match Command::new(bin)
        .args(["inspect", rel])
        .current_dir(cwd)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_NO_COLOR", "1")
        .output()
    {
        Ok(o) => (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ),
        Err(e) => (-1, e.to_string()),
    }
}

/// Normalises the differences where forge deliberately follows Packer 1.16; returns the
/// normalised (packer, forge) texts and which rules applied.
fn justified(
    packer: &str,
    forge: &str,
    uses_templatefile: bool,
) -> (String, String, Vec<&'static str>) {
    let mut rules = Vec::new();
    let (mut p, mut f) = (packer.to_string(), forge.to_string());
    // 1.16 lists a build-level source by the name it is given there (`SourceUseBlock.name()`);
    // 1.6.6 printed the referenced source block's name. Compare the source lines by type only.
    let strip_sources = |s: &str| -> String {
        let mut out = Vec::new();
        let mut in_sources = false;
        for l in s.lines() {
            if l == "    sources:" {
                in_sources = true;
            } else if l.starts_with("    ") && !l.starts_with("      ") {
                in_sources = false;
            }
            if in_sources && l.starts_with("      ") {
                out.push(l.split('.').next().unwrap_or(l).to_string());
            } else {
                out.push(l.to_string());
            }
        }
        out.join("\n")
    };
    if p != f && strip_sources(&p) == strip_sources(&f) {
        rules.push("build-level source names (1.16)");
        p = strip_sources(&p);
        f = strip_sources(&f);
    }
    // Go lists required JSON variables in map order, which changes from run to run; forge
    // sorts them.
    let sort_required = |s: &str| -> String {
        let mut out: Vec<String> = Vec::new();
        let mut block: Vec<String> = Vec::new();
        let mut inside = false;
        for l in s.lines() {
            if l == "Required variables:" {
                inside = true;
                out.push(l.to_string());
                continue;
            }
            if inside && l.starts_with("  ") {
                block.push(l.to_string());
                continue;
            }
            if inside && l.is_empty() && block.is_empty() {
                out.push(String::new());
                continue;
            }
            if inside {
                block.sort();
                out.append(&mut block);
                inside = false;
            }
            out.push(l.to_string());
        }
        out.join("\n")
    };
    if p != f && sort_required(&p) == sort_required(&f) {
        rules.push("required JSON variables in Go map order");
        p = sort_required(&p);
        f = sort_required(&f);
    }
    // templatefile() came after 1.6.6, which drops every local that calls it.
    if p != f && uses_templatefile {
        let drop_extra = |f: &str| -> String {
            f.lines()
                .filter(|l| {
                    !l.starts_with("local.")
                        || p.lines()
                            .any(|pl| pl.split(':').next() == l.split(':').next())
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let f2 = drop_extra(&f);
        let p2 = p.lines().collect::<Vec<_>>().join("\n");
        if f2 == p2 {
            rules.push("locals calling templatefile (not in 1.6.6)");
            p = p2;
            f = f2;
        }
    }
    // Time-dependent values (timestamp() in locals and defaults) differ between the two runs.
    let digits = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect()
    };
    if p != f && digits(&p) == digits(&f) && p.contains("local.") {
        rules.push("time-dependent values");
        p = digits(&p);
        f = digits(&f);
    }
    (p, f, rules)
}

/// Whether any HCL file of the entry calls templatefile().
fn uses_templatefile(path: &Path) -> bool {
    let files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    } else {
        vec![path.to_path_buf()]
    };
    files.iter().any(|f| {
        f.to_string_lossy().ends_with(".hcl")
            && std::fs::read_to_string(f).is_ok_and(|t| t.contains("templatefile("))
    })
}

#[test]
fn inspect_matches_packer_1_6_6_on_the_corpus() {
    let packer = packer();
    let dir = forge_testkit::corpus::dir();
    let results = std::fs::read_to_string(dir.join("packer166-results.tsv")).expect("results");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    let forge = PathBuf::from(env!("CARGO_BIN_EXE_forge"));
    let mut rejected = std::collections::BTreeMap::new();
    for line in results.lines().filter(|l| l.starts_with("public\t")) {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() > 4 && c[4] != "0" {
            rejected.insert(
                c[2].to_string(),
                c.get(8).copied().unwrap_or("").to_string(),
            );
        }
    }
    let (mut json, mut hcl2, mut skipped) = (0, 0, 0);
    let mut justified_counts: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    for line in manifest.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 4 {
            continue;
        }
        let (entry, format) = (c[0], c[3]);
        if rejected.contains_key(entry) {
            skipped += 1;
            continue;
        }
        // Run from the repository copy root, as the 1.6.6 results were produced.
        let (repo, rel) = entry.split_once('/').unwrap_or((entry, "."));
        let cwd = dir.join(repo);
        let (pc, pout) = run(&packer, &cwd, rel);
        let (fc, fout) = run(&forge, &cwd, rel);
        if format == "json" {
            json += 1;
        } else {
            hcl2 += 1;
        }
        let (p, f, rules) = justified(&pout, &fout, uses_templatefile(&cwd.join(rel)));
        for r in &rules {
            *justified_counts.entry(r).or_default() += 1;
        }
        if pc != fc || p != f {
            failures.push(format!(
                "{entry} (packer exit {pc}, forge exit {fc})\n--- packer\n{pout}\n--- forge\n{fout}"
            ));
        }
    }
    println!(
        "inspect conformance: {json} JSON and {hcl2} HCL2 entries compared, {skipped} skipped (1.6.6 cannot read them), {} differ; justified: {justified_counts:?}",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "entries that differ from packer inspect:\n{}",
        failures.join("\n\n")
    );
}
