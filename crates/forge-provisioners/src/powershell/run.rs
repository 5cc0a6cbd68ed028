//! Running the `powershell` provisioner (Packer 1.6.6 provisioner/powershell `Provision`): for
//! each script, the environment file is uploaded, the command made (wrapped in the elevated
//! runner when `elevated_user` is set), then the script uploaded and the command run as one
//! retried unit; at the end a clean-up script removes what was uploaded.

use std::collections::BTreeMap;
use std::path::PathBuf;

use forge_core::local::{temp_file, TempPath};
use forge_core::plugin::{BuildCtx, BuildData, Communicator};
use forge_core::render::render;
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::Config;
use crate::common::elevated::ElevatedRunner;
use crate::common::exit_code;
use crate::common::go::{base, os_error, sprintf2};
use crate::common::windows::{exec_ui, ps_escape, upload_text};

/// The HTTP server facts Packer exports: build-data key, variable, and the placeholder of a
/// build without a server.
const HTTP_VARS: [(&str, &str, &str); 3] = [
    (
        "PackerHTTPAddr",
        "PACKER_HTTP_ADDR",
        "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
    ),
    (
        "PackerHTTPIP",
        "PACKER_HTTP_IP",
        "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    ),
    (
        "PackerHTTPPort",
        "PACKER_HTTP_PORT",
        "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
    ),
];

/// The environment file's content: Packer's variables, then `environment_vars` (rendered with
/// the build's data) and `env`, values escaped for PowerShell, sorted by name, each through
/// `format`.
pub fn flatten_env(c: &Config, data: &BuildData, format: &str) -> Result<String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("PACKER_BUILD_NAME".into(), c.build_name.clone());
    vars.insert("PACKER_BUILDER_TYPE".into(), c.builder_type.clone());
    for (key, name, placeholder) in HTTP_VARS {
        if let Some(v) = data.get(key).filter(|v| *v != placeholder) {
            vars.insert(name.into(), v.clone());
        }
    }
    let rendering = |e: String| Error::msg(format!("Error processing command: {e}"));
    for kv in &c.vars {
        let kv = render(kv, data, &[]).map_err(rendering)?;
        // Checked when configured; a rendered value may still lack its `=`.
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        vars.insert(k.to_string(), ps_escape(v));
    }
    for (k, v) in &c.env {
        let k = render(k, data, &[]).map_err(rendering)?;
        let v = render(v, data, &[]).map_err(rendering)?;
        vars.insert(k, ps_escape(&v));
    }
    Ok(vars.iter().map(|(k, v)| sprintf2(format, k, v)).collect())
}

/// The elevated password, rendered with the build's data (`{{.WinRMPassword}}`).
pub fn elevated_password(c: &Config, data: &BuildData) -> String {
    render(&c.elevated_password, data, &[]).unwrap_or_default()
}

/// The command for one script: uploads the environment file (retried), renders the execute
/// command and, elevated, uploads the runner that wraps it.
async fn command_text(
    ctx: &BuildCtx,
    c: &Config,
    comm: &dyn Communicator,
    data: &BuildData,
    remote_path: &str,
) -> Result<String> {
    let elevated = !c.elevated_user.is_empty();
    let format = if elevated {
        &c.elevated_env_var_format
    } else {
        &c.env_var_format
    };
    let flattened = flatten_env(c, data, format)?;
    c.retry
        .run(ctx, || {
            let flattened = flattened.as_bytes();
            async move {
                upload_text(ctx, comm, &c.remote_env_var_path, flattened)
                    .await
                    .map_err(|e| e.context("Error uploading ps script containing env vars"))
            }
        })
        .await?;
    let template = if elevated {
        &c.elevated_execute_command
    } else {
        &c.execute_command
    };
    let command = render(
        template,
        data,
        &[("Path", remote_path), ("Vars", &c.remote_env_var_path)],
    )
    .map_err(|e| Error::msg(format!("Error processing command: {e}")))?;
    if !elevated {
        return Ok(command);
    }
    let runner = ElevatedRunner::new(&command, &c.elevated_user, &elevated_password(c, data));
    runner
        .upload(ctx, comm)
        .await
        .map_err(|e| e.context("Error generating elevated runner"))
}

