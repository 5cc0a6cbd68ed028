//! Provisioners: `shell` and `file` (through the build's communicator), `shell-local` (also a
//! post-processor, as in Packer), `breakpoint` and `sleep`, and the Windows ones: `powershell`,
//! `windows-shell`, `windows-restart` and (following rgl/packer-plugin-windows-update)
//! `windows-update`.

pub mod breakpoint;
pub mod common;
pub mod file;
pub mod powershell;
pub mod shell;
pub mod shell_local;
pub mod sleep;
pub mod windows_restart;
pub mod windows_shell;
pub mod windows_update;

#[cfg(test)]
mod testing;

/// The provisioners (and the shell-local post-processor), as Packer's core names them.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::plugins::*;
    PluginSet::of([
        PluginDecl::provisioner::<ShellProvisioner>("shell", shell::factory),
        PluginDecl::provisioner::<FileProvisioner>("file", file::factory),
        PluginDecl::provisioner::<ShellLocalProvisioner>(
            "shell-local",
            shell_local::provisioner_factory,
        ),
        PluginDecl::post_processor::<ShellLocalProvisioner>(
            "shell-local",
            shell_local::post_processor_factory,
        ),
        PluginDecl::provisioner::<BreakpointProvisioner>("breakpoint", breakpoint::factory),
        PluginDecl::provisioner::<SleepProvisioner>("sleep", sleep::factory),
        PluginDecl::provisioner::<PowershellProvisioner>("powershell", powershell::factory),
        PluginDecl::provisioner::<WindowsShellProvisioner>("windows-shell", windows_shell::factory),
        PluginDecl::provisioner::<WindowsRestartProvisioner>(
            "windows-restart",
            windows_restart::factory,
        ),
        PluginDecl::provisioner::<WindowsUpdateProvisioner>(
            "windows-update",
            windows_update::factory,
        )
        .from_plugin("github.com/rgl/windows-update"),
    ])
}
