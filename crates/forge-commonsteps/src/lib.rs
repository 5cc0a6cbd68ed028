//! The steps and helpers every machine builder shares, as Packer's `commonsteps` and
//! `bootcommand` packages serve all its builders: ISO downloads checked against checksums
//! through the cache, the build's HTTP server, cd and floppy media made in-process, port ranges
//! locked against concurrent builds, the output directory and shutdown steps, and the boot
//! command, parsed once and typed through a [`bootcommand::KeySender`] (VNC, PC scancodes or
//! USB HID usages). The steps are generic over the builder's state, which they reach through
//! small traits ([`MediaState`], [`DownloadState`], [`BootCommandState`], [`ShutdownState`]);
//! [`VmArtifact`] is the artifact of an output directory.

#![warn(missing_docs)]

pub mod artifact;
pub mod bootcommand;
pub mod config;
pub mod download;
pub mod httpserver;
pub mod media;
pub mod ports;
pub mod step_download;
pub mod step_media;
pub mod step_output_dir;
pub mod step_shutdown;
pub mod step_type_boot_command;

pub use artifact::VmArtifact;
pub use step_download::{DownloadState, StepDownload};
pub use step_media::{
    Media, MediaState, StepCreateCd, StepCreateFloppy, StepCreateImage, StepHttpServer,
};
pub use step_output_dir::StepOutputDir;
pub use step_shutdown::{ShutdownDriver, ShutdownState, StepShutdown};
pub use step_type_boot_command::{BootCommandState, Keyboard, StepTypeBootCommand};
