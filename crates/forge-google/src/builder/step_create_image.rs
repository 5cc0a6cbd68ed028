//! StepCreateImage: makes the image of the boot disk and waits until it is ready. The image
//! is journaled first; a failed or interrupted build deletes it, a good one keeps it.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};
use serde_json::{json, Value};

use super::{Config, State};
use crate::journal;

pub(super) struct StepCreateImage {
    pub record: Option<Resource>,
}

/// The image's JSON (the API's `Image`).
pub fn image_body(c: &Config, labels: &std::collections::BTreeMap<String, String>) -> Value {
    let mut b = json!({
        "name": c.image_name,
        "description": c.image_description,
        "labels": labels,
        "sourceDisk": format!("projects/{}/zones/{}/disks/{}", c.project_id, c.zone, c.disk_name),
    });
    if !c.image_family.is_empty() {
        b["family"] = c.image_family.clone().into();
    }
    if !c.image_licenses.is_empty() {
        b["licenses"] = c.image_licenses.clone().into();
    }
    if !c.image_storage_locations.is_empty() {
        b["storageLocations"] = c.image_storage_locations.clone().into();
    }
    if let Some(k) = &c.image_encryption_key {
        b["imageEncryptionKey"] = k.clone();
    }
    // A disk under a customer-supplied key is read with that key.
    if let Some(k) = c
        .disk_encryption_key
        .as_ref()
        .filter(|k| k.get("rawKey").is_some())
    {
        b["sourceDiskEncryptionKey"] = k.clone();
    }
    b
}

#[async_trait]
impl Step<State> for StepCreateImage {
    fn name(&self) -> &'static str {
        "StepCreateImage"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        ctx.ui.say("Creating image...");
        let project = &c.image_project_id;
        let body = image_body(&c, &State::labelled(ctx, &c.image_labels));
        let rec = journal::intend(ctx, &c.endpoint, journal::IMAGE, project, "", &c.image_name)?;
        self.record = Some(rec.clone());
        let op = match st.compute.insert_image(project, body).await {
            Ok(op) => op,
            Err(e) => {
                self.record = None;
                journal::gone(ctx, &rec);
                return Err(Error::msg(format!("Error creating image: {e}")));
            }
        };
        st.wait(
            ctx,
            project,
            op,
            &format!("image {} to be created", c.image_name),
            "Error waiting for image",
        )
        .await?;
        let image = st
            .compute
            .get_image(project, &c.image_name)
            .await
            .map_err(|e| Error::msg(format!("Error reading the new image: {e}")))?
            .ok_or_else(|| {
                Error::msg(format!(
                    "Error reading the new image: {} is gone",
                    c.image_name
                ))
            })?;
        st.image = Some(image);
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        if !o.halted && !o.cancelled {
            // The build's product: it stays, and leaves the journal.
            if let Some(rec) = self.record.take() {
                journal::gone(ctx, &rec);
            }
            return Ok(());
        }
        let Some(rec) = journal::to_clean_up(ctx, &mut self.record) else {
            return Ok(());
        };
        let c = st.config.clone();
        ctx.ui
            .say("Deleting the image because of cancellation, or error...");
        match journal::delete(
            st.compute.as_ref(),
            journal::IMAGE,
            &c.image_project_id,
            "",
            &rec.id,
        )
        .await
        {
            Ok(()) => {
                journal::gone(ctx, &rec);
                st.image = None;
            }
            Err(e) => ctx.ui.error(&format!(
                "Error deleting image. Please delete it manually.\n\nName: {}\nError: {e}",
                rec.id
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::step_create_instance::StepCreateInstance;
    use super::super::step_teardown_instance::StepTeardownInstance;
    use super::*;
    use crate::fake::{Fail, Fx};

    fn steps(fail: bool) -> Vec<Box<dyn Step<State>>> {
        let mut s: Vec<Box<dyn Step<State>>> = vec![
            Box::new(StepCreateInstance),
            Box::new(StepTeardownInstance),
            Box::new(StepCreateImage { record: None }),
        ];
        if fail {
            s.push(Box::new(Fail));
        }
        s
    }

    #[tokio::test]
    async fn the_image_stays_after_a_good_build_and_only_it() {
        let fx = Fx::new();
        let mut st = fx.state(json!({"image_family": "fam", "image_labels": {"app": "x"}}));
        fx.run(&mut st, steps(false)).await.unwrap();
        assert_eq!(fx.cloud.leftovers(), ["image p/forge-test-image"]);
        assert_eq!(fx.journaled(), Vec::<String>::new());
        let img = st.image.clone().unwrap();
        assert_eq!(img["family"], "fam");
        assert_eq!(img["labels"]["app"], "x");
        assert_eq!(img["labels"]["forge-run"], "test");
        assert_eq!(
            img["sourceDisk"],
            "projects/p/zones/us-central1-a/disks/inst-1"
        );
    }

    #[tokio::test]
    async fn a_later_failure_deletes_the_image() {
        let fx = Fx::new();
        let mut st = fx.state(json!({}));
        let e = fx.run(&mut st, steps(true)).await.unwrap_err();
        assert_eq!(e.to_string(), "a later step failed");
        assert!(fx
            .said()
            .contains("Deleting the image because of cancellation, or error..."));
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_image_operation_error_is_the_error_and_the_disk_goes() {
        let fx = Fx::new();
        fx.cloud.fail_op("insert_image", "INTERNAL_ERROR");
        let mut st = fx.state(json!({}));
        let e = fx.run(&mut st, steps(false)).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error waiting for image: INTERNAL_ERROR: INTERNAL_ERROR: injected by the test"
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }
}
