//! StepGetPassword: over WinRM without `winrm_password`, the instance's administrator
//! password, read with `GetPasswordData` once Windows has set it and decrypted with the
//! temporary key pair's private key (Packer's step_get_password.go). It makes nothing, so it
//! has no cleanup.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use forge_core::comm::CommConfig;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

/// How often EC2 is asked (Packer: 5 s).
pub(super) const POLL: Duration = Duration::from_secs(5);

pub(super) struct StepGetPassword {
    /// Between two `GetPasswordData` calls.
    pub poll: Duration,
}

#[async_trait]
impl Step<State> for StepGetPassword {
    fn name(&self) -> &'static str {
        "StepGetPassword"
    }

    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let CommConfig::Winrm(w) = &c.comm else {
            return Ok(());
        };
        if w.password.is_some() {
            ctx.ui
                .say("Skipping waiting for password since WinRM password set...");
            return Ok(());
        }
        let id = st
            .instance
            .as_ref()
            .map(|i| i.id.clone())
            .ok_or_else(|| Error::msg("no instance is running"))?;
        let Some(key) = st.temp_key.as_ref().map(|k| k.private.clone()) else {
            return Err(Error::msg(
                "Error retrieving password: no private key to decrypt it with (set winrm_password, or let forge make the temporary key pair)",
            ));
        };
        ctx.ui
            .say("Waiting for auto-generated password for instance...");
        ctx.ui.message(
            "It is normal for this process to take up to 15 minutes,\nbut it usually takes around 5. Please wait.",
        );
        let start = Instant::now();
        let data = loop {
            let data = st.ec2.get_password_data(&id).await.map_err(|e| {
                Error::msg(format!(
                    "Error retrieving auto-generated instance password: {e}"
                ))
            })?;
            if !data.is_empty() {
                break data;
            }
            if start.elapsed() >= c.windows_password_timeout {
                return Err(Error::msg(format!(
                    "Timeout waiting for password: instance {id} had no password data after {} (windows_password_timeout)",
                    forge_template::gocompat::duration::format_std(c.windows_password_timeout)
                )));
            }
            ctx.sleep(
                self.poll
                    .min(c.windows_password_timeout.saturating_sub(start.elapsed())),
            )
            .await?;
        };
        let password = decrypt(&key, &data)?;
        ctx.ui.output().redactor().add(&password);
        ctx.ui.message(" \nPassword retrieved!");
        st.generated.insert("Password".into(), password.clone());
        st.generated
            .insert("WinRMPassword".into(), password.clone());
        st.winrm_password = Some(password);
        Ok(())
    }
}

/// The password in `data` (base64 of RSA PKCS#1 v1.5 ciphertext), decrypted with `key`.
fn decrypt(key: &str, data: &str) -> Result<String> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::msg(format!(
            "Error decrypting auto-generated instance password: {e}"
        ))
    };
    let cipher = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| bad(&e))?;
    let plain = forge_comm::ssh::keygen::rsa_decrypt(key, &cipher).map_err(|e| bad(&e))?;
    String::from_utf8(plain).map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{launch, source, Fx};
    use crate::ebs::step_key_pair::StepKeyPair;
    use serde_json::json;

    fn winrm(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({"communicator": "winrm", "winrm_username": "Administrator"});
        if let (Some(a), Some(b)) = (v.as_object_mut(), extra.as_object()) {
            a.extend(b.clone());
        }
        v
    }

    /// EC2's password data: `pw` encrypted to the key pair's public key, base64.
    fn encrypted(private: &str, pw: &str) -> String {
        let key = russh::keys::decode_secret_key(private, None).unwrap();
        let public =
            rsa::RsaPublicKey::try_from(key.public_key().key_data().rsa().unwrap()).unwrap();
        let c = public
            .encrypt(&mut rand::rng(), rsa::Pkcs1v15Encrypt, pw.as_bytes())
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(c)
    }

    fn steps() -> Vec<Box<dyn Step<State>>> {
        vec![
            source(),
            Box::new(StepKeyPair { record: None }),
            launch(),
            Box::new(StepGetPassword {
                poll: Duration::from_millis(10),
            }),
        ]
    }

    #[tokio::test]
    async fn the_password_is_decrypted_with_the_temporary_key_and_masked() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(winrm(json!({}))).await).await;
        assert!(
            st.config.temp_key_name.is_some(),
            "WinRM without a password makes a key pair"
        );
        let mut steps = steps();
        for s in steps.iter_mut().take(3) {
            s.run(&fx.ctx, &mut st).await.unwrap();
        }
        let id = st.instance.as_ref().unwrap().id.clone();
        let key = st.temp_key.clone().unwrap();
        fx.cloud
            .set_password_data(&id, &encrypted(&key.private, "Tr0ub4dor&3"));
        steps[3].run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(st.winrm_password.as_deref(), Some("Tr0ub4dor&3"));
        assert_eq!(st.generated["WinRMPassword"], "Tr0ub4dor&3");
        let said = fx.said();
        assert!(
            said.contains("Waiting for auto-generated password for instance..."),
            "{said}"
        );
        assert!(said.contains("Password retrieved!"), "{said}");
        fx.ctx.ui.say("the password is Tr0ub4dor&3");
        assert!(!fx.said().contains("Tr0ub4dor&3"), "{}", fx.said());
        for s in steps.iter_mut().rev() {
            s.cleanup(&fx.ctx, &mut st, Default::default())
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_configured_password_is_used_as_is() {
        let fx = Fx::new();
        let c = fx.config(winrm(json!({"winrm_password": "given"}))).await;
        assert!(c.temp_key_name.is_none());
        let mut st = fx.state(c).await;
        StepGetPassword { poll: POLL }
            .run(&fx.ctx, &mut st)
            .await
            .unwrap();
        assert!(st.winrm_password.is_none());
        assert!(fx
            .said()
            .contains("Skipping waiting for password since WinRM password set..."));
        assert_eq!(fx.cloud.count("GetPasswordData"), 0);
    }

    #[tokio::test]
    async fn no_password_data_ends_at_windows_password_timeout() {
        let fx = Fx::new();
        let mut st = fx
            .state(
                fx.config(winrm(json!({"windows_password_timeout": "50ms"})))
                    .await,
            )
            .await;
        let err = fx.failure(&mut st, steps()).await.to_string();
        assert!(err.contains("Timeout waiting for password"), "{err}");
        assert!(err.contains("windows_password_timeout"), "{err}");
        assert!(fx.cloud.count("GetPasswordData") >= 2);
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn data_the_key_cannot_decrypt_fails_clearly() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(winrm(json!({}))).await).await;
        let mut steps = steps();
        for s in steps.iter_mut().take(3) {
            s.run(&fx.ctx, &mut st).await.unwrap();
        }
        let id = st.instance.as_ref().unwrap().id.clone();
        fx.cloud.set_password_data(&id, "bm90IGVuY3J5cHRlZA==");
        let err = steps[3]
            .run(&fx.ctx, &mut st)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Error decrypting auto-generated instance password"),
            "{err}"
        );
        for s in steps.iter_mut().rev() {
            s.cleanup(&fx.ctx, &mut st, Default::default())
                .await
                .unwrap();
        }
    }
}
