//! One module per command.

pub mod completion;
pub mod fmt;
pub mod init;
pub mod validate;
pub mod version;
