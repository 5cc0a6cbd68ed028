//! Packer templates, HCL2 and legacy JSON: parsing, evaluation with Packer's semantics, and the
//! typed build plan that the engine runs.

pub mod json;
pub mod legacy;
pub mod value;
