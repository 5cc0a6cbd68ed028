//! Packer templates, HCL2 and legacy JSON: parsing, evaluation with Packer's semantics, and the
//! typed build plan that the engine runs.

extern crate self as forge_template;

pub mod functions;
pub mod value;
