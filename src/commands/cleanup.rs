//! `forge cleanup`: finds the journals of runs that died (kill -9, power loss, `-on-error=abort`)
//! and removes what they left, newest first; cloud reclaimers also sweep for resources tagged
//! with each dead run's id.

use clap::Args;
use forge_core::journal::{list, state_dir};

/// `forge cleanup`
#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// Only list what would be removed.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

/// Runs `forge cleanup`.
pub fn run(a: &CleanupArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(cleanup(a.dry_run))
}

async fn cleanup(dry_run: bool) -> i32 {
    let registry = crate::commands::build::registry();
    let dir = state_dir();
    let mut removed = 0;
    let mut failed = 0;
    let mut runs = 0;
    for j in list(&dir) {
        if j.is_alive() {
            println!(
                "Run {} (pid {}) is still running; skipping it.",
                j.run_id, j.pid
            );
            continue;
        }
        runs += 1;
        let mut left = 0;
        for r in &j.live {
            let what = format!("{} {} (run {}, build {})", r.kind, r.id, j.run_id, r.build);
            if dry_run {
                println!("Would remove {what}");
                continue;
            }
            match registry.reclaimer(&r.kind) {
                None => {
                    println!("Error: no way to remove {what} in this forge build");
                    failed += 1;
                    left += 1;
                }
                Some(rc) => match rc.reclaim(r).await {
                    Ok(()) => {
                        println!("Removed {what}");
                        let _ = j.mark_deleted(r.seq);
                        removed += 1;
                    }
                    Err(e) => {
                        println!("Error: could not remove {what}: {e}");
                        failed += 1;
                        left += 1;
                    }
                },
            }
        }
        for rc in &registry.reclaimers {
            match rc.sweep(&j.run_id, dry_run).await {
                Ok(found) => {
                    for f in found {
                        println!(
                            "{} {f} (tagged with run {})",
                            if dry_run { "Would remove" } else { "Removed" },
                            j.run_id
                        );
                        removed += usize::from(!dry_run);
                    }
                }
                Err(e) => {
                    println!("Error: sweeping run {}: {e}", j.run_id);
                    failed += 1;
                    left += 1;
                }
            }
        }
        if !dry_run && left == 0 {
            let _ = std::fs::remove_file(&j.path);
        }
    }
    if runs == 0 {
        println!("Nothing to clean up.");
    } else if !dry_run {
        println!("Removed {removed} resource(s) left by {runs} run(s).");
    }
    i32::from(failed > 0)
}
