//! What each resource type checks when it is put, what happens when it becomes ready, and the
//! actions on resources (VM power, generalize, capture; deployment cancel and operations).

use serde_json::{json, Value};

use super::*;

impl Shared {
    /// A PUT of a resource whose PUT still runs: a poll of it, answered with its state (201
    /// while it runs, 200 once done). The Rust `azure_mgmt_*` 0.21 clients follow a PUT by
    /// sending it again until it answers 200. A resource being deleted refuses it.
    pub(super) fn put_again(&self, w: &mut World, key: &str) -> Option<Resp> {
        let busy = |w: &World| {
            w.ops.values().any(|o| {
                o.status == "InProgress"
                    && matches!(&o.effect, Effect::Ready(k) | Effect::Deploy(k) if k == key)
            })
        };
        let v = w.res.get(key)?;
        if state(v) == "Deleting" {
            let name = v["name"].as_str().unwrap_or_default();
            return Some(err(409, "OperationNotAllowed", &format!("Another operation on this or a dependent resource is in progress: {name} is being deleted.")));
        }
        if !busy(w) {
            return None;
        }
        self.poll_resource(w, key);
        let code = if busy(w) { 201 } else { 200 };
        let v = w.res.get(key).map(public)?;
        Some(Resp::json(code, v).header("Retry-After", w.retry_after.to_string()))
    }

