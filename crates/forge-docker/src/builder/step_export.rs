//! StepExport: streams the container's filesystem into `export_path`; the file is removed when
//! the export fails.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::{Output, State};

pub(super) struct StepExport;

#[async_trait]
impl Step<State> for StepExport {
    fn name(&self) -> &'static str {
        "StepExport"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let Output::Export(path) = &st.config.output else {
            return Ok(());
        };
        let path = std::path::PathBuf::from(path);
        let id = st
            .container_id
            .clone()
            .ok_or_else(|| Error::msg("StepExport: no container is running"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::msg(format!(
                    "Error creating output directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        ctx.ui.say("Exporting the container");
        if let Err(e) = st.driver.export(ctx, &id, &path).await {
            let _ = std::fs::remove_file(&path);
            if e.is_cancelled() {
                return Err(e);
            }
            let m = format!("Error exporting: {e}");
            ctx.ui.error(&m);
            return Err(Error::msg(m));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{config, ctx, state, tar_names, Call, FakeDriver, Op};
    use forge_core::runner::Outcome;
    use serde_json::json;
    use std::sync::Arc;

    async fn with_container(path: &std::path::Path) -> (Arc<FakeDriver>, State, String) {
        let fake = FakeDriver::new();
        let id = fake.running("c", None).await;
        fake.put_file(&id, "/etc/made", b"by the build");
        let mut st = state(
            &fake,
            config(json!({"image": "base", "export_path": path.to_string_lossy()})),
        );
        st.container_id = Some(id.clone());
        (fake, st, id)
    }

    #[tokio::test]
    async fn exports_into_export_path_making_its_directory() {
        let (ctx, ui) = ctx();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("out/deeper/fs.tar");
        let (fake, mut st, id) = with_container(&path).await;
        StepExport.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            fake.calls()[1..],
            [Call::Export {
                id: id.clone(),
                path: path.clone()
            }]
        );
        assert_eq!(fake.model().exports, [(id, path.clone())]);
        assert_eq!(tar_names(&path), ["etc/made"]);
        assert!(ui.text().contains("Exporting the container"));
        // The file is the artifact: no cleanup.
        StepExport
            .cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(path.exists());
    }

    #[tokio::test]
    async fn a_failed_export_removes_the_partial_file() {
        let (ctx, ui) = ctx();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("fs.tar");
        let (fake, mut st, _) = with_container(&path).await;
        fake.fail(
            Op::Export,
            "write /var/lib/docker/tmp: no space left on device",
        );
        let m = StepExport.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(
            m,
            "Error exporting: exporting the container: write /var/lib/docker/tmp: no space left on device"
        );
        assert!(ui.text().contains(&m));
        assert!(!path.exists());
        assert!(fake.model().exports.is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_export_removes_the_partial_file() {
        let (ctx, _) = ctx();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("fs.tar");
        let (fake, mut st, _) = with_container(&path).await;
        fake.hang(Op::Export);
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            cancel.cancel();
        });
        assert_eq!(StepExport.run(&ctx, &mut st).await, Err(Error::Cancelled));
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn an_unmakeable_directory_fails_before_the_engine_is_asked() {
        let (ctx, _) = ctx();
        let f = tempfile::NamedTempFile::new().unwrap();
        let path = f.path().join("fs.tar");
        let (fake, mut st, _) = with_container(&path).await;
        let m = StepExport.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert!(
            m.starts_with(&format!(
                "Error creating output directory {}: ",
                f.path().display()
            )),
            "{m}"
        );
        assert_eq!(fake.ops(), [Op::Run]);
    }

    #[tokio::test]
    async fn commit_and_discard_builds_do_not_export() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        for j in [
            json!({"image": "base", "commit": true}),
            json!({"image": "base", "discard": true}),
        ] {
            let mut st = state(&fake, config(j));
            st.container_id = Some("c".into());
            StepExport.run(&ctx, &mut st).await.unwrap();
        }
        assert!(fake.calls().is_empty());
    }
}
