//! Exit statuses: the valid ones (SDK `shell.ValidExitCode`) and the disconnect sentinel.

use forge_core::plugin::DISCONNECTED;
use forge_core::{Error, Result};

use super::go::int_slice;

/// `valid_exit_codes` with Packer's default (`[0]` when unset or empty).
pub fn valid_codes(v: Option<Vec<i64>>) -> Vec<i64> {
    v.filter(|v| !v.is_empty()).unwrap_or_else(|| vec![0])
}

/// Ok when `code` is one of `valid`; otherwise Packer 1.6.6's error (its missing space
/// included: `...status: 3.Allowed exit codes are: [0]`).
pub fn check(code: i32, valid: &[i64]) -> Result<()> {
    if valid.contains(&i64::from(code)) {
        return Ok(());
    }
    Err(Error::msg(format!(
        "Script exited with non-zero exit status: {code}.Allowed exit codes are: {}",
        int_slice(valid)
    )))
}

/// The `shell` provisioner's verdict on a script's status: a dropped connection fails unless
/// `expect_disconnect`; anything else must be a valid code.
pub fn check_remote(code: i32, valid: &[i64], expect_disconnect: bool) -> Result<()> {
    if code != DISCONNECTED {
        return check(code, valid);
    }
    if expect_disconnect {
        return Ok(());
    }
    Err(Error::msg(
        "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can try adding `\"expect_disconnect\": true` or `\"valid_exit_codes\": [0, 2300218]` to the shell provisioner parameters.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(valid_codes(None), [0]);
        assert_eq!(valid_codes(Some(vec![])), [0]);
        assert!(check(3, &[0, 3]).is_ok());
        assert_eq!(
            check(4, &[0]).unwrap_err().to_string(),
            "Script exited with non-zero exit status: 4.Allowed exit codes are: [0]"
        );
    }

    #[test]
    fn disconnects() {
        assert!(check_remote(DISCONNECTED, &[0], true).is_ok());
        let e = check_remote(DISCONNECTED, &[0], false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("Script disconnected unexpectedly."), "{e}");
        // Packer checks the sentinel before the valid codes: listing it is not enough.
        assert!(check_remote(DISCONNECTED, &[0, 2_300_218], false).is_err());
    }
}
