//! StepImportOSLoginSSHKey: with `use_os_login`, imports the build's temporary public key into
//! the account's OS Login profile (Packer's step_import_os_login_ssh_key.go) and connects as
//! the profile's primary POSIX user (or `oslogin_ssh_username`). The key is journaled before
//! it is imported; cleanup deletes it from the profile.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::comm::CommConfig;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::auth::Source;
use crate::journal;

pub(super) struct StepImportOsLoginKey {
    /// The key's record, while it is in the profile.
    pub record: Option<Resource>,
}

/// The account whose login profile takes the key: the impersonated service account, else the
/// key file's.
fn account(st: &State) -> Option<String> {
    let a = &st.config.auth;
    if !a.impersonate.is_empty() {
        return Some(a.impersonate.clone());
    }
    match &a.source {
        Some(Source::Key(k)) => Some(k.client_email.clone()),
        _ => None,
    }
}

#[async_trait]
impl Step<State> for StepImportOsLoginKey {
    fn name(&self) -> &'static str {
        "StepImportOSLoginSSHKey"
    }

    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if c.use_os_login != Some(true) || c.comm.ssh().is_none() {
            return Ok(());
        }
        let Some(key) = st.temp_key.as_ref().map(|k| k.public.clone()) else {
            // A key of the user's own: Packer leaves its import to the user too.
            return Ok(());
        };
        let Some(oslogin) = st.oslogin.clone() else {
            return Ok(());
        };
        let account = account(st).ok_or_else(|| {
            Error::msg("use_os_login: forge needs the account's email: use a service account key or impersonate_service_account (the email of user credentials and access tokens is not looked up yet)")
        })?;
        ctx.ui.say("Importing SSH public key for OSLogin...");
        let fp = journal::key_fingerprint(&key);
        let rec = journal::intend_oslogin_key(ctx, &c.auth.endpoints.oslogin, &account, &fp)?;
        self.record = Some(rec.clone());
        let expire = c
            .oslogin_ssh_key_expire_after
            .map(|d| {
                (std::time::SystemTime::now() + d)
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_micros() as i64
            })
            .unwrap_or(0);
        let imported = match oslogin.import(&account, &c.project_id, &key, expire).await {
            Ok(i) => i,
            Err(e) => {
                return Err(Error::msg(format!(
                    "Error importing SSH public key for OSLogin: {e}"
                )))
            }
        };
        let user = c.oslogin_ssh_username.clone().unwrap_or(imported.username);
        ctx.ui.message(&format!("SSH username for OSLogin: {user}"));
        // Later steps connect as the profile's user.
        let mut cu = (*c).clone();
        if let CommConfig::Ssh(s) = &mut cu.comm {
            s.auth.user = user;
        }
        st.config = Arc::new(cu);
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        let (Some(rec), Some(oslogin)) = (
            journal::to_clean_up(ctx, &mut self.record),
            st.oslogin.clone(),
        ) else {
            return Ok(());
        };
        ctx.ui.say("Deleting SSH public key for OSLogin...");
        let account = rec.data["account"].as_str().unwrap_or_default().to_string();
        match oslogin.delete(&account, &rec.id).await {
            Ok(()) => {
                journal::gone(ctx, &rec);
                ctx.ui.message("SSH public key for OSLogin has been deleted!");
            }
            Err(e) => ctx.ui.error(&format!(
                "Error deleting SSH public key for OSLogin. Please delete it manually.\n\nError: {e}"
            )),
        }
        Ok(())
    }
}
