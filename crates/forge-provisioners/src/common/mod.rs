//! What the shell-style provisioners share (Packer's SDK `shell` package and the helpers its
//! `shell` and `shell-local` repeat): the environment they export, inline scripts, template
//! rendering, exit-code checks, retries, and Go's spelling of errors, paths and durations; and
//! what the Windows provisioners share (PowerShell escaping and encoded commands, the elevated
//! scheduled-task runner).

pub mod elevated;
pub mod env;
pub mod exit_code;
pub mod go;
pub mod retry;
pub mod script;
pub mod windows;
