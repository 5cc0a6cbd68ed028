//! StepCreateWindowsPassword: over WinRM without `winrm_password`, on a Windows image, asks
//! the instance's guest agent for a password (Packer's step_create_windows_password.go): a
//! fresh RSA key pair goes into the `windows-keys` metadata with the user's name, the agent
//! sets the user's password and writes it to serial port 4 encrypted to that key
//! (RSA-OAEP, SHA-1), and forge decrypts it. The password is redacted from all output. It
//! makes nothing, so it has no cleanup.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use forge_core::comm::CommConfig;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::step_create_instance::is_windows;
use super::State;
use crate::auth::Source;
use crate::compute::human;

/// The metadata key the guest agent watches.
pub const WINDOWS_KEYS: &str = "windows-keys";
/// The serial port the agent answers on.
const AGENT_PORT: i32 = 4;
/// How often serial port 4 is read (Packer: 2 s).
pub(super) const POLL: Duration = Duration::from_secs(2);

pub(super) struct StepCreateWindowsPassword {
    /// Between two reads of serial port 4.
    pub poll: Duration,
}

/// A `windows-keys` request: its key pair and the metadata entry naming its public half.
pub struct WindowsKey {
    key: rsa::RsaPrivateKey,
    /// The public modulus, base64 (how the agent's answer names the request).
    pub modulus: String,
    /// The metadata entry (one JSON line).
    pub entry: String,
}

impl WindowsKey {
    /// A 2048-bit key pair for `user`, the request expiring in five minutes.
    pub fn new(user: &str, email: &str) -> Result<WindowsKey> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048)
            .map_err(|e| Error::msg(format!("Error creating windows password: {e}")))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let modulus = b64.encode(key.n_bytes());
        let expire = (chrono::Utc::now() + chrono::Duration::minutes(5))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let entry = json!({"userName": user, "modulus": modulus,
            "exponent": b64.encode(key.e_bytes()), "email": email,
            "expireOn": expire})
        .to_string();
        Ok(WindowsKey {
            key,
            modulus,
            entry,
        })
    }

    /// The password in the agent's answers (serial port 4's lines) to this request: `None`
    /// while there is none; an error when the agent refused or the answer does not decrypt.
    pub fn password(&self, port4: &str) -> Result<Option<String>> {
        let bad = |e: &dyn std::fmt::Display| {
            Error::msg(format!("Error decrypting the windows password: {e}"))
        };
        for line in port4.lines() {
            let Ok(a) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if a["modulus"].as_str() != Some(self.modulus.as_str()) {
                continue;
            }
            if let Some(m) = a["errorMessage"].as_str().filter(|m| !m.is_empty()) {
                return Err(Error::msg(format!(
                    "Error creating windows password: the guest agent answered: {m}"
                )));
            }
            let cipher = base64::engine::general_purpose::STANDARD
                .decode(a["encryptedPassword"].as_str().unwrap_or_default())
                .map_err(|e| bad(&e))?;
            let plain = self
                .key
                .decrypt(rsa::Oaep::<sha1::Sha1>::new(), &cipher)
                .map_err(|e| bad(&e))?;
            return String::from_utf8(plain).map(Some).map_err(|e| bad(&e));
        }
        Ok(None)
    }
}

/// The instance's metadata with `entry` added to its `windows-keys` (a line of its own), with
/// the fingerprint it replaces.
fn with_entry(instance: &Value, entry: &str) -> Value {
    let md = &instance["metadata"];
    let mut items: Vec<Value> = md["items"].as_array().cloned().unwrap_or_default();
    match items.iter_mut().find(|i| i["key"] == WINDOWS_KEYS) {
        Some(i) => {
            let old = i["value"]
                .as_str()
                .unwrap_or_default()
                .trim_end()
                .to_string();
            i["value"] = if old.is_empty() {
                entry.into()
            } else {
                format!("{old}\n{entry}").into()
            };
        }
        None => items.push(json!({"key": WINDOWS_KEYS, "value": entry})),
    }
    json!({"fingerprint": md["fingerprint"].clone(), "items": items})
}

