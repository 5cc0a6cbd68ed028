//! StepTempDir: the host directory bound into the container at `container_dir`. As in Packer it
//! lives under `PACKER_TMP_DIR`, else the config dir (`PACKER_CONFIG_DIR`, else `~/.packer.d`),
//! not under TMPDIR: Docker Desktop shares only some host directories with its VM, and the
//! home directory is one of them.

use std::path::PathBuf;

use async_trait::async_trait;
use forge_core::local::temp_dir_in;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;

#[derive(Default)]
pub(super) struct StepTempDir {
    /// The parent directory instead of Packer's rule (tests).
    pub(super) parent: Option<PathBuf>,
}

/// The parent of the shared directory (Packer's `ConfigTmpDir`), created when missing.
fn parent() -> std::io::Result<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let dir = match nonempty("PACKER_TMP_DIR") {
        Some(d) => std::path::absolute(PathBuf::from(d))?,
        None => match nonempty("PACKER_CONFIG_DIR") {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(nonempty("HOME").unwrap_or_else(|| "/".into())).join(".packer.d"),
        },
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[async_trait]
impl Step<State> for StepTempDir {
    fn name(&self) -> &'static str {
        "StepTempDir"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui
            .say("Creating a temporary directory for sharing data...");
        let p = match &self.parent {
            Some(p) => std::fs::create_dir_all(p).map(|_| p.clone()),
            None => parent(),
        };
        let r = p
            .map_err(|e| Error::msg(e.to_string()))
            .and_then(|p| temp_dir_in(ctx, &p, "tmp"));
        let d = r.map_err(|e| {
            let m = format!("Error making temp dir: {e}");
            ctx.ui.error(&m);
            Error::msg(m)
        })?;
        st.temp_dir = Some(d);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        st.temp_dir = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{config, ctx, state, FakeDriver};
    use serde_json::json;

    #[tokio::test]
    async fn makes_a_directory_that_its_cleanup_removes() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new();
        let mut st = state(&fake, config(json!({"image": "x", "discard": true})));
        let parent = tempfile::tempdir().unwrap();
        let under = parent.path().join("config-dir");
        let mut step = StepTempDir {
            parent: Some(under.clone()),
        };
        step.run(&ctx, &mut st).await.unwrap();
        let dir = st.temp_dir.as_ref().unwrap().path().to_path_buf();
        assert!(dir.is_dir());
        assert_eq!(dir.parent(), Some(under.as_path()));
        assert_eq!(ctx.journal.live(None).len(), 1);
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(st.temp_dir.is_none());
        assert!(!dir.exists());
        assert!(ctx.journal.live(None).is_empty());
        assert!(fake.calls().is_empty(), "no engine call");
    }

    #[tokio::test]
    async fn a_parent_that_cannot_be_made_is_a_clear_error() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new();
        let mut st = state(&fake, config(json!({"image": "x", "discard": true})));
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut step = StepTempDir {
            parent: Some(f.path().join("below-a-file")),
        };
        let m = step.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert!(m.starts_with("Error making temp dir: "), "{m}");
        assert!(ui.text().contains(&m), "{}", ui.text());
        assert!(st.temp_dir.is_none());
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert!(ctx.journal.live(None).is_empty());
    }
}
