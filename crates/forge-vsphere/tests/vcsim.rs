//! The vim25 client against the real vCenter simulator (forge-testkit's vcsim test bed): the
//! session, datacenter discovery, every lookup found and not found, and tasks.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use forge_testkit::vcsim::{Vcsim, VcsimOptions};
use forge_vsphere::{Client, Config, Moref, Request};

fn config(sim: &Vcsim) -> Config {
    Config::new(&sim.server(), sim.username(), sim.password(), true)
}

async fn connect(sim: &Vcsim) -> Client {
    Client::connect(&config(sim)).await.unwrap()
}

fn err_text<T: std::fmt::Debug>(r: forge_core::Result<T>) -> String {
    r.unwrap_err().to_string()
}

#[tokio::test]
async fn login_logout_and_the_session_cookie() {
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    assert_eq!(c.content().api_type, "VirtualCenter");
    assert!(
        c.content().full_name.contains("vCenter"),
        "{:?}",
        c.content()
    );
    assert_eq!(c.url(), sim.url());
    // RetrieveServiceContent and Login.
    assert_eq!(c.round_trips(), 2);
    // The session is kept: a call that needs it works.
    let dc = c.datacenter(None).await.unwrap();
    assert_eq!(dc.name, "DC0");
    c.logout().await.unwrap();
    let after = err_text(c.datacenter(None).await);
    assert!(after.contains("NotAuthenticated"), "{after}");
}

