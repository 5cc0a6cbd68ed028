//! HCL2 templates: files merged into one configuration, variables from every source with
//! Packer's precedence, locals and data sources as one dependency graph, sources and builds
//! expanded into the [`BuildPlan`].

pub mod body_eval;
pub mod files;
mod glob;
mod variables;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use body_eval::{eval_body, expand_dynamic_blocks};
pub use files::{classify, TemplateKind};
pub use glob::glob_match;

use crate::diag::{Diagnostic, Diagnostics, Files, Span};
use crate::eval::{EvalEnv, Scope};
use crate::plan::{
    parse_duration, BuildBlockSummary, BuildPlan, PlannedBuild, PlannedPostProcessor,
    PlannedProvisioner, PluginConfig, RequiredPlugin,
};
use crate::syntax::{Block, Body, ExprKind};
use crate::value::{Type, Value};

/// The Packer version forge is compatible with: `packer.version`, `required_version` checks.
pub const PACKER_COMPAT_VERSION: &str = "1.16.0";

/// What the command line gives besides the template path.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `-var k=v`, in order.
    pub vars: Vec<(String, String)>,
    /// `-var-file`, in order.
    pub var_files: Vec<PathBuf>,
    /// `-only` patterns.
    pub only: Vec<String>,
    /// `-except` patterns.
    pub except: Vec<String>,
    /// Warn about variables set in var files but never declared.
    pub warn_undeclared_vars: bool,
    /// Environment override for tests; `None` reads the process environment.
    pub env: Option<HashMap<String, String>>,
    /// Leave every data source unknown instead of executing it (`validate` without
    /// `-evaluate-datasources`).
    pub skip_datasources: bool,
    /// Treat unset variables as unknown values of their type instead of an error, for
    /// inspecting templates that are meant to be given variables (and for conformance runs).
    pub unset_as_unknown: bool,
    /// Return the plan, as far as loading got, even when there were errors: `inspect` and
    /// `console` ignore Packer's initialisation errors and show what did load.
    pub keep_plan_on_error: bool,
    /// The data sources implemented outside this crate (the binary passes its plugins'); the
    /// others besides `null` and `http` stay unknown.
    pub datasources: crate::datasource::Executors,
    /// The AWS Secrets Manager client of the `aws_secretsmanager*` functions (the binary passes
    /// its Amazon plugins'); without one those functions fail.
    pub secrets_manager: Option<std::sync::Arc<dyn crate::secrets::SecretsManager>>,
}

/// The outcome of loading: the plan (when there were no errors), every diagnostic, and the
/// files for rendering them.
pub struct Loaded {
    /// The plan, if loading succeeded.
    pub plan: Option<BuildPlan>,
    /// Errors and warnings.
    pub diags: Diagnostics,
    /// The source files read.
    pub files: Files,
}

/// Loads a template path (file or directory, HCL2 or legacy JSON) into a build plan.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    let mut files = Files::default();
    let kind = match classify(path) {
        Ok(k) => k,
        Err(diags) => {
            return Loaded {
                plan: None,
                diags,
                files,
            }
        }
    };
    match kind {
        TemplateKind::Hcl2 {
            files: paths,
            auto_var_files,
            root,
        } => {
            let mut l = Loader::new(opts, root);
            let plan = l.load(&paths, &auto_var_files, &mut files);
            let plan = if l.diags.has_errors() && !opts.keep_plan_on_error {
                None
            } else {
                plan
            };
            Loaded {
                plan,
                diags: l.diags,
                files,
            }
        }
        TemplateKind::LegacyJson(p) => crate::legacy_plan::load_legacy(&p, opts, files),
    }
}

/// Parses a template path without evaluating it (`validate -syntax-only`): every file of an
/// HCL2 template, or the legacy JSON template.
pub fn check_syntax(path: &Path) -> (Diagnostics, Files) {
    let mut files = Files::default();
    let mut diags = Diagnostics::new();
    match classify(path) {
        Err(d) => diags.extend(d),
        Ok(TemplateKind::Hcl2 {
            files: paths,
            auto_var_files,
            root,
        }) => {
            let mut bodies = Vec::new();
            for p in &paths {
                match parse_file(p, &mut files) {
                    Ok(b) => bodies.push(b),
                    Err(d) => diags.extend(d),
                }
            }
            for p in &auto_var_files {
                if let Err(d) = parse_file(p, &mut files) {
                    diags.extend(d);
                }
            }
            if !diags.has_errors() {
                let opts = LoadOptions::default();
                let mut l = Loader::new(&opts, root);
                let body = l.parse_phase(bodies);
                if !l.diags.has_errors() {
                    l.packer_blocks(&body);
                    l.declare_variables(&body);
                }
                diags.extend(l.diags);
            }
        }
        Ok(TemplateKind::LegacyJson(p)) => match files::read_text(&p) {
            Err(d) => diags.push(d),
            Ok(text) => {
                let id = files.add(p.to_string_lossy(), text.clone());
                if let Err(errs) = crate::legacy::template::parse_legacy(&text) {
                    for e in errs {
                        diags.push(
                            Diagnostic::error("Invalid template", e.message)
                                .at(Span::new(id, e.offset..e.offset + 1)),
                        );
                    }
                }
            }
        },
    }
    (diags, files)
}

/// Splits a `-var` flag value at its first `=`, as Packer does; the error is Packer's text.
pub fn parse_var_flag(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
        None => Err(format!(
            "invalid value {arg:?} for flag -var: No '=' value in arg: {arg}"
        )),
    }
}

