//! stepRun: starts qemu with the default arguments and the user's `qemuargs` merged in; its
//! cleanup stops it.

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData};
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::args::{defaults, merge, RunInputs};
use super::driver::start_qemu;
use super::State;

pub(super) struct StepRun;

/// The values `qemuargs` rows may use (`{{ .HTTPIP }}`, `{{ .SSHHostPort }}`, ...).
pub(super) fn template_data(st: &State) -> BuildData {
    let c = &st.config;
    let mut d = BuildData::new();
    d.insert("HTTPIP".into(), st.http_ip.clone());
    d.insert(
        "HTTPPort".into(),
        st.media
            .http_port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "0".into()),
    );
    d.insert(
        "HTTPDir".into(),
        c.args
            .http_config
            .http_directory
            .clone()
            .unwrap_or_default(),
    );
    d.insert("OutputDir".into(), c.output_dir.clone());
    d.insert("Name".into(), c.vm_name.clone());
    d.insert(
        "SSHHostPort".into(),
        st.host_port
            .as_ref()
            .map(|p| p.port.to_string())
            .unwrap_or_else(|| "0".into()),
    );
    d
}

#[async_trait]
impl Step<State> for StepRun {
    fn name(&self) -> &'static str {
        "stepRun"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        ctx.ui.say(if c.disk_image() {
            "Starting VM, booting disk image"
        } else {
            "Starting VM, booting from CD-ROM"
        });
        let vnc_port = st.vnc_port.as_ref().map(|p| p.port).unwrap_or(5900);
        if c.accelerator == "none" {
            ctx.ui.message("WARNING: The VM will be started with no hardware acceleration.\nThe installation may take considerably longer to finish.\n");
        }
        if c.headless() {
            ctx.ui.message(&format!(
                "The VM will be run headless, without a GUI. If you want to\nview the screen of the VM, connect via VNC without a password to\nvnc://{}:{vnc_port}",
                c.vnc_bind
            ));
        }
        let inputs = RunInputs {
            host_port: st.host_port.as_ref().map(|p| p.port),
            vnc_port,
            disks: st.disks.clone(),
            iso: (!c.disk_image()).then(|| st.iso_path.clone()),
            cd: st.media.cd_path.clone(),
            floppy: st.media.floppy_path.clone(),
            efivars: st.efivars.clone(),
        };
        let user: Vec<Vec<String>> = c.args.qemuargs.clone().unwrap_or_default();
        let mut rendered = Vec::new();
        if !user.is_empty() {
            ctx.ui
                .say("Overriding default Qemu arguments with qemuargs template option...");
            let data = template_data(st);
            for row in &user {
                let mut r = Vec::new();
                for a in row {
                    r.push(forge_core::render::render(a, &data, &[]).map_err(|e| {
                        let m = format!("Error processing QemuArgs: {e}");
                        ctx.ui.error(&m);
                        Error::msg(m)
                    })?);
                }
                rendered.push(r);
            }
        }
        let argv = merge(defaults(&c, &inputs), &rendered, &c.net_device);
        let mut qemu = start_qemu(ctx, &c.qemu_binary, &argv).map_err(|e| {
            let m = format!("Error launching VM: {e}");
            ctx.ui.error(&m);
            Error::msg(m)
        })?;
        // A command line qemu refuses ends it at once: say why.
        for _ in 0..5 {
            ctx.sleep(std::time::Duration::from_millis(30)).await?;
            if let Some(code) = qemu.exited() {
                let m = format!(
                    "Error launching VM: Qemu failed to start (exit status {code}): {}",
                    qemu.tail()
                );
                ctx.ui.error(&m);
                return Err(Error::msg(m));
            }
        }
        st.qemu = Some(qemu);
        Ok(())
    }
    async fn cleanup(&mut self, _: &BuildCtx, st: &mut State, _: Outcome) -> Result<()> {
        if let Some(mut q) = st.qemu.take() {
            q.stop().await;
        }
        Ok(())
    }
}
