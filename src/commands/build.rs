//! `forge build`: load the template, then hand the plan to the engine on a tokio runtime, with
//! Ctrl-C/SIGTERM cancelling every build (a second signal stops at once).

use std::path::Path;
use std::sync::Arc;

use clap::{ArgAction, Args};
use forge_core::engine::{Engine, EngineConfig};
use forge_core::events::Events;
use forge_core::journal::{state_dir, Journal, TemplateSource};
use forge_core::plugin::{OnError, RunOptions};
use forge_core::redact::Redactor;
use forge_core::ui::{Mode, Output};
use forge_template::load;
use tokio_util::sync::CancellationToken;

use crate::cli::TemplateArgs;

/// `forge build`
#[derive(Args, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Colored output (-color=false turns it off; so does PACKER_NO_COLOR).
    #[arg(long = "color", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub color: bool,
    /// Debug mode: builds run one at a time and pause between steps.
    #[arg(long = "debug")]
    pub debug: bool,
    /// Force a build to continue if artifacts exist, deleting existing artifacts.
    #[arg(long = "force")]
    pub force: bool,
    /// If the build fails do: cleanup (default), abort, ask, or run-cleanup-provisioner.
    #[arg(long = "on-error", default_value = "")]
    pub on_error: String,
    /// Number of builds to run in parallel; 0 means no limit.
    #[arg(long = "parallel-builds", default_value_t = 0)]
    pub parallel_builds: i64,
    /// Prefix each UI line with an RFC 3339 timestamp.
    #[arg(long = "timestamp-ui")]
    pub timestamp_ui: bool,
    /// Warn about variables set in var files but never declared.
    #[arg(long = "warn-on-undeclared-var")]
    pub warn_on_undeclared_var: bool,
    /// Write a JSON-lines event stream to this file (forge; schema in docs/events.md).
    #[arg(long = "events", value_name = "FILE")]
    pub events: Option<String>,
    /// The template: a .pkr.hcl or .pkr.json file, a directory, or a legacy JSON template.
    #[arg(value_name = "TEMPLATE")]
    pub template_path: String,
}

