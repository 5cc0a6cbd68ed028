//! StepCreateInstance: finds the source image, creates the instance (its boot disk with it,
//! kept when the instance goes) with the build's metadata, the temporary SSH key and the
//! startup-script wrapper, and waits until the creation is done. Cleanup deletes the
//! instance, then its disk (Packer's order).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};
use serde_json::{json, Value};

use super::{Config, State};
use crate::compute::Compute;
use crate::journal;

/// The metadata key of the startup script.
pub const STARTUP_SCRIPT: &str = "startup-script";
/// Where the wrapper finds the user's script.
pub const WRAPPED_SCRIPT: &str = "packer-wrapped-startup-script";
/// The status the wrapper reports: `notdone`, then `done` or `error`.
pub const STATUS_KEY: &str = "startup-script-status";

/// The startup script forge installs in place of the user's when wrapping: it runs the
/// user's script (from the `packer-wrapped-startup-script` metadata) and reports its result
/// in the instance's `startup-script-status` metadata, the protocol Packer's wrapper follows.
pub const STARTUP_WRAPPER: &str = r#"#!/usr/bin/env bash
# forge's startup-script wrapper: runs the script in the packer-wrapped-startup-script
# metadata and records how it ended in the startup-script-status metadata.
MD=http://metadata.google.internal/computeMetadata/v1/instance
md() { curl -fs -H "Metadata-Flavor: Google" "$MD/$1" 2>/dev/null; }
zone=$(basename "$(md zone)")
script=$(md attributes/packer-wrapped-startup-script)
rc=0
if [ -n "$script" ]; then
  f=$(mktemp /tmp/forge-startup-XXXXXX)
  printf '%s\n' "$script" >"$f"
  chmod +x "$f"
  "$f"
  rc=$?
  rm -f "$f"
fi
if [ "$rc" -eq 0 ]; then status=done; else status=error; fi
echo "forge startup script wrapper: the startup script exited with $rc"
gcloud compute instances add-metadata "$HOSTNAME" --zone "$zone" --metadata "startup-script-status=$status"
exit "$rc"
"#;

pub(super) struct StepCreateInstance;

/// Whether the image is a Windows image (one of its licenses is in `windows-cloud`).
pub fn is_windows(image: &Value) -> bool {
    image["licenses"].as_array().is_some_and(|l| {
        l.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.contains("/projects/windows-cloud/"))
        })
    })
}

/// The instance's metadata items (Packer's createInstanceMetadata): the user's, the
/// temporary key in `ssh-keys`, the startup script (wrapped unless `wrap_startup_script` is
/// false), `enable-oslogin` and the `metadata_files`.
pub fn metadata_items(
    c: &Config,
    public_key: Option<&str>,
    windows: bool,
) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut md = c.metadata.clone();
    // With OS Login the key goes into the account's login profile instead.
    if let Some(pk) = public_key.filter(|_| c.use_os_login != Some(true)) {
        let user = c.ssh_user();
        let mut keys = format!("{user}:{} {user}", pk.trim_end());
        if let Some(existing) = md.get("ssh-keys") {
            keys = format!("{keys}\n{existing}");
        }
        md.insert("ssh-keys".into(), keys);
    }
    let mut script = md.get(STARTUP_SCRIPT).cloned().unwrap_or_default();
    if !c.startup_script_file.is_empty() {
        script = std::fs::read_to_string(&c.startup_script_file)
            .map_err(|e| format!("startup_script_file {}: {e}", c.startup_script_file))?;
    }
    md.insert(STARTUP_SCRIPT.into(), script.clone());
    if !script.is_empty() && c.wrap_startup_script == Some(true) {
        md.insert(STARTUP_SCRIPT.into(), STARTUP_WRAPPER.into());
        md.insert(WRAPPED_SCRIPT.into(), script);
        md.insert(STATUS_KEY.into(), "notdone".into());
    }
    if windows {
        md.insert(STARTUP_SCRIPT.into(), String::new());
        md.insert(STATUS_KEY.into(), "done".into());
    }
    match c.use_os_login {
        Some(true) => {
            md.insert("enable-oslogin".into(), "TRUE".into());
        }
        Some(false) => {
            md.insert("enable-oslogin".into(), "FALSE".into());
        }
        None => {}
    }
    for (k, f) in &c.metadata_files {
        let v = std::fs::read_to_string(f).map_err(|e| format!("metadata_files {k}: {f}: {e}"))?;
        md.insert(k.clone(), v);
    }
    Ok(md)
}

fn path_or(v: &str, full: String) -> String {
    if v.contains('/') {
        v.to_string()
    } else {
        full
    }
}

