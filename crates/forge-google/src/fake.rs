//! An in-memory [`Compute`] for the step tests: images, instances and disks by name,
//! operations that are DONE at once (with the error a test injects), and the calls made.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{run_steps, Step};
use forge_core::ui::{Buffer, Mode, Output, Ui};
use serde_json::{json, Value};

use crate::builder::{Config, State};
use crate::compute::{ApiError, Compute, Operation};

#[derive(Default)]
struct Cloud {
    images: BTreeMap<String, Value>,
    instances: BTreeMap<String, Value>,
    disks: BTreeMap<String, Value>,
    calls: Vec<String>,
    op_errors: BTreeMap<String, (String, usize)>,
    /// When set, the Windows guest agent answers `windows-keys` with this password.
    windows_password: Option<String>,
    /// Serial port 4 of each instance.
    serial4: BTreeMap<String, String>,
    /// The `windows-keys` entries answered.
    answered: Vec<String>,
}

/// The fake.
#[derive(Default, Clone)]
pub struct FakeCompute(Arc<Mutex<Cloud>>);

fn done(name: &str, zone: Option<&str>, err: Option<String>) -> Operation {
    Operation {
        name: format!("op-{name}"),
        zone: zone.map(str::to_string),
        status: "DONE".into(),
        error: err.map(|c| (c.clone(), format!("{c}: injected by the test"))),
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError {
        status: 404,
        reason: "notFound".into(),
        message: format!("The resource '{what}' was not found"),
        ..ApiError::default()
    }
}

impl FakeCompute {
    fn cloud(&self) -> std::sync::MutexGuard<'_, Cloud> {
        self.0.lock().unwrap()
    }
    /// Adds an image `project/name` in `family`.
    pub fn add_image(&self, project: &str, name: &str, family: &str) {
        self.cloud().images.insert(
            format!("{project}/{name}"),
            json!({"name": name, "family": family, "diskSizeGb": "10",
                "selfLink": format!("projects/{project}/global/images/{name}")}),
        );
    }
    /// Adds a Windows image (licensed from `windows-cloud`) `project/name` in `family`.
    pub fn add_windows_image(&self, project: &str, name: &str, family: &str) {
        self.add_image(project, name, family);
        if let Some(i) = self.cloud().images.get_mut(&format!("{project}/{name}")) {
            i["licenses"] = json!(["https://www.googleapis.com/compute/v1/projects/windows-cloud/global/licenses/windows-server-2022-dc"]);
        }
    }
    /// The next operation of `call` (`insert_instance`, ...) ends in error `code`.
    pub fn fail_op(&self, call: &str, code: &str) {
        self.fail_op_times(call, code, 1);
    }
    /// The next `times` operations of `call` end in error `code`.
    pub fn fail_op_times(&self, call: &str, code: &str, times: usize) {
        self.cloud()
            .op_errors
            .insert(call.into(), (code.into(), times));
    }
    /// The calls that change something, `call name`.
    pub fn changes(&self) -> Vec<String> {
        self.cloud()
            .calls
            .iter()
            .filter(|c| {
                !c.starts_with("get") && !c.starts_with("image_from") && !c.starts_with("wait")
            })
            .cloned()
            .collect()
    }
    /// Instances, disks and images, as `kind name`.
    pub fn leftovers(&self) -> Vec<String> {
        let c = self.cloud();
        let mut out: Vec<String> = c
            .instances
            .keys()
            .map(|k| format!("instance {k}"))
            .collect();
        out.extend(c.disks.keys().map(|k| format!("disk {k}")));
        out.extend(
            c.images
                .iter()
                .filter(|(k, _)| k.starts_with("p/"))
                .map(|(k, _)| format!("image {k}")),
        );
        out
    }
    /// An instance's JSON.
    pub fn instance(&self, name: &str) -> Option<Value> {
        self.cloud().instances.get(name).cloned()
    }
    /// Sets an instance's metadata item.
    pub fn set_metadata(&self, name: &str, key: &str, value: &str) {
        if let Some(i) = self.cloud().instances.get_mut(name) {
            let items = i["metadata"]["items"].as_array_mut().unwrap();
            items.retain(|x| x["key"] != key);
            items.push(json!({"key": key, "value": value}));
        }
    }
    /// Makes the instances' Windows guest agent answer `windows-keys` entries with `pw`.
    pub fn windows_agent(&self, pw: &str) {
        self.cloud().windows_password = Some(pw.into());
    }
    fn op(&self, call: &str, name: &str, zone: Option<&str>) -> (Operation, bool) {
        let mut c = self.cloud();
        c.calls.push(format!("{call} {name}"));
        let err = match c.op_errors.get_mut(call) {
            Some((code, n)) if *n > 0 => {
                *n -= 1;
                Some(code.clone())
            }
            _ => None,
        };
        let failed = err.is_some();
        (done(name, zone, err), failed)
    }
}

