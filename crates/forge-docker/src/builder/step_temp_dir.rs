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

pub(super) struct StepTempDir;

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
        let r = parent()
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