/// Loads one HCL2 file given as text (`name` decides native or JSON syntax and is what
/// diagnostics show); `path.root` is `root`. Used for standard input and by the fuzzer.
pub fn load_hcl_text(name: &str, text: &str, root: &Path, opts: &LoadOptions) -> Loaded {
    let mut files = Files::default();
    let id = files.add(name, text);
    let parsed = if name.ends_with(".json") {
        crate::syntax::parse_json_body(id, text)
    } else {
        crate::syntax::parse_hcl_body(id, text)
    };
    let mut l = Loader::new(opts, root.to_path_buf());
    let plan = match parsed {
        Ok(b) => l.load_bodies(vec![b], &[], &mut files),
        Err(d) => {
            l.diags.extend(d);
            None
        }
    };
    let plan = if l.diags.has_errors() { None } else { plan };
    Loaded {
        plan,
        diags: l.diags,
        files,
    }
}

/// Parses one HCL2 file (native or JSON syntax) into a body.
pub fn parse_file(path: &Path, files: &mut Files) -> Result<Body, Diagnostics> {
    let text = files::read_text(path)?;
    let id = files.add(path.to_string_lossy(), text.clone());
    if path.to_string_lossy().ends_with(".json") {
        crate::syntax::parse_json_body(id, &text)
    } else {
        crate::syntax::parse_hcl_body(id, &text)
    }
}

/// What `inspect` lists for a build block: its sources (`type.local_name`), and its
/// provisioners and post-processor chains as `type[.name]`, before any `-only`/`-except`.
fn build_block_summary(
    bb: &Block,
    name: Option<String>,
    description: Option<String>,
    uses: &[(String, String, String, Option<&Body>, Span)],
    scope: &Scope,
) -> BuildBlockSummary {
    let label = |b: &Block| -> Option<String> {
        let (ty, _) = b.labels.first()?;
        let pname = b
            .body
            .attr("name")
            .and_then(|a| scope.eval(&a.expr).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|n| !n.is_empty());
        Some(match pname {
            Some(n) => format!("{ty}.{n}"),
            None => ty.clone(),
        })
    };
    let mut post_processors = Vec::new();
    for b in &bb.body.blocks {
        match b.ty.as_str() {
            "post-processor" => post_processors.extend(label(b).map(|l| vec![l])),
            "post-processors" => post_processors.push(
                b.body
                    .blocks_of("post-processor")
                    .filter_map(label)
                    .collect(),
            ),
            _ => {}
        }
    }
    BuildBlockSummary {
        name: name.filter(|n| !n.is_empty()),
        description: description.filter(|d| !d.is_empty()),
        sources: uses
            .iter()
            .map(|(t, _, local, _, _)| format!("{t}.{local}"))
            .collect(),
        provisioners: bb.body.blocks_of("provisioner").filter_map(label).collect(),
        post_processors,
    }
}

/// Whether Packer decodes this build block without error: only its own arguments and block
/// types, and at most one error-cleanup-provisioner.
fn build_block_decodes(bb: &Block) -> bool {
    const BLOCKS: &[&str] = &[
        "source",
        "provisioner",
        "error-cleanup-provisioner",
        "post-processor",
        "post-processors",
        "hcp_packer_registry",
        "dynamic",
    ];
    bb.body
        .attrs
        .iter()
        .all(|a| ["name", "description", "sources"].contains(&a.name.as_str()))
        && bb
            .body
            .blocks
            .iter()
            .all(|b| BLOCKS.contains(&b.ty.as_str()))
        && bb.body.blocks_of("error-cleanup-provisioner").count() <= 1
}

/// Reads an environment variable.
type EnvFn<'o> = Box<dyn Fn(&str) -> Option<String> + 'o>;

pub(crate) struct Loader<'o> {
    opts: &'o LoadOptions,
    root: PathBuf,
    pub(crate) diags: Diagnostics,
    env: EnvFn<'o>,
}

/// A variable declaration and its value.
#[derive(Clone, Debug)]
pub(crate) struct Variable {
    pub name: String,
    pub span: Span,
    pub constraint: Option<crate::typeexpr::Constraint>,
    pub sensitive: bool,
    pub value: Option<Value>,
    pub validations: Vec<(crate::syntax::Expr, crate::syntax::Expr, Span)>,
    pub from: &'static str,
}

const TOP_BLOCKS: &[&str] = &[
    "packer",
    "variable",
    "variables",
    "locals",
    "local",
    "source",
    "data",
    "build",
    "hcp_packer_registry",
    "communicator",
];

impl<'o> Loader<'o> {
    fn new(opts: &'o LoadOptions, root: PathBuf) -> Loader<'o> {
        let env: EnvFn<'o> = match &opts.env {
            Some(m) => Box::new(move |k: &str| m.get(k).cloned()),
            None => Box::new(|k: &str| std::env::var(k).ok()),
        };
        Loader {
            opts,
            root,
            diags: Diagnostics::new(),
            env,
        }
    }

