//! The image artifact docker-import, docker-tag and docker-push produce (Packer's
//! `ImportArtifact`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::{Error, Result};

/// An image in the engine, by id or `repository[:tag]`.
#[derive(Debug, Clone, Default)]
pub struct ImageArtifact {
    /// The producing plugin's builder id.
    pub builder_id: String,
    /// The image id or reference.
    pub id: String,
    /// Every `repository:tag` docker-tag made (state `docker_tags`).
    pub tags: Vec<String>,
    /// Generated data carried along (state `generated_data`).
    pub generated: serde_json::Map<String, serde_json::Value>,
}

impl ImageArtifact {
    /// The `docker_tags` state of `a` (docker-tag's tags), empty when absent.
    pub fn tags_of(a: &dyn Artifact) -> Vec<String> {
        match a.state("docker_tags") {
            Some(serde_json::Value::Array(v)) => v
                .into_iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The `generated_data` state of `a` as a JSON map, empty when absent.
    pub fn generated_of(a: &dyn Artifact) -> serde_json::Map<String, serde_json::Value> {
        match a.state("generated_data") {
            Some(serde_json::Value::Object(m)) => m,
            _ => Default::default(),
        }
    }
}

#[async_trait]
impl Artifact for ImageArtifact {
    fn builder_id(&self) -> String {
        self.builder_id.clone()
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn string(&self) -> String {
        if self.tags.is_empty() {
            format!("Imported Docker image: {}", self.id)
        } else {
            format!(
                "Imported Docker image: {} with tags {}",
                self.id,
                self.tags.join(" ")
            )
        }
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "docker_tags" => Some(serde_json::json!(self.tags)),
            "generated_data" => Some(serde_json::Value::Object(self.generated.clone())),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<()> {
        let docker = super::connect()?;
        let opts: Option<bollard::query_parameters::RemoveImageOptions> = None;
        match docker.remove_image(&self.id, opts, None).await {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(Error::msg(format!(
                "Error removing image {}: {}",
                self.id,
                super::engine_error(&e)
            ))),
        }
    }
}

/// Keeps `BTreeMap` string data as JSON (for builders' generated data).
pub fn json_map(m: &BTreeMap<String, String>) -> serde_json::Map<String, serde_json::Value> {
    m.iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect()
}
