//! The part of ARM's template language the fake evaluates: `[...]` expressions with string,
//! number and boolean literals, property access (`resourceGroup().location`) and the functions
//! `parameters`, `variables`, `concat`, `format`, `resourceId`, `resourceGroup`,
//! `subscription`, `not`, `empty`, `equals`, `if`, `and`, `or`, `toLower`, `toUpper`,
//! `string`, `uniqueString` and `guid`. Anything else (`reference`, `copy` loops, user
//! functions, nested deployments) is an `InvalidTemplate` error naming it.

use serde_json::{json, Map, Value};

/// What an expression can see.
pub(crate) struct Scope<'a> {
    pub subscription: &'a str,
    pub tenant: &'a str,
    pub group: &'a str,
    pub group_location: &'a str,
    pub parameters: Map<String, Value>,
    pub variables: &'a Map<String, Value>,
}

/// Evaluates every `[...]` string inside `v`.
pub(crate) fn eval_value(v: &Value, s: &Scope) -> Result<Value, String> {
    Ok(match v {
        Value::String(t) => eval_str(t, s)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| eval_value(x, s))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), eval_value(x, s)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

/// One string: an expression when it is `[...]` (`[[` escapes a literal `[`).
pub(crate) fn eval_str(t: &str, s: &Scope) -> Result<Value, String> {
    if let Some(rest) = t.strip_prefix("[[") {
        return Ok(Value::String(format!("[{rest}")));
    }
    match t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        Some(expr) => {
            let mut p = Parser {
                src: expr.as_bytes(),
                pos: 0,
                scope: s,
            };
            let v = p.expr()?;
            p.ws();
            if p.pos != p.src.len() {
                return Err(format!("unexpected text at position {} of '{t}'", p.pos));
            }
            Ok(v)
        }
        None => Ok(Value::String(t.to_string())),
    }
}

struct Parser<'a, 'b> {
    src: &'a [u8],
    pos: usize,
    scope: &'a Scope<'b>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A stable 13-character lower-case string from its arguments (FNV-1a; ARM's own hash is
/// not published).
fn unique_string(args: &[Value]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for a in args {
        for b in text(a).bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..13)
        .map(|i| alphabet[((h >> (i * 5 % 60)) & 31) as usize] as char)
        .collect()
}

impl Parser<'_, '_> {
    fn ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.src.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Value, String> {
        self.ws();
        let mut v = match self.src.get(self.pos) {
            Some(b'\'') => self.string()?,
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.pos;
                self.pos += 1;
                while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
                let n: i64 = std::str::from_utf8(&self.src[start..self.pos])
                    .ok()
                    .and_then(|x| x.parse().ok())
                    .ok_or("a bad number")?;
                json!(n)
            }
            Some(c) if c.is_ascii_alphabetic() => self.call()?,
            _ => return Err(format!("unexpected character at position {}", self.pos)),
        };
        // Property access and indexing.
        loop {
            if self.eat(b'.') {
                let name = self.ident();
                v = v
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| format!("the property '{name}' does not exist"))?;
            } else if self.eat(b'[') {
                let i = self.expr()?;
                if !self.eat(b']') {
                    return Err("expected ']'".into());
                }
                v = match &i {
                    Value::Number(n) => v.get(n.as_u64().unwrap_or(u64::MAX) as usize).cloned(),
                    other => v.get(text(other)).cloned(),
                }
                .ok_or("index out of range")?;
            } else {
                return Ok(v);
            }
        }
    }

