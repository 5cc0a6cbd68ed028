//! Running the `windows-shell` provisioner (Packer 1.6.6 provisioner/windows-shell
//! `Provision`): inline lines become a local `.bat`; for each script, the upload to
//! `remote_path` and the command run as one retried unit, then the exit status is judged.
//! Packer removes nothing afterwards.

use std::collections::BTreeMap;
use std::path::PathBuf;

use forge_core::local::temp_file;
use forge_core::plugin::{BuildCtx, BuildData, Communicator};
use forge_core::render::render;
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::Config;
use crate::common::exit_code;
use crate::common::go::{os_error, sprintf2};
use crate::common::windows::exec_ui;

/// `{{.Vars}}`: Packer's variables, `environment_vars` and `env` (as written, unescaped),
/// sorted by name, each through `env_var_format`.
pub fn flatten_env(c: &Config, data: &BuildData) -> String {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("PACKER_BUILD_NAME".into(), c.build_name.clone());
    vars.insert("PACKER_BUILDER_TYPE".into(), c.builder_type.clone());
    for (key, name, placeholder) in [
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
    ] {
        if let Some(v) = data.get(key).filter(|v| *v != placeholder) {
            vars.insert(name.into(), v.clone());
        }
    }
    for (k, v) in c.vars.iter().chain(&c.env) {
        vars.insert(k.clone(), v.clone());
    }
    vars.iter()
        .map(|(k, v)| sprintf2(&c.env_var_format, k, v))
        .collect()
}

/// Runs the configured scripts through `comm`.
pub async fn run(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    data: &BuildData,
) -> Result<()> {
    ui.say("Provisioning with windows-shell...");
    let mut scripts: Vec<(String, PathBuf)> =
        c.scripts.iter().map(|s| (s.clone(), s.into())).collect();
    let _inline = match &c.inline {
        Some(lines) => {
            // Each line ended by `\n`, as Packer writes it (cmd.exe reads LF line ends).
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let f = temp_file(ctx, "windows-shell-provisioner", text.as_bytes(), false)
                .map_err(|e| e.context("Error preparing shell script"))?;
            scripts.push((f.path().display().to_string(), f.path().to_path_buf()));
            Some(f)
        }
        None => None,
    };

    for (shown, path) in &scripts {
        ui.say(&format!("Provisioning with shell script: {shown}"));
        std::fs::metadata(path).map_err(|e| {
            Error::msg(format!(
                "Error opening shell script: {}",
                os_error("open", shown, &e)
            ))
        })?;
        let vars = flatten_env(c, data);
        let command = render(
            &c.execute_command,
            data,
            &[("Vars", &vars), ("Path", &c.remote_path)],
        )
        .map_err(|e| Error::msg(format!("Error processing command: {e}")))?;
        let command = command.as_str();
        let code = c
            .retry
            .run(ctx, || async move {
                comm.upload(ctx, &c.remote_path, path)
                    .await
                    .map_err(|e| e.context("Error uploading script"))?;
                exec_ui(ctx, comm, ui, command).await
            })
            .await?;
        exit_code::check(code, &c.valid_exit_codes)?;
    }
    Ok(())
}
