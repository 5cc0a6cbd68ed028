//! The fake's Azure AD (Microsoft identity platform v2.0) endpoints: OpenID discovery, instance
//! discovery and the client-credentials token grant with a client secret or a certificate's
//! signed client assertion (RS256 or PS256, `x5t` or `x5t#S256` naming the registered
//! certificate).

use serde_json::{json, Value};

use super::{
    now_secs, query, unb64url, Req, Resp, Shared, Token, CLIENT_ID, CLIENT_SECRET,
    FEDERATED_SUBJECT, TENANT,
};

/// The audiences the fake issues tokens for (a scope is one of these plus `.default`).
fn audience(shared: &Shared, scope: &str) -> Option<String> {
    let res = scope
        .strip_suffix(".default")?
        .trim_end_matches('/')
        .to_string()
        + "/";
    let own = format!("{}/", shared.endpoint());
    [
        "https://management.azure.com/",
        "https://management.core.windows.net/",
        "https://vault.azure.net/",
        own.as_str(),
    ]
    .iter()
    .find(|a| a.eq_ignore_ascii_case(&res))
    .map(|a| a.to_string())
}

fn aad_err(code: u16, error: &str, aadsts: &str, msg: &str) -> Resp {
    Resp::json(
        code,
        json!({"error": error, "error_description": format!("{aadsts}: {msg}"),
            "error_codes": [aadsts.trim_start_matches("AADSTS").parse::<u64>().unwrap_or(0)],
            "timestamp": super::now_rfc3339(), "trace_id": "00000000-0000-0000-0000-000000000000"}),
    )
}

