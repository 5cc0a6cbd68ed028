//! The `ansible` provisioner: runs `ansible-playbook` here, against the machine being built
//! (packer-plugin-ansible provisioner/ansible).
//!
//! One deliberate difference from Packer: with the ssh communicator and `use_proxy` unset, Ansible
//! connects straight to the machine, with the build's address, user and key (or password), also
//! through a bastion or a proxy without credentials. Packer's default, its SSH proxy adapter,
//! is used for every other communicator, when `use_proxy = true`, and where a route cannot be
//! handed to OpenSSH (a bastion that takes only a password, a proxy with credentials).

mod command;
mod config;
mod direct;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::local::{run_command, temp_file, temp_file_in, LocalCommand, TempPath};
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner, Stream};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::{Error, Result};
use forge_template::value::Value;

pub use command::{Target, TaskTracker};
pub use config::{Config, UseProxy};

use crate::adapter::{Adapter, AdapterOptions};

/// What `build.PackerHTTPAddr` holds when the builder serves no HTTP.
const NO_HTTP: &str = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER";

/// The configured provisioner.
pub struct Ansible {
    config: Config,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(Ansible {
        config: Config::prepare(v, info)?,
    }))
}

/// How Ansible reaches the machine for one run, and what must live as long as the run.
struct Route {
    target: Target,
    /// The private key Ansible logs in with.
    key_file: Option<String>,
    /// Connection variables passed as `-e @file` (password, ProxyCommand).
    vars: serde_json::Map<String, serde_json::Value>,
    /// Temporary files (keys) removed when the run ends.
    _files: Vec<TempPath>,
    /// The adapter, stopped when the run ends.
    adapter: Option<Adapter>,
}

impl Ansible {
    /// Decides the route (Packer's messages where it has them), starting the adapter when one
    /// is needed.
    async fn route(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<Route> {
        let c = &self.config;
        let ssh = comm.as_ref().and_then(|c| c.ssh_settings());
        let direct = match (c.use_proxy, &ssh) {
            (UseProxy::Yes, _) => None,
            (UseProxy::Unset, Some(s)) => direct::route(ctx, s)?,
            (UseProxy::Unset, None) => None,
            (UseProxy::No, Some(s)) => match direct::route(ctx, s)? {
                Some(r) => Some(r),
                None => {
                    ui.error(
                        "Warning: use_proxy is false, but the machine's SSH route (a bastion \
                         that takes only a password, or a proxy with credentials) cannot be \
                         handed to Ansible. Falling back to localhost proxy.",
                    );
                    None
                }
            },
            (UseProxy::No, None) => {
                if data.get("Host").is_none_or(|h| h.is_empty()) {
                    ui.error(
                        "Warning: use_proxy is false, but instance does not have an IP address \
                         to give to Ansible. Falling back to use localhost proxy.",
                    );
                } else {
                    ui.error(
                        "Warning: use_proxy is false, but communicator is neither ssh nor \
                         winrm, so without the proxy ansible will not function. Falling back to \
                         localhost proxy.",
                    );
                }
                None
            }
        };
        if let Some(d) = direct {
            ui.message(
                "Not using Proxy adapter for Ansible run:\n\tUsing ssh keys from Packer \
                 communicator...",
            );
            return Ok(Route {
                target: Target {
                    host: d.host,
                    port: d.port,
                    user: c.user.clone().unwrap_or(d.user),
                },
                key_file: d.key_file,
                vars: d.vars,
                _files: d.files,
                adapter: None,
            });
        }
        let Some(comm) = comm else {
            return Err(Error::msg(
                "the ansible provisioner needs a communicator: this build has none \
                 (communicator = \"none\")",
            ));
        };
        ui.message("Setting up proxy adapter for Ansible....");
        // Ansible expands `~` for the user it is told (`echo ~<user>`): that must be the user
        // the commands run as on the machine, not the one running forge (Packer's default,
        // which fails with "Failed to create temporary directory" wherever they differ).
        let user = match &c.user {
            Some(u) => u.clone(),
            None => match machine_user(ctx, comm.as_ref()).await {
                Some(u) => u,
                None => current_user()?,
            },
        };
        let adapter = Adapter::start(
            ctx,
            comm,
            AdapterOptions {
                local_port: c.local_port,
                host_key_file: c.ssh_host_key_file.clone(),
                authorized_key_file: c.ssh_authorized_key_file.clone(),
                key_type: c.key_type,
                sftp_command: c.sftp_command.clone(),
                use_sftp: c.use_sftp,
            },
        )
        .await?;
        Ok(Route {
            target: Target {
                host: "127.0.0.1".into(),
                port: adapter.port(),
                user,
            },
            key_file: adapter
                .client_key_file()
                .map(|p| p.to_string_lossy().into_owned()),
            vars: Default::default(),
            _files: Vec::new(),
            adapter: Some(adapter),
        })
    }

    /// Writes the generated inventory (unless `inventory_file` is given).
    fn inventory(
        &self,
        ctx: &BuildCtx,
        data: &BuildData,
        target: &Target,
    ) -> Result<(String, Option<TempPath>)> {
        let c = &self.config;
        if let Some(f) = &c.inventory_file {
            return Ok((f.clone(), None));
        }
        let text = command::inventory(c, data, target)?;
        let dir = c
            .inventory_directory
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let f = temp_file_in(
            ctx,
            &dir,
            "packer-provisioner-ansible",
            text.as_bytes(),
            false,
        )
        .map_err(|e| Error::msg(format!("Error preparing inventory file: {e}")))?;
        let path = f.path().to_string_lossy().into_owned();
        if c.keep_inventory_file {
            f.persist();
            return Ok((path, None));
        }
        Ok((path, Some(f)))
    }

    /// Runs one local Ansible command, its output lines as messages; the exit status.
    async fn run(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        argv: Vec<String>,
        env: &[(String, String)],
        tracker: &mut TaskTracker,
    ) -> Result<i32> {
        let cmd = LocalCommand {
            argv,
            env: env.to_vec(),
            cwd: None,
        };
        run_command(ctx, &cmd, &mut |_: Stream, l: &str| {
            tracker.line(l);
            ui.message(l.trim_end());
        })
        .await
    }

    async fn galaxy(&self, ctx: &BuildCtx, ui: &Ui, env: &[(String, String)]) -> Result<()> {
        let c = &self.config;
        let Some(file) = &c.galaxy_file else {
            return Ok(());
        };
        let content = std::fs::read_to_string(file)
            .map_err(|e| Error::msg(format!("Error executing Ansible Galaxy: {e}")))?;
        for args in command::galaxy_args(c, file, &content) {
            ui.message("Executing Ansible Galaxy");
            let mut argv = vec![c.galaxy_command.clone()];
            argv.extend(args);
            let code = self
                .run(ctx, ui, argv, env, &mut TaskTracker::default())
                .await
                .map_err(|e| galaxy_error(&c.galaxy_command, e))?;
            if code != 0 {
                return Err(Error::msg(format!(
                    "Error executing Ansible Galaxy: Non-zero exit status: exit status {code}"
                )));
            }
        }
        Ok(())
    }
}

/// A galaxy command that could not start says what to install.
fn galaxy_error(command: &str, e: Error) -> Error {
    if e.is_cancelled() {
        return e;
    }
    Error::msg(format!(
        "Error executing Ansible Galaxy: {e} (is {command} installed? it comes with \
         ansible-core)"
    ))
}

/// The user the communicator's commands run as: its SSH user, else what `id -un` answers on
/// the machine (`None` when it cannot say, as on Windows).
async fn machine_user(ctx: &BuildCtx, comm: &dyn Communicator) -> Option<String> {
    if let Some(s) = comm.ssh_settings() {
        return Some(s.auth.user).filter(|u| !u.is_empty());
    }
    let mut out = Vec::new();
    let code = comm
        .exec(ctx, "id -un", &mut |s, l| {
            if s == Stream::Stdout {
                out.push(l.trim().to_string());
            }
        })
        .await
        .ok()?;
    let user = out.into_iter().find(|l| !l.is_empty())?;
    (code == 0 && !user.contains(char::is_whitespace)).then_some(user)
}

/// The user running forge (Packer's `user.Current()`).
fn current_user() -> Result<String> {
    // SAFETY: geteuid has no preconditions.
    let name = forge_core::local::user_name(unsafe { libc::geteuid() });
    name.or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::msg("user: could not determine current user from environment."))
}

