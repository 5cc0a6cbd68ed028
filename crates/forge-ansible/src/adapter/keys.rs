//! The adapter's keys: the server's host key and the one client key it accepts.

use std::path::Path;

use forge_core::{Error, Result};
use russh::keys::ssh_key::private::{EcdsaKeypair, KeypairData, RsaKeypair};
use russh::keys::ssh_key::{EcdsaCurve, LineEnding};
use russh::keys::{PrivateKey, PublicKey};

use super::KeyType;

/// Bits of a generated RSA key (Packer's adapter uses 2048 too).
const RSA_BITS: usize = 2048;

/// A fresh key pair of `kind`.
pub(super) fn generate(kind: KeyType, comment: &str) -> Result<PrivateKey> {
    let mut rng = rand::rng();
    let fail = |e: &dyn std::fmt::Display| {
        Error::msg(format!("generating the ansible proxy's {kind:?} key: {e}"))
    };
    let data = match kind {
        KeyType::Ecdsa => KeypairData::from(
            EcdsaKeypair::random(&mut rng, EcdsaCurve::NistP256).map_err(|e| fail(&e))?,
        ),
        KeyType::Rsa => {
            KeypairData::from(RsaKeypair::random(&mut rng, RSA_BITS).map_err(|e| fail(&e))?)
        }
    };
    PrivateKey::new(data, comment).map_err(|e| fail(&e))
}

/// The private key in OpenSSH form, as `ssh -i` reads it.
pub(super) fn private_openssh(key: &PrivateKey) -> Result<String> {
    key.to_openssh(LineEnding::LF)
        .map(|s| s.to_string())
        .map_err(|e| Error::msg(format!("encoding the ansible proxy's client key: {e}")))
}

/// Reads a host key file (OpenSSH or PEM form, unencrypted).
pub(super) fn load_host_key(path: &Path) -> Result<PrivateKey> {
    russh::keys::load_secret_key(path, None)
        .map_err(|e| Error::msg(format!("reading ssh_host_key_file {}: {e}", path.display())))
}

/// Reads the accepted client key: an `authorized_keys` line (`type base64 [comment]`), the first
/// key line of the file.
pub(super) fn load_authorized_key(path: &Path) -> Result<PublicKey> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::msg(format!(
            "reading ssh_authorized_key_file {}: {e}",
            path.display()
        ))
    })?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| {
            Error::msg(format!(
                "ssh_authorized_key_file {} holds no public key",
                path.display()
            ))
        })?;
    PublicKey::from_openssh(line).map_err(|e| {
        Error::msg(format!(
            "ssh_authorized_key_file {}: not an OpenSSH public key: {e}",
            path.display()
        ))
    })
}

/// Whether two public keys are the same key (comments aside).
pub(super) fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_compare_without_comments() {
        let k = generate(KeyType::Ecdsa, "forge").unwrap();
        let pem = private_openssh(&k).unwrap();
        let back = russh::keys::decode_secret_key(&pem, None).unwrap();
        assert!(same_key(k.public_key(), back.public_key()));
        let other = generate(KeyType::Ecdsa, "forge").unwrap();
        assert!(!same_key(k.public_key(), other.public_key()));
    }

    #[test]
    fn authorized_key_file_is_read_and_bad_files_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("forge-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let k = generate(KeyType::Ecdsa, "c").unwrap();
        let line = k.public_key().to_openssh().unwrap();
        let f = dir.join("k.pub");
        std::fs::write(&f, format!("# comment\n{line}\n")).unwrap();
        assert!(same_key(&load_authorized_key(&f).unwrap(), k.public_key()));
        std::fs::write(&f, "not a key\n").unwrap();
        let e = load_authorized_key(&f).unwrap_err().to_string();
        assert!(e.contains("not an OpenSSH public key"), "{e}");
        let e = load_host_key(&dir.join("missing")).unwrap_err().to_string();
        assert!(e.contains("ssh_host_key_file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
