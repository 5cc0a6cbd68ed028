//! The artifact of a VM builder: the files of its output directory (Packer's Id `VM`).

use async_trait::async_trait;
use forge_core::artifact::Artifact;

/// Every file under `dir`, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A built VM: the files of its output directory.
pub struct VmArtifact {
    /// The builder's Packer id (`transcend.qemu`).
    pub builder_id: String,
    /// The output directory.
    pub dir: String,
    /// Every file in it.
    pub files: Vec<String>,
    /// State for post-processors (`diskName`, ...).
    pub state: serde_json::Map<String, serde_json::Value>,
}

impl VmArtifact {
    /// The artifact of the files under `dir`, without state.
    pub fn of_dir(builder_id: &str, dir: &str) -> VmArtifact {
        VmArtifact {
            builder_id: builder_id.into(),
            dir: dir.into(),
            files: files_under(std::path::Path::new(dir)),
            state: serde_json::Map::new(),
        }
    }
}

#[async_trait]
impl Artifact for VmArtifact {
    fn builder_id(&self) -> String {
        self.builder_id.clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_the_output_directory() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("vm.ovf"), "").unwrap();
        std::fs::write(d.join("sub/disk.vmdk"), "").unwrap();
        let mut a = VmArtifact::of_dir("mitchellh.virtualbox", &d.to_string_lossy());
        assert_eq!(a.files.len(), 2);
        assert!(a.files[1].ends_with("vm.ovf") && a.files[0].ends_with("disk.vmdk"));
        assert_eq!(a.builder_id(), "mitchellh.virtualbox");
        assert_eq!(a.id(), "VM");
        assert_eq!(
            a.string(),
            format!("VM files in directory: {}", d.display())
        );
        assert_eq!(a.state("diskName"), None);
        a.state.insert("diskName".into(), "disk".into());
        assert_eq!(a.state("diskName"), Some("disk".into()));
        a.destroy().await.unwrap();
        assert!(!d.exists());
    }
}
