//! The VM (or template) a build made: Packer's vSphere artifact (Id and String: the VM's name,
//! no files); destroying it removes the VM.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::BuildData;
use forge_core::{Error, Result};

use super::Config;
use crate::client::Client;

/// The VM.
pub struct VmArtifact {
    /// `vm_name`.
    pub name: String,
    /// Its inventory path.
    pub path: String,
    /// How to reach it (destroy).
    pub config: Arc<Config>,
    /// Generated data.
    pub generated: BuildData,
    /// The files `export` wrote.
    pub files: Vec<String>,
}

#[async_trait]
impl Artifact for VmArtifact {
    fn builder_id(&self) -> String {
        super::BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        self.name.clone()
    }
    fn string(&self) -> String {
        self.name.clone()
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "generated_data" => serde_json::to_value(&self.generated).ok(),
            crate::template::INVENTORY_PATH => Some(self.path.clone().into()),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<()> {
        let client = Client::connect(&self.config.client_config()).await?;
        let vm = client.find_by_inventory_path(&self.path).await?;
        let r = match vm {
            Some(vm) => client.remove_vm(&vm).await,
            None => Err(Error::msg(format!("{}: not found", self.path))),
        };
        let _ = client.logout().await;
        r
    }
}
