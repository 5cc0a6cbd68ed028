//! The `breakpoint` provisioner: pauses the build until Enter is pressed.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::{decode, PrepareErrors};
use forge_core::ui::Ui;
use forge_core::Error;
use forge_template::value::Value;

/// The provisioner.
pub struct Breakpoint {
    note: String,
    disable: bool,
}

/// The registry's factory.
pub fn factory(v: &Value, _: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    let c: forge_template::schema::plugins::BreakpointProvisioner = decode(v)?;
    Ok(Box::new(Breakpoint {
        note: c.note.unwrap_or_default(),
        disable: c.disable.unwrap_or(false),
    }))
}

#[async_trait]
impl Provisioner for Breakpoint {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        _comm: Option<Arc<dyn Communicator>>,
        _data: &BuildData,
    ) -> forge_core::Result<()> {
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(" with note \"{}\"", self.note)
        };
        if self.disable {
            ui.say(&format!(
                "Breakpoint provisioner{note} disabled; continuing..."
            ));
            return Ok(());
        }
        ui.say(&format!("Pausing at breakpoint provisioner{note}."));
        tokio::select! {
            _ = ui.ask("Press enter to continue.") => Ok(()),
            _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
        }
    }
}
