//! The scheduler: prepares every build's plugins, runs builds concurrently behind
//! `-parallel-builds`, runs post-processor chains, sweeps each build's leftovers from the
//! journal, and prints Packer's closing summary.

mod chain;
mod hook;
mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_template::diag::{Diagnostic, Diagnostics};
use forge_template::plan::{BuildPlan, PlannedBuild, PluginConfig};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::events::Events;
use crate::journal::Journal;
use crate::plugin::{BuildCtx, Builder, PrepareInfo, RunOptions};
use crate::redact::Redactor;
use crate::registry::{Origin, PrepareErrors, Registry};
use crate::timeline::{Phase, Timeline};
use crate::ui::{Output, Ui, BUILD_COLORS};
use crate::Error;

/// How the run is set up.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Options plugins see.
    pub opts: RunOptions,
    /// `-parallel-builds` (0 = unlimited).
    pub parallel: usize,
    /// The run id.
    pub run_id: String,
    /// The template's directory.
    pub template_dir: PathBuf,
}

/// One build's end.
pub struct BuildResult {
    /// The build's name.
    pub name: String,
    /// Its artifacts, in Packer's order (empty when it failed).
    pub artifacts: Vec<Arc<dyn Artifact>>,
    /// Its error.
    pub error: Option<Error>,
    /// Its phases.
    pub timeline: Vec<Phase>,
    /// How long it took.
    pub duration: Duration,
}

/// The whole run's end.
pub struct RunSummary {
    /// Every build, in plan order.
    pub results: Vec<BuildResult>,
    /// Whether the run was interrupted.
    pub cancelled: bool,
    /// Whether some build was left out for its configuration errors.
    pub prepare_failed: bool,
}

impl RunSummary {
    /// Packer's exit code: 1 when any build failed or the run was interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.cancelled || self.prepare_failed || self.results.iter().any(|r| r.error.is_some()) {
            1
        } else {
            0
        }
    }
}

/// A build whose plugins are configured.
struct Prepared {
    index: usize,
    planned: Arc<PlannedBuild>,
    builder: Box<dyn Builder>,
    info: PrepareInfo,
}

/// Shows the configuration errors of builds left out of the run.
type PrepareReport = Box<dyn Fn(&Diagnostics) + Send + Sync>;

/// The engine of one `forge build`.
pub struct Engine {
    plan: Arc<BuildPlan>,
    registry: Arc<Registry>,
    output: Arc<Output>,
    events: Arc<Events>,
    journal: Arc<Journal>,
    cfg: EngineConfig,
    cancel: CancellationToken,
    report: Option<PrepareReport>,
}

impl Engine {
    /// An engine for `plan`.
    pub fn new(
        plan: BuildPlan,
        registry: Arc<Registry>,
        output: Arc<Output>,
        events: Arc<Events>,
        journal: Arc<Journal>,
        cfg: EngineConfig,
        cancel: CancellationToken,
    ) -> Engine {
        Engine {
            plan: Arc::new(plan),
            registry,
            output,
            events,
            journal,
            cfg,
            cancel,
            report: None,
        }
    }

    /// Shows configuration errors of builds that are skipped while the others run (Packer
    /// prints "Failed to prepare build" and goes on with the rest).
    pub fn on_prepare_errors(mut self, f: impl Fn(&Diagnostics) + Send + Sync + 'static) -> Engine {
        self.report = Some(Box::new(f));
        self
    }

    /// Registers every secret of the plan with `redactor`: sensitive variables and every value
    /// derived from them.
    pub fn collect_secrets(plan: &BuildPlan, redactor: &Redactor) {
        let mut secrets = Vec::new();
        for (name, v) in &plan.variables {
            if plan.sensitive_variables.contains(name) {
                forge_template::late::sensitive_strings(&v.clone().marked(true), &mut secrets);
            } else {
                forge_template::late::sensitive_strings(v, &mut secrets);
            }
        }
        for (_, v) in &plan.locals {
            forge_template::late::sensitive_strings(v, &mut secrets);
        }
        for b in &plan.builds {
            let mut cfgs: Vec<&PluginConfig> = vec![&b.builder];
            cfgs.extend(b.provisioners.iter().map(|p| &p.config));
            cfgs.extend(b.error_cleanup_provisioner.iter().map(|p| &p.config));
            cfgs.extend(b.post_processors.iter().flatten().map(|p| &p.config));
            for c in cfgs {
                forge_template::late::sensitive_strings(&c.config, &mut secrets);
            }
        }
        for s in secrets {
            redactor.add(&s);
        }
    }

