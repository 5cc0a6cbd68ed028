//! The `sleep` provisioner: waits `duration` (cancellable).

use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::{decode, PrepareErrors};
use forge_core::ui::Ui;
use forge_template::value::Value;

/// The provisioner.
pub struct Sleep {
    duration: Duration,
}

/// The registry's factory.
pub fn factory(v: &Value, _: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    let c: forge_template::schema::plugins::SleepProvisioner = decode(v)?;
    let text = c.duration.unwrap_or_default();
    let duration = if text.is_empty() {
        Duration::ZERO
    } else {
        forge_template::plan::parse_duration(&text)
            .ok_or_else(|| vec![format!("time: invalid duration {text:?}")])?
    };
    Ok(Box::new(Sleep { duration }))
}

#[async_trait]
impl Provisioner for Sleep {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        _ui: &Ui,
        _comm: Option<Arc<dyn Communicator>>,
        _data: &BuildData,
    ) -> forge_core::Result<()> {
        ctx.sleep(self.duration).await
    }
}
