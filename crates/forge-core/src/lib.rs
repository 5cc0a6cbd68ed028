//! forge's build engine. A [`forge_template::BuildPlan`] goes in; builds run concurrently on
//! tokio, each builder's steps through the [`runner`], provisioners through the engine's hook,
//! artifacts through post-processor chains; everything a user sees flows through [`ui`] and
//! [`events`], and everything a build creates outside forge is recorded in the [`journal`] first.

pub mod artifact;
pub mod builtin;
pub mod comm;
pub mod decl;
pub mod durafmt;
pub mod engine;
pub mod error;
pub mod events;
pub mod glob;
pub mod journal;
pub mod local;
pub mod plugin;
pub mod redact;
pub mod registry;
pub mod render;
pub mod runner;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timeline;
pub mod ui;

pub use artifact::Artifact;
pub use error::{Error, Result};
pub use plugin::{BuildCtx, Builder, Communicator, Hook, PostProcessor, Provisioner};
pub use registry::Registry;
