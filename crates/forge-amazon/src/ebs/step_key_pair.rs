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
