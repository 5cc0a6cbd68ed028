//! Deployments: a template evaluated at PUT, validated on request, and its resources created
//! when the deployment's operation ends.

use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::*;

impl Shared {
    pub(super) fn put_deployment(
        &self,
        w: &mut World,
        g: &Value,
        id: &str,
        name: &str,
        body: Value,
        api: &str,
    ) -> Resp {
        let key = id.to_ascii_lowercase();
        let resources = match self.evaluate(g, &body) {
            Ok(r) => r,
            Err(e) => return e,
        };
        let props = &body["properties"];
        let mut params = json!({});
        if let Some(ps) = props["parameters"].as_object() {
            for (k, v) in ps {
                let ty = props["template"]["parameters"][k]["type"]
                    .as_str()
                    .unwrap_or("String");
                params[k] = if ty.eq_ignore_ascii_case("securestring") {
                    json!({"type": "SecureString"})
                } else {
                    json!({"type": ty, "value": v["value"]})
                };
            }
        }
        let loc = g["location"].as_str().unwrap_or(LOCATIONS[0]).to_string();
        let d = json!({"id": id, "name": name, "type": "Microsoft.Resources/deployments", "tags": body["tags"].as_object().cloned().unwrap_or_default(),
            "properties": {"provisioningState": "Accepted", "timestamp": now_rfc3339(), "duration": "PT0S",
                "correlationId": w.id(), "mode": props["mode"].as_str().unwrap_or("Incremental"), "parameters": params,
                "outputs": {}, "outputResources": [], "dependencies": [], "templateHash": format!("{}", resources.len())},
            "_fake": {"resources": resources}});
        let fail = take_fault(w, "Microsoft.Resources/deployments", "put");
        w.res.insert(key.clone(), d.clone());
        self.start_op(
            w,
            "Microsoft.Resources",
            &loc,
            api,
            Effect::Deploy(key),
            fail,
            Some((201, public(&d))),
        )
    }

