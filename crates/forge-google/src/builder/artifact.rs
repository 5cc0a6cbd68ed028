//! The image a googlecompute build made (Packer's googlecompute Artifact).

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::BuildData;

use crate::compute::Compute;

/// The image.
pub struct ImageArtifact {
    /// Its name.
    pub name: String,
    /// Its project.
    pub project: String,
    /// Its size, GB.
    pub size_gb: i64,
    /// The build's zone.
    pub zone: String,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Compute Engine (destroy).
    pub compute: Arc<dyn Compute>,
    /// Generated data.
    pub generated: BuildData,
}

#[async_trait]
impl Artifact for ImageArtifact {
    fn builder_id(&self) -> String {
        super::BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        self.name.clone()
    }
    fn string(&self) -> String {
        format!(
            "A disk image was created in the '{}' project: {}",
            self.project, self.name
        )
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "ImageName" => Some(self.name.clone().into()),
            "ImageSizeGb" => Some(self.size_gb.into()),
            "ProjectId" => Some(self.project.clone().into()),
            "BuildZone" => Some(self.zone.clone().into()),
            "ImageLabels" => serde_json::to_value(&self.labels).ok(),
            "generated_data" => serde_json::to_value(&self.generated).ok(),
            _ => None,
        }
    }
    async fn destroy(&self) -> forge_core::Result<()> {
        crate::journal::delete(
            self.compute.as_ref(),
            crate::journal::IMAGE,
            &self.project,
            "",
            &self.name,
        )
        .await
        .map_err(forge_core::Error::msg)
    }
}
