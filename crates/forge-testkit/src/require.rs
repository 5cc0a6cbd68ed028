//! Preconditions of the test beds: each fails the test, naming what to install, instead of
//! skipping it. `scripts/test.sh` installs everything listed here.

use std::path::Path;

/// The failure message for a missing Debian `package`.
fn missing(what: &str, package: &str) -> ! {
    panic!(
        "{what} is missing: install Debian's {package} (apt-get install --no-install-recommends {package}); \
         scripts/test.sh installs everything the tests need"
    )
}

/// Whether `program` is on PATH (or, holding a `/`, exists).
pub fn has_program(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Fails the test unless `program` is on PATH (or is an existing path), naming its `package`.
pub fn program(program: &str, package: &str) {
    if !has_program(program) {
        missing(program, package);
    }
}

/// Fails the test unless `path` exists, naming the Debian `package` that provides it.
pub fn path(path: &str, package: &str) {
    if !Path::new(path).exists() {
        missing(path, package);
    }
}
