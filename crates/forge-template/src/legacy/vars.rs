//! User variables of legacy JSON templates, resolved the Packer way.
//!
//! Precedence: template defaults, then `-var-file` files (flat JSON objects, in order), then
//! `-var` (always wins, whatever the order on the command line). Declared variables' values are
//! then rendered with the `{{ }}` engine, where `env`, `vault`, `consul_key` and
//! `aws_secretsmanager` are allowed and `user` refers to other variables (resolved recursively;
//! cycles are an error). `{{ .Field }}` and `{{ build ... }}` are left for later renders.

use indexmap::IndexMap;

use super::interp::{render, InterpContext, SecretSource};
use super::template::{LegacyError, LegacyTemplate};
use crate::json::{parse_json, JsonKind};

/// The resolved user variables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedVars {
    /// Every variable: the template's, in declaration order, then undeclared ones from var files
    /// and `-var`.
    pub values: IndexMap<String, String>,
    /// Names from `sensitive-variables`.
    pub sensitive: Vec<String>,
}

impl ResolvedVars {
    /// Whether `name` is listed in `sensitive-variables`.
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.sensitive.iter().any(|s| s == name)
    }

    /// The non-empty values of sensitive variables (to mask in output).
    pub fn sensitive_values(&self) -> Vec<&str> {
        self.sensitive
            .iter()
            .filter_map(|n| self.values.get(n))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// Optional inputs for rendering variable values.
#[derive(Default)]
pub struct VarOptions<'a> {
    /// Absolute directory of the template (`{{ template_dir }}`).
    pub template_dir: Option<String>,
    /// Working directory for `{{ pwd }}`; `None` asks the OS.
    pub pwd: Option<String>,
    /// Backend for `vault`, `consul_key`, `aws_secretsmanager`.
    pub secrets: Option<&'a dyn SecretSource>,
}

