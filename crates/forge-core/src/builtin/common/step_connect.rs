//! StepConnect: opens the communicator the configuration asks for (`none` opens nothing), at
//! the address the builder's host function gives (Packer's StepConnect with its Host and
//! SSHPort funcs).

use std::sync::Arc;

use async_trait::async_trait;

use crate::comm::CommConfig;
use crate::plugin::{BuildCtx, Communicator, ConnectRequest, PrepareInfo, TempKey};
use crate::runner::{Outcome, Step};
use crate::{Error, Result};

/// Where to connect, read from the builder's state when the step runs: (host, port).
pub type HostFn<S> = Box<dyn Fn(&S) -> Result<(String, u16)> + Send + Sync>;

/// Connects, and stores the communicator in the state through `store`.
pub struct StepConnect<S> {
    /// The communicator settings.
    pub comm: CommConfig,
    /// The plugin context (its connectors).
    pub info: PrepareInfo,
    /// The machine's address.
    pub host: HostFn<S>,
    /// Puts the communicator into the builder's state.
    pub store: fn(&mut S, Arc<dyn Communicator>),
    /// Reads the build's temporary key pair from the state, if the builder made one.
    pub temp_key: fn(&S) -> Option<TempKey>,
    /// The open communicator, closed at cleanup.
    pub opened: Option<Arc<dyn Communicator>>,
}

impl<S> StepConnect<S> {
    /// The step for `comm`, reaching the address `host` gives.
    pub fn new(
        comm: CommConfig,
        info: PrepareInfo,
        host: impl Fn(&S) -> Result<(String, u16)> + Send + Sync + 'static,
        store: fn(&mut S, Arc<dyn Communicator>),
        temp_key: fn(&S) -> Option<TempKey>,
    ) -> StepConnect<S> {
        StepConnect {
            comm,
            info,
            host: Box::new(host),
            store,
            temp_key,
            opened: None,
        }
    }
}

#[async_trait]
impl<S: Send> Step<S> for StepConnect<S> {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(&mut self, ctx: &BuildCtx, state: &mut S) -> Result<()> {
        if self.comm.is_none() {
            return Ok(());
        }
        let (host, port) = (self.host)(state)?;
        let name = self.comm.name();
        let Some(c) = self.info.connectors.get(name) else {
            return Err(Error::msg(format!(
                "the {name} communicator is not part of this forge build"
            )));
        };
        ctx.ui
            .say(&format!("Using {name} communicator to connect: {host}"));
        let req = ConnectRequest {
            comm: self.comm.clone(),
            host,
            port,
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
