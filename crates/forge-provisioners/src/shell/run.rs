//! Running the `shell` provisioner (provisioner/shell/provisioner.go `Provision`): inline lines
//! become a local script; for each script, upload, `chmod 0755` and `execute_command` run as one
//! retried unit (a reboot between the upload and the run must not lose the file); then the exit
//! status is judged and the remote file removed.

use std::borrow::Cow;
use std::path::Path;

use forge_core::local::{temp_file, TempPath};
use forge_core::plugin::{BuildCtx, BuildData, Communicator, Stream, DISCONNECTED};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::{rand_suffix, Config};
use crate::common::env::Env;
use crate::common::exit_code;
use crate::common::go::os_error;
use crate::common::retry::Retry;
use crate::common::script::{self, unix_line_endings};
use forge_core::render::render;

/// Packer's `RemoteCmd` line cleaning: trailing whitespace dropped, and of a line that a
/// carriage return overwrote, only what a terminal would show (the text after the last `\r`).
pub fn clean_output_line(line: &str) -> &str {
    let line = line.trim_end();
    match line.rfind('\r') {
        Some(i) => &line[i + 1..],
        None => line,
    }
}

/// Remote output as Packer 1.6.6 shows it: stdout lines as messages, stderr lines as errors.
fn to_ui(ui: &Ui) -> impl FnMut(Stream, &str) + Send + '_ {
    move |s, l| match s {
        Stream::Stdout => ui.message(clean_output_line(l)),
        Stream::Stderr => ui.error(clean_output_line(l)),
    }
}

fn discard(_: Stream, _: &str) {}

/// The bytes to upload: as they are with `binary`, otherwise with Unix line endings.
fn upload_bytes<'a>(c: &Config, b: &'a [u8]) -> Cow<'a, [u8]> {
    if c.binary {
        Cow::Borrowed(b)
    } else {
        unix_line_endings(b)
    }
}

fn preparing(e: Error) -> Error {
    e.context("Error preparing shell script")
}

/// Runs the configured scripts through `comm`.
pub async fn run(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    data: &BuildData,
) -> Result<()> {
    let retry = c.retry;
    // (shown as, local path) of each script.
    let mut scripts: Vec<(String, std::path::PathBuf)> =
        c.scripts.iter().map(|s| (s.clone(), s.into())).collect();
    let _inline_file = match &c.inline {
        Some(lines) => {
            let f = write_inline(ctx, c, lines, data)?;
            scripts.push((f.path().display().to_string(), f.path().to_path_buf()));
            Some(f)
        }
        None => None,
    };

    let env = Env {
        build_name: &c.build_name,
        builder_type: &c.builder_type,
        http: Some(data),
        vars: &c.vars,
        env: &c.env,
    };
    let flattened = env.flatten(&c.env_var_format);

    let mut env_var_file = String::new();
    let _vars_file = if c.use_env_var_file {
        let bytes = upload_bytes(c, flattened.as_bytes());
        let f = temp_file(ctx, "packer-shell-vars", &bytes, false).map_err(preparing)?;
        env_var_file = upload_env_var_file(ctx, c, comm, f.path()).await?;
        Some(f)
    } else {
        None
    };

    for (shown, path) in &scripts {
        ui.say(&format!("Provisioning with shell script: {shown}"));
        let original = std::fs::read(path).map_err(|e| {
            Error::msg(format!(
                "Error opening shell script: {}",
                os_error("open", shown, &e)
            ))
        })?;
        // A converted copy only when conversion changes something.
        let converted = match upload_bytes(c, &original) {
            Cow::Borrowed(_) => None,
            Cow::Owned(b) => Some(temp_file(ctx, "packer-shell", &b, false).map_err(preparing)?),
        };
        let upload_src = converted.as_ref().map_or(path.as_path(), |f| f.path());
        let command = render(
            &c.execute_command,
            data,
            &[
                ("Vars", &flattened),
                ("EnvVarFile", &env_var_file),
                ("Path", &c.remote_path),
            ],
        )
        .map_err(|e| Error::msg(format!("Error processing command: {e}")))?;

        let command = command.as_str();
        let code = retry
            .run(ctx, || async move {
                comm.upload(ctx, &c.remote_path, upload_src)
                    .await
                    .map_err(|e| e.context("Error uploading script"))?;
                // A reboot still under way can take the upload with the old boot.
                let boots = comm.boots();
                comm.exec(ctx, &format!("chmod 0755 {}", c.remote_path), &mut discard)
                    .await
                    .map_err(|e| {
                        e.context("Error chmodding script file to 0755 in remote machine")
                    })?;
                if comm.boots() != boots {
                    return Err(rebooted_since_upload());
                }
                let code = comm.exec(ctx, command, &mut to_ui(ui)).await?;
                // 126/127: the shell found no script to run, because the boot changed under it.
                if matches!(code, 126 | 127) && comm.boots() != boots {
                    return Err(rebooted_since_upload());
                }
                Ok(code)
            })
            .await?;
        exit_code::check_remote(code, &c.valid_exit_codes, c.expect_disconnect)?;
        if !c.skip_clean {
            remove_remote(ctx, comm, retry, &c.remote_path).await?;
        }
    }

    // Packer also runs a bare `rm -f ` when there is no env var file; that does nothing.
    if !c.skip_clean && !env_var_file.is_empty() {
        remove_remote(ctx, comm, retry, &env_var_file).await?;
    }

    if !c.pause_after.is_zero() {
        ui.say(&format!(
            "Pausing {} after this provisioner...",
            c.pause_after
        ));
        ctx.sleep(c.pause_after.wait()).await?;
    }
    Ok(())
}

