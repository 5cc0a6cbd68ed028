//! The steps and helpers every machine builder shares, as Packer's `commonsteps` and
//! `bootcommand` packages serve all its builders: ISO downloads checked against checksums
//! through the cache, the build's HTTP server, cd and floppy media made in-process, port ranges
//! locked against concurrent builds, the output directory and shutdown steps, and the boot
//! command, parsed once and typed through a [`bootcommand::KeySender`] (VNC, PC scancodes or
//! USB HID usages).

#![warn(missing_docs)]

pub mod bootcommand;
pub mod download;
pub mod httpserver;
pub mod media;
pub mod ports;
pub mod step_output_dir;
pub mod step_shutdown;

pub use step_output_dir::StepOutputDir;
pub use step_shutdown::{ShutdownDriver, ShutdownState, StepShutdown};
