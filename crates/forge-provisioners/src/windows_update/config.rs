//! The `windows-update` provisioner's configuration and defaults (rgl/packer-plugin-windows-update
//! `Prepare`).

use std::time::Duration;

use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::common::go::GoDuration;

/// The plugin's `restart_timeout`.
pub const DEFAULT_RESTART_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
/// The plugin's `username`: the task runs as the local system account.
pub const DEFAULT_USERNAME: &str = "SYSTEM";
/// The plugin's `update_limit`.
pub const DEFAULT_UPDATE_LIMIT: i64 = 1000;
/// The plugin's `update_max_retries`.
pub const DEFAULT_UPDATE_MAX_RETRIES: i64 = 5;

/// How long the loops pause between tries (the plugin's 5 s; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Intervals {
    /// Between tries of the update run and of each restart step.
    pub retry: Duration,
    /// Between tries of the uploads.
    pub upload_retry: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            retry: Duration::from_secs(5),
            upload_retry: Duration::from_secs(2),
        }
    }
}

/// The configuration, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// `restart_timeout`: how long each restart step may be retried (default 4h).
    pub restart_timeout: Duration,
    /// `username` the scheduled task runs as (default `SYSTEM`).
    pub username: String,
    /// `password` of `username` (empty for the system account).
    pub password: String,
    /// `search_criteria` (empty: the script's default, `BrowseOnly=0 and IsInstalled=0`).
    pub search_criteria: String,
    /// `filters` (`None`: the script's default, `include:$true`).
    pub filters: Option<Vec<String>>,
    /// `update_limit` (default 1000).
    pub update_limit: i64,
    /// `update_max_retries` (default 5).
    pub update_max_retries: i64,
    /// Pauses between tries.
    pub(crate) intervals: Intervals,
}

impl Config {
    /// Decodes; applies the plugin's defaults.
    pub fn prepare(v: &Value, _info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let c: forge_template::schema::plugins::WindowsUpdateProvisioner = decode(v)?;
        let timeout = GoDuration::parse("restart_timeout", c.restart_timeout.as_deref())
            .map_err(|e| vec![forge_template::schema::weak::summary(&[e])])?;
        let non_zero = |n: Option<i64>, d: i64| n.filter(|n| *n != 0).unwrap_or(d);
        Ok(Config {
            restart_timeout: if timeout.is_zero() {
                DEFAULT_RESTART_TIMEOUT
            } else {
                timeout.wait()
            },
            username: c
                .username
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| DEFAULT_USERNAME.into()),
            password: c.password.unwrap_or_default(),
            search_criteria: c.search_criteria.unwrap_or_default(),
            filters: c.filters,
            update_limit: non_zero(c.update_limit, DEFAULT_UPDATE_LIMIT),
            update_max_retries: non_zero(c.update_max_retries, DEFAULT_UPDATE_MAX_RETRIES),
            intervals: Intervals::default(),
        })
    }
}