/// The machine came back from a reboot between uploading the script and running it.
fn rebooted_since_upload() -> Error {
    Error::msg("The machine rebooted after the script was uploaded; uploading it again")
}

/// The inline lines, rendered with the build's data, as a local script file.
fn write_inline(
    ctx: &BuildCtx,
    c: &Config,
    lines: &[String],
    data: &BuildData,
) -> Result<TempPath> {
    let rendered = lines
        .iter()
        .map(|l| render(l, data, &[]))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::msg(format!("Error interpolating Inline: {e}")))?;
    let text = script::inline(&rendered, &c.inline_shebang, c.inline_shebang_set);
    temp_file(ctx, "packer-shell", text.as_bytes(), false).map_err(preparing)
}

/// Uploads the env var file as `<remote_folder>/varfile_<n>.sh` (a new name each try) readable
/// only by its owner; returns the remote name.
async fn upload_env_var_file(
    ctx: &BuildCtx,
    c: &Config,
    comm: &dyn Communicator,
    local: &Path,
) -> Result<String> {
    c.retry
        .run(ctx, || async move {
            let remote = format!("{}/varfile_{}.sh", c.remote_folder, rand_suffix());
            comm.upload(ctx, &remote, local)
                .await
                .map_err(|e| e.context("Error uploading envVarFile"))?;
            comm.exec(ctx, &format!("chmod 0600 {remote}"), &mut discard)
                .await
                .map_err(|e| e.context("Error chmodding script file to 0600 in remote machine"))?;
            Ok(remote)
        })
        .await
}

/// `rm -f <path>`, retried (after a reboot the machine may take a while to come back); a
/// dropped connection counts as a failed try.
async fn remove_remote(
    ctx: &BuildCtx,
    comm: &dyn Communicator,
    retry: Retry,
    path: &str,
) -> Result<()> {
    retry
        .run(ctx, || async move {
            let code = comm
                .exec(ctx, &format!("rm -f {path}"), &mut discard)
                .await
                .map_err(|e| e.context(format!("Error removing temporary script at {path}")))?;
            match code {
                0 => Ok(()),
                DISCONNECTED => Err(Error::msg("Disconnect while removing temporary script.")),
                _ => Err(Error::msg(format!(
                    "Error removing temporary script at {path}!"
                ))),
            }
        })
        .await
}
