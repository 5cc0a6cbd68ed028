//! The qemu builder's keyboard for stepTypeBootCommand: VNC, with the key interval
//! `boot_key_interval` sets.

use async_trait::async_trait;
use forge_commonsteps::bootcommand::vnc::VncClient;
use forge_commonsteps::bootcommand::{key_interval, KeySender};
use forge_commonsteps::Keyboard;
use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};

use super::State;

/// The VM's VNC server.
pub(super) struct Vnc;

#[async_trait]
impl Keyboard<State> for Vnc {
    async fn connect(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<Box<dyn KeySender>> {
        let c = &st.config;
        let port = st.vnc_port.as_ref().map(|p| p.port).unwrap_or(5900);
        ctx.ui
            .say(&format!("Connecting to VM via VNC ({}:{port})", c.vnc_bind));
        let mut vnc = VncClient::connect(
            &format!("{}:{port}", c.vnc_bind),
            None,
            std::time::Duration::from_secs(30),
        )
        .await
        .map_err(|e| {
            let m = format!("Error connecting to VNC: {e}");
            ctx.ui.error(&m);
            Error::msg(m)
        })?;
        ctx.ui.say("Typing the boot commands over VNC...");
        vnc.key_interval = key_interval(c.key_interval.unwrap_or_default());
        Ok(Box::new(vnc))
    }
}
