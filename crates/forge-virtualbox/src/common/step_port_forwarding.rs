//! StepPortForwarding: a host port from `host_port_min`..`host_port_max` on 127.0.0.1 (held
//! against concurrent builds until cleanup), forwarded by NAT rule `packercomm` to the guest's
//! communicator port. StepExport removes the rule before exporting; cleanup removes it when
//! it is still there.

use async_trait::async_trait;
use forge_commonsteps::ports::{reserve, PortLock};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use super::{fail, State};
use crate::driver::args;

/// The NAT rule's name.
pub const RULE: &str = "packercomm";

/// The step.
pub struct StepPortForwarding {
    /// No communicator: nothing to forward.
    pub no_communicator: bool,
    /// The guest's port.
    pub guest_port: u16,
    /// The host port range.
    pub host_ports: (u16, u16),
    /// `skip_nat_mapping`: connect to the guest port directly.
    pub skip_nat_mapping: bool,
    /// The reserved host port.
    pub lock: Option<PortLock>,
}

/// The command that removes the rule.
pub fn delete_rule(vm: &str) -> Vec<String> {
    args(["modifyvm", vm, "--natpf1", "delete", RULE])
}

#[async_trait]
impl Step<State> for StepPortForwarding {
    fn name(&self) -> &'static str {
        "StepPortForwarding"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.no_communicator {
            tracing::info!("Not using a communicator, skipping setting up port forwarding...");
            st.comm_host_port = 0;
            return Ok(());
        }
        if self.skip_nat_mapping {
            st.comm_host_port = self.guest_port;
            return Ok(());
        }
        let (min, max) = self.host_ports;
        tracing::info!(
            "Looking for available communicator (SSH, WinRM, etc) port between {min} and {max}"
        );
        let lock = reserve(ctx, min, max, "127.0.0.1", "communicator")
            .map_err(|e| fail(ctx, format!("Error creating port forwarding rule: {e}")))?;
        let port = lock.port;
        self.lock = Some(lock);
        let vm = st.vm_name.clone();
        st.driver
            .vboxmanage(&args(["modifyvm", &vm, "--nic1", "nat"]))
            .await
            .map_err(|e| fail(ctx, format!("Failed to configure NAT interface: {e}")))?;
        ctx.ui.say(&format!(
            "Creating forwarded port mapping for communicator (SSH, WinRM, etc) (host port {port})"
        ));
        let rule = format!("{RULE},tcp,127.0.0.1,{port},,{}", self.guest_port);
        let add = args(["modifyvm", &vm, "--natpf1", &rule]);
        if let Err(e) = st.driver.vboxmanage(&add).await {
            if !e
                .to_string()
                .contains("A NAT rule of this name already exists")
            {
                return Err(fail(
                    ctx,
                    format!("Error creating port forwarding rule: {e}"),
                ));
            }
            tracing::info!("A packer NAT rule already exists. Trying to delete ...");
            st.driver.vboxmanage(&delete_rule(&vm)).await.map_err(|e| {
                fail(
                    ctx,
                    format!("Error deleting packer NAT forwarding rule: {e}"),
                )
            })?;
            st.driver
                .vboxmanage(&add)
                .await
                .map_err(|e| fail(ctx, format!("Error creating port forwarding rule: {e}")))?;
        }
        st.nat_rule = true;
        st.comm_host_port = port;
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        if st.nat_rule {
            if let Err(e) = st.driver.vboxmanage(&delete_rule(&st.vm_name)).await {
                ctx.ui
                    .error(&format!("Error deleting port forwarding rule: {e}"));
            }
            st.nat_rule = false;
        }
        self.lock = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};
    use crate::driver::Driver;

    fn step() -> StepPortForwarding {
        StepPortForwarding {
            no_communicator: false,
            guest_port: 22,
            host_ports: (2222, 4444),
            skip_nat_mapping: false,
            lock: None,
        }
    }

    #[tokio::test]
    async fn forwards_a_free_port_and_removes_the_rule_at_cleanup() {
        let (mut st, f, ctx) = state("vm");
        let mut s = step();
        s.run(&ctx, &mut st).await.unwrap();
        let p = st.comm_host_port;
        assert!((2222..=4444).contains(&p));
        assert_eq!(
            f.calls(),
            vec![
                v(&["modifyvm", "vm", "--nic1", "nat"]),
                v(&[
                    "modifyvm",
                    "vm",
                    "--natpf1",
                    &format!("packercomm,tcp,127.0.0.1,{p},,22")
                ]),
            ]
        );
        assert_eq!(st.comm_address(), ("127.0.0.1".to_string(), p));
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(f.nat_rules().is_empty());
        assert_eq!(f.calls().last().unwrap(), &delete_rule("vm"));
    }

    #[tokio::test]
    async fn an_old_rule_is_replaced_and_export_leaves_nothing_to_undo() {
        let (mut st, f, ctx) = state("vm");
        f.run(&v(&[
            "modifyvm",
            "vm",
            "--natpf1",
            "packercomm,tcp,127.0.0.1,1,,22",
        ]))
        .await
        .unwrap();
        let mut s = step();
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(f.calls_of("modifyvm").len(), 5);
        assert!(f.nat_rules()["packercomm"].contains(&format!(",{},", st.comm_host_port)));
        st.nat_rule = false; // StepExport removed it.
        let n = f.calls().len();
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert_eq!(f.calls().len(), n);
    }

    #[tokio::test]
    async fn no_communicator_skip_mapping_and_failure() {
        let (mut st, f, ctx) = state("vm");
        let mut s = StepPortForwarding {
            no_communicator: true,
            ..step()
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(st.comm_host_port, 0);
        let mut s = StepPortForwarding {
            skip_nat_mapping: true,
            ..step()
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(st.comm_host_port, 22);
        assert!(f.calls().is_empty());
        f.fail_on("modifyvm", "VBoxManage: error: locked", 1);
        let mut s = step();
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Failed to configure NAT interface"),
            "{e}"
        );
        s.cleanup(
            &ctx,
            &mut st,
            Outcome {
                halted: true,
                cancelled: false,
            },
        )
        .await
        .unwrap();
        assert_eq!(f.calls().len(), 1);
    }
}
