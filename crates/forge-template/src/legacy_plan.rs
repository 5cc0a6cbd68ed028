//! Legacy JSON templates mapped onto the same build plan as HCL2: builds are the builders
//! (sorted by name), strings are rendered with the `{{ }}` engine (build-time fields such as
//! `{{ .HTTPIP }}` are kept for the build), and `-only`/`-except` match names exactly.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;

use crate::config::files::read_text;
use crate::config::{LoadOptions, Loaded};
use crate::diag::{Diagnostic, Diagnostics, FileId, Files, Span};
use crate::json::{JsonKind, JsonValue};
use crate::legacy::interp::{render, InterpContext};
use crate::legacy::template::{parse_legacy, LegacyProvisioner, LegacyTemplate};
use crate::legacy::vars::{resolve_variables_with, VarOptions};
use crate::plan::{
    BuildPlan, PlannedBuild, PlannedPostProcessor, PlannedProvisioner, PluginConfig,
};
use crate::value::{Number, Value};

/// Loads a legacy JSON template.
pub fn load_legacy(path: &Path, opts: &LoadOptions, mut files: Files) -> Loaded {
    let mut diags = Diagnostics::new();
    let fail = |diags: Diagnostics, files: Files| Loaded {
        plan: None,
        diags,
        files,
    };
    let text = match read_text(path) {
        Ok(t) => t,
        Err(d) => return fail(d.into(), files),
    };
    let file = files.add(path.to_string_lossy(), text.clone());
    let template = match parse_legacy(&text) {
        Ok(t) => t,
        Err(errs) => {
            for e in errs {
                diags.push(legacy_error(&e.message, file, e.offset));
            }
            return fail(diags, files);
        }
    };

    // Variables: defaults (with env and friends), then -var-file, then -var.
    let mut var_files = Vec::new();
    for p in &opts.var_files {
        match read_text(p) {
            Ok(t) => var_files.push((p.to_string_lossy().to_string(), t)),
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        return fail(diags, files);
    }
    let env_map = opts.env.clone();
    let env = move |k: &str| match &env_map {
        Some(m) => m.get(k).cloned(),
        None => std::env::var(k).ok(),
    };
    let template_dir = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_string_lossy().to_string()));
    let pwd = std::env::current_dir()
        .ok()
        .map(|d| d.to_string_lossy().to_string());
    // vault, consul_key and aws_secretsmanager in variable defaults reach the real services.
    let secrets = crate::secrets::Secrets::from_lookup(&env)
        .with_secrets_manager(opts.secrets_manager.clone());
    let var_opts = VarOptions {
        template_dir: template_dir.clone(),
        pwd: pwd.clone(),
        secrets: Some(&secrets),
    };
    let resolved = match resolve_variables_with(&template, &var_files, &opts.vars, &env, &var_opts)
    {
        Ok(r) => r,
        Err(errs) => {
            for e in errs {
                diags.push(legacy_error(&e.message, file, e.offset));
            }
            return fail(diags, files);
        }
    };
    let secret_values: Vec<String> = resolved
        .sensitive
        .iter()
        .filter_map(|n| resolved.values.get(n))
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();

    let mut r = Renderer {
        vars: &resolved.values,
        secrets: &secret_values,
        file,
        template_dir,
        pwd,
        diags: Diagnostics::new(),
    };
    let mut names: Vec<&str> = template.builders.iter().map(|b| b.name.as_str()).collect();
    names.sort_unstable();
    let mut builds = Vec::new();
    for name in names {
        if (!opts.only.is_empty() && !opts.only.iter().any(|o| o == name))
            || opts.except.iter().any(|e| e == name)
        {
            continue;
        }
        let Some(b) = template.builders.iter().find(|b| b.name == name) else {
            continue;
        };
        let ctx = (name, b.builder_type.as_str());
        let builder = PluginConfig {
            plugin_type: b.builder_type.clone(),
            config: r.value(&b.config, ctx),
            body: None,
            span: Span::new(file, b.span.clone()),
        };
        let provisioners = template
            .provisioners
            .iter()
            .filter(|p| applies(&p.only, &p.except, name))
            .map(|p| r.provisioner(p, ctx))
            .collect();
        let error_cleanup_provisioner = template
            .error_cleanup_provisioner
            .as_ref()
            .filter(|p| applies(&p.only, &p.except, name))
            .map(|p| r.provisioner(p, ctx));
        let mut chains = Vec::new();
        for chain in &template.post_processors {
            let mut out = Vec::new();
            for pp in chain {
                if opts.except.contains(&pp.name) {
                    break;
                }
                if !applies(&pp.only, &pp.except, name) {
                    continue;
                }
                out.push(PlannedPostProcessor {
                    name: Some(pp.name.clone()),
                    keep_input_artifact: pp.keep_input_artifact,
                    config: PluginConfig {
                        plugin_type: pp.pp_type.clone(),
                        config: r.value(&pp.config, ctx),
                        body: None,
                        span: Span::new(file, pp.span.clone()),
                    },
                });
            }
            if !out.is_empty() {
                chains.push(out);
            }
        }
        builds.push(PlannedBuild {
            build_name: None,
            name: name.to_string(),
            builder_type: b.builder_type.clone(),
            source_name: name.to_string(),
            local_name: name.to_string(),
            builder,
            provisioners,
            error_cleanup_provisioner,
            post_processors: chains,
            description: template.description.clone(),
        });
    }
    diags.extend(r.diags);
    for b in &builds {
        check_legacy_build(b, &mut diags);
    }
    if diags.has_errors() {
        return fail(diags, files);
    }
    let variables = variable_values(&template, &resolved.values, &resolved.sensitive);
    let plan = BuildPlan {
        files: files.clone(),
        sensitive_variables: resolved.sensitive.clone(),
        variables,
        builds,
        legacy_json: true,
        ..BuildPlan::default()
    };
    Loaded {
        plan: Some(plan),
        diags,
        files,
    }
}