#[async_trait]
impl Compute for FakeCompute {
    async fn get_image(&self, project: &str, name: &str) -> Result<Option<Value>, ApiError> {
        let mut c = self.cloud();
        c.calls.push(format!("get_image {name}"));
        Ok(c.images.get(&format!("{project}/{name}")).cloned())
    }
    async fn image_from_family(
        &self,
        project: &str,
        family: &str,
    ) -> Result<Option<Value>, ApiError> {
        let mut c = self.cloud();
        c.calls.push(format!("image_from_family {family}"));
        Ok(c.images
            .iter()
            .filter(|(k, v)| k.starts_with(&format!("{project}/")) && v["family"] == family)
            .map(|(_, v)| v.clone())
            .next_back())
    }
    async fn insert_image(&self, project: &str, body: Value) -> Result<Operation, ApiError> {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        let (op, failed) = self.op("insert_image", &name, None);
        if !failed {
            let mut b = body;
            b["diskSizeGb"] = "20".into();
            self.cloud().images.insert(format!("{project}/{name}"), b);
        }
        Ok(op)
    }
    async fn delete_image(&self, project: &str, name: &str) -> Result<Operation, ApiError> {
        let (op, _) = self.op("delete_image", name, None);
        match self.cloud().images.remove(&format!("{project}/{name}")) {
            Some(_) => Ok(op),
            None => Err(not_found(name)),
        }
    }
    async fn insert_instance(
        &self,
        _p: &str,
        zone: &str,
        body: Value,
    ) -> Result<Operation, ApiError> {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        let (op, failed) = self.op("insert_instance", &name, Some(zone));
        if !failed {
            let disk = body["disks"][0]["initializeParams"].clone();
            let mut i = body;
            i["status"] = "RUNNING".into();
            i["networkInterfaces"][0]["networkIP"] = "10.128.0.2".into();
            if i["networkInterfaces"][0].get("accessConfigs").is_some() {
                i["networkInterfaces"][0]["accessConfigs"][0]["natIP"] = "203.0.113.7".into();
            }
            let mut c = self.cloud();
            c.disks
                .insert(disk["diskName"].as_str().unwrap_or_default().into(), disk);
            c.instances.insert(name, i);
        }
        Ok(op)
    }
    async fn get_instance(
        &self,
        _p: &str,
        _z: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let mut c = self.cloud();
        c.calls.push(format!("get_instance {name}"));
        Ok(c.instances.get(name).cloned())
    }
    async fn set_metadata(
        &self,
        _p: &str,
        zone: &str,
        name: &str,
        metadata: Value,
    ) -> Result<Operation, ApiError> {
        let (op, _) = self.op("set_metadata", name, Some(zone));
        let mut c = self.cloud();
        let pw = c.windows_password.clone();
        let Some(i) = c.instances.get_mut(name) else {
            return Err(not_found(name));
        };
        i["metadata"] = metadata;
        let entries = forge_testkit::gce::windows_keys_entries(&i["metadata"]);
        if let Some(pw) = pw {
            for e in entries {
                if c.answered.contains(&e) {
                    continue;
                }
                if let Some(line) = forge_testkit::gce::windows_agent_answer(&e, &pw) {
                    let port = c.serial4.entry(name.to_string()).or_default();
                    port.push_str(&line);
                    port.push('\n');
                }
                c.answered.push(e);
            }
        }
        Ok(op)
    }
    async fn serial_port_output(
        &self,
        _p: &str,
        _z: &str,
        name: &str,
        port: i32,
        start: i64,
    ) -> Result<(String, i64), ApiError> {
        let mut c = self.cloud();
        c.calls
            .push(format!("get_serial_port_output {name} {port}"));
        if !c.instances.contains_key(name) {
            return Err(not_found(name));
        }
        let all = match port {
            4 => c.serial4.get(name).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let from = (start.max(0) as usize).min(all.len());
        Ok((all[from..].to_string(), all.len() as i64))
    }
    async fn delete_instance(
        &self,
        _p: &str,
        zone: &str,
        name: &str,
    ) -> Result<Operation, ApiError> {
        let (op, _) = self.op("delete_instance", name, Some(zone));
        match self.cloud().instances.remove(name) {
            Some(_) => Ok(op),
            None => Err(not_found(name)),
        }
    }
    async fn delete_disk(&self, _p: &str, zone: &str, name: &str) -> Result<Operation, ApiError> {
        let (op, _) = self.op("delete_disk", name, Some(zone));
        match self.cloud().disks.remove(name) {
            Some(_) => Ok(op),
            None => Err(not_found(name)),
        }
    }
    async fn list(&self, _k: &str, _p: &str, _z: &str, _f: &str) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }
    async fn get_operation(&self, _p: &str, op: &Operation) -> Result<Operation, ApiError> {
        Ok(op.clone())
    }
    async fn wait_operation(&self, _p: &str, op: &Operation) -> Result<Operation, ApiError> {
        self.cloud().calls.push(format!("wait {}", op.name));
        Ok(op.clone())
    }
}

