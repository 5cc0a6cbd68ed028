//! Input variables: declarations, assignments from every source with Packer's precedence
//! (default < PKR_VAR_ < auto var files < -var-file < -var), type conversion, and validation.

use std::collections::BTreeMap;

use super::{Loader, Variable};
use crate::diag::{Diagnostic, Diagnostics, Files, Span};
use crate::eval::{EvalEnv, Scope};
use crate::syntax::{Body, ExprKind};
use crate::typeexpr::{type_constraint, Constraint};
use crate::value::{Type, Value};

const VARIABLE_ATTRS: &[&str] = &["type", "default", "description", "sensitive"];

impl Loader<'_> {
    pub(super) fn declare_variables(&mut self, body: &Body) -> BTreeMap<String, Variable> {
        let mut out: BTreeMap<String, Variable> = BTreeMap::new();
        let env = self.eval_env(true);
        let scope = Scope::new(&env, Vec::new());
        let mut diags = Diagnostics::new();
        for b in &body.blocks {
            match b.ty.as_str() {
                "variable" => {
                    let [(name, _)] = b.labels.as_slice() else {
                        diags.push(
                            Diagnostic::error(
                                "Missing name for variable",
                                "All variable blocks must have exactly one label: the variable name.",
                            )
                            .at(b.header_span()),
                        );
                        continue;
                    };
                    if let Some(prev) = out.get(name) {
                        let _ = prev;
                        diags.push(
                            Diagnostic::error(
                                "Duplicate variable",
                                format!("Duplicate {name:?} variable definition found."),
                            )
                            .at(b.header_span()),
                        );
                        continue;
                    }
                    for a in &b.body.attrs {
                        if !VARIABLE_ATTRS.contains(&a.name.as_str()) {
                            diags.push(
                                Diagnostic::error(
                                    "Unsupported argument",
                                    format!("An argument named {:?} is not expected here.", a.name),
                                )
                                .at(a.name_span),
                            );
                        }
                    }
                    let constraint = match b.body.attr("type") {
                        Some(a) => match type_constraint(&a.expr) {
                            Ok(c) => Some(c),
                            Err(d) => {
                                diags.push(d);
                                None
                            }
                        },
                        None => None,
                    };
                    let sensitive = match b.body.attr("sensitive") {
                        Some(a) => match scope.eval(&a.expr) {
                            Ok(v) => v.as_bool().unwrap_or(false),
                            Err(d) => {
                                diags.push(d);
                                false
                            }
                        },
                        None => false,
                    };
                    let mut value = None;
                    if let Some(a) = b.body.attr("default") {
                        match scope.eval(&a.expr) {
                            Ok(v) => match convert_to(&v, constraint.as_ref()) {
                                Ok(v) => value = Some(v),
                                Err(e) => diags.push(
                                    Diagnostic::error(
                                        "Invalid default value for variable",
                                        format!("This default value is not compatible with the variable's type constraint: {e}."),
                                    )
                                    .at(a.expr.span),
                                ),
                            },
                            Err(d) => diags.push(d),
                        }
                    }
                    let mut validations = Vec::new();
                    for vb in b.body.blocks_of("validation") {
                        match (vb.body.attr("condition"), vb.body.attr("error_message")) {
                            (Some(c), Some(m)) => {
                                validations.push((c.expr.clone(), m.expr.clone(), c.expr.span));
                            }
                            _ => diags.push(
                                Diagnostic::error(
                                    "Missing required argument",
                                    "A validation block needs both \"condition\" and \"error_message\".",
                                )
                                .at(vb.type_span),
                            ),
                        }
                    }
                    for other in &b.body.blocks {
                        if other.ty != "validation" {
                            diags.push(
                                Diagnostic::error(
                                    "Unsupported block type",
                                    format!("Blocks of type {:?} are not expected here.", other.ty),
                                )
                                .at(other.type_span),
                            );
                        }
                    }
                    out.insert(
                        name.clone(),
                        Variable {
                            name: name.clone(),
                            span: b.header_span(),
                            constraint,
                            sensitive,
                            value,
                            validations,
                            from: "default",
                        },
                    );
                }
                "variables" => {
                    for a in &b.body.attrs {
                        if out.contains_key(&a.name) {
                            diags.push(
                                Diagnostic::error(
                                    "Duplicate variable",
                                    format!("Duplicate {:?} variable definition found.", a.name),
                                )
                                .at(a.name_span),
                            );
                            continue;
                        }
                        let value = match scope.eval(&a.expr) {
                            Ok(v) => Some(v),
                            Err(d) => {
                                diags.push(d);
                                None
                            }
                        };
                        out.insert(
                            a.name.clone(),
                            Variable {
                                name: a.name.clone(),
                                span: a.span,
                                constraint: None,
                                sensitive: false,
                                value,
                                validations: Vec::new(),
                                from: "default",
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        self.diags.extend(diags);
        out
    }

    pub(super) fn assign_variables(
        &mut self,
        vars: &mut BTreeMap<String, Variable>,
        auto: &[std::path::PathBuf],
        files: &mut Files,
    ) {
        // PKR_VAR_<name>: only for declared variables.
        let names: Vec<String> = vars.keys().cloned().collect();
        for name in &names {
            if let Some(raw) = (self.env)(&format!("PKR_VAR_{name}")) {
                self.assign_raw(vars, name, &raw, "env", None);
            }
        }
        // Auto var files, then -var-file files, in order.
        let var_files: Vec<std::path::PathBuf> = auto
            .iter()
            .cloned()
            .chain(self.opts.var_files.iter().cloned())
            .collect();
        for p in var_files {
            let name = p.to_string_lossy().to_string();
            if !(name.ends_with(".hcl") || name.ends_with(".json")) {
                self.diags.push(Diagnostic::error(
                    "Could not guess format of variable file",
                    format!("Could not guess format of {name}; variable files must end in .hcl or .json."),
                ));
                continue;
            }
            let body = match super::parse_file(&p, files) {
                Ok(b) => b,
                Err(d) => {
                    self.diags.extend(d);
                    continue;
                }
            };
            for b in &body.blocks {
                self.diags.push(
                    Diagnostic::error(
                        if b.ty == "variable" {
                            "Variable declaration in a .pkrvar file"
                        } else {
                            "Unexpected block in a variable file"
                        },
                        "A var file can only contain attributes, such as `name = \"value\"`; move declarations into a .pkr.hcl file.",
                    )
                    .at(b.type_span),
                );
            }
            let env = self.eval_env(false);
            let scope = Scope::new(&env, Vec::new());
            let mut diags = Diagnostics::new();
            for a in &body.attrs {
                let Some(var) = vars.get_mut(&a.name) else {
                    if self.opts.warn_undeclared_vars {
                        diags.push(
                            Diagnostic::warning(
                                "Undefined variable",
                                format!("The variable {:?} was set but was not declared as an input variable.\nTo declare variable {:?} place this block in one of your .pkr.hcl files,\nsuch as variables.pkr.hcl\n\nvariable {:?} {{\n  type    = string\n  default = null\n\n}}", a.name, a.name, a.name),
                            )
                            .at(a.name_span),
                        );
                    }
                    continue;
                };
                match scope.eval(&a.expr) {
                    Ok(v) => match convert_to(&v, var.constraint.as_ref()) {
                        Ok(v) => {
                            var.value = Some(v);
                            var.from = "varfile";
                        }
                        Err(e) => diags.push(
                            Diagnostic::error(
                                "Invalid value for variable",
                                format!(
                                    "The given value is not valid for variable {:?}: {e}.",
                                    a.name
                                ),
                            )
                            .at(a.expr.span),
                        ),
                    },
                    Err(d) => diags.push(d),
                }
            }
            self.diags.extend(diags);
        }
        // -var: always last, whatever the order on the command line.
        for (k, raw) in self.opts.vars.clone() {
            if !vars.contains_key(&k) {
                self.diags.push(Diagnostic::error(
                    "Undefined -var variable",
                    format!("A {k:?} variable was passed in but was not found in known variables. To declare variable {k:?}, place this block in one of your .pkr.hcl files, such as variables.pkr.hcl"),
                ));
                continue;
            }
            self.assign_raw(vars, &k, &raw, "cmd", None);
        }
    }

    /// Assigns a textual value (-var, PKR_VAR_): a literal string for primitive or absent types,
    /// an HCL expression for complex ones.
    fn assign_raw(
        &mut self,
        vars: &mut BTreeMap<String, Variable>,
        name: &str,
        raw: &str,
        from: &'static str,
        span: Option<Span>,
    ) {
        let Some(var) = vars.get_mut(name) else {
            return;
        };
        let ty = var
            .constraint
            .as_ref()
            .map(Constraint::ty)
            .unwrap_or(Type::Dynamic);
        let v = if ty.is_primitive() || ty == Type::Dynamic {
            Value::string(raw)
        } else {
            let mut f = Files::default();
            let id = f.add(format!("<value for var.{name}>"), raw);
            let parsed = crate::syntax::parse_expression(id, raw).and_then(|e| {
                let env = EvalEnv::new(self.root.clone());
                Scope::new(&env, Vec::new())
                    .eval(&e)
                    .map_err(Diagnostics::from)
            });
            match parsed {
                Ok(v) => v,
                Err(d) => {
                    let detail = d.0.first().map(|d| d.detail.clone()).unwrap_or_default();
                    self.diags.push(Diagnostic::error(
                        "Invalid value for variable",
                        format!("The value given for variable {name:?} could not be parsed as an HCL expression: {detail}"),
                    ));
                    return;
                }
            }
        };
        match convert_to(&v, var.constraint.as_ref()) {
            Ok(v) => {
                var.value = Some(v);
                var.from = from;
            }
            Err(e) => {
                // The variable counts as set (to a value not known), so that only this error
                // is reported, not also "Unset variable".
                let ty = var
                    .constraint
                    .as_ref()
                    .map(Constraint::ty)
                    .unwrap_or(Type::Dynamic);
                var.value = Some(Value::unknown(ty));
                let mut d = Diagnostic::error(
                    if from == "cmd" {
                        "Invalid argument value for -var variable"
                    } else {
                        "Invalid value for variable"
                    },
                    format!("The received arg value for {name} is not compatible with the variable's type constraint: {e}."),
                );
                d.subject = span;
                self.diags.push(d);
            }
        }
    }

    pub(super) fn validate_variables(
        &mut self,
        vars: &mut BTreeMap<String, Variable>,
        files: &Files,
    ) {
        if self.opts.unset_as_unknown {
            for v in vars.values_mut() {
                if v.value.is_none() {
                    let ty = v
                        .constraint
                        .as_ref()
                        .map(Constraint::ty)
                        .unwrap_or(Type::Dynamic);
                    v.value = Some(Value::unknown(ty));
                }
            }
        }
        for v in vars.values() {
            let Some(value) = &v.value else {
                self.diags.push(
                    Diagnostic::error(
                        format!("Unset variable {:?}", v.name),
                        "A used variable must be set or have a default value; see https://packer.io/docs/templates/hcl_templates/syntax for details.",
                    )
                    .at(v.span),
                );
                continue;
            };
            for (cond, msg, span) in &v.validations {
                // The condition may refer to this variable only.
                let bad_ref = cond.references().into_iter().find(|r| r.root != "var");
                if let Some(r) = bad_ref {
                    self.diags.push(
                        Diagnostic::error(
                            "Invalid variable validation condition",
                            format!("The condition for variable {:?} can only refer to the variable itself, using var.{}.", v.name, v.name),
                        )
                        .at(r.span),
                    );
                    continue;
                }
                let env = self.eval_env(false);
                let scope = Scope::new(
                    &env,
                    vec![(
                        "var".into(),
                        Value::object(BTreeMap::from([(v.name.clone(), value.clone())])),
                    )],
                );
                let message = match scope.eval(msg) {
                    Ok(m) => m.as_str().unwrap_or_default().to_string(),
                    Err(d) => {
                        self.diags.push(d);
                        continue;
                    }
                };
                match scope.eval(cond) {
                    Ok(c) if c.as_bool() == Some(false) => {
                        let from = match v.from {
                            "cmd" => "-var",
                            "varfile" => "varfile",
                            "env" => "env",
                            _ => "default",
                        };
                        let pos = format!("{}", span.start);
                        let _ = pos;
                        self.diags.push(
                            Diagnostic::error(
                                format!("Invalid value for {from} variable"),
                                format!(
                                    "{message}\n\nThis was checked by the validation rule at {}.",
                                    files.range_string(*span)
                                ),
                            )
                            .at(*span),
                        );
                    }
                    Ok(c) if c.as_bool().is_none() && !c.is_unknown() => self.diags.push(
                        Diagnostic::error(
                            "Invalid variable validation result",
                            "Validation condition expression must return either true or false.",
                        )
                        .at(*span),
                    ),
                    Ok(_) => {}
                    Err(d) => self.diags.push(d),
                }
            }
        }
        let _ = ExprKind::Var(String::new());
    }
}

/// Converts a value to a variable's type constraint, or keeps it when there is none.
fn convert_to(v: &Value, c: Option<&Constraint>) -> Result<Value, crate::value::ConvertError> {
    match c {
        Some(c) => c.apply(v),
        None => Ok(v.clone()),
    }
}
