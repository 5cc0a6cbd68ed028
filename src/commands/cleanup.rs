//! `forge cleanup`: finds the journals of runs that died (kill -9, power loss, `-on-error=abort`)
//! and removes what they left, newest first; cloud reclaimers also sweep for resources tagged
//! with each dead run's id.
//!
//! A cloud resource is removed with the credentials its build used, which the journal never
//! holds: cleanup evaluates the template the journal names again, with the run's var files,
//! `PKR_VAR_*` and the `-var`s given again to cleanup (or the template given as argument),
//! and hands each reclaimer the configuration of the build that created the resource.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use forge_core::engine::Engine;
use forge_core::journal::{list, state_dir, RunJournal, TemplateSource};
use forge_core::redact::Redactor;
use forge_core::registry::{Origin, ReclaimError, Registry};
use forge_template::plan::BuildPlan;
use forge_template::{load, LoadOptions};

use crate::cli::TemplateArgs;
use crate::commands::build::absolute;

/// `forge cleanup`
#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// Only list what would be removed.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// A variable of the template, given again (values are never journaled): -var 'key=value'.
    #[arg(long = "var", value_name = "key=value")]
    pub vars: Vec<String>,
    /// A var file for the template, besides those the build was given.
    #[arg(long = "var-file", value_name = "path")]
    pub var_files: Vec<String>,
    /// The template the runs were built from, when the one the journal names is gone or moved.
    #[arg(value_name = "TEMPLATE")]
    pub template_path: Option<String>,
}

/// Runs `forge cleanup`.
pub fn run(a: &CleanupArgs) -> i32 {
    let flags = TemplateArgs {
        vars: a.vars.clone(),
        var_files: a.var_files.clone(),
        ..TemplateArgs::default()
    };
    let plugins = crate::plugins::all();
    let mut given = match crate::commands::validate::load_options(&flags, &plugins) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    // Runs are evaluated in their own directories: what the command line names is taken from
    // here.
    given.var_files = given.var_files.iter().map(|f| absolute(f)).collect();
    let template = a.template_path.as_deref().map(|t| absolute(Path::new(t)));
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
    let c = Cleanup {
        registry: plugins.registry(),
        redactor: Redactor::new(),
        given,
        template,
        dry_run: a.dry_run,
    };
    rt.block_on(c.all())
}

struct Cleanup {
    registry: Registry,
    redactor: Arc<Redactor>,
    /// `-var` and `-var-file` given to cleanup.
    given: LoadOptions,
    /// The template given as argument.
    template: Option<PathBuf>,
    dry_run: bool,
}

/// What removing one run's resources came to.
#[derive(Default)]
struct Tally {
    removed: usize,
    failed: usize,
}

/// Resources left for want of credentials, gathered into one line per run.
#[derive(Default)]
struct NoCredentials {
    count: usize,
    reason: String,
    hints: BTreeSet<String>,
}

/// The configurations cleanup could evaluate for one run, and why not when it could not.
struct Evaluated {
    plans: Vec<BuildPlan>,
    failures: Vec<String>,
}

impl Evaluated {
    /// What the reclaimers get for `build`.
    fn origin(&self, build: &str) -> Origin {
        self.plans
            .iter()
            .flat_map(|p| &p.builds)
            .find(|b| b.name == build)
            .map(|b| Origin {
                build: build.to_string(),
                builder_type: b.builder_type.clone(),
                config: Some(b.builder.config.clone()),
                post_processors: b
                    .post_processors
                    .iter()
                    .flatten()
                    .map(|pp| (pp.config.plugin_type.clone(), pp.config.config.clone()))
                    .collect(),
            })
            .unwrap_or_else(|| Origin {
                build: build.to_string(),
                ..Origin::default()
            })
    }
}

impl Cleanup {
    fn say(&self, line: &str) {
        println!("{}", self.redactor.redact(line));
    }

    async fn all(&self) -> i32 {
        let home = std::env::current_dir().ok();
        let mut total = Tally::default();
        let mut runs = 0;
        for j in list(&state_dir()) {
            if j.is_alive() {
                self.say(&format!(
                    "Run {} (pid {}) is still running; skipping it.",
                    j.run_id, j.pid
                ));
                continue;
            }
            runs += 1;
            // Relative paths in the template (`file("creds")`, shared_credentials_file) mean
            // what they meant to the build.
            if let Some(cwd) = j.cwd.as_ref().filter(|d| d.is_dir()) {
                let _ = std::env::set_current_dir(cwd);
            }
            let t = self.run(&j).await;
            if let Some(h) = &home {
                let _ = std::env::set_current_dir(h);
            }
            total.removed += t.removed;
            total.failed += t.failed;
        }
        if runs == 0 {
            self.say("Nothing to clean up.");
        } else if !self.dry_run {
            self.say(&format!(
                "Removed {} resource(s) left by {runs} run(s).",
                total.removed
            ));
        }
        i32::from(total.failed > 0)
    }

