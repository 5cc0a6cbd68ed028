//! Collection functions.

use std::collections::BTreeMap;

use unicode_segmentation::UnicodeSegmentation;

use super::{arg_err, arg_int, arg_str, call_err, p, unify_values, FuncCtx, FuncResult, Function};
use crate::value::{convert, unify, Kind, Number, Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let d = |n| p(n, Type::Dynamic);
    v.push(Function::new(
        "alltrue",
        vec![p("list", Type::list(Type::Bool)).unknowns()],
        Type::Bool,
        alltrue,
    ));
    v.push(Function::new(
        "anytrue",
        vec![p("list", Type::list(Type::Bool)).unknowns()],
        Type::Bool,
        anytrue,
    ));
    v.push(Function::new(
        "chunklist",
        vec![
            p("list", Type::list(Type::Dynamic)),
            p("size", Type::Number),
        ],
        Type::Dynamic,
        chunklist,
    ));
    v.push(
        Function::new("coalesce", vec![], Type::Dynamic, coalesce)
            .variadic(d("vals").nullable().unknowns()),
    );
    v.push(
        Function::new("coalescelist", vec![], Type::Dynamic, coalescelist)
            .variadic(d("vals").nullable().unknowns()),
    );
    v.push(Function::new(
        "compact",
        vec![p("list", Type::list(Type::String))],
        Type::list(Type::String),
        compact,
    ));
    v.push(Function::new("concat", vec![], Type::Dynamic, concat).variadic(d("seqs")));
    v.push(Function::new(
        "contains",
        vec![d("list"), d("value").nullable()],
        Type::Bool,
        contains,
    ));
    v.push(Function::new(
        "distinct",
        vec![p("list", Type::list(Type::Dynamic))],
        Type::Dynamic,
        distinct,
    ));
    v.push(Function::new(
        "element",
        vec![d("list"), p("index", Type::Number)],
        Type::Dynamic,
        element,
    ));
    v.push(Function::new(
        "flatten",
        vec![d("list")],
        Type::Dynamic,
        flatten,
    ));
    v.push(Function::new(
        "index",
        vec![d("list"), d("value")],
        Type::Number,
        index,
    ));
    v.push(Function::new(
        "length",
        vec![d("value").unknowns()],
        Type::Number,
        length,
    ));
    v.push(Function::new(
        "keys",
        vec![d("inputMap")],
        Type::Dynamic,
        keys,
    ));
    v.push(Function::new(
        "lookup",
        vec![d("inputMap"), p("key", Type::String), d("default")],
        Type::Dynamic,
        lookup,
    ));
    v.push(Function::new("merge", vec![], Type::Dynamic, merge).variadic(d("maps").nullable()));
    v.push(
        Function::new("range", vec![], Type::list(Type::Number), range)
            .variadic(p("params", Type::Number)),
    );
    v.push(Function::new(
        "reverse",
        vec![d("list")],
        Type::Dynamic,
        reverse,
    ));
    v.push(
        Function::new(
            "setintersection",
            vec![p("first_set", Type::set(Type::Dynamic))],
            Type::Dynamic,
            setintersection,
        )
        .variadic(p("other_sets", Type::set(Type::Dynamic))),
    );
    v.push(
        Function::new(
            "setunion",
            vec![p("first_set", Type::set(Type::Dynamic))],
            Type::Dynamic,
            setunion,
        )
        .variadic(p("other_sets", Type::set(Type::Dynamic))),
    );
    v.push(Function::new("setproduct", vec![], Type::Dynamic, setproduct).variadic(d("sets")));
    v.push(Function::new(
        "slice",
        vec![
            d("list"),
            p("start_index", Type::Number),
            p("end_index", Type::Number),
        ],
        Type::Dynamic,
        slice,
    ));
    v.push(Function::new(
        "sort",
        vec![p("list", Type::list(Type::String))],
        Type::list(Type::String),
        sort,
    ));
    v.push(Function::new(
        "values",
        vec![d("mapping")],
        Type::Dynamic,
        values,
    ));
    v.push(Function::new(
        "zipmap",
        vec![p("keys", Type::list(Type::String)), d("values")],
        Type::Dynamic,
        zipmap,
    ));
}

fn seq(a: &[Value], i: usize) -> &[Value] {
    a.get(i).and_then(Value::as_seq).unwrap_or(&[])
}

