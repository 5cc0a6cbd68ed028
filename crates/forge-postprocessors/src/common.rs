//! What the post-processors share: Packer's `{{ }}` rendering at post-process time, the input
//! artifact's generated data, and an artifact made of a list of local paths.

use forge_core::artifact::Artifact;
use forge_core::plugin::PrepareInfo;
use forge_template::legacy::interp::{render as interp_render, validate, InterpContext};
use indexmap::IndexMap;

/// Template data: the input artifact's generated data plus the post-processor's own keys.
pub(crate) type Data = IndexMap<String, String>;

/// The input artifact's `generated_data` as template data (strings as they are, other values
/// as JSON text).
pub(crate) fn generated_data(a: &dyn Artifact) -> Data {
    let mut d = Data::new();
    if let Some(serde_json::Value::Object(m)) = a.state("generated_data") {
        for (k, v) in m {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            d.insert(k, s);
        }
    }
    d
}

/// Renders `template` as Packer's interpolation does when a post-processor runs: `data` is the
/// template's `.` map, `build_name`/`build_type` come from the build, and a field missing from
/// `data` renders as Go's `<no value>`.
pub(crate) fn render(template: &str, info: &PrepareInfo, data: &Data) -> Result<String, String> {
    if !template.contains("{{") {
        return Ok(template.to_string());
    }
    let vars = IndexMap::new();
    let mut ic = InterpContext::new(&vars);
    ic.build_name = Some(info.build_name.clone());
    ic.build_type = Some(info.builder_type.clone());
    ic.template_dir = Some(info.template_dir.to_string_lossy().into_owned());
    ic.data = data.clone();
    // Packer's data is a map, so a missing key is Go's zero value, not an error.
    for _ in 0..64 {
        match interp_render(template, &ic) {
            Ok(s) => return Ok(s),
            Err(e) => match missing_key(&e.message) {
                Some(k) if !ic.data.contains_key(&k) => {
                    ic.data.insert(k, "<no value>".into());
                }
                _ => return Err(e.message),
            },
        }
    }
    interp_render(template, &ic).map_err(|e| e.message)
}

/// The key named by the engine's `map has no entry for key "X"` error.
fn missing_key(msg: &str) -> Option<String> {
    const NEEDLE: &str = "map has no entry for key \"";
    let rest = &msg[msg.find(NEEDLE)? + NEEDLE.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Checks that `template` parses (Packer's configure-time `interpolate.Validate`).
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    validate(template).map_err(|e| format!("Error parsing target template: {}", e.message))
}

/// Runs blocking work off the async runtime; a panic becomes an error naming `what`.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> forge_core::Result<T> + Send + 'static,
) -> forge_core::Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(forge_core::Error::msg(format!(
            "{what}: worker failed: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PrepareInfo {
        PrepareInfo {
            build_name: "fb".into(),
            ..forge_core::testing::info("file")
        }
    }

    #[test]
    fn render_fields_functions_and_missing_keys() {
        let mut d = Data::new();
        d.insert("ChecksumType".into(), "md5".into());
        let i = info();
        assert_eq!(
            render(
                "p_{{.ChecksumType}}_{{ build_name }}_{{build_type}}",
                &i,
                &d
            )
            .unwrap(),
            "p_md5_fb_file"
        );
        assert_eq!(render("v {{ .Nope }}", &i, &d).unwrap(), "v <no value>");
        assert_eq!(render("plain", &i, &d).unwrap(), "plain");
        assert!(render("{{ nosuchfunc }}", &i, &d).is_err());
    }
}
