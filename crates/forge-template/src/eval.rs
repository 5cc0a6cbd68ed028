//! The expression evaluator: HCL's operators, traversals, splats, `for` expressions, templates
//! and function calls over cty-like values, with unknowns and sensitive marks carried through.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::diag::{Diagnostic, Span};
use crate::functions::{self, FuncCtx};
use crate::syntax::{BinaryOp, Expr, ExprKind, ForExpr, Op, TemplatePart, UnaryOp};
use crate::value::{convert, unify, Kind, Number, Type, Value};

/// What every evaluation may reach: the base directory, the clock, and the environment.
pub struct EvalEnv<'a> {
    /// `path.root`: relative paths in file functions resolve against it.
    pub base_dir: PathBuf,
    /// Process start time.
    pub start_time: std::time::SystemTime,
    /// Whether `env()` may be called (variable defaults only).
    pub allow_env: bool,
    /// Environment lookup.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether `templatefile` is allowed (it is not inside a template file).
    pub allow_templatefile: bool,
    /// The client of the `aws_secretsmanager*` functions, if any.
    pub secrets_manager: Option<&'a dyn crate::secrets::SecretsManager>,
}

impl EvalEnv<'static> {
    /// An environment reading the real process environment, rooted at `base_dir`.
    pub fn new(base_dir: PathBuf) -> EvalEnv<'static> {
        EvalEnv {
            base_dir,
            start_time: crate::start_time(),
            allow_env: false,
            env: &|k| std::env::var(k).ok(),
            allow_templatefile: true,
            secrets_manager: None,
        }
    }
}

/// Names in scope, chained to the enclosing scope.
pub struct Scope<'a> {
    names: Vec<(String, Value)>,
    parent: Option<&'a Scope<'a>>,
    env: &'a EvalEnv<'a>,
}

type R = Result<Value, Diagnostic>;

fn err(summary: &str, detail: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(summary, detail).at(span)
}

