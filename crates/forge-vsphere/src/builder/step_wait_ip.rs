//! StepWaitForIp: waits up to `ip_wait_timeout` for the guest to report an address inside
//! `ip_wait_address`, then until it has stayed the same for `ip_settle_timeout` (Packer polls
//! every second below a 10 s settle time, every 5, 15 or 30 s above).

use std::time::Duration;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};
use tokio::time::Instant;

use super::State;

pub(super) struct StepWaitForIp;

fn interval(settle: Duration) -> Duration {
    Duration::from_secs(match settle.as_secs() {
        120.. => 30,
        60.. => 15,
        10.. => 5,
        _ => 1,
    })
}

#[async_trait]
impl Step<State> for StepWaitForIp {
    fn name(&self) -> &'static str {
        "StepWaitForIp"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Waiting for IP...");
        let c = st.config.clone();
        let client = st.client()?;
        let vm = st.vm()?;
        let every = interval(c.ip_settle_timeout);
        let deadline = Instant::now() + c.ip_wait_timeout;
        let mut seen: Option<(String, Instant)> = None;
        loop {
            let ips = client.guest_ips(&vm).await?;
            let ip = ips
                .into_iter()
                .find(|ip| c.ip_wait_address.as_ref().is_none_or(|n| n.contains(ip)));
            let now = Instant::now();
            let pause = match (ip, &seen) {
                (Some(ip), Some((prev, since))) if *prev == ip => {
                    if now >= *since + c.ip_settle_timeout {
                        ctx.ui.say(&format!("IP address: {ip}"));
                        st.ip = ip;
                        return Ok(());
                    }
                    every
                }
                (Some(ip), _) => {
                    seen = Some((ip, now));
                    every
                }
                // Packer's govmomi waits on property changes; a short poll stands in.
                (None, _) => Duration::from_millis(250),
            };
            if now >= deadline {
                if let Some((ip, _)) = seen {
                    st.ip = ip;
                    return Ok(());
                }
                let e = format!(
                    "Timeout waiting for IP: {} reported no address{} within {}",
                    st.vm_path,
                    c.ip_wait_address
                        .as_ref()
                        .map(|_| " in ip_wait_address")
                        .unwrap_or_default(),
                    humantime(c.ip_wait_timeout)
                );
                ctx.ui.error(&e);
                return Err(Error::msg(e));
            }
            tokio::select! {
                _ = tokio::time::sleep(pause.min(deadline - now)) => {}
                _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
            }
        }
    }
}

fn humantime(d: Duration) -> String {
    forge_template::gocompat::duration::format_std(d)
}
