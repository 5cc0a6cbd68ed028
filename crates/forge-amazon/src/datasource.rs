//! The `amazon-ami` data source: the newest (with `most_recent`) image matching `filters` and
//! `owners`, as `id`, `name`, `creation_date`, `owner`, `owner_name`, `description`,
//! `architecture`, `root_device_type`, `virtualization_type` and `tags`.

use std::collections::BTreeMap;

use forge_template::schema::forge::AmazonAmiDataSource;
use forge_template::value::{Type, Value};

use crate::access::Access;
use crate::ebs::AmiFilter;

/// Evaluates the data source (called while the template loads, outside any build).
pub fn execute(config: &Value) -> Result<Value, String> {
    let a: AmazonAmiDataSource =
        forge_template::schema::decode(config).map_err(|e| format!("amazon-ami: {e}"))?;
    let mut errs = Vec::new();
    let access = Access::prepare(crate::access_args!(a), &mut errs);
    let owners = a.owners.clone().unwrap_or_default();
    let filters = a.filters.clone().unwrap_or_default();
    if owners.is_empty() {
        errs.push("For security reasons, you must declare an owner using owners.".into());
    }
    if filters.is_empty() {
        errs.push("The `filters` must be specified".into());
    }
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    let filter = AmiFilter {
        filters,
        owners,
        most_recent: a.most_recent.unwrap_or(false),
        include_deprecated: a.include_deprecated.unwrap_or(false),
    };
    // Template loading is synchronous and may run inside a runtime: query on a thread of its own.
    let image = crate::blocking::run("amazon-ami", move || async move {
        let ec2 = access.ec2("").await;
        crate::ebs::find_image(ec2.as_ref(), "", Some(&filter))
            .await
            .map_err(|e| e.to_string())
    })?;
    let s = |v: &str| Value::string(v.to_string());
    let tags: BTreeMap<String, Value> = image.tags.iter().map(|(k, v)| (k.clone(), s(v))).collect();
    Ok(Value::object(BTreeMap::from([
        ("id".to_string(), s(&image.id)),
        ("name".to_string(), s(&image.name)),
        ("creation_date".to_string(), s(&image.creation_date)),
        ("owner".to_string(), s(&image.owner_id)),
        ("owner_name".to_string(), s(&image.owner_alias)),
        ("description".to_string(), s(&image.description)),
        ("architecture".to_string(), s(&image.architecture)),
        ("root_device_type".to_string(), s(&image.root_device_type)),
        (
            "virtualization_type".to_string(),
            s(&image.virtualization_type),
        ),
        ("tags".to_string(), Value::map(Type::String, tags)),
    ])))
}
