//! StepHTTPIPDiscover (vsphere-iso): the address the guest reaches the build's HTTP server at,
//! for `{{ .HTTPIP }}`: `http_ip`, else `http_interface`'s first IPv4 address, else the host's
//! first non-loopback IPv4 address in `ip_wait_address` (forge-commonsteps' `host_ip`). Only
//! when there is something to serve (Packer looks even then, and fails a host without such an
//! address for nothing).

use async_trait::async_trait;
use forge_commonsteps::httpserver::host_ip;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::super::State;

pub(super) struct StepHttpIpDiscover;

#[async_trait]
impl Step<State> for StepHttpIpDiscover {
    fn name(&self) -> &'static str {
        "StepHTTPIPDiscover"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let Some(iso) = c.iso.as_ref().filter(|i| i.http.serves()) else {
            return Ok(());
        };
        let net = c.ip_wait_address.clone();
        let ip = host_ip(&iso.http_ip, &iso.http_interface, |ip| {
            net.as_ref().is_none_or(|n| n.contains(&ip.to_string()))
        })
        .map_err(|e| {
            ctx.ui.error(&e.0);
            Error::msg(e.0)
        })?;
        st.iso.http_ip = ip;
        Ok(())
    }
}
