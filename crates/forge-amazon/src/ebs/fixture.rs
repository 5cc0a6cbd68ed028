//! What the step tests share: a fake cloud with a source image, a configuration whose every
//! region's client is the fake, the build's state and a context whose output can be read.

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, PrepareInfo};
use forge_core::runner::{run_steps, Step};
use forge_core::ui::{Buffer, Mode, Output, Ui};
use forge_core::{Error, Result};

use super::{Config, State};
use crate::ec2::RUN_TAG;
use crate::fake::FakeCloud;

/// The build region.
pub const REGION: &str = "us-east-1";

/// A build of the fake: its cloud, the source image's id, a context and what it printed.
pub struct Fx {
    /// The account.
    pub cloud: Arc<FakeCloud>,
    /// The source image (`ubuntu-jammy`, owned by amazon, in [`REGION`]).
    pub source: String,
    /// The build's context (run id `test`).
    pub ctx: BuildCtx,
    out: Buffer,
}

impl Fx {
    /// An account with three regions and a source image.
    pub fn new() -> Fx {
        let cloud = FakeCloud::new(&[REGION, "us-west-2", "eu-west-1"]);
        let source = cloud.add_image(REGION, "ubuntu-jammy", "amazon");
        let out = Buffer::default();
        let mut ctx = BuildCtx::for_test("amazon-ebs.test");
        ctx.ui = Ui::new(
            Output::new(
                Mode::Human {
                    color: false,
                    timestamp: false,
                },
                Box::new(out.clone()),
                forge_core::redact::Redactor::new(),
            ),
            "amazon-ebs.test",
            None,
        );
        Fx {
            cloud,
            source,
            ctx,
            out,
        }
    }

    /// What the build printed.
    pub fn said(&self) -> String {
        self.out.text()
    }

    /// The configuration: the source image, `communicator = "none"`, waits of two minutes
    /// with forge's backoff, and `extra` on top; every region's client is the fake.
    pub async fn config(&self, extra: serde_json::Value) -> Config {
        let mut v = serde_json::json!({
            "region": REGION,
            "access_key": "AKIAFAKE",
            "secret_key": "fake-secret",
            "ami_name": "forge-test-ami",
            "source_ami": self.source,
            "instance_type": "t3.micro",
            "communicator": "none",
            "aws_polling": {"max_attempts": 8},
        });
        if let (Some(base), Some(more)) = (v.as_object_mut(), extra.as_object()) {
            base.extend(more.clone());
        }
        let value = forge_template::functions::value_from_json(v).unwrap();
        let c = match Config::prepare(&value, &info()) {
            Ok(c) => c,
            Err(e) => panic!("the test's configuration: {e:?}"),
        };
        for r in c.all_regions() {
            c.access.use_client(&r, self.cloud.ec2(&r)).await;
        }
        c
    }

    /// The state of a build with configuration `c`.
    pub async fn state(&self, c: Config) -> State {
        let ec2 = c.access.ec2("").await;
        State::new(Arc::new(c), ec2)
    }

    /// Runs `steps` through the runner (cleanup in reverse included).
    pub async fn run(&self, st: &mut State, mut steps: Vec<Box<dyn Step<State>>>) -> Result<()> {
        run_steps(&self.ctx, st, &mut steps).await
    }

    /// Runs `steps` that must fail: the error.
    pub async fn failure(&self, st: &mut State, steps: Vec<Box<dyn Step<State>>>) -> Error {
        match self.run(st, steps).await {
            Ok(()) => panic!("the steps succeeded"),
            Err(e) => e,
        }
    }

    /// The journal's resources that were never marked deleted, as `kind id`.
    pub fn journaled(&self) -> Vec<String> {
        self.ctx
            .journal
            .live(None)
            .into_iter()
            .map(|r| format!("{} {}", r.kind, r.id))
            .collect()
    }
}

/// What the builder is configured with.
pub fn info() -> PrepareInfo {
    PrepareInfo {
        build_name: "test".into(),
        legacy: false,
        ..forge_core::testing::info("amazon-ebs")
    }
}

/// A later step that fails, so that the ones before it clean up as after a failed build.
pub struct Fail;

#[async_trait]
impl Step<State> for Fail {
    fn name(&self) -> &'static str {
        "Fail"
    }
    async fn run(&mut self, _ctx: &BuildCtx, _st: &mut State) -> Result<()> {
        Err(Error::msg("a later step failed"))
    }
}

/// The run's tag, as every resource forge creates carries it.
pub fn run_tag() -> (String, String) {
    (RUN_TAG.to_string(), "test".to_string())
}

/// Resolves the source image.
pub fn source() -> Box<dyn Step<State>> {
    Box::new(super::step_source_ami::StepSourceAmiInfo)
}

/// Launches the instance and waits until it runs.
pub fn launch() -> Box<dyn Step<State>> {
    Box::new(super::step_run_instance::StepRunSourceInstance { record: None })
}

/// Stops the instance.
pub fn stop() -> Box<dyn Step<State>> {
    Box::new(super::step_stop::StepStopInstance)
}

/// Makes the AMI.
pub fn create_ami() -> Box<dyn Step<State>> {
    Box::new(super::step_create_ami::StepCreateAmi {
        records: Vec::new(),
    })
}

/// Copies the AMI to `ami_regions`.
pub fn copy_ami() -> Box<dyn Step<State>> {
    Box::new(super::step_ami_copy::StepAmiRegionCopy {
        records: Vec::new(),
    })
}

/// The operations called, without what they were about.
pub fn ops_only(cloud: &FakeCloud) -> Vec<&'static str> {
    cloud.calls().iter().map(|c| c.op).collect()
}
