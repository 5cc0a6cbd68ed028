//! `amazon-ami-management` (wata727/packer-plugin-amazon-ami-management): after a build,
//! deregisters old AMIs tagged `Amazon_AMI_Management_Identifier = <identifier>` and deletes
//! their snapshots, keeping the newest `keep_releases` (or those younger than `keep_days`) and
//! every image an instance still uses.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::{decode, PrepareErrors};
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::schema::forge::AmazonAmiManagementPostProcessor as Args;
use forge_template::value::Value;

use crate::access::Access;
use crate::ec2::Image;

/// The tag naming an AMI's release series.
pub const IDENTIFIER_TAG: &str = "Amazon_AMI_Management_Identifier";

/// The configured post-processor.
pub struct AmiManagement {
    access: Access,
    identifier: String,
    keep_releases: usize,
    keep_days: i64,
    regions: Vec<String>,
    dry_run: bool,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    let a: Args = decode(v)?;
    let mut errs = Vec::new();
    let access = Access::prepare(crate::access_args!(a), &mut errs);
    let identifier = a.identifier.clone().unwrap_or_default();
    if identifier.is_empty() {
        errs.push(
            "empty `identifier` is not allowed. Please make sure that it is set correctly".into(),
        );
    }
    let keep_releases = a.keep_releases.unwrap_or(0);
    let keep_days = a.keep_days.unwrap_or(0);
    if keep_releases < 0 || keep_days < 0 {
        errs.push("`keep_releases` and `keep_days` must not be negative".into());
    }
    match (keep_releases > 0, keep_days > 0) {
        (false, false) => errs.push("`keep_releases` or `keep_days` must be greater than 0".into()),
        (true, true) => errs.push("`keep_releases` and `keep_days` cannot be set together".into()),
        _ => {}
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let regions = a
        .regions
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| vec![access.region.clone()]);
    Ok(Box::new(AmiManagement {
        access,
        identifier,
        keep_releases: keep_releases as usize,
        keep_days,
        regions,
        dry_run: a.dry_run.unwrap_or(false),
    }))
}

/// The images to delete: all but the newest `keep_releases`, or those older than `keep_days`
/// days (by creation date, compared with `now`), never one in `in_use`.
pub fn to_delete(
    mut images: Vec<Image>,
    keep_releases: usize,
    keep_days: i64,
    in_use: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Image> {
    images.sort_by(|a, b| b.creation_date.cmp(&a.creation_date));
    images
        .into_iter()
        .enumerate()
        .filter(|(i, img)| {
            let old = if keep_releases > 0 {
                *i >= keep_releases
            } else {
                chrono::DateTime::parse_from_rfc3339(&img.creation_date)
                    .map(|t| now.signed_duration_since(t) > chrono::Duration::days(keep_days))
                    .unwrap_or(false)
            };
            old && !in_use.contains(&img.id)
        })
        .map(|(_, img)| img)
        .collect()
}

#[async_trait]
impl PostProcessor for AmiManagement {
    async fn post_process(
        &self,
        _ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        for s in self.access.secrets() {
            ui.output().redactor().add(&s);
        }
        for region in &self.regions {
            let ec2 = self.access.ec2(region).await;
            let filter = [(
                format!("tag:{IDENTIFIER_TAG}"),
                vec![self.identifier.clone()],
            )];
            let images = ec2
                .describe_images(&[], &["self".into()], &filter)
                .await
                .map_err(|e| Error::msg(format!("amazon-ami-management: {e}")))?;
            let in_use = ec2
                .images_in_use()
                .await
                .map_err(|e| Error::msg(format!("amazon-ami-management: {e}")))?;
            let old = to_delete(
                images,
                self.keep_releases,
                self.keep_days,
                &in_use,
                chrono::Utc::now(),
            );
            for img in old {
                if self.dry_run {
                    ui.say(&format!(
                        "Would delete image: {} ({}) in {region} (dry_run)",
                        img.id, img.name
                    ));
                    continue;
                }
                ui.say(&format!(
                    "Deleting image: {} ({}) in {region}",
                    img.id, img.name
                ));
                ec2.deregister_image(&img.id)
                    .await
                    .map_err(|e| Error::msg(format!("amazon-ami-management: {e}")))?;
                for s in &img.snapshots {
                    ui.say(&format!("Deleting snapshot: {s} in {region}"));
                    ec2.delete_snapshot(s)
                        .await
                        .map_err(|e| Error::msg(format!("amazon-ami-management: {e}")))?;
                }
            }
        }
        Ok(PostProcessed {
            artifact: Some(input),
            keep: true,
            force_override: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, date: &str) -> Image {
        Image {
            id: id.into(),
            creation_date: date.into(),
            ..Image::default()
        }
    }

    #[test]
    fn keeps_the_newest_releases_and_images_in_use() {
        let imgs = vec![
            img("a", "2026-01-01T00:00:00.000Z"),
            img("b", "2026-03-01T00:00:00.000Z"),
            img("c", "2026-02-01T00:00:00.000Z"),
            img("d", "2025-12-01T00:00:00.000Z"),
        ];
        let now = chrono::Utc::now();
        let gone: Vec<String> = to_delete(imgs.clone(), 2, 0, &["d".into()], now)
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(gone, ["a"]);
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-10T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let gone: Vec<String> = to_delete(imgs, 0, 30, &[], now)
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(gone, ["c", "a", "d"]);
    }
}
