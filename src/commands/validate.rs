//! `forge validate`: parse, evaluate and check a template with Packer's texts.

use std::path::{Path, PathBuf};

use forge_core::plugin::PluginSet;
use forge_template::{check_syntax, load, parse_var_flag, LoadOptions};

use crate::cli::{TemplateArgs, ValidateArgs};

/// Turns the shared template flags into load options, or Packer's flag error; `plugins` give
/// the data sources and the cloud clients of the template functions.
pub fn load_options(t: &TemplateArgs, plugins: &PluginSet) -> Result<LoadOptions, String> {
    let split = |v: &[String]| -> Vec<String> {
        v.iter()
            .flat_map(|s| s.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(LoadOptions {
        vars: t
            .vars
            .iter()
            .map(|v| parse_var_flag(v))
            .collect::<Result<_, _>>()?,
        var_files: t.var_files.iter().map(PathBuf::from).collect(),
        only: split(&t.only),
        except: split(&t.except),
        datasources: plugins.datasources(),
        secrets_manager: plugins.secrets_manager.clone(),
        ..LoadOptions::default()
    })
}

/// Load options for the commands that show a template as far as it loads (`inspect`,
/// `console`): unset variables are unknown and the plan is kept despite errors, as Packer
/// ignores initialisation errors there.
pub fn lenient_load_options(t: &TemplateArgs, plugins: &PluginSet) -> Result<LoadOptions, String> {
    let mut opts = load_options(t, plugins)?;
    opts.unset_as_unknown = true;
    opts.keep_plan_on_error = true;
    Ok(opts)
}

/// Runs the command; returns the exit code.
pub fn run(a: &ValidateArgs) -> i32 {
    let path = Path::new(&a.template_path);
    if a.syntax_only {
        let (diags, files) = check_syntax(path);
        if diags.has_errors() {
            print!("{}", diags.render(&files));
            return 1;
        }
        println!("Syntax-only check passed. Everything looks okay.");
        return 0;
    }
    let plugins = crate::plugins::all();
    let mut opts = match load_options(&a.template, &plugins) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    opts.warn_undeclared_vars = !a.no_warn_undeclared_var;
    opts.skip_datasources = !a.evaluate_datasources;
    let loaded = load(path, &opts);
    if !loaded.diags.is_empty() {
        print!("{}", loaded.diags.render(&loaded.files));
    }
    match loaded.plan {
        Some(plan) if plan.builds.is_empty() && !plan.legacy_json => {
            println!("Error: Missing build block\n\nA build block with one or more sources is required for executing a build.\n");
            1
        }
        Some(plan) => {
            let registry = plugins.registry();
            // Plugins forge cannot run still get their settings decoded and checked as their
            // plugins' prepare would (and builders their boot command).
            let mut diags = forge_template::diag::Diagnostics::new();
            let mut seen = std::collections::HashSet::new();
            for b in &plan.builds {
                use forge_template::schema::PluginKind;
                let mut plugins = Vec::new();
                if !registry.builders.contains_key(b.builder_type.as_str()) {
                    let config = forge_template::late::placeholders(&b.builder.config);
                    let mut errs = boot_command_errors(&config);
                    errs.extend(crate::commands::schema_only::errors(
                        PluginKind::Builder,
                        &b.builder_type,
                        &config,
                    ));
                    plugins.push((&b.builder, errs));
                }
                let provisioners = b
                    .provisioners
                    .iter()
                    .chain(&b.error_cleanup_provisioner)
                    .map(|p| (PluginKind::Provisioner, &p.config));
                let post_processors = b
                    .post_processors
                    .iter()
                    .flatten()
                    .map(|p| (PluginKind::PostProcessor, &p.config));
                for (kind, cfg) in provisioners.chain(post_processors) {
                    let t = cfg.plugin_type.as_str();
                    let runs = match kind {
                        PluginKind::Provisioner => registry.provisioners.contains_key(t),
                        _ => registry.post_processors.contains_key(t),
                    };
                    if runs {
                        continue;
                    }
                    let config = forge_template::late::prepare_value(&plan, b, kind, cfg);
                    let errs =
                        crate::commands::schema_only::errors(kind, &cfg.plugin_type, &config);
                    plugins.push((cfg, errs));
                }
                for (cfg, errs) in plugins {
                    if errs.is_empty() || !seen.insert((cfg.span.file, cfg.span.start)) {
                        continue;
                    }
                    let list = forge_core::engine::multi_error(&errs);
                    diags.push(if plan.legacy_json {
                        forge_template::diag::Diagnostic::error(
                            format!("Failed to prepare build: {:?}", b.name),
                            list,
                        )
                    } else {
                        forge_template::diag::Diagnostic::error(list, "").at(cfg.span)
                    });
                }
            }
            // Every plugin forge runs is prepared as `build` prepares it.
            diags.0.extend(prepare_errors(plan, registry, path).0);
            if diags.has_errors() {
                print!("{}", diags.render(&loaded.files));
                return 1;
            }
            println!("The configuration is valid.");
            0
        }
        None => 1,
    }
}

/// The configuration errors of the plan's plugins, found by preparing them as a build would
/// (nothing is created).
fn prepare_errors(
    plan: forge_template::plan::BuildPlan,
    registry: forge_core::Registry,
    path: &Path,
) -> forge_template::diag::Diagnostics {
    use std::sync::Arc;
    let template_dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let output = forge_core::ui::Output::new(
        forge_core::ui::Mode::Human {
            color: false,
            timestamp: false,
        },
        Box::new(forge_core::ui::Buffer::default()),
        forge_core::redact::Redactor::new(),
    );
    let engine = forge_core::engine::Engine::new(
        plan,
        Arc::new(registry),
        output,
        forge_core::events::Events::disabled(),
        forge_core::journal::Journal::in_memory("validate"),
        forge_core::engine::EngineConfig {
            opts: Default::default(),
            parallel: 0,
            run_id: "validate".into(),
            template_dir,
        },
        Default::default(),
    );
    engine.check_config()
}

/// `boot_command` syntax errors (Packer checks the boot command language when a builder with a
/// boot command is prepared).
fn boot_command_errors(config: &forge_template::value::Value) -> Vec<String> {
    let Some(cmds) = config
        .as_entries()
        .and_then(|m| m.get("boot_command"))
        .and_then(|v| v.as_seq())
    else {
        return Vec::new();
    };
    let cmds: Vec<String> = cmds
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    forge_commonsteps::bootcommand::validate(&cmds)
}