#[tokio::test]
async fn a_session_the_server_ended_is_renewed_once() {
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    // The server forgets the session (as after vCenter's idle timeout); the client still holds
    // its cookie.
    let sm = c.content().session_manager.clone();
    c.call(Request::new("Logout", &sm)).await.unwrap();
    let before = c.round_trips();
    let dc = c.datacenter(None).await.unwrap();
    assert_eq!(dc.name, "DC0");
    // The refused call, the new Login and the call again, plus whatever the lookup needs.
    assert!(c.round_trips() >= before + 3, "{}", c.round_trips());
    // vcsim counts from its trace, a moment behind its answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.calls().get("Login").copied().unwrap_or_default() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sim.calls().get("Login"), Some(&2), "{:?}", sim.calls());
    // After an explicit logout nothing is renewed.
    c.logout().await.unwrap();
    let after = err_text(c.datacenter(None).await);
    assert!(after.contains("NotAuthenticated"), "{after}");
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_without_the_password() {
    let sim = Vcsim::start(VcsimOptions::default());
    let mut cfg = config(&sim);
    cfg.password = "Wr0ng-Pa55word".to_string();
    let e = err_text(Client::connect(&cfg).await);
    assert!(
        e.starts_with(&format!(
            "logging in to {} as \"{}\": Login: ",
            sim.url(),
            sim.username()
        )),
        "{e}"
    );
    assert!(e.contains("InvalidLogin"), "{e}");
    assert!(!e.contains("Wr0ng-Pa55word"), "{e}");
}

#[tokio::test]
async fn a_self_signed_certificate_needs_insecure_connection() {
    let sim = Vcsim::start(VcsimOptions::default());
    let mut cfg = config(&sim);
    cfg.insecure = false;
    let e = err_text(Client::connect(&cfg).await);
    assert!(
        e.contains("TLS") && e.contains("insecure_connection = true"),
        "{e}"
    );
    assert!(e.contains(sim.url()), "{e}");
    cfg.insecure = true;
    Client::connect(&cfg).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let port = forge_testkit::free_port();
    let cfg = Config::new(&format!("127.0.0.1:{port}"), "u", "p", true);
    let e = err_text(Client::connect(&cfg).await);
    assert!(
        e.contains(&format!("cannot reach https://127.0.0.1:{port}/sdk")),
        "{e}"
    );
}

#[tokio::test]
async fn the_only_datacenter_is_the_default() {
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    let dc = c.datacenter(None).await.unwrap();
    assert_eq!((dc.name.as_str(), dc.path.as_str()), ("DC0", "/DC0"));
    assert_eq!(dc.moref.kind, "Datacenter");
    for f in [
        &dc.vm_folder,
        &dc.host_folder,
        &dc.datastore_folder,
        &dc.network_folder,
    ] {
        assert_eq!(f.kind, "Folder");
    }
    let named = c.datacenter(Some("DC0")).await.unwrap();
    assert_eq!(named.moref, dc.moref);
    let by_path = c.datacenter(Some("/DC0")).await.unwrap();
    assert_eq!(by_path.moref, dc.moref);
    let e = err_text(c.datacenter(Some("DC9")).await);
    assert_eq!(e, "datacenter \"DC9\" not found: no /DC9");
    let e = err_text(c.datacenter(Some("Europe/DC9")).await);
    assert_eq!(e, "datacenter \"Europe/DC9\" not found: no /Europe/DC9");

    // A datacenter in a folder: found by its name at any depth, or by its path.
    let root = c.content().root_folder.clone();
    let europe = c
        .call(Request::new("CreateFolder", &root).text("name", "Europe"))
        .await
        .unwrap()
        .moref_of("returnval")
        .unwrap();
    c.call(Request::new("CreateDatacenter", &europe).text("name", "DC9"))
        .await
        .unwrap();
    let dc9 = c.datacenter(Some("DC9")).await.unwrap();
    assert_eq!(
        (dc9.name.as_str(), dc9.path.as_str()),
        ("DC9", "/Europe/DC9")
    );
    let by_path = c.datacenter(Some("Europe/DC9")).await.unwrap();
    assert_eq!(by_path.moref, dc9.moref);
    // Now there are two.
    let e = err_text(c.datacenter(None).await);
    assert!(e.contains("(DC0, DC9)"), "{e}");
}

#[tokio::test]
async fn several_datacenters_need_a_name() {
    let sim = Vcsim::start(VcsimOptions {
        datacenters: 2,
        ..Default::default()
    });
    let c = connect(&sim).await;
    let e = err_text(c.datacenter(None).await);
    assert!(
        e.contains("no datacenter given")
            && e.contains("(DC0, DC1)")
            && e.contains("set datacenter"),
        "{e}"
    );
    let dc1 = c.datacenter(Some("DC1")).await.unwrap();
    assert_eq!(dc1.path, "/DC1");
    // Lookups stay in the datacenter asked for.
    let ds = c.datastore(&dc1, "LocalDS_0").await.unwrap();
    assert_eq!(ds.path, "/DC1/datastore/LocalDS_0");
    let cl = c.cluster(&dc1, "DC1_C0").await.unwrap();
    assert_eq!(cl.path, "/DC1/host/DC1_C0");
    let e = err_text(c.cluster(&dc1, "DC0_C0").await);
    assert_eq!(e, "cluster \"DC0_C0\" not found under /DC1/host");
}

#[tokio::test]
async fn every_lookup_found_and_not_found() {
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    let dc = c.datacenter(None).await.unwrap();

    // Folders: the vm folder itself, one made here, a path, and a miss.
    let vm_folder = c.folder(&dc, "").await.unwrap();
    assert_eq!(
        (vm_folder.moref.clone(), vm_folder.path.as_str()),
        (dc.vm_folder.clone(), "/DC0/vm")
    );
    let made = c
        .call(Request::new("CreateFolder", &dc.vm_folder).text("name", "templates"))
        .await
        .unwrap()
        .moref_of("returnval")
        .unwrap();
    c.call(Request::new("CreateFolder", &made).text("name", "linux"))
        .await
        .unwrap();
    let f = c.folder(&dc, "templates").await.unwrap();
    assert_eq!((f.moref, f.path.as_str()), (made, "/DC0/vm/templates"));
    let f = c.folder(&dc, "templates/linux").await.unwrap();
    assert_eq!(
        (f.name.as_str(), f.path.as_str()),
        ("linux", "/DC0/vm/templates/linux")
    );
    assert_eq!(
        err_text(c.folder(&dc, "nope").await),
        "folder \"nope\" not found: no /DC0/vm/nope"
    );
    assert_eq!(
        err_text(c.folder(&dc, "DC0_H0_VM0").await),
        "folder \"DC0_H0_VM0\": /DC0/vm/DC0_H0_VM0 is not a folder but a VirtualMachine"
    );

    // Clusters.
    let cluster = c.cluster(&dc, "DC0_C0").await.unwrap();
    assert_eq!(
        (cluster.moref.kind.as_str(), cluster.path.as_str()),
        ("ClusterComputeResource", "/DC0/host/DC0_C0")
    );
    assert_eq!(
        err_text(c.cluster(&dc, "nope").await),
        "cluster \"nope\" not found under /DC0/host"
    );
    // A standalone host's compute resource is no cluster.
    assert_eq!(
        err_text(c.cluster(&dc, "DC0_H0").await),
        "cluster \"DC0_H0\" not found under /DC0/host"
    );

    // Hosts: inside the cluster (found at depth), standalone, by path, and misses.
    let h = c.host(&dc, "DC0_C0_H1").await.unwrap();
    assert_eq!(
        (h.moref.kind.as_str(), h.path.as_str()),
        ("HostSystem", "/DC0/host/DC0_C0/DC0_C0_H1")
    );
    let standalone = c.host(&dc, "DC0_H0").await.unwrap();
    assert_eq!(standalone.path, "/DC0/host/DC0_H0/DC0_H0");
    let by_path = c.host(&dc, "DC0_C0/DC0_C0_H1").await.unwrap();
    assert_eq!(by_path.moref, h.moref);
    assert_eq!(
        err_text(c.host(&dc, "nope").await),
        "host \"nope\" not found under /DC0/host"
    );
    assert_eq!(
        err_text(c.host(&dc, "DC0_C0/nope").await),
        "host \"DC0_C0/nope\" not found: no /DC0/host/DC0_C0/nope"
    );
    assert_eq!(
        err_text(c.host(&dc, "/DC0/host/DC0_C0").await),
        "host \"/DC0/host/DC0_C0\": /DC0/host/DC0_C0 is a ClusterComputeResource, not a host"
    );

    // Resource pools: the cluster's and the host's root pools, a child pool, misses.
    let root = c.resource_pool(&cluster, "").await.unwrap();
    assert_eq!(
        (root.moref.kind.as_str(), root.path.as_str()),
        ("ResourcePool", "/DC0/host/DC0_C0/Resources")
    );
    let same = c.resource_pool(&cluster, "Resources").await.unwrap();
    assert_eq!(same.moref, root.moref);
    let host_root = c.resource_pool(&standalone, "").await.unwrap();
    assert_eq!(host_root.path, "/DC0/host/DC0_H0/Resources");
    assert_ne!(host_root.moref, root.moref);
    let child = c
        .call(
            allocation(
                allocation(
                    Request::new("CreateResourcePool", &root.moref)
                        .text("name", "builds")
                        .open("spec", None),
                    "cpuAllocation",
                ),
                "memoryAllocation",
            )
            .close("spec"),
        )
        .await
        .unwrap()
        .moref_of("returnval")
        .unwrap();
    let p = c.resource_pool(&cluster, "builds").await.unwrap();
    assert_eq!(
        (p.moref, p.path.as_str()),
        (child, "/DC0/host/DC0_C0/Resources/builds")
    );
    assert_eq!(
        err_text(c.resource_pool(&cluster, "nope").await),
        "resource pool \"nope\" not found: no /DC0/host/DC0_C0/Resources/nope"
    );
    assert_eq!(
        err_text(c.resource_pool(&standalone, "builds").await),
        "resource pool \"builds\" not found: no /DC0/host/DC0_H0/Resources/builds"
    );

    // Datastores.
    let ds = c.datastore(&dc, "LocalDS_0").await.unwrap();
    assert_eq!(
        (ds.moref.kind.as_str(), ds.path.as_str()),
        ("Datastore", "/DC0/datastore/LocalDS_0")
    );
    assert_eq!(
        err_text(c.datastore(&dc, "nope").await),
        "datastore \"nope\" not found under /DC0/datastore"
    );

    // Networks: the standard one and a distributed port group.
    let net = c.network(&dc, "VM Network").await.unwrap();
    assert_eq!(
        (net.moref.kind.as_str(), net.path.as_str()),
        ("Network", "/DC0/network/VM Network")
    );
    let pg = c.network(&dc, "DC0_DVPG0").await.unwrap();
    assert_eq!(pg.moref.kind, "DistributedVirtualPortgroup");
    assert_eq!(
        err_text(c.network(&dc, "nope").await),
        "network \"nope\" not found under /DC0/network"
    );

    // VMs: by name, by path, in a sub-folder, and a miss.
    let vm = c.vm(&dc, "DC0_H0_VM0").await.unwrap();
    assert_eq!(
        (vm.moref.kind.as_str(), vm.path.as_str()),
        ("VirtualMachine", "/DC0/vm/DC0_H0_VM0")
    );
    let by_path = c.vm(&dc, "/DC0/vm/DC0_H0_VM0").await.unwrap();
    assert_eq!(by_path.moref, vm.moref);
    let moved = c.vm(&dc, "DC0_C0_RP0_VM1").await.unwrap();
    let linux = c.folder(&dc, "templates/linux").await.unwrap();
    let mv = Request::new("MoveIntoFolder_Task", &linux.moref).moref("list", &moved.moref);
    let task = c.call_task(mv).await.unwrap();
    c.wait_for_task(&task, Duration::from_secs(30))
        .await
        .unwrap();
    let deep = c.vm(&dc, "DC0_C0_RP0_VM1").await.unwrap();
    assert_eq!(deep.path, "/DC0/vm/templates/linux/DC0_C0_RP0_VM1");
    assert_eq!(
        err_text(c.vm(&dc, "nope").await),
        "VM \"nope\" not found under /DC0/vm"
    );
    assert_eq!(
        err_text(c.vm(&dc, "templates/nope").await),
        "VM \"templates/nope\" not found: no /DC0/vm/templates/nope"
    );
}

/// An unlimited, expandable `ResourceAllocationInfo` named `tag`.
fn allocation(req: Request, tag: &str) -> Request {
    req.open(tag, None)
        .text("reservation", "0")
        .boolean("expandableReservation", true)
        .text("limit", "-1")
        .open("shares", None)
        .text("shares", "4000")
        .text("level", "normal")
        .close("shares")
        .close(tag)
}

async fn power_state(c: &Client, vm: &Moref) -> String {
    c.retrieve_one(vm, &["runtime.powerState"])
        .await
        .unwrap()
        .text("runtime.powerState")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn tasks_are_waited_for_and_their_errors_reported() {
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    let dc = c.datacenter(None).await.unwrap();
    let vm = c.vm(&dc, "DC0_H0_VM1").await.unwrap().moref;
    assert_eq!(power_state(&c, &vm).await, "poweredOn");

    let before = c.round_trips();
    let task = c
        .call_task(Request::new("PowerOffVM_Task", &vm))
        .await
        .unwrap();
    assert_eq!(task.kind, "Task");
    let done = c
        .wait_for_task(&task, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(done.result.is_none(), "{done:?}");
    // The call and at most a few reads of its state.
    let trips = c.round_trips() - before;
    assert!((2..=4).contains(&trips), "{trips} round trips");
    assert_eq!(power_state(&c, &vm).await, "poweredOff");

    // Powering off a VM that is off fails; the task's error says why.
    let task = c
        .call_task(Request::new("PowerOffVM_Task", &vm))
        .await
        .unwrap();
    let e = err_text(c.wait_for_task(&task, Duration::from_secs(30)).await);
    assert!(
        e.starts_with("task VirtualMachine.powerOff (task-")
            && e.contains(" failed: InvalidPowerState"),
        "{e}"
    );
    assert!(e.contains("existingState poweredOff"), "{e}");

    let task = c
        .call_task(Request::new("PowerOnVM_Task", &vm))
        .await
        .unwrap();
    c.wait_for_task(&task, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(power_state(&c, &vm).await, "poweredOn");

    // A method the object does not have is a SOAP fault, named.
    let e = err_text(c.call(Request::new("NoSuchMethod_Task", &vm)).await);
    assert!(e.starts_with("NoSuchMethod_Task: "), "{e}");
}

#[tokio::test]
async fn a_task_result_is_returned() {
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    let dc = c.datacenter(None).await.unwrap();
    let src = c.vm(&dc, "DC0_H0_VM0").await.unwrap().moref;
    let clone = Request::new("CloneVM_Task", &src)
        .moref("folder", &dc.vm_folder)
        .text("name", "forge-clone")
        .open("spec", None)
        .open("location", None)
        .close("location")
        .boolean("template", false)
        .boolean("powerOn", false)
        .close("spec");
    let task = c.call_task(clone).await.unwrap();
    let done = c
        .wait_for_task(&task, Duration::from_secs(30))
        .await
        .unwrap();
    let new_vm = done.moref().unwrap();
    assert_eq!(new_vm.kind, "VirtualMachine");
    assert_eq!(c.vm(&dc, "forge-clone").await.unwrap().moref, new_vm);
    // Destroyed again, it is gone.
    let task = c
        .call_task(Request::new("Destroy_Task", &new_vm))
        .await
        .unwrap();
    c.wait_for_task(&task, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        err_text(c.vm(&dc, "forge-clone").await),
        "VM \"forge-clone\" not found under /DC0/vm"
    );
}

#[tokio::test]
async fn powered_on_vms_report_the_guest_ip() {
    let sim = Vcsim::start(VcsimOptions {
        guest_ip: Some("10.11.12.13".to_string()),
        ..Default::default()
    });
    let c = connect(&sim).await;
    let dc = c.datacenter(None).await.unwrap();
    let vm = c.vm(&dc, "DC0_H0_VM0").await.unwrap().moref;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = c.retrieve_one(&vm, &["guest.ipAddress"]).await.unwrap();
        if o.text("guest.ipAddress") == Some("10.11.12.13") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no guest IP after 20 s: {}",
            sim.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn keys_typed_on_a_console_reach_the_simulator() {
    // govmomi 0.24 does not implement PutUsbScanCodes: the test bed's main.go answers it and
    // records each key event.
    let sim = Vcsim::start(VcsimOptions::default());
    let c = connect(&sim).await;
    let dc = c.datacenter(None).await.unwrap();
    let vm = c.vm(&dc, "DC0_H0_VM0").await.unwrap();
    let n = c
        .put_usb_scan_codes(
            &vm.moref,
            &[
                (0x04 << 16 | 7, false, false, true),
                (0x28 << 16 | 7, true, true, false),
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let keys = sim.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0]["vm"], "DC0_H0_VM0");
    assert_eq!(keys[0]["usbHidCode"], 0x04 << 16 | 7);
    assert_eq!(keys[0]["leftShift"], true);
    assert_eq!(keys[0]["leftControl"], false);
    assert_eq!(keys[1]["leftControl"], true);
    assert_eq!(keys[1]["leftAlt"], true);
    assert_eq!(keys[1]["leftShift"], false);
    let gone = err_text(
        c.put_usb_scan_codes(
            &Moref::new("VirtualMachine", "vm-404"),
            &[(7, false, false, false)],
        )
        .await,
    );
    assert!(gone.contains("ManagedObjectNotFound"), "{gone}");
    assert_eq!(sim.keys().len(), 2);
}