fn alltrue(_: &FuncCtx, a: &[Value]) -> FuncResult {
    if a.first().is_some_and(Value::is_unknown) {
        return Ok(Value::unknown(Type::Bool));
    }
    for v in seq(a, 0) {
        if v.is_unknown() {
            return Ok(Value::unknown(Type::Bool));
        }
        if v.as_bool() != Some(true) {
            return Ok(Value::bool(false));
        }
    }
    Ok(Value::bool(true))
}

fn anytrue(_: &FuncCtx, a: &[Value]) -> FuncResult {
    if a.first().is_some_and(Value::is_unknown) {
        return Ok(Value::unknown(Type::Bool));
    }
    let mut unknown = false;
    for v in seq(a, 0) {
        if v.is_unknown() {
            unknown = true;
        } else if v.as_bool() == Some(true) {
            return Ok(Value::bool(true));
        }
    }
    Ok(if unknown {
        Value::unknown(Type::Bool)
    } else {
        Value::bool(false)
    })
}

fn list_elem_type(v: &Value) -> Type {
    match &v.kind {
        Kind::List(t, _) | Kind::Set(t, _) => t.clone(),
        _ => Type::Dynamic,
    }
}

fn chunklist(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let size = arg_int(a, 1).map_err(|e| call_err(format!("invalid size: {e}")))?;
    if size < 0 {
        return Err(call_err("the size argument must be positive"));
    }
    let list = a.first().cloned().unwrap_or_else(Value::dynamic_null);
    let lt = list.ty();
    let items = seq(a, 0);
    if items.is_empty() {
        return Ok(Value::list(lt, vec![]));
    }
    if size == 0 {
        return Ok(Value::list(lt, vec![list]));
    }
    let et = list_elem_type(&list);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let out = items
        .chunks(size)
        .map(|c| Value::list(et.clone(), c.to_vec()))
        .collect();
    Ok(Value::list(lt, out))
}

fn coalesce(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let types: Vec<Type> = a.iter().map(Value::ty).collect();
    let Some(rt) = unify(&types) else {
        return Err(call_err("all arguments must have the same type"));
    };
    for v in a {
        if v.is_unknown() {
            return Ok(Value::unknown(rt));
        }
        if v.is_null() {
            continue;
        }
        let c = convert(v, &rt).unwrap_or_else(|_| v.clone());
        if c.as_str() == Some("") {
            continue;
        }
        return Ok(c);
    }
    Err(call_err("no non-null, non-empty-string arguments"))
}

fn coalescelist(_: &FuncCtx, a: &[Value]) -> FuncResult {
    if a.is_empty() {
        return Err(call_err("at least one argument is required"));
    }
    for v in a {
        if v.is_unknown() {
            return Ok(Value::unknown(Type::Dynamic));
        }
        if !matches!(v.ty(), Type::List(_) | Type::Tuple(_)) {
            return Err(call_err("coalescelist arguments must be lists or tuples"));
        }
    }
    for v in a {
        if !v.is_null() && !v.is_empty() {
            return Ok(v.clone());
        }
    }
    Err(call_err("no non-null arguments"))
}

fn compact(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let out: Vec<Value> = seq(a, 0)
        .iter()
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        .cloned()
        .collect();
    Ok(Value::list(Type::String, out))
}

fn concat(_: &FuncCtx, a: &[Value]) -> FuncResult {
    if a.is_empty() {
        return Err(call_err("at least one argument is required"));
    }
    let mut list_type: Option<Type> = None;
    let mut all_lists = true;
    for (i, v) in a.iter().enumerate() {
        match v.ty() {
            Type::List(t) => match &list_type {
                None => list_type = Some(*t),
                Some(lt) if *lt == *t => {}
                Some(_) => all_lists = false,
            },
            Type::Tuple(_) => all_lists = false,
            t => {
                return Err(arg_err(
                    i,
                    format!(
                        "all arguments must be lists or tuples; got {}",
                        t.friendly_name()
                    ),
                ))
            }
        }
    }
    let items: Vec<Value> = a
        .iter()
        .flat_map(|v| v.as_seq().unwrap_or(&[]).iter().cloned())
        .collect();
    Ok(match (all_lists, list_type) {
        (true, Some(t)) => Value::list(t, items),
        _ => Value::tuple(items),
    })
}

fn eq(a: &Value, b: &Value) -> bool {
    a.equals(b).as_bool() == Some(true)
}

