//! The VirtualBox builders' artifact: the files of the output directory (Packer's Id `VM`,
//! BuilderId `mitchellh.virtualbox`).

use async_trait::async_trait;
use forge_core::artifact::Artifact;

/// Packer's builder id for every VirtualBox builder.
pub const BUILDER_ID: &str = "mitchellh.virtualbox";

/// The built VM.
pub struct VirtualBoxArtifact {
    /// The output directory.
    pub dir: String,
    /// Every file in it, sorted.
    pub files: Vec<String>,
}

impl VirtualBoxArtifact {
    /// The artifact of the files under `dir`.
    pub fn of_dir(dir: &str) -> VirtualBoxArtifact {
        let mut files = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p.to_string_lossy().into_owned());
                }
            }
        }
        files.sort();
        VirtualBoxArtifact {
            dir: dir.into(),
            files,
        }
    }
}

#[async_trait]
impl Artifact for VirtualBoxArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.into()
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
    async fn destroy(&self) -> forge_core::Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| forge_core::Error::msg(format!("removing {}: {e}", self.dir)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_the_output_directory() {
        let d = std::env::temp_dir().join(format!("vbox-art-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("vm.ovf"), "").unwrap();
        std::fs::write(d.join("sub/disk.vmdk"), "").unwrap();
        let a = VirtualBoxArtifact::of_dir(&d.to_string_lossy());
        assert_eq!(a.files.len(), 2);
        assert!(a.files[1].ends_with("vm.ovf") && a.files[0].ends_with("disk.vmdk"));
        assert_eq!(a.builder_id(), "mitchellh.virtualbox");
        assert_eq!(a.id(), "VM");
        a.destroy().await.unwrap();
        assert!(!d.exists());
    }
}
