//! A vault's data plane (secrets), served on the vault's own port.

use serde_json::{json, Value};

use super::*;

impl Shared {
    /// The vault data plane: `/secrets/{name}[/{version}]` on the vault's own port, seen here as
    /// `/_vault/{vault}/secrets/...`.
    pub(super) fn vault(&self, req: &Req) -> Resp {
        let segs: Vec<String> = req
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if segs.len() < 2 {
            return err(404, "NotFound", "No vault is named.");
        }
        let challenge = format!(
            "Bearer authorization=\"{}/{TENANT}\", resource=\"https://vault.azure.net\"",
            self.endpoint()
        );
        if let Some(r) = self.auth(req, &["https://vault.azure.net/"]) {
            return r.header("WWW-Authenticate", challenge);
        }
        let v = req
            .query
            .get("api-version")
            .map(String::as_str)
            .unwrap_or("");
        if !VAULT_API_VERSIONS.contains(&v) {
            return Resp::json(
                400,
                json!({"error": {"code": "BadParameter", "message": format!("The specified version ({v}) is not recognized. Consider using the latest supported version ({}).", VAULT_API_VERSIONS[8])}}),
            );
        }
        let mut w = self.world();
        let vault_exists = w.res.values().any(|r| {
            r["type"] == "Microsoft.KeyVault/vaults"
                && r["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&segs[1]))
                && state(r) == "Succeeded"
        });
        if !vault_exists {
            return Resp::json(
                404,
                json!({"error": {"code": "VaultNotFound", "message": format!("The vault '{}' does not exist on this fake.", segs[1])}}),
            );
        }
        let missing = |n: &str| {
            Resp::json(
                404,
                json!({"error": {"code": "SecretNotFound", "message": format!("A secret with (name/id) {n} was not found in this key vault.")}}),
            )
        };
        match (
            req.method.as_str(),
            segs.get(2).map(String::as_str),
            segs.len(),
        ) {
            ("PUT", Some("secrets"), 4) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let Some(value) = body["value"].as_str() else {
                    return Resp::json(
                        400,
                        json!({"error": {"code": "BadParameter", "message": "Property value is required."}}),
                    );
                };
                let s = self.store_secret(&mut w, &segs[1], &segs[3], json!(value));
                Resp::json(200, s)
            }
            ("GET", Some("secrets"), 4 | 5) => {
                let key = format!("{}/{}", segs[1], segs[3]);
                let found = w.secrets.get(&key).and_then(|vs| match segs.get(4) {
                    Some(ver) => vs
                        .iter()
                        .find(|s| {
                            s["id"]
                                .as_str()
                                .is_some_and(|i| i.ends_with(&format!("/{ver}")))
                        })
                        .cloned(),
                    None => vs.last().cloned(),
                });
                found
                    .map(|s| Resp::json(200, s))
                    .unwrap_or_else(|| missing(&segs[3]))
            }
            ("DELETE", Some("secrets"), 4) => {
                match w.secrets.remove(&format!("{}/{}", segs[1], segs[3])) {
                    Some(vs) => {
                        let mut s = vs.last().cloned().unwrap_or(Value::Null);
                        if let Some(o) = s.as_object_mut() {
                            o.remove("value");
                        }
                        Resp::json(200, s)
                    }
                    None => missing(&segs[3]),
                }
            }
            _ => Resp::json(
                400,
                json!({"error": {"code": "BadParameter", "message": format!("{} {} is not modelled by the fake's vault.", req.method, req.path)}}),
            ),
        }
    }
}
