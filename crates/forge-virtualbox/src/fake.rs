//! A fake VirtualBox for the steps' unit tests: it records every `VBoxManage` argument list,
//! keeps the registered and running VMs and their NAT rules, and fails the commands a test
//! asks it to. (The fake communicator is forge-core's `testing::FakeComm`.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use forge_core::Result;

use crate::driver::{Driver, Output};

#[derive(Default)]
struct Inner {
    calls: Vec<Vec<String>>,
    registered: BTreeSet<String>,
    running: BTreeSet<String>,
    nat: BTreeMap<String, String>,
    /// Command word → (stderr, how many more times to fail).
    failures: BTreeMap<String, (String, usize)>,
}

/// The fake; clones share one VirtualBox.
#[derive(Clone, Default)]
pub struct FakeDriver(Arc<Mutex<Inner>>);

impl FakeDriver {
    /// An empty VirtualBox.
    pub fn new() -> FakeDriver {
        FakeDriver::default()
    }
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }
    /// Fails the next `times` commands whose first word is `cmd` with `stderr`.
    pub fn fail_on(&self, cmd: &str, stderr: &str, times: usize) {
        self.with(|i| i.failures.insert(cmd.into(), (stderr.into(), times)));
    }
    /// Registers a VM.
    pub fn register(&self, vm: &str) {
        self.with(|i| i.registered.insert(vm.into()));
    }
    /// Every call so far.
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.with(|i| i.calls.clone())
    }
    /// The calls whose first word is `cmd`.
    pub fn calls_of(&self, cmd: &str) -> Vec<Vec<String>> {
        self.calls().into_iter().filter(|c| c[0] == cmd).collect()
    }
    /// The registered VMs.
    pub fn registered(&self) -> Vec<String> {
        self.with(|i| i.registered.iter().cloned().collect())
    }
    /// Whether `vm` runs.
    pub fn running(&self, vm: &str) -> bool {
        self.with(|i| i.running.contains(vm))
    }
    /// The NAT rules (name → rule).
    pub fn nat_rules(&self) -> BTreeMap<String, String> {
        self.with(|i| i.nat.clone())
    }
}

fn ok(stdout: &str) -> Output {
    Output {
        status: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

fn err(stderr: &str) -> Output {
    Output {
        status: 1,
        stdout: String::new(),
        stderr: stderr.into(),
    }
}

#[async_trait]
impl Driver for FakeDriver {
    fn retry_delay(&self) -> Duration {
        Duration::ZERO
    }
    async fn run(&self, a: &[String]) -> Result<Output> {
        let mut i = self.0.lock().unwrap();
        i.calls.push(a.to_vec());
        let cmd = a[0].as_str();
        if let Some((stderr, n)) = i.failures.get_mut(cmd) {
            if *n > 0 {
                *n -= 1;
                return Ok(err(&stderr.clone()));
            }
        }
        let vm = a.get(1).cloned().unwrap_or_default();
        let known = i.registered.contains(&vm);
        let missing = || {
            err(&format!(
                "VBoxManage: error: Could not find a registered machine named '{vm}'"
            ))
        };
        Ok(match cmd {
            "--version" => ok("7.0.20_Debianr163906"),
            "list" if vm == "systemproperties" => {
                ok("Default Guest Additions ISO:     /usr/share/virtualbox/VBoxGuestAdditions.iso")
            }
            "import" => {
                let name = a.iter().skip_while(|x| *x != "--vmname").nth(1).cloned();
                i.registered.insert(name.unwrap_or_default());
                ok("")
            }
            "setextradata" => ok(""),
            _ if !known => missing(),
            "showvminfo" => {
                let st = if i.running.contains(&vm) {
                    "running"
                } else {
                    "poweroff"
                };
                ok(&format!("name=\"{vm}\"\nVMState=\"{st}\"\n"))
            }
            "startvm" => {
                i.running.insert(vm);
                ok("")
            }
            "controlvm"
                if a.get(2)
                    .is_some_and(|x| x == "poweroff" || x == "acpipowerbutton") =>
            {
                i.running.remove(&vm);
                ok("")
            }
            "modifyvm" if a.get(2).is_some_and(|x| x == "--natpf1") => {
                if a.get(3).is_some_and(|x| x == "delete") {
                    let name = a.get(4).cloned().unwrap_or_default();
                    if i.nat.remove(&name).is_none() {
                        return Ok(err("VBoxManage: error: Code NS_ERROR_INVALID_ARG"));
                    }
                } else {
                    let rule = a.get(3).cloned().unwrap_or_default();
                    let name = rule.split(',').next().unwrap_or_default().to_string();
                    if i.nat.contains_key(&name) {
                        return Ok(err(
                            "VBoxManage: error: A NAT rule of this name already exists",
                        ));
                    }
                    i.nat.insert(name, rule);
                }
                ok("")
            }
            "unregistervm" => {
                i.registered.remove(&vm);
                i.running.remove(&vm);
                ok("")
            }
            _ => ok(""),
        })
    }
}