impl Shared {
    /// `/{tenant}/v2.0/.well-known/openid-configuration`, `/common/discovery/instance` and
    /// `/{tenant}/oauth2/v2.0/token`; `None` for other paths.
    pub(super) fn aad(&self, req: &Req) -> Option<Resp> {
        let base = self.endpoint();
        let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            ["common", "discovery", "instance"] => {
                let host = format!("127.0.0.1:{}", self.port);
                Some(Resp::json(
                    200,
                    json!({"tenant_discovery_endpoint": format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration"),
                        "api-version": "1.1",
                        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]}),
                ))
            }
            [tenant, "v2.0", ".well-known", "openid-configuration"] => {
                if !self.tenant_ok(tenant) {
                    return Some(aad_err(
                        400,
                        "invalid_tenant",
                        "AADSTS90002",
                        &format!("Tenant '{tenant}' not found."),
                    ));
                }
                Some(Resp::json(
                    200,
                    json!({
                        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
                        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
                        "response_modes_supported": ["query", "fragment", "form_post"],
                        "subject_types_supported": ["pairwise"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                        "scopes_supported": ["openid", "profile", "email", "offline_access"],
                        "issuer": format!("{base}/{tenant}/v2.0"),
                        "request_uri_parameter_supported": false,
                        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
                        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
                        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
                        "tenant_region_scope": null,
                        "cloud_instance_name": "127.0.0.1",
                        "cloud_graph_host_name": "127.0.0.1",
                        "msgraph_host": "127.0.0.1",
                    }),
                ))
            }
            [tenant, "oauth2", "v2.0", "token"] if req.method == "POST" => {
                Some(self.token(tenant, req))
            }
            ["metadata", "endpoints"] => Some(self.cloud_endpoints(req)),
            ["metadata", "identity", "oauth2", "token"] => Some(self.imds_token(req)),
            _ => None,
        }
    }

    /// ARM's `/metadata/endpoints` (what a `metadata_host` is asked): this fake as a cloud.
    /// api-version 2022-09-01 answers a list of clouds, older ones one cloud.
    fn cloud_endpoints(&self, req: &Req) -> Resp {
        let base = self.endpoint();
        let cloud = json!({
            "name": "ForgeFakeCloud",
            "portal": base,
            "resourceManager": format!("{base}/"),
            "authentication": {"loginEndpoint": format!("{base}/"), "audiences": [format!("{base}/"), "https://management.azure.com/"],
                "tenant": "common", "identityProvider": "AAD"},
            "graph": format!("{base}/"), "graphAudience": format!("{base}/"), "microsoftGraphResourceId": format!("{base}/"),
            "media": format!("{base}/"), "batch": format!("{base}/"), "sqlManagement": format!("{base}/"),
            "activeDirectoryDataLake": format!("{base}/"),
            "suffixes": {"keyVaultDns": "vault.azure.net", "storage": "core.windows.net", "acrLoginServer": "azurecr.io",
                "sqlServerHostname": "database.windows.net"},
        });
        if req.query.get("api-version").map(String::as_str) == Some("2022-09-01") {
            Resp::json(200, json!([cloud]))
        } else {
            Resp::json(200, cloud)
        }
    }

    /// A managed identity's token, as IMDS gives it: `resource` is the audience; the
    /// `Metadata: true` header is required.
    fn imds_token(&self, req: &Req) -> Resp {
        if req.headers.get("metadata").map(String::as_str) != Some("true") {
            return Resp::json(
                400,
                json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
            );
        }
        let resource = req.query.get("resource").cloned().unwrap_or_default();
        let Some(aud) = audience(self, &format!("{resource}/.default")) else {
            return Resp::json(
                400,
                json!({"error": "invalid_resource", "error_description": format!("AADSTS500011: The resource principal named {resource} was not found in the tenant.")}),
            );
        };
        let access = self.issue(aud);
        let now = now_secs();
        Resp::json(
            200,
            json!({"access_token": access, "client_id": CLIENT_ID, "expires_in": "86399",
            "expires_on": (now + 86399).to_string(), "ext_expires_in": "86399", "not_before": now.to_string(),
            "resource": resource, "token_type": "Bearer"}),
        )
    }

    /// Issues an access token for `aud`.
    fn issue(&self, aud: String) -> String {
        let mut w = self.world();
        w.next += 1;
        let access = format!("fake-arm-token-{}-{}", w.next, now_secs());
        w.tokens.insert(
            access.clone(),
            Token {
                aud,
                expired: false,
            },
        );
        access
    }

    fn tenant_ok(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(TENANT)
    }

    fn token(&self, tenant: &str, req: &Req) -> Resp {
        if !self.tenant_ok(tenant) {
            return aad_err(
                400,
                "invalid_tenant",
                "AADSTS90002",
                &format!("Tenant '{tenant}' not found."),
            );
        }
        let form = query(&String::from_utf8_lossy(&req.body));
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        if get("grant_type") != "client_credentials" {
            return aad_err(400, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type (only client_credentials is modelled).");
        }
        let client = get("client_id");
        if client != CLIENT_ID {
            return aad_err(400, "unauthorized_client", "AADSTS700016", &format!("Application with identifier '{client}' was not found in the directory '{tenant}'."));
        }
        if !form.contains_key("client_secret") && !form.contains_key("client_assertion") {
            return aad_err(401, "invalid_client", "AADSTS7000216", "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
        }
        if form.contains_key("client_secret") && get("client_secret") != CLIENT_SECRET {
            return aad_err(
                401,
                "invalid_client",
                "AADSTS7000215",
                "Invalid client secret provided.",
            );
        }
        if form.contains_key("client_assertion") {
            let token_url = format!("{}/{tenant}/oauth2/v2.0/token", self.endpoint());
            if get("client_assertion_type")
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            {
                return aad_err(
                    400,
                    "invalid_request",
                    "AADSTS50027",
                    "client_assertion_type must be jwt-bearer.",
                );
            }
            if let Err(why) = self.check_assertion(get("client_assertion"), &token_url) {
                return aad_err(
                    401,
                    "invalid_client",
                    "AADSTS700027",
                    &format!("Client assertion failed signature validation or its claims: {why}."),
                );
            }
        }
        let scope = get("scope");
        let Some(aud) = audience(self, scope) else {
            return aad_err(
                400,
                "invalid_resource",
                "AADSTS500011",
                &format!("The resource principal named '{scope}' was not found in the tenant."),
            );
        };
        let access = self.issue(aud);
        Resp::json(
            200,
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access}),
        )
    }

    /// A client assertion: signed by the registered certificate's key, naming it, for this
    /// client and this token endpoint, not expired.
    fn check_assertion(&self, jwt: &str, token_url: &str) -> Result<(), String> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let [h, c, s] = parts.as_slice() else {
            return Err("not a JWS".into());
        };
        let header: Value = unb64url(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("a bad header")?;
        let claims: Value = unb64url(c)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("bad claims")?;
        let sig = unb64url(s).ok_or("a bad signature encoding")?;
        let now = now_secs() as f64;
        // NumericDate may have a fraction (MSAL's has).
        let live = |claims: &Value| {
            claims["exp"].as_f64().unwrap_or(0.0) > now
                && claims["nbf"].as_f64().unwrap_or(0.0) <= now + 300.0
        };
        if claims["iss"] == self.oidc_issuer().as_str() {
            // A federated credential: the fake's OIDC issuer vouches for the workload.
            let key = ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &self.oidc_key,
            );
            key.verify(format!("{h}.{c}").as_bytes(), &sig)
                .map_err(|_| "the federated token's signature does not verify")?;
            if claims["aud"] != "api://AzureADTokenExchange" || claims["sub"] != FEDERATED_SUBJECT {
                return Err(format!(
                    "no federated credential matches aud {} and sub {}",
                    claims["aud"], claims["sub"]
                ));
            }
            return if live(&claims) {
                Ok(())
            } else {
                Err("the federated token expired".into())
            };
        }
        let names_cert = header["x5t"]
            .as_str()
            .and_then(unb64url)
            .is_some_and(|t| t == self.cert_sha1)
            || header["x5t#S256"]
                .as_str()
                .and_then(unb64url)
                .is_some_and(|t| t == self.cert_sha256);
        if !names_cert {
            return Err("x5t does not name the registered certificate".into());
        }
        let alg: &dyn ring::signature::VerificationAlgorithm = match header["alg"].as_str() {
            Some("RS256") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => &ring::signature::RSA_PSS_2048_8192_SHA256,
            other => return Err(format!("alg {other:?} is not RS256 or PS256")),
        };
        let key = ring::signature::UnparsedPublicKey::new(alg, &self.cert_key);
        key.verify(format!("{h}.{c}").as_bytes(), &sig)
            .map_err(|_| "the signature does not verify")?;
        if claims["iss"] != CLIENT_ID || claims["sub"] != CLIENT_ID {
            return Err("iss and sub must be the client id".into());
        }
        if claims["aud"] != token_url {
            return Err(format!("aud must be {token_url}"));
        }
        if !live(&claims) {
            return Err("expired or not yet valid".into());
        }
        Ok(())
    }
}
