//! The `export` and `content_library_destination` blocks, with packer-plugin-vsphere's defaults
//! and checks (common/step_export.go, output_config.go, step_import_to_content_library.go).

use std::path::PathBuf;

use forge_core::plugin::PrepareInfo;
use forge_template::schema::plugins::{
    ContentLibraryDestinationConfig, ExportConfig, LocationConfig,
};

/// The blocks as either builder's schema type holds them.
pub struct Blocks<'a> {
    /// The builder's type, for messages.
    pub builder: &'a str,
    /// `export`.
    pub export: Option<&'a ExportConfig>,
    /// `content_library_destination`.
    pub library: Option<&'a ContentLibraryDestinationConfig>,
    /// Where the VM is built (the library item's default place).
    pub location: &'a LocationConfig,
}

/// The blocks of a decoded `VsphereCloneBuilder` or `VsphereIsoBuilder`.
macro_rules! blocks {
    ($a:expr, $builder:expr) => {
        super::config_export::Blocks {
            builder: $builder,
            export: $a.export.as_ref(),
            library: $a.content_library_destination.as_ref(),
            location: &$a.location_config,
        }
    };
}
pub(super) use blocks;

/// Reads both blocks; nested arguments not carried out yet go to `unsupported`.
pub fn prepare(
    a: Blocks<'_>,
    vm_name: &str,
    info: &PrepareInfo,
    errs: &mut Vec<String>,
    unsupported: &mut Vec<String>,
) -> (Option<Export>, Option<Library>) {
    let builder = a.builder;
    let export = a.export.map(|e| {
        if e.directory_permission.is_some() {
            unsupported.push(format!(
                "export.directory_permission: not supported yet by forge's {builder} builder"
            ));
        }
        export(e, vm_name, info, errs)
    });
    let lc = a.location;
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let (cluster, host, pool) = (s(&lc.cluster), s(&lc.host), s(&lc.resource_pool));
    let at = Location {
        vm_name,
        cluster: &cluster,
        host: &host,
        resource_pool: &pool,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let library = a.library.map(|c| {
        if c.ovf_flags.is_some() {
            unsupported.push(format!(
                "content_library_destination.ovf_flags: not supported yet by forge's \
                 {builder} builder"
            ));
        }
        library(c, &at, now, errs)
    });
    (export, library)
}

/// Hash of the export's manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manifest {
    /// No manifest.
    None,
    /// `SHA1(file)= hex`.
    Sha1,
    /// `SHA256(file)= hex` (the default).
    Sha256,
    /// `SHA512(file)= hex`.
    Sha512,
}

impl Manifest {
    /// The name as the manifest's lines write it (`SHA256`).
    pub fn label(self) -> &'static str {
        match self {
            Manifest::None => "NONE",
            Manifest::Sha1 => "SHA1",
            Manifest::Sha256 => "SHA256",
            Manifest::Sha512 => "SHA512",
        }
    }
}

/// `export`.
#[derive(Clone, Debug)]
pub struct Export {
    /// `name` (default: `vm_name`): the files are `<name>.ovf`, `<name>.mf`,
    /// `<name>-disk-0.vmdk`, or `<name>.ova`.
    pub name: String,
    /// `force`: overwrite an existing export.
    pub force: bool,
    /// `image_files`: also the VM's nvram, ISO and floppy images, not only its disks.
    pub image_files: bool,
    /// `manifest` (default sha256).
    pub manifest: Manifest,
    /// `output_directory` (default `output-<build name>`).
    pub output_dir: PathBuf,
    /// `options`: advanced export options (`mac`, `uuid`, `extraconfig`, `nodevicesubtypes`).
    pub options: Vec<String>,
    /// `output_format` `ova`: one tar archive instead of loose files.
    pub ova: bool,
}

impl Export {
    /// The descriptor's (or archive's) path.
    pub fn target(&self) -> PathBuf {
        let ext = if self.ova { "ova" } else { "ovf" };
        self.output_dir.join(format!("{}.{ext}", self.name))
    }
}

/// Reads `export`, adding problems to `errs`.
pub fn export(
    e: &ExportConfig,
    vm_name: &str,
    info: &PrepareInfo,
    errs: &mut Vec<String>,
) -> Export {
    let manifest = match e.manifest.as_deref().unwrap_or("") {
        "" | "sha256" => Manifest::Sha256,
        "none" => Manifest::None,
        "sha1" => Manifest::Sha1,
        "sha512" => Manifest::Sha512,
        m => {
            errs.push(format!(
                "unknown hash: {m}: available options include available options being 'none', \
                 'sha1', 'sha256', 'sha512'"
            ));
            Manifest::Sha256
        }
    };
    let ova = match e.output_format.as_deref().unwrap_or("") {
        "" | "ovf" => false,
        "ova" => true,
        f => {
            errs.push(format!(
                "export: unknown output_format {f:?}: use \"ovf\" or \"ova\""
            ));
            false
        }
    };
    let name = e
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| vm_name.to_string());
    let output_dir = PathBuf::from(
        e.output_directory
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format!("output-{}", info.build_name)),
    );
    let x = Export {
        name,
        force: e.force.unwrap_or(false),
        image_files: e.image_files.unwrap_or(false),
        manifest,
        output_dir,
        options: e.options.clone().unwrap_or_default(),
        ova,
    };
    let target = x.target();
    if !x.force && target.exists() {
        errs.push(format!("file already exists: {}", target.display()));
    }
    x
}