    fn ident(&mut self) -> String {
        self.ws();
        let start = self.pos;
        while self
            .src
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn string(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.src.get(self.pos) {
                None => return Err("an unterminated string".into()),
                Some(b'\'') if self.src.get(self.pos + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.pos += 2;
                }
                Some(b'\'') => {
                    self.pos += 1;
                    return Ok(Value::String(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(c) => {
                    out.push(*c);
                    self.pos += 1;
                }
            }
        }
    }

    fn call(&mut self) -> Result<Value, String> {
        let name = self.ident();
        if !self.eat(b'(') {
            return match name.as_str() {
                "true" => Ok(json!(true)),
                "false" => Ok(json!(false)),
                "null" => Ok(Value::Null),
                _ => Err(format!("expected '(' after '{name}'")),
            };
        }
        let mut args = Vec::new();
        if !self.eat(b')') {
            loop {
                args.push(self.expr()?);
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b',') {
                    return Err(format!("expected ',' or ')' in {name}()"));
                }
            }
        }
        self.apply(&name, args)
    }

    fn apply(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        let s = self.scope;
        let arg = |i: usize| {
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{name}() needs {} arguments", i + 1))
        };
        Ok(match name.to_ascii_lowercase().as_str() {
            "parameters" => {
                let n = text(&arg(0)?);
                s.parameters
                    .get(&n)
                    .cloned()
                    .ok_or_else(|| format!("The template parameter '{n}' is not found"))?
            }
            "variables" => {
                let n = text(&arg(0)?);
                let raw = s
                    .variables
                    .get(&n)
                    .ok_or_else(|| format!("The template variable '{n}' is not found"))?;
                eval_value(raw, s)?
            }
            "concat" => {
                if args.iter().all(Value::is_array) && !args.is_empty() {
                    Value::Array(
                        args.iter()
                            .flat_map(|a| a.as_array().cloned().unwrap_or_default())
                            .collect(),
                    )
                } else {
                    Value::String(args.iter().map(text).collect())
                }
            }
            "format" => {
                let mut f = text(&arg(0)?);
                for (i, a) in args.iter().enumerate().skip(1) {
                    f = f.replace(&format!("{{{}}}", i - 1), &text(a));
                }
                Value::String(f)
            }
            "resourceid" => {
                // resourceId([subscriptionId], [resourceGroupName], type, name1, name2...)
                let texts: Vec<String> = args.iter().map(text).collect();
                let at = texts
                    .iter()
                    .position(|t| t.contains('/'))
                    .ok_or("resourceId() needs a resource type")?;
                let (sub, group) = match at {
                    0 => (s.subscription.to_string(), s.group.to_string()),
                    1 => (s.subscription.to_string(), texts[0].clone()),
                    _ => (texts[0].clone(), texts[1].clone()),
                };
                let mut ty = texts[at].trim_end_matches('/').split('/');
                let ns = ty.next().unwrap_or_default();
                let mut id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/{ns}");
                let names = &texts[at + 1..];
                let types: Vec<&str> = ty.collect();
                if types.len() != names.len() {
                    return Err(format!(
                        "resourceId('{}'): {} names for {} types",
                        texts[at],
                        names.len(),
                        types.len()
                    ));
                }
                for (t, n) in types.iter().zip(names) {
                    id.push_str(&format!("/{t}/{n}"));
                }
                Value::String(id)
            }
            "resourcegroup" => json!({
                "id": format!("/subscriptions/{}/resourceGroups/{}", s.subscription, s.group),
                "name": s.group, "location": s.group_location, "type": "Microsoft.Resources/resourceGroups",
                "properties": {"provisioningState": "Succeeded"}}),
            "subscription" => json!({"id": format!("/subscriptions/{}", s.subscription),
                "subscriptionId": s.subscription, "tenantId": s.tenant, "displayName": "forge test subscription"}),
            "not" => json!(!truthy(&arg(0)?)),
            "and" => json!(args.iter().all(truthy)),
            "or" => json!(args.iter().any(truthy)),
            "empty" => json!(match arg(0)? {
                Value::Null => true,
                Value::String(x) => x.is_empty(),
                Value::Array(x) => x.is_empty(),
                Value::Object(x) => x.is_empty(),
                _ => false,
            }),
            "equals" => json!(arg(0)? == arg(1)?),
            "if" => {
                if truthy(&arg(0)?) {
                    arg(1)?
                } else {
                    arg(2)?
                }
            }
            "tolower" => Value::String(text(&arg(0)?).to_lowercase()),
            "toupper" => Value::String(text(&arg(0)?).to_uppercase()),
            "string" => Value::String(text(&arg(0)?)),
            "uniquestring" => Value::String(unique_string(&args)),
            "guid" => {
                let a = unique_string(&args);
                let b = unique_string(&[json!(a.clone())]);
                let hex: String = a
                    .bytes()
                    .chain(b.bytes())
                    .map(|c| format!("{:x}", c % 16))
                    .collect();
                Value::String(format!(
                    "{}-{}-{}-{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..26].repeat(2)
                ))
            }
            other => {
                return Err(format!(
                    "The template function '{other}' is not modelled by the fake"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(vars: &Map<String, Value>) -> Scope<'_> {
        let mut parameters = Map::new();
        parameters.insert("vmName".into(), json!("pkrvm"));
        parameters.insert("cmd".into(), json!(""));
        Scope {
            subscription: "sub",
            tenant: "ten",
            group: "rg",
            group_location: "eastus",
            parameters,
            variables: vars,
        }
    }

    #[test]
    fn packers_expressions_evaluate() {
        let vars = json!({"location": "[resourceGroup().location]", "vnet": "pkrvn",
            "vnetID": "[resourceId(resourceGroup().name, 'Microsoft.Network/virtualNetworks', variables('vnet'))]",
            "subnetRef": "[concat(variables('vnetID'),'/subnets/','sn')]"});
        let vars = vars.as_object().unwrap().clone();
        let s = scope(&vars);
        assert_eq!(
            eval_str("[variables('location')]", &s).unwrap(),
            json!("eastus")
        );
        assert_eq!(
            eval_str("[variables('subnetRef')]", &s).unwrap(),
            json!("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/pkrvn/subnets/sn")
        );
        assert_eq!(
            eval_str("[not(empty(parameters('cmd')))]", &s).unwrap(),
            json!(false)
        );
        assert_eq!(
            eval_str(
                "[concat(parameters('vmName'), '/extension-customscript')]",
                &s
            )
            .unwrap(),
            json!("pkrvm/extension-customscript")
        );
        assert_eq!(
            eval_str(
                "[concat('/home/',parameters('vmName'),'/.ssh/authorized_keys')]",
                &s
            )
            .unwrap(),
            json!("/home/pkrvm/.ssh/authorized_keys")
        );
        assert_eq!(eval_str("[[literal]", &s).unwrap(), json!("[literal]"));
        assert_eq!(
            eval_str("[format('{0}-{1}', 'a', 2)]", &s).unwrap(),
            json!("a-2")
        );
        assert_eq!(eval_str("['it''s']", &s).unwrap(), json!("it's"));
    }

    #[test]
    fn unknown_functions_and_names_are_errors() {
        let vars = Map::new();
        let s = scope(&vars);
        assert!(eval_str("[reference('x')]", &s)
            .unwrap_err()
            .contains("'reference'"));
        assert!(eval_str("[parameters('nope')]", &s)
            .unwrap_err()
            .contains("'nope'"));
        assert!(eval_str("[concat('a']", &s).is_err());
    }
}