    fn info(&self, b: &PlannedBuild) -> PrepareInfo {
        PrepareInfo {
            build_name: b.source_name.clone(),
            builder_type: b.builder_type.clone(),
            template_dir: self.cfg.template_dir.clone(),
            opts: self.cfg.opts.clone(),
            legacy: self.plan.legacy_json,
            connectors: Arc::new(self.registry.connectors.clone()),
            warnings: Default::default(),
        }
    }

    fn prepare_error(
        &self,
        b: &PlannedBuild,
        cfg: &PluginConfig,
        errs: PrepareErrors,
    ) -> Diagnostic {
        let list = multi_error(&errs);
        if self.plan.legacy_json {
            Diagnostic::error(format!("Failed to prepare build: {:?}", b.name), list)
        } else {
            Diagnostic::error(list, "").at(cfg.span)
        }
    }

    /// What `validate` reports: every configuration error the builds' plugins find when they
    /// are prepared, as `build` would report them. Plugin types this forge cannot run are left
    /// to the schema check.
    pub fn check_config(&self) -> Diagnostics {
        match self.prepare(true) {
            Ok((_, errors)) => errors,
            Err(errors) => errors,
        }
    }

    /// Configures every plugin of every build. An unknown plugin type stops the run; a build
    /// whose settings are wrong is left out, with its errors in the second list. `validating`
    /// skips what this forge cannot run and shows no warnings.
    fn prepare(&self, validating: bool) -> Result<(Vec<Prepared>, Diagnostics), Diagnostics> {
        let mut diags = Diagnostics::new();
        let mut skipped = Diagnostics::new();
        let mut out = Vec::new();
        for (index, b) in self.plan.builds.iter().enumerate() {
            let mut own = Diagnostics::new();
            let info = self.info(b);
            // What only a build can know (data sources `validate` skips) is a placeholder
            // while validating, as in Packer.
            let builder_config = if validating {
                forge_template::late::placeholders(&b.builder.config)
            } else {
                b.builder.config.clone()
            };
            let builder = match self.registry.builders.get(b.builder_type.as_str()) {
                None if validating => None,
                None => {
                    diags.push(
                        Diagnostic::error(
                            format!("The builder {} is unknown by Packer, and is likely part of a plugin that is not installed.", b.builder_type),
                            "forge does not build this platform yet; see docs for what works.",
                        )
                        .at(b.builder.span),
                    );
                    None
                }
                Some(f) => match f(&builder_config, &info) {
                    Ok(x) => Some(x),
                    Err(e) => {
                        own.push(self.prepare_error(b, &b.builder, e));
                        None
                    }
                },
            };
            // Provisioners and post-processors are checked with placeholders for what only
            // the build will know (`build.*`); they are configured for real when they run.
            let mut check =
                |kind: &str, cfg: &PluginConfig, ok: Option<Result<(), PrepareErrors>>| match ok {
                    None if validating => {}
                    None => diags.push(unknown(kind, &cfg.plugin_type, cfg)),
                    Some(Err(e)) => own.push(self.prepare_error(b, cfg, e)),
                    Some(Ok(())) => {}
                };
            use forge_template::schema::PluginKind;
            let placeholders = |kind: PluginKind, c: &PluginConfig| {
                forge_template::late::prepare_value(&self.plan, b, kind, c)
            };
            for p in b.provisioners.iter().chain(&b.error_cleanup_provisioner) {
                let f = self
                    .registry
                    .provisioners
                    .get(p.config.plugin_type.as_str());
                let ok = f
                    .map(|f| f(&placeholders(PluginKind::Provisioner, &p.config), &info).map(drop));
                check("provisioner", &p.config, ok);
            }
            for pp in b.post_processors.iter().flatten() {
                let f = self
                    .registry
                    .post_processors
                    .get(pp.config.plugin_type.as_str());
                let ok = f.map(|f| {
                    f(&placeholders(PluginKind::PostProcessor, &pp.config), &info).map(drop)
                });
                check("post-processor", &pp.config, ok);
            }
            let warnings = info.warnings.lock().map(|w| w.clone()).unwrap_or_default();
            if !warnings.is_empty() && !validating {
                self.output.say(
                    &format!(
                        "Warning: Warning when preparing build: {:?}\n\n{}\n",
                        b.name,
                        warnings.join("\n")
                    ),
                    None,
                );
            }
            if own.has_errors() {
                skipped.0.extend(own.0);
            } else if let Some(builder) = builder {
                out.push(Prepared {
                    index,
                    planned: Arc::new(b.clone()),
                    builder,
                    info,
                });
            }
        }
        // A block shared by several builds is reported once.
        for d in [&mut diags, &mut skipped] {
            let mut seen = std::collections::HashSet::new();
            d.0.retain(|d| seen.insert((d.subject.map(|s| (s.file, s.start)), d.summary.clone())));
        }
        if diags.has_errors() {
            diags.0.extend(skipped.0);
            Err(diags)
        } else {
            Ok((out, skipped))
        }
    }

