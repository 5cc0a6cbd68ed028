//! StepUploadVersion and StepUploadGuestAdditions: VirtualBox's version to
//! `virtualbox_version_file`, and the guest additions ISO to `guest_additions_path`
//! (`{{ .Version }}` is VirtualBox's), through the communicator.

use std::path::Path;

use async_trait::async_trait;
use forge_core::local::temp_file;
use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::config::GuestAdditionsMode;
use super::{fail, State};

fn communicator(st: &State) -> Result<std::sync::Arc<dyn Communicator>> {
    st.comm
        .clone()
        .ok_or_else(|| Error::msg("no communicator is connected"))
}

/// Uploads the version file.
pub struct StepUploadVersion {
    /// `virtualbox_version_file`; empty: nothing to upload.
    pub path: String,
}

#[async_trait]
impl Step<State> for StepUploadVersion {
    fn name(&self) -> &'static str {
        "StepUploadVersion"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.path.is_empty() {
            tracing::info!("VBoxVersionFile is empty. Not uploading.");
            return Ok(());
        }
        let version =
            st.driver.version().await.map_err(|e| {
                Error::msg(format!("Error reading version for metadata upload: {e}"))
            })?;
        ctx.ui
            .say(&format!("Uploading VirtualBox version info ({version})"));
        let comm = communicator(st)?;
        let f = temp_file(ctx, "vbox-version", version.as_bytes(), false)?;
        comm.upload(ctx, &self.path, f.path())
            .await
            .map_err(|e| Error::msg(format!("Error uploading VirtualBox version: {e}")))
    }
}

/// Uploads the guest additions with `guest_additions_mode = "upload"`.
pub struct StepUploadGuestAdditions {
    /// `guest_additions_mode`.
    pub mode: GuestAdditionsMode,
    /// `guest_additions_path`, unrendered.
    pub path: String,
}

#[async_trait]
impl Step<State> for StepUploadGuestAdditions {
    fn name(&self) -> &'static str {
        "StepUploadGuestAdditions"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.mode != GuestAdditionsMode::Upload {
            tracing::info!("Not uploading guest additions since mode is not upload");
            return Ok(());
        }
        let iso = st.guest_additions_path.clone().unwrap_or_default();
        let version = st.driver.version().await.map_err(|e| {
            Error::msg(format!(
                "Error reading version for guest additions upload: {e}"
            ))
        })?;
        if let Err(e) = std::fs::metadata(&iso) {
            return Err(Error::msg(format!(
                "Error opening guest additions ISO: {e}"
            )));
        }
        let dst =
            forge_core::render::render(&self.path, &Default::default(), &[("Version", &version)])
                .map_err(|e| fail(ctx, format!("Error preparing guest additions path: {e}")))?;
        ctx.ui.say("Uploading VirtualBox guest additions ISO...");
        communicator(st)?
            .upload(ctx, &dst, Path::new(&iso))
            .await
            .map_err(|e| Error::msg(format!("Error uploading guest additions: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::state;
    use forge_core::testing::FakeComm;
    use std::sync::Arc;

    #[tokio::test]
    async fn uploads_the_version_and_the_additions() {
        let (mut st, f, ctx) = state("vm");
        let comm = Arc::new(FakeComm::new());
        st.comm = Some(comm.clone());
        StepUploadVersion {
            path: String::new(),
        }
        .run(&ctx, &mut st)
        .await
        .unwrap();
        assert!(f.calls().is_empty());
        StepUploadVersion {
            path: ".vbox_version".into(),
        }
        .run(&ctx, &mut st)
        .await
        .unwrap();
        assert_eq!(
            comm.uploads(),
            vec![(".vbox_version".to_string(), "7.0.20".to_string())]
        );
        let iso = std::env::temp_dir().join(format!("vbox-ga-{}.iso", uuid::Uuid::new_v4()));
        std::fs::write(&iso, "additions").unwrap();
        st.guest_additions_path = Some(iso.to_string_lossy().into());
        let mut s = StepUploadGuestAdditions {
            mode: GuestAdditionsMode::Upload,
            path: "VBoxGuestAdditions_{{ .Version }}.iso".into(),
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            comm.uploads()[1],
            (
                "VBoxGuestAdditions_7.0.20.iso".to_string(),
                "additions".to_string()
            )
        );
        std::fs::remove_file(&iso).unwrap();
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error opening guest additions ISO"),
            "{e}"
        );
        s.mode = GuestAdditionsMode::Attach;
        s.run(&ctx, &mut st).await.unwrap();
        f.fail_on("--version", "boom", 1);
        let e = StepUploadVersion { path: "v".into() }
            .run(&ctx, &mut st)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error reading version for metadata upload"),
            "{e}"
        );
    }
}
