//! Packer's `interpolate.Render` as plugins use it at run time: `{{ .X }}` from the
//! build's generated data plus the provisioner's own fields (`Vars`, `Path`, `Script`, ...).

use crate::plugin::BuildData;
use forge_template::legacy::interp::{render as interp, InterpContext};

/// Renders `template` with `data`, `extra` winning over it; the error is the engine's message.
pub fn render(template: &str, data: &BuildData, extra: &[(&str, &str)]) -> Result<String, String> {
    let vars = indexmap::IndexMap::new();
    let mut ic = InterpContext::new(&vars);
    ic.data = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in extra {
        ic.data.insert(k.to_string(), v.to_string());
    }
    interp(template, &ic).map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_win() {
        let mut data = BuildData::new();
        data.insert("ID".into(), "i-1".into());
        data.insert("Path".into(), "from-data".into());
        assert_eq!(
            render("{{.ID}} {{ .Path }}", &data, &[("Path", "/tmp/s.sh")]).unwrap(),
            "i-1 /tmp/s.sh"
        );
        assert!(render("{{ .Path", &data, &[]).is_err());
    }
}
