//! A minimal evaluator for function-call expressions with literal arguments: literals, tuples,
//! objects, parentheses, unary minus and `!`, and nested function calls. Good enough to exercise
//! the function table without the full HCL evaluator.

#![allow(dead_code)]

use std::collections::BTreeMap;

use forge_template::functions::{call, CallError, FuncCtx};
use forge_template::value::{Number, Type, Value};
use hcl_edit::expr::{Expression, ObjectKey, UnaryOperator};

/// Evaluates `src` as an expression.
pub fn eval_str(ctx: &FuncCtx, src: &str) -> Result<Value, CallError> {
    let expr = hcl_edit::parser::parse_expr(src).map_err(|e| CallError {
        summary: "Invalid expression".into(),
        detail: e.to_string(),
        arg: None,
    })?;
    eval(ctx, &expr)
}

fn unsupported(what: &str) -> CallError {
    CallError {
        summary: "Unsupported expression".into(),
        detail: format!("the test evaluator does not support {what}"),
        arg: None,
    }
}

/// Evaluates a parsed expression.
pub fn eval(ctx: &FuncCtx, e: &Expression) -> Result<Value, CallError> {
    Ok(match e {
        Expression::Null(_) => Value::dynamic_null(),
        Expression::Bool(b) => Value::bool(*b.value()),
        Expression::Number(n) => {
            let text = n.value().to_string();
            Value::number(Number::parse(&text).ok_or_else(|| unsupported("this number"))?)
        }
        Expression::String(s) => Value::string(s.value().clone()),
        Expression::Array(a) => Value::tuple(
            a.iter()
                .map(|x| eval(ctx, x))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Expression::Object(o) => {
            let mut m = BTreeMap::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(i) => i.value().as_str().to_string(),
                    ObjectKey::Expression(x) => {
                        let kv = eval(ctx, x)?;
                        match kv.as_str() {
                            Some(s) => s.to_string(),
                            None => kv.to_console_string(),
                        }
                    }
                };
                m.insert(key, eval(ctx, v.expr())?);
            }
            Value::object(m)
        }
        Expression::Parenthesis(p) => eval(ctx, p.inner())?,
        Expression::UnaryOp(u) => {
            let v = eval(ctx, &u.expr)?;
            match (u.operator.value(), v.as_number(), v.as_bool()) {
                (UnaryOperator::Neg, Some(n), _) => Value::number(n.neg()),
                (UnaryOperator::Not, _, Some(b)) => Value::bool(!b),
                _ => return Err(unsupported("this unary operation")),
            }
        }
        Expression::FuncCall(f) => {
            let mut args = Vec::new();
            for a in f.args.iter() {
                args.push(eval(ctx, a)?);
            }
            if f.args.expand_final() {
                if let Some(last) = args.pop() {
                    match last.as_seq() {
                        Some(items) => args.extend(items.iter().cloned()),
                        None => return Err(unsupported("expanding a non-sequence")),
                    }
                }
            }
            call(ctx, f.name.name.as_str(), args)?
        }
        Expression::Variable(v) => match v.value().as_str() {
            "unknown_string" => Value::unknown(Type::String),
            "unknown_number" => Value::unknown(Type::Number),
            "unknown" => Value::unknown(Type::Dynamic),
            _ => return Err(unsupported("variables")),
        },
        _ => return Err(unsupported("this kind of expression")),
    })
}

/// A context for tests: base directory as given, a fixed start time, env allowed.
pub fn test_ctx(base_dir: std::path::PathBuf, allow_env: bool) -> FuncCtx<'static> {
    fn env(name: &str) -> Option<String> {
        match name {
            "FORGE_TEST_ENV" => Some("hello".into()),
            _ => None,
        }
    }
    FuncCtx {
        base_dir,
        start_time: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
        allow_env,
        render_template: None,
        env: &env,
    }
}

/// How a result prints: the console form, or `Error: <detail>`.
pub fn render(r: &Result<Value, CallError>) -> String {
    match r {
        Ok(v) => v.to_console_string(),
        Err(e) => format!("Error: {}", e.detail),
    }
}