fn variable_values(
    t: &LegacyTemplate,
    values: &IndexMap<String, String>,
    sensitive: &[String],
) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = t
        .variables
        .keys()
        .map(|k| {
            let v = values.get(k).cloned().unwrap_or_default();
            (k.clone(), Value::string(v).marked(sensitive.contains(k)))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn legacy_error(message: &str, file: FileId, offset: usize) -> Diagnostic {
    Diagnostic::error("Invalid template", message).at(Span::new(file, offset..offset + 1))
}

/// Whether a provisioner or post-processor with these `only`/`except` lists runs for `name`.
fn applies(
    only: &[crate::legacy::template::Spanned<String>],
    except: &[crate::legacy::template::Spanned<String>],
    name: &str,
) -> bool {
    (only.is_empty() || only.iter().any(|o| o.value == name))
        && !except.iter().any(|e| e.value == name)
}

struct Renderer<'a> {
    vars: &'a IndexMap<String, String>,
    secrets: &'a [String],
    file: FileId,
    template_dir: Option<String>,
    pwd: Option<String>,
    diags: Diagnostics,
}

impl Renderer<'_> {
    fn provisioner(&mut self, p: &LegacyProvisioner, ctx: (&str, &str)) -> PlannedProvisioner {
        let mut config = self.value(&p.config, ctx);
        if let Some((_, o)) = p.overrides.iter().find(|(n, _)| n.value == ctx.0) {
            let extra = self.value(o, ctx);
            if let (Some(base), Some(extra)) = (config.as_entries(), extra.as_entries()) {
                let mut m = base.clone();
                m.extend(extra.clone());
                config = Value::object(m);
            }
        }
        let max_retries = p
            .max_retries
            .as_ref()
            .and_then(|s| self.render(s, ctx, p.span.start))
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0);
        PlannedProvisioner {
            name: None,
            config: PluginConfig {
                plugin_type: p.provisioner_type.clone(),
                config,
                body: None,
                span: Span::new(self.file, p.span.clone()),
            },
            pause_before: p.pause_before,
            max_retries,
            timeout: p.timeout,
            continue_on_error: false,
        }
    }

    fn render(&mut self, s: &str, ctx: (&str, &str), offset: usize) -> Option<String> {
        let mut ic = InterpContext::new(self.vars);
        ic.build_name = Some(ctx.0.to_string());
        ic.build_type = Some(ctx.1.to_string());
        ic.template_dir = self.template_dir.clone();
        ic.pwd = self.pwd.clone();
        ic.keep_unknown_fields = true;
        match render(s, &ic) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags.push(legacy_error(&e.message, self.file, offset));
                None
            }
        }
    }

    /// Converts a JSON config value, rendering every string.
    fn value(&mut self, j: &JsonValue, ctx: (&str, &str)) -> Value {
        match &j.kind {
            JsonKind::Null => Value::dynamic_null(),
            JsonKind::Bool(b) => Value::bool(*b),
            JsonKind::Number(n) => Number::parse(n)
                .map(Value::number)
                .unwrap_or_else(|| Value::string(n.clone())),
            JsonKind::String(s) => {
                let out = self.render(s, ctx, j.span.start).unwrap_or_default();
                let mark = self.secrets.iter().any(|sec| out.contains(sec.as_str()));
                Value::string(out).marked(mark)
            }
            JsonKind::Array(items) => {
                Value::tuple(items.iter().map(|x| self.value(x, ctx)).collect())
            }
            JsonKind::Object(members) => {
                let mut m = BTreeMap::new();
                for mem in members {
                    let v = self.value(&mem.value, ctx);
                    m.insert(mem.key.clone(), v);
                }
                Value::object(m)
            }
        }
    }
}