fn contains(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let list = &a[0];
    if !matches!(list.ty(), Type::List(_) | Type::Tuple(_) | Type::Set(_)) {
        return Err(call_err("argument must be list, tuple, or set"));
    }
    let needle = a.get(1).cloned().unwrap_or_else(Value::dynamic_null);
    Ok(Value::bool(
        list.as_seq().unwrap_or(&[]).iter().any(|v| eq(&needle, v)),
    ))
}

fn distinct(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let list = &a[0];
    let mut out: Vec<Value> = Vec::new();
    for v in seq(a, 0) {
        if !out.iter().any(|x| eq(x, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(list_elem_type(list), out))
}

fn element(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let list = &a[0];
    if !matches!(list.ty(), Type::List(_) | Type::Tuple(_)) {
        return Err(call_err(format!(
            "cannot read elements from {}",
            list.ty().friendly_name()
        )));
    }
    let idx = arg_int(a, 1).map_err(|e| call_err(format!("invalid index: {e}")))?;
    let items = seq(a, 0);
    if items.is_empty() {
        return Err(call_err("cannot use element function with an empty list"));
    }
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let i = idx.rem_euclid(len);
    Ok(items[usize::try_from(i).unwrap_or(0)].clone())
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) -> bool {
    for x in v.as_seq().unwrap_or(&[]) {
        if x.is_unknown() {
            return false;
        }
        if matches!(x.ty(), Type::List(_) | Type::Set(_) | Type::Tuple(_)) && !x.is_null() {
            if !flatten_into(x, out) {
                return false;
            }
        } else {
            out.push(x.clone());
        }
    }
    true
}

fn flatten(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let list = &a[0];
    if !matches!(list.ty(), Type::List(_) | Type::Set(_) | Type::Tuple(_)) {
        return Err(call_err("can only flatten lists, sets and tuples"));
    }
    let mut out = Vec::new();
    if !flatten_into(list, &mut out) {
        return Ok(Value::unknown(Type::Dynamic));
    }
    Ok(Value::tuple(out))
}

fn index(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let list = &a[0];
    if !matches!(list.ty(), Type::List(_) | Type::Tuple(_)) {
        return Err(call_err("argument must be a list or tuple"));
    }
    let items = seq(a, 0);
    if items.is_empty() {
        return Err(call_err("cannot search an empty list"));
    }
    for (i, v) in items.iter().enumerate() {
        if eq(v, &a[1]) {
            return Ok(Value::int(i64::try_from(i).unwrap_or(i64::MAX)));
        }
    }
    Err(call_err("item not found"))
}

fn length(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let v = &a[0];
    let t = v.ty();
    let n = match (&v.kind, &t) {
        (_, Type::Dynamic) => return Ok(Value::unknown(Type::Number)),
        (_, Type::Tuple(ts)) => ts.len(),
        (_, Type::Object(ts)) => ts.len(),
        (Kind::Unknown(_), _) => return Ok(Value::unknown(Type::Number)),
        (Kind::String(s), _) => s.graphemes(true).count(),
        (_, Type::List(_) | Type::Set(_) | Type::Map(_)) => v.len().unwrap_or(0),
        _ => {
            return Err(call_err(
                "argument must be a string, a collection type, or a structural type",
            ))
        }
    };
    Ok(Value::int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn keys(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let m = &a[0];
    let Some(entries) = m.as_entries() else {
        return Err(arg_err(0, "must have map or object type"));
    };
    let ks: Vec<Value> = entries.keys().map(|k| Value::string(k.clone())).collect();
    Ok(match m.ty() {
        Type::Object(_) => Value::tuple(ks),
        _ => Value::list(Type::String, ks),
    })
}

fn values(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let m = &a[0];
    match &m.kind {
        Kind::Object(e) => Ok(Value::tuple(e.values().cloned().collect())),
        Kind::Map(t, e) => Ok(Value::list(t.clone(), e.values().cloned().collect())),
        _ => Err(call_err("values() requires a map as the first argument")),
    }
}

fn lookup(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let m = &a[0];
    let key = arg_str(a, 1);
    let default = &a[2];
    match &m.kind {
        Kind::Object(e) => Ok(e.get(key).cloned().unwrap_or_else(|| default.clone())),
        Kind::Map(t, e) => {
            let d = convert(default, t).map_err(|_| {
                arg_err(
                    2,
                    "the default value must have the same type as the map elements",
                )
            })?;
            Ok(e.get(key).cloned().unwrap_or(d))
        }
        _ => Err(arg_err(0, "lookup() requires a map as the first argument")),
    }
}

fn merge(_: &FuncCtx, a: &[Value]) -> FuncResult {
    if a.is_empty() {
        return Ok(Value::empty_object());
    }
    let mut first: Option<Type> = None;
    let mut matching = true;
    for v in a {
        let t = v.ty();
        if !matches!(t, Type::Map(_) | Type::Object(_)) {
            return Err(call_err(format!(
                "arguments must be maps or objects, got {:?}",
                t.friendly_name()
            )));
        }
        match &first {
            None => first = Some(t),
            Some(f) if *f != t => matching = false,
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for v in a {
        if let Some(e) = v.as_entries() {
            for (k, x) in e {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    match first {
        Some(Type::Map(t)) if matching => Ok(Value::map(*t, out)),
        _ => Ok(Value::object(out)),
    }
}

fn range(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let nums: Vec<Number> = a.iter().filter_map(Value::as_number).cloned().collect();
    let zero = Number::from_i64(0);
    let (start, end, step) = match nums.as_slice() {
        [e] => {
            let s = if *e < zero { -1 } else { 1 };
            (zero.clone(), e.clone(), Number::from_i64(s))
        }
        [s, e] => {
            let st = if e < s { -1 } else { 1 };
            (s.clone(), e.clone(), Number::from_i64(st))
        }
        [s, e, st] => (s.clone(), e.clone(), st.clone()),
        _ => return Err(call_err("must have one, two, or three arguments")),
    };
    if step.is_zero() {
        return Err(arg_err(2, "step must not be zero"));
    }
    let down = step < zero;
    if down && end > start {
        return Err(arg_err(
            1,
            "end must be less than start when step is negative",
        ));
    }
    if !down && end < start {
        return Err(arg_err(
            1,
            "end must be greater than start when step is positive",
        ));
    }
    let mut out = Vec::new();
    let mut n = start;
    loop {
        if (down && n <= end) || (!down && n >= end) {
            break;
        }
        if out.len() >= 1024 {
            return Err(call_err("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step"));
        }
        out.push(Value::number(n.clone()));
        n = n.add(&step);
    }
    Ok(Value::list(Type::Number, out))
}

fn reverse(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let v = &a[0];
    match &v.kind {
        Kind::List(t, items) => Ok(Value::list(
            t.clone(),
            items.iter().rev().cloned().collect(),
        )),
        Kind::Tuple(items) => Ok(Value::tuple(items.iter().rev().cloned().collect())),
        _ => Err(arg_err(
            0,
            format!(
                "can only reverse list or tuple values, not {}",
                v.ty().friendly_name()
            ),
        )),
    }
}

fn set_args(a: &[Value]) -> Result<(Type, Vec<Vec<Value>>), crate::functions::FuncError> {
    let types: Vec<Type> = a.iter().map(list_elem_type).collect();
    let et = unify(&types)
        .ok_or_else(|| call_err("given sets must all have compatible element types"))?;
    let mut sets = Vec::new();
    for (i, v) in a.iter().enumerate() {
        let c = convert(v, &Type::set(et.clone())).map_err(|e| arg_err(i, e.to_string()))?;
        sets.push(c.as_seq().unwrap_or(&[]).to_vec());
    }
    Ok((et, sets))
}

fn setunion(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (et, sets) = set_args(a)?;
    Ok(Value::set(et, sets.into_iter().flatten().collect()))
}

fn setintersection(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let (et, sets) = set_args(a)?;
    let mut it = sets.into_iter();
    let mut acc = it.next().unwrap_or_default();
    for s in it {
        acc.retain(|x| s.iter().any(|y| x.raw_equals(y)));
    }
    Ok(Value::set(et, acc))
}

fn setproduct(_: &FuncCtx, a: &[Value]) -> FuncResult {
    if a.len() < 2 {
        return Err(call_err("at least two arguments are required"));
    }
    let mut all_sets = true;
    let mut elem_types = Vec::new();
    let mut lists = Vec::new();
    for (i, v) in a.iter().enumerate() {
        let (t, items) = match &v.kind {
            Kind::Set(t, items) => (t.clone(), items.clone()),
            Kind::List(t, items) => {
                all_sets = false;
                (t.clone(), items.clone())
            }
            Kind::Tuple(items) => {
                all_sets = false;
                match unify_values(items) {
                    Some((t, items)) => (t, items),
                    None if items.is_empty() => (Type::Dynamic, vec![]),
                    None => return Err(arg_err(i, "all elements must be of the same type")),
                }
            }
            _ => return Err(arg_err(i, "a set or a list is required")),
        };
        elem_types.push(t);
        lists.push(items);
    }
    let tt = Type::Tuple(elem_types);
    let mut rows: Vec<Vec<Value>> = vec![vec![]];
    for l in &lists {
        let mut next = Vec::new();
        for r in &rows {
            for x in l {
                let mut nr = r.clone();
                nr.push(x.clone());
                next.push(nr);
            }
        }
        if next.len() > 1_000_000 {
            return Err(call_err(
                "the product would have more than 1000000 elements",
            ));
        }
        rows = next;
    }
    let out: Vec<Value> = rows.into_iter().map(Value::tuple).collect();
    Ok(if all_sets {
        Value::set(tt, out)
    } else {
        Value::list(tt, out)
    })
}

fn slice(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let list = &a[0];
    match list.ty() {
        Type::Set(_) => return Err(arg_err(0, "cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important")),
        Type::List(_) | Type::Tuple(_) => {}
        _ => return Err(arg_err(0, "must be a list or tuple value")),
    }
    let items = seq(a, 0);
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let start = arg_int(a, 1).map_err(|e| arg_err(1, format!("invalid start index: {e}")))?;
    if start < 0 {
        return Err(arg_err(1, "start index must not be less than zero"));
    }
    if start > len {
        return Err(arg_err(
            1,
            "start index must not be greater than the length of the list",
        ));
    }
    let end = arg_int(a, 2).map_err(|e| arg_err(2, format!("invalid end index: {e}")))?;
    if end < 0 {
        return Err(arg_err(2, "end index must not be less than zero"));
    }
    if end > len {
        return Err(arg_err(
            2,
            "end index must not be greater than the length of the list",
        ));
    }
    if start > end {
        return Err(arg_err(1, "start index must not be greater than end index"));
    }
    let (s, e) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    let part = items[s..e].to_vec();
    Ok(match &list.kind {
        Kind::List(t, _) => Value::list(t.clone(), part),
        _ => Value::tuple(part),
    })
}

fn sort(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut out: Vec<String> = Vec::new();
    for (i, v) in seq(a, 0).iter().enumerate() {
        match v.as_str() {
            Some(s) => out.push(s.to_string()),
            None => {
                return Err(call_err(format!(
                    "given list element {i} is null; a null string cannot be sorted"
                )))
            }
        }
    }
    out.sort();
    Ok(Value::list(
        Type::String,
        out.into_iter().map(Value::string).collect(),
    ))
}

fn zipmap(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let keys = seq(a, 0);
    let vals = &a[1];
    if !matches!(vals.ty(), Type::List(_) | Type::Tuple(_)) {
        return Err(call_err("values argument must be a list or tuple value"));
    }
    let vs = seq(a, 1);
    if keys.len() != vs.len() {
        return Err(call_err(format!(
            "number of keys ({}) does not match number of values ({})",
            keys.len(),
            vs.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (i, (k, v)) in keys.iter().zip(vs).enumerate() {
        let Some(k) = k.as_str() else {
            return Err(call_err(format!("keys list has null value at index {i}")));
        };
        out.insert(k.to_string(), v.clone());
    }
    Ok(match &vals.kind {
        Kind::List(t, _) => Value::map(t.clone(), out),
        _ => Value::object(out),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    fn l(items: &[&str]) -> String {
        let mut s = String::from("[\n");
        for i in items {
            s.push_str(&format!("  {i},\n"));
        }
        s.push(']');
        s
    }

    #[test]
    fn lists() {
        assert_eq!(call_ok(r#"element(["a", "b"], 5)"#), "b");
        assert_eq!(call_ok(r#"element(["a", "b"], -1)"#), "b");
        assert_eq!(call_ok("sort([3, 1, 2])"), l(&["\"1\"", "\"2\"", "\"3\""]));
        assert_eq!(call_ok("index([\"a\", \"b\"], \"b\")"), "1");
        assert_eq!(call_ok(r#"length("héllo👍🏽")"#), "6");
        assert_eq!(call_ok("length({a=1})"), "1");
        assert_eq!(call_ok("range(3)"), l(&["0", "1", "2"]));
        assert_eq!(call_ok("range(1, 0.5)"), l(&["1"]));
        assert_eq!(call_ok("range(10, 0, -4)"), l(&["10", "6", "2"]));
        assert_eq!(
            call_ok(r#"flatten([["a", ["b"]], "c", []])"#),
            l(&["\"a\"", "\"b\"", "\"c\""])
        );
        assert_eq!(call_ok(r#"coalesce("", "b")"#), "b");
        assert_eq!(call_ok(r#"coalescelist([], ["a"])"#), l(&["\"a\""]));
        assert_eq!(
            call_ok(r#"compact(["a", "", "b"])"#),
            l(&["\"a\"", "\"b\""])
        );
        assert_eq!(
            call_ok(r#"distinct(["a", "b", "a"])"#),
            l(&["\"a\"", "\"b\""])
        );
        assert_eq!(call_ok(r#"contains(["a"], "a")"#), "true");
        assert_eq!(call_ok(r#"concat(["a"], ["b"])"#), l(&["\"a\"", "\"b\""]));
        assert_eq!(call_ok(r#"reverse([1, 2])"#), l(&["2", "1"]));
        assert_eq!(call_ok(r#"slice(["a", "b", "c"], 1, 2)"#), l(&["\"b\""]));
        assert_eq!(call_ok("sum([1, 2])"), "3");
        assert_eq!(call_ok("alltrue([true, true])"), "true");
        assert_eq!(call_ok("anytrue([false])"), "false");
        assert_eq!(
            call_ok(r#"chunklist(["a", "b", "c"], 2)"#),
            "[\n  [\n    \"a\",\n    \"b\",\n  ],\n  [\n    \"c\",\n  ],\n]"
        );
        assert_eq!(
            call_ok(r#"setproduct(["a", "b"], [1])"#),
            "[\n  [\n    \"a\",\n    1,\n  ],\n  [\n    \"b\",\n    1,\n  ],\n]"
        );
        assert_eq!(
            call_ok(r#"setunion(["b"], ["a", "b"])"#),
            l(&["\"a\"", "\"b\""])
        );
        assert_eq!(
            call_ok(r#"setintersection(["b", "c"], ["a", "b"])"#),
            l(&["\"b\""])
        );
    }

    #[test]
    fn maps() {
        assert_eq!(call_ok("keys({b=1, a=2})"), "[\n  \"a\",\n  \"b\",\n]");
        assert_eq!(call_ok("values({b=1, a=2})"), "[\n  2,\n  1,\n]");
        assert_eq!(call_ok(r#"lookup({a="x"}, "b", "y")"#), "y");
        assert_eq!(
            call_ok(r#"merge({a=1}, {b="x"})"#),
            "{\n  \"a\" = 1\n  \"b\" = \"x\"\n}"
        );
        assert_eq!(
            call_ok(r#"zipmap(["a", "b"], [1, 2])"#),
            "{\n  \"a\" = 1\n  \"b\" = 2\n}"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            call_err_detail(r#"element([], 0)"#),
            "Call to function \"element\" failed: cannot use element function with an empty list."
        );
        assert_eq!(
            call_err_detail(r#"merge({a=1}, "x")"#),
            "Call to function \"merge\" failed: arguments must be maps or objects, got \"string\"."
        );
        assert_eq!(
            call_err_detail(r#"slice(["a"], 2, 1)"#),
            "Invalid value for \"start_index\" parameter: start index must not be greater than the length of the list."
        );
        assert_eq!(
            call_err_detail("range(1, 2, 0)"),
            "Invalid value for \"params\" parameter: step must not be zero."
        );
        assert_eq!(
            call_err_detail("range(0, 2000)"),
            "Call to function \"range\" failed: more than 1024 values were generated; either decrease the difference between start and end or use a smaller step."
        );
        assert_eq!(
            call_err_detail(r#"index(["a"], "b")"#),
            "Call to function \"index\" failed: item not found."
        );
        assert_eq!(
            call_err_detail(r#"setproduct(["a"])"#),
            "Call to function \"setproduct\" failed: at least two arguments are required."
        );
        assert_eq!(
            call_err_detail(r#"zipmap(["a"], [1, 2])"#),
            "Call to function \"zipmap\" failed: number of keys (1) does not match number of values (2)."
        );
    }
}
