//! StepTempKey: the build's temporary SSH key pair (Packer's StepSSHKeyGen), made when the
//! configuration gives no password, key or agent; and StepCleanupTempKeys, which removes it
//! from the machine's authorized_keys files when `ssh_clear_authorized_keys` is set.

use async_trait::async_trait;
use forge_template::schema::plugins::Communicator as CommArgs;

use crate::plugin::{BuildCtx, PrepareInfo, Stream, TempKey};
use crate::runner::Step;
use crate::{Error, Result};

use super::ProvisionState;

/// Where a builder keeps its temporary key.
pub trait TempKeyState: Send {
    /// The key, once made.
    fn temp_key(&self) -> Option<&TempKey>;
    /// Stores the key.
    fn set_temp_key(&mut self, k: TempKey);
}

/// Whether the settings ask for a temporary key: ssh with no password, key file or agent.
pub fn wants_temp_key(kind: &str, c: &CommArgs) -> bool {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    kind == "ssh"
        && !set(&c.ssh_password)
        && !set(&c.ssh_private_key_file)
        && !c.ssh_agent_auth.unwrap_or(false)
}

/// `temporary_key_pair_name`, or `packer_<uuid>`.
pub fn temp_key_name(c: &CommArgs) -> String {
    c.temporary_key_pair_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("packer_{}", uuid::Uuid::new_v4()))
}

/// Generates the key pair through the ssh connector.
pub struct StepTempKey {
    /// The communicator settings.
    pub args: CommArgs,
    /// The key's name.
    pub name: String,
    /// Connectors.
    pub info: PrepareInfo,
}

#[async_trait]
impl<S: TempKeyState> Step<S> for StepTempKey {
    fn name(&self) -> &'static str {
        "StepSSHKeyGen"
    }

    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()> {
        let kind = self
            .args
            .temporary_key_pair_type
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "rsa".into());
        ctx.ui.say(&format!(
            "Creating temporary {kind} SSH key for instance..."
        ));
        let Some(c) = self.info.connectors.get("ssh") else {
            return Err(Error::msg(
                "the ssh communicator is not part of this forge build",
            ));
        };
        let bits = self
            .args
            .temporary_key_pair_bits
            .filter(|b| *b > 0)
            .map(|b| b as u32);
        let (c, kind2, name) = (c.clone(), kind.clone(), self.name.clone());
        let key = tokio::task::spawn_blocking(move || c.generate_key(&kind2, bits, &name))
            .await
            .map_err(|e| Error::msg(format!("generating the {kind} key: {e}")))??;
        ctx.ui.output().redactor().add(&key.private);
        state.set_temp_key(key);
        Ok(())
    }
}

/// Removes the temporary key's line from `~/.ssh/authorized_keys` and root's, as Packer does.
pub struct StepCleanupTempKeys {
    /// `ssh_clear_authorized_keys`.
    pub clear: bool,
}

#[async_trait]
impl<S: TempKeyState + ProvisionState> Step<S> for StepCleanupTempKeys {
    fn name(&self) -> &'static str {
        "StepCleanupTempKeys"
    }

    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()> {
        let (Some(key), Some(comm)) = (state.temp_key(), state.communicator()) else {
            return Ok(());
        };
        if !self.clear {
            return Ok(());
        }
        ctx.ui
            .say("Trying to remove ephemeral keys from authorized_keys files");
        let name = &key.name;
        for cmd in [
            format!("sed -i.bak '/ {name}$/d' ~/.ssh/authorized_keys; rm ~/.ssh/authorized_keys.bak"),
            format!("sudo sed -i.bak '/ {name}$/d' /root/.ssh/authorized_keys; sudo rm /root/.ssh/authorized_keys.bak"),
        ] {
            let ui = ctx.ui.clone();
            let r = comm
                .exec(ctx, &cmd, &mut |s, l| match s {
                    Stream::Stdout => ui.message(l),
                    Stream::Stderr => ui.error(l),
                })
                .await;
            if let Err(e) = r {
                tracing::info!("cleaning up authorized_keys: {e}; please clean up keys manually");
            }
        }
        Ok(())
    }
}
