//! StepDownloadGuestAdditions: the guest additions ISO, through forge-commonsteps' download
//! and cache (whose StepDownload fetches the source).

use async_trait::async_trait;
use forge_commonsteps::StepDownload;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::config::GuestAdditionsMode;
use super::{fail, State};

/// Downloads `urls` (checked against `checksum`: a Packer checksum spec, `none` for none)
/// and returns the local file.
async fn fetch(
    ctx: &BuildCtx,
    description: &str,
    extension: &str,
    url: String,
    checksum: &str,
) -> Result<String> {
    StepDownload {
        retrieving: description.into(),
        description: description.into(),
        extension: extension.into(),
        urls: vec![url],
        checksum: checksum.into(),
        target_path: None,
    }
    .fetch(ctx)
    .await
}

/// Where VirtualBox publishes a release's files.
const DOWNLOADS: &str = "https://download.virtualbox.org/virtualbox";

/// The guest additions ISO, unless `guest_additions_mode` is `disable`: from
/// `guest_additions_url` (`{{ .Version }}` is VirtualBox's), else the ISO VirtualBox ships,
/// else VirtualBox's download site (checked against its SHA256SUMS).
pub struct StepDownloadGuestAdditions {
    /// `guest_additions_mode`.
    pub mode: GuestAdditionsMode,
    /// `guest_additions_url`.
    pub url: String,
    /// `guest_additions_sha256`.
    pub sha256: String,
}

#[async_trait]
impl Step<State> for StepDownloadGuestAdditions {
    fn name(&self) -> &'static str {
        "StepDownloadGuestAdditions"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.mode == GuestAdditionsMode::Disable {
            tracing::info!("Not downloading guest additions since it is disabled.");
            return Ok(());
        }
        let mut version = st.driver.version().await.map_err(|e| {
            Error::msg(format!(
                "Error reading version for guest additions download: {e}"
            ))
        })?;
        // Releases whose additions were never published under their own number.
        version = match version.as_str() {
            "4.2.1" => "4.2.0".into(),
            "4.1.23" => "4.1.22".into(),
            _ => version,
        };
        let name = format!("VBoxGuestAdditions_{version}.iso");
        let mut url =
            forge_core::render::render(&self.url, &Default::default(), &[("Version", &version)])
                .map_err(|e| fail(ctx, format!("Error preparing guest additions url: {e}")))?;
        let mut checksum = "none".to_string();
        let mut from_site = true;
        if url.is_empty() {
            match st.driver.iso().await {
                Ok(iso) => {
                    url = iso;
                    from_site = false;
                }
                Err(e) => {
                    ctx.ui.error(&e.to_string());
                    url = format!("{DOWNLOADS}/{version}/{name}");
                }
            }
        }
        if from_site {
            checksum = if self.sha256.is_empty() {
                self.published_sha256(ctx, &version, &name).await?
            } else {
                self.sha256.clone()
            };
        }
        tracing::info!("Guest additions URL: {url}");
        let path = fetch(ctx, "Guest additions", "iso", url, &checksum).await?;
        st.guest_additions_path = Some(path);
        Ok(())
    }
}

impl StepDownloadGuestAdditions {
    /// The SHA-256 VirtualBox publishes for `name`.
    async fn published_sha256(&self, ctx: &BuildCtx, version: &str, name: &str) -> Result<String> {
        let sums = fetch(
            ctx,
            "Guest additions checksums",
            "",
            format!("{DOWNLOADS}/{version}/SHA256SUMS"),
            "none",
        )
        .await?;
        let text = std::fs::read_to_string(&sums)
            .map_err(|e| Error::msg(format!("Error opening guest addition checksums: {e}")))?;
        find_sum(&text, name).ok_or_else(|| {
            Error::msg(format!(
                "The checksum for the file '{name}' could not be found."
            ))
        })
    }
}

/// The sum of the line naming `name` in a SHA256SUMS file (`<sum> *<name>`).
fn find_sum(sums: &str, name: &str) -> Option<String> {
    sums.lines().find_map(|l| {
        let parts: Vec<&str> = l.split_whitespace().collect();
        (parts.len() == 2 && parts[1].ends_with(name)).then(|| parts[0].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::state;

    #[test]
    fn sums() {
        let t = "abc *VBoxGuestAdditions_7.0.20.iso\ndef *Other.iso\n";
        assert_eq!(
            find_sum(t, "VBoxGuestAdditions_7.0.20.iso").as_deref(),
            Some("abc")
        );
        assert_eq!(find_sum(t, "VBoxGuestAdditions_6.iso"), None);
    }

    #[tokio::test]
    async fn guest_additions_from_the_iso_virtualbox_ships_or_not_at_all() {
        let (mut st, f, ctx) = state("");
        let mut off = StepDownloadGuestAdditions {
            mode: GuestAdditionsMode::Disable,
            url: String::new(),
            sha256: String::new(),
        };
        off.run(&ctx, &mut st).await.unwrap();
        assert!(f.calls().is_empty() && st.guest_additions_path.is_none());
        let dir = std::env::temp_dir().join(format!("vbox-ga-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let iso = dir.join("VBoxGuestAdditions_7.0.20.iso");
        std::fs::write(&iso, "iso").unwrap();
        let mut s = StepDownloadGuestAdditions {
            mode: GuestAdditionsMode::Upload,
            url: format!(
                "{}/VBoxGuestAdditions_{{{{ .Version }}}}.iso",
                dir.display()
            ),
            // sha256sum of the three bytes "iso".
            sha256: "e0e4548df88a35d5854d052281c5deedad16f286f82cb2c23f2f9dea494834ac".into(),
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            st.guest_additions_path.as_deref(),
            Some(iso.to_str().unwrap())
        );
        assert_eq!(f.calls_of("--version").len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
