//! The qemu builder's artifact: the files of the output directory (Packer's Id `VM`).

use async_trait::async_trait;
use forge_core::artifact::Artifact;

/// The built VM.
pub struct QemuArtifact {
    /// The output directory.
    pub dir: String,
    /// Every file in it.
    pub files: Vec<String>,
    /// State for post-processors (`diskName`, `diskType`, `diskSize`, `domainType`, ...).
    pub state: serde_json::Map<String, serde_json::Value>,
}

#[async_trait]
impl Artifact for QemuArtifact {
    fn builder_id(&self) -> String {
        super::BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        "VM".into()
    }
    fn string(&self) -> String {
        format!("VM files in directory: {}", self.dir)
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        self.state.get(name).cloned()
    }
    async fn destroy(&self) -> forge_core::Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| forge_core::Error::msg(format!("removing {}: {e}", self.dir)))
    }
}