    /// A deployment body's template, evaluated: its resources (ids, bodies) in creation order,
    /// or `InvalidTemplate`.
    fn evaluate(&self, g: &Value, body: &Value) -> Result<Vec<Value>, Resp> {
        let invalid = |msg: String| {
            err(
                400,
                "InvalidTemplate",
                &format!("Deployment template validation failed: '{msg}'."),
            )
        };
        let props = &body["properties"];
        if props["templateLink"].is_object() {
            return Err(invalid(
                "templateLink is not modelled by the fake: send the template inline".into(),
            ));
        }
        let tpl = &props["template"];
        if !tpl.is_object() {
            return Err(err(
                400,
                "InvalidDeployment",
                "The 'properties.template' of the deployment is missing.",
            ));
        }
        let mode = props["mode"].as_str().unwrap_or("");
        if !mode.eq_ignore_ascii_case("Incremental") && !mode.eq_ignore_ascii_case("Complete") {
            return Err(err(
                400,
                "InvalidDeploymentMode",
                "The deployment mode must be 'Incremental' or 'Complete'.",
            ));
        }
        let given = props["parameters"].as_object().cloned().unwrap_or_default();
        let declared = tpl["parameters"].as_object().cloned().unwrap_or_default();
        for k in given.keys() {
            if !declared.contains_key(k) {
                return Err(invalid(format!("The template parameters '{k}' in the parameters file are not valid; they are not present in the original template")));
            }
        }
        let group = g["name"].as_str().unwrap_or_default();
        let group_location = g["location"].as_str().unwrap_or_default();
        let empty = Map::new();
        let variables = tpl["variables"].as_object().unwrap_or(&empty);
        let mut scope = template::Scope {
            subscription: SUBSCRIPTION,
            tenant: TENANT,
            group,
            group_location,
            parameters: Map::new(),
            variables,
        };
        for (k, decl) in &declared {
            let v = match given.get(k) {
                Some(p) if p.get("reference").is_some() => return Err(invalid(format!("The parameter '{k}' is a Key Vault reference, which the fake does not model"))),
                Some(p) => p["value"].clone(),
                None => match decl.get("defaultValue") {
                    Some(d) => template::eval_value(d, &scope).map_err(&invalid)?,
                    None => return Err(invalid(format!("The value for the template parameter '{k}' at line '1' and column '1' is not provided"))),
                },
            };
            scope.parameters.insert(k.clone(), v);
        }
        let mut out = Vec::new();
        for (i, r) in tpl["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if r.get("copy").is_some() {
                return Err(invalid(format!(
                    "The template resource at index {i} uses 'copy', which the fake does not model"
                )));
            }
            let r = template::eval_value(r, &scope).map_err(|e| {
                invalid(format!(
                    "The template resource at index {i} is not valid: {e}"
                ))
            })?;
            if r.get("condition").is_some_and(|c| c == &json!(false)) {
                continue;
            }
            let ty = r["type"].as_str().unwrap_or_default();
            let Some(t) = known_type(ty) else {
                return Err(invalid(format!(
                    "The resource type '{ty}' at index {i} is not modelled by the fake"
                )));
            };
            if let Some(r) = check_api_version(
                &Req {
                    method: "PUT".into(),
                    path: String::new(),
                    query: [(
                        "api-version".to_string(),
                        r["apiVersion"].as_str().unwrap_or_default().to_string(),
                    )]
                    .into(),
                    headers: HashMap::new(),
                    body: Vec::new(),
                },
                t,
            ) {
                return Err(r);
            }
            let names: Vec<&str> = r["name"].as_str().unwrap_or_default().split('/').collect();
            let types: Vec<&str> = t.split('/').skip(1).collect();
            if names.len() != types.len() || names.iter().any(|n| n.is_empty()) {
                return Err(invalid(format!("The template resource '{}' at index {i} has an incorrect segment length: a nested resource type must have a name segment per type segment", r["name"])));
            }
            let path: Vec<String> = types
                .iter()
                .zip(&names)
                .map(|(t, n)| format!("{t}/{n}"))
                .collect();
            let rid = format!(
                "{}/providers/{}/{}",
                g["id"].as_str().unwrap_or_default(),
                t.split('/').next().unwrap_or_default(),
                path.join("/")
            );
            let mut body = json!({});
            for k in [
                "location",
                "tags",
                "properties",
                "sku",
                "plan",
                "zones",
                "identity",
                "kind",
            ] {
                if let Some(v) = r.get(k) {
                    body[k] = v.clone();
                }
            }
            if body.get("location").is_none() && t.matches('/').count() == 1 {
                body["location"] = json!(group_location);
            }
            out.push(json!({"id": rid, "type": t, "body": body}));
        }
        out.sort_by_key(|r| rank(r["type"].as_str().unwrap_or_default()));
        Ok(out)
    }

    /// `deployments/{name}/validate`: the template evaluates, and its resources' locations
    /// and VM sizes are available (references between them are checked when it runs).
    pub(super) fn validate(&self, w: &mut World, g: &Value, id: &str, req: &Req) -> Resp {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let resources = match self.evaluate(g, &body) {
            Ok(r) => r,
            Err(e) => return e,
        };
        for r in &resources {
            let b = &r["body"];
            let loc = b["location"]
                .as_str()
                .unwrap_or(LOCATIONS[0])
                .to_ascii_lowercase();
            let mut e = None;
            if !LOCATIONS.contains(&loc.as_str()) {
                e = Some(
                    json!({"code": "LocationNotAvailableForResourceType", "message": format!("The provided location '{loc}' is not available.")}),
                );
            }
            if r["type"] == "Microsoft.Compute/virtualMachines" {
                let size = b["properties"]["hardwareProfile"]["vmSize"]
                    .as_str()
                    .unwrap_or_default();
                if !VM_SIZES.iter().any(|s| s.eq_ignore_ascii_case(size))
                    || w.no_sku
                        .iter()
                        .any(|(l, s)| *l == loc && s.eq_ignore_ascii_case(size))
                {
                    e = Some(
                        json!({"code": "SkuNotAvailable", "message": format!("The requested VM size '{size}' is currently not available in location '{loc}'.")}),
                    );
                }
            }
            if let Some(mut e) = e {
                e["target"] = r["id"].clone();
                return Resp::json(
                    400,
                    json!({"error": {"code": "InvalidTemplateDeployment", "message": format!("The template deployment '{}' is not valid according to the validation procedure.", id.rsplit('/').next().unwrap_or_default()), "details": [e]}}),
                );
            }
        }
        let name = id.rsplit('/').next().unwrap_or_default();
        Resp::json(
            200,
            json!({"id": id, "name": name, "type": "Microsoft.Resources/deployments",
            "properties": {"provisioningState": "Succeeded", "timestamp": now_rfc3339(), "mode": body["properties"]["mode"],
                "validatedResources": resources.iter().map(|r| json!({"id": r["id"]})).collect::<Vec<_>>()}}),
        )
    }

    /// Creates a deployment's resources; the first failure fails it with nested details.
    pub(super) fn deploy(&self, w: &mut World, key: &str) -> Result<(), Value> {
        let Some(d) = w.res.get(key).cloned() else {
            return Ok(());
        };
        let mut ops = Vec::new();
        let mut outputs = Vec::new();
        let mut failure = None;
        for r in d["_fake"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let (rid, t) = (
                r["id"].as_str().unwrap_or_default(),
                r["type"].as_str().unwrap_or_default(),
            );
            let t = known_type(t).unwrap_or("");
            let res = self
                .prepare(w, t, rid, r["body"].clone())
                .map_err(|e| e.body.map(|b| b["error"].clone()).unwrap_or(Value::Null))
                .and_then(
                    |v| match take_fault(w, t, "put").or_else(|| alloc_failure(w, t, &v)) {
                        Some(f) => Err(f),
                        None => Ok(v),
                    },
                );
            let name = rid.rsplit('/').next().unwrap_or_default();
            match res {
                Ok(v) => {
                    let k = rid.to_ascii_lowercase();
                    w.res.insert(k.clone(), v);
                    self.ready(w, &k);
                    outputs.push(json!({"id": rid}));
                    ops.push(json!({"operationId": w.id(), "properties": {"provisioningOperation": "Create", "provisioningState": "Succeeded",
                        "statusCode": "OK", "targetResource": {"id": rid, "resourceType": t, "resourceName": name}}}));
                }
                Err(e) => {
                    ops.push(json!({"operationId": w.id(), "properties": {"provisioningOperation": "Create", "provisioningState": "Failed",
                        "statusCode": "Conflict", "statusMessage": {"status": "Failed", "error": e}, "targetResource": {"id": rid, "resourceType": t, "resourceName": name}}}));
                    let mut detail = e.clone();
                    detail["target"] = json!(rid);
                    failure = Some(json!({"code": "DeploymentFailed", "target": d["id"],
                        "message": "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.",
                        "details": [{"code": "ResourceDeploymentFailure", "target": rid,
                            "message": format!("The resource write operation failed to complete successfully, because it reached terminal provisioning state 'Failed'."),
                            "details": [detail]}]}));
                    break;
                }
            }
        }
        if let Some(dd) = w.res.get_mut(key) {
            dd["properties"]["outputResources"] = json!(outputs);
            dd["_fake"]["operations"] = json!(ops);
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}
