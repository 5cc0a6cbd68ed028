//! One module per command.

pub mod validate;
pub mod version;