/// The instance's JSON (the API's `Instance`).
pub fn instance_body(
    c: &Config,
    source_image: &str,
    metadata: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Value {
    let items: Vec<Value> = metadata
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let mut nic = json!({});
    if !c.network.is_empty() {
        nic["network"] = path_or(
            &c.network,
            format!(
                "projects/{}/global/networks/{}",
                c.network_project_id, c.network
            ),
        )
        .into();
    }
    if !c.subnetwork.is_empty() {
        nic["subnetwork"] = path_or(
            &c.subnetwork,
            format!(
                "projects/{}/regions/{}/subnetworks/{}",
                c.network_project_id, c.region, c.subnetwork
            ),
        )
        .into();
    }
    if !c.omit_external_ip {
        nic["accessConfigs"] =
            json!([{"name": "AccessConfig created by Packer", "type": "ONE_TO_ONE_NAT"}]);
    }
    let mut body = json!({
        "name": c.instance_name,
        "description": "New instance created by Packer",
        "machineType": format!("zones/{}/machineTypes/{}", c.zone, c.machine_type),
        "disks": [{
            "boot": true,
            "autoDelete": false,
            "type": "PERSISTENT",
            "mode": "READ_WRITE",
            "initializeParams": {
                "diskName": c.disk_name,
                "diskSizeGb": c.disk_size.to_string(),
                "diskType": format!("zones/{}/diskTypes/{}", c.zone, c.disk_type),
                "sourceImage": source_image,
                "labels": labels,
            },
        }],
        "networkInterfaces": [nic],
        "metadata": {"items": items},
        "labels": labels,
        "scheduling": {
            "preemptible": c.preemptible,
            "onHostMaintenance": c.on_host_maintenance,
            "automaticRestart": !c.preemptible,
        },
    });
    if let Some(k) = &c.disk_encryption_key {
        body["disks"][0]["diskEncryptionKey"] = k.clone();
    }
    // As Packer sends it: the options set, the API's defaults for the others.
    let shielded: serde_json::Map<String, Value> = [
        "enableSecureBoot",
        "enableVtpm",
        "enableIntegrityMonitoring",
    ]
    .iter()
    .zip(c.shielded)
    .filter(|(_, on)| *on)
    .map(|(k, _)| (k.to_string(), true.into()))
    .collect();
    if !shielded.is_empty() {
        body["shieldedInstanceConfig"] = shielded.into();
    }
    if c.accelerator_count > 0 {
        body["guestAccelerators"] = json!([{
            "acceleratorType": path_or(&c.accelerator_type, format!(
                "projects/{}/zones/{}/acceleratorTypes/{}", c.project_id, c.zone, c.accelerator_type)),
            "acceleratorCount": c.accelerator_count,
        }]);
    }
    if !c.min_cpu_platform.is_empty() {
        body["minCpuPlatform"] = c.min_cpu_platform.clone().into();
    }
    if !c.node_affinity.is_empty() {
        body["scheduling"]["nodeAffinities"] = c.node_affinity.clone().into();
    }
    if !c.tags.is_empty() {
        body["tags"] = json!({"items": c.tags});
    }
    if !c.disable_default_service_account {
        let email = if c.service_account_email.is_empty() {
            "default"
        } else {
            &c.service_account_email
        };
        body["serviceAccounts"] = json!([{"email": email, "scopes": c.scopes}]);
    }
    body
}

/// The source image: `source_image` or the newest of `source_image_family`, searched in
/// `source_image_project_id`, then the build's project.
pub async fn find_source_image(compute: &dyn Compute, c: &Config) -> Result<Value> {
    let mut projects = c.source_image_project_id.clone();
    if !projects.contains(&c.project_id) {
        projects.push(c.project_id.clone());
    }
    let (name, family) = if c.source_image.is_empty() {
        (c.source_image_family.as_str(), true)
    } else {
        (c.source_image.as_str(), false)
    };
    for p in &projects {
        let found = if family {
            compute.image_from_family(p, name).await
        } else {
            compute.get_image(p, name).await
        };
        match found {
            Ok(Some(i)) => return Ok(i),
            Ok(None) => continue,
            Err(e) => {
                return Err(Error::msg(format!(
                    "Error getting source image for instance creation: {e}"
                )))
            }
        }
    }
    Err(Error::msg(format!(
        "Error getting source image for instance creation: no image {}{name} in projects {}",
        if family { "in family " } else { "" },
        projects.join(", ")
    )))
}

#[async_trait]
impl Step<State> for StepCreateInstance {
    fn name(&self) -> &'static str {
        "StepCreateInstance"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let image = find_source_image(st.compute.as_ref(), &c).await?;
        let image_name = image["name"].as_str().unwrap_or_default().to_string();
        st.generated
            .insert("SourceImageName".into(), image_name.clone());
        ctx.ui.say(&format!("Using image: {image_name}"));
        let link = image["selfLink"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("global/images/{image_name}"));
        let windows = is_windows(&image);
        st.source_image = Some(image);

        ctx.ui.say("Creating instance...");
        let public = st.temp_key.as_ref().map(|k| k.public.clone());
        let md = metadata_items(&c, public.as_deref(), windows).map_err(Error::msg)?;
        let labels = State::labelled(ctx, &c.labels);
        let zones: Vec<&String> = std::iter::once(&c.zone).chain(&c.fallback_zones).collect();
        let mut last: Option<Error> = None;
        for (i, zone) in zones.iter().enumerate() {
            if last.is_some() {
                ctx.ui.message(&format!(
                    "Compute Engine has no capacity in {} ({CAPACITY}); trying {zone}",
                    zones[i - 1]
                ));
            }
            // The build goes on in the zone that has room.
            let cz = Arc::new(c.in_zone(zone));
            st.config = cz.clone();
            match create_in(ctx, st, &cz, &link, &md, &labels).await {
                Err(e) if zones.len() > 1 && e.to_string().contains(CAPACITY) => {
                    // What the failed insert left goes, and its journal records with it.
                    remove(ctx, st, false).await;
                    last = Some(e);
                }
                Err(e) => return Err(e),
                Ok(()) => {
                    ctx.ui.message("Instance has been created!");
                    if ctx.opts.debug {
                        ctx.ui
                            .message(&format!("Instance: {} started in {zone}", c.instance_name));
                    }
                    return Ok(());
                }
            }
        }
        st.config = c.clone();
        Err(Error::msg(format!(
            "Error creating instance: no capacity in any of {}: {}",
            zones
                .iter()
                .map(|z| z.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        remove(ctx, st, true).await;
        Ok(())
    }
}

/// Compute Engine's answer when a zone has no room for the instance.
const CAPACITY: &str = "ZONE_RESOURCE_POOL_EXHAUSTED";

/// Creates the instance with its boot disk in `c.zone` and waits until that is done.
async fn create_in(
    ctx: &BuildCtx,
    st: &mut State,
    c: &Config,
    image: &str,
    md: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Result<()> {
    let body = instance_body(c, image, md, labels);
    let (p, z) = (&c.project_id, &c.zone);
    // The call makes both: both are journaled first, the disk first, so that
    // `forge cleanup` (latest first) removes the instance holding it before it.
    let disk = journal::intend(ctx, &c.endpoint, journal::DISK, p, z, &c.disk_name)?;
    let inst = journal::intend(ctx, &c.endpoint, journal::INSTANCE, p, z, &c.instance_name)?;
    // Held before the call: an interrupt that drops this step mid-call still cleans up.
    st.instance = Some(inst.clone());
    st.disk = Some(disk.clone());
    let op = match st.compute.insert_instance(p, z, body).await {
        Ok(op) => op,
        Err(e) => {
            st.instance = None;
            st.disk = None;
            journal::gone(ctx, &inst);
            journal::gone(ctx, &disk);
            return Err(Error::msg(format!("Error creating instance: {e}")));
        }
    };
    ctx.ui
        .message("Waiting for creation operation to complete...");
    st.wait(
        ctx,
        p,
        op,
        &format!("instance {} to be created in {z}", c.instance_name),
        "Error creating instance",
    )
    .await
}

/// Deletes the instance, then its disk, in the build's zone (saying so when `say`); what
/// is already gone is no error.
async fn remove(ctx: &BuildCtx, st: &mut State, say: bool) {
    let c = st.config.clone();
    for (slot, kind, what) in [
        (&mut st.instance, journal::INSTANCE, "instance"),
        (&mut st.disk, journal::DISK, "disk"),
    ] {
        let Some(rec) = journal::to_clean_up(ctx, slot) else {
            continue;
        };
        if say {
            ctx.ui.say(&format!("Deleting {what}..."));
        }
        match journal::delete(st.compute.as_ref(), kind, &c.project_id, &c.zone, &rec.id).await {
            Ok(()) => {
                journal::gone(ctx, &rec);
                if say {
                    let mut w = what.to_string();
                    w[..1].make_ascii_uppercase();
                    ctx.ui.message(&format!("{w} has been deleted!"));
                }
            }
            Err(e) => {
                let mut w = what.to_string();
                w[..1].make_ascii_uppercase();
                ctx.ui.error(&format!(
                    "Error deleting {what}. Please delete it manually.\n\nName: {}\nError: {e}",
                    rec.id
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Fail, Fx};
    use forge_core::runner::run_steps;

    fn config(extra: serde_json::Value) -> Config {
        super::super::tests::config(extra)
    }

    #[test]
    fn the_startup_script_is_wrapped_and_the_key_added() {
        let dir = forge_testkit::tempdir::dir(&[("s.sh", "echo hi\n")]);
        let c = config(
            json!({"startup_script_file": dir.join("s.sh").display().to_string(),
            "metadata": {"ssh-keys": "other:ssh-ed25519 BBB other", "a": "b"}}),
        );
        let md = metadata_items(&c, Some("ssh-ed25519 AAA packer\n"), false).unwrap();
        assert_eq!(md[STARTUP_SCRIPT], STARTUP_WRAPPER);
        assert_eq!(md[WRAPPED_SCRIPT], "echo hi\n");
        assert_eq!(md[STATUS_KEY], "notdone");
        assert_eq!(
            md["ssh-keys"],
            "forgetest:ssh-ed25519 AAA packer forgetest\nother:ssh-ed25519 BBB other"
        );
        assert_eq!(md["a"], "b");
        let md = metadata_items(&c, None, true).unwrap();
        assert_eq!(
            (md[STARTUP_SCRIPT].as_str(), md[STATUS_KEY].as_str()),
            ("", "done")
        );
    }

    #[test]
    fn an_unwrapped_script_stays_as_given() {
        let c = config(json!({"metadata": {"startup-script": "echo x"}}));
        let md = metadata_items(&c, None, false).unwrap();
        assert_eq!(md[STARTUP_SCRIPT], "echo x");
        assert!(!md.contains_key(STATUS_KEY));
    }

    #[test]
    fn the_instance_keeps_its_disk_and_carries_the_labels() {
        let c = config(json!({"omit_external_ip": true, "use_internal_ip": true,
            "tags": ["a"], "preemptible": true, "subnetwork": "sub"}));
        let labels = BTreeMap::from([("forge-run".to_string(), "r1".to_string())]);
        let b = instance_body(&c, "projects/x/global/images/i", &BTreeMap::new(), &labels);
        assert_eq!(b["disks"][0]["autoDelete"], false);
        assert_eq!(
            b["disks"][0]["initializeParams"]["labels"]["forge-run"],
            "r1"
        );
        assert_eq!(b["labels"]["forge-run"], "r1");
        assert!(b["networkInterfaces"][0].get("accessConfigs").is_none());
        assert_eq!(
            b["networkInterfaces"][0]["subnetwork"],
            "projects/p/regions/us-central1/subnetworks/sub"
        );
        assert!(b["networkInterfaces"][0].get("network").is_none());
        assert_eq!(b["scheduling"]["onHostMaintenance"], "TERMINATE");
        assert_eq!(b["tags"]["items"][0], "a");
        // The body fits the client's model.
        let m: google_cloud_compute_v1::model::Instance = serde_json::from_value(b).unwrap();
        assert_eq!(m.name.as_deref(), Some(c.instance_name.as_str()));
    }

    #[test]
    fn disk_keys_shielded_vm_accelerators_and_affinity_reach_the_body() {
        let c = config(
            json!({"disk_encryption_key": {"kmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
            "enable_secure_boot": true, "enable_vtpm": true,
            "accelerator_type": "nvidia-tesla-t4", "accelerator_count": 2,
            "on_host_maintenance": "TERMINATE", "min_cpu_platform": "Intel Cascade Lake",
            "node_affinity": [{"key": "workload", "operator": "IN", "values": ["build"]}]}),
        );
        let b = instance_body(&c, "i", &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            b["disks"][0]["diskEncryptionKey"]["kmsKeyName"],
            "projects/p/locations/l/keyRings/r/cryptoKeys/k"
        );
        assert_eq!(
            b["shieldedInstanceConfig"],
            json!({"enableSecureBoot": true, "enableVtpm": true})
        );
        assert_eq!(
            b["guestAccelerators"][0],
            json!({"acceleratorType": "projects/p/zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4",
                "acceleratorCount": 2})
        );
        assert_eq!(b["minCpuPlatform"], "Intel Cascade Lake");
        assert_eq!(b["scheduling"]["nodeAffinities"][0]["values"][0], "build");
        let m: google_cloud_compute_v1::model::Instance = serde_json::from_value(b).unwrap();
        assert_eq!(m.guest_accelerators.len(), 1);
        let plain = instance_body(&config(json!({})), "i", &BTreeMap::new(), &BTreeMap::new());
        for k in [
            "shieldedInstanceConfig",
            "guestAccelerators",
            "minCpuPlatform",
        ] {
            assert!(plain.get(k).is_none(), "{k}");
        }
    }

    #[tokio::test]
    async fn the_instance_and_its_disk_are_labelled_and_journaled_first() {
        let fx = Fx::new();
        let mut st = fx.state(json!({"labels": {"role": "build"}}));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        let i = fx.cloud.instance("inst-1").unwrap();
        assert_eq!(i["labels"]["forge-run"], "test");
        assert_eq!(i["labels"]["role"], "build");
        assert_eq!(
            i["disks"][0]["initializeParams"]["sourceImage"],
            "projects/debian-cloud/global/images/debian-12-v1"
        );
        assert_eq!(fx.journaled(), ["gce-instance inst-1", "gce-disk inst-1"]);
        assert_eq!(st.generated["SourceImageName"], "debian-12-v1");
        assert!(
            fx.said().contains("Using image: debian-12-v1"),
            "{}",
            fx.said()
        );
    }

    #[tokio::test]
    async fn a_later_failure_deletes_the_instance_then_its_disk() {
        let fx = Fx::new();
        let mut st = fx.state(json!({}));
        let r = fx
            .run(&mut st, vec![Box::new(StepCreateInstance), Box::new(Fail)])
            .await;
        assert_eq!(r.unwrap_err().to_string(), "a later step failed");
        assert_eq!(
            fx.cloud.changes(),
            [
                "insert_instance inst-1",
                "delete_instance inst-1",
                "delete_disk inst-1"
            ]
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_operation_error_fails_the_step_and_leaves_nothing() {
        let fx = Fx::new();
        fx.cloud
            .fail_op("insert_instance", "ZONE_RESOURCE_POOL_EXHAUSTED");
        let mut st = fx.state(json!({}));
        let e = fx
            .run(&mut st, vec![Box::new(StepCreateInstance)])
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error creating instance: ZONE_RESOURCE_POOL_EXHAUSTED: ZONE_RESOURCE_POOL_EXHAUSTED: injected by the test"
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn no_capacity_falls_back_to_the_next_zone_and_the_build_moves_there() {
        let fx = Fx::new();
        fx.cloud
            .fail_op("insert_instance", "ZONE_RESOURCE_POOL_EXHAUSTED");
        let mut st = fx.state(json!({"fallback_zones": ["us-central1-b"], "subnetwork": "s"}));
        StepCreateInstance.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(st.config.zone, "us-central1-b");
        let i = fx.cloud.instance("inst-1").unwrap();
        assert_eq!(
            i["machineType"],
            "zones/us-central1-b/machineTypes/e2-standard-2"
        );
        assert!(fx.said().contains(
            "Compute Engine has no capacity in us-central1-a (ZONE_RESOURCE_POOL_EXHAUSTED); trying us-central1-b"
        ), "{}", fx.said());
        assert_eq!(fx.journaled(), ["gce-instance inst-1", "gce-disk inst-1"]);
        assert_eq!(fx.ctx.journal.live(None)[0].data["zone"], "us-central1-b");
    }

    #[tokio::test]
    async fn every_zone_without_capacity_is_named_and_nothing_is_left() {
        let fx = Fx::new();
        let mut st = fx.state(json!({"fallback_zones": ["us-central1-b"]}));
        let mut steps: Vec<Box<dyn Step<State>>> = vec![Box::new(StepCreateInstance)];
        // Both zones are full.
        let cloud = fx.cloud.clone();
        let r = {
            cloud.fail_op_times("insert_instance", "ZONE_RESOURCE_POOL_EXHAUSTED", 2);
            run_steps(&fx.ctx, &mut st, &mut steps).await
        };
        let e = r.unwrap_err().to_string();
        assert!(
            e.starts_with("Error creating instance: no capacity in any of us-central1-a, us-central1-b: Error creating instance: ZONE_RESOURCE_POOL_EXHAUSTED"),
            "{e}"
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_unknown_family_is_named_with_the_projects_searched() {
        let fx = Fx::new();
        let mut st = fx.state(json!({"source_image_family": "nope"}));
        let e = fx
            .run(&mut st, vec![Box::new(StepCreateInstance)])
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error getting source image for instance creation: no image in family nope in projects debian-cloud, p"
        );
        assert_eq!(fx.cloud.changes(), Vec::<String>::new());
    }
}
