//! The environment a shell script sees: Packer's own variables plus the user's
//! `environment_vars` and `env`, sorted by name and shaped by `env_var_format`.

use std::collections::BTreeMap;

use forge_core::plugin::BuildData;

use super::go::sprintf2;

/// `environment_vars` entries split at the first `=`; each malformed entry adds Packer's error
/// (`Environment variable not in format 'key=value': ...`) to `errs`.
pub fn parse_vars(list: &[String], errs: &mut Vec<String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kv in list {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => errs.push(format!(
                "Environment variable not in format 'key=value': {kv}"
            )),
        }
    }
    out
}

/// The HTTP server facts Packer exports: build-data key, variable, and the placeholder a build
/// without a server carries instead.
const HTTP_VARS: [(&str, &str, &str); 3] = [
    (
        "PackerHTTPAddr",
        "PACKER_HTTP_ADDR",
        "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
    ),
    (
        "PackerHTTPIP",
        "PACKER_HTTP_IP",
        "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    ),
    (
        "PackerHTTPPort",
        "PACKER_HTTP_PORT",
        "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
    ),
];

/// What goes into a script's environment.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// `PACKER_BUILD_NAME`.
    pub build_name: &'a str,
    /// `PACKER_BUILDER_TYPE`.
    pub builder_type: &'a str,
    /// Build data to take `PACKER_HTTP_ADDR`/`_IP`/`_PORT` from, when the provisioner exports
    /// them.
    pub http: Option<&'a BuildData>,
    /// `environment_vars`, in order.
    pub vars: &'a [(String, String)],
    /// `env`; wins over `environment_vars`.
    pub env: &'a [(String, String)],
}

impl Env<'_> {
    /// Name → value, sorted by name (Go's byte order); the user's values have their single
    /// quotes written as `'"'"'` so they survive the `'%s'` of the default formats.
    pub fn pairs(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("PACKER_BUILD_NAME".to_string(), self.build_name.to_string());
        m.insert(
            "PACKER_BUILDER_TYPE".to_string(),
            self.builder_type.to_string(),
        );
        if let Some(data) = self.http {
            for (key, name, placeholder) in HTTP_VARS {
                if let Some(v) = data.get(key).filter(|v| *v != placeholder) {
                    m.insert(name.to_string(), v.clone());
                }
            }
        }
        for (k, v) in self.vars.iter().chain(self.env) {
            m.insert(k.clone(), v.replace('\'', "'\"'\"'"));
        }
        m
    }

    /// Every variable through `format` (Go's `Sprintf(format, name, value)`), concatenated:
    /// `{{.Vars}}`, and the content of the env var file.
    pub fn flatten(&self, format: &str) -> String {
        self.pairs()
            .iter()
            .map(|(k, v)| sprintf2(format, k, v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_entries_are_named() {
        let mut errs = Vec::new();
        let list = ["A=1", "=foo", "bar", "B==2", "C="].map(String::from);
        let vars = parse_vars(&list, &mut errs);
        assert_eq!(
            errs,
            [
                "Environment variable not in format 'key=value': =foo",
                "Environment variable not in format 'key=value': bar",
            ]
        );
        let want: Vec<(String, String)> = [("A", "1"), ("B", "=2"), ("C", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(vars, want);
    }

    #[test]
    fn sorted_escaped_and_env_wins() {
        let vars = vec![
            ("Z".to_string(), "it's".to_string()),
            ("A".to_string(), "1".to_string()),
        ];
        let env = vec![("A".to_string(), "2".to_string())];
        let e = Env {
            build_name: "b",
            builder_type: "null",
            http: None,
            vars: &vars,
            env: &env,
        };
        assert_eq!(
            e.flatten("%s='%s' "),
            "A='2' PACKER_BUILDER_TYPE='null' PACKER_BUILD_NAME='b' Z='it'\"'\"'s' "
        );
        assert_eq!(
            e.flatten("export %s='%s'\n"),
            "export A='2'\nexport PACKER_BUILDER_TYPE='null'\nexport PACKER_BUILD_NAME='b'\nexport Z='it'\"'\"'s'\n"
        );
    }

    #[test]
    fn http_vars_only_when_served() {
        let mut data = BuildData::new();
        data.insert("PackerHTTPAddr".into(), "10.0.2.2:8100".into());
        data.insert("PackerHTTPIP".into(), "10.0.2.2".into());
        data.insert("PackerHTTPPort".into(), "8100".into());
        let e = Env {
            build_name: "b",
            builder_type: "qemu",
            http: Some(&data),
            vars: &[],
            env: &[],
        };
        assert_eq!(
            e.flatten("%s=%s;"),
            "PACKER_BUILDER_TYPE=qemu;PACKER_BUILD_NAME=b;PACKER_HTTP_ADDR=10.0.2.2:8100;PACKER_HTTP_IP=10.0.2.2;PACKER_HTTP_PORT=8100;"
        );
        let none: BuildData = [
            ("PackerHTTPAddr", "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"),
            ("PackerHTTPIP", "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER"),
            ("PackerHTTPPort", "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let e = Env {
            http: Some(&none),
            ..e
        };
        assert_eq!(e.flatten("%s "), "PACKER_BUILDER_TYPE PACKER_BUILD_NAME ");
    }
}
