//! Running shell-local (SDK shell-local/run.go): inline lines become a temporary script with a
//! shebang; `{{.Vars}}` carries the environment as shell assignments; each script runs through
//! `execute_command`; stdout lines are messages, stderr lines errors.

use forge_core::local::{run_command, temp_file, to_ui, LocalCommand};
use forge_core::plugin::{BuildCtx, BuildData};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::Config;
use crate::common::env::Env;
use crate::common::{exit_code, script};
use forge_core::render::render;

fn render_with(template: &str, data: &BuildData, extra: &[(&str, &str)]) -> Result<String> {
    render(template, data, extra).map_err(|e| Error::msg(format!("rendering {template:?}: {e}")))
}

/// `{{.Vars}}`: PACKER_BUILD_NAME, PACKER_BUILDER_TYPE and the user's variables, sorted by name,
/// single quotes escaped, each through `env_var_format`. (Packer's shell-local also exports
/// PACKER_HTTP_ADDR/IP/PORT when the build serves HTTP; `Env::http` does that for `shell`.)
pub fn flattened_env(c: &Config) -> String {
    Env {
        build_name: &c.build_name,
        builder_type: &c.builder_type,
        http: None,
        vars: &c.vars,
        env: &c.env,
    }
    .flatten(&c.env_var_format)
}

/// Go's `filepath.Abs`: joined to the working directory when relative, then cleaned lexically.
fn absolute(path: &str) -> String {
    use std::path::{Component, Path, PathBuf};
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(d) => d.join(p),
            Err(_) => return path.to_string(),
        }
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Runs the configured command(s).
pub async fn run(ctx: &BuildCtx, ui: &Ui, c: &Config, data: &BuildData) -> Result<()> {
    if !c.only_on.is_empty() && !c.only_on.iter().any(|o| o == std::env::consts::OS) {
        ui.say("Skipping shell-local due to runtime OS");
        return Ok(());
    }
    let mut scripts: Vec<String> = c
        .scripts
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut _inline_file = None;
    let mut _inline_keep = None;
    if scripts.is_empty() {
        if let Some(lines) = &c.inline {
            let rendered = lines
                .iter()
                .map(|l| render_with(l, data, &[]))
                .collect::<Result<Vec<_>>>()?;
            let text = script::inline(&rendered, &c.inline_shebang, true);
            let f = temp_file(ctx, "packer-shell", text.as_bytes(), true)?;
            let mut path = f.path().to_string_lossy().into_owned();
            if !c.tempfile_extension.is_empty() {
                let renamed = format!("{path}.{}", c.tempfile_extension);
                let guard = forge_core::local::track(ctx, std::path::Path::new(&renamed), false)?;
                std::fs::copy(&path, &renamed)
                    .map_err(|e| Error::msg(format!("renaming {path}: {e}")))?;
                _inline_file = Some(guard);
                path = renamed;
            }
            scripts.push(path);
            _inline_keep = Some(f);
        }
    }
    let vars = flattened_env(c);
    for script in &scripts {
        // Shown as written, run (and named in errors) by its absolute path, as Packer does.
        let abs = absolute(script);
        let argv = c
            .execute_command
            .iter()
            .map(|a| {
                render_with(
                    a,
                    data,
                    &[("Vars", &vars), ("Script", &abs), ("Command", &abs)],
                )
            })
            .collect::<Result<Vec<_>>>()?;
        ui.say(&format!("Running local shell script: {script}"));
        let code = run_command(
            ctx,
            &LocalCommand {
                argv,
                ..Default::default()
            },
            &mut to_ui(ui),
        )
        .await
        .map_err(|e| match e {
            Error::Cancelled => Error::Cancelled,
            Error::Msg(m) => Error::msg(format!(
                "Error executing script: {abs}\n\nPlease see output above for more information. ({m})"
            )),
        })?;
        exit_code::check(code, &c.valid_exit_codes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: serde_json::Value) -> Config {
        Config::prepare(&crate::testing::value(v), &crate::testing::info()).unwrap()
    }

    #[test]
    fn env_is_sorted_and_quoted_without_http_vars() {
        let c = config(serde_json::json!({
            "inline": ["true"],
            "environment_vars": ["B=it's", "A=1"],
            "env": {"A": "2"},
        }));
        assert_eq!(
            flattened_env(&c),
            "A='2' B='it'\"'\"'s' PACKER_BUILDER_TYPE='null' PACKER_BUILD_NAME='null' "
        );
    }

    #[tokio::test]
    async fn inline_runs_with_shebang_and_checks_exit_codes() {
        let ctx = BuildCtx::for_test("null");
        let ui = ctx.ui.clone();
        let c = config(serde_json::json!({
            "inline": ["#!/bin/bash", "exit 3"],
            "valid_exit_codes": [3],
        }));
        run(&ctx, &ui, &c, &BuildData::new()).await.unwrap();
        let c = config(serde_json::json!({"inline": ["exit 4"]}));
        assert_eq!(
            run(&ctx, &ui, &c, &BuildData::new())
                .await
                .unwrap_err()
                .to_string(),
            "Script exited with non-zero exit status: 4.Allowed exit codes are: [0]"
        );
    }

    #[test]
    fn absolute_paths_are_cleaned() {
        assert_eq!(absolute("/a/./b/../c.sh"), "/a/c.sh");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute("./s.sh"), cwd.join("s.sh").to_string_lossy());
    }
}
