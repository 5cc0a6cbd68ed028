//! StepSuppressMessages: turns off VirtualBox's GUI nagging before anything runs.

use async_trait::async_trait;
use chrono::Datelike;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::{fail, State};

/// The step.
pub struct StepSuppressMessages;

#[async_trait]
impl Step<State> for StepSuppressMessages {
    fn name(&self) -> &'static str {
        "StepSuppressMessages"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        tracing::info!("Suppressing annoying messages in VirtualBox");
        st.driver
            .suppress_messages(chrono::Utc::now().year())
            .await
            .map_err(|e| {
                fail(
                    ctx,
                    format!("Error configuring VirtualBox to suppress messages: {e}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::state;

    #[tokio::test]
    async fn sets_the_global_extra_data_and_stops_on_failure() {
        let (mut st, f, ctx) = state("");
        StepSuppressMessages.run(&ctx, &mut st).await.unwrap();
        let calls = f.calls_of("setextradata");
        assert_eq!(calls.len(), 4);
        assert_eq!(
            calls[0][1..],
            ["global", "GUI/RegistrationData", "triesLeft=0"]
        );
        let year = chrono::Utc::now().year() + 1;
        assert_eq!(calls[2][3], format!("1 d, {year}-01-01, stable"));
        f.fail_on("setextradata", "VBoxManage: error: nope", 1);
        let e = StepSuppressMessages.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error configuring VirtualBox to suppress messages: VBoxManage error: VBoxManage: error: nope"
        );
    }
}