    /// Runs every build. Configuration errors come back as diagnostics before anything runs.
    pub async fn run(self) -> Result<RunSummary, Diagnostics> {
        let (prepared, skipped) = match self.prepare(false) {
            Ok(p) => p,
            Err(d) => {
                self.journal.finish();
                return Err(d);
            }
        };
        if skipped.has_errors() {
            if let Some(report) = &self.report {
                report(&skipped);
            }
        }
        let start = Instant::now();
        let names: Vec<&str> = prepared.iter().map(|p| p.planned.name.as_str()).collect();
        self.events.emit(
            "run.start",
            None,
            json!({ "builds": names, "version": env!("CARGO_PKG_VERSION"),
                    "on_error": self.cfg.opts.on_error.as_str() }),
        );
        let color_on = matches!(
            self.output.mode(),
            crate::ui::Mode::Human { color: true, .. }
        );
        if color_on && !prepared.is_empty() {
            for p in &prepared {
                self.output.say(
                    &format!("{}: output will be in this color.", p.planned.name),
                    Some(BUILD_COLORS[p.index % 5]),
                );
            }
            self.output.say("", None);
        }
        let permits = if self.cfg.opts.debug {
            1
        } else if self.cfg.parallel == 0 {
            Semaphore::MAX_PERMITS
        } else {
            self.cfg.parallel
        };
        let sem = Arc::new(Semaphore::new(permits));
        let mut tasks = Vec::new();
        for p in prepared {
            let sem = sem.clone();
            let ctx = BuildCtx {
                name: p.planned.name.clone(),
                builder_type: p.planned.builder_type.clone(),
                source_name: p.planned.source_name.clone(),
                ui: Ui::new(
                    self.output.clone(),
                    p.planned.name.clone(),
                    Some(BUILD_COLORS[p.index % 5]),
                ),
                cancel: self.cancel.clone(),
                journal: self.journal.clone(),
                events: self.events.clone(),
                opts: self.cfg.opts.clone(),
                run_id: self.cfg.run_id.clone(),
                template_dir: self.cfg.template_dir.clone(),
                timeline: Timeline::default(),
                keep_resources: Default::default(),
            };
            let plan = self.plan.clone();
            let registry = self.registry.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                run_one(ctx, p, plan, registry).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => results.push(r),
                Err(e) => results.push(BuildResult {
                    name: "?".into(),
                    artifacts: Vec::new(),
                    error: Some(Error::msg(format!("build task failed: {e}"))),
                    timeline: Vec::new(),
                    duration: Duration::ZERO,
                }),
            }
        }
        let summary = RunSummary {
            results,
            cancelled: self.cancel.is_cancelled(),
            prepare_failed: skipped.has_errors(),
        };
        summary::print(&self.output, &self.events, &summary, start.elapsed());
        self.events.emit(
            "run.end",
            None,
            json!({ "exit_code": summary.exit_code(), "cancelled": summary.cancelled,
                    "duration_ms": start.elapsed().as_millis() as u64 }),
        );
        self.journal.finish();
        Ok(summary)
    }
}

fn unknown(kind: &str, t: &str, cfg: &PluginConfig) -> Diagnostic {
    Diagnostic::error(
        format!("Unknown {kind} type {t:?}"),
        format!("forge has no {kind} of type {t:?} yet."),
    )
    .at(cfg.span)
}

/// Go's multierror text: `N error(s) occurred:\n\n* a\n* b`.
pub fn multi_error(errs: &[String]) -> String {
    // A decoding failure stops a plugin's prepare on its own: Packer shows mapstructure's
    // summary as it is.
    if let [one] = errs {
        if one
            .split_once('\n')
            .is_some_and(|(head, _)| head.ends_with(" error(s) decoding:"))
        {
            return one.clone();
        }
    }
    let items: Vec<String> = errs.iter().map(|e| format!("* {e}")).collect();
    format!("{} error(s) occurred:\n\n{}", errs.len(), items.join("\n"))
}