/// The inline lines as a local script (each line ended by `\n`, as Packer writes them).
fn write_inline(ctx: &BuildCtx, lines: &[String]) -> Result<TempPath> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    temp_file(ctx, "powershell-provisioner", text.as_bytes(), false)
        .map_err(|e| e.context("Error preparing powershell script"))
}

/// Runs the configured scripts through `comm`.
pub async fn run(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    data: &BuildData,
) -> Result<()> {
    // The password never shows, in any of the forms it travels in.
    let redactor = ui.output().redactor();
    redactor.add(&c.elevated_password);
    redactor.add(&elevated_password(c, data));

    ui.say("Provisioning with Powershell...");
    let mut scripts: Vec<(String, PathBuf)> =
        c.scripts.iter().map(|s| (s.clone(), s.into())).collect();
    let _inline = match &c.inline {
        Some(lines) => {
            let f = write_inline(ctx, lines)?;
            scripts.push((f.path().display().to_string(), f.path().to_path_buf()));
            Some(f)
        }
        None => None,
    };

    // The environment file first: each run has one.
    let mut uploaded = vec![c.remote_env_var_path.clone()];
    let mut remote_path = c.remote_path.clone();
    for (shown, path) in &scripts {
        ui.say(&format!("Provisioning with powershell script: {shown}"));
        std::fs::metadata(path).map_err(|e| {
            Error::msg(format!(
                "Error stating powershell script: {}",
                os_error("stat", shown, &e)
            ))
        })?;
        if remote_path.ends_with('\\') {
            // A directory: the script keeps its name (and later scripts go to that file).
            remote_path.push_str(&base(shown));
        }
        let command = command_text(ctx, c, comm, data, &remote_path)
            .await
            .map_err(|e| e.context("Error processing command"))?;
        let (command, remote) = (command.as_str(), remote_path.as_str());
        let code = c
            .retry
            .run(ctx, || async move {
                comm.upload(ctx, remote, path)
                    .await
                    .map_err(|e| e.context("Error uploading script"))?;
                exec_ui(ctx, comm, ui, command).await
            })
            .await?;
        uploaded.push(remote_path.clone());
        tracing::debug!("{remote_path} returned with exit code {code}");
        exit_code::check(code, &c.valid_exit_codes)?;
    }

    if !c.skip_clean {
        let cleaned = c
            .cleanup_retry
            .run(ctx, || cleanup(ctx, ui, c, comm, data, &uploaded))
            .await;
        match cleaned {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => tracing::warn!(
                "remote cleanup script failed to upload; skipping the removal of temporary files: {}; {e}",
                uploaded.join(",")
            ),
            Ok(()) => {}
        }
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

/// The clean-up script's content: each file removed if it exists, the script itself last.
pub fn cleanup_script(c: &Config, uploaded: &[String]) -> String {
    uploaded
        .iter()
        .chain(std::iter::once(&c.cleanup_path))
        .map(|f| format!("if (Test-Path {f}) {{Remove-Item {f}}}\n"))
        .collect()
}

/// Uploads the clean-up script and runs it with the (non-elevated) execute command.
async fn cleanup(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    data: &BuildData,
    uploaded: &[String],
) -> Result<()> {
    let script = cleanup_script(c, uploaded);
    upload_text(ctx, comm, &c.cleanup_path, script.as_bytes())
        .await
        .map_err(|e| {
            e.context(format!(
                "clean up script {:?} failed to upload",
                c.cleanup_path
            ))
        })?;
    let command = render(
        &c.execute_command,
        data,
        &[("Path", &c.cleanup_path), ("Vars", &c.remote_env_var_path)],
    )
    .map_err(Error::msg)?;
    exec_ui(ctx, comm, ui, &command).await.map(drop)
}
