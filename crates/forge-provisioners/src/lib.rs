//! Provisioners: `shell` and `file` (through the build's communicator), `shell-local` (also a
//! post-processor, as in Packer), `breakpoint` and `sleep`.

pub mod breakpoint;
pub mod common;
pub mod file;
pub mod shell;
pub mod shell_local;
pub mod sleep;

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
    ])
}
