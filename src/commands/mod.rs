//! One module per command.

pub mod build;
pub mod cleanup;
pub mod completion;
pub mod console;
pub mod fmt;
pub mod hcl2_upgrade;
pub mod init;
pub mod inspect;
pub mod internal;
pub mod man;
pub mod schema_only;
pub mod validate;
pub mod version;
