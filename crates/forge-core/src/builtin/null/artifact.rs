//! The null builder's artifact: nothing.

use async_trait::async_trait;

use crate::artifact::Artifact;

/// "Did not export anything."
pub struct NullArtifact;

#[async_trait]
impl Artifact for NullArtifact {
    fn builder_id(&self) -> String {
        super::BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        "Null".into()
    }
    fn string(&self) -> String {
        "Did not export anything. This is the null builder".into()
    }
    async fn destroy(&self) -> crate::Result<()> {
        Ok(())
    }
}