async fn run_one(
    ctx: BuildCtx,
    p: Prepared,
    plan: Arc<BuildPlan>,
    registry: Arc<Registry>,
) -> BuildResult {
    let start = Instant::now();
    ctx.events.emit(
        "build.start",
        Some(&ctx.name),
        json!({ "builder_type": ctx.builder_type }),
    );
    let hook = Arc::new(hook::EngineHook {
        plan: plan.clone(),
        build: p.planned.clone(),
        registry: registry.clone(),
        info: p.info.clone(),
        data: std::sync::Mutex::new(Default::default()),
    });
    let built = if ctx.cancel.is_cancelled() {
        Err(Error::Cancelled)
    } else {
        p.builder.run(&ctx, hook.clone()).await
    };
    let data = hook.data.lock().map(|d| d.clone()).unwrap_or_default();
    let result = match built {
        Ok(Some(artifact)) if !ctx.cancel.is_cancelled() => {
            chain::run_chains(&ctx, &plan, &p.planned, &registry, &p.info, artifact, &data).await
        }
        Ok(Some(artifact)) => {
            let _ = artifact.destroy().await;
            Err(Error::Cancelled)
        }
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    let origin = Origin {
        build: ctx.name.clone(),
        builder_type: p.planned.builder_type.clone(),
        config: Some(p.planned.builder.config.clone()),
        post_processors: p
            .planned
            .post_processors
            .iter()
            .flatten()
            .map(|pp| (pp.config.plugin_type.clone(), pp.config.config.clone()))
            .collect(),
    };
    sweep_leftovers(&ctx, &registry, &origin).await;
    let duration = start.elapsed();
    let took = crate::durafmt::format(duration);
    let (artifacts, error) = match result {
        Ok(a) => {
            ctx.ui
                .say_untargeted(&format!("Build '{}' finished after {took}.", ctx.name));
            (a, None)
        }
        Err(Error::Cancelled) => {
            ctx.ui
                .say_untargeted(&format!("Build '{}' cancelled after {took}.", ctx.name));
            (Vec::new(), Some(Error::Cancelled))
        }
        Err(e) => {
            ctx.ui
                .error_untargeted(&format!("Build '{}' errored after {took}: {e}", ctx.name));
            (Vec::new(), Some(e))
        }
    };
    let timeline = ctx.timeline.phases();
    ctx.events.emit(
        "build.end",
        Some(&ctx.name),
        json!({
            "status": match &error { None => "ok", Some(Error::Cancelled) => "cancelled", Some(_) => "failed" },
            "error": error.as_ref().filter(|e| !e.is_cancelled()).map(|e| e.to_string()),
            "duration_ms": duration.as_millis() as u64,
            "artifacts": artifacts.len(),
        }),
    );
    ctx.events
        .emit("timeline", Some(&ctx.name), json!({ "phases": timeline }));
    BuildResult {
        name: ctx.name.clone(),
        artifacts,
        error,
        timeline,
        duration,
    }
}

/// Removes whatever the build's steps left in the journal (a step cancelled mid-way, a cleanup
/// that failed). Under `-on-error=abort` a failed build keeps everything for inspection, and
/// `forge cleanup` removes it later.
async fn sweep_leftovers(ctx: &BuildCtx, registry: &Registry, origin: &Origin) {
    let left = ctx.journal.live(Some(&ctx.name));
    if left.is_empty() {
        return;
    }
    // Set by the step runner when the build aborted without cleanup.
    let keep = ctx.keep_resources.load(std::sync::atomic::Ordering::SeqCst);
    if keep {
        ctx.ui.error(&format!(
            "Leaving {} resource(s) in place; `forge cleanup` removes them.",
            left.len()
        ));
        return;
    }
    for r in left {
        match registry.reclaimer(&r.kind) {
            Some(rc) => match rc.reclaim(&r, origin).await {
                Ok(()) => {
                    tracing::info!(build = %ctx.name, "reclaimed leftover {} {}", r.kind, r.id);
                    ctx.journal.deleted(r.seq);
                }
                Err(e) => ctx.ui.error(&format!(
                    "Could not remove leftover {} {}: {e}",
                    r.kind, r.id
                )),
            },
            None => ctx.ui.error(&format!(
                "No way to remove leftover {} {}; `forge cleanup` will retry.",
                r.kind, r.id
            )),
        }
    }
}