impl<'a> Scope<'a> {
    /// A root scope with the given names (`var`, `local`, `path`, ...).
    pub fn new(env: &'a EvalEnv<'a>, names: Vec<(String, Value)>) -> Scope<'a> {
        Scope {
            names,
            parent: None,
            env,
        }
    }
    /// A nested scope adding names.
    pub fn child(&'a self, names: Vec<(String, Value)>) -> Scope<'a> {
        Scope {
            names,
            parent: Some(self),
            env: self.env,
        }
    }
    /// Looks a name up.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.parent.and_then(|p| p.lookup(name)))
    }
    /// The environment.
    pub fn env(&self) -> &EvalEnv<'a> {
        self.env
    }

    /// Evaluates an expression.
    pub fn eval(&self, e: &Expr) -> R {
        match &e.kind {
            ExprKind::Literal(v) => Ok(v.clone()),
            ExprKind::Paren(x) => self.eval(x),
            ExprKind::Var(name) => self.lookup(name).cloned().ok_or_else(|| {
                // HCL suggests a name in scope within edit distance 2 (sorted here, where
                // HCL walks a Go map).
                let mut avail: Vec<&str> = Vec::new();
                let mut s = Some(self);
                while let Some(sc) = s {
                    avail.extend(sc.names.iter().map(|(n, _)| n.as_str()));
                    s = sc.parent;
                }
                avail.sort_unstable();
                let hint = crate::schema::check::suggestion(name, &avail)
                    .map(|n| format!(" Did you mean {n:?}?"))
                    .unwrap_or_default();
                err(
                    "Unknown variable",
                    format!("There is no variable named {name:?}.{hint}"),
                    e.span,
                )
            }),
            ExprKind::Template(parts) => self.eval_template(parts),
            ExprKind::Tuple(items) => Ok(Value::tuple(
                items
                    .iter()
                    .map(|x| self.eval(x))
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            ExprKind::Object(items) => self.eval_object(items),
            ExprKind::Traverse(base, ops) => {
                let v = self.eval(base)?;
                self.traverse(v, ops)
            }
            ExprKind::Call {
                name,
                name_span,
                args,
                expand,
            } => self.eval_call(name, *name_span, args, *expand, e.span),
            ExprKind::Cond(c, a, b) => self.eval_cond(c, a, b),
            ExprKind::Unary(op, x) => self.eval_unary(*op, x, e.span),
            ExprKind::Binary(op, a, b) => self.eval_binary(*op, a, b, e.span),
            ExprKind::For(f) => self.eval_for(f, e.span),
        }
    }

    fn eval_object(&self, items: &[(Expr, Expr)]) -> R {
        let mut out = BTreeMap::new();
        let mut unknown = false;
        let mut mark = false;
        for (k, v) in items {
            let kv = self.eval(k)?;
            if kv.is_null() {
                return Err(err(
                    "Null value as key",
                    "Can't use a null value as a key.",
                    k.span,
                ));
            }
            let kv = convert(&kv, &Type::String).map_err(|e| {
                err(
                    "Incorrect key type",
                    format!("Can't use this value as a key: {e}."),
                    k.span,
                )
            })?;
            let vv = self.eval(v)?;
            if kv.is_unknown() {
                unknown = true;
                continue;
            }
            mark |= kv.sensitive;
            out.insert(kv.as_str().unwrap_or_default().to_string(), vv);
        }
        if unknown {
            return Ok(Value::unknown(Type::Dynamic).marked(mark));
        }
        Ok(Value::object(out).marked(mark))
    }

    fn eval_template(&self, parts: &[TemplatePart]) -> R {
        // A template that is exactly one interpolation yields the value itself.
        if let [TemplatePart::Interp(x)] = parts {
            return self.eval(x);
        }
        let mut out = String::new();
        let mut unknown = false;
        let mut mark = false;
        self.render_parts(parts, &mut out, &mut unknown, &mut mark)?;
        if unknown {
            return Ok(Value::unknown(Type::String).marked(mark));
        }
        Ok(Value::string(out).marked(mark))
    }

    fn render_parts(
        &self,
        parts: &[TemplatePart],
        out: &mut String,
        unknown: &mut bool,
        mark: &mut bool,
    ) -> Result<(), Diagnostic> {
        for p in parts {
            match p {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Interp(x) => {
                    let v = self.eval(x)?;
                    *mark |= v.is_sensitive_deep();
                    if v.is_null() {
                        return Err(err(
                            "Invalid template interpolation value",
                            "The expression result is null. Cannot include a null value in a string template.",
                            x.span,
                        ));
                    }
                    if v.is_unknown() {
                        *unknown = true;
                        continue;
                    }
                    let s = convert(&v, &Type::String).map_err(|e| {
                        err(
                            "Invalid template interpolation value",
                            format!("Cannot include the given value in a string template: {e}."),
                            x.span,
                        )
                    })?;
                    if let Some(s) = s.as_str() {
                        out.push_str(s);
                    }
                }
                TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.eval(cond)?;
                    *mark |= c.sensitive;
                    if c.is_unknown() {
                        *unknown = true;
                        continue;
                    }
                    let c = convert(&c, &Type::Bool)
                        .ok()
                        .and_then(|c| c.as_bool())
                        .ok_or_else(|| {
                            err(
                                "Invalid template if condition",
                                "The condition for an if directive must be a bool value.",
                                cond.span,
                            )
                        })?;
                    let branch = if c { then } else { otherwise };
                    self.render_parts(branch, out, unknown, mark)?;
                }
                TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                } => {
                    let coll = self.eval(collection)?;
                    *mark |= coll.sensitive;
                    if coll.is_unknown() {
                        *unknown = true;
                        continue;
                    }
                    let pairs = iter_pairs(&coll).ok_or_else(|| {
                        err(
                            "Invalid template for directive",
                            "A for directive can only iterate over collections and structural values.",
                            collection.span,
                        )
                    })?;
                    for (k, v) in pairs {
                        let mut names = vec![(value_var.clone(), v.marked(coll.sensitive))];
                        if let Some(kv) = key_var {
                            names.push((kv.clone(), k));
                        }
                        let s = self.child(names);
                        s.render_parts(body, out, unknown, mark)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies traversal operators to a value.
    pub fn traverse(&self, mut v: Value, ops: &[Op]) -> R {
        let mut i = 0;
        while i < ops.len() {
            match &ops[i] {
                Op::Attr(name, span) => v = get_attr(v, name, *span)?,
                Op::Index(k) => {
                    let key = self.eval(k)?;
                    v = index(v, key, k.span)?;
                }
                Op::Splat { full, span } => {
                    // `[*]` takes every following step; `.*` only attribute steps.
                    let rest_end = ops[i + 1..]
                        .iter()
                        .position(|o| match o {
                            Op::Splat { .. } => true,
                            Op::Index(_) => !*full,
                            Op::Attr(..) => false,
                        })
                        .map(|p| i + 1 + p)
                        .unwrap_or(ops.len());
                    let rest = &ops[i + 1..rest_end];
                    v = self.splat(v, rest, *span)?;
                    i = rest_end;
                    continue;
                }
            }
            i += 1;
        }
        Ok(v)
    }

    fn splat(&self, v: Value, rest: &[Op], _span: Span) -> R {
        let mark = v.sensitive;
        match &v.kind {
            Kind::Null(_) => Ok(Value::tuple(Vec::new()).marked(mark)),
            Kind::Unknown(_) => Ok(Value::unknown(Type::Dynamic).marked(mark)),
            Kind::List(_, items) | Kind::Set(_, items) => {
                let out = items
                    .iter()
                    .map(|x| self.traverse(x.clone(), rest))
                    .collect::<Result<Vec<_>, _>>()?;
                let types: Vec<Type> = out.iter().map(Value::ty).collect();
                let et = unify(&types).unwrap_or(Type::Dynamic);
                let out = out
                    .iter()
                    .map(|x| convert(x, &et).unwrap_or_else(|_| x.clone()))
                    .collect();
                Ok(Value::list(et, out).marked(mark))
            }
            Kind::Tuple(items) => Ok(Value::tuple(
                items
                    .iter()
                    .map(|x| self.traverse(x.clone(), rest))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .marked(mark)),
            _ => Ok(Value::tuple(vec![self.traverse(v.clone(), rest)?])),
        }
    }

    /// `c ? a : b`. As in HCL, both results are evaluated (their types are unified), but only
    /// the chosen one's errors count.
    fn eval_cond(&self, c: &Expr, a: &Expr, b: &Expr) -> R {
        let cv = self.eval(c)?;
        let ar = self.eval(a);
        let br = self.eval(b);
        let ty = match (&ar, &br) {
            (Ok(av), Ok(bv)) if av.ty() != bv.ty() && !av.is_null() && !bv.is_null() => {
                unify(&[av.ty(), bv.ty()]).ok_or_else(|| {
                    err(
                        "Inconsistent conditional result types",
                        format!(
                            "The true and false result expressions must have consistent types. The 'true' value is {}, but the 'false' value is {}.",
                            av.ty().friendly_name(),
                            bv.ty().friendly_name()
                        ),
                        a.span.to(b.span),
                    )
                })?
            }
            (Ok(av), Ok(bv)) if av.is_null() => bv.ty(),
            (Ok(av), _) => av.ty(),
            (_, Ok(bv)) => bv.ty(),
            _ => Type::Dynamic,
        };
        if cv.is_null() {
            return Err(err(
                "Null condition",
                "The condition value is null. Conditions must either be true or false.",
                c.span,
            ));
        }
        if cv.is_unknown() {
            return Ok(Value::unknown(ty).marked(cv.sensitive));
        }
        let b_ = convert(&cv, &Type::Bool)
            .ok()
            .and_then(|x| x.as_bool())
            .ok_or_else(|| {
                err(
                    "Incorrect condition type",
                    "The condition expression must be of type bool.",
                    c.span,
                )
            })?;
        let (chosen, span) = if b_ { (ar?, a.span) } else { (br?, b.span) };
        let out = convert(&chosen, &ty).map_err(|e| {
            err(
                "Inconsistent conditional result types",
                format!("The result value could not be converted: {e}."),
                span,
            )
        })?;
        Ok(out.marked(cv.sensitive))
    }

    fn eval_unary(&self, op: UnaryOp, x: &Expr, span: Span) -> R {
        let v = self.eval(x)?;
        let mark = v.sensitive;
        let (want, what) = match op {
            UnaryOp::Neg => (Type::Number, "a number is required"),
            UnaryOp::Not => (Type::Bool, "a bool is required"),
        };
        if v.is_null() {
            return Err(err(
                "Invalid operand",
                "Unsuitable value for unary operand: a null value cannot be used here.",
                x.span,
            ));
        }
        let v = convert(&v, &want).map_err(|_| {
            err(
                "Invalid operand",
                format!("Unsuitable value for unary operand: {what}."),
                x.span,
            )
        })?;
        if v.is_unknown() {
            return Ok(Value::unknown(want).marked(mark));
        }
        let _ = span;
        Ok(match op {
            UnaryOp::Neg => Value::number(
                v.as_number()
                    .map(Number::neg)
                    .unwrap_or(Number::from_i64(0)),
            ),
            UnaryOp::Not => Value::bool(!v.as_bool().unwrap_or(false)),
        }
        .marked(mark))
    }

    fn eval_binary(&self, op: BinaryOp, a: &Expr, b: &Expr, span: Span) -> R {
        let av = self.eval(a)?;
        let bv = self.eval(b)?;
        binary(op, av, bv, a.span, b.span, span)
    }

    fn eval_for(&self, f: &ForExpr, span: Span) -> R {
        let coll = self.eval(&f.collection)?;
        let mark = coll.sensitive;
        if coll.is_null() {
            return Err(err(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
                f.collection.span,
            ));
        }
        if coll.is_unknown() {
            return Ok(Value::unknown(Type::Dynamic).marked(mark));
        }
        let pairs = iter_pairs(&coll).ok_or_else(|| {
            err(
                "Iteration over non-iterable value",
                format!(
                    "A value of type {} cannot be used as the collection in a 'for' expression.",
                    coll.ty().friendly_name()
                ),
                f.collection.span,
            )
        })?;
        let mut tuple = Vec::new();
        let mut obj: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut unknown = false;
        for (k, v) in pairs {
            let mut names = vec![(f.value_var.clone(), v.marked(mark))];
            if let Some(kv) = &f.key_var {
                names.push((kv.clone(), k.marked(mark)));
            }
            let s = self.child(names);
            if let Some(c) = &f.cond {
                let cv = s.eval(c)?;
                if cv.is_unknown() {
                    unknown = true;
                    continue;
                }
                let keep = convert(&cv, &Type::Bool)
                    .ok()
                    .and_then(|x| x.as_bool())
                    .ok_or_else(|| {
                        err(
                            "Invalid 'for' condition",
                            "The 'if' clause value is invalid: a bool is required.",
                            c.span,
                        )
                    })?;
                if !keep {
                    continue;
                }
            }
            match &f.key {
                None => tuple.push(s.eval(&f.value)?),
                Some(kx) => {
                    let kv = s.eval(kx)?;
                    if kv.is_unknown() {
                        unknown = true;
                        continue;
                    }
                    let key = convert(&kv, &Type::String)
                        .ok()
                        .and_then(|x| x.as_str().map(str::to_string))
                        .ok_or_else(|| {
                            err(
                                "Invalid object key",
                                "Key expression in 'for' expression must be a string.",
                                kx.span,
                            )
                        })?;
                    let vv = s.eval(&f.value)?;
                    if f.grouping {
                        groups.entry(key).or_default().push(vv);
                    } else if let std::collections::btree_map::Entry::Vacant(slot) =
                        obj.entry(key.clone())
                    {
                        slot.insert(vv);
                    } else {
                        return Err(err(
                            "Duplicate object key",
                            format!("Two different items produced the key {key:?} in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key."),
                            kx.span,
                        ));
                    }
                }
            }
        }
        let _ = span;
        if unknown {
            return Ok(Value::unknown(Type::Dynamic).marked(mark));
        }
        Ok(match &f.key {
            None => Value::tuple(tuple),
            Some(_) if f.grouping => Value::object(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Value::tuple(v)))
                    .collect(),
            ),
            Some(_) => Value::object(obj),
        }
        .marked(mark))
    }

    fn eval_call(&self, name: &str, name_span: Span, args: &[Expr], expand: bool, span: Span) -> R {
        match name {
            "can" => return self.call_can(args, span),
            "try" => return self.call_try(args, span),
            "convert" => return self.call_convert(args, span),
            _ => {}
        }
        if !functions::exists(name) {
            return Err(err(
                "Call to unknown function",
                format!("There is no function named {name:?}."),
                name_span,
            ));
        }
        if name == "templatefile" && !self.env.allow_templatefile {
            return Err(err(
                "Error in function call",
                "Call to function \"templatefile\" failed: cannot recursively call templatefile from inside templatefile call.",
                span,
            ));
        }
        let mut vals = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        if expand {
            let last = vals.pop().unwrap_or_else(Value::dynamic_null);
            let lspan = args.last().map(|a| a.span).unwrap_or(span);
            if last.is_unknown() {
                return Ok(Value::unknown(Type::Dynamic));
            }
            match last.as_seq() {
                Some(items) => vals.extend(items.iter().map(|x| x.clone().marked(last.sensitive))),
                None => {
                    return Err(err(
                        "Invalid expanding argument value",
                        "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                        lspan,
                    ))
                }
            }
        }
        let render =
            |src: &str, fname: &str, vars: &Value| self.render_template_file(src, fname, vars);
        let ctx = FuncCtx {
            base_dir: self.env.base_dir.clone(),
            start_time: self.env.start_time,
            allow_env: self.env.allow_env,
            render_template: Some(&render),
            env: self.env.env,
            secrets_manager: self.env.secrets_manager,
        };
        functions::call(&ctx, name, vals).map_err(|e| {
            let at = e
                .arg
                .and_then(|i| args.get(i))
                .map(|a| a.span)
                .unwrap_or(span);
            err(&e.summary, e.detail, at)
        })
    }

    fn render_template_file(&self, src: &str, fname: &str, vars: &Value) -> Result<Value, String> {
        let expr = crate::syntax::parse_template(u32::MAX, src).map_err(|d| {
            d.0.first()
                .map(|d| format!("failed to parse {fname}: {}", d.detail))
                .unwrap_or_default()
        })?;
        let env = EvalEnv {
            base_dir: self.env.base_dir.clone(),
            start_time: self.env.start_time,
            allow_env: false,
            env: self.env.env,
            allow_templatefile: false,
            secrets_manager: self.env.secrets_manager,
        };
        let names = vars
            .as_entries()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let scope = Scope::new(&env, names);
        let ExprKind::Template(parts) = &expr.kind else {
            return Err("invalid template".into());
        };
        // A template file always renders to a string, even a lone interpolation.
        let mut out = String::new();
        let (mut unknown, mut mark) = (false, false);
        scope
            .render_parts(parts, &mut out, &mut unknown, &mut mark)
            .map_err(|d| format!("{fname}: {}", d.detail))?;
        Ok(if unknown {
            Value::unknown(Type::String)
        } else {
            Value::string(out)
        }
        .marked(mark))
    }

    fn call_can(&self, args: &[Expr], span: Span) -> R {
        let [x] = args else {
            return Err(arity("can", 1, args.len(), span));
        };
        match self.eval(x) {
            Ok(v) if !v.is_wholly_known() => Ok(Value::unknown(Type::Bool)),
            Ok(_) => Ok(Value::bool(true)),
            Err(_) => Ok(Value::bool(false)),
        }
    }

    fn call_try(&self, args: &[Expr], span: Span) -> R {
        if args.is_empty() {
            return Err(err(
                "Not enough function arguments",
                "Function \"try\" expects at least 1 argument(s). Missing value for \"expressions\".",
                span,
            ));
        }
        let mut last = None;
        for a in args {
            match self.eval(a) {
                Ok(v) if !v.is_wholly_known() => return Ok(Value::unknown(Type::Dynamic)),
                Ok(v) => return Ok(v),
                Err(d) => last = Some(d),
            }
        }
        let _ = last;
        Err(err(
            "Error in function call",
            "Call to function \"try\" failed: no expression succeeded:\n",
            span,
        ))
    }

    fn call_convert(&self, args: &[Expr], span: Span) -> R {
        let [v, t] = args else {
            return Err(arity("convert", 2, args.len(), span));
        };
        let val = self.eval(v)?;
        let tc = crate::typeexpr::type_constraint(t)?;
        tc.apply(&val).map_err(|e| {
            err(
                "Invalid function argument",
                format!("Invalid value for \"value\" parameter: {e}."),
                v.span,
            )
        })
    }
}

fn arity(name: &str, want: usize, got: usize, span: Span) -> Diagnostic {
    if got < want {
        err(
            "Not enough function arguments",
            format!("Function {name:?} expects {want} argument(s)."),
            span,
        )
    } else {
        err(
            "Too many function arguments",
            format!("Function {name:?} expects only {want} argument(s)."),
            span,
        )
    }
}

/// The (key, value) pairs a `for` iterates: index/element for sequences, key/value for maps.
fn iter_pairs(v: &Value) -> Option<Vec<(Value, Value)>> {
    match &v.kind {
        Kind::List(_, items) | Kind::Tuple(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::int(i as i64), x.clone()))
                .collect(),
        ),
        Kind::Set(_, items) => Some(items.iter().map(|x| (x.clone(), x.clone())).collect()),
        Kind::Map(_, m) | Kind::Object(m) => Some(
            m.iter()
                .map(|(k, x)| (Value::string(k.clone()), x.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// `.name` on a value.
pub fn get_attr(v: Value, name: &str, span: Span) -> R {
    let mark = v.sensitive;
    match &v.kind {
        Kind::Unknown(_) => Ok(Value::unknown(Type::Dynamic).marked(mark)),
        Kind::Null(_) => Err(err(
            "Attempt to get attribute from null value",
            "This value is null, so it does not have any attributes.",
            span,
        )),
        Kind::Object(m) => m.get(name).cloned().map(|x| x.marked(mark)).ok_or_else(|| {
            err(
                "Unsupported attribute",
                format!("This object does not have an attribute named {name:?}."),
                span,
            )
        }),
        Kind::Map(_, m) => m.get(name).cloned().map(|x| x.marked(mark)).ok_or_else(|| {
            err(
                "Missing map element",
                format!("This map does not have an element with the key {name:?}."),
                span,
            )
        }),
        Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => Err(err(
            "Unsupported attribute",
            "This value does not have any attributes.",
            span,
        )),
        _ => Err(err(
            "Unsupported attribute",
            format!(
                "Can't access attributes on a primitive-typed value ({}).",
                v.ty().friendly_name()
            ),
            span,
        )),
    }
}

/// `[key]` on a value.
pub fn index(v: Value, key: Value, span: Span) -> R {
    let mark = v.sensitive || key.sensitive;
    if v.is_unknown() || key.is_unknown() {
        return Ok(Value::unknown(Type::Dynamic).marked(mark));
    }
    let invalid = |detail: &str| err("Invalid index", detail, span);
    match &v.kind {
        Kind::Null(_) => Err(err(
            "Attempt to index null value",
            "This value is null, so it does not have any indices.",
            span,
        )),
        Kind::List(_, items) | Kind::Tuple(items) => {
            let n = convert(&key, &Type::Number)
                .ok()
                .and_then(|k| k.as_number().cloned())
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value: a number is required."))?;
            let i = n
                .to_i64()
                .filter(|i| *i >= 0 && (*i as usize) < items.len())
                .ok_or_else(|| {
                    if !n.is_integer() {
                        invalid("The given key does not identify an element in this collection value: indexing a sequence requires a whole number.")
                    } else {
                        invalid("The given key does not identify an element in this collection value: the given index is greater than or equal to the length of the collection.")
                    }
                })?;
            Ok(items[i as usize].clone().marked(mark))
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            let k = convert(&key, &Type::String)
                .ok()
                .and_then(|k| k.as_str().map(str::to_string))
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value: string required."))?;
            m.get(&k).cloned().map(|x| x.marked(mark)).ok_or_else(|| {
                invalid("The given key does not identify an element in this collection value.")
            })
        }
        Kind::Set(..) => Err(invalid("Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.")),
        _ => Err(invalid("This value does not have any indices.")),
    }
}

/// A binary operator on two evaluated operands.
pub fn binary(op: BinaryOp, a: Value, b: Value, aspan: Span, bspan: Span, span: Span) -> R {
    let mark = a.is_sensitive_deep() || b.is_sensitive_deep();
    match op {
        BinaryOp::Eq => return Ok(a.equals(&b)),
        BinaryOp::NotEq => {
            let e = a.equals(&b);
            return Ok(match e.as_bool() {
                Some(x) => Value::bool(!x).marked(e.sensitive),
                None => e,
            });
        }
        _ => {}
    }
    let (want, req) = match op {
        BinaryOp::And | BinaryOp::Or => (Type::Bool, "a bool is required"),
        _ => (Type::Number, "a number is required"),
    };
    let operand = |v: &Value, side: &str, sp: Span| -> R {
        if v.is_null() {
            return Err(err(
                "Invalid operand",
                format!("Unsuitable value for {side} operand: a null value cannot be used here."),
                sp,
            ));
        }
        convert(v, &want).map_err(|_| {
            err(
                "Invalid operand",
                format!("Unsuitable value for {side} operand: {req}."),
                sp,
            )
        })
    };
    let av = operand(&a, "left", aspan)?;
    let bv = operand(&b, "right", bspan)?;
    let result_ty = match op {
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            Type::Number
        }
        _ => Type::Bool,
    };
    if av.is_unknown() || bv.is_unknown() {
        return Ok(Value::unknown(result_ty).marked(mark));
    }
    let out = if want == Type::Bool {
        let (x, y) = (av.as_bool().unwrap_or(false), bv.as_bool().unwrap_or(false));
        Value::bool(if op == BinaryOp::And { x && y } else { x || y })
    } else {
        let zero = Number::from_i64(0);
        let x = av.as_number().cloned().unwrap_or_else(|| zero.clone());
        let y = bv.as_number().cloned().unwrap_or_else(|| zero.clone());
        match op {
            BinaryOp::Add => Value::number(x.add(&y)),
            BinaryOp::Sub => Value::number(x.sub(&y)),
            BinaryOp::Mul => Value::number(x.mul(&y)),
            BinaryOp::Div | BinaryOp::Mod if y == zero => {
                return Err(err(
                    "Operation failed",
                    if op == BinaryOp::Div {
                        "Error during operation: can't divide by zero."
                    } else {
                        "Error during operation: can't use zero as a divisor."
                    },
                    span,
                ))
            }
            BinaryOp::Div => Value::number(x.div(&y)),
            BinaryOp::Mod => Value::number(x.rem(&y)),
            BinaryOp::Less => Value::bool(x < y),
            BinaryOp::LessEq => Value::bool(x <= y),
            BinaryOp::Greater => Value::bool(x > y),
            BinaryOp::GreaterEq => Value::bool(x >= y),
            _ => Value::bool(false),
        }
    };
    Ok(out.marked(mark))
}
