//! One module per command.

pub mod completion;
pub mod fmt;
pub mod hcl2_upgrade;
pub mod init;
pub mod validate;
pub mod version;
