//! The manifest file's model and its text exactly as Go's `json.MarshalIndent(v, "", "  ")`
//! writes it (HTML-safe escapes, sorted map keys, no trailing newline).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// The whole manifest file (Packer's `ManifestFile`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct ManifestFile {
    #[serde(default, deserialize_with = "nullable")]
    pub builds: Option<Vec<Build>>,
    #[serde(default, deserialize_with = "nullable")]
    pub last_run_uuid: String,
}

/// One recorded build (Packer's manifest `Artifact`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct Build {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub builder_type: String,
    /// Unix seconds; `0` is left out.
    #[serde(default, deserialize_with = "nullable")]
    pub build_time: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub files: Option<Vec<FileEntry>>,
    #[serde(default, deserialize_with = "nullable")]
    pub artifact_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub packer_run_uuid: String,
    #[serde(default, deserialize_with = "nullable")]
    pub custom_data: Option<BTreeMap<String, String>>,
}

/// One artifact file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct FileEntry {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub size: i64,
}

/// JSON `null` leaves Go's zero value.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A JSON value in Go's field order.
enum J<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Arr(Vec<J<'a>>),
    Obj(Vec<(&'a str, J<'a>)>),
}

impl ManifestFile {
    /// The file's text: Go's MarshalIndent with two-space indents, every string passed through
    /// `redact` first.
    pub fn to_go_json(&self, redact: &dyn Fn(&str) -> String) -> String {
        let redacted = self.redacted(redact);
        let builds = match &redacted.builds {
            None => J::Null,
            Some(b) => J::Arr(b.iter().map(build_json).collect()),
        };
        let root = J::Obj(vec![
            ("builds", builds),
            ("last_run_uuid", J::Str(&redacted.last_run_uuid)),
        ]);
        let mut out = String::new();
        write(&root, 0, &mut out);
        out
    }

    fn redacted(&self, r: &dyn Fn(&str) -> String) -> ManifestFile {
        ManifestFile {
            builds: self.builds.as_ref().map(|bs| {
                bs.iter()
                    .map(|b| Build {
                        name: r(&b.name),
                        builder_type: r(&b.builder_type),
                        build_time: b.build_time,
                        files: b.files.as_ref().map(|fs| {
                            fs.iter()
                                .map(|f| FileEntry {
                                    name: r(&f.name),
                                    size: f.size,
                                })
                                .collect()
                        }),
                        artifact_id: r(&b.artifact_id),
                        packer_run_uuid: r(&b.packer_run_uuid),
                        custom_data: b
                            .custom_data
                            .as_ref()
                            .map(|m| m.iter().map(|(k, v)| (r(k), r(v))).collect()),
                    })
                    .collect()
            }),
            last_run_uuid: r(&self.last_run_uuid),
        }
    }
}

fn build_json(b: &Build) -> J<'_> {
    let mut f = vec![
        ("name", J::Str(&b.name)),
        ("builder_type", J::Str(&b.builder_type)),
    ];
    if b.build_time != 0 {
        f.push(("build_time", J::Int(b.build_time)));
    }
    f.push((
        "files",
        match &b.files {
            None => J::Null,
            Some(fs) => J::Arr(
                fs.iter()
                    .map(|x| J::Obj(vec![("name", J::Str(&x.name)), ("size", J::Int(x.size))]))
                    .collect(),
            ),
        },
    ));
    f.push(("artifact_id", J::Str(&b.artifact_id)));
    f.push(("packer_run_uuid", J::Str(&b.packer_run_uuid)));
    f.push((
        "custom_data",
        match &b.custom_data {
            None => J::Null,
            // Go writes map keys sorted; the BTreeMap already is.
            Some(m) => J::Obj(m.iter().map(|(k, v)| (k.as_str(), J::Str(v))).collect()),
        },
    ));
    J::Obj(f)
}

fn indent(depth: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write(v: &J<'_>, depth: usize, out: &mut String) {
    match v {
        J::Null => out.push_str("null"),
        J::Str(s) => go_string(s, out),
        J::Int(i) => out.push_str(&i.to_string()),
        J::Arr(items) if items.is_empty() => out.push_str("[]"),
        J::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                write(x, depth + 1, out);
            }
            indent(depth, out);
            out.push(']');
        }
        J::Obj(members) if members.is_empty() => out.push_str("{}"),
        J::Obj(members) => {
            out.push('{');
            for (i, (k, x)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                go_string(k, out);
                out.push_str(": ");
                write(x, depth + 1, out);
            }
            indent(depth, out);
            out.push('}');
        }
    }
}

/// A string as Go's encoder writes it (HTML-safe escapes).
pub(crate) use forge_template::functions::go_json_string as go_string;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes() {
        let mut s = String::new();
        go_string("a<b>&c\"\\\n\r\t\u{1}\u{8}\u{c}\u{2028}é\u{7f}", &mut s);
        assert_eq!(
            s,
            "\"a\\u003cb\\u003e\\u0026c\\\"\\\\\\n\\r\\t\\u0001\\u0008\\u000c\\u2028\u{e9}\u{7f}\""
        );
    }

    #[test]
    fn marshal_indent_shape() {
        let m = ManifestFile {
            builds: Some(vec![
                Build {
                    name: "one".into(),
                    builder_type: "null".into(),
                    build_time: 0,
                    files: None,
                    artifact_id: "Null".into(),
                    packer_run_uuid: "u".into(),
                    custom_data: None,
                },
                Build {
                    name: "two".into(),
                    builder_type: "file".into(),
                    build_time: 17,
                    files: Some(vec![FileEntry {
                        name: "out/two.txt".into(),
                        size: 5,
                    }]),
                    artifact_id: "File".into(),
                    packer_run_uuid: "u".into(),
                    custom_data: Some(BTreeMap::from([
                        ("z".to_string(), "1".to_string()),
                        ("a".to_string(), "<x>".to_string()),
                    ])),
                },
            ]),
            last_run_uuid: "u".into(),
        };
        let want = r#"{
  "builds": [
    {
      "name": "one",
      "builder_type": "null",
      "files": null,
      "artifact_id": "Null",
      "packer_run_uuid": "u",
      "custom_data": null
    },
    {
      "name": "two",
      "builder_type": "file",
      "build_time": 17,
      "files": [
        {
          "name": "out/two.txt",
          "size": 5
        }
      ],
      "artifact_id": "File",
      "packer_run_uuid": "u",
      "custom_data": {
        "a": "\u003cx\u003e",
        "z": "1"
      }
    }
  ],
  "last_run_uuid": "u"
}"#;
        assert_eq!(m.to_go_json(&|s| s.to_string()), want);
        let back: ManifestFile = serde_json::from_str(want).unwrap();
        assert_eq!(back, m);
        let empty = ManifestFile {
            builds: Some(vec![Build {
                files: Some(vec![]),
                custom_data: Some(BTreeMap::new()),
                ..Build::default()
            }]),
            ..ManifestFile::default()
        };
        assert!(empty
            .to_go_json(&|s| s.to_string())
            .contains("\"files\": [],"));
        assert!(empty
            .to_go_json(&|s| s.to_string())
            .contains("\"custom_data\": {}\n"));
    }
}
