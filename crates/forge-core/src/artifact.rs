//! Artifacts: what builders and post-processors produce (Packer's Artifact interface).

use std::collections::BTreeMap;

use async_trait::async_trait;

/// A build's result: an image id, files on disk, or nothing to keep.
#[async_trait]
pub trait Artifact: Send + Sync {
    /// Which plugin made it (`fnoeding.null`, `packer.file`, `mitchellh.amazonebs`, ...).
    fn builder_id(&self) -> String;
    /// Files on the local disk that belong to it.
    fn files(&self) -> Vec<String>;
    /// The id as Packer prints it (`region:ami-id`, `Null`, ...).
    fn id(&self) -> String;
    /// The human description in the closing summary.
    fn string(&self) -> String;
    /// Named extra state; `generated_data` is the builder's generated data.
    fn state(&self, _name: &str) -> Option<serde_json::Value> {
        None
    }
    /// Removes what the artifact holds (when no chain keeps it).
    async fn destroy(&self) -> crate::Result<()>;
}

/// How an artifact of local paths removes them when destroyed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Removal {
    /// Leaves them (the files are not the artifact's own).
    #[default]
    Keep,
    /// Each path as a single file (Go's `os.Remove`).
    File,
    /// Each path with everything under it (Go's `os.RemoveAll`).
    All,
}

/// An artifact made of local paths, as several builders and post-processors produce.
#[derive(Debug, Clone, Default)]
pub struct FileArtifact {
    /// Builder id.
    pub builder_id: String,
    /// Id.
    pub id: String,
    /// Summary text.
    pub string: String,
    /// Files.
    pub files: Vec<String>,
    /// What `destroy` does with the files.
    pub removal: Removal,
    /// Generated data carried along.
    pub generated: BTreeMap<String, String>,
}

#[async_trait]
impl Artifact for FileArtifact {
    fn builder_id(&self) -> String {
        self.builder_id.clone()
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn string(&self) -> String {
        self.string.clone()
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        (name == "generated_data").then(|| serde_json::to_value(&self.generated).ok())?
    }
    async fn destroy(&self) -> crate::Result<()> {
        for f in &self.files {
            let p = std::path::Path::new(f);
            let r = match self.removal {
                Removal::Keep => return Ok(()),
                Removal::All if p.is_dir() && !p.is_symlink() => std::fs::remove_dir_all(p),
                _ => std::fs::remove_file(p),
            };
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::Error::msg(format!("removing {f}: {e}"))),
            }
        }
        Ok(())
    }
}
