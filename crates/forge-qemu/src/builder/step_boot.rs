//! stepTypeBootCommand: waits `boot_wait`, then types `boot_command` over VNC, with the HTTP
//! server's address and the build's name filled in.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::step_run::template_data;
use super::State;
use forge_commonsteps::bootcommand::vnc::VncClient;
use forge_commonsteps::bootcommand::{key_interval, parse, type_actions, KeySender};

pub(super) struct StepBootCommand;

fn fail(ctx: &BuildCtx, m: String) -> Error {
    ctx.ui.error(&m);
    Error::msg(m)
}

#[async_trait]
impl Step<State> for StepBootCommand {
    fn name(&self) -> &'static str {
        "stepTypeBootCommand"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let commands = c.args.boot_config.boot_command.clone().unwrap_or_default();
        if commands.is_empty() || c.args.disable_vnc.unwrap_or(false) {
            return Ok(());
        }
        if !c.boot_wait.is_zero() {
            ctx.ui.say(&format!(
                "Waiting {} for boot...",
                forge_template::gocompat::duration::format_std(c.boot_wait)
            ));
            ctx.sleep(c.boot_wait).await?;
        }
        let port = st.vnc_port.as_ref().map(|p| p.port).unwrap_or(5900);
        ctx.ui
            .say(&format!("Connecting to VM via VNC ({}:{port})", c.vnc_bind));
        let mut vnc = VncClient::connect(
            &format!("{}:{port}", c.vnc_bind),
            None,
            std::time::Duration::from_secs(30),
        )
        .await
        .map_err(|e| fail(ctx, format!("Error connecting to VNC: {e}")))?;
        ctx.ui.say("Typing the boot commands over VNC...");
        let mut data = template_data(st);
        if let Some(k) = &st.temp_key {
            data.insert("SSHPublicKey".into(), k.public.clone());
        }
        let text = commands.concat();
        let rendered = forge_core::render::render(&text, &data, &[])
            .map_err(|e| fail(ctx, format!("Error preparing boot command: {e}")))?;
        let actions = parse(&rendered)
            .map_err(|e| fail(ctx, format!("Error generating boot command: {e}")))?;
        vnc.key_interval = key_interval(c.key_interval.unwrap_or_default());
        let sender: &mut dyn KeySender = &mut vnc;
        type_actions(sender, &actions, &ctx.cancel)
            .await
            .map_err(|e| {
                if ctx.cancel.is_cancelled() {
                    Error::Cancelled
                } else {
                    fail(ctx, format!("Error running boot command: {e}"))
                }
            })
    }
}
