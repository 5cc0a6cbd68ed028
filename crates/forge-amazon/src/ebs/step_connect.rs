//! StepConnect: the communicator to the instance at the address `ssh_interface` picks
//! (Packer's host selection), unless `ssh_host` names one.

use forge_core::builtin::common::StepConnect;
use forge_core::plugin::PrepareInfo;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::{Config, State};
use crate::ec2::Instance;

pub(super) fn step(c: &Config, info: &PrepareInfo) -> Box<dyn Step<State>> {
    Box::new(
        StepConnect::new(
            c.comm.clone(),
            info.clone(),
            |st: &State| Ok((host(st)?, st.config.comm.port().unwrap_or_default())),
            |s: &mut State, comm| s.comm = Some(comm),
            |s: &State| s.temp_key.clone(),
        )
        .with_password(|s: &State| s.winrm_password.clone()),
    )
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

/// The configured host, else the instance's address.
fn host(st: &State) -> Result<String> {
    let c = &st.config;
    if let Some(h) = c.comm.host() {
        return Ok(h.to_string());
    }
    let i = st
        .instance
        .as_ref()
        .ok_or_else(|| Error::msg("no instance is running"))?;
    host_of(i, &c.ssh_interface).ok_or_else(|| {
        Error::msg(format!(
            "instance {} has no {} address to connect to; set ssh_interface or ssh_host",
            i.id,
            if c.ssh_interface.is_empty() {
                "usable"
            } else {
                &c.ssh_interface
            }
        ))
    })
}
