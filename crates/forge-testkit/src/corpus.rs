//! Where the template corpus is: `$FORGE_CORPUS`, else `shared/corpus` beside the repository
//! (or one level further up, for a worktree under `wt/`).

use std::path::{Path, PathBuf};

/// The corpus directory (holding MANIFEST.tsv); a missing corpus fails the test with where it
/// was looked for.
pub fn dir() -> PathBuf {
    let candidates = match std::env::var_os("FORGE_CORPUS") {
        Some(p) => vec![PathBuf::from(p)],
        None => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            vec![
                root.join("../shared/corpus"),
                root.join("../../shared/corpus"),
            ]
        }
    };
    if let Some(d) = candidates.iter().find(|d| d.join("MANIFEST.tsv").is_file()) {
        return d.clone();
    }
    let tried: Vec<String> = candidates
        .iter()
        .map(|d| d.join("MANIFEST.tsv").display().to_string())
        .collect();
    panic!(
        "the template corpus is missing: expected {} (set FORGE_CORPUS to the corpus directory)",
        tried.join(" or ")
    )
}
