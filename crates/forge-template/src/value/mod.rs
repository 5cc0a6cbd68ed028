//! Values and types as Packer has them (cty): primitives, collections, structural types, null,
//! unknown, and the sensitive mark.

pub mod number;

pub use number::Number;