    /// Evaluates the template given as argument, then the one the journal names, each with
    /// the variable sources the build had.
    fn evaluate(&self, source: Option<&TemplateSource>) -> Evaluated {
        let mut ev = Evaluated {
            plans: Vec::new(),
            failures: Vec::new(),
        };
        let recorded = |s: &TemplateSource| {
            let mut files = s.var_files.clone();
            files.extend(self.given.var_files.iter().cloned());
            (s.path.clone(), files)
        };
        let mut tries: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
        match (&self.template, source) {
            // The same template: with the var files the build had, too.
            (Some(t), Some(s)) if *t == s.path => tries.push(recorded(s)),
            (Some(t), s) => {
                tries.push((t.clone(), self.given.var_files.clone()));
                tries.extend(s.map(recorded));
            }
            (None, Some(s)) => tries.push(recorded(s)),
            (None, None) => ev
                .failures
                .push("the journal names no template (written by an older forge)".into()),
        }
        for (path, var_files) in tries {
            let opts = LoadOptions {
                var_files,
                ..self.given.clone()
            };
            let loaded = load(&path, &opts);
            match loaded.plan.filter(|_| !loaded.diags.has_errors()) {
                Some(plan) => {
                    Engine::collect_secrets(&plan, &self.redactor);
                    for b in &plan.builds {
                        for rc in &self.registry.reclaimers {
                            for s in rc.secrets(&b.builder.config) {
                                self.redactor.add(&s);
                            }
                        }
                    }
                    ev.plans.push(plan);
                }
                None => {
                    let why = loaded
                        .diags
                        .errors()
                        .next()
                        .map(|d| one_line(&d.summary))
                        .unwrap_or_else(|| "it did not load".into());
                    ev.failures.push(format!("{}: {why}", path.display()));
                }
            }
        }
        ev
    }

    async fn run(&self, j: &RunJournal) -> Tally {
        let mut t = Tally::default();
        let mut left = 0;
        let ev = if self.dry_run || j.live.is_empty() {
            Evaluated {
                plans: Vec::new(),
                failures: Vec::new(),
            }
        } else {
            self.evaluate(j.source.as_ref())
        };
        let mut origins: BTreeMap<String, Origin> = BTreeMap::new();
        // Builds whose reclaimer found no credentials: their other resources need the same.
        let mut stuck: BTreeSet<(String, usize)> = BTreeSet::new();
        let mut no_creds = NoCredentials::default();
        for r in &j.live {
            // A resource journaled before its id was known is found by the run's tag.
            let id = if r.id.is_empty() {
                "(by the run's tag)"
            } else {
                r.id.as_str()
            };
            let what = format!("{} {id} (run {}, build {})", r.kind, j.run_id, r.build);
            if self.dry_run {
                self.say(&format!("Would remove {what}"));
                continue;
            }
            let Some(ix) = self
                .registry
                .reclaimers
                .iter()
                .position(|rc| rc.kinds().contains(&r.kind.as_str()))
            else {
                self.say(&format!(
                    "Error: no way to remove {what} in this forge build"
                ));
                t.failed += 1;
                left += 1;
                continue;
            };
            if stuck.contains(&(r.build.clone(), ix)) {
                no_creds.count += 1;
                t.failed += 1;
                left += 1;
                continue;
            }
            let origin = origins
                .entry(r.build.clone())
                .or_insert_with(|| ev.origin(&r.build));
            match self.registry.reclaimers[ix].reclaim(r, origin).await {
                Ok(()) => {
                    self.say(&format!("Removed {what}"));
                    let _ = j.mark_deleted(r.seq);
                    t.removed += 1;
                }
                Err(ReclaimError::NoCredentials { reason, hint }) => {
                    stuck.insert((r.build.clone(), ix));
                    no_creds.count += 1;
                    if no_creds.reason.is_empty() {
                        no_creds.reason = reason;
                    }
                    no_creds.hints.insert(hint);
                    t.failed += 1;
                    left += 1;
                }
                Err(e) => {
                    self.say(&format!("Error: could not remove {what}: {e}"));
                    t.failed += 1;
                    left += 1;
                }
            }
        }
        if no_creds.count > 0 {
            self.say(&self.no_credentials_line(j, &ev, &no_creds));
        }
        for rc in &self.registry.reclaimers {
            match rc.sweep(&j.run_id, self.dry_run).await {
                Ok(found) => {
                    for f in found {
                        self.say(&format!(
                            "{} {f} (tagged with run {})",
                            if self.dry_run {
                                "Would remove"
                            } else {
                                "Removed"
                            },
                            j.run_id
                        ));
                        t.removed += usize::from(!self.dry_run);
                    }
                }
                Err(e) => {
                    self.say(&format!("Error: sweeping run {}: {e}", j.run_id));
                    t.failed += 1;
                    left += 1;
                }
            }
        }
        if !self.dry_run && left == 0 {
            let _ = std::fs::remove_file(&j.path);
        }
        t
    }

    /// The one line that says what cleanup needs to reach a run's resources.
    fn no_credentials_line(&self, j: &RunJournal, ev: &Evaluated, n: &NoCredentials) -> String {
        let hints: Vec<&str> = n.hints.iter().map(String::as_str).collect();
        let head = format!(
            "Error: run {}: {} resource(s) left, no credentials to reach them ({})",
            j.run_id, n.count, n.reason
        );
        if ev.failures.is_empty() {
            // The configuration was evaluated and names no credentials that work here.
            return format!("{head}; {}", hints.join(" or "));
        }
        let path = self
            .template
            .as_ref()
            .or(j.source.as_ref().map(|s| &s.path))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "TEMPLATE".into());
        let mut cmd = String::from("forge cleanup");
        let mut names: Vec<&str> = Vec::new();
        if let Some(s) = &j.source {
            let env = s.env_vars.iter().filter_map(|v| v.strip_prefix("PKR_VAR_"));
            for v in s.vars.iter().map(String::as_str).chain(env) {
                if !names.contains(&v) {
                    names.push(v);
                    cmd.push_str(&format!(" -var {v}=…"));
                }
            }
        }
        format!(
            "{head}; the template could not be evaluated ({}): run `{cmd} {path}` or {}",
            ev.failures.join("; "),
            hints.join(" or ")
        )
    }
}

/// Text on one line, whitespace runs collapsed.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