#[async_trait]
impl Provisioner for Ansible {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        ui.say("Provisioning with Ansible...");
        let route = self.route(ctx, ui, comm, data).await?;
        let result = self.provision_on(ctx, ui, &route, data).await;
        if let Some(a) = route.adapter {
            a.stop().await;
        }
        result
    }
}

impl Ansible {
    async fn provision_on(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        route: &Route,
        data: &BuildData,
    ) -> Result<()> {
        let c = &self.config;
        let (inventory, _inventory_guard) = self.inventory(ctx, data, &route.target)?;
        // Ansible's SSH connection masters (ControlPersist) live in a directory of the run's,
        // and are told to exit when it ends.
        let control = direct::ControlDir::new(ctx)?;
        let mut env = command::env(&c.env_vars);
        if !env.iter().any(|(k, _)| k == "ANSIBLE_SSH_CONTROL_PATH_DIR") {
            env.insert(0, ("ANSIBLE_SSH_CONTROL_PATH_DIR".into(), control.path()));
        }
        self.galaxy(ctx, ui, &env).await?;
        let vars_file = if route.vars.is_empty() {
            None
        } else {
            let text = serde_json::Value::Object(route.vars.clone()).to_string();
            Some(temp_file(
                ctx,
                "packer-ansible-vars",
                text.as_bytes(),
                false,
            )?)
        };
        let vars_path = vars_file
            .as_ref()
            .map(|f| f.path().to_string_lossy().into_owned());
        let http = data
            .get("PackerHTTPAddr")
            .map(String::as_str)
            .filter(|a| *a != NO_HTTP && !a.is_empty());
        let args = command::playbook_args(
            c,
            http,
            route.key_file.as_deref(),
            vars_path.as_deref(),
            &inventory,
        );
        let mut argv = vec![c.command.clone()];
        argv.extend(args);
        ui.say(&format!(
            "Executing Ansible: {}",
            command::sanitized(&argv, &c.extra_arguments, data)
        ));
        let mut tracker = TaskTracker::default();
        let code = self
            .run(ctx, ui, argv, &env, &mut tracker)
            .await
            .map_err(|e| match e {
                e if e.is_cancelled() => e,
                e => Error::msg(format!("Error executing Ansible: {e}")),
            })?;
        if code != 0 {
            let task = tracker
                .failed()
                .map(|t| format!(" (the task that failed: {t:?})"))
                .unwrap_or_default();
            return Err(Error::msg(format!(
                "Error executing Ansible: Non-zero exit status: exit status {code}{task}"
            )));
        }
        Ok(())
    }
}
