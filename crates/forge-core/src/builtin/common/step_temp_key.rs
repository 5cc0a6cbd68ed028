//! StepTempKey: the build's temporary SSH key pair (Packer's StepSSHKeyGen), made when the
//! configuration gives no password, key or agent; and StepCleanupTempKeys, which removes it
//! from the machine's authorized_keys files when `ssh_clear_authorized_keys` is set.

use async_trait::async_trait;

use crate::comm::ssh::TempKeySpec;
use crate::comm::{CommConfig, CommType};
use crate::plugin::{BuildCtx, PrepareInfo, Stream, TempKey};
use crate::runner::Step;
use crate::{Error, Result};

use super::ProvisionState;

/// Where a builder keeps its temporary key.
pub trait TempKeyState: Send {
    /// Where the key is kept (`None` until it is made).
    fn temp_key_slot(&mut self) -> &mut Option<TempKey>;
}

/// Generates the key pair through the ssh connector (when [`CommConfig::wants_temp_key`]).
pub struct StepTempKey {
    /// `temporary_key_pair_type` and `_bits`.
    pub spec: TempKeySpec,
    /// The key's name.
    pub name: String,
    /// Connectors.
    pub info: PrepareInfo,
}

impl StepTempKey {
    /// The step, when `comm` wants a temporary key pair; named as configured or `packer_<uuid>`.
    pub fn wanted(comm: &CommConfig, info: &PrepareInfo) -> Option<StepTempKey> {
        let spec = &comm.ssh().filter(|_| comm.wants_temp_key())?.temp_key;
        Some(StepTempKey {
            spec: spec.clone(),
            name: spec.name(),
            info: info.clone(),
        })
    }
}

#[async_trait]
impl<S: TempKeyState> Step<S> for StepTempKey {
    fn name(&self) -> &'static str {
        "StepSSHKeyGen"
    }

    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()> {
        let kind = self.spec.kind.clone();
        ctx.ui.say(&format!(
            "Creating temporary {kind} SSH key for instance..."
        ));
        let Some(c) = self.info.connectors.get(CommType::Ssh.name()) else {
            return Err(Error::msg(
                "the ssh communicator is not part of this forge build",
            ));
        };
        let bits = self.spec.bits;
        let (c, kind2, name) = (c.clone(), kind.clone(), self.name.clone());
        let key = tokio::task::spawn_blocking(move || c.generate_key(&kind2, bits, &name))
            .await
            .map_err(|e| Error::msg(format!("generating the {kind} key: {e}")))??;
        ctx.ui.output().redactor().add(&key.private);
        *state.temp_key_slot() = Some(key);
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
        let (Some(key), Some(comm)) = (state.temp_key_slot().clone(), state.communicator()) else {
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
