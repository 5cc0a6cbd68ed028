//! The build's temporary key pair (Packer's `temporary_key_pair_type`/`_bits`/`_name`).

use forge_core::plugin::TempKey;
use forge_core::{Error, Result};
use russh::keys::ssh_key::private::{EcdsaKeypair, KeypairData, RsaKeypair};
use russh::keys::ssh_key::{EcdsaCurve, LineEnding};
use russh::keys::PrivateKey;

/// Generates a key pair: `rsa` (default 4096 bits), `ecdsa` (256/384/521), or `ed25519`.
pub fn generate(kind: &str, bits: Option<u32>, name: &str) -> Result<TempKey> {
    let mut rng = rand::rng();
    let fail = |e: &dyn std::fmt::Display| Error::msg(format!("generating a {kind} key pair: {e}"));
    let data = match kind {
        "" | "rsa" => {
            let bits = bits.filter(|b| *b > 0).unwrap_or(4096) as usize;
            KeypairData::from(RsaKeypair::random(&mut rng, bits).map_err(|e| fail(&e))?)
        }
        "ed25519" => KeypairData::from(russh::keys::ssh_key::private::Ed25519Keypair::random(
            &mut rng,
        )),
        "ecdsa" => {
            let curve = match bits.unwrap_or(0) {
                0 | 256 => EcdsaCurve::NistP256,
                384 => EcdsaCurve::NistP384,
                521 => EcdsaCurve::NistP521,
                b => {
                    return Err(Error::msg(format!(
                        "ecdsa keys have 256, 384 or 521 bits, not {b}"
                    )))
                }
            };
            KeypairData::from(EcdsaKeypair::random(&mut rng, curve).map_err(|e| fail(&e))?)
        }
        other => {
            return Err(Error::msg(format!(
                "temporary_key_pair_type {other:?} is not one of rsa, ecdsa, ed25519"
            )))
        }
    };
    let key = PrivateKey::new(data, name).map_err(|e| fail(&e))?;
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| fail(&e))?
        .to_string();
    let public = format!(
        "{} {name}",
        key.public_key()
            .to_openssh()
            .map_err(|e| fail(&e))?
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(TempKey {
        name: name.to_string(),
        public,
        private,
    })
}

/// The `authorized_keys` line (`type base64 name`) of a private key in any form sshd reads
/// (a cloud's key pair arrives as PEM).
pub fn public_key_of(private: &str, name: &str) -> Result<String> {
    let key = russh::keys::decode_secret_key(private, None)
        .map_err(|e| Error::msg(format!("reading the key pair's private key: {e}")))?;
    let line = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::msg(format!("encoding the key pair's public key: {e}")))?;
    Ok(format!(
        "{} {name}",
        line.split(' ').take(2).collect::<Vec<_>>().join(" ")
    ))
}

/// `data` decrypted (RSA, PKCS#1 v1.5 padding) with the RSA private key `private`, in any
/// form sshd reads: how EC2 encrypts a Windows instance's password to its key pair.
pub fn rsa_decrypt(private: &str, data: &[u8]) -> Result<Vec<u8>> {
    let key = russh::keys::decode_secret_key(private, None)
        .map_err(|e| Error::msg(format!("reading the key pair's private key: {e}")))?;
    let pair = key
        .key_data()
        .rsa()
        .ok_or_else(|| Error::msg("the key pair is not an RSA key"))?;
    let rsa = rsa::RsaPrivateKey::try_from(pair)
        .map_err(|e| Error::msg(format!("reading the key pair's RSA key: {e}")))?;
    rsa.decrypt(rsa::Pkcs1v15Encrypt, data)
        .map_err(|e| Error::msg(format!("the data does not decrypt with the key pair: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for (kind, bits) in [("ed25519", None), ("ecdsa", Some(384)), ("rsa", Some(1024))] {
            let k = generate(kind, bits, "packer_x").unwrap();
            assert!(k.public.ends_with(" packer_x"), "{}", k.public);
            let parsed = russh::keys::decode_secret_key(&k.private, None).unwrap();
            assert!(k.public.contains(
                &parsed
                    .public_key()
                    .to_openssh()
                    .unwrap()
                    .split(' ')
                    .nth(1)
                    .unwrap()
                    .to_string()
            ));
        }
        assert!(generate("dsa2", None, "n").is_err());
    }

    #[test]
    fn rsa_decrypts_what_its_public_key_encrypted() {
        let k = generate("rsa", Some(1024), "packer_x").unwrap();
        let key = russh::keys::decode_secret_key(&k.private, None).unwrap();
        let public =
            rsa::RsaPublicKey::try_from(key.public_key().key_data().rsa().unwrap()).unwrap();
        let cipher = public
            .encrypt(&mut rand::rng(), rsa::Pkcs1v15Encrypt, b"S3cret!")
            .unwrap();
        assert_eq!(rsa_decrypt(&k.private, &cipher).unwrap(), b"S3cret!");
        assert!(rsa_decrypt(&k.private, b"not it").is_err());
        let ed = generate("ed25519", None, "e").unwrap();
        assert!(rsa_decrypt(&ed.private, &cipher).is_err());
    }
}
