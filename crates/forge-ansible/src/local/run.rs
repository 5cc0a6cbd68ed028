//! Running `ansible-local` (provisioner.go `Provision`): the staging directory is made (or is
//! the uploaded `playbook_dir`), the playbooks, inventory, galaxy file, variables, roles,
//! collections and extra playbooks are uploaded into it, `ansible-galaxy` installs what the
//! galaxy file asks, and each playbook runs on the machine with `-c local`.

use std::path::Path;

use forge_core::local::{temp_file, TempPath};
use forge_core::plugin::{BuildCtx, BuildData, Communicator, Stream};
use forge_core::ui::Ui;
use forge_core::{Error, Result};

use super::config::{abs, base, dir, join, os_error, Config};

/// What Go's `%s` prints for a value missing from the generated data.
const GO_NIL: &str = "%!s(<nil>)";

/// The exit status of a shell that found no such command.
const NOT_FOUND: i32 = 127;

/// Packer's remote-command line cleaning: trailing whitespace dropped, and of a line a carriage
/// return overwrote, only what a terminal would show.
fn clean_line(line: &str) -> &str {
    let line = line.trim_end();
    match line.rfind('\r') {
        Some(i) => &line[i + 1..],
        None => line,
    }
}

/// Runs `command` remotely, its stdout lines shown as messages and stderr lines as errors
/// (Packer's `RemoteCmd.RunWithUi`); the exit status.
async fn run_with_ui(
    ctx: &BuildCtx,
    ui: &Ui,
    comm: &dyn Communicator,
    command: &str,
) -> Result<i32> {
    comm.exec(ctx, command, &mut |s, l| match s {
        Stream::Stdout => ui.message(clean_line(l)),
        Stream::Stderr => ui.error(clean_line(l)),
    })
    .await
}

/// Everything one run needs besides the configuration.
struct Run<'a> {
    ctx: &'a BuildCtx,
    ui: &'a Ui,
    c: &'a Config,
    comm: &'a dyn Communicator,
    data: &'a BuildData,
}

/// Provisions: the whole flow, then the staging directory removed when
/// `clean_staging_directory` is set (after a failure too, keeping the failure's error).
pub(crate) async fn run(
    ctx: &BuildCtx,
    ui: &Ui,
    c: &Config,
    comm: &dyn Communicator,
    data: &BuildData,
) -> Result<()> {
    ui.say("Provisioning with Ansible...");
    let r = Run {
        ctx,
        ui,
        c,
        comm,
        data,
    };
    let result = r.provision().await;
    if !c.clean_staging_dir {
        return result;
    }
    match result {
        Ok(()) => {
            ui.message("Removing staging directory...");
            r.remove_dir(&c.staging_dir)
                .await
                .map_err(|e| e.context("Error removing staging directory"))
        }
        // An interrupted run can run nothing more on the machine.
        Err(e) if e.is_cancelled() => Err(e),
        Err(e) => {
            ui.message("Removing staging directory...");
            if let Err(rm) = r.remove_dir(&c.staging_dir).await {
                ui.error(&format!("Error removing staging directory: {rm}"));
            }
            Err(e)
        }
    }
}