    /// Checks a resource's body and makes what ARM stores (not yet provisioned).
    pub(super) fn prepare(
        &self,
        w: &mut World,
        t: &str,
        id: &str,
        body: Value,
    ) -> Result<Value, Resp> {
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        let parent = id
            .rsplitn(3, '/')
            .nth(2)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let child = t.matches('/').count() > 1;
        if child && !w.res.contains_key(&parent) {
            return Err(err(404, "ParentResourceNotFound", &format!("Can not perform requested operation on nested resource. Parent resource '{}' not found.", parent.rsplit('/').next().unwrap_or_default())));
        }
        let mut v = body;
        let location = match v["location"].as_str() {
            Some(l) => l.to_ascii_lowercase().replace(' ', ""),
            None if child => w
                .res
                .get(&parent)
                .and_then(|p| p["location"].as_str())
                .unwrap_or(LOCATIONS[0])
                .to_string(),
            None => {
                return Err(err(
                    400,
                    "LocationRequired",
                    "The location property is required for this definition.",
                ))
            }
        };
        if !LOCATIONS.contains(&location.as_str()) {
            return Err(err(400, "LocationNotAvailableForResourceType", &format!("The provided location '{location}' is not available for resource type '{t}'. List of available regions for the resource type is '{}'.", LOCATIONS.join(","))));
        }
        let existing = w.res.get(&id.to_ascii_lowercase()).cloned();
        v["id"] = json!(id);
        v["name"] = json!(name);
        v["type"] = json!(t);
        if !child || v.get("location").is_some() {
            v["location"] = json!(location);
        }
        if !v["tags"].is_object() {
            v["tags"] = json!({});
        }
        if !v["properties"].is_object() {
            v["properties"] = json!({});
        }
        if let Some(f) = existing.as_ref().and_then(|e| e.get("_fake").cloned()) {
            v["_fake"] = f;
        }
        let p = v["properties"].clone();
        match t {
            "Microsoft.Compute/virtualMachines" => {
                let size = p["hardwareProfile"]["vmSize"].as_str().unwrap_or_default();
                if !VM_SIZES.iter().any(|s| s.eq_ignore_ascii_case(size))
                    || w.no_sku
                        .iter()
                        .any(|(l, s)| *l == location && s.eq_ignore_ascii_case(size))
                {
                    return Err(err(409, "SkuNotAvailable", &format!("The requested VM size '{size}' is currently not available in location '{location}'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.")));
                }
                let nics = p["networkProfile"]["networkInterfaces"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if nics.is_empty() && existing.is_none() {
                    return Err(err(
                        400,
                        "InvalidParameter",
                        "Required parameter 'networkProfile' is missing (null).",
                    )
                    .target("networkProfile"));
                }
                for n in &nics {
                    let nid = n["id"].as_str().unwrap_or_default();
                    if !w.res.contains_key(&nid.to_ascii_lowercase()) {
                        return Err(err(400, "NotFound", &format!("Resource {nid} not found.")));
                    }
                }
                if existing.is_none() {
                    if p["storageProfile"]["imageReference"].is_null()
                        && p["storageProfile"]["osDisk"]["createOption"].as_str() != Some("Attach")
                    {
                        return Err(err(
                            400,
                            "InvalidParameter",
                            "Required parameter 'imageReference' is missing (null).",
                        )
                        .target("imageReference"));
                    }
                    let r = &p["storageProfile"]["imageReference"];
                    if let (Some(pb), Some(of), Some(sk)) = (
                        r["publisher"].as_str(),
                        r["offer"].as_str(),
                        r["sku"].as_str(),
                    ) {
                        let ver = r["version"].as_str().unwrap_or("latest");
                        if platform_versions(w, pb, of, sk)
                            .iter()
                            .all(|v| ver != "latest" && !v.eq_ignore_ascii_case(ver))
                        {
                            return Err(err(404, "PlatformImageNotFound", &format!("The platform image '{pb}:{of}:{sk}:{ver}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile")));
                        }
                    }
                    if let Some(img) = p["storageProfile"]["imageReference"]["id"].as_str() {
                        if !w.res.contains_key(&img.to_ascii_lowercase()) {
                            return Err(err(
                                404,
                                "NotFound",
                                &format!(
                                    "The Image '{img}' cannot be found in '{location}' region."
                                ),
                            ));
                        }
                    }
                    let vm_id = w.id();
                    v["properties"]["vmId"] = json!(vm_id);
                    v["_fake"] = json!({"power": "creating", "generalized": false});
                }
            }
            "Microsoft.Network/networkInterfaces" => {
                let configs = p["ipConfigurations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for (i, c) in configs.iter().enumerate() {
                    for path in ["/subnet/id", "/publicIPAddress/id"] {
                        check_ref(w, &c["properties"], path, id)?;
                    }
                    v["properties"]["ipConfigurations"][i]["id"] = json!(format!(
                        "{id}/ipConfigurations/{}",
                        c["name"].as_str().unwrap_or("ipconfig")
                    ));
                    v["properties"]["ipConfigurations"][i]["properties"]["privateIPAddress"] =
                        json!("127.0.0.1");
                }
                check_ref(w, &p, "/networkSecurityGroup/id", id)?;
            }
            "Microsoft.Network/virtualNetworks/subnets" => {
                check_ref(w, &p, "/networkSecurityGroup/id", id)?
            }
            "Microsoft.Network/virtualNetworks" => {
                for s in p["subnets"].as_array().cloned().unwrap_or_default() {
                    check_ref(w, &s["properties"], "/networkSecurityGroup/id", id)?;
                }
            }
            "Microsoft.Compute/disks" | "Microsoft.Compute/snapshots" => {
                let cd = &p["creationData"];
                let opt = cd["createOption"].as_str().unwrap_or_default();
                if opt.is_empty() {
                    return Err(err(
                        400,
                        "InvalidParameter",
                        "Required parameter 'creationData.createOption' is missing (null).",
                    )
                    .target("creationData.createOption"));
                }
                for k in ["sourceResourceId", "imageReference/id"] {
                    if let Some(r) = cd.pointer(&format!("/{k}")).and_then(Value::as_str) {
                        if !w.res.contains_key(&r.to_ascii_lowercase()) {
                            return Err(err(
                                404,
                                "NotFound",
                                &format!("Resource {r} is not found."),
                            ));
                        }
                    }
                }
                let size = p["diskSizeGB"].as_u64().or_else(|| {
                    cd["sourceResourceId"]
                        .as_str()
                        .and_then(|r| w.res.get(&r.to_ascii_lowercase()))
                        .and_then(|s| s["properties"]["diskSizeGB"].as_u64())
                });
                v["properties"]["diskSizeGB"] = json!(size.unwrap_or(30));
                if t == "Microsoft.Compute/disks" {
                    v["properties"]["diskState"] = json!("Unattached");
                }
                v["properties"]["timeCreated"] = json!(now_rfc3339());
            }
            "Microsoft.Compute/images" => {
                if let Some(src) = p["sourceVirtualMachine"]["id"].as_str() {
                    let Some(vm) = w.res.get(&src.to_ascii_lowercase()) else {
                        return Err(err(
                            404,
                            "NotFound",
                            &format!("The Resource '{src}' was not found."),
                        ));
                    };
                    if vm["_fake"]["generalized"] != true {
                        return Err(err(409, "OperationNotAllowed", &format!("The source virtual machine '{src}' must be generalized before an image can be created from it (deprovision the guest, deallocate and generalize the VM).")));
                    }
                    let os = &vm["properties"]["storageProfile"]["osDisk"];
                    v["properties"]["storageProfile"] = json!({"osDisk": {"osType": os["osType"].as_str().unwrap_or("Linux"), "osState": "Generalized",
                        "managedDisk": os["managedDisk"], "caching": "ReadWrite", "diskSizeGB": os["diskSizeGB"].as_u64().unwrap_or(30),
                        "storageAccountType": "Standard_LRS"}, "dataDisks": []});
                } else {
                    let os = &p["storageProfile"]["osDisk"];
                    if os.is_null() {
                        return Err(err(400, "InvalidParameter", "Either 'sourceVirtualMachine' or 'storageProfile.osDisk' must be given.").target("storageProfile"));
                    }
                    for k in ["/managedDisk/id", "/snapshot/id"] {
                        if let Some(r) = os.pointer(k).and_then(Value::as_str) {
                            if !w.res.contains_key(&r.to_ascii_lowercase()) {
                                return Err(err(
                                    404,
                                    "NotFound",
                                    &format!("Resource {r} is not found."),
                                ));
                            }
                        }
                    }
                }
                if v["properties"]["hyperVGeneration"].is_null() {
                    v["properties"]["hyperVGeneration"] = json!("V1");
                }
            }
            "Microsoft.Compute/galleries" => {
                v["properties"]["identifier"] =
                    json!({"uniqueName": format!("{SUBSCRIPTION}-{}", name.to_uppercase())});
            }
            "Microsoft.Compute/galleries/images" => {
                for k in ["publisher", "offer", "sku"] {
                    if p["identifier"][k].as_str().unwrap_or_default().is_empty() {
                        return Err(err(
                            400,
                            "InvalidParameter",
                            &format!("Required parameter 'identifier.{k}' is missing (null)."),
                        )
                        .target(&format!("galleryImage.properties.identifier.{k}")));
                    }
                }
                for k in ["osType", "osState"] {
                    if p[k].is_null() {
                        return Err(err(
                            400,
                            "InvalidParameter",
                            &format!("Required parameter '{k}' is missing (null)."),
                        )
                        .target(&format!("galleryImage.properties.{k}")));
                    }
                }
            }
            "Microsoft.Compute/galleries/images/versions" => {
                let sp = &p["storageProfile"];
                let src = sp["source"]["id"]
                    .as_str()
                    .or_else(|| sp["source"]["virtualMachineId"].as_str())
                    .or_else(|| sp["osDiskImage"]["source"]["id"].as_str());
                let Some(src) = src else {
                    return Err(err(
                        400,
                        "InvalidParameter",
                        "Required parameter 'storageProfile.source' is missing (null).",
                    )
                    .target("galleryImageVersion.properties.storageProfile.source"));
                };
                let Some(s) = w.res.get(&src.to_ascii_lowercase()) else {
                    return Err(err(
                        404,
                        "NotFound",
                        &format!("The source resource '{src}' was not found."),
                    ));
                };
                if s["type"] == "Microsoft.Compute/virtualMachines"
                    && s["_fake"]["generalized"] != true
                {
                    let image = w
                        .res
                        .get(&parent)
                        .map(|i| i["properties"]["osState"].clone())
                        .unwrap_or(Value::Null);
                    if image == "Generalized" {
                        return Err(err(409, "OperationNotAllowed", &format!("The source virtual machine '{src}' must be generalized for a generalized gallery image.")));
                    }
                }
                let mut regions = p["publishingProfile"]["targetRegions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if regions.is_empty() {
                    regions.push(json!({"name": location, "regionalReplicaCount": 1}));
                }
                let mut summary = Vec::new();
                for r in &regions {
                    let n = r["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                        .replace(' ', "");
                    if !LOCATIONS.contains(&n.as_str()) {
                        return Err(err(
                            400,
                            "InvalidParameter",
                            &format!(
                                "The region '{n}' is not available; regions: {}.",
                                LOCATIONS.join(", ")
                            ),
                        )
                        .target("galleryImageVersion.properties.publishingProfile.targetRegions"));
                    }
                    summary.push(json!({"region": n, "state": "Completed", "progress": 100}));
                }
                v["properties"]["publishingProfile"]["targetRegions"] = json!(regions);
                v["properties"]["publishingProfile"]["publishedDate"] = json!(now_rfc3339());
                v["properties"]["replicationStatus"] =
                    json!({"aggregatedState": "Completed", "summary": summary});
            }
            "Microsoft.KeyVault/vaults" => {
                if p["tenantId"].as_str().is_none() || p["sku"]["name"].as_str().is_none() {
                    return Err(err(
                        400,
                        "BadRequest",
                        "The parameters 'properties.tenantId' and 'properties.sku' are required.",
                    ));
                }
                let base = vault_base(w, &name.to_ascii_lowercase());
                v["properties"]["vaultUri"] = json!(format!("{base}/"));
            }
            "Microsoft.KeyVault/vaults/secrets" if p["value"].as_str().is_none() => {
                return Err(err(
                    400,
                    "BadRequest",
                    "The parameter 'properties.value' is required.",
                ));
            }
            _ => {}
        }
        Ok(v)
    }

    /// The side effects of a resource becoming ready.
    pub(super) fn ready(&self, w: &mut World, key: &str) {
        let Some(mut v) = w.res.get(key).cloned() else {
            return;
        };
        set_state(&mut v, "Succeeded");
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let loc = v["location"].clone();
        let gid = id
            .split("/providers/")
            .next()
            .unwrap_or_default()
            .to_string();
        match v["type"].as_str().unwrap_or_default() {
            "Microsoft.Network/virtualNetworks" => {
                let subnets = v["properties"]["subnets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let mut out = Vec::new();
                for s in subnets {
                    let n = s["name"].as_str().unwrap_or("default");
                    let sid = format!("{id}/subnets/{n}");
                    let mut sub = json!({"id": sid, "name": n, "type": "Microsoft.Network/virtualNetworks/subnets", "properties": s["properties"]});
                    set_state(&mut sub, "Succeeded");
                    out.push(sub.clone());
                    w.res.insert(sid.to_ascii_lowercase(), sub);
                }
                v["properties"]["subnets"] = json!(out);
            }
            "Microsoft.Network/publicIPAddresses" => {
                v["properties"]["ipAddress"] = json!("127.0.0.1");
                if let Some(label) = v["properties"]["dnsSettings"]["domainNameLabel"].as_str() {
                    v["properties"]["dnsSettings"]["fqdn"] = json!(format!(
                        "{label}.{}.cloudapp.azure.com",
                        loc.as_str().unwrap_or_default()
                    ));
                }
            }
            "Microsoft.Compute/virtualMachines" if v["_fake"]["power"] == "creating" => {
                v["_fake"]["power"] = json!("running");
                let os = v["properties"]["storageProfile"]["osDisk"].clone();
                if os["managedDisk"]["id"].is_null() {
                    let vmname = v["name"].as_str().unwrap_or_default();
                    let dname = os["name"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{vmname}_OsDisk_1_{:032x}", w.next));
                    let did = format!("{gid}/providers/Microsoft.Compute/disks/{dname}");
                    let os_type =
                        if v["properties"]["osProfile"]["windowsConfiguration"].is_object() {
                            "Windows"
                        } else {
                            "Linux"
                        };
                    let size = os["diskSizeGB"].as_u64().unwrap_or(30);
                    let disk = json!({"id": did, "name": dname, "type": "Microsoft.Compute/disks", "location": loc, "tags": {},
                        "managedBy": id, "sku": {"name": "Standard_LRS"},
                        "properties": {"osType": os_type, "diskSizeGB": size, "diskState": "Attached", "provisioningState": "Succeeded",
                            "creationData": {"createOption": "FromImage", "imageReference": v["properties"]["storageProfile"]["imageReference"]},
                            "timeCreated": now_rfc3339()}});
                    w.res.insert(did.to_ascii_lowercase(), disk);
                    v["properties"]["storageProfile"]["osDisk"] = json!({"osType": os_type, "name": dname, "createOption": os["createOption"].as_str().unwrap_or("FromImage"),
                        "caching": os["caching"].as_str().unwrap_or("ReadWrite"), "diskSizeGB": size,
                        "deleteOption": os["deleteOption"].as_str().unwrap_or("Detach"),
                        "managedDisk": {"id": did, "storageAccountType": os["managedDisk"]["storageAccountType"].as_str().unwrap_or("Standard_LRS")}});
                }
            }
            "Microsoft.KeyVault/vaults/secrets" => {
                let vault = v["id"]
                    .as_str()
                    .unwrap_or_default()
                    .split('/')
                    .rev()
                    .nth(2)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let name = v["name"].as_str().unwrap_or_default().to_ascii_lowercase();
                let value = v["properties"]["value"].clone();
                self.store_secret(w, &vault, &name, value);
                let uri = format!("{}/secrets/{name}", vault_base(w, &vault));
                v["properties"]["secretUri"] = json!(uri);
            }
            _ => {}
        }
        w.res.insert(key.to_string(), v);
    }

    pub(super) fn store_secret(
        &self,
        w: &mut World,
        vault: &str,
        name: &str,
        value: Value,
    ) -> Value {
        let version = format!("{:032x}", w.next + 0xf0e6);
        w.next += 1;
        let now = now_secs();
        let s = json!({"value": value, "id": format!("{}/secrets/{name}/{version}", vault_base(w, vault)),
            "attributes": {"enabled": true, "created": now, "updated": now, "recoveryLevel": "Purgeable"}});
        w.secrets
            .entry(format!("{vault}/{name}"))
            .or_default()
            .push(s.clone());
        s
    }

    pub(super) fn action(
        &self,
        w: &mut World,
        req: &Req,
        t: &str,
        key: &str,
        action: &str,
    ) -> Resp {
        let api = req.query.get("api-version").cloned().unwrap_or_default();
        let v = w.res.get(key).cloned().unwrap_or(Value::Null);
        let name = v["name"].as_str().unwrap_or_default().to_string();
        let loc = v["location"].as_str().unwrap_or(LOCATIONS[0]).to_string();
        let ns = t.split('/').next().unwrap_or_default().to_string();
        let power = v["_fake"]["power"]
            .as_str()
            .unwrap_or("running")
            .to_string();
        let busy = matches!(state(&v), "Creating" | "Updating" | "Deleting");
        match (t, req.method.as_str(), action) {
            ("Microsoft.Compute/virtualMachines", "GET", "instanceview") => {
                let mut statuses = vec![
                    json!({"code": format!("ProvisioningState/{}", state(&v).to_lowercase()), "level": "Info",
                    "displayStatus": format!("Provisioning {}", state(&v).to_lowercase())}),
                ];
                let ps = if power == "creating" {
                    "starting"
                } else {
                    power.as_str()
                };
                statuses.push(json!({"code": format!("PowerState/{ps}"), "level": "Info", "displayStatus": format!("VM {ps}")}));
                if v["_fake"]["generalized"] == true {
                    statuses.push(json!({"code": "OSState/generalized", "level": "Info", "displayStatus": "VM generalized"}));
                }
                Resp::json(
                    200,
                    json!({"computerName": v["properties"]["osProfile"]["computerName"], "statuses": statuses,
                    "vmAgent": {"vmAgentVersion": "Unknown", "statuses": []}, "disks": []}),
                )
            }
            (
                "Microsoft.Compute/virtualMachines",
                "POST",
                "deallocate" | "poweroff" | "start" | "restart",
            ) if busy => err(
                409,
                "OperationNotAllowed",
                &format!(
                    "Operation '{action}' is not allowed on VM '{name}' since the VM is {}.",
                    state(&v).to_lowercase()
                ),
            ),
            (
                "Microsoft.Compute/virtualMachines",
                "POST",
                "deallocate" | "poweroff" | "start" | "restart",
            ) => {
                let to = match action {
                    "deallocate" => "deallocated",
                    "poweroff" => "stopped",
                    _ => "running",
                };
                if action != "deallocate" && v["_fake"]["generalized"] == true {
                    return err(409, "OperationNotAllowed", &format!("Operation '{action}' is not allowed on VM '{name}' since the VM is generalized."));
                }
                let fail = take_fault(w, t, action);
                self.start_op(
                    w,
                    &ns,
                    &loc,
                    &api,
                    Effect::Power(key.to_string(), to),
                    fail,
                    None,
                )
            }
            ("Microsoft.Compute/virtualMachines", "POST", "generalize") => {
                if power == "running" || power == "creating" {
                    return err(409, "OperationNotAllowed", &format!("Operation 'generalize' is not allowed on VM '{name}' since the VM is running. Please stop or deallocate the VM and retry."));
                }
                if let Some(vm) = w.res.get_mut(key) {
                    vm["_fake"]["generalized"] = json!(true);
                }
                Resp::empty(200)
            }
            ("Microsoft.Compute/virtualMachines", "POST", "capture") => {
                if v["_fake"]["generalized"] != true {
                    return err(409, "OperationNotAllowed", &format!("Capture operation cannot be completed because the VM '{name}' is not generalized."));
                }
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
                let (Some(prefix), Some(container)) = (
                    body["vhdPrefix"].as_str(),
                    body["destinationContainerName"].as_str(),
                ) else {
                    return err(400, "InvalidParameter", "Required parameters 'vhdPrefix' and 'destinationContainerName' are missing.");
                };
                let uid = w.id();
                let uri = format!("https://forgefake.blob.core.windows.net/system/Microsoft.Compute/Images/{container}/{prefix}-osDisk.{uid}.vhd");
                let out = json!({"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json",
                    "contentVersion": "1.0.0.0", "parameters": {"vmName": {"type": "string"}},
                    "resources": [{"name": "[parameters('vmName')]", "type": "Microsoft.Compute/virtualMachines", "location": loc,
                        "properties": {"storageProfile": {"osDisk": {"osType": v["properties"]["storageProfile"]["osDisk"]["osType"], "name": format!("{prefix}-osDisk.{uid}.vhd"),
                            "createOption": "FromImage", "image": {"uri": uri}, "caching": "ReadWrite"}}}}]});
                if let Some(vm) = w.res.get_mut(key) {
                    vm["_fake"]["capture"] = out;
                }
                let fail = take_fault(w, t, "capture");
                self.start_op(
                    w,
                    &ns,
                    &loc,
                    &api,
                    Effect::Power(key.to_string(), "captured"),
                    fail,
                    None,
                )
            }
            ("Microsoft.Resources/deployments", "POST", "cancel") => {
                if !matches!(state(&v), "Accepted" | "Running") {
                    return err(
                        409,
                        "DeploymentCannotBeCancelled",
                        &format!(
                            "The deployment '{name}' cannot be canceled: it is {}.",
                            state(&v)
                        ),
                    );
                }
                let ids: Vec<String> = w
                    .ops
                    .iter()
                    .filter(|(_, o)| {
                        o.status == "InProgress"
                            && matches!(&o.effect, Effect::Deploy(k) if k == key)
                    })
                    .map(|(i, _)| i.clone())
                    .collect();
                for i in ids {
                    if let Some(o) = w.ops.get_mut(&i) {
                        o.status = "Canceled";
                        o.fail = Some(
                            json!({"code": "DeploymentCanceled", "message": "The deployment was canceled."}),
                        );
                        o.end = Some(now_rfc3339());
                    }
                }
                if let Some(d) = w.res.get_mut(key) {
                    set_state(d, "Canceled");
                }
                Resp::empty(204)
            }
            ("Microsoft.Resources/deployments", "GET", "operations") => {
                let ops = v["_fake"]["operations"].clone();
                Resp::json(
                    200,
                    json!({"value": if ops.is_array() { ops } else { json!([]) }}),
                )
            }
            _ => err(
                404,
                "NotFound",
                &format!(
                    "The operation '{action}' ({}) is not supported on '{t}'.",
                    req.method
                ),
            ),
        }
    }
}