/// `content_library_destination`.
#[derive(Clone, Debug)]
pub struct Library {
    /// `library`: the library's name.
    pub library: String,
    /// `name`: the item's name (a VM template: `vm_name` + a timestamp; OVF: `vm_name`).
    pub name: String,
    /// `description`.
    pub description: String,
    /// `cluster` (VM template placement; default: the build's).
    pub cluster: String,
    /// `folder` (default: the VM's folder).
    pub folder: String,
    /// `host` (default: the build's).
    pub host: String,
    /// `resource_pool` (default: the build's).
    pub resource_pool: String,
    /// `datastore` (default: the library's storage).
    pub datastore: String,
    /// `destroy`: remove the VM once imported.
    pub destroy: bool,
    /// `ovf`: an OVF template instead of a VM template.
    pub ovf: bool,
    /// `skip_import`.
    pub skip_import: bool,
}

/// The location the VM template defaults to.
pub struct Location<'a> {
    /// `vm_name`.
    pub vm_name: &'a str,
    /// `cluster`.
    pub cluster: &'a str,
    /// `host`.
    pub host: &'a str,
    /// `resource_pool`.
    pub resource_pool: &'a str,
}

/// Reads `content_library_destination`, adding problems to `errs`. `now` is the Unix time for
/// the default name of a VM template.
pub fn library(
    c: &ContentLibraryDestinationConfig,
    at: &Location<'_>,
    now: i64,
    errs: &mut Vec<String>,
) -> Library {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let library = s(&c.library);
    if library.is_empty() {
        errs.push("a library name must be provided".into());
    }
    let ovf = c.ovf.unwrap_or(false);
    let mut l = Library {
        library,
        name: s(&c.name),
        description: s(&c.description),
        cluster: s(&c.cluster),
        folder: s(&c.folder),
        host: s(&c.host),
        resource_pool: s(&c.resource_pool),
        datastore: s(&c.datastore),
        destroy: c.destroy.unwrap_or(false),
        ovf,
        skip_import: c.skip_import.unwrap_or(false),
    };
    let or = |v: &mut String, d: &str| {
        if v.is_empty() {
            *v = d.to_string();
        }
    };
    if ovf {
        or(&mut l.name, at.vm_name);
    } else {
        if l.name == at.vm_name {
            errs.push(
                "the content library destination name must be different from the VM name".into(),
            );
        }
        or(&mut l.name, &format!("{}{now}", at.vm_name));
        or(&mut l.cluster, at.cluster);
        or(&mut l.host, at.host);
        or(&mut l.resource_pool, at.resource_pool);
        or(
            &mut l.description,
            &format!("Packer imported {} VM template", at.vm_name),
        );
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PrepareInfo {
        forge_core::testing::info("vsphere-clone")
    }

    #[test]
    fn export_defaults() {
        let mut errs = Vec::new();
        let e = export(&ExportConfig::default(), "golden", &info(), &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(e.name, "golden");
        assert_eq!(e.manifest, Manifest::Sha256);
        assert_eq!(e.output_dir, PathBuf::from("output-vsphere-clone"));
        assert_eq!(e.target(), PathBuf::from("output-vsphere-clone/golden.ovf"));
        assert!(!e.ova && !e.image_files && !e.force);
    }

    #[test]
    fn export_checks() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("x.ovf"), "").unwrap();
        let c = ExportConfig {
            name: Some("x".into()),
            manifest: Some("md5".into()),
            output_format: Some("zip".into()),
            output_directory: Some(t.path().display().to_string()),
            ..Default::default()
        };
        let mut errs = Vec::new();
        export(&c, "golden", &info(), &mut errs);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("unknown hash: md5"));
        assert!(errs[1].contains("output_format"));
        assert!(errs[2].starts_with("file already exists: "));
        let forced = ExportConfig {
            force: Some(true),
            ..c.clone()
        };
        let mut errs = Vec::new();
        export(&forced, "golden", &info(), &mut errs);
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn library_defaults() {
        let at = Location {
            vm_name: "golden",
            cluster: "DC0_C0",
            host: "",
            resource_pool: "",
        };
        let mut errs = Vec::new();
        let c = ContentLibraryDestinationConfig {
            library: Some("lib".into()),
            ..Default::default()
        };
        let l = library(&c, &at, 1700000000, &mut errs);
        assert!(errs.is_empty());
        assert_eq!(l.name, "golden1700000000");
        assert_eq!(l.cluster, "DC0_C0");
        assert_eq!(l.description, "Packer imported golden VM template");
        let ovf = ContentLibraryDestinationConfig {
            ovf: Some(true),
            ..c.clone()
        };
        let l = library(&ovf, &at, 1, &mut errs);
        assert_eq!(l.name, "golden");
        assert_eq!(l.description, "");
        let bad = ContentLibraryDestinationConfig {
            name: Some("golden".into()),
            library: None,
            ..Default::default()
        };
        library(&bad, &at, 1, &mut errs);
        assert_eq!(
            errs,
            [
                "a library name must be provided",
                "the content library destination name must be different from the VM name"
            ]
        );
    }
}
