//! Test support that needs this crate's own types, so it lives here rather than in
//! forge-testkit (a unit test using a copy built through another crate would see different
//! types). Compiled for this crate's tests and with the `testing` feature, which the
//! dev-dependencies of the tests that use it turn on.

pub mod console;
pub mod corpus;
