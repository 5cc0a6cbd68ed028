//! The docker builder's artifacts: a committed image, or an exported tar file.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::BuildData;

use crate::driver::Driver;

/// A committed image (Packer's ImportArtifact).
pub struct ImportArtifact {
    /// The image id.
    pub id: String,
    /// The engine (for destroy).
    pub driver: Arc<dyn Driver>,
    /// Generated data.
    pub generated: BuildData,
}

#[async_trait]
impl Artifact for ImportArtifact {
    fn builder_id(&self) -> String {
        super::IMPORT_BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn string(&self) -> String {
        format!("Imported Docker image: {}", self.id)
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        (name == "generated_data").then(|| serde_json::to_value(&self.generated).ok())?
    }
    async fn destroy(&self) -> forge_core::Result<()> {
        self.driver.remove_image(&self.id).await
    }
}

/// An exported filesystem tar (Packer's ExportArtifact).
pub struct ExportArtifact {
    /// The tar file.
    pub path: String,
    /// Generated data.
    pub generated: BuildData,
}

#[async_trait]
impl Artifact for ExportArtifact {
    fn builder_id(&self) -> String {
        super::BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        vec![self.path.clone()]
    }
    fn id(&self) -> String {
        "Container".into()
    }
    fn string(&self) -> String {
        format!("Exported Docker file: {}", self.path)
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        (name == "generated_data").then(|| serde_json::to_value(&self.generated).ok())?
    }
    async fn destroy(&self) -> forge_core::Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(forge_core::Error::msg(format!(
                "removing {}: {e}",
                self.path
            ))),
        }
    }
}
