//! The content library over vCenter's vAPI REST endpoint (`/rest`), which vim25 has no call
//! for: a session (`/rest/com/vmware/cis/session`, basic auth, then the
//! `vmware-api-session-id` header), finding a library and an item by name, and making an item
//! from a VM, either a VM template (`/rest/vcenter/vm-template/library-items`) or an OVF
//! template (`/rest/com/vmware/vcenter/ovf/library-item`).

use forge_core::{Error, Result};
use serde_json::{json, Value};

use crate::client::{chain, Client};
use crate::soap::Moref;

const SESSION_HEADER: &str = "vmware-api-session-id";

/// A content library item forge made, in the run's journal (id: the item's id; data: server,
/// user, library and item names).
pub const ITEM: &str = "vsphere-library-item";

/// How long `forge cleanup` waits for a copy into a library that a dead run left in flight.
const IN_FLIGHT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Records that item `name` is about to be made in `library` from VM `vm` (journal before
/// create).
pub fn intend_item(
    ctx: &forge_core::plugin::BuildCtx,
    c: &crate::client::Config,
    library: &str,
    name: &str,
    vm: &str,
) -> Result<forge_core::journal::Resource> {
    let data = json!({
        "server": c.server,
        "username": c.username,
        "insecure": c.insecure,
        "library": library,
        "name": name,
        "vm": vm,
        "run": ctx.run_id,
    });
    ctx.journal.intend(&ctx.name, ITEM, "", data)
}

/// Deletes the item `r` records (found by name when its id never came back).
pub async fn reclaim_item(
    r: &forge_core::journal::Resource,
    password: &str,
) -> std::result::Result<(), String> {
    let d = &r.data;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    let cfg = crate::client::Config::new(
        &s("server"),
        &s("username"),
        password,
        d["insecure"].as_bool().unwrap_or(false),
    );
    let client = Client::connect(&cfg).await.map_err(|e| e.to_string())?;
    let result = async {
        let rest = Rest::login(&client, &cfg.username, password).await?;
        let r = async {
            let id = if r.id.is_empty() {
                let lib = rest.find_library(&s("library")).await?;
                match rest.find_item(&lib, &s("name")).await? {
                    Some(id) => Some(id),
                    None => {
                        // The run may have died with its request in flight: vCenter goes on
                        // copying the VM into the library. Wait for that copy (a task on the
                        // VM), then look again, so the item it makes is not left behind.
                        let vm = Moref::new("VirtualMachine", s("vm"));
                        let tasks = if vm.value.is_empty() {
                            Vec::new()
                        } else {
                            client.running_tasks_on(&vm).await?
                        };
                        for t in &tasks {
                            let _ = client.wait_for_task(t, IN_FLIGHT).await;
                        }
                        if tasks.is_empty() {
                            None
                        } else {
                            rest.find_item(&lib, &s("name")).await?
                        }
                    }
                }
            } else {
                Some(r.id.clone())
            };
            match id {
                Some(id) => rest.delete_item(&id).await,
                None => Ok(()),
            }
        }
        .await;
        let _ = rest.logout().await;
        r
    }
    .await
    .map_err(|e| format!("content library item {:?}: {e}", s("name")));
    let _ = client.logout().await;
    result
}

/// A vAPI session beside a vim25 one (same server, same TLS settings).
pub struct Rest<'a> {
    client: &'a Client,
    base: String,
    session: String,
}

/// Where a VM template goes (managed object ids; empty: vCenter's choice).
#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// `folder` (`group-v3`).
    pub folder: String,
    /// `resource_pool`.
    pub resource_pool: String,
    /// `host`.
    pub host: String,
    /// `cluster`.
    pub cluster: String,
}

/// `https://host:port` of an SDK URL.
pub fn base_url(sdk_url: &str) -> String {
    match sdk_url.split_once("://") {
        Some((scheme, rest)) => {
            format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
        }
        None => sdk_url.to_string(),
    }
}