impl Run<'_> {
    async fn provision(&self) -> Result<()> {
        let (ui, c) = (self.ui, self.c);
        match &c.playbook_dir {
            Some(pdir) => {
                ui.message("Uploading Playbook directory to Ansible staging directory...");
                self.upload_dir(&c.staging_dir, pdir)
                    .await
                    .map_err(|e| e.context("Error uploading playbook_dir directory"))?;
            }
            None => {
                ui.message("Creating Ansible staging directory...");
                self.create_dir(&c.staging_dir)
                    .await
                    .map_err(|e| e.context("Error creating staging directory"))?;
            }
        }

        let playbooks = self.playbooks()?;
        match &c.playbook_file {
            Some(src) => {
                ui.message("Uploading main Playbook file...");
                let dst = join(&[&c.staging_dir, &base(src)]);
                self.upload_file(&dst, src)
                    .await
                    .map_err(|e| e.context("Error uploading main playbook"))?;
            }
            None => {
                for p in playbooks.iter().filter(|p| p.upload) {
                    self.upload_playbook_file(&p.local).await?;
                }
            }
        }

        // The generated inventory lives until the provisioner ends, as Packer's deferred removal.
        let generated: Option<TempPath> = match &c.inventory_file {
            Some(_) => None,
            None => Some(self.generate_inventory()?),
        };
        let inventory_local = match &generated {
            Some(t) => t.path().to_string_lossy().into_owned(),
            None => c.inventory_file.clone().unwrap_or_default(),
        };

        if let Some(src) = &c.galaxy_file {
            ui.message("Uploading galaxy file...");
            let dst = join(&[&c.staging_dir, &base(src)]);
            self.upload_file(&dst, src)
                .await
                .map_err(|e| e.context("Error uploading galaxy file"))?;
        }

        ui.message("Uploading inventory file...");
        let inventory = join(&[&c.staging_dir, &base(&inventory_local)]);
        self.upload_file(&inventory, &inventory_local)
            .await
            .map_err(|e| e.context("Error uploading inventory file"))?;

        if let Some(src) = &c.group_vars {
            ui.message("Uploading group_vars directory...");
            self.upload_dir(&join(&[&c.staging_dir, "group_vars"]), src)
                .await
                .map_err(|e| e.context("Error uploading group_vars directory"))?;
        }
        if let Some(src) = &c.host_vars {
            ui.message("Uploading host_vars directory...");
            self.upload_dir(&join(&[&c.staging_dir, "host_vars"]), src)
                .await
                .map_err(|e| e.context("Error uploading host_vars directory"))?;
        }
        if !c.role_paths.is_empty() {
            ui.message("Uploading role directories...");
            for src in &c.role_paths {
                self.upload_dir(&join(&[&c.staging_dir, "roles", &base(src)]), src)
                    .await
                    .map_err(|e| e.context("Error uploading roles"))?;
            }
        }
        if !c.collection_paths.is_empty() {
            ui.message("Uploading collection directories...");
            for src in &c.collection_paths {
                self.upload_dir(&join(&[&c.staging_dir, "collections", &base(src)]), src)
                    .await
                    .map_err(|e| e.context("Error uploading collections"))?;
            }
        }
        if !c.playbook_paths.is_empty() {
            ui.message("Uploading additional Playbooks...");
            let playbook_dir = join(&[&c.staging_dir, "playbooks"]);
            self.create_dir(&playbook_dir)
                .await
                .map_err(|e| e.context("Error creating playbooks directory"))?;
            for src in &c.playbook_paths {
                self.upload_dir(&join(&[&playbook_dir, &base(src)]), src)
                    .await
                    .map_err(|e| e.context("Error uploading playbooks"))?;
            }
        }

        self.execute(&playbooks, &inventory)
            .await
            .map_err(|e| e.context("Error executing Ansible"))?;
        drop(generated);
        Ok(())
    }

    /// The `playbook_files` to run: those inside `playbook_dir` (a plain prefix match on the
    /// absolute paths, as Packer does) are already in the staging directory at their path
    /// relative to it; the others are uploaded to `<staging>/<absolute path>`.
    fn playbooks(&self) -> Result<Vec<Playbook>> {
        let pdir = match &self.c.playbook_dir {
            Some(d) => Some(abs(d).map_err(Error::msg)?),
            None => None,
        };
        Ok(self
            .c
            .playbook_files
            .iter()
            .map(|f| match pdir.as_deref().and_then(|d| f.strip_prefix(d)) {
                Some(rel) => Playbook {
                    local: f.clone(),
                    remote: rel.to_string(),
                    upload: false,
                },
                _ => Playbook {
                    local: f.clone(),
                    remote: f.clone(),
                    upload: true,
                },
            })
            .collect())
    }

    async fn upload_playbook_file(&self, local: &str) -> Result<()> {
        self.ui
            .message(&format!("Uploading playbook file: {local}"));
        let remote_dir = join(&[&self.c.staging_dir, &dir(local)]);
        let remote = join(&[&self.c.staging_dir, local]);
        self.create_dir(&remote_dir)
            .await
            .map_err(|e| Error::msg(format!("Error uploading playbook file: {local} [{e}]")))?;
        self.upload_file(&remote, local)
            .await
            .map_err(|e| Error::msg(format!("Error uploading playbook: {local} [{e}]")))
    }

    /// A local inventory holding `127.0.0.1`, in each of `inventory_groups` when given.
    fn generate_inventory(&self) -> Result<TempPath> {
        let content = if self.c.inventory_groups.is_empty() {
            "127.0.0.1".to_string()
        } else {
            self.c
                .inventory_groups
                .iter()
                .map(|g| format!("[{g}]\n127.0.0.1\n"))
                .collect()
        };
        temp_file(
            self.ctx,
            "packer-provisioner-ansible-local",
            content.as_bytes(),
            false,
        )
        .map_err(|e| e.context("Error preparing inventory file"))
    }

    /// Galaxy first (when a galaxy file is given), then each playbook.
    async fn execute(&self, playbooks: &[Playbook], inventory: &str) -> Result<()> {
        let c = self.c;
        let http = self
            .data
            .get("PackerHTTPAddr")
            .map_or(GO_NIL, String::as_str);
        // Packer's line, `-o IdentitiesOnly=yes` inside the extra vars included (Ansible reads
        // `IdentitiesOnly=yes` as one more variable and ignores the `-o`).
        let mut extra = format!(
            " --extra-vars \"packer_build_name={} packer_builder_type={} packer_http_addr={http} -o IdentitiesOnly=yes\" ",
            c.build_name, c.builder_type
        );
        extra.push_str(&c.extra_arguments.join(" "));

        if c.galaxy_file.is_some() {
            self.execute_galaxy()
                .await
                .map_err(|e| e.context("Error executing Ansible Galaxy"))?;
        }
        if let Some(f) = &c.playbook_file {
            let remote = join(&[&c.staging_dir, &base(f)]);
            self.execute_playbook(&remote, &extra, inventory).await?;
        }
        for p in playbooks {
            let remote = join(&[&c.staging_dir, &p.remote]);
            self.execute_playbook(&remote, &extra, inventory).await?;
        }
        Ok(())
    }

    /// Whether the galaxy file (read locally, as Packer does) has a top-level `roles:` and a
    /// top-level `collections:` key.
    fn galaxy_sections(&self) -> Result<(bool, bool)> {
        let Some(f) = &self.c.galaxy_file else {
            return Ok((false, false));
        };
        let text = std::fs::read(f).map_err(|e| Error::msg(os_error("open", f, &e)))?;
        let text = String::from_utf8_lossy(&text);
        let has = |key: &str| text.split('\n').any(|l| l.starts_with(key));
        Ok((has("roles:"), has("collections:")))
    }

    /// As packer-plugin-ansible v1.1 does (Packer 1.6.6 ran only the roles install, into
    /// `<staging>/roles`): `ansible-galaxy install` for the roles (when the file has `roles:` or no
    /// `collections:`, the old list format) and `ansible-galaxy collection install` for the
    /// collections (when it has `collections:`).
    async fn execute_galaxy(&self) -> Result<()> {
        let c = self.c;
        let Some(f) = &c.galaxy_file else {
            return Ok(());
        };
        let galaxy_file = join(&[&c.staging_dir, &base(f)]);
        let force = if c.galaxy_force_install { " -f" } else { "" };
        let (roles, collections) = self.galaxy_sections()?;
        if roles || !collections {
            let args = format!("install -r {galaxy_file} -p {}{force}", c.galaxy_roles_path);
            self.galaxy(&args).await?;
        }
        if collections {
            let args = format!(
                "collection install -r {galaxy_file} -p {}{force}",
                c.galaxy_collections_path
            );
            self.galaxy(&args).await?;
        }
        Ok(())
    }

    async fn galaxy(&self, args: &str) -> Result<()> {
        let command = format!(
            "cd {} && {} {args}",
            self.c.staging_dir, self.c.galaxy_command
        );
        self.ui
            .message(&format!("Executing Ansible Galaxy: {command}"));
        match run_with_ui(self.ctx, self.ui, self.comm, &command).await? {
            0 => Ok(()),
            code => Err(Error::msg(format!("Non-zero exit status: {code}"))),
        }
    }

    /// Runs one playbook with the line of packer-plugin-ansible v1.1 (the paths of what galaxy
    /// installed and of `collection_paths` in the environment, hence the double space after
    /// `&&` when there are none; Packer 1.6.6's built-in copy had one space and no paths).
    async fn execute_playbook(&self, playbook: &str, extra: &str, inventory: &str) -> Result<()> {
        let c = self.c;
        let (roles, collections) = self.galaxy_sections()?;
        let mut collection_paths = Vec::new();
        if collections {
            collection_paths.push(c.galaxy_collections_path.clone());
        }
        if !c.collection_paths.is_empty() {
            collection_paths.push(join(&[&c.staging_dir, "collections"]));
        }
        let mut env = String::new();
        if !collection_paths.is_empty() {
            env.push_str(&format!(
                " ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:{}",
                collection_paths.join(":")
            ));
        }
        if roles {
            env.push_str(&format!(
                " ANSIBLE_ROLES_PATH=$ANSIBLE_ROLES_PATH:{}",
                c.galaxy_roles_path
            ));
        }
        let command = format!(
            "cd {} && {env} {} {playbook}{extra} -c local -i {inventory}",
            c.staging_dir, c.command
        );
        self.ui.message(&format!("Executing Ansible: {command}"));
        match run_with_ui(self.ctx, self.ui, self.comm, &command).await? {
            0 => Ok(()),
            NOT_FOUND => Err(Error::msg(format!(
                "{} could not be found. Verify that it is available on the\nPATH after connecting to the machine.",
                c.command
            ))),
            code => Err(Error::msg(format!("Non-zero exit status: {code}"))),
        }
    }

    /// Uploads the local file `src` to `dst`.
    async fn upload_file(&self, dst: &str, src: &str) -> Result<()> {
        std::fs::File::open(src)
            .map_err(|e| Error::msg(format!("Error opening: {}", os_error("open", src, &e))))?;
        self.comm
            .upload(self.ctx, dst, Path::new(src))
            .await
            .map_err(|e| e.context(format!("Error uploading {src}")))
    }

    /// `mkdir -p '<dir>'`.
    async fn create_dir(&self, dir: &str) -> Result<()> {
        self.ui.message(&format!("Creating directory: {dir}"));
        self.checked(&format!("mkdir -p '{dir}'")).await
    }

    /// `rm -rf '<dir>'`.
    async fn remove_dir(&self, dir: &str) -> Result<()> {
        self.ui.message(&format!("Removing directory: {dir}"));
        self.checked(&format!("rm -rf '{dir}'")).await
    }

    async fn checked(&self, command: &str) -> Result<()> {
        match run_with_ui(self.ctx, self.ui, self.comm, command).await? {
            0 => Ok(()),
            _ => Err(Error::msg(
                "Non-zero exit status. See output above for more information.",
            )),
        }
    }

    /// Creates `dst` and uploads the contents of the local directory `src` into it.
    async fn upload_dir(&self, dst: &str, src: &str) -> Result<()> {
        self.create_dir(dst).await?;
        // A trailing slash: the contents, not the directory itself.
        let src = if src.ends_with('/') {
            src.to_string()
        } else {
            format!("{src}/")
        };
        self.comm.upload_dir(self.ctx, dst, Path::new(&src)).await
    }
}

/// One of `playbook_files`.
struct Playbook {
    /// Its absolute local path.
    local: String,
    /// Its path below the staging directory.
    remote: String,
    /// Whether it must be uploaded (it is not inside `playbook_dir`).
    upload: bool,
}
