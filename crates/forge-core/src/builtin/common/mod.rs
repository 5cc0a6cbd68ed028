//! Steps and helpers every builder shares.

mod step_connect;
mod step_provision;
mod step_temp_key;

pub use step_connect::{HostFn, StepConnect};
pub use step_provision::{hook_data, ProvisionState, StepProvision};
pub use step_temp_key::{StepCleanupTempKeys, StepTempKey, TempKeyState};
