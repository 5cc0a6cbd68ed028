//! A first few functions; the full table lives in the category modules.

use super::{FuncCtx, FuncResult, Function, Param};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    v.push(Function::new(
        "upper",
        vec![Param::new("str", Type::String)],
        Type::String,
        upper,
    ));
}

fn upper(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(
        a[0].as_str().unwrap_or_default().to_uppercase(),
    ))
}