/// Arguments that `packer fix` rewrites in older templates. Packer rejects them like any unknown
/// key; forge says so and adds how to fix the template.
const FIXABLE_KEYS: &[&str] = &[
    "iso_md5",
    "iso_checksum_type",
    "ssh_wait_timeout",
    "ssh_key_path",
    "ssh_host_port_min",
    "ssh_host_port_max",
    "ssh_skip_nat_mapping",
    "guest_additions_attach",
    "clean_image_name",
    "clean_ami_name",
    "enhanced_networking",
    "ssh_private_ip",
    "galaxy_command",
    "headless_vnc",
    "skip_region_validation",
];

/// Packer's JSON-mode checks of each build's plugins: an unknown plugin type fails the build's
/// initialisation; unknown top-level configuration keys fail its preparation (values are
/// weakly typed in JSON templates, so only names are checked).
pub(crate) fn check_legacy_build(b: &PlannedBuild, diags: &mut Diagnostics) {
    use crate::schema::{lookup, PluginKind};
    let mut plugins = vec![(PluginKind::Builder, "builder", &b.builder)];
    plugins.extend(
        b.provisioners
            .iter()
            .chain(&b.error_cleanup_provisioner)
            .map(|p| (PluginKind::Provisioner, "provisioner", &p.config)),
    );
    plugins.extend(
        b.post_processors
            .iter()
            .flatten()
            .map(|p| (PluginKind::PostProcessor, "post-processor", &p.config)),
    );
    let mut errors = Vec::new();
    let mut fixable: Vec<String> = Vec::new();
    for (kind, what, p) in plugins {
        let Some(schema) = lookup(kind, &p.plugin_type) else {
            diags.push(
                Diagnostic::error(
                    format!("Failed to initialize build {:?}", b.name),
                    format!(
                        "error initializing {what} '{t}': Unknown {what} {t}",
                        t = p.plugin_type
                    ),
                )
                .at(p.span),
            );

            return;
        };
        for (k, _) in p.config.as_entries().into_iter().flatten() {
            if k == "type" || schema.field(k).is_some() {
                continue;
            }
            errors.push((format!("unknown configuration key: '{k:?}'"), p.span));
            if FIXABLE_KEYS.contains(&k.as_str()) {
                fixable.push(k.clone());
            }
        }
    }
    if let Some((_, span)) = errors.first() {
        let n = errors.len();
        let head = if n == 1 {
            "1 error occurred:".to_string()
        } else {
            format!("{n} errors occurred:")
        };
        let mut list: String = errors.iter().map(|(e, _)| format!("\n\t* {e}")).collect();
        if !fixable.is_empty() {
            list.push_str(&format!(
                "\n\n{} are deprecated settings: `forge fix` (or `packer fix`) rewrites them.",
                fixable.join(", ")
            ));
        }
        diags.push(
            Diagnostic::error(
                format!("Failed to prepare build: {:?}", b.name),
                format!("{head}{list}"),
            )
            .at(*span),
        );
    }
}
