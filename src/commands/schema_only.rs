//! What `validate` checks of the plugin types forge knows only by schema: their settings are
//! decoded as Packer's plugins decode them (mapstructure's weak rules, durations), and the
//! required-setting and value checks their plugins' `Prepare` makes without the network run too,
//! so that a template Packer rejects does not pass.

use forge_template::schema::{lookup, weak, PluginKind};
use forge_template::value::Value;

/// The configuration errors of one schema-only plugin, in Packer's words (empty when none).
pub fn errors(kind: PluginKind, plugin_type: &str, config: &Value) -> Vec<String> {
    let Some(schema) = lookup(kind, plugin_type) else {
        return Vec::new();
    };
    let config = match weak::convert(schema, config) {
        Ok(c) => c,
        // Packer stops at a decoding error: the plugin's own checks never run.
        Err(e) => return vec![weak::summary(&e)],
    };
    let get = |k: &str| -> String {
        config
            .as_entries()
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let set = |k: &str| {
        config
            .as_entries()
            .and_then(|m| m.get(k))
            .is_some_and(|v| !v.is_null())
    };
    let strings = |k: &str| -> Vec<String> {
        config
            .as_entries()
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_seq())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let mut errs = Vec::new();
    // The SDK's floppy settings, shared by the builders that make a floppy: the files must exist.
    if kind == PluginKind::Builder && schema.field("floppy_files").is_some() {
        let floppy = forge_commonsteps::media::FloppyConfig {
            files: strings("floppy_files"),
            dirs: strings("floppy_dirs"),
            ..Default::default()
        };
        errs.extend(floppy.prepare().iter().map(ToString::to_string));
    }
    match (kind, plugin_type) {
        (
            PluginKind::Builder,
            "amazon-ebssurrogate" | "amazon-instance" | "amazon-chroot" | "amazon-v3-ebs",
        ) => {
            let name = get("ami_name");
            if name.is_empty() {
                errs.push("ami_name must be specified".to_string());
            }
            // Without the Amazon plugins (--no-default-features) the name's format is not checked.
            #[cfg(feature = "amazon")]
            errs.extend(forge_amazon::ebs::check_ami_name(&name));
            if plugin_type == "amazon-ebssurrogate" && get("ami_virtualization_type").is_empty() {
                errs.push("ami_virtualization_type is required.".to_string());
            }
        }
        (PluginKind::Builder, "googlecompute") => {
            if get("project_id").is_empty() {
                errs.push("a project_id must be specified".to_string());
            }
            if get("source_image").is_empty() && get("source_image_family").is_empty() {
                errs.push("a source_image or source_image_family must be specified".to_string());
            }
            if get("zone").is_empty() {
                errs.push("a zone must be specified".to_string());
            }
        }
        (PluginKind::PostProcessor, "amazon-import") => {
            if get("s3_bucket_name").is_empty() {
                errs.push("s3_bucket_name must be set".to_string());
            }
            let format = get("format");
            if !["", "ova", "raw", "vhd", "vhdx", "vmdk"].contains(&format.as_str()) {
                errs.push(format!(
                    "invalid format '{format}'. Only 'ova', 'raw', 'vhd', 'vhdx', or 'vmdk' are allowed"
                ));
            }
        }
        (PluginKind::Builder, "azure-arm") => {
            // The capture settings: a VHD, a managed image or a gallery image must come out.
            let gallery = set("shared_image_gallery_destination");
            if !gallery {
                if get("capture_container_name").is_empty() && get("managed_image_name").is_empty()
                {
                    errs.push(
                        "A capture_container_name or managed_image_name must be specified".into(),
                    );
                }
                if get("capture_name_prefix").is_empty()
                    && get("managed_image_resource_group_name").is_empty()
                {
                    errs.push(
                        "A capture_name_prefix or managed_image_resource_group_name must be specified"
                            .into(),
                    );
                }
                let managed = !get("managed_image_name").is_empty()
                    || !get("managed_image_resource_group_name").is_empty();
                if !managed {
                    let (account, group) = (get("storage_account"), get("resource_group_name"));
                    if account.is_empty() && group.is_empty() {
                        errs.push("Specify either a VHD (storage_account and resource_group_name) or Managed Image (managed_image_resource_group_name and managed_image_name) output".into());
                    }
                    if account.is_empty() {
                        errs.push("A storage_account must be specified".into());
                    }
                    if group.is_empty() {
                        errs.push("A resource_group_name must be specified".into());
                    }
                }
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn obj(pairs: &[(&str, &str)]) -> Value {
        Value::object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn amazon_builders_check_the_ami_name() {
        let e = errors(
            PluginKind::Builder,
            "amazon-ebssurrogate",
            &obj(&[("ami_name", "%s"), ("ami_virtualization_type", "hvm")]),
        );
        assert_eq!(e, ["ami_name must be between 3 and 128 characters long"]);
        let e = errors(
            PluginKind::Builder,
            "amazon-chroot",
            &obj(&[("ami_name", "name %s")]),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("AMIName should only contain"), "{e:?}");
        let e = errors(
            PluginKind::Builder,
            "amazon-ebssurrogate",
            &obj(&[("ami_name", "good name")]),
        );
        assert_eq!(e, ["ami_virtualization_type is required."]);
        let e = errors(
            PluginKind::Builder,
            "amazon-instance",
            &obj(&[("ami_name", "good name")]),
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn amazon_import_needs_a_bucket_and_a_known_format() {
        let e = errors(
            PluginKind::PostProcessor,
            "amazon-import",
            &obj(&[("s3_bucket_name", ""), ("format", "bogus")]),
        );
        assert_eq!(
            e,
            [
                "s3_bucket_name must be set",
                "invalid format 'bogus'. Only 'ova', 'raw', 'vhd', 'vhdx', or 'vmdk' are allowed"
            ]
        );
    }

    #[test]
    fn azure_arm_needs_capture_settings() {
        assert_eq!(errors(PluginKind::Builder, "azure-arm", &obj(&[])).len(), 5);
        let vhd = obj(&[
            ("capture_container_name", "c"),
            ("capture_name_prefix", "p"),
            ("storage_account", "s"),
            ("resource_group_name", "g"),
        ]);
        assert!(errors(PluginKind::Builder, "azure-arm", &vhd).is_empty());
        let managed = obj(&[
            ("managed_image_name", "m"),
            ("managed_image_resource_group_name", "g"),
        ]);
        assert!(errors(PluginKind::Builder, "azure-arm", &managed).is_empty());
    }

    #[test]
    fn settings_decode_weakly_and_durations_are_checked() {
        let e = errors(
            PluginKind::Builder,
            "virtualbox-iso",
            &obj(&[
                ("memory", "abc"),
                ("headless", "maybe"),
                ("shutdown_timeout", ""),
                ("cpus", "2"),
            ]),
        );
        assert_eq!(
            e,
            ["3 error(s) decoding:\n\n* cannot parse 'headless' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax\n* cannot parse 'memory' as int: strconv.ParseInt: parsing \"abc\": invalid syntax\n* error decoding 'shutdown_timeout': time: invalid duration \"\""]
        );
    }
}
