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

/// Registers these provisioners (and the shell-local post-processor).
pub fn register(r: &mut forge_core::Registry) {
    r.provisioners.insert("shell", shell::factory);
    r.provisioners.insert("file", file::factory);
    r.provisioners
        .insert("shell-local", shell_local::provisioner_factory);
    r.post_processors
        .insert("shell-local", shell_local::post_processor_factory);
    r.provisioners.insert("breakpoint", breakpoint::factory);
    r.provisioners.insert("sleep", sleep::factory);
}
