//! The four configurations, decoded from the generated schema structs with Packer's checks.
//! `docker_path` is accepted and unused: forge talks to the engine's API, not to the CLI.

use forge_core::registry::{decode, PrepareErrors};
use forge_template::schema::plugins::{
    DockerImportPostProcessor, DockerPushPostProcessor, DockerSavePostProcessor,
    DockerTagPostProcessor,
};
use forge_template::value::Value;

/// `docker-import`.
#[derive(Debug, Clone, Default)]
pub struct ImportConfig {
    /// `repository`.
    pub repository: String,
    /// `tag`.
    pub tag: String,
    /// `changes`: Dockerfile instructions applied on import.
    pub changes: Vec<String>,
    /// `platform`.
    pub platform: String,
}

impl ImportConfig {
    /// Decodes `v` (Packer checks nothing more).
    pub fn from_value(v: &Value) -> Result<ImportConfig, PrepareErrors> {
        let c: DockerImportPostProcessor = decode(v)?;
        Ok(ImportConfig {
            repository: c.repository.unwrap_or_default(),
            tag: c.tag.unwrap_or_default(),
            changes: c.changes.unwrap_or_default(),
            platform: c.platform.unwrap_or_default(),
        })
    }

    /// `repository[:tag]`, the image's reference and the artifact's id.
    pub fn reference(&self) -> String {
        if self.tag.is_empty() {
            self.repository.clone()
        } else {
            format!("{}:{}", self.repository, self.tag)
        }
    }
}

/// `docker-tag`.
#[derive(Debug, Clone, Default)]
pub struct TagConfig {
    /// `repository`.
    pub repository: String,
    /// `tags` followed by the deprecated `tag`.
    pub tags: Vec<String>,
    /// Whether the deprecated `tag` was set (a warning at post-process time, as Packer).
    pub deprecated_tag: bool,
    /// `force` (the engine's API always moves an existing tag).
    pub force: bool,
}

impl TagConfig {
    /// Decodes `v`, merging `tag` into `tags`.
    pub fn from_value(v: &Value) -> Result<TagConfig, PrepareErrors> {
        let c: DockerTagPostProcessor = decode(v)?;
        let old = c.tag.unwrap_or_default();
        let mut tags = c.tags.unwrap_or_default();
        let deprecated_tag = !old.is_empty();
        tags.extend(old);
        Ok(TagConfig {
            repository: c.repository.unwrap_or_default(),
            tags,
            deprecated_tag,
            force: c.force.unwrap_or(false),
        })
    }
}

/// `docker-push`.
#[derive(Debug, Clone, Default)]
pub struct PushConfig {
    /// `login`.
    pub login: bool,
    /// `login_server`.
    pub login_server: String,
    /// `login_username`.
    pub login_username: String,
    /// `login_password`.
    pub login_password: String,
    /// `ecr_login`.
    pub ecr_login: bool,
    /// `platform`.
    pub platform: String,
}

impl PushConfig {
    /// Decodes `v`; `ecr_login` needs `login_server`.
    pub fn from_value(v: &Value) -> Result<PushConfig, PrepareErrors> {
        let c: DockerPushPostProcessor = decode(v)?;
        let cfg = PushConfig {
            login: c.login.unwrap_or(false),
            login_server: c.login_server.unwrap_or_default(),
            login_username: c.login_username.unwrap_or_default(),
            login_password: c.login_password.unwrap_or_default(),
            ecr_login: c.ecr_login.unwrap_or(false),
            platform: c.platform.unwrap_or_default(),
        };
        if cfg.ecr_login && cfg.login_server.is_empty() {
            return Err(vec![
                "ECR login requires login server to be provided.".into()
            ]);
        }
        Ok(cfg)
    }
}

/// `docker-save`.
#[derive(Debug, Clone, Default)]
pub struct SaveConfig {
    /// `path`: where the image's tar goes.
    pub path: String,
}

impl SaveConfig {
    /// Decodes `v` (an empty path fails when the file is created, as in Packer).
    pub fn from_value(v: &Value) -> Result<SaveConfig, PrepareErrors> {
        let c: DockerSavePostProcessor = decode(v)?;
        Ok(SaveConfig {
            path: c.path.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Value {
        crate::fake::value(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn import_reference_is_repository_and_optional_tag() {
        let c = ImportConfig::from_value(&v(
            r#"{"repository":"r/x","changes":["ENV A=1"],"platform":"linux/amd64"}"#,
        ))
        .unwrap();
        assert_eq!(c.reference(), "r/x");
        assert_eq!(c.changes, vec!["ENV A=1"]);
        let c = ImportConfig::from_value(&v(r#"{"repository":"r/x","tag":"1.0"}"#)).unwrap();
        assert_eq!(c.reference(), "r/x:1.0");
    }

    #[test]
    fn tag_merges_the_deprecated_tag_after_tags() {
        let c = TagConfig::from_value(&v(
            r#"{"repository":"r","tags":["a","b"],"tag":["c"],"force":true}"#,
        ))
        .unwrap();
        assert_eq!(c.tags, vec!["a", "b", "c"]);
        assert!(c.deprecated_tag && c.force);
        let c = TagConfig::from_value(&v(r#"{"repository":"r"}"#)).unwrap();
        assert!(c.tags.is_empty() && !c.deprecated_tag && !c.force);
    }

    #[test]
    fn push_ecr_login_needs_a_login_server() {
        let e = PushConfig::from_value(&v(r#"{"ecr_login":true}"#)).unwrap_err();
        assert_eq!(e, vec!["ECR login requires login server to be provided."]);
        let c = PushConfig::from_value(&v(
            r#"{"login":true,"login_server":"127.0.0.1:5000","login_username":"u","login_password":"p"}"#,
        ))
        .unwrap();
        assert!(c.login && !c.ecr_login);
        assert_eq!(c.login_server, "127.0.0.1:5000");
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(TagConfig::from_value(&v(r#"{"force":"maybe"}"#)).is_err());
        assert_eq!(
            SaveConfig::from_value(&v(r#"{"path":"x.tar"}"#))
                .unwrap()
                .path,
            "x.tar"
        );
    }
}
