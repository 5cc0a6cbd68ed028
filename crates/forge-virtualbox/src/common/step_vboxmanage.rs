//! StepVBoxManage: the `vboxmanage` (before the VM starts) or `vboxmanage_post` (after it is
//! shut down) commands, each argument rendered with `{{ .Name }}`, `{{ .HTTPIP }}` and
//! `{{ .HTTPPort }}`.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::{fail, State};

/// The step.
pub struct StepVBoxManage {
    /// The commands, unrendered.
    pub commands: Vec<Vec<String>>,
}

#[async_trait]
impl Step<State> for StepVBoxManage {
    fn name(&self) -> &'static str {
        "StepVBoxManage"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if !self.commands.is_empty() {
            ctx.ui.say("Executing custom VBoxManage commands...");
        }
        let data = st.template_data();
        for original in &self.commands {
            let command = original
                .iter()
                .map(|a| forge_core::render::render(a, &data, &[]))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| fail(ctx, format!("Error preparing vboxmanage command: {e}")))?;
            ctx.ui.message(&format!("Executing: {}", command.join(" ")));
            st.driver
                .vboxmanage(&command)
                .await
                .map_err(|e| fail(ctx, format!("Error executing command: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};

    #[tokio::test]
    async fn renders_and_runs_each_command_in_order() {
        let (mut st, f, ctx) = state("vm");
        st.media.http_port = Some(8123);
        let mut s = StepVBoxManage {
            commands: vec![
                v(&["modifyvm", "{{ .Name }}", "--memory", "1024"]),
                v(&[
                    "setextradata",
                    "{{.Name}}",
                    "url",
                    "http://{{ .HTTPIP }}:{{ .HTTPPort }}/",
                ]),
            ],
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            f.calls(),
            vec![
                v(&["modifyvm", "vm", "--memory", "1024"]),
                v(&["setextradata", "vm", "url", "http://10.0.2.2:8123/"]),
            ]
        );
        f.fail_on("modifyvm", "VBoxManage: error: bad", 1);
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error executing command: VBoxManage error: VBoxManage: error: bad"
        );
        assert_eq!(f.calls().len(), 3, "the failure stops the list");
        let mut bad = StepVBoxManage {
            commands: vec![v(&["{{ .Name"])],
        };
        let e = bad.run(&ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error preparing vboxmanage command"),
            "{e}"
        );
    }
}
