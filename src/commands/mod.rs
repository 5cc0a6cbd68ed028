//! One module per command.

pub mod hcl2_upgrade;
pub mod validate;
pub mod version;
