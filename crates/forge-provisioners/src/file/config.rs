//! The `file` provisioner's configuration and Packer's checks (provisioner/file/provisioner.go
//! `Prepare`).

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::go::os_error;

/// Which way files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From this machine to the one being built (the default).
    Upload,
    /// From the machine being built to this one.
    Download,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sources`, then `source` (Packer appends it last).
    pub sources: Vec<String>,
    /// `content`, when set and not empty: uploaded from a local temporary file.
    pub content: Option<String>,
    /// `destination`.
    pub destination: String,
    /// `direction`.
    pub direction: Direction,
    /// `generated`: sources are only looked for when they are uploaded.
    pub generated: bool,
}

impl Config {
    /// Decodes and checks; every error at once.
    pub fn prepare(v: &Value, _info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::FileProvisioner = decode(v)?;
        let mut errs = Vec::new();
        let direction = match c.direction.as_deref().unwrap_or_default() {
            "" | "upload" => Some(Direction::Upload),
            "download" => Some(Direction::Download),
            _ => {
                errs.push("Direction must be one of: download, upload.".to_string());
                None
            }
        };
        let generated = c.generated.unwrap_or(false);
        let mut sources = c.sources.unwrap_or_default();
        if let Some(s) = c.source.filter(|s| !s.is_empty()) {
            sources.push(s);
        }
        if direction == Some(Direction::Upload) && !generated {
            for src in &sources {
                if let Err(e) = std::fs::metadata(src) {
                    errs.push(format!("Bad source '{src}': {}", os_error("stat", src, &e)));
                }
            }
        }
        let content_set = c.content.is_some();
        let content = c.content.filter(|s| !s.is_empty());
        if !sources.is_empty() && content.is_some() {
            errs.push("source(s) conflicts with content.".to_string());
        } else if sources.is_empty() && !content_set {
            // Packer 1.6.6's check, from before `content` existed; an empty `content` (say,
            // a template that rendered to nothing) still means "nothing to upload".
            errs.push("Source must be specified.".to_string());
        }
        if content.is_some() && direction == Some(Direction::Download) {
            errs.push(
                "content can only be uploaded: it cannot be used with direction \"download\"."
                    .to_string(),
            );
        }
        let destination = c.destination.unwrap_or_default();
        if destination.is_empty() {
            errs.push("Destination must be specified.".to_string());
        }
        match direction {
            Some(direction) if errs.is_empty() => Ok(Config {
                sources,
                content,
                destination,
                direction,
                generated,
            }),
            _ => Err(errs),
        }
    }
}