#[async_trait]
impl Step<State> for StepCreateWindowsPassword {
    fn name(&self) -> &'static str {
        "StepCreateWindowsPassword"
    }

    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let CommConfig::Winrm(w) = &c.comm else {
            return Ok(());
        };
        if w.password.is_some() || !st.source_image.as_ref().is_some_and(is_windows) {
            return Ok(());
        }
        ctx.ui.say("Creating windows user for instance...");
        let email = match &c.auth.source {
            Some(Source::Key(k)) => k.client_email.clone(),
            _ => String::new(),
        };
        let key = WindowsKey::new(&w.user, &email)?;
        let (p, z, name) = (&c.project_id, &c.zone, &c.instance_name);
        let fail =
            |e: &dyn std::fmt::Display| Error::msg(format!("Error creating windows password: {e}"));
        let inst = st
            .compute
            .get_instance(p, z, name)
            .await
            .map_err(|e| fail(&e))?
            .ok_or_else(|| fail(&format!("instance {name} is gone")))?;
        let op = st
            .compute
            .set_metadata(p, z, name, with_entry(&inst, &key.entry))
            .await
            .map_err(|e| fail(&e))?;
        st.wait(
            ctx,
            p,
            op,
            &format!("the windows-keys metadata of instance {name} to be set"),
            "Error creating windows password",
        )
        .await?;
        ctx.ui
            .message("Waiting for windows password to complete...");
        let start = tokio::time::Instant::now();
        let mut port4 = String::new();
        let mut next = 0;
        let password = loop {
            let (more, n) = st
                .compute
                .serial_port_output(p, z, name, AGENT_PORT, next)
                .await
                .map_err(|e| fail(&e))?;
            port4.push_str(&more);
            next = n;
            if let Some(pw) = key.password(&port4)? {
                break pw;
            }
            let limit = c.windows_password_timeout;
            if start.elapsed() >= limit {
                return Err(Error::msg(format!(
                    "Error creating windows password: timed out after {} waiting for the guest agent of instance {name} to answer on serial port 4 (windows_password_timeout)",
                    human(limit)
                )));
            }
            ctx.sleep(self.poll.min(limit.saturating_sub(start.elapsed())))
                .await?;
        };
        ctx.ui.output().redactor().add(&password);
        ctx.ui.message("Created password.");
        st.winrm_password = Some(password);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::step_create_instance::StepCreateInstance;
    use crate::fake::Fx;

    fn winrm(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({"communicator": "winrm", "winrm_username": "packer_user",
            "ssh_username": null, "source_image_family": "windows-2022"});
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        v
    }

    fn fx() -> Fx {
        let fx = Fx::new();
        fx.cloud
            .add_windows_image("windows-cloud", "windows-2022-v1", "windows-2022");
        fx
    }

    #[tokio::test]
    async fn the_agents_answer_gives_the_password_and_it_is_redacted() {
        let fx = fx();
        fx.cloud.windows_agent("Gc3-Pa55/word");
        let mut st = fx.state(winrm(json!({"source_image_project_id": ["windows-cloud"]})));
        let mut step = StepCreateWindowsPassword {
            poll: Duration::from_millis(1),
        };
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        step.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(st.winrm_password.as_deref(), Some("Gc3-Pa55/word"));
        let i = fx.cloud.instance("inst-1").unwrap();
        let entry: Value = i["metadata"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["key"] == WINDOWS_KEYS)
            .and_then(|x| serde_json::from_str(x["value"].as_str().unwrap()).ok())
            .unwrap();
        assert_eq!(entry["userName"], "packer_user");
        assert_eq!(entry["exponent"], "AQAB");
        assert!(entry["expireOn"].as_str().unwrap().ends_with('Z'));
        fx.ctx.ui.say("the password is Gc3-Pa55/word");
        let said = fx.said();
        assert!(
            said.contains("Creating windows user for instance..."),
            "{said}"
        );
        assert!(said.contains("Created password."), "{said}");
        assert!(!said.contains("Gc3-Pa55/word"), "{said}");
    }

    #[tokio::test]
    async fn a_given_password_or_a_linux_image_skips_the_exchange() {
        let fx = fx();
        let mut st = fx.state(winrm(json!({"winrm_password": "given",
            "source_image_project_id": ["windows-cloud"]})));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        let mut step = StepCreateWindowsPassword { poll: POLL };
        step.run(&fx.ctx, &mut st).await.unwrap();
        let mut st2 = fx.state(winrm(json!({"source_image_family": "debian-12",
            "instance_name": "inst-2"})));
        StepCreateInstance.run(&fx.ctx, &mut st2).await.unwrap();
        step.run(&fx.ctx, &mut st2).await.unwrap();
        assert!(st.winrm_password.is_none() && st2.winrm_password.is_none());
        assert!(!fx
            .cloud
            .changes()
            .iter()
            .any(|c| c.starts_with("set_metadata")));
    }

    #[tokio::test]
    async fn no_answer_times_out_naming_the_port() {
        let fx = fx();
        let mut st = fx.state(winrm(json!({"source_image_project_id": ["windows-cloud"],
            "windows_password_timeout": "1s"})));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        let e = StepCreateWindowsPassword {
            poll: Duration::from_millis(50),
        }
        .run(&fx.ctx, &mut st)
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "Error creating windows password: timed out after 1 second waiting for the guest agent of instance inst-1 to answer on serial port 4 (windows_password_timeout)");
    }

    #[test]
    fn refusals_and_bad_answers_are_errors() {
        let key = WindowsKey::new("u", "").unwrap();
        let m = &key.modulus;
        let refused = json!({"modulus": m, "errorMessage": "user u: access denied"}).to_string();
        assert_eq!(
            key.password(&format!("boot noise\n{refused}\n"))
                .unwrap_err()
                .to_string(),
            "Error creating windows password: the guest agent answered: user u: access denied"
        );
        let garbled = json!({"modulus": m, "encryptedPassword": "AAAA"}).to_string();
        assert!(key
            .password(&garbled)
            .unwrap_err()
            .to_string()
            .starts_with("Error decrypting the windows password:"));
        let other = json!({"modulus": "other", "encryptedPassword": "AAAA"}).to_string();
        assert_eq!(key.password(&other).unwrap(), None);
        // The fake agent's answer (RSA-OAEP SHA-1) decrypts.
        let answer = forge_testkit::gce::windows_agent_answer(&key.entry, "pw-1").unwrap();
        assert_eq!(key.password(&answer).unwrap().as_deref(), Some("pw-1"));
        // An entry the agent cannot use is answered with an error.
        let bad = forge_testkit::gce::windows_agent_answer(
            &json!({"userName": "u", "modulus": "!!", "exponent": "AQAB"}).to_string(),
            "pw",
        )
        .unwrap();
        assert!(bad.contains("errorMessage"), "{bad}");
    }
}
