//! One module per command.

pub mod console;
pub mod inspect;
pub mod validate;
pub mod version;
