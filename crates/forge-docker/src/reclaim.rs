//! Reclaims containers a dead run left behind: by journal entry (id or name), or by the
//! `forge.run-id` label.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::registry::{Origin, ReclaimError, Reclaimer};

use crate::driver::{Driver, Engine};

/// The journal kind of a build container.
pub const KIND: &str = "docker-container";

/// Removes build containers.
pub struct ContainerReclaimer;

#[async_trait]
impl Reclaimer for ContainerReclaimer {
    fn kinds(&self) -> &'static [&'static str] {
        &[KIND]
    }
    async fn reclaim(&self, r: &Resource, _: &Origin) -> Result<(), ReclaimError> {
        let e = Engine::connect().await.map_err(|e| e.to_string())?;
        let name = r.data["name"].as_str().unwrap_or_default();
        for target in [r.id.as_str(), name] {
            if !target.is_empty() {
                e.remove_container(target)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
    async fn sweep(&self, run_id: &str, dry_run: bool) -> Result<Vec<String>, String> {
        let e = Engine::connect().await.map_err(|e| e.to_string())?;
        let found = e
            .containers_of_run(run_id)
            .await
            .map_err(|e| e.to_string())?;
        if !dry_run {
            for c in &found {
                e.remove_container(c).await.map_err(|e| e.to_string())?;
            }
        }
        Ok(found
            .into_iter()
            .map(|c| format!("docker container {c}"))
            .collect())
    }
}
