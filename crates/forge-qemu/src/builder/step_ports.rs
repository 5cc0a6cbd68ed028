//! stepPortForward and stepConfigureVNC: a host port forwarded to the guest's communicator
//! port, and the VNC port, each taken from its range and held against concurrent builds.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use forge_commonsteps::ports::reserve;

pub(super) struct StepPortForward;

#[async_trait]
impl Step<State> for StepPortForward {
    fn name(&self) -> &'static str {
        "stepPortForward"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = &st.config;
        if c.comm.is_none() {
            ctx.ui
                .message("No communicator is set; skipping port forwarding setup.");
            return Ok(());
        }
        if c.args.skip_nat_mapping.unwrap_or(false) {
            return Ok(());
        }
        let (min, max) = c.host_ports;
        let lock = reserve(ctx, min, max, "127.0.0.1", "communicator").map_err(|e| {
            let m = format!("Error finding port: {e}");
            ctx.ui.error(&m);
            Error::msg(m)
        })?;
        ctx.ui.say(&format!(
            "Found port for communicator (SSH, WinRM, etc): {}.",
            lock.port
        ));
        st.host_port = Some(lock);
        Ok(())
    }
}

pub(super) struct StepConfigureVnc;

#[async_trait]
impl Step<State> for StepConfigureVnc {
    fn name(&self) -> &'static str {
        "stepConfigureVNC"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = &st.config;
        let (min, max) = c.vnc_ports;
        ctx.ui.say(&format!(
            "Looking for available port between {min} and {max} on {}",
            c.vnc_bind
        ));
        let lock = reserve(ctx, min, max, &c.vnc_bind, "VNC").map_err(|e| {
            let m = format!("Error finding VNC port: {e}");
            ctx.ui.error(&m);
            Error::msg(m)
        })?;
        st.vnc_port = Some(lock);
        Ok(())
    }
}
