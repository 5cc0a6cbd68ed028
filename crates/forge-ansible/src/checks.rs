//! Packer's path checks of both provisioners' configuration (`validateFileConfig`,
//! `validateDirConfig` and the inventory directory's), with its texts.

use forge_template::gocompat::os_error;

/// `path` must exist and not be a directory; false (with the error) otherwise.
pub(crate) fn file(path: &str, option: &str, errs: &mut Vec<String>) -> bool {
    match std::fs::metadata(path) {
        Err(e) => {
            errs.push(format!(
                "{option}: {path} is invalid: {}",
                os_error("stat", path, &e)
            ));
            false
        }
        Ok(m) if m.is_dir() => {
            errs.push(format!("{option}: {path} must point to a file"));
            false
        }
        Ok(_) => true,
    }
}

/// `path` must be a directory.
pub(crate) fn dir(path: &str, option: &str, errs: &mut Vec<String>) {
    match std::fs::metadata(path) {
        Err(e) => errs.push(format!(
            "{option}: {path} is invalid: {}",
            os_error("stat", path, &e)
        )),
        Ok(m) if !m.is_dir() => errs.push(format!("{option}: {path} must point to a directory")),
        Ok(_) => {}
    }
}
