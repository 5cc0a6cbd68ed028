//! StepRunScope (forge): records the regions this build may touch, so that `forge cleanup`
//! can sweep them for anything tagged with the run's id, even what was created but never
//! recorded. Its cleanup runs last and removes the record.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use super::State;
use crate::journal;

pub(super) struct StepRunScope {
    pub scope: Option<Resource>,
}

#[async_trait]
impl Step<State> for StepRunScope {
    fn name(&self) -> &'static str {
        "StepRunScope"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = &st.config;
        let mut data = c.access.journal_data(&c.access.region);
        data["run"] = ctx.run_id.clone().into();
        data["regions"] = c.all_regions().into();
        self.scope = Some(
            ctx.journal
                .intend(&ctx.name, journal::SCOPE, &ctx.run_id, data)?,
        );
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, _st: &mut State, _o: Outcome) -> Result<()> {
        if let Some(r) = self.scope.take() {
            journal::gone(ctx, &r);
        }
        Ok(())
    }
}