/// A build of the fake: its cloud, a context and what it printed.
pub struct Fx {
    /// The cloud.
    pub cloud: FakeCompute,
    /// The build's context.
    pub ctx: BuildCtx,
    out: Buffer,
}

impl Fx {
    /// A cloud with the source family `debian-12` in `debian-cloud`.
    pub fn new() -> Fx {
        let cloud = FakeCompute::default();
        cloud.add_image("debian-cloud", "debian-12-v1", "debian-12");
        let out = Buffer::default();
        let mut ctx = BuildCtx::for_test("googlecompute.test");
        ctx.ui = Ui::new(
            Output::new(
                Mode::Human {
                    color: false,
                    timestamp: false,
                },
                Box::new(out.clone()),
                forge_core::redact::Redactor::new(),
            ),
            "googlecompute.test",
            None,
        );
        Fx { cloud, ctx, out }
    }
    /// What the build printed.
    pub fn said(&self) -> String {
        self.out.text()
    }
    /// The state of a build configured with `extra`.
    pub fn state(&self, extra: Value) -> State {
        let mut v = json!({"source_image_project_id": ["debian-cloud"], "instance_name": "inst-1"});
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        let c: Config = crate::builder::tests::config(v);
        State::new(Arc::new(c), Arc::new(self.cloud.clone()))
    }
    /// Runs `steps` as a build would, cleanup included.
    pub async fn run(
        &self,
        st: &mut State,
        mut steps: Vec<Box<dyn Step<State>>>,
    ) -> forge_core::Result<()> {
        run_steps(&self.ctx, st, &mut steps).await
    }
    /// The journal's live records, `kind id`.
    pub fn journaled(&self) -> Vec<String> {
        self.ctx
            .journal
            .live(None)
            .into_iter()
            .map(|r| format!("{} {}", r.kind, r.id))
            .collect()
    }
}

/// A step that fails, so that the ones before it clean up as after a failed build.
pub struct Fail;

#[async_trait]
impl Step<State> for Fail {
    fn name(&self) -> &'static str {
        "Fail"
    }
    async fn run(&mut self, _ctx: &BuildCtx, _st: &mut State) -> forge_core::Result<()> {
        Err(forge_core::Error::msg("a later step failed"))
    }
}