    fn eval_env(&self, allow_env: bool) -> EvalEnv<'_> {
        EvalEnv {
            base_dir: self.root.clone(),
            start_time: crate::start_time(),
            allow_env,
            env: &*self.env,
            allow_templatefile: true,
            secrets_manager: self.opts.secrets_manager.as_deref(),
        }
    }

    fn load(
        &mut self,
        paths: &[PathBuf],
        auto: &[PathBuf],
        files: &mut Files,
    ) -> Option<BuildPlan> {
        let mut bodies = Vec::new();
        for p in paths {
            match parse_file(p, files) {
                Ok(b) => bodies.push(b),
                Err(d) => self.diags.extend(d),
            }
        }
        self.load_bodies(bodies, auto, files)
    }

    /// Packer's parse phase: files merged into one body, top-level block types checked, and
    /// (through the caller) the packer block and variable declarations decoded. This is all
    /// `validate -syntax-only` does for HCL2.
    fn parse_phase(&mut self, bodies: Vec<Body>) -> Body {
        let mut body = Body::default();
        for b in bodies {
            body.attrs.extend(b.attrs);
            body.blocks.extend(b.blocks);
        }
        if self.diags.has_errors() {
            return body;
        }
        for a in &body.attrs {
            self.diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!("An argument named {:?} is not expected here.", a.name),
                )
                .at(a.name_span),
            );
        }
        for b in &body.blocks {
            if !TOP_BLOCKS.contains(&b.ty.as_str()) {
                self.diags.push(
                    Diagnostic::error(
                        "Unsupported block type",
                        format!("Blocks of type {:?} are not expected here.", b.ty),
                    )
                    .at(b.type_span),
                );
            }
        }
        body
    }

    fn load_bodies(
        &mut self,
        bodies: Vec<Body>,
        auto: &[PathBuf],
        files: &mut Files,
    ) -> Option<BuildPlan> {
        let body = self.parse_phase(bodies);
        if self.diags.has_errors() {
            return None;
        }
        let required_plugins = self.packer_blocks(&body);

        // Variables, with every assignment source in precedence order.
        let mut vars = self.declare_variables(&body);
        self.assign_variables(&mut vars, auto, files);
        self.validate_variables(&mut vars, files);
        if self.diags.has_errors() && !self.opts.keep_plan_on_error {
            return None;
        }
        let var_obj = Value::object(
            vars.iter()
                .map(|(k, v)| {
                    let val = v.value.clone().unwrap_or_else(Value::dynamic_null);
                    (k.clone(), val.marked(v.sensitive))
                })
                .collect(),
        );

        let cwd = std::env::current_dir().unwrap_or_default();
        let path_obj = Value::object(BTreeMap::from([
            ("cwd".to_string(), Value::string(slash(&cwd))),
            ("root".to_string(), Value::string(slash(&self.root))),
        ]));
        let packer_obj = Value::object(BTreeMap::from([
            ("version".to_string(), Value::string(PACKER_COMPAT_VERSION)),
            // HCP Packer values: unknown outside an HCP-enabled build.
            ("iterationID".to_string(), Value::unknown(Type::String)),
            (
                "versionFingerprint".to_string(),
                Value::unknown(Type::String),
            ),
        ]));
        let base = vec![
            ("var".to_string(), var_obj),
            ("path".to_string(), path_obj),
            ("packer".to_string(), packer_obj),
        ];

        // Locals and data sources: one graph.
        let (locals, data) = self.eval_locals_and_data(&body, &base);
        let local_obj = Value::object(locals.clone().into_iter().collect());
        let mut scope_names = base.clone();
        scope_names.push(("local".into(), local_obj));
        scope_names.push(("data".into(), data));

        // Sources.
        let mut sources: BTreeMap<(String, String), &Block> = BTreeMap::new();
        for b in body.blocks_of("source") {
            let [(t, _), (n, _)] = b.labels.as_slice() else {
                self.diags.push(
                    Diagnostic::error(
                        "Missing name for source",
                        "All source blocks must have two labels: the builder type and a name.",
                    )
                    .at(b.header_span()),
                );
                continue;
            };
            if let Some(prev) = sources.insert((t.clone(), n.clone()), b) {
                let _ = prev;
                self.diags.push(
                    Diagnostic::error(
                        "Duplicate source block",
                        format!("This source block has the same builder type and name as a previous block declared at {}. Each source must have a unique name per builder type.", files.position(prev.header_span())),
                    )
                    .at(b.header_span()),
                );
            }
        }
        let (builds, build_blocks) = self.expand_builds(&body, &sources, &scope_names, files);
        let mut variables: Vec<(String, Value)> = vars
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.value
                        .clone()
                        .unwrap_or_else(Value::dynamic_null)
                        .marked(v.sensitive),
                )
            })
            .collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        Some(BuildPlan {
            files: files.clone(),
            variables,
            locals: locals.into_iter().collect(),
            sensitive_variables: vars
                .values()
                .filter(|v| v.sensitive)
                .map(|v| v.name.clone())
                .collect(),
            builds,
            scope: scope_names,
            legacy_json: false,
            required_plugins,
            build_blocks,
        })
    }

    fn packer_blocks(&mut self, body: &Body) -> Vec<RequiredPlugin> {
        let mut out = Vec::new();
        let env = self.eval_env(false);
        let scope = Scope::new(&env, Vec::new());
        let mut diags = Diagnostics::new();
        for b in body.blocks_of("packer") {
            for a in &b.body.attrs {
                match a.name.as_str() {
                    "required_version" => match scope.eval(&a.expr) {
                        Ok(v) => {
                            let c = v.as_str().unwrap_or_default().to_string();
                            match crate::version::satisfies(PACKER_COMPAT_VERSION, &c) {
                                Ok(true) => {}
                                Ok(false) => diags.push(
                                    Diagnostic::error(
                                        "Unsupported Packer Core version",
                                        format!("This configuration does not support Packer version {PACKER_COMPAT_VERSION}. To proceed, either choose another supported Packer version or update this version constraint. Version constraints are normally set for good reason, so updating the constraint may lead to other errors or unexpected behavior."),
                                    )
                                    .at(a.expr.span),
                                ),
                                Err(e) => diags.push(
                                    Diagnostic::error("Invalid version constraint", e).at(a.expr.span),
                                ),
                            }
                        }
                        Err(d) => diags.push(d),
                    },
                    other => diags.push(
                        Diagnostic::error(
                            "Unsupported argument",
                            format!("An argument named {other:?} is not expected here."),
                        )
                        .at(a.name_span),
                    ),
                }
            }
            for rp in &b.body.blocks {
                if rp.ty != "required_plugins" {
                    diags.push(
                        Diagnostic::error(
                            "Unsupported block type",
                            format!("Blocks of type {:?} are not expected here.", rp.ty),
                        )
                        .at(rp.type_span),
                    );
                    continue;
                }
                for a in &rp.body.attrs {
                    let v = match scope.eval(&a.expr) {
                        Ok(v) => v,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let Some(m) = v.as_entries() else {
                        let c = v.as_str().unwrap_or("version").to_string();
                        diags.push(
                            Diagnostic::error(
                                "Invalid plugin requirement",
                                format!("'{n} = \"{c}\"' plugin requirement calls are not possible. You must define a whole block. For example:\n{n} = {{\n  source  = \"github.com/hashicorp/{n}\"\n  version = \"{c}\"\n}}", n = a.name),
                            )
                            .at(a.span),
                        );
                        continue;
                    };
                    let get = |k: &str| m.get(k).and_then(|x| x.as_str()).map(str::to_string);
                    let Some(version) = get("version") else {
                        diags.push(
                            Diagnostic::error(
                                if m.contains_key("version") { "Invalid version constraint" } else { "No version constraint was set" },
                                "The version field must be specified as a string. Ex: `version = \">= 1.2.0, < 2.0.0\"`.",
                            )
                            .at(a.expr.span),
                        );
                        continue;
                    };
                    if let Err(e) = crate::version::satisfies("0.0.0", &version) {
                        diags.push(
                            Diagnostic::error(
                                "Invalid version constraint",
                                format!("This string does not use correct version constraint syntax.\n{e}"),
                            )
                            .at(a.expr.span),
                        );
                        continue;
                    }
                    let Some(source) = get("source") else {
                        diags.push(
                            Diagnostic::error(
                                if m.contains_key("source") { "Invalid source" } else { "No source was set" },
                                "The source field must be specified as a string. Ex: `source = \"github.com/hashicorp/happycloud\"`.",
                            )
                            .at(a.expr.span),
                        );
                        continue;
                    };
                    if let Err(e) = plugin_source_valid(&source) {
                        diags.push(Diagnostic::error("Failed to parse source", e).at(a.span));
                        continue;
                    }
                    if m.keys().any(|k| k != "version" && k != "source") {
                        diags.push(
                            Diagnostic::error(
                                "Invalid required_plugins object",
                                "required_plugins objects can only contain \"version\" and \"source\" attributes.",
                            )
                            .at(a.expr.span),
                        );
                        continue;
                    }
                    out.push(RequiredPlugin {
                        name: a.name.clone(),
                        source,
                        version,
                    });
                }
            }
        }
        self.diags.extend(diags);
        out
    }

    /// Evaluates locals and data sources in dependency order.
    fn eval_locals_and_data(
        &mut self,
        body: &Body,
        base: &[(String, Value)],
    ) -> (BTreeMap<String, Value>, Value) {
        #[derive(Clone)]
        enum Node<'b> {
            Local(&'b crate::syntax::Expr, bool, Span),
            Data(&'b Block),
        }
        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        let mut order_hint: Vec<String> = Vec::new();
        let dup = |diags: &mut Diagnostics, key: &str, span: Span, _what: &str| {
            diags.push(
                Diagnostic::error(
                    "Duplicate local definition",
                    format!(
                        "Local variable {:?} is defined twice in your templates.",
                        key.trim_start_matches("local.")
                    ),
                )
                .at(span),
            );
        };
        for b in &body.blocks {
            match b.ty.as_str() {
                "locals" => {
                    for a in &b.body.attrs {
                        let key = format!("local.{}", a.name);
                        if nodes.contains_key(&key) {
                            dup(&mut self.diags, &key, a.name_span, "local");
                            continue;
                        }
                        order_hint.push(key.clone());
                        nodes.insert(key, Node::Local(&a.expr, false, a.span));
                    }
                }
                "local" => {
                    let Some((name, _)) = b.labels.first() else {
                        continue;
                    };
                    let key = format!("local.{name}");
                    let Some(expr) = b.body.attr("expression") else {
                        self.diags.push(
                            Diagnostic::error(
                                "Missing required argument",
                                "The argument \"expression\" is required, but no definition was found.",
                            )
                            .at(b.header_span()),
                        );
                        continue;
                    };
                    let sensitive = b
                        .body
                        .attr("sensitive")
                        .map(|a| matches!(&a.expr.kind, ExprKind::Literal(v) if v.as_bool() == Some(true)))
                        .unwrap_or(false);
                    if nodes.contains_key(&key) {
                        dup(&mut self.diags, &key, b.header_span(), "local");
                        continue;
                    }
                    order_hint.push(key.clone());
                    nodes.insert(key, Node::Local(&expr.expr, sensitive, b.span));
                }
                "data" => {
                    let [(t, _), (n, _)] = b.labels.as_slice() else {
                        self.diags.push(
                            Diagnostic::error(
                                "Missing name for data source",
                                "All data blocks must have two labels: the data source type and a name.",
                            )
                            .at(b.header_span()),
                        );
                        continue;
                    };
                    let key = format!("data.{t}.{n}");
                    if nodes.contains_key(&key) {
                        self.diags.push(
                            Diagnostic::error(
                                "Duplicate data block",
                                format!("This data block has the same data type and name as a previous block: {key}."),
                            )
                            .at(b.header_span()),
                        );
                        continue;
                    }
                    order_hint.push(key.clone());
                    nodes.insert(key, Node::Data(b));
                }
                _ => {}
            }
        }
        // Dependencies from references.
        let mut deps: BTreeMap<String, Vec<(String, Span)>> = BTreeMap::new();
        for (k, n) in &nodes {
            let refs = match n {
                Node::Local(e, _, _) => e.references(),
                Node::Data(b) => body_refs(&b.body),
            };
            let mut d = Vec::new();
            for r in refs {
                let key = match r.root.as_str() {
                    "local" => r.attrs.first().map(|a| format!("local.{a}")),
                    "data" if r.attrs.len() >= 2 => {
                        Some(format!("data.{}.{}", r.attrs[0], r.attrs[1]))
                    }
                    _ => None,
                };
                if let Some(key) = key {
                    if nodes.contains_key(&key) {
                        d.push((key, r.span));
                    }
                }
            }
            deps.insert(k.clone(), d);
        }
        // Topological order (stable by declaration order), cycles reported with their path.
        let mut state: HashMap<String, u8> = HashMap::new();
        let mut order = Vec::new();
        for k in &order_hint {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(k, &deps, &mut state, &mut order, &mut stack) {
                let span = match nodes.get(&cycle[0]) {
                    Some(Node::Local(_, _, s)) => *s,
                    Some(Node::Data(b)) => b.header_span(),
                    None => Span::default(),
                };
                self.diags.push(
                    Diagnostic::error(
                        "failed to prepare execution graph",
                        format!(
                            "An error occurred while building the graph for datasources/locals: a dependency cycle: {}. Break the cycle so each value can be evaluated from the ones before it.",
                            cycle.join(" -> ")
                        ),
                    )
                    .at(span),
                );
                return (BTreeMap::new(), Value::empty_object());
            }
        }
        let mut locals: BTreeMap<String, Value> = BTreeMap::new();
        let mut data: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        let mut diags = Diagnostics::new();
        for k in order {
            let mut names = base.to_vec();
            names.push(("local".into(), Value::object(locals.clone())));
            names.push((
                "data".into(),
                Value::object(
                    data.iter()
                        .map(|(t, m)| (t.clone(), Value::object(m.clone())))
                        .collect(),
                ),
            ));
            let env = self.eval_env(false);
            let scope = Scope::new(&env, names);
            match nodes.get(&k) {
                Some(Node::Local(e, sensitive, _)) => {
                    let v = match scope.eval(e) {
                        Ok(v) => v.marked(*sensitive),
                        // Packer leaves a local that failed out of scope; inspect and console
                        // (which keep going after errors) must not show it.
                        Err(d) if self.opts.keep_plan_on_error => {
                            diags.push(d);
                            continue;
                        }
                        Err(d) => {
                            diags.push(d);
                            Value::unknown(Type::Dynamic)
                        }
                    };
                    locals.insert(k.trim_start_matches("local.").to_string(), v);
                }
                Some(Node::Data(b)) => {
                    let cfg = eval_body(&b.body, &scope, &mut diags);
                    // Settings take their schema's types, as Packer's decoder gives them.
                    let cfg = match crate::schema::lookup(
                        crate::schema::PluginKind::DataSource,
                        &b.labels[0].0,
                    ) {
                        Some(_) => {
                            let (c, d) = crate::schema::Registry::builtin().check(
                                crate::schema::PluginKind::DataSource,
                                &b.labels[0].0,
                                &cfg,
                                b.header_span(),
                                Some(&b.body),
                            );
                            diags.extend(d);
                            c
                        }
                        None => cfg,
                    };
                    let v = crate::datasource::evaluate(
                        &b.labels[0].0,
                        &cfg,
                        b,
                        self.opts.skip_datasources,
                        &self.opts.datasources,
                        &mut diags,
                    );
                    data.entry(b.labels[0].0.clone())
                        .or_default()
                        .insert(b.labels[1].0.clone(), v);
                }
                None => {}
            }
        }
        self.diags.extend(diags);
        let data = Value::object(
            data.into_iter()
                .map(|(t, m)| (t, Value::object(m)))
                .collect(),
        );
        (locals, data)
    }

    fn expand_builds(
        &mut self,
        body: &Body,
        sources: &BTreeMap<(String, String), &Block>,
        scope_names: &[(String, Value)],
        files: &Files,
    ) -> (Vec<PlannedBuild>, Vec<BuildBlockSummary>) {
        let mut out = Vec::new();
        let mut summaries = Vec::new();
        let env = self.eval_env(false);
        let scope = Scope::new(&env, scope_names.to_vec());
        let mut diags = Diagnostics::new();
        let mut any_build = false;
        let expanded: Vec<Block> = body
            .blocks_of("build")
            .map(|bb| Block {
                body: expand_dynamic_blocks(&bb.body, &scope, &mut diags),
                ..bb.clone()
            })
            .collect();
        for bb in &expanded {
            any_build = true;
            let build_name = bb
                .body
                .attr("name")
                .and_then(|a| scope.eval(&a.expr).ok())
                .and_then(|v| v.as_str().map(str::to_string));
            let description = bb
                .body
                .attr("description")
                .and_then(|a| scope.eval(&a.expr).ok())
                .and_then(|v| v.as_str().map(str::to_string));
            for a in &bb.body.attrs {
                if !["name", "description", "sources"].contains(&a.name.as_str()) {
                    diags.push(
                        Diagnostic::error(
                            "Unsupported argument",
                            format!("An argument named {:?} is not expected here.", a.name),
                        )
                        .at(a.name_span),
                    );
                }
            }
            // (type, name, local name, override body, span)
            let mut uses: Vec<(String, String, String, Option<&Body>, Span)> = Vec::new();
            let mut sources_unknown = false;
            if let Some(a) = bb.body.attr("sources") {
                let items: Vec<(String, Span)> = match &a.expr.kind {
                    ExprKind::Tuple(items) => items
                        .iter()
                        .filter_map(|x| {
                            scope
                                .eval(x)
                                .ok()
                                .and_then(|v| v.as_str().map(|s| (s.to_string(), x.span)))
                        })
                        .collect(),
                    _ => match scope.eval(&a.expr) {
                        Ok(v) if !v.is_wholly_known() => {
                            sources_unknown = true;
                            Vec::new()
                        }
                        Ok(v) => v
                            .as_seq()
                            .unwrap_or(&[])
                            .iter()
                            .filter_map(|x| x.as_str().map(|s| (s.to_string(), a.expr.span)))
                            .collect(),
                        Err(d) => {
                            diags.push(d);
                            Vec::new()
                        }
                    },
                };
                for (s, sp) in items {
                    match source_ref(&s) {
                        Some((t, n)) => uses.push((t.clone(), n.clone(), n, None, sp)),
                        None => diags.push(
                            Diagnostic::error(
                                "Invalid source reference",
                                format!("A source reference must look like \"source.TYPE.NAME\" or \"TYPE.NAME\"; {s:?} does not."),
                            )
                            .at(sp),
                        ),
                    }
                }
            }
            for sb in bb.body.blocks_of("source") {
                let Some((label, lspan)) = sb.labels.first() else {
                    continue;
                };
                let Some((t, n)) = source_ref(label) else {
                    diags.push(
                        Diagnostic::error(
                            "Invalid source reference",
                            format!("A source reference must look like \"source.TYPE.NAME\" or \"TYPE.NAME\"; {label:?} does not."),
                        )
                        .at(*lspan),
                    );
                    continue;
                };
                let local = sb
                    .body
                    .attr("name")
                    .and_then(|a| scope.eval(&a.expr).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| n.clone());
                uses.push((t, n, local, Some(&sb.body), sb.span));
            }
            // A `dynamic "source"` whose for_each is not known yet (unset variables while
            // inspecting) generates its sources later, so its absence is not an error here.
            let dynamic_sources = body.blocks_of("build").any(|b| {
                b.span == bb.span
                    && b.body.blocks.iter().any(|d| {
                        d.ty == "dynamic" && d.labels.first().is_some_and(|(l, _)| l == "source")
                    })
            });
            if uses.is_empty() && !dynamic_sources && !sources_unknown {
                diags.push(
                    Diagnostic::error(
                        "missing source reference",
                        "a build block must reference at least one source to be built",
                    )
                    .at(bb.type_span),
                );
            }
            // Packer drops a build block whose decoding failed.
            let had_source = !uses.is_empty() || dynamic_sources || sources_unknown;
            if had_source && build_block_decodes(bb) {
                summaries.push(build_block_summary(
                    bb,
                    build_name.clone(),
                    description.clone(),
                    &uses,
                    &scope,
                ));
            }
            for (t, n, local, over, span) in uses {
                let Some(src) = sources.get(&(t.clone(), n.clone())) else {
                    diags.push(
                        Diagnostic::error(
                            "Unknown source",
                            format!("Unknown source {t}.{n}: no \"source\" block declares it."),
                        )
                        .at(span),
                    );
                    continue;
                };
                let mut merged = src.body.clone();
                if let Some(ob) = over {
                    for a in &ob.attrs {
                        if a.name == "name" {
                            continue;
                        }
                        if let Some(prev) = merged.attr(&a.name) {
                            diags.push(
                                Diagnostic::error(
                                    "Duplicate argument",
                                    format!("The argument {:?} is already set at {}; a build-level source block may only add arguments.", a.name, files.position(prev.name_span)),
                                )
                                .at(a.name_span),
                            );
                            continue;
                        }
                        merged.attrs.push(a.clone());
                    }
                    merged.blocks.extend(ob.blocks.iter().cloned());
                }
                let source_obj = Value::object(BTreeMap::from([
                    ("name".to_string(), Value::string(local.clone())),
                    ("type".to_string(), Value::string(t.clone())),
                ]));
                let mut names = scope_names.to_vec();
                names.push(("source".into(), source_obj.clone()));
                let src_scope = Scope::new(&env, names.clone());
                let config = eval_body(&merged, &src_scope, &mut diags);
                let type_name = format!("{t}.{local}");
                let name = match &build_name {
                    Some(b) => format!("{b}.{type_name}"),
                    None => type_name.clone(),
                };
                let mut bnames = names.clone();
                bnames.push(("build".into(), build_object(build_name.as_deref(), &t)));
                let late = Scope::new(&env, bnames);
                let mut provisioners = Vec::new();
                let mut cleanup = None;
                for pb in &bb.body.blocks {
                    match pb.ty.as_str() {
                        "provisioner" | "error-cleanup-provisioner" => {
                            if let Some(p) =
                                self.provisioner(pb, &type_name, &local, &late, &mut diags)
                            {
                                if pb.ty == "provisioner" {
                                    provisioners.push(p);
                                } else if cleanup.is_some() {
                                    diags.push(
                                        Diagnostic::error(
                                            "Only one error-cleanup-provisioner is allowed",
                                            "A build block may have at most one error-cleanup-provisioner.",
                                        )
                                        .at(pb.type_span),
                                    );
                                } else {
                                    cleanup = Some(p);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let mut chains = Vec::new();
                for pb in &bb.body.blocks {
                    match pb.ty.as_str() {
                        "post-processor" => {
                            if let Some(pp) = self.post_processor(pb, &type_name, &late, &mut diags)
                            {
                                chains.push(vec![pp]);
                            }
                        }
                        "post-processors" => {
                            let chain: Vec<_> = pb
                                .body
                                .blocks_of("post-processor")
                                .filter_map(|p| {
                                    self.post_processor(p, &type_name, &late, &mut diags)
                                })
                                .collect();
                            if !chain.is_empty() {
                                chains.push(chain);
                            }
                        }
                        "source"
                        | "provisioner"
                        | "error-cleanup-provisioner"
                        | "hcp_packer_registry" => {}
                        // Only the HCP registry block is generated dynamically inside builds in
                        // practice; it configures HCP and nothing forge runs.
                        "dynamic"
                            if pb
                                .labels
                                .first()
                                .is_some_and(|(l, _)| l == "hcp_packer_registry") => {}
                        other => diags.push(
                            Diagnostic::error(
                                "Unsupported block type",
                                format!("Blocks of type {other:?} are not expected here."),
                            )
                            .at(pb.type_span),
                        ),
                    }
                }
                // -except also drops post-processors by name (and the rest of their chain).
                for chain in &mut chains {
                    if let Some(pos) = chain.iter().position(|pp| {
                        let n = pp
                            .name
                            .clone()
                            .unwrap_or_else(|| pp.config.plugin_type.clone());
                        self.opts.except.iter().any(|g| glob_match(g, &n))
                    }) {
                        chain.truncate(pos);
                    }
                }
                chains.retain(|c| !c.is_empty());
                out.push(PlannedBuild {
                    build_name: build_name.clone(),
                    name,
                    builder_type: t.clone(),
                    source_name: n.clone(),
                    local_name: local.clone(),
                    builder: PluginConfig {
                        plugin_type: t.clone(),
                        config,
                        body: Some(merged),
                        span: src.header_span(),
                    },
                    provisioners,
                    error_cleanup_provisioner: cleanup,
                    post_processors: chains,
                    description: description.clone(),
                });
            }
        }
        let _ = any_build;
        // Every plugin's configuration against its registered schema, all errors at once.
        let mut seen = std::collections::HashSet::new();
        for b in &mut out {
            check_build_plugins(b, &mut seen, &mut diags);
        }
        self.diags.extend(diags);
        // -only / -except on build names.
        out.retain(|b| {
            (self.opts.only.is_empty() || self.opts.only.iter().any(|g| glob_match(g, &b.name)))
                && !self.opts.except.iter().any(|g| glob_match(g, &b.name))
        });
        (out, summaries)
    }

    fn only_except(
        &self,
        body: &Body,
        type_name: &str,
        scope: &Scope,
        diags: &mut Diagnostics,
    ) -> bool {
        let list = |n: &str, diags: &mut Diagnostics| -> Option<Vec<String>> {
            let a = body.attr(n)?;
            match scope.eval(&a.expr) {
                Ok(v) => Some(
                    v.as_seq()
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                ),
                Err(d) => {
                    diags.push(d);
                    None
                }
            }
        };
        let only = list("only", diags);
        let except = list("except", diags);
        if only.is_some() && except.is_some() {
            if let Some(a) = body.attr("except") {
                diags.push(
                    Diagnostic::error(
                        "only one of 'only' or 'except' can be specified",
                        "Use either \"only\" or \"except\" in one block, not both.",
                    )
                    .at(a.name_span),
                );
            }
            return false;
        }
        if let Some(o) = only {
            return o.iter().any(|x| x == type_name);
        }
        if let Some(e) = except {
            return !e.iter().any(|x| x == type_name);
        }
        true
    }

    fn provisioner(
        &self,
        b: &Block,
        type_name: &str,
        local: &str,
        scope: &Scope,
        diags: &mut Diagnostics,
    ) -> Option<PlannedProvisioner> {
        let Some((ptype, _)) = b.labels.first() else {
            diags.push(
                Diagnostic::error(
                    "Missing provisioner type",
                    "A provisioner block needs one label: the provisioner type.",
                )
                .at(b.type_span),
            );
            return None;
        };
        if !self.only_except(&b.body, type_name, scope, diags) {
            return None;
        }
        const COMMON: &[&str] = &[
            "name",
            "pause_before",
            "max_retries",
            "timeout",
            "only",
            "except",
            "override",
            "continue_on_error",
        ];
        let mut plugin_body = b.body.clone();
        plugin_body
            .attrs
            .retain(|a| !COMMON.contains(&a.name.as_str()));
        let mut config = eval_body(&plugin_body, scope, diags);
        let get = |n: &str, diags: &mut Diagnostics| -> Option<(Value, Span)> {
            let a = b.body.attr(n)?;
            match scope.eval(&a.expr) {
                Ok(v) => Some((v, a.expr.span)),
                Err(d) => {
                    diags.push(d);
                    None
                }
            }
        };
        let dur = |n: &str, diags: &mut Diagnostics| -> Option<std::time::Duration> {
            let (v, sp) = get(n, diags)?;
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_console_string());
            match parse_duration(&s) {
                Some(d) => Some(d),
                None => {
                    diags.push(
                        Diagnostic::error(
                            "Invalid duration",
                            format!("{s:?} is not a valid duration for {n:?}: use Go's duration syntax, such as \"30s\" or \"1h5m\"."),
                        )
                        .at(sp),
                    );
                    None
                }
            }
        };
        if let Some((ov, _)) = get("override", diags) {
            if let Some(o) = ov.as_entries().and_then(|m| m.get(local)) {
                if let (Some(base), Some(extra)) = (config.as_entries(), o.as_entries()) {
                    let mut m = base.clone();
                    m.extend(extra.clone());
                    config = Value::object(m);
                }
            }
        }
        let max_retries = get("max_retries", diags)
            .and_then(|(v, _)| v.as_number().and_then(|n| n.to_i64()))
            .unwrap_or(0)
            .max(0) as u32;
        let pause_before = dur("pause_before", diags);
        Some(PlannedProvisioner {
            name: get("name", diags).and_then(|(v, _)| v.as_str().map(str::to_string)),
            pause_before,
            // Packer's HCL2 quirk: pause_before disables timeout.
            timeout: dur("timeout", diags).filter(|_| pause_before.is_none()),
            max_retries,
            continue_on_error: get("continue_on_error", diags)
                .and_then(|(v, _)| v.as_bool())
                .unwrap_or(false),
            config: PluginConfig {
                plugin_type: ptype.clone(),
                config,
                body: Some(plugin_body),
                span: b.header_span(),
            },
        })
    }

    fn post_processor(
        &self,
        b: &Block,
        type_name: &str,
        scope: &Scope,
        diags: &mut Diagnostics,
    ) -> Option<PlannedPostProcessor> {
        let Some((ptype, _)) = b.labels.first() else {
            diags.push(
                Diagnostic::error(
                    "Missing post-processor type",
                    "A post-processor block needs one label: the post-processor type.",
                )
                .at(b.type_span),
            );
            return None;
        };
        if !self.only_except(&b.body, type_name, scope, diags) {
            return None;
        }
        const COMMON: &[&str] = &["name", "only", "except", "keep_input_artifact"];
        let mut plugin_body = b.body.clone();
        plugin_body
            .attrs
            .retain(|a| !COMMON.contains(&a.name.as_str()));
        let config = eval_body(&plugin_body, scope, diags);
        let get = |n: &str| b.body.attr(n).and_then(|a| scope.eval(&a.expr).ok());
        Some(PlannedPostProcessor {
            name: get("name").and_then(|v| v.as_str().map(str::to_string)),
            keep_input_artifact: get("keep_input_artifact").and_then(|v| v.as_bool()),
            config: PluginConfig {
                plugin_type: ptype.clone(),
                config,
                body: Some(plugin_body),
                span: b.header_span(),
            },
        })
    }
}

/// Checks a build's builder, provisioners and post-processors against their registered
/// schemas and converts their settings to the schemas' types (cty's rules, as Packer's HCL
/// decoder), reporting each plugin block (by position) once even when several builds share it.
pub(crate) fn check_build_plugins(
    b: &mut PlannedBuild,
    seen: &mut std::collections::HashSet<(u32, u32)>,
    diags: &mut Diagnostics,
) {
    use crate::schema::{convert_plugin, PluginKind};
    let mut one = |kind: PluginKind, p: &mut PluginConfig, diags: &mut Diagnostics| {
        let (converted, d) = convert_plugin(kind, p);
        p.config = converted;
        if seen.insert((p.span.file, p.span.start)) {
            diags.extend(d);
        }
    };
    one(PluginKind::Builder, &mut b.builder, diags);
    for p in b
        .provisioners
        .iter_mut()
        .chain(b.error_cleanup_provisioner.as_mut())
    {
        one(PluginKind::Provisioner, &mut p.config, diags);
    }
    for pp in b.post_processors.iter_mut().flatten() {
        one(PluginKind::PostProcessor, &mut pp.config, diags);
    }
}

/// Checks a plugin source address (`github.com/hashicorp/amazon`) the way Packer does.
fn plugin_source_valid(s: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    if s.starts_with('/') {
        errs.push("A source URL must not start with a '/' character.");
    }
    if s.ends_with('/') {
        errs.push("A source URL must not end with a '/' character.");
    }
    if s.matches('/').count() < 2 {
        errs.push("A source URL must at least contain a host and a path with 2 components");
    }
    if s.contains("://") {
        errs.push("A source URL must not contain a scheme (e.g. https://).");
    }
    if s.contains('?') {
        errs.push("A source URL must not contain a query (e.g. ?var=val)");
    }
    if s.contains('#') {
        errs.push("A source URL must not contain a fragment (e.g. #anchor).");
    }
    if errs.is_empty() {
        return Ok(());
    }
    let list: String = errs.iter().map(|e| format!("* {e}\n")).collect();
    Err(format!("The provided source URL is invalid.\nThe following errors have been discovered:\n{list}\nA valid source looks like \"github.com/hashicorp/happycloud\""))
}

/// `build.*` as it is known before the build runs: the name and type, everything else unknown.
fn build_object(build_name: Option<&str>, builder_type: &str) -> Value {
    let mut m = BTreeMap::new();
    for k in crate::late::BUILD_KEYS {
        m.insert(k.to_string(), Value::unknown(Type::String));
    }
    m.insert(
        "name".to_string(),
        build_name
            .map(Value::string)
            .unwrap_or_else(|| Value::string("")),
    );
    m.insert("type".to_string(), Value::string(builder_type));
    // Generated data from builders is not known until the build runs.
    Value::object(m)
}

fn body_refs(b: &Body) -> Vec<crate::syntax::Reference> {
    let mut out: Vec<_> = b.attrs.iter().flat_map(|a| a.expr.references()).collect();
    for bl in &b.blocks {
        out.extend(body_refs(&bl.body));
    }
    out
}

fn visit(
    k: &str,
    deps: &BTreeMap<String, Vec<(String, Span)>>,
    state: &mut HashMap<String, u8>,
    order: &mut Vec<String>,
    stack: &mut Vec<String>,
) -> Option<Vec<String>> {
    match state.get(k) {
        Some(2) => return None,
        Some(1) => {
            let start = stack.iter().position(|s| s == k).unwrap_or(0);
            let mut cycle: Vec<String> = stack[start..].to_vec();
            cycle.push(k.to_string());
            return Some(cycle);
        }
        _ => {}
    }
    state.insert(k.to_string(), 1);
    stack.push(k.to_string());
    for (d, _) in deps.get(k).map(Vec::as_slice).unwrap_or(&[]) {
        if let Some(c) = visit(d, deps, state, order, stack) {
            return Some(c);
        }
    }
    stack.pop();
    state.insert(k.to_string(), 2);
    order.push(k.to_string());
    None
}

/// `source.T.N` or `T.N` → (T, N).
fn source_ref(s: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = s.split('.').collect();
    match parts.as_slice() {
        // A three-part reference drops its first part, whatever it is (as Packer does).
        [_, t, n] | [t, n] if !t.is_empty() && !n.is_empty() => {
            Some((t.to_string(), n.to_string()))
        }
        _ => None,
    }
}

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}