/// Runs `forge build`.
pub fn run(a: &BuildArgs, machine_readable: bool) -> i32 {
    let Some(on_error) = OnError::parse(&a.on_error) else {
        eprintln!(
            "invalid value {:?} for flag -on-error: expected one of \"cleanup\", \"abort\", \"ask\" or \"run-cleanup-provisioner\"",
            a.on_error
        );
        return 1;
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return 1;
        }
    };
    // Listen for signals before anything is created, so an early Ctrl-C is never lost.
    let signals = rt.block_on(async { Signals::listen() });
    let run_id = uuid::Uuid::new_v4().to_string();
    // Plugins and scripts read it, as in Packer (set before any thread starts).
    std::env::set_var("PACKER_RUN_UUID", &run_id);
    // Collected once: the loader gets their data sources and clients, the engine their registry.
    let plugins = crate::plugins::all();
    let mut opts = match crate::commands::validate::load_options(&a.template, &plugins) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    opts.warn_undeclared_vars = a.warn_on_undeclared_var;
    let path = Path::new(&a.template_path);
    let loaded = load(path, &opts);
    let color = a.color && std::env::var_os("PACKER_NO_COLOR").is_none() && !machine_readable;
    let mode = if machine_readable {
        Mode::Machine {
            timestamp: a.timestamp_ui,
        }
    } else {
        Mode::Human {
            color,
            timestamp: a.timestamp_ui,
        }
    };
    let redactor = Redactor::new();
    if let Some(plan) = &loaded.plan {
        Engine::collect_secrets(plan, &redactor);
    }
    let output = Output::new(mode, Box::new(std::io::stdout()), redactor.clone());
    if !loaded.diags.is_empty() {
        let text = loaded.diags.render(&loaded.files);
        if loaded.diags.has_errors() {
            output.error(text.trim_end_matches('\n'));
        } else {
            output.say(text.trim_end_matches('\n'), None);
        }
    }
    let Some(plan) = loaded.plan.filter(|_| !loaded.diags.has_errors()) else {
        return 1;
    };
    crate::logging::init(redactor.clone());
    tracing::info!(run = %run_id, "forge {} build {}", crate::cli::VERSION, a.template_path);
    let events = match &a.events {
        None => Events::disabled(),
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Events::new(&run_id, Some(Box::new(f)), redactor.clone()),
            Err(e) => {
                output.error(&format!("Error: cannot write the event stream to {p}: {e}"));
                return 1;
            }
        },
    };
    let source = template_source(path, &opts);
    let journal = match Journal::open(
        &state_dir(),
        &run_id,
        Some(&source),
        events.clone(),
        redactor.clone(),
    ) {
        Ok(j) => j,
        Err(e) => {
            output.error(&format!(
                "Error: cannot open the resource journal in {}: {e}\nSet FORGE_STATE_DIR to a writable directory.",
                state_dir().display()
            ));
            return 1;
        }
    };
    let template_dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let cfg = EngineConfig {
        opts: RunOptions {
            debug: a.debug,
            force: a.force,
            on_error,
        },
        parallel: a.parallel_builds.max(0) as usize,
        run_id: run_id.clone(),
        template_dir,
    };
    if a.debug {
        output.say("Debug mode enabled. Builds will not be parallelized.", None);
    }
    let files = loaded.files;
    let code = rt.block_on(async move {
        let cancel = CancellationToken::new();
        if let Some(s) = signals {
            s.watch(output.clone(), cancel.clone(), journal.clone());
        }
        let engine = Engine::new(
            plan,
            Arc::new(plugins.registry()),
            output.clone(),
            events,
            journal,
            cfg,
            cancel,
        );
        let (out2, files2) = (output.clone(), files.clone());
        let engine = engine.on_prepare_errors(move |d| {
            out2.error(&format!("{}\n\n", d.render(&files2).trim_end_matches('\n')));
        });
        match engine.run().await {
            Ok(summary) => summary.exit_code(),
            Err(diags) => {
                output.error(diags.render(&files).trim_end_matches('\n'));
                1
            }
        }
    });
    // A pending read of stdin (a breakpoint cut short) must not hold the exit.
    rt.shutdown_background();
    code
}

/// What the journal records of where the configuration came from: absolute paths and the
/// names of the variables given on the command line or in the environment, never a value.
fn template_source(path: &Path, opts: &forge_template::LoadOptions) -> TemplateSource {
    let env_vars = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("PKR_VAR_"))
        .collect();
    TemplateSource {
        path: absolute(path),
        var_files: opts.var_files.iter().map(|f| absolute(f)).collect(),
        vars: opts.vars.iter().map(|(k, _)| k.clone()).collect(),
        env_vars,
    }
}

/// `p` made absolute against the current directory (kept as given when that fails).
pub fn absolute(p: &Path) -> std::path::PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// SIGINT and SIGTERM, listened for from the start of the run.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Option<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Signals {
            int: signal(SignalKind::interrupt()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
        })
    }

    /// First SIGINT/SIGTERM: cancel every build (their cleanups run). Second: stop at once and
    /// say what may be left behind.
    fn watch(mut self, output: Arc<Output>, cancel: CancellationToken, journal: Arc<Journal>) {
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let which = tokio::select! {
                    _ = self.int.recv() => "interrupt",
                    _ = self.term.recv() => "terminated",
                };
                count += 1;
                if count == 1 {
                    output.error(&format!("Cancelling build after receiving {which}"));
                    cancel.cancel();
                    continue;
                }
                let left = journal.live(None);
                let mut text = format!("Stopping at once after a second {which}.");
                if left.is_empty() {
                    text.push_str(" Nothing forge created is left behind.");
                } else {
                    text.push_str(&format!(
                        " These may be left behind; `forge cleanup` removes them (journal {}):",
                        journal.path().display()
                    ));
                    for r in &left {
                        text.push_str(&format!("\n  - {} {} (build {})", r.kind, r.id, r.build));
                    }
                }
                output.error(&text);
                if left.is_empty() {
                    journal.finish();
                }
                std::process::exit(1);
            }
        });
    }
}