/// The text of a vAPI error body: `{"type": "...", "value": {"messages": [{"default_message":
/// "..."}]}}`, or its type alone.
pub fn vapi_error(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body
            .chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string();
    };
    let kind = v["type"].as_str().unwrap_or_default();
    let kind = kind.rsplit('.').next().unwrap_or(kind);
    let messages: Vec<&str> = v["value"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["default_message"].as_str().or_else(|| m.as_str()))
                .collect()
        })
        .unwrap_or_default();
    match (kind.is_empty(), messages.is_empty()) {
        (true, false) => messages.join("; "),
        (false, false) => format!("{kind}: {}", messages.join("; ")),
        (false, true) => kind.to_string(),
        (true, true) => body
            .chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

impl<'a> Rest<'a> {
    /// Logs in to the vAPI endpoint of `client`'s server.
    pub async fn login(client: &'a Client, username: &str, password: &str) -> Result<Rest<'a>> {
        let base = format!("{}/rest", base_url(client.url()));
        let mut r = Rest {
            client,
            base,
            session: String::new(),
        };
        let url = format!("{}/com/vmware/cis/session", r.base);
        client.count_round_trip();
        let resp = client
            .http()
            .post(&url)
            .basic_auth(username, Some(password))
            .send()
            .await
            .map_err(|e| Error::msg(format!("vAPI login at {url}: {}", chain(&e))))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Error::msg(format!(
                "vAPI login at {url} as {username:?}: HTTP {status} {}",
                vapi_error(&body).replace(password, "<sensitive>")
            )));
        }
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| Error::msg(format!("vAPI login at {url}: {e}")))?;
        r.session = v["value"].as_str().unwrap_or_default().to_string();
        if r.session.is_empty() {
            return Err(Error::msg(format!("vAPI login at {url}: no session id")));
        }
        Ok(r)
    }

    /// Ends the session.
    pub async fn logout(&self) -> Result<()> {
        self.send(reqwest::Method::DELETE, "/com/vmware/cis/session", None)
            .await
            .map(|_| ())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .client
            .http()
            .request(method.clone(), &url)
            .header(SESSION_HEADER, &self.session);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        self.client.count_round_trip();
        let resp = req
            .send()
            .await
            .map_err(|e| Error::msg(format!("{method} {url}: {}", chain(&e))))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Error::msg(format!(
                "{method} {url}: HTTP {status} {}",
                vapi_error(&text)
            )));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|e| Error::msg(format!("{method} {url}: {e}")))?;
        Ok(v["value"].clone())
    }

    /// The id of the library named `name`.
    pub async fn find_library(&self, name: &str) -> Result<String> {
        let ids = self
            .send(
                reqwest::Method::POST,
                "/com/vmware/content/library?~action=find",
                Some(&json!({"spec": {"name": name}})),
            )
            .await?;
        let ids: Vec<&str> = ids
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match ids.as_slice() {
            [id] => Ok((*id).to_string()),
            [] => Err(Error::msg(format!("content library {name:?} not found"))),
            _ => Err(Error::msg(format!(
                "{} content libraries are named {name:?}",
                ids.len()
            ))),
        }
    }

    /// The id of the item named `name` in library `library`, if there is one.
    pub async fn find_item(&self, library: &str, name: &str) -> Result<Option<String>> {
        let ids = self
            .send(
                reqwest::Method::POST,
                "/com/vmware/content/library/item?~action=find",
                Some(&json!({"spec": {"library_id": library, "name": name}})),
            )
            .await?;
        Ok(ids
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// Makes a VM template item from `vm` (`vm-42`); the item's id.
    pub async fn create_vm_template(&self, spec: &Value) -> Result<String> {
        let id = self
            .send(
                reqwest::Method::POST,
                "/vcenter/vm-template/library-items",
                Some(&json!({ "spec": spec })),
            )
            .await?;
        id.as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::msg("the VM template item came back without an id"))
    }

    /// Makes (or, with `item`, updates) an OVF template item from `vm`; the item's id.
    pub async fn create_ovf(
        &self,
        vm: &str,
        library: &str,
        item: Option<&str>,
        name: &str,
        description: &str,
    ) -> Result<String> {
        let mut target = json!({ "library_id": library });
        if let Some(i) = item {
            target["library_item_id"] = json!(i);
        }
        let mut spec = json!({ "name": name });
        if !description.is_empty() {
            spec["description"] = json!(description);
        }
        let body = json!({
            "create_spec": spec,
            "source": {"type": "VirtualMachine", "id": vm},
            "target": target,
        });
        let r = self
            .send(
                reqwest::Method::POST,
                "/com/vmware/vcenter/ovf/library-item",
                Some(&body),
            )
            .await?;
        // vcsim 0.24 answers an update with an empty body.
        if r.is_null() {
            if let Some(i) = item {
                return Ok(i.to_string());
            }
        }
        if r["succeeded"].as_bool() != Some(true) {
            return Err(Error::msg(format!(
                "the OVF template was not made: {}",
                r["error"]
            )));
        }
        r["ovf_library_item_id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| item.map(str::to_string))
            .ok_or_else(|| Error::msg("the OVF template item came back without an id"))
    }

    /// Deletes the item `id` (a VM template item takes its template VM along).
    pub async fn delete_item(&self, id: &str) -> Result<()> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/com/vmware/content/library/item/id:{id}"),
            None,
        )
        .await
        .map(|_| ())
    }
}

/// The `spec` of a VM template item.
pub fn vm_template_spec(
    vm: &str,
    library: &str,
    name: &str,
    description: &str,
    placement: &Placement,
    datastore: Option<&str>,
) -> Value {
    let mut p = serde_json::Map::new();
    for (k, v) in [
        ("folder", &placement.folder),
        ("resource_pool", &placement.resource_pool),
        ("host", &placement.host),
        ("cluster", &placement.cluster),
    ] {
        if !v.is_empty() {
            p.insert(k.into(), json!(v));
        }
    }
    let mut spec = json!({
        "source_vm": vm,
        "library": library,
        "name": name,
        "placement": p,
    });
    if !description.is_empty() {
        spec["description"] = json!(description);
    }
    if let Some(d) = datastore {
        spec["vm_home_storage"] = json!({ "datastore": d });
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_of_the_sdk_url() {
        assert_eq!(
            base_url("https://127.0.0.1:8989/sdk"),
            "https://127.0.0.1:8989"
        );
        assert_eq!(base_url("https://vc/sdk"), "https://vc");
    }

    #[test]
    fn vapi_errors_read() {
        assert_eq!(
            vapi_error(
                r#"{"type":"com.vmware.vapi.std.errors.not_found","value":{"messages":[{"default_message":"Library lib was not found","id":"x"}]}}"#
            ),
            "not_found: Library lib was not found"
        );
        assert_eq!(
            vapi_error(r#"{"type":"com.vmware.vapi.std.errors.invalid_argument"}"#),
            "invalid_argument"
        );
        assert_eq!(vapi_error("404 page not found\n"), "404 page not found");
    }

    #[test]
    fn template_spec_leaves_out_what_is_unset() {
        let s = vm_template_spec(
            "vm-42",
            "lib-1",
            "golden-t",
            "",
            &Placement {
                folder: "group-v3".into(),
                ..Default::default()
            },
            Some("datastore-1"),
        );
        assert_eq!(
            s,
            json!({
                "source_vm": "vm-42",
                "library": "lib-1",
                "name": "golden-t",
                "placement": {"folder": "group-v3"},
                "vm_home_storage": {"datastore": "datastore-1"},
            })
        );
    }
}
