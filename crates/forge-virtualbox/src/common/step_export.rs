//! StepExport: removes the communicator's NAT rule, then `VBoxManage export <vm> --output
//! <output_directory>/<output_filename>.<format> [export_opts]` (unless `skip_export`).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::step_port_forwarding::delete_rule;
use super::{fail, State};
use crate::driver::args;

/// The step.
pub struct StepExport {
    /// `format`.
    pub format: String,
    /// `output_directory`.
    pub output_dir: String,
    /// `output_filename` (empty: the VM's name).
    pub output_filename: String,
    /// `export_opts`.
    pub export_opts: Vec<String>,
    /// `skip_export`.
    pub skip: bool,
}

#[async_trait]
impl Step<State> for StepExport {
    fn name(&self) -> &'static str {
        "StepExport"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.skip {
            ctx.ui.say("Skipping export of virtual machine...");
            return Ok(());
        }
        ctx.ui.say("Preparing to export machine...");
        let vm = st.vm_name.clone();
        if st.nat_rule {
            ctx.ui.message(&format!(
                "Deleting forwarded port mapping for the communicator (SSH, WinRM, etc) (host port {})",
                st.comm_host_port
            ));
            st.driver
                .vboxmanage(&delete_rule(&vm))
                .await
                .map_err(|e| fail(ctx, format!("Error deleting port forwarding rule: {e}")))?;
            st.nat_rule = false;
        }
        let name = if self.output_filename.is_empty() {
            &vm
        } else {
            &self.output_filename
        };
        let out = std::path::Path::new(&self.output_dir)
            .join(format!("{name}.{}", self.format))
            .to_string_lossy()
            .into_owned();
        let mut cmd = args(["export", &vm, "--output", &out]);
        cmd.extend(self.export_opts.iter().cloned());
        ctx.ui.say("Exporting virtual machine...");
        ctx.ui.message(&format!("Executing: {}", cmd.join(" ")));
        st.driver
            .vboxmanage(&cmd)
            .await
            .map_err(|e| fail(ctx, format!("Error exporting virtual machine: {e}")))?;
        st.export_path = Some(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};
    use crate::driver::Driver;

    fn step() -> StepExport {
        StepExport {
            format: "ova".into(),
            output_dir: "out".into(),
            output_filename: String::new(),
            export_opts: v(&["--manifest"]),
            skip: false,
        }
    }

    #[tokio::test]
    async fn removes_the_rule_then_exports() {
        let (mut st, f, ctx) = state("vm");
        f.run(&v(&[
            "modifyvm",
            "vm",
            "--natpf1",
            "packercomm,tcp,127.0.0.1,2222,,22",
        ]))
        .await
        .unwrap();
        st.nat_rule = true;
        st.comm_host_port = 2222;
        step().run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            f.calls()[1..],
            [
                delete_rule("vm"),
                v(&["export", "vm", "--output", "out/vm.ova", "--manifest"])
            ]
        );
        assert!(!st.nat_rule && f.nat_rules().is_empty());
        assert_eq!(st.export_path.as_deref(), Some("out/vm.ova"));
        let mut named = StepExport {
            output_filename: "box".into(),
            ..step()
        };
        named.run(&ctx, &mut st).await.unwrap();
        assert_eq!(f.calls().last().unwrap()[3], "out/box.ova");
    }

    #[tokio::test]
    async fn skipped_or_failed() {
        let (mut st, f, ctx) = state("vm");
        StepExport {
            skip: true,
            ..step()
        }
        .run(&ctx, &mut st)
        .await
        .unwrap();
        assert!(f.calls().is_empty());
        f.fail_on("export", "VBoxManage: error: disk full", 1);
        let e = step().run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error exporting virtual machine: VBoxManage error: VBoxManage: error: disk full"
        );
        assert!(st.export_path.is_none());
    }
}
