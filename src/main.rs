//! The `forge` binary: a Packer-compatible image builder. Thin glue: argument parsing lives in
//! `cli`, each command in `commands/`, and the work in the library crates.

mod cli;
mod commands;
mod logging;
mod plugins;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(cli::run(args));
}
