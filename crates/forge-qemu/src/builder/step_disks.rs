//! The disks: stepCreateDisk (a new, empty disk, or a qcow2 overlay on the source image with
//! `use_backing_file`, plus `disk_additional_size` disks), stepCopyDisk (`disk_image`: the
//! source copied or converted into the output directory) and stepResizeDisk.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::driver::qemu_img;
use super::State;

pub(super) struct StepCreateDisk;

fn failed(ctx: &BuildCtx, e: Error) -> Error {
    let m = format!("Error creating hard drive: {e}");
    ctx.ui.error(&m);
    Error::msg(m)
}

/// Extra `qemu_img_args` for one subcommand.
fn extra(
    st: &State,
    pick: fn(&forge_template::schema::plugins::QemuImgArgs) -> Option<Vec<String>>,
) -> Vec<String> {
    st.config
        .args
        .qemu_img_args
        .as_ref()
        .and_then(pick)
        .unwrap_or_default()
}

#[async_trait]
impl Step<State> for StepCreateDisk {
    fn name(&self) -> &'static str {
        "stepCreateDisk"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let main = std::path::Path::new(&c.output_dir).join(&c.vm_name);
        let mut disks = vec![(main.to_string_lossy().into_owned(), c.disk_size.clone())];
        for (i, size) in c.args.disk_additional_size.iter().flatten().enumerate() {
            let p = std::path::Path::new(&c.output_dir).join(format!("{}-{}", c.vm_name, i + 1));
            disks.push((p.to_string_lossy().into_owned(), size.clone()));
        }
        let skip_main = c.disk_image() && !c.use_backing_file();
        if !(skip_main && disks.len() == 1) {
            ctx.ui.say("Creating required virtual machine disks");
        }
        for (i, (path, size)) in disks.iter().enumerate() {
            if i == 0 && skip_main {
                st.disks.push(path.clone());
                continue;
            }
            let mut args = vec!["create".to_string()];
            args.extend(extra(st, |a| a.create.clone()));
            args.extend(["-f".into(), c.format.clone()]);
            if i == 0 && c.use_backing_file() {
                let src = st.iso_path.clone();
                let abs = std::path::absolute(&src).unwrap_or_else(|_| src.clone().into());
                args.extend([
                    "-b".into(),
                    abs.to_string_lossy().into_owned(),
                    "-F".into(),
                    "qcow2".into(),
                ]);
            }
            args.push(path.clone());
            args.push(size.clone());
            qemu_img(ctx, &args).await.map_err(|e| failed(ctx, e))?;
            st.disks.push(path.clone());
        }
        Ok(())
    }
}

pub(super) struct StepCopyDisk;

#[async_trait]
impl Step<State> for StepCopyDisk {
    fn name(&self) -> &'static str {
        "stepCopyDisk"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let src = st.iso_path.clone();
        let dst = st.disks.first().cloned().unwrap_or_default();
        let ext = std::path::Path::new(&src)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let convert_args = extra(st, |a| a.convert.clone());
        if ext == c.format && convert_args.is_empty() {
            ctx.ui.message(
                "File extension already matches desired output format. Skipping qemu-img convert step",
            );
            let (s, d) = (src.clone(), dst.clone());
            tokio::task::spawn_blocking(move || std::fs::copy(&s, &d))
                .await
                .map_err(|e| Error::msg(e.to_string()))?
                .map_err(|e| failed(ctx, Error::msg(format!("copying {src} to {dst}: {e}"))))?;
            return Ok(());
        }
        ctx.ui.say("Copying hard drive...");
        let mut args = vec!["convert".to_string()];
        args.extend(convert_args);
        args.extend(["-O".into(), c.format.clone(), src, dst]);
        qemu_img(ctx, &args).await.map_err(|e| failed(ctx, e))
    }
}

pub(super) struct StepResizeDisk;

#[async_trait]
impl Step<State> for StepResizeDisk {
    fn name(&self) -> &'static str {
        "stepResizeDisk"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let Some(disk) = st.disks.first().cloned() else {
            return Ok(());
        };
        ctx.ui.say("Resizing hard drive...");
        let mut args = vec!["resize".to_string()];
        args.extend(extra(st, |a| a.resize.clone()));
        args.extend(["-f".into(), c.format.clone(), disk, c.disk_size.clone()]);
        qemu_img(ctx, &args).await.map_err(|e| failed(ctx, e))
    }
}

pub(super) struct StepConvertDisk;

#[async_trait]
impl Step<State> for StepConvertDisk {
    fn name(&self) -> &'static str {
        "stepConvertDisk"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if c.skip_compaction && !c.disk_compression {
            return Ok(());
        }
        ctx.ui.say("Converting hard drive...");
        for disk in st.disks.clone() {
            let tmp = format!("{disk}.convert");
            let mut args = vec!["convert".to_string()];
            args.extend(extra(st, |a| a.convert.clone()));
            if c.disk_compression {
                args.push("-c".into());
            }
            args.extend(["-O".into(), c.format.clone(), disk.clone(), tmp.clone()]);
            if let Err(e) = qemu_img(ctx, &args).await {
                let _ = std::fs::remove_file(&tmp);
                let m = format!("Error converting hard drive: {e}");
                ctx.ui.error(&m);
                return Err(Error::msg(m));
            }
            std::fs::rename(&tmp, &disk).map_err(|e| {
                let m = format!("Error moving converted hard drive: {e}");
                ctx.ui.error(&m);
                Error::msg(m)
            })?;
        }
        Ok(())
    }
}
