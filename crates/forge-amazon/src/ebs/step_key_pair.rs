//! StepKeyPair: the instance's key pair. With no key, password or agent configured, a
//! temporary key pair is created in EC2 (its private key becomes the build's temporary key)
//! and deleted at cleanup; `ssh_keypair_name` uses an existing one.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::{BuildCtx, TempKey};
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::journal;

pub(super) struct StepKeyPair {
    pub record: Option<Resource>,
}

#[async_trait]
impl Step<State> for StepKeyPair {
    fn name(&self) -> &'static str {
        "StepKeyPair"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if !c.ssh_keypair_name.is_empty() {
            ctx.ui
                .say(&format!("Using SSH keypair: {}", c.ssh_keypair_name));
            st.key_name = c.ssh_keypair_name.clone();
            return Ok(());
        }
        let Some(name) = c.temp_key_name.clone() else {
            return Ok(());
        };
        ctx.ui.say(&format!("Creating temporary keypair: {name}"));
        let mut rec = journal::intend(ctx, &c.access, journal::KEY_PAIR, &c.access.region, &name)?;
        let material = match st
            .ec2
            .create_key_pair(
                &name,
                &c.temp_key_type,
                &State::tagged(ctx, &Default::default()),
            )
            .await
        {
            Ok(m) => m,
            Err(e) => {
                journal::gone(ctx, &rec);
                return Err(Error::msg(format!("Error creating temporary keypair: {e}")));
            }
        };
        journal::created(ctx, &mut rec, &name);
        self.record = Some(rec);
        ctx.ui.output().redactor().add(&material);
        let public = forge_comm::ssh::keygen::public_key_of(&material, &name)?;
        st.key_name = name.clone();
        st.temp_key = Some(TempKey {
            name,
            public,
            private: material,
        });
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        let Some(rec) = journal::to_clean_up(ctx, &mut self.record) else {
            return Ok(());
        };
        ctx.ui.say("Deleting temporary keypair...");
        match st.ec2.delete_key_pair(&rec.id).await {
            Ok(()) => journal::gone(ctx, &rec),
            Err(e) if e.is_not_found() => journal::gone(ctx, &rec),
            Err(e) => ctx.ui.error(&format!(
                "Error cleaning up keypair. Please delete the key manually: {} ({e})",
                rec.id
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{ops_only, run_tag, Fail, Fx};
    use serde_json::json;

    fn ssh() -> serde_json::Value {
        json!({"communicator": "ssh", "ssh_username": "ubuntu", "temporary_key_pair_type": "ed25519"})
    }

    #[tokio::test]
    async fn a_temporary_key_pair_is_made_and_removed_at_cleanup() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(ssh()).await).await;
        let mut step = StepKeyPair { record: None };
        step.run(&fx.ctx, &mut st).await.unwrap();
        let name = st.key_name.clone();
        assert!(name.starts_with("packer_"), "{name}");
        let key = st.temp_key.clone().unwrap();
        assert!(key.public.starts_with("ssh-ed25519 "), "{}", key.public);
        assert_eq!(fx.cloud.ops(), [format!("CreateKeyPair {name}")]);
        assert_eq!(fx.cloud.leftovers(), [format!("key pair {name}")]);
        step.cleanup(&fx.ctx, &mut st, Default::default())
            .await
            .unwrap();
        assert_eq!(
            fx.cloud.ops(),
            [
                format!("CreateKeyPair {name}"),
                format!("DeleteKeyPair {name}")
            ]
        );
        assert!(fx.said().contains("Deleting temporary keypair..."));
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn the_key_pair_carries_the_run_tag() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(ssh()).await).await;
        let mut step = StepKeyPair { record: None };
        step.run(&fx.ctx, &mut st).await.unwrap();
        let (k, v) = run_tag();
        let found = st.ec2.key_pairs_tagged(&k, &v).await.unwrap();
        assert_eq!(found, [st.key_name.clone()]);
    }

    #[tokio::test]
    async fn a_named_key_pair_is_used_and_never_deleted() {
        let fx = Fx::new();
        let extra = json!({"communicator": "ssh", "ssh_username": "u",
            "ssh_keypair_name": "mine", "ssh_agent_auth": true});
        let mut st = fx.state(fx.config(extra).await).await;
        let r = fx
            .run(
                &mut st,
                vec![Box::new(StepKeyPair { record: None }), Box::new(Fail)],
            )
            .await;
        assert!(r.is_err());
        assert_eq!(st.key_name, "mine");
        assert!(st.temp_key.is_none());
        assert_eq!(ops_only(&fx.cloud), Vec::<&str>::new());
    }

    #[tokio::test]
    async fn a_refused_key_pair_fails_the_step_and_deletes_nothing() {
        let fx = Fx::new();
        fx.cloud
            .fail("CreateKeyPair", "UnauthorizedOperation", None);
        let mut st = fx.state(fx.config(ssh()).await).await;
        let r = fx
            .run(&mut st, vec![Box::new(StepKeyPair { record: None })])
            .await;
        assert_eq!(
            r.unwrap_err().to_string(),
            "Error creating temporary keypair: EC2 CreateKeyPair: UnauthorizedOperation: injected by the test"
        );
        assert_eq!(ops_only(&fx.cloud), ["CreateKeyPair"]);
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_failed_deletion_is_reported_and_left_in_the_journal() {
        let fx = Fx::new();
        fx.cloud
            .fail("DeleteKeyPair", "UnauthorizedOperation", None);
        let mut st = fx.state(fx.config(ssh()).await).await;
        let r = fx
            .run(
                &mut st,
                vec![Box::new(StepKeyPair { record: None }), Box::new(Fail)],
            )
            .await;
        assert!(r.is_err());
        assert!(
            fx.said().contains(&format!(
                "Error cleaning up keypair. Please delete the key manually: {}",
                st.key_name
            )),
            "{}",
            fx.said()
        );
        assert_eq!(fx.cloud.leftovers(), [format!("key pair {}", st.key_name)]);
        assert_eq!(
            fx.journaled(),
            [format!("{} {}", journal::KEY_PAIR, st.key_name)]
        );
    }
}
