//! StepConnect: opens the communicator the configuration asks for (`none` opens nothing).

use std::sync::Arc;

use async_trait::async_trait;
use forge_template::value::Value;

use crate::plugin::{BuildCtx, Communicator, ConnectRequest, PrepareInfo, TempKey};
use crate::runner::{Outcome, Step};
use crate::{Error, Result};

/// The communicator part of a builder's configuration.
#[derive(Clone, Debug)]
pub struct CommSettings {
    /// `communicator` (default `ssh`).
    pub kind: String,
    /// The host to reach.
    pub host: String,
    /// The port to reach, overriding the communicator's setting (a forwarded port).
    pub port: Option<u16>,
    /// The whole builder configuration, for the communicator's own options.
    pub config: Value,
}

impl CommSettings {
    /// The settings of a builder whose `communicator` (as written) defaults to ssh; the host
    /// is filled in when the machine is up.
    pub fn ssh_default(communicator: &Option<String>, config: &Value) -> CommSettings {
        CommSettings {
            kind: communicator
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "ssh".into()),
            host: String::new(),
            port: None,
            config: config.clone(),
        }
    }

    /// The communicator's own configuration problems (Packer's `comm.Prepare`); an unknown
    /// communicator type is one too.
    pub fn check(&self, info: &PrepareInfo) -> Vec<String> {
        match self.kind.as_str() {
            "none" => Vec::new(),
            k => match info.connectors.get(k) {
                Some(c) => c.check(&self.config),
                None if ["ssh", "winrm", "docker", "dockerWindowsContainer"].contains(&k) => {
                    Vec::new()
                }
                None => vec![format!("Communicator type {k} is invalid")],
            },
        }
    }
}

/// Connects, and stores the communicator in the state through `store`.
pub struct StepConnect<S> {
    /// What to connect to.
    pub settings: CommSettings,
    /// The plugin context (its connectors).
    pub info: PrepareInfo,
    /// Puts the communicator into the builder's state.
    pub store: fn(&mut S, Arc<dyn Communicator>),
    /// Reads the build's temporary key pair from the state, if the builder made one.
    pub temp_key: fn(&S) -> Option<TempKey>,
    /// The open communicator, closed at cleanup.
    pub opened: Option<Arc<dyn Communicator>>,
}

#[async_trait]
impl<S: Send> Step<S> for StepConnect<S> {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()> {
        if self.settings.kind == "none" {
            return Ok(());
        }
        let Some(c) = self.info.connectors.get(self.settings.kind.as_str()) else {
            return Err(Error::msg(format!(
                "the {} communicator is not part of this forge build",
                self.settings.kind
            )));
        };
        ctx.ui.say(&format!(
            "Using {} communicator to connect: {}",
            self.settings.kind, self.settings.host
        ));
        let req = ConnectRequest {
            host: self.settings.host.clone(),
            port: self.settings.port,
            config: self.settings.config.clone(),
            temp_key: (self.temp_key)(state),
        };
        let comm = c.connect(ctx, &req).await?;
        self.opened = Some(comm.clone());
        (self.store)(state, comm);
        Ok(())
    }

    async fn cleanup(&mut self, _ctx: &BuildCtx, _state: &mut S, _o: Outcome) -> Result<()> {
        if let Some(c) = self.opened.take() {
            c.disconnect().await;
        }
        Ok(())
    }
}
