//! The AMIs an amazon-ebs build made (Packer's amazon Artifact).

use std::collections::BTreeMap;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::plugin::BuildData;

use crate::access::Access;

/// AMIs by region.
pub struct AmiArtifact {
    /// Region → AMI id.
    pub amis: BTreeMap<String, String>,
    /// How to reach them (destroy).
    pub access: Access,
    /// Generated data.
    pub generated: BuildData,
}

#[async_trait]
impl Artifact for AmiArtifact {
    fn builder_id(&self) -> String {
        super::BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        self.amis
            .iter()
            .map(|(r, a)| format!("{r}:{a}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    fn string(&self) -> String {
        let mut s = String::from("AMIs were created:\n");
        for (r, a) in &self.amis {
            s.push_str(&format!("{r}: {a}\n"));
        }
        s
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "generated_data" => serde_json::to_value(&self.generated).ok(),
            "atlas.artifact.metadata" => serde_json::to_value(&self.amis).ok(),
            _ => None,
        }
    }
    async fn destroy(&self) -> forge_core::Result<()> {
        for (region, id) in &self.amis {
            let ec2 = self.access.ec2(region).await;
            crate::journal::delete_image(ec2.as_ref(), id)
                .await
                .map_err(forge_core::Error::msg)?;
        }
        Ok(())
    }
}