/// Resolves variables with default options (see [`resolve_variables_with`]).
pub fn resolve_variables(
    t: &LegacyTemplate,
    var_files: &[(String, String)],
    vars: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedVars, Vec<LegacyError>> {
    resolve_variables_with(t, var_files, vars, env, &VarOptions::default())
}

/// Resolves variables. `var_files` are `(path, contents)`; errors in a var file name the path in
/// the message and carry an offset into that file. Other errors carry an offset into the
/// template.
pub fn resolve_variables_with(
    t: &LegacyTemplate,
    var_files: &[(String, String)],
    vars: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
    opts: &VarOptions,
) -> Result<ResolvedVars, Vec<LegacyError>> {
    let mut errs = Vec::new();

    // Values given on the command line: var files in order, then -var on top.
    let mut given: IndexMap<String, String> = IndexMap::new();
    for (path, contents) in var_files {
        match read_var_file(path, contents) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    given.insert(k, v);
                }
            }
            Err(e) => errs.push(e),
        }
    }
    for (k, v) in vars {
        given.insert(k.clone(), v.clone());
    }
    if !errs.is_empty() {
        return Err(errs);
    }

    for (name, var) in &t.variables {
        if var.required && !given.contains_key(name) {
            errs.push(LegacyError::new(
                format!("required variable not set: {name}"),
                var.key_span.start,
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }

    // Raw (unrendered) values of declared variables.
    let raw: IndexMap<String, String> = t
        .variables
        .iter()
        .map(|(n, v)| {
            let value = given.get(n).cloned().unwrap_or_else(|| v.default.clone());
            (n.clone(), value)
        })
        .collect();
    // Undeclared values are available to `user` as given.
    let mut done: IndexMap<String, String> = given
        .iter()
        .filter(|(k, _)| !t.variables.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut pending: Vec<String> = raw.keys().cloned().collect();
    // The variable each pending one is waiting for, and the error that said so.
    let mut waiting: IndexMap<String, (String, String)> = IndexMap::new();
    loop {
        let mut progressed = false;
        let mut still = Vec::new();
        waiting.clear();
        for name in pending {
            let value = &raw[&name];
            let mut ctx = InterpContext::new(&done);
            ctx.env_allowed = true;
            ctx.keep_unknown_fields = true;
            ctx.env = Some(env);
            ctx.template_dir = opts.template_dir.clone();
            ctx.pwd = opts.pwd.clone();
            ctx.secrets = opts.secrets;
            match render(value, &ctx) {
                Ok(v) => {
                    done.insert(name, v);
                    progressed = true;
                }
                Err(e) => {
                    if let Some(missing) = missing_variable(&e.message) {
                        waiting.insert(name.clone(), (missing, e.message.clone()));
                        still.push(name);
                    } else {
                        let at = t.variables[&name].value_span.start;
                        errs.push(LegacyError::new(
                            format!(
                                "error interpolating default value for '{name}' ({value}): {}",
                                e.message
                            ),
                            at,
                        ));
                    }
                }
            }
        }
        pending = still;
        if !errs.is_empty() {
            return Err(errs);
        }
        if pending.is_empty() || !progressed {
            break;
        }
    }

    for name in &pending {
        let (missing, message) = &waiting[name];
        let at = t.variables[name].value_span.start;
        // Follow what each variable waits for; coming back to one already seen is a cycle.
        let mut path = vec![name.clone()];
        let mut cur = missing.clone();
        let mut cycle = false;
        while raw.contains_key(&cur) {
            if path.contains(&cur) {
                cycle = true;
                break;
            }
            path.push(cur.clone());
            match waiting.get(&cur) {
                Some((next, _)) => cur = next.clone(),
                None => break,
            }
        }
        if cycle {
            path.push(cur);
            errs.push(LegacyError::new(
                format!(
                    "Failed to interpolate \"{name}\": \"{}\"; error: variables refer to each other in a cycle: {}",
                    raw[name],
                    path.join(" -> ")
                ),
                at,
            ));
        } else {
            errs.push(LegacyError::new(
                format!(
                    "Failed to interpolate \"{name}\": \"{}\"; error: {message}: Please make sure that the variable you're referencing has been defined; Packer treats all variables used to interpolate other user variables as required.",
                    raw[name]
                ),
                at,
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }

    // Declared variables first, in declaration order.
    let mut values = IndexMap::new();
    for name in t.variables.keys() {
        if let Some(v) = done.get(name) {
            values.insert(name.clone(), v.clone());
        }
    }
    for (k, v) in done {
        if !values.contains_key(&k) {
            values.insert(k, v);
        }
    }
    Ok(ResolvedVars {
        values,
        sensitive: t
            .sensitive_variables
            .iter()
            .map(|s| s.value.clone())
            .collect(),
    })
}

/// The variable named in a "variable not set" error from `user`.
fn missing_variable(message: &str) -> Option<String> {
    let marker = "Error: variable not set: ";
    let i = message.find(marker)?;
    Some(message[i + marker.len()..].to_string())
}

/// A `-var-file`: a flat JSON object of strings.
fn read_var_file(path: &str, contents: &str) -> Result<Vec<(String, String)>, LegacyError> {
    let wrap = |msg: String, offset: usize| {
        LegacyError::new(
            format!("Error reading variables in '{path}': {msg}"),
            offset,
        )
    };
    let v = parse_json(contents).map_err(|e| wrap(e.message, e.offset))?;
    let Some(members) = v.as_object() else {
        let what = match v.kind {
            JsonKind::Array(_) => "array",
            JsonKind::String(_) => "string",
            JsonKind::Number(_) => "number",
            JsonKind::Bool(_) => "bool",
            _ => "null",
        };
        if what == "null" {
            return Ok(Vec::new());
        }
        return Err(wrap(
            format!("json: cannot unmarshal {what} into Go value of type map[string]string"),
            v.span.start,
        ));
    };
    let mut out = Vec::new();
    for m in members {
        let value = match &m.value.kind {
            JsonKind::String(s) => s.clone(),
            JsonKind::Null => String::new(),
            other => {
                let what = match other {
                    JsonKind::Array(_) => "array",
                    JsonKind::Object(_) => "object",
                    JsonKind::Number(_) => "number",
                    _ => "bool",
                };
                return Err(wrap(
                    format!("json: cannot unmarshal {what} into Go value of type string"),
                    m.value.span.start,
                ));
            }
        };
        out.push((m.key.clone(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::template::parse_legacy;

    fn tpl(vars: &str) -> LegacyTemplate {
        parse_legacy(&format!(
            r#"{{"variables": {vars}, "sensitive-variables": ["secret"], "builders": [{{"type": "null"}}]}}"#
        ))
        .unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn msgs(r: Result<ResolvedVars, Vec<LegacyError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn defaults_and_precedence() {
        let t = tpl(r#"{"a": "1", "b": "2", "c": "3"}"#);
        let files = vec![
            (
                "f1.json".to_string(),
                r#"{"a": "file1", "b": "file1", "extra": "e"}"#.to_string(),
            ),
            ("f2.json".to_string(), r#"{"b": "file2"}"#.to_string()),
        ];
        let cli = vec![("a".to_string(), "cli".to_string())];
        let r = resolve_variables(&t, &files, &cli, &no_env).unwrap();
        assert_eq!(r.values["a"], "cli");
        assert_eq!(r.values["b"], "file2");
        assert_eq!(r.values["c"], "3");
        assert_eq!(r.values["extra"], "e");
        assert_eq!(
            r.values.keys().collect::<Vec<_>>(),
            vec!["a", "b", "c", "extra"]
        );
    }

    #[test]
    fn required_variables() {
        let t = tpl(r#"{"a": null, "b": null, "c": "x"}"#);
        assert_eq!(
            msgs(resolve_variables(&t, &[], &[], &no_env)),
            vec![
                "required variable not set: a",
                "required variable not set: b"
            ]
        );
        let files = vec![("f".to_string(), r#"{"a": "1"}"#.to_string())];
        let cli = vec![("b".to_string(), "2".to_string())];
        let r = resolve_variables(&t, &files, &cli, &no_env).unwrap();
        assert_eq!((r.values["a"].as_str(), r.values["b"].as_str()), ("1", "2"));
    }

    #[test]
    fn env_and_user_references() {
        let t = tpl(
            r#"{"home": "{{env `HOME_X`}}", "full": "{{user `home`}}/{{ user `sub` }}", "sub": "{{ user `name` | upper }}", "name": "n", "ip": "{{ .HTTPIP }}", "secret": "s3"}"#,
        );
        let env = |k: &str| (k == "HOME_X").then(|| "/h".to_string());
        let r = resolve_variables(&t, &[], &[], &env).unwrap();
        assert_eq!(r.values["home"], "/h");
        assert_eq!(r.values["full"], "/h/N");
        assert_eq!(r.values["ip"], "{{ .HTTPIP }}");
        assert!(r.is_sensitive("secret"));
        assert_eq!(r.sensitive_values(), vec!["s3"]);
        // -var values are rendered too.
        let cli = vec![("name".to_string(), "{{ env `HOME_X` }}".to_string())];
        let r = resolve_variables(&t, &[], &cli, &env).unwrap();
        assert_eq!(r.values["sub"], "/H");
    }

    #[test]
    fn undefined_reference_and_cycles() {
        let t = tpl(r#"{"d": "{{user `nope`}}"}"#);
        let m = msgs(resolve_variables(&t, &[], &[], &no_env));
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("Failed to interpolate \"d\": \"{{user `nope`}}\"; error: template: root:1:2: executing \"root\" at <user `nope`>: error calling user: Error: variable not set: nope: Please make sure"), "{}", m[0]);

        let t =
            tpl(r#"{"a": "{{user `b`}}", "b": "{{user `a`}}", "c": "{{user `c`}}", "ok": "fine"}"#);
        let m = msgs(resolve_variables(&t, &[], &[], &no_env));
        assert_eq!(m.len(), 3);
        assert!(m[0].ends_with("cycle: a -> b -> a"), "{}", m[0]);
        assert!(m[2].ends_with("cycle: c -> c"), "{}", m[2]);

        let t = tpl(r#"{"a": "{{user `b`}}", "b": "{{user `nope`}}"}"#);
        let m = msgs(resolve_variables(&t, &[], &[], &no_env));
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|x| x.contains("Please make sure")), "{m:?}");
    }

    #[test]
    fn secrets_need_a_backend() {
        let t = tpl(r#"{"v": "{{ vault `secret/x` `k` }}"}"#);
        let m = msgs(resolve_variables(&t, &[], &[], &no_env));
        assert!(
            m[0].starts_with("error interpolating default value for 'v'"),
            "{}",
            m[0]
        );
        assert!(m[0].ends_with("error calling vault: vault: no secret backend is configured"));
    }

    #[test]
    fn var_file_errors() {
        let t = tpl(r#"{"a": "1"}"#);
        let bad = vec![("v.json".to_string(), r#"{"a": 1}"#.to_string())];
        let e = resolve_variables(&t, &bad, &[], &no_env).unwrap_err();
        assert_eq!(
            e[0].message,
            "Error reading variables in 'v.json': json: cannot unmarshal number into Go value of type string"
        );
        assert_eq!(e[0].offset, 6);
        let bad = vec![("v.json".to_string(), "[1]".to_string())];
        assert!(
            msgs(resolve_variables(&t, &bad, &[], &no_env))[0].contains("cannot unmarshal array")
        );
        let bad = vec![("v.json".to_string(), "{".to_string())];
        assert!(msgs(resolve_variables(&t, &bad, &[], &no_env))[0]
            .contains("unexpected end of JSON input"));
    }
}
