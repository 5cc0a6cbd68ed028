//! StepImport: `VBoxManage import <source> --vsys 0 --vmname <name> [import_flags]`, journaled
//! first (the VM is reclaimed if forge dies); cleanup unregisters and deletes the VM unless
//! `keep_registered` and the build succeeded.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use crate::common::{fail, State};
use crate::reclaim::KIND;

/// The step.
pub struct StepImport {
    /// `vm_name`.
    pub name: String,
    /// `import_flags` (with `import_opts`).
    pub flags: Vec<String>,
    /// `keep_registered`.
    pub keep_registered: bool,
    /// The journal's record of the imported VM.
    record: Option<Resource>,
}

impl StepImport {
    /// The step.
    pub fn new(name: &str, flags: Vec<String>, keep_registered: bool) -> StepImport {
        StepImport {
            name: name.into(),
            flags,
            keep_registered,
            record: None,
        }
    }
}

#[async_trait]
impl Step<State> for StepImport {
    fn name(&self) -> &'static str {
        "StepImport"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say(&format!("Importing VM: {}", st.source_path));
        let rec = ctx.journal.intend(
            &ctx.name,
            KIND,
            &self.name,
            serde_json::json!({ "name": self.name }),
        )?;
        if let Err(e) = st
            .driver
            .import(&self.name, &st.source_path, &self.flags)
            .await
        {
            // A failed import can still have registered the VM: the record stays for cleanup.
            self.record = Some(rec);
            return Err(fail(ctx, format!("Error importing VM: {e}")));
        }
        self.record = Some(rec);
        st.vm_name = self.name.clone();
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        let Some(rec) = self.record.take() else {
            return Ok(());
        };
        if st.vm_name.is_empty() {
            // The import failed: remove what it may have left, quietly.
            if st.driver.delete(&self.name).await.is_ok() {
                tracing::info!("removed the partly imported VM {}", self.name);
            }
            ctx.journal.deleted(rec.seq);
            return Ok(());
        }
        if self.keep_registered && !o.halted && !o.cancelled {
            ctx.ui.say(
                "Keeping virtual machine registered with VirtualBox host (keep_registered = true)",
            );
            ctx.journal.deleted(rec.seq);
            return Ok(());
        }
        ctx.ui.say("Deregistering and deleting imported VM...");
        match st.driver.delete(&st.vm_name).await {
            Ok(()) => ctx.journal.deleted(rec.seq),
            Err(e) => ctx.ui.error(&format!("Error deleting VM: {e}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{state, v};

    #[tokio::test]
    async fn imports_and_deletes_at_cleanup() {
        let (mut st, f, ctx) = state("");
        st.source_path = "/c/box.ova".into();
        let mut s = StepImport::new("vm", v(&["--eula", "accept"]), false);
        s.run(&ctx, &mut st).await.unwrap();
        assert_eq!(
            f.calls(),
            vec![v(&[
                "import",
                "/c/box.ova",
                "--vsys",
                "0",
                "--vmname",
                "vm",
                "--eula",
                "accept"
            ])]
        );
        assert_eq!(st.vm_name, "vm");
        assert_eq!(f.registered(), ["vm"]);
        assert_eq!(ctx.journal.live(None).len(), 1);
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert_eq!(
            f.calls().last().unwrap(),
            &v(&["unregistervm", "vm", "--delete"])
        );
        assert!(f.registered().is_empty());
        assert!(ctx.journal.live(None).is_empty());
    }

    #[tokio::test]
    async fn keep_registered_only_after_success() {
        let (mut st, f, ctx) = state("");
        let mut s = StepImport::new("vm", vec![], true);
        s.run(&ctx, &mut st).await.unwrap();
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert_eq!(f.registered(), ["vm"]);
        assert!(ctx.journal.live(None).is_empty());
        let (mut st, f, ctx) = state("");
        let mut s = StepImport::new("vm", vec![], true);
        s.run(&ctx, &mut st).await.unwrap();
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
        assert!(f.registered().is_empty());
    }

    #[tokio::test]
    async fn a_failed_import_is_reported() {
        let (mut st, f, ctx) = state("");
        st.source_path = "/c/box.ova".into();
        f.fail_on("import", "VBoxManage: error: Appliance read failed", 1);
        let mut s = StepImport::new("vm", vec![], false);
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error importing VM: VBoxManage error: VBoxManage: error: Appliance read failed"
        );
        assert!(st.vm_name.is_empty());
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
        assert!(ctx.journal.live(None).is_empty());
        assert!(f.registered().is_empty());
    }
}
