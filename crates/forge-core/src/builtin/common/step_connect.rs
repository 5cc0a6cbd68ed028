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
    /// Reads a password the build learned (a cloud's generated Windows password), used when
    /// the settings have none.
    pub password: Option<fn(&S) -> Option<String>>,
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
            password: None,
        }
    }

    /// Connects with the password `password` reads from the state when the settings give
    /// none.
    pub fn with_password(mut self, password: fn(&S) -> Option<String>) -> StepConnect<S> {
        self.password = Some(password);
        self
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
        let mut comm = self.comm.clone();
        if let Some(pw) = self.password.and_then(|f| f(state)) {
            comm.default_password(pw);
        }
        let req = ConnectRequest {
            comm,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::comm::CommType;
    use crate::plugin::Connector;
    use crate::testing::FakeComm;

    /// What a connector was asked: type, host, port, temporary key name.
    type Asked = (String, String, u16, Option<String>);

    /// Records what it was asked to reach.
    #[derive(Default)]
    struct FakeConnector {
        asked: Mutex<Vec<Asked>>,
    }

    #[async_trait]
    impl Connector for FakeConnector {
        async fn connect(
            &self,
            _: &BuildCtx,
            req: &ConnectRequest,
        ) -> Result<Arc<dyn Communicator>> {
            self.asked.lock().unwrap().push((
                req.comm.name().to_string(),
                req.host.clone(),
                req.port,
                req.temp_key.as_ref().map(|k| k.name.clone()),
            ));
            Ok(Arc::new(FakeComm::new()))
        }
    }

    #[derive(Default)]
    struct State {
        ip: String,
        forwarded: Option<u16>,
        comm: Option<Arc<dyn Communicator>>,
    }

    fn info(c: Option<Arc<FakeConnector>>) -> PrepareInfo {
        let mut m: BTreeMap<&'static str, Arc<dyn Connector>> = BTreeMap::new();
        if let Some(c) = c {
            m.insert(CommType::Ssh.name(), c);
        }
        PrepareInfo {
            build_name: "b".into(),
            builder_type: "fake".into(),
            template_dir: ".".into(),
            opts: Default::default(),
            legacy: false,
            connectors: Arc::new(m),
            warnings: Default::default(),
        }
    }

    fn comm(json: &str) -> CommConfig {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let v = forge_template::functions::value_from_json(v).unwrap();
        CommConfig::decode(&crate::registry::decode(&v).unwrap(), CommType::Ssh, None).unwrap()
    }

    /// The configured host if any, else the state's address; the forwarded port if any.
    fn step(c: CommConfig, info: PrepareInfo) -> StepConnect<State> {
        let (host, port) = (c.host().map(str::to_string), c.port().unwrap_or_default());
        StepConnect::new(
            c,
            info,
            move |s: &State| {
                let h = host.clone().unwrap_or_else(|| s.ip.clone());
                Ok((h, s.forwarded.unwrap_or(port)))
            },
            |s: &mut State, c| s.comm = Some(c),
            |_| {
                Some(TempKey {
                    name: "k".into(),
                    public: String::new(),
                    private: String::new(),
                })
            },
        )
    }

    #[tokio::test]
    async fn connects_where_the_host_function_says_when_the_step_runs() {
        let ctx = BuildCtx::for_test("fake.b");
        let fake = Arc::new(FakeConnector::default());
        let mut s = step(
            comm(r#"{"ssh_username":"u","ssh_port":2200}"#),
            info(Some(fake.clone())),
        );
        // The address is read at run time, after earlier steps filled the state in.
        let mut st = State {
            ip: "10.0.0.5".into(),
            forwarded: Some(3333),
            ..State::default()
        };
        s.run(&ctx, &mut st).await.unwrap();
        assert!(st.comm.is_some());
        assert_eq!(
            fake.asked.lock().unwrap().as_slice(),
            [(
                "ssh".to_string(),
                "10.0.0.5".to_string(),
                3333,
                Some("k".to_string())
            )]
        );
        assert!(s.opened.is_some());
        s.cleanup(&ctx, &mut st, Outcome::default()).await.unwrap();
        assert!(s.opened.is_none());

        // A configured host wins; without a forwarded port, the communicator's own.
        let mut s = step(
            comm(r#"{"ssh_username":"u","ssh_host":"h"}"#),
            info(Some(fake.clone())),
        );
        st.forwarded = None;
        s.run(&ctx, &mut st).await.unwrap();
        let asked = fake.asked.lock().unwrap();
        assert_eq!((asked[1].1.as_str(), asked[1].2), ("h", 22));
    }

    #[tokio::test]
    async fn none_connects_nothing_and_a_missing_connector_is_an_error() {
        let ctx = BuildCtx::for_test("fake.b");
        let fake = Arc::new(FakeConnector::default());
        let mut st = State::default();
        let mut s = step(CommConfig::None, info(Some(fake.clone())));
        s.host = Box::new(|_| panic!("no address is needed without a communicator"));
        s.run(&ctx, &mut st).await.unwrap();
        assert!(st.comm.is_none() && fake.asked.lock().unwrap().is_empty());

        let mut s = step(comm(r#"{"ssh_username":"u"}"#), info(None));
        let e = s.run(&ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "the ssh communicator is not part of this forge build"
        );
    }

    #[tokio::test]
    async fn a_host_function_error_stops_the_step() {
        let ctx = BuildCtx::for_test("fake.b");
        let fake = Arc::new(FakeConnector::default());
        let mut s = step(comm(r#"{"ssh_username":"u"}"#), info(Some(fake.clone())));
        s.host = Box::new(|_| Err(Error::msg("no instance is running")));
        let e = s.run(&ctx, &mut State::default()).await.unwrap_err();
        assert_eq!(e.to_string(), "no instance is running");
        assert!(fake.asked.lock().unwrap().is_empty());
    }
}
