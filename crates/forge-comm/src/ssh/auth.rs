//! Logging in, in Packer's order: agent keys, key files, inline keys (the build's temporary
//! key), then password and keyboard-interactive. A refusal says what was tried and what the
//! server offers.

use std::sync::Arc;

use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::{Certificate, PrivateKey, PrivateKeyWithHashAlg};
use russh::{MethodKind, MethodSet};

use super::config::Auth;

/// Passphrase for encrypted private key files (Packer has none; forge reads it from here).
pub const PASSPHRASE_ENV: &str = "FORGE_SSH_KEY_PASSPHRASE";

/// Parses a private key (OpenSSH, PEM or PuTTY), decrypting it with `$FORGE_SSH_KEY_PASSPHRASE`.
pub fn decode_key(pem: &str, name: &str) -> Result<PrivateKey, String> {
    let pass = std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty());
    match russh::keys::decode_secret_key(pem, pass.as_deref()) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(format!(
            "{name} is encrypted: set {PASSPHRASE_ENV} to its passphrase, or add it to an ssh-agent and use ssh_agent_auth"
        )),
        Err(e) if pass.is_some() && e.to_string().to_lowercase().contains("decrypt") => Err(
            format!("{name}: the passphrase in {PASSPHRASE_ENV} does not decrypt it ({e})"),
        ),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// Why logging in failed.
#[derive(Debug, Clone)]
pub struct Refused {
    /// Methods forge tried, in order.
    pub tried: Vec<String>,
    /// Methods the server said it would accept.
    pub offered: Vec<String>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "authentication rejected: tried {}; the server offers {}",
            if self.tried.is_empty() {
                "nothing".to_string()
            } else {
                self.tried.join(", ")
            },
            if self.offered.is_empty() {
                "nothing".to_string()
            } else {
                self.offered.join(", ")
            }
        )
    }
}

/// The outcome of a login attempt.
#[derive(Debug)]
pub enum AuthError {
    /// The server said no to everything.
    Refused(Refused),
    /// Local trouble (a key that does not parse, no agent) or the connection broke.
    Other(String),
}

fn names(m: &MethodSet) -> Vec<String> {
    m.iter()
        .map(|k| <&'static str>::from(k).to_string())
        .collect()
}

struct Progress {
    tried: Vec<String>,
    offered: Vec<String>,
}

impl Progress {
    /// Records a result; `true` when logged in.
    fn record(&mut self, what: &str, r: AuthResult) -> bool {
        self.tried.push(what.to_string());
        match r {
            AuthResult::Success => true,
            AuthResult::Failure {
                remaining_methods, ..
            } => {
                self.offered = names(&remaining_methods);
                false
            }
        }
    }

    fn offers(&self, k: MethodKind) -> bool {
        self.offered.is_empty() || self.offered.iter().any(|o| o == <&str>::from(&k))
    }
}

fn other(e: impl std::fmt::Display) -> AuthError {
    AuthError::Other(e.to_string())
}

/// Logs in as `auth.user` with every method the settings allow; `extra_keys` are the
/// build's own keys (its temporary key pair).
pub async fn authenticate<H: russh::client::Handler>(
    h: &mut Handle<H>,
    auth: &Auth,
    extra_keys: &[String],
) -> Result<(), AuthError> {
    let user = auth.user.clone();
    let mut p = Progress {
        tried: Vec::new(),
        offered: Vec::new(),
    };
    // Learn what the server accepts.
    if let AuthResult::Failure {
        remaining_methods, ..
    } = h.authenticate_none(&user).await.map_err(other)?
    {
        p.offered = names(&remaining_methods);
    } else {
        return Ok(());
    }
    let rsa_hash = h.best_supported_rsa_hash().await.map_err(other)?.flatten();

    if auth.agent && p.offers(MethodKind::PublicKey) {
        let mut agent = russh::keys::agent::client::AgentClient::connect_env()
            .await
            .map_err(|e| AuthError::Other(format!("cannot connect to the SSH agent: {e}")))?;
        let ids = agent.request_identities().await.map_err(other)?;
        for id in ids {
            let key = id.public_key().into_owned();
            let label = format!("agent key {}", id.comment());
            let hash = if key.algorithm().is_rsa() {
                rsa_hash
            } else {
                None
            };
            let r = h
                .authenticate_publickey_with(&user, key, hash, &mut agent)
                .await
                .map_err(|e| other(format!("{e:?}")))?;
            if p.record(&label, r) {
                return Ok(());
            }
        }
    }

    let mut keys: Vec<(String, PrivateKey)> = Vec::new();
    for f in &auth.key_files {
        let pem = std::fs::read_to_string(f)
            .map_err(|e| AuthError::Other(format!("reading {}: {e}", f.display())))?;
        keys.push((
            format!("key {}", f.display()),
            decode_key(&pem, &f.display().to_string()).map_err(AuthError::Other)?,
        ));
    }
    for (i, pem) in extra_keys.iter().chain(&auth.keys_pem).enumerate() {
        let name = if i < extra_keys.len() {
            "temporary key".to_string()
        } else {
            "ssh_private_key".to_string()
        };
        keys.push((
            name.clone(),
            decode_key(pem, &name).map_err(AuthError::Other)?,
        ));
    }
    let cert = match &auth.certificate {
        Some(c) => Some(
            russh::keys::load_openssh_certificate(c)
                .map_err(|e| AuthError::Other(format!("reading {}: {e}", c.display())))?,
        ),
        None => None,
    };
    if p.offers(MethodKind::PublicKey) {
        for (label, key) in keys {
            let key = Arc::new(key);
            let r = match &cert {
                Some(c) => h
                    .authenticate_openssh_cert(&user, key, Certificate::clone(c))
                    .await
                    .map_err(other)?,
                None => {
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    h.authenticate_publickey(&user, PrivateKeyWithHashAlg::new(key, hash))
                        .await
                        .map_err(other)?
                }
            };
            if p.record(&label, r) {
                return Ok(());
            }
        }
    }

    if let Some(pw) = &auth.password {
        if p.offers(MethodKind::Password) {
            let r = h.authenticate_password(&user, pw).await.map_err(other)?;
            if p.record("password", r) {
                return Ok(());
            }
        }
        if auth.interactive && p.offers(MethodKind::KeyboardInteractive) {
            let mut r = h
                .authenticate_keyboard_interactive_start(&user, None)
                .await
                .map_err(other)?;
            let mut rounds = 0;
            loop {
                match r {
                    KeyboardInteractiveAuthResponse::Success => return Ok(()),
                    KeyboardInteractiveAuthResponse::Failure {
                        remaining_methods, ..
                    } => {
                        p.tried.push("keyboard-interactive".into());
                        p.offered = names(&remaining_methods);
                        break;
                    }
                    KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                        rounds += 1;
                        if rounds > 5 {
                            p.tried.push("keyboard-interactive".into());
                            break;
                        }
                        let answers = prompts.iter().map(|_| pw.clone()).collect();
                        r = h
                            .authenticate_keyboard_interactive_respond(answers)
                            .await
                            .map_err(other)?;
                    }
                }
            }
        }
    }
    Err(AuthError::Refused(Refused {
        tried: p.tried,
        offered: p.offered,
    }))
}
