//! One conformance runner that the template corpus tests share (forge-testkit's `corpus::dir`
//! finds the corpus): every entry of a format loads into a plan as Packer would, and the entries
//! Packer rejects fail with Packer's error.

use std::path::Path;

use crate::{load, LoadOptions};

/// How an entry is loaded: unset variables stay unknown; where the entry ships var files
/// beside it (auto var files load by themselves) the first is given as -var-file, as its README
/// says; and values the entry's own CI passes with -var are passed.
pub fn options_for(path: &Path, entry: &str, notes: &str) -> LoadOptions {
    let mut opts = LoadOptions {
        unset_as_unknown: true,
        ..LoadOptions::default()
    };
    if let Some(list) = notes.split("var files in dir: ").nth(1) {
        let first = list.split([' ', ';']).next().unwrap_or_default();
        let base = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(|p| p.to_path_buf()).unwrap_or_default()
        };
        let usable = first.ends_with(".pkrvars.hcl") || first.ends_with(".pkrvars.json");
        if usable && !first.contains(".auto.") && base.join(first).is_file() {
            opts.var_files.push(base.join(first));
        }
    }
    if entry == "actions__runner-images/images/ubuntu/templates" {
        opts.vars.push(("image_os".into(), "ubuntu22".into()));
    }
    opts
}

/// Loads every entry of the corpus in `dir` whose format starts with `format` (skipping `skip`
/// prefixes): each must load into a plan, except the `expected` ones, which must fail with that
/// error summary.
pub fn run(dir: &Path, label: &str, format: &str, expected: &[(&str, &str)], skip: &[&str]) {
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    let (mut ok, mut total) = (0, 0);
    let mut failures = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4
            || !cols[3].starts_with(format)
            || skip.iter().any(|p| cols[0].starts_with(p))
        {
            continue;
        }
        total += 1;
        let path = dir.join(cols[0]);
        let mut opts = options_for(&path, cols[0], cols.get(8).copied().unwrap_or_default());
        // Legacy JSON variables are strings: required ones get one; var files must be JSON.
        if format == "json" {
            opts.var_files
                .retain(|f| f.extension().is_some_and(|e| e == "json"));
            for v in cols
                .get(7)
                .unwrap_or(&"")
                .split(',')
                .filter(|v| !v.is_empty())
            {
                opts.vars.push((v.to_string(), "1".to_string()));
            }
        }
        let result = load(&path, &opts);
        match expected
            .iter()
            .find(|(p, _)| *p == cols[0])
            .map(|(_, e)| *e)
        {
            Some(want) => {
                let got: Vec<&str> = result.diags.errors().map(|d| d.summary.as_str()).collect();
                if got.contains(&want) {
                    ok += 1;
                } else {
                    failures.push(format!(
                        "{}: expected the error {want:?}, got {got:?}",
                        cols[0]
                    ));
                }
            }
            None if result.plan.is_some() => ok += 1,
            None => failures.push(format!(
                "{}:\n{}",
                cols[0],
                result.diags.render(&result.files)
            )),
        }
    }
    eprintln!("{label}: {ok}/{total} load as Packer does");
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
