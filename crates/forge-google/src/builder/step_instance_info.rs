//! StepInstanceInfo: waits until the instance runs and picks the address to connect to: its
//! internal IP with `use_internal_ip`, else its external one.

use std::time::Duration;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};
use serde_json::Value;

use super::State;
use crate::compute::human;

pub(super) struct StepInstanceInfo;

/// The address of `instance`: internal or external.
pub fn address(instance: &Value, internal: bool) -> Option<String> {
    let nic = &instance["networkInterfaces"][0];
    let ip = if internal {
        nic["networkIP"].as_str()
    } else {
        nic["accessConfigs"][0]["natIP"].as_str()
    };
    ip.filter(|s| !s.is_empty()).map(str::to_string)
}

#[async_trait]
impl Step<State> for StepInstanceInfo {
    fn name(&self) -> &'static str {
        "StepInstanceInfo"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        ctx.ui.say("Waiting for the instance to become running...");
        let start = tokio::time::Instant::now();
        let instance = loop {
            let i = st
                .compute
                .get_instance(&c.project_id, &c.zone, &c.instance_name)
                .await
                .map_err(|e| Error::msg(format!("Error waiting for instance: {e}")))?
                .ok_or_else(|| {
                    Error::msg(format!(
                        "Error waiting for instance: instance {} is gone",
                        c.instance_name
                    ))
                })?;
            match i["status"].as_str().unwrap_or_default() {
                "RUNNING" => break i,
                s @ ("STOPPING" | "STOPPED" | "TERMINATED" | "SUSPENDED") => {
                    return Err(Error::msg(format!(
                        "Error waiting for instance: instance {} is {s}",
                        c.instance_name
                    )))
                }
                s => {
                    if start.elapsed() >= c.state_timeout {
                        return Err(Error::msg(format!(
                            "Error waiting for instance: timed out after {} waiting for instance {} to run (it is {s})",
                            human(c.state_timeout),
                            c.instance_name
                        )));
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
            }
        };
        let ip = address(&instance, c.use_internal_ip).ok_or_else(|| {
            Error::msg(format!(
                "Error retrieving instance {} address: it has no {} IP",
                if c.use_internal_ip {
                    "internal"
                } else {
                    "external"
                },
                if c.use_internal_ip {
                    "internal"
                } else {
                    "external"
                }
            ))
        })?;
        if c.use_internal_ip {
            ctx.ui.message(&format!("Using internal IP: {ip}"));
        } else {
            ctx.ui.message(&format!("IP: {ip}"));
        }
        st.generated.insert("instance_ip".into(), ip.clone());
        st.ip = ip;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::step_create_instance::StepCreateInstance;
    use super::*;
    use crate::fake::Fx;
    use serde_json::json;

    #[tokio::test]
    async fn the_external_address_unless_the_internal_one_is_asked_for() {
        let fx = Fx::new();
        let mut st = fx.state(json!({}));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        StepInstanceInfo.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(st.ip, "203.0.113.7");
        let mut st = fx.state(json!({"instance_name": "inst-2", "use_internal_ip": true,
            "omit_external_ip": true}));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        StepInstanceInfo.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(st.ip, "10.128.0.2");
        assert!(fx.said().contains("Using internal IP: 10.128.0.2"));
    }
}
