//! `docker-push`: pushes the image and each of docker-tag's tags, with the login credentials
//! sent to the engine for the push (Packer's `docker login` into a temporary config dir).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptions;
use forge_core::artifact::Artifact;
use forge_core::plugin::{BuildCtx, PostProcessed, PostProcessor, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;
use futures_util::StreamExt;

use super::artifact::ImageArtifact;
use super::config::PushConfig;
use super::{engine_error, IMPORT_ID, TAG_ID};

/// The configured post-processor.
pub struct Push {
    cfg: PushConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    _info: &PrepareInfo,
) -> std::result::Result<Box<dyn PostProcessor>, PrepareErrors> {
    Ok(Box::new(Push {
        cfg: PushConfig::from_value(v)?,
    }))
}

#[async_trait]
impl PostProcessor for Push {
    async fn post_process(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed> {
        let bid = input.builder_id();
        if bid != IMPORT_ID && bid != TAG_ID {
            return Err(Error::msg(format!(
                "Unknown artifact type: {bid}\nCan only import from docker-import and docker-tag \
                 artifacts."
            )));
        }
        if self.cfg.ecr_login {
            return Err(Error::msg(
                "ecr_login is not supported by forge's docker-push yet: set login = true with \
                 login_username/login_password (e.g. from `aws ecr get-login-password`)",
            ));
        }
        let creds = self.cfg.login.then(|| {
            ui.message("Logging in...");
            DockerCredentials {
                username: Some(self.cfg.login_username.clone()),
                password: Some(self.cfg.login_password.clone()),
                serveraddress: Some(self.cfg.login_server.clone()),
                ..Default::default()
            }
        });
        let docker = super::connect()?;
        let tags = ImageArtifact::tags_of(input.as_ref());
        let mut names = vec![input.id()];
        names.extend(tags.iter().cloned());
        for name in &names {
            ui.message(&format!("Pushing: {name}"));
            super::cancellable(ctx, self.push(&docker, ui, name, creds.clone())).await?;
        }
        let digest = match docker.inspect_image(&names[0]).await {
            Ok(i) => i
                .repo_digests
                .unwrap_or_default()
                .into_iter()
                .next()
                .map(|d| d.rsplit('@').next().unwrap_or_default().to_string())
                .unwrap_or_default(),
            Err(_) => {
                ui.message("Unable to determine digest for source image, ignoring it for now");
                String::new()
            }
        };
        if self.cfg.login {
            ui.message("Logging out...");
        }
        let mut generated = ImageArtifact::generated_of(input.as_ref());
        generated.insert("Digest".into(), digest.into());
        let artifact = ImageArtifact {
            builder_id: IMPORT_ID.into(),
            id: names[0].clone(),
            tags,
            generated,
        };
        Ok(PostProcessed {
            artifact: Some(Arc::new(artifact)),
            keep: true,
            force_override: false,
        })
    }
}

impl Push {
    /// Pushes one `name[:tag]`, with a progress bar over the layers' bytes.
    async fn push(
        &self,
        docker: &bollard::Docker,
        ui: &Ui,
        name: &str,
        creds: Option<DockerCredentials>,
    ) -> Result<()> {
        let (repo, tag) = super::split_reference(name);
        let opts = PushImageOptions {
            tag: tag.map(str::to_string),
            platform: (!self.cfg.platform.is_empty()).then(|| self.cfg.platform.clone()),
        };
        let pb = ui.progress(0, &format!("pushing {name}"));
        // Layers by size (the API's messages carry no layer id): bytes sent so far.
        let mut layers: HashMap<i64, i64> = HashMap::new();
        let mut s = docker.push_image(repo, Some(opts), creds);
        while let Some(m) = s.next().await {
            let m = m.map_err(|e| push_error(name, &self.cfg, &e))?;
            if let Some(p) = m.progress_detail {
                if let (Some(cur), Some(total)) = (p.current, p.total) {
                    layers.insert(total, cur.min(total));
                    pb.set_length(layers.keys().sum::<i64>().max(0) as u64);
                    pb.set_position(layers.values().sum::<i64>().max(0) as u64);
                }
            }
            if let Some(st) = m.status {
                if st.contains("digest:") || st.starts_with("The push refers to") {
                    ui.message(&st);
                }
            }
        }
        pb.finish_and_clear();
        Ok(())
    }
}

/// The engine's push failure, with what to check when the registry refused the credentials.
fn push_error(name: &str, cfg: &PushConfig, e: &bollard::errors::Error) -> Error {
    let msg = engine_error(e);
    let lower = msg.to_lowercase();
    let hint = if lower.contains("unauthorized")
        || lower.contains("authentication required")
        || lower.contains("denied")
        || lower.contains("no basic auth credentials")
    {
        if cfg.login {
            format!(
                "\nThe registry rejected the credentials of {:?}: check login_username and \
                 login_password (login_server {:?}).",
                cfg.login_username, cfg.login_server
            )
        } else {
            "\nThe registry needs credentials: set login = true with login_server, \
             login_username and login_password."
                .to_string()
        }
    } else {
        String::new()
    };
    Error::msg(format!("Error pushing {name}: {msg}{hint}"))
}
