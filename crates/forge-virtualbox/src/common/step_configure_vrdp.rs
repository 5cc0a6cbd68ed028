//! StepConfigureVRDP: a VRDP port from `vrdp_port_min`..`vrdp_port_max` on
//! `vrdp_bind_address`, held against concurrent builds until cleanup, turned on for the VM.

use async_trait::async_trait;
use forge_commonsteps::ports::{reserve, PortLock};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use super::{fail, State};

/// The step.
pub struct StepConfigureVrdp {
    /// `vrdp_bind_address`.
    pub bind: String,
    /// The port range.
    pub ports: (u16, u16),
    /// The reserved port.
    pub lock: Option<PortLock>,
}

#[async_trait]
impl Step<State> for StepConfigureVrdp {
    fn name(&self) -> &'static str {
        "StepConfigureVRDP"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let (min, max) = self.ports;
        tracing::info!(
            "Looking for available port between {min} and {max} on {}",
            self.bind
        );
        let lock = reserve(ctx, min, max, &self.bind, "VRDP")
            .map_err(|e| fail(ctx, format!("Error finding port: {e}")))?;
        let port = lock.port.to_string();
        self.lock = Some(lock);
        let cmd = crate::driver::args([
            "modifyvm",
            &st.vm_name,
            "--vrdeaddress",
            &self.bind,
            "--vrdeauthtype",
            "null",
            "--vrde",
            "on",
            "--vrdeport",
            &port,
        ]);
        st.driver
            .vboxmanage(&cmd)
            .await
            .map_err(|e| fail(ctx, format!("Error enabling VRDP: {e}")))?;
        st.vrdp = Some((self.bind.clone(), self.lock.as_ref().map_or(0, |l| l.port)));
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, _: &mut State, _: Outcome) -> Result<()> {
        self.lock = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::state;

    #[tokio::test]
    async fn turns_vrde_on_at_a_free_port() {
        let (mut st, f, ctx) = state("vm");
        let mut s = StepConfigureVrdp {
            bind: "127.0.0.1".into(),
            ports: (5900, 6000),
            lock: None,
        };
        s.run(&ctx, &mut st).await.unwrap();
        let (_, port) = st.vrdp.clone().unwrap();
        assert!((5900..=6000).contains(&port));
        assert_eq!(
            f.calls()[0][..9],
            [
                "modifyvm",
                "vm",
                "--vrdeaddress",
                "127.0.0.1",
                "--vrdeauthtype",
                "null",
                "--vrde",
                "on",
                "--vrdeport"
            ]
        );
        assert_eq!(f.calls()[0][9], port.to_string());
        f.fail_on("modifyvm", "VBoxManage: error: no", 1);
        let mut s2 = StepConfigureVrdp {
            bind: "127.0.0.1".into(),
            ports: (5900, 6000),
            lock: None,
        };
        let e = s2.run(&ctx, &mut st).await.unwrap_err();
        assert!(e.to_string().starts_with("Error enabling VRDP: "), "{e}");
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(s.lock.is_none());
    }
}
