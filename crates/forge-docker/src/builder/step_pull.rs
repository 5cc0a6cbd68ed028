//! StepPull: pulls the source image (with registry credentials when `login` is set) and records
//! its sha256 and digest.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use crate::driver::Auth;

pub(super) struct StepPull;

#[async_trait]
impl Step<State> for StepPull {
    fn name(&self) -> &'static str {
        "StepPull"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = &st.config;
        let image = c.image().to_string();
        ctx.ui.say(&format!("Pulling Docker image: {image}"));
        let a = &c.args;
        let auth = login(ctx, c);
        let platform = a.platform.clone().filter(|p| !p.is_empty());
        let r = st
            .driver
            .pull(ctx, &image, platform.as_deref(), auth.as_ref())
            .await;
        if let Err(Error::Msg(m)) = r {
            ctx.ui.message(&m);
            let e = format!(
                "Error pulling Docker image: {m} (step StepPull; set \"pull\": false to use a local image)"
            );
            ctx.ui.error(&e);
            return Err(Error::msg(e));
        }
        r?;
        if let Some(i) = st.driver.inspect_image(&image).await? {
            st.generated
                .insert("SourceImageSha256".into(), i.id.clone());
            if let Some(d) = i.digest {
                st.generated.insert("SourceImageDigest".into(), d);
            }
        }
        Ok(())
    }
}

/// The registry credentials when `login` is set (registered as a secret, "Logging in...").
pub(super) fn login(ctx: &BuildCtx, c: &super::Config) -> Option<Auth> {
    let a = &c.args;
    let auth = a.login.unwrap_or(false).then(|| Auth {
        server: a.login_server.clone().unwrap_or_default(),
        username: a.login_username.clone().unwrap_or_default(),
        password: a.login_password.clone().unwrap_or_default(),
    })?;
    ctx.ui.output().redactor().add(&auth.password);
    ctx.ui.message("Logging in...");
    Some(auth)
}
