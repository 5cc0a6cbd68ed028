//! StepConnect: the communicator to the instance at the address `ssh_interface` picks
//! (Packer's host selection), unless `ssh_host` names one.

use async_trait::async_trait;
use forge_core::builtin::common::StepConnect;
use forge_core::plugin::{BuildCtx, PrepareInfo};
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::{Config, State};
use crate::ec2::Instance;

pub(super) fn step(c: &Config, info: &PrepareInfo) -> Box<dyn Step<State>> {
    Box::new(StepConnectInstance {
        inner: StepConnect {
            settings: c.comm.clone(),
            info: info.clone(),
            store: |s: &mut State, comm| s.comm = Some(comm),
            temp_key: |s: &State| s.temp_key.clone(),
            opened: None,
        },
    })
}

/// The address to connect to: the configured interface, else public IP, private IP, public
/// DNS, in that order of preference.
pub fn host_of(i: &Instance, interface: &str) -> Option<String> {
    let pick = |s: &String| (!s.is_empty()).then(|| s.clone());
    match interface {
        "public_ip" => pick(&i.public_ip),
        "private_ip" => pick(&i.private_ip),
        "public_dns" => pick(&i.public_dns),
        "private_dns" => pick(&i.private_dns),
        _ => pick(&i.public_ip)
            .or_else(|| pick(&i.private_ip))
            .or_else(|| pick(&i.public_dns)),
    }
}

struct StepConnectInstance {
    inner: StepConnect<State>,
}

#[async_trait]
impl Step<State> for StepConnectInstance {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let host =
            if !c.ssh_host.is_empty() {
                c.ssh_host.clone()
            } else {
                let i = st
                    .instance
                    .as_ref()
                    .ok_or_else(|| Error::msg("no instance is running"))?;
                host_of(i, &c.ssh_interface).ok_or_else(|| {
                    Error::msg(format!(
                    "instance {} has no {} address to connect to; set ssh_interface or ssh_host",
                    i.id,
                    if c.ssh_interface.is_empty() { "usable" } else { &c.ssh_interface }
                ))
                })?
            };
        self.inner.settings.host = host;
        self.inner.run(ctx, st).await
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        self.inner.cleanup(ctx, st, o).await
    }
}
