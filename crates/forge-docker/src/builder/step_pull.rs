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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{config, ctx, image, state, Call, FakeDriver, Op};
    use forge_core::runner::Outcome;
    use serde_json::json;

    #[tokio::test]
    async fn pulls_with_platform_and_login_and_records_the_source_image() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new().in_registry("example/base:1", image("sha256:src"));
        let mut st = state(
            &fake,
            config(
                json!({"image": "example/base:1", "discard": true, "platform": "linux/arm64",
                "login": true, "login_server": "reg.example", "login_username": "u",
                "login_password": "s3cret-pw"}),
            ),
        );
        let mut step = StepPull;
        step.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            fake.calls(),
            [
                Call::Pull {
                    image: "example/base:1".into(),
                    platform: Some("linux/arm64".into()),
                    auth: Some(("reg.example".into(), "u".into())),
                },
                Call::InspectImage("example/base:1".into()),
            ]
        );
        assert_eq!(st.generated["SourceImageSha256"], "sha256:src");
        assert_eq!(st.generated["SourceImageDigest"], "example/base@sha256:10");
        assert!(fake.model().images.contains_key("example/base:1"));
        let out = ui.text();
        assert!(
            out.contains("Pulling Docker image: example/base:1"),
            "{out}"
        );
        assert!(out.contains("Logging in..."), "{out}");
        // The password is a secret from now on.
        ctx.ui.say("the password is s3cret-pw");
        assert!(!ui.text().contains("s3cret-pw"), "{}", ui.text());
        // A pulled image is not this build's to remove.
        step.cleanup(&ctx, &mut st, Outcome::default())
            .await
            .unwrap();
        assert_eq!(fake.ops(), [Op::Pull, Op::InspectImage]);
    }

    #[tokio::test]
    async fn without_login_or_platform_the_pull_has_neither() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new().in_registry("base", image("sha256:b"));
        let mut st = state(&fake, config(json!({"image": "base", "commit": true})));
        StepPull.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            fake.calls()[0],
            Call::Pull {
                image: "base".into(),
                platform: None,
                auth: None
            }
        );
        assert!(!ui.text().contains("Logging in"));
    }

    #[tokio::test]
    async fn a_failed_pull_names_the_image_and_the_way_out_and_stops() {
        let (ctx, ui) = ctx();
        let fake = FakeDriver::new();
        let mut st = state(
            &fake,
            config(json!({"image": "nope/missing:1", "discard": true})),
        );
        let m = StepPull.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(
            m,
            "Error pulling Docker image: pulling nope/missing:1: pull access denied for nope/missing:1, repository does not exist or may require 'docker login' (step StepPull; set \"pull\": false to use a local image)"
        );
        assert!(ui.text().contains(&m));
        // No inspect after a failed pull; nothing was made.
        assert_eq!(fake.ops(), [Op::Pull]);
        assert_eq!(
            st.generated["SourceImageSha256"],
            "ERR_SOURCE_IMAGE_SHA256_NOT_FOUND"
        );
        assert!(fake.model().images.is_empty());
    }

    #[tokio::test]
    async fn an_engine_error_and_a_cancelled_pull() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().in_registry("base", image("sha256:b"));
        fake.fail(
            Op::Pull,
            "toomanyrequests: You have reached your pull rate limit",
        );
        let mut st = state(&fake, config(json!({"image": "base", "discard": true})));
        let m = StepPull.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert!(
            m.starts_with("Error pulling Docker image: pulling base: toomanyrequests"),
            "{m}"
        );
        fake.hang(Op::Pull);
        ctx.cancel.cancel();
        let r = StepPull.run(&ctx, &mut st).await;
        assert_eq!(r, Err(Error::Cancelled));
        assert_eq!(fake.ops(), [Op::Pull, Op::Pull]);
    }

    #[tokio::test]
    async fn inspecting_the_pulled_image_can_fail() {
        let (ctx, _) = ctx();
        let fake = FakeDriver::new().in_registry("base", image("sha256:b"));
        fake.fail(Op::InspectImage, "Cannot connect to the Docker daemon");
        let mut st = state(&fake, config(json!({"image": "base", "discard": true})));
        let m = StepPull.run(&ctx, &mut st).await.unwrap_err().to_string();
        assert_eq!(
            m,
            "inspecting image base: Cannot connect to the Docker daemon"
        );
    }
}
