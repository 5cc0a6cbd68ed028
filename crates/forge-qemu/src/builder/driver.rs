//! The outside programs the qemu builder drives: `qemu-img` (run to completion) and the qemu
//! binary itself (in the background, journaled, stopped at cleanup).

use forge_core::local::{run_command, spawn_background, Background, LocalCommand};
use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};

/// Runs `qemu-img` with `args`; its combined output on failure.
pub async fn qemu_img(ctx: &BuildCtx, args: &[String]) -> Result<()> {
    let mut argv = vec!["qemu-img".to_string()];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    let cmd = LocalCommand {
        argv: argv.clone(),
        ..Default::default()
    };
    let code = run_command(ctx, &cmd, &mut |_, l| out.push(l.to_string()))
        .await
        .map_err(|e| match e {
            Error::Msg(m) if m.contains("No such file") => Error::msg(format!(
                "{m}: qemu-img is not installed (Debian: apt-get install qemu-utils)"
            )),
            e => e,
        })?;
    if code != 0 {
        return Err(Error::msg(format!(
            "{} exited with status {code}: {}",
            argv.join(" "),
            out.join("\n")
        )));
    }
    Ok(())
}

/// Starts qemu; fails when the binary is missing.
pub fn start_qemu(ctx: &BuildCtx, binary: &str, args: &[String]) -> Result<Background> {
    let mut argv = vec![binary.to_string()];
    argv.extend_from_slice(args);
    tracing::info!("qemu command: {}", argv.join(" "));
    spawn_background(
        ctx,
        &LocalCommand {
            argv,
            ..Default::default()
        },
    )
    .map_err(|e| match e {
        Error::Msg(m) if m.contains("No such file") => Error::msg(format!(
            "{m}: {binary} is not installed (Debian: apt-get install qemu-system-x86), or set qemu_binary"
        )),
        e => e,
    })
}
