//! The `virtualbox-ovf` configuration (Packer's builder/virtualbox/ovf/config.go): the common
//! VirtualBox fields and the source to import.

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::VirtualboxOvfBuilder;
use forge_template::value::Value;

use crate::common::config::CommonConfig;

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// What every VirtualBox builder has.
    pub common: CommonConfig,
    /// `source_path`: the OVF/OVA, a path or URL.
    pub source_path: String,
    /// `checksum` (empty: none).
    pub checksum: String,
    /// `target_path`.
    pub target_path: Option<String>,
    /// `import_flags`, with `--options <import_opts>` appended.
    pub import_flags: Vec<String>,
    /// `vm_name` (`packer-<build name>-<unix time>`).
    pub vm_name: String,
    /// `keep_registered`.
    pub keep_registered: bool,
    /// `skip_export`.
    pub skip_export: bool,
}

impl Config {
    /// Decodes and checks, returning every problem at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: VirtualboxOvfBuilder = decode(v)?;
        let mut errs = Vec::new();
        let text = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
        let vm_name = text(&a.vm_name).unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("packer-{}-{now}", info.build_name)
        });
        let common = CommonConfig::prepare(&crate::common_args!(a), info, &mut errs);
        let source_path = text(&a.source_path).unwrap_or_default();
        if source_path.is_empty() {
            errs.push("source_path is required".into());
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut import_flags = a.import_flags.clone().unwrap_or_default();
        if let Some(o) = text(&a.import_opts) {
            import_flags.extend(["--options".to_string(), o]);
        }
        Ok(Config {
            common,
            source_path,
            checksum: text(&a.checksum).unwrap_or_default(),
            target_path: text(&a.target_path),
            import_flags,
            vm_name,
            keep_registered: a.keep_registered.unwrap_or(false),
            skip_export: a.skip_export.unwrap_or(false),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use forge_core::comm::CommType;

    pub(crate) fn info() -> PrepareInfo {
        PrepareInfo {
            build_name: "ovf".into(),
            ..forge_core::testing::info("virtualbox-ovf")
        }
    }

    pub(crate) fn value(json: &str) -> Value {
        forge_template::functions::value_from_json(serde_json::from_str(json).unwrap()).unwrap()
    }

    fn prepare(json: &str) -> Result<Config, PrepareErrors> {
        Config::prepare(&value(json), &info())
    }

    #[test]
    fn defaults() {
        let i = info();
        let v = value(
            r#"{"source_path":"box.ova","ssh_username":"u","import_opts":"keepallmacs","import_flags":["--eula","accept"]}"#,
        );
        let c = Config::prepare(&v, &i).unwrap();
        let m = &c.common;
        assert_eq!(m.format, "ovf");
        assert_eq!(m.output_dir, "output-ovf");
        assert_eq!(m.host_ports, (2222, 4444));
        assert_eq!(m.vrdp_ports, (5900, 6000));
        assert_eq!(m.comm_host, "127.0.0.1");
        assert_eq!(m.guest_port, 22);
        assert_eq!(m.comm.kind(), CommType::Ssh);
        assert_eq!(m.version_file, ".vbox_version");
        assert_eq!(m.guest_additions_interface, "ide");
        assert_eq!(m.guest_additions_path, "VBoxGuestAdditions.iso");
        assert_eq!(m.shutdown_timeout.as_secs(), 300);
        assert_eq!(m.post_shutdown_delay.as_secs(), 2);
        assert_eq!(m.boot_wait.as_secs(), 10);
        assert!(c.vm_name.starts_with("packer-ovf-"), "{}", c.vm_name);
        assert_eq!(
            c.import_flags,
            ["--eula", "accept", "--options", "keepallmacs"]
        );
        let w = i.warnings.lock().unwrap().clone();
        assert!(
            w[0].starts_with("A shutdown_command was not specified."),
            "{w:?}"
        );
    }

    #[test]
    fn packers_errors_all_at_once() {
        let e = prepare(
            r#"{"format":"vmdk","vrdp_port_min":7000,"vrdp_port_max":6000,"host_port_min":5000,"host_port_max":4000,
                "guest_additions_mode":"copy","communicator":"none","http_port_min":9,"http_port_max":8,
                "floppy_files":["/nonexistent/f"]}"#,
        )
        .unwrap_err();
        for want in [
            "invalid format, only 'ovf' or 'ova' are allowed",
            "vrdp_port_min must be less than vrdp_port_max",
            "host_port_min must be less than host_port_max",
            "virtualbox_version_file has to be an empty string when communicator = 'none'.",
            "guest_additions_mode is invalid. Must be one of: [disable attach upload]",
            "http_port_min must be less than http_port_max",
            "Bad Floppy disk file '/nonexistent/f': stat /nonexistent/f: no such file or directory",
            "source_path is required",
        ] {
            assert!(e.iter().any(|x| x == want), "missing {want:?} in {e:#?}");
        }
        let e =
            prepare(r#"{"source_path":"x","communicator":"none","virtualbox_version_file":""}"#)
                .unwrap_err();
        assert_eq!(
            e,
            ["communicator must not be 'none' when guest_additions_mode = 'upload'."]
        );
        let c = prepare(r#"{"source_path":"x","communicator":"none","virtualbox_version_file":"","guest_additions_mode":"disable","ssh_host_port_min":3000,"ssh_host_port_max":3001,"host_port_min":1}"#)
            .unwrap();
        assert_eq!(c.common.host_ports, (3000, 3001));
    }
}
