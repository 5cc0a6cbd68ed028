//! The fake ARM over its own HTTPS, with a small rustls client that trusts only the fake's CA.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};

use super::*;

struct Client {
    cfg: Arc<rustls::ClientConfig>,
    port: u16,
    token: Option<String>,
    extra: Vec<(String, String)>,
}

struct Answer {
    code: u16,
    headers: HashMap<String, String>,
    body: Value,
}

impl Answer {
    fn header(&self, k: &str) -> &str {
        self.headers
            .get(&k.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or("")
    }
    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

const RG: &str = "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6/resourceGroups/forge-rg";

impl Client {
    fn new(arm: &FakeArm) -> Client {
        let pem = std::fs::read_to_string(arm.ca_file()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(pem_der(
                &pem,
                "CERTIFICATE",
            )))
            .unwrap();
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Client {
            cfg: Arc::new(cfg),
            port: arm.shared.port,
            token: None,
            extra: Vec::new(),
        }
    }

    fn call(&self, method: &str, target: &str, body: Option<&str>, content_type: &str) -> Answer {
        // A full URL may name another port (a vault's).
        let (port, target) = match target.strip_prefix("https://127.0.0.1:") {
            Some(rest) => {
                let (p, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                (p.parse().unwrap(), path)
            }
            None => (self.port, target),
        };
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(self.cfg.clone(), name).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let body = body.unwrap_or("");
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in &self.extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        s.flush().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let code: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let n: usize = headers.get("content-length").unwrap().parse().unwrap();
        let mut buf = vec![0; n];
        r.read_exact(&mut buf).unwrap();
        let body = if buf.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&buf).unwrap()
        };
        Answer {
            code,
            headers,
            body,
        }
    }

    fn clone_with_header(&self, k: &str, v: &str) -> Client {
        let mut extra = self.extra.clone();
        extra.push((k.into(), v.into()));
        Client {
            cfg: self.cfg.clone(),
            port: self.port,
            token: self.token.clone(),
            extra,
        }
    }

    /// The subscription's locations: a call any ARM token may make.
    fn locations(&self) -> Answer {
        self.arm(
            "GET",
            "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6/locations",
            "2021-01-01",
            None,
        )
    }

    /// GET of `{RG}/providers/{path}`.
    fn get_in_rg(&self, path: &str, api: &str) -> Answer {
        self.arm("GET", &format!("{RG}/providers/{path}"), api, None)
    }

    fn arm(&self, method: &str, path: &str, api: &str, body: Option<Value>) -> Answer {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.call(
            method,
            &format!("{path}{sep}api-version={api}"),
            body.map(|b| b.to_string()).as_deref(),
            "application/json",
        )
    }

    fn login(&mut self, scope: &str) -> Answer {
        let form = format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&scope={}", scope.replace(':', "%3A").replace('/', "%2F"));
        let a = self.call(
            "POST",
            &format!("/{TENANT}/oauth2/v2.0/token"),
            Some(&form),
            "application/x-www-form-urlencoded",
        );
        if a.code == 200 {
            self.token = a.body["access_token"].as_str().map(str::to_string);
        }
        a
    }

    /// Polls an operation's status until it ends; the statuses seen.
    fn wait(&self, a: &Answer) -> Vec<String> {
        let url = a.header("Azure-AsyncOperation").to_string();
        assert!(
            !url.is_empty(),
            "no Azure-AsyncOperation in {:?}",
            a.headers
        );
        let mut seen = Vec::new();
        for _ in 0..10 {
            let s = self.call("GET", &url, None, "application/json");
            assert_eq!(s.code, 200, "{}", s.body);
            let st = s.body["status"].as_str().unwrap().to_string();
            seen.push(st.clone());
            if st != "InProgress" {
                return seen;
            }
        }
        panic!("never ended: {seen:?}");
    }
}

fn logged_in() -> (FakeArm, Client) {
    let arm = FakeArm::start();
    let mut c = Client::new(&arm);
    assert_eq!(c.login("https://management.azure.com/.default").code, 200);
    let g = c.arm(
        "PUT",
        RG,
        "2021-04-01",
        Some(json!({"location": "eastus", "tags": {"forge-run": "r1"}})),
    );
    assert_eq!(g.code, 201, "{}", g.body);
    (arm, c)
}

#[test]
fn operations_take_polls_and_land_their_effect_when_done() {
    let (arm, c) = logged_in();
    let disk = format!("{RG}/providers/Microsoft.Compute/disks/d1");
    let a = c.arm("PUT", &disk, "2024-03-02", Some(json!({"location": "eastus", "tags": {"forge-run": "r1"}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}})));
    assert_eq!(a.code, 202, "{}", a.body);
    assert_eq!(a.body["properties"]["provisioningState"], "Creating");
    assert_eq!(a.header("Retry-After"), "1");
    assert!(
        a.header("Location").contains("/operationResults/"),
        "{:?}",
        a.headers
    );
    assert_eq!(c.wait(&a), ["InProgress", "Succeeded"]);
    let g = c.arm("GET", &disk, "2026-03-02", None);
    assert_eq!(g.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(g.body["tags"]["forge-run"], "r1");
    // Listed by tag, subscription-wide.
    let l = c.arm("GET", "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6/resources?$filter=tagName%20eq%20'forge-run'%20and%20tagValue%20eq%20'r1'", "2021-04-01", None);
    assert_eq!(l.body["value"].as_array().unwrap().len(), 1, "{}", l.body);
    let l = c.arm("GET", "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6/resourcegroups?$filter=tagName%20eq%20'forge-run'%20and%20tagValue%20eq%20'r2'", "2025-04-01", None);
    assert_eq!(l.body["value"], json!([]));
    // Delete through the Location monitor: 202 until done, then 204; gone only then.
    let d = c.arm("DELETE", &disk, "2024-03-02", None);
    assert_eq!(d.code, 202);
    let loc = d.header("Location").to_string();
    assert_eq!(c.call("GET", &loc, None, "").code, 202);
    assert!(arm.get(&disk).is_some());
    let done = c.call("GET", &loc, None, "");
    assert_eq!(
        (done.code, &done.body["status"]),
        (200, &json!("Succeeded"))
    );
    assert!(arm.get(&disk).is_none());
    assert_eq!(c.arm("DELETE", &disk, "2024-03-02", None).code, 204);
    // The resource group goes with what it holds.
    let d = c.arm("DELETE", RG, "2021-04-01", None);
    assert_eq!(c.wait(&d).last().unwrap(), "Succeeded");
    assert_eq!(arm.leftovers(), Vec::<String>::new());
    assert_eq!(c.arm("HEAD", RG, "2021-04-01", None).code, 404);
}

#[test]
fn arm_errors_have_arms_shape() {
    let (arm, c) = logged_in();
    let a = c.call("GET", RG, None, "");
    assert_eq!(
        (a.code, a.error_code()),
        (400, "MissingApiVersionParameter")
    );
    let a = c.get_in_rg("Microsoft.Compute/virtualMachines/x", "2099-01-01");
    assert_eq!(
        (a.code, a.error_code()),
        (400, "NoRegisteredProviderFound"),
        "{}",
        a.body
    );
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2024-07-01"));
    let a = c.get_in_rg("Microsoft.Compute/virtualMachines/x", "latest");
    assert_eq!(a.error_code(), "InvalidApiVersionParameter");
    let a = c.get_in_rg("Microsoft.Compute/virtualMachines/x", "2024-07-01");
    assert_eq!((a.code, a.error_code()), (404, "ResourceNotFound"));
    let a = c.arm("PUT", "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6/resourceGroups/nope/providers/Microsoft.Compute/disks/d", "2024-03-02", Some(json!({"location": "eastus"})));
    assert_eq!((a.code, a.error_code()), (404, "ResourceGroupNotFound"));
    let a = c.arm(
        "PUT",
        &format!("{RG}/providers/Microsoft.Compute/disks/d"),
        "2024-03-02",
        Some(
            json!({"location": "mars", "properties": {"creationData": {"createOption": "Empty"}}}),
        ),
    );
    assert_eq!(a.error_code(), "LocationNotAvailableForResourceType");
    // An injected failure ends the operation Failed with nested details.
    arm.fail_operation(
        "Microsoft.Compute/disks",
        "PUT",
        "InternalDiskManagementError",
        "disk backend broke",
        1,
    );
    let a = c.arm("PUT", &format!("{RG}/providers/Microsoft.Compute/disks/d"), "2024-03-02", Some(json!({"location": "eastus", "properties": {"creationData": {"createOption": "Empty"}}})));
    assert_eq!(a.code, 202);
    assert_eq!(c.wait(&a).last().unwrap(), "Failed");
    let s = c.call("GET", a.header("Azure-AsyncOperation"), None, "");
    assert_eq!(s.body["error"]["code"], "InternalDiskManagementError");
    assert_eq!(
        s.body["error"]["details"][0]["code"],
        "InternalOperationError"
    );
    let g = c.get_in_rg("Microsoft.Compute/disks/d", "2024-03-02");
    assert_eq!(g.body["properties"]["provisioningState"], "Failed");
    let r = c.call("GET", a.header("Location"), None, "");
    assert_eq!(
        (r.code, r.error_code()),
        (409, "InternalDiskManagementError")
    );
}

#[test]
fn throttling_answers_429_with_retry_after_then_recovers() {
    let (arm, c) = logged_in();
    arm.throttle(2);
    for _ in 0..2 {
        let a = c.arm("GET", RG, "2021-04-01", None);
        assert_eq!(
            (a.code, a.error_code()),
            (429, "SubscriptionRequestsThrottled")
        );
        assert_eq!(a.header("Retry-After"), "1");
    }
    let a = c.arm("GET", RG, "2021-04-01", None);
    assert_eq!(a.code, 200);
    let reads: u64 = a
        .header("x-ms-ratelimit-remaining-subscription-reads")
        .parse()
        .unwrap();
    assert!(reads < 12000, "{reads}");
    assert!(!a.header("x-ms-request-id").is_empty());
}

#[test]
fn tokens_are_checked_and_expire_on_demand() {
    let arm = FakeArm::start();
    let mut c = Client::new(&arm);
    let a = c.arm("GET", RG, "2021-04-01", None);
    assert_eq!((a.code, a.error_code()), (401, "AuthenticationFailed"));
    let disc = c.call(
        "GET",
        &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        None,
        "",
    );
    assert_eq!(
        disc.body["token_endpoint"],
        format!("{}/{TENANT}/oauth2/v2.0/token", arm.endpoint())
    );
    // A wrong secret, a wrong client, an unknown audience.
    let bad = c.call("POST", &format!("/{TENANT}/oauth2/v2.0/token"), Some(&format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=nope&scope=https%3A%2F%2Fmanagement.azure.com%2F.default")), "application/x-www-form-urlencoded");
    assert_eq!(
        (bad.code, bad.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(
        c.login("https://graph.example/.default").body["error"],
        "invalid_resource"
    );
    // A vault token is not an ARM token.
    assert_eq!(c.login("https://vault.azure.net/.default").code, 200);
    assert_eq!(
        c.arm(
            "GET",
            "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6",
            "2021-01-01",
            None
        )
        .error_code(),
        "InvalidAuthenticationTokenAudience"
    );
    assert_eq!(c.login("https://management.azure.com//.default").code, 200);
    let s = c.arm(
        "GET",
        "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6",
        "2022-12-01",
        None,
    );
    assert_eq!(s.body["tenantId"], TENANT, "{}", s.body);
    arm.expire_tokens();
    let a = c.locations();
    assert_eq!(
        (a.code, a.error_code()),
        (401, "ExpiredAuthenticationToken")
    );
    assert!(a
        .header("WWW-Authenticate")
        .contains("error=\"invalid_token\""));
    // Certificate credentials: a client assertion signed by the registered certificate's key.
    let pem = std::fs::read_to_string(arm.client_certificate()).unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&pem_der(&pem, "PRIVATE KEY")).unwrap();
    let thumb = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &pem_der(&pem, "CERTIFICATE"),
    );
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let aud = format!("{}/{TENANT}/oauth2/v2.0/token", arm.endpoint());
    let now = now_secs();
    let assertion = |key: &ring::signature::RsaKeyPair| {
        let h = b64(
            json!({"alg": "RS256", "typ": "JWT", "x5t": b64(thumb.as_ref())})
                .to_string()
                .as_bytes(),
        );
        let c = b64(json!({"aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": "1", "nbf": now, "exp": now + 600}).to_string().as_bytes());
        let mut sig = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            format!("{h}.{c}").as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{h}.{c}.{}", b64(&sig))
    };
    let form = |a: String| {
        format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={a}&scope=https%3A%2F%2Fmanagement.azure.com%2F.default")
    };
    let ok = c.call(
        "POST",
        &format!("/{TENANT}/oauth2/v2.0/token"),
        Some(&form(assertion(&key))),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(ok.code, 200, "{}", ok.body);
    // The same claims signed by another key are refused.
    let other = rsa_key();
    let no = c.call(
        "POST",
        &format!("/{TENANT}/oauth2/v2.0/token"),
        Some(&form(assertion(&other))),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(
        (no.code, no.body["error"].as_str()),
        (401, Some("invalid_client")),
        "{}",
        no.body
    );
    c.token = ok.body["access_token"].as_str().map(str::to_string);
    assert_eq!(c.locations().code, 200);
}

fn packer_like_template() -> Value {
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"vmName": {"type": "string"}, "vmSize": {"type": "string"}, "adminPassword": {"type": "securestring"},
            "nicName": {"type": "string"}, "nsgName": {"type": "string"}, "publicIPAddressName": {"type": "string"},
            "subnetName": {"type": "string"}, "virtualNetworkName": {"type": "string"}, "osDiskName": {"type": "string"},
            "commandToExecute": {"type": "string", "defaultValue": ""}},
        "variables": {"location": "[resourceGroup().location]", "networkApiVersion": "2023-04-01", "computeApiVersion": "2023-03-01",
            "subnetRef": "[concat(variables('vnetID'),'/subnets/',parameters('subnetName'))]",
            "vnetID": "[resourceId(resourceGroup().name, 'Microsoft.Network/virtualNetworks', parameters('virtualNetworkName'))]"},
        "resources": [
            {"apiVersion": "[variables('computeApiVersion')]", "type": "Microsoft.Compute/virtualMachines", "name": "[parameters('vmName')]",
             "location": "[variables('location')]", "dependsOn": ["[concat('Microsoft.Network/networkInterfaces/', parameters('nicName'))]"],
             "properties": {"hardwareProfile": {"vmSize": "[parameters('vmSize')]"},
                "osProfile": {"computerName": "[parameters('vmName')]", "adminUsername": "packer", "adminPassword": "[parameters('adminPassword')]"},
                "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"},
                    "osDisk": {"name": "[parameters('osDiskName')]", "createOption": "FromImage", "caching": "ReadWrite"}},
                "networkProfile": {"networkInterfaces": [{"id": "[resourceId('Microsoft.Network/networkInterfaces', parameters('nicName'))]"}]}}},
            {"apiVersion": "[variables('computeApiVersion')]", "condition": "[not(empty(parameters('commandToExecute')))]",
             "type": "Microsoft.Compute/virtualMachines/extensions", "name": "[concat(parameters('vmName'), '/extension-customscript')]",
             "location": "[variables('location')]", "properties": {"publisher": "Microsoft.Compute"}},
            {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/networkInterfaces", "name": "[parameters('nicName')]",
             "location": "[variables('location')]",
             "properties": {"ipConfigurations": [{"name": "ipconfig", "properties": {"privateIPAllocationMethod": "Dynamic",
                "publicIPAddress": {"id": "[resourceId('Microsoft.Network/publicIPAddresses', parameters('publicIPAddressName'))]"},
                "subnet": {"id": "[variables('subnetRef')]"}}}]}},
            {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/publicIPAddresses", "name": "[parameters('publicIPAddressName')]",
             "location": "[variables('location')]", "properties": {"publicIPAllocationMethod": "Static", "dnsSettings": {"domainNameLabel": "pkrdns"}}},
            {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/networkSecurityGroups", "name": "[parameters('nsgName')]",
             "location": "[variables('location')]", "properties": {"securityRules": []}},
            {"apiVersion": "[variables('networkApiVersion')]", "type": "Microsoft.Network/virtualNetworks", "name": "[parameters('virtualNetworkName')]",
             "location": "[variables('location')]", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "[parameters('subnetName')]", "properties": {"addressPrefix": "10.0.0.0/24",
                    "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', parameters('nsgName'))]"}}}]}}
        ]
    })
}

fn deployment(size: &str) -> Value {
    let p = |v: &str| json!({"value": v});
    json!({"properties": {"mode": "Incremental", "template": packer_like_template(), "parameters": {
        "vmName": p("pkrvm"), "vmSize": p(size), "adminPassword": p("S3cret!pass"), "nicName": p("pkrni"), "nsgName": p("pkrsg"),
        "publicIPAddressName": p("pkrip"), "subnetName": p("pkrsn"), "virtualNetworkName": p("pkrvn"), "osDiskName": p("pkros")}}})
}

#[test]
fn a_packer_like_deployment_makes_a_vm_on_loopback_and_failures_nest() {
    let (arm, c) = logged_in();
    let dep = format!("{RG}/providers/Microsoft.Resources/deployments/pkrdp");
    let v = c.arm(
        "POST",
        &format!("{dep}/validate"),
        "2021-04-01",
        Some(deployment("Standard_B1s")),
    );
    assert_eq!(v.code, 200, "{}", v.body);
    let a = c.arm("PUT", &dep, "2026-06-01", Some(deployment("Standard_B1s")));
    assert_eq!(a.code, 201, "{}", a.body);
    assert_eq!(a.body["properties"]["provisioningState"], "Accepted");
    assert_eq!(
        a.body["properties"]["parameters"]["adminPassword"],
        json!({"type": "SecureString"})
    );
    assert!(
        arm.get(&format!(
            "{RG}/providers/Microsoft.Compute/virtualMachines/pkrvm"
        ))
        .is_none(),
        "created before the deployment ended"
    );
    assert_eq!(
        c.arm("GET", &dep, "2026-06-01", None).body["properties"]["provisioningState"],
        "Running"
    );
    assert_eq!(c.wait(&a), ["Succeeded"]);
    let vm = c.get_in_rg("Microsoft.Compute/virtualMachines/pkrvm", "2024-07-01");
    assert_eq!(
        vm.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        vm.body
    );
    assert!(vm.body["properties"]["osProfile"]
        .get("adminPassword")
        .is_none());
    assert_eq!(
        vm.body["properties"]["storageProfile"]["osDisk"]["name"],
        "pkros"
    );
    let ip = c.get_in_rg("Microsoft.Network/publicIPAddresses/pkrip", "2024-03-01");
    assert_eq!(ip.body["properties"]["ipAddress"], "127.0.0.1");
    assert!(arm
        .get(&format!(
            "{RG}/providers/Microsoft.Network/virtualNetworks/pkrvn/subnets/pkrsn"
        ))
        .is_some());
    assert!(arm.get(&format!("{RG}/providers/Microsoft.Compute/virtualMachines/pkrvm/extensions/extension-customscript")).is_none(), "condition false");
    // Network resources in use cannot be deleted.
    for (path, code) in [
        ("Microsoft.Network/networkInterfaces/pkrni", "NicInUse"),
        (
            "Microsoft.Network/publicIPAddresses/pkrip",
            "PublicIPAddressCannotBeDeleted",
        ),
        (
            "Microsoft.Network/virtualNetworks/pkrvn",
            "InUseSubnetCannotBeDeleted",
        ),
        (
            "Microsoft.Network/networkSecurityGroups/pkrsg",
            "InUseNetworkSecurityGroupCannotBeDeleted",
        ),
    ] {
        let d = c.arm(
            "DELETE",
            &format!("{RG}/providers/{path}"),
            "2024-03-01",
            None,
        );
        assert_eq!((d.code, d.error_code()), (400, code), "{}", d.body);
    }
    // VM lifecycle: generalize refused while running; deallocate; generalize; capture.
    let vmid = format!("{RG}/providers/Microsoft.Compute/virtualMachines/pkrvm");
    assert_eq!(
        c.arm("POST", &format!("{vmid}/generalize"), "2024-07-01", None)
            .error_code(),
        "OperationNotAllowed"
    );
    let d = c.arm("POST", &format!("{vmid}/deallocate"), "2024-07-01", None);
    assert_eq!(c.wait(&d).last().unwrap(), "Succeeded");
    let iv = c.arm("GET", &format!("{vmid}/instanceView"), "2024-07-01", None);
    assert_eq!(iv.body["statuses"][1]["code"], "PowerState/deallocated");
    assert_eq!(
        c.arm("POST", &format!("{vmid}/generalize"), "2024-07-01", None)
            .code,
        200
    );
    let cap = c.arm("POST", &format!("{vmid}/capture"), "2024-07-01", Some(json!({"vhdPrefix": "pkr", "destinationContainerName": "images", "overwriteVhds": true})));
    c.wait(&cap);
    let out = c.call("GET", cap.header("Location"), None, "");
    assert!(
        out.body["resources"][0]["properties"]["storageProfile"]["osDisk"]["image"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".vhd"),
        "{}",
        out.body
    );
    // Deployment failures: SkuNotAvailable and AllocationFailed, with nested details.
    arm.make_sku_unavailable("eastus", "Standard_B2s");
    let f = c.arm(
        "PUT",
        &format!("{RG}/providers/Microsoft.Resources/deployments/d2"),
        "2021-04-01",
        Some(deployment("Standard_B2s")),
    );
    assert_eq!(c.wait(&f).last().unwrap(), "Failed");
    let g = c.get_in_rg("Microsoft.Resources/deployments/d2", "2021-04-01");
    assert_eq!(g.body["properties"]["provisioningState"], "Failed");
    assert_eq!(g.body["properties"]["error"]["code"], "DeploymentFailed");
    assert_eq!(
        g.body["properties"]["error"]["details"][0]["details"][0]["code"], "SkuNotAvailable",
        "{}",
        g.body
    );
    arm.fail_allocation("eastus", Some("Standard_B1s"));
    let f = c.arm(
        "PUT",
        &format!("{RG}/providers/Microsoft.Resources/deployments/d3"),
        "2021-04-01",
        Some(deployment("Standard_B1s")),
    );
    c.wait(&f);
    let g = c.get_in_rg("Microsoft.Resources/deployments/d3", "2021-04-01");
    assert_eq!(
        g.body["properties"]["error"]["details"][0]["details"][0]["code"],
        "AllocationFailed"
    );
    let ops = c.get_in_rg(
        "Microsoft.Resources/deployments/d3/operations",
        "2021-04-01",
    );
    assert!(ops.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["properties"]["provisioningState"] == "Failed"));
    // A template error is refused at once.
    let mut bad = deployment("Standard_B1s");
    bad["properties"]["parameters"]["bogus"] = json!({"value": 1});
    let b = c.arm(
        "PUT",
        &format!("{RG}/providers/Microsoft.Resources/deployments/d4"),
        "2021-04-01",
        Some(bad),
    );
    assert_eq!((b.code, b.error_code()), (400, "InvalidTemplate"));
}

#[test]
fn vault_secrets_through_arm_and_the_data_plane() {
    let (arm, mut c) = logged_in();
    let vault = format!("{RG}/providers/Microsoft.KeyVault/vaults/pkrkv");
    let a = c.arm("PUT", &vault, "2019-09-01", Some(json!({"location": "eastus", "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "standard"}, "accessPolicies": []}})));
    c.wait(&a);
    let s = c.arm(
        "PUT",
        &format!("{vault}/secrets/winrm"),
        "2026-05-15",
        Some(json!({"properties": {"value": "hunter2"}})),
    );
    assert_eq!(s.code, 201, "{}", s.body);
    assert!(s.body["properties"].get("value").is_none());
    assert_eq!(arm.secret("pkrkv", "winrm").as_deref(), Some("hunter2"));
    let uri = c.arm("GET", &vault, "2019-09-01", None).body["properties"]["vaultUri"]
        .as_str()
        .unwrap()
        .to_string();
    let plain = c.call(
        "GET",
        &format!("{uri}secrets/winrm?api-version=7.4"),
        None,
        "",
    );
    assert_eq!(plain.code, 401, "an ARM token is not a vault token");
    assert!(plain
        .header("WWW-Authenticate")
        .contains("resource=\"https://vault.azure.net\""));
    c.login("https://vault.azure.net/.default");
    let put = c.call(
        "PUT",
        &format!("{uri}secrets/other?api-version=7.4"),
        Some(r#"{"value":"v2"}"#),
        "application/json",
    );
    assert_eq!(put.code, 200, "{}", put.body);
    let got = c.call(
        "GET",
        &format!("{uri}secrets/winrm?api-version=7.4"),
        None,
        "",
    );
    assert_eq!(got.body["value"], "hunter2");
    assert_eq!(
        c.call(
            "GET",
            &format!("{uri}secrets/nope?api-version=7.4"),
            None,
            ""
        )
        .error_code(),
        "SecretNotFound"
    );
    // A vault goes at once, with its secrets.
    c.login("https://management.azure.com/.default");
    assert_eq!(c.arm("DELETE", &vault, "2019-09-01", None).code, 200);
    assert_eq!(arm.secret("pkrkv", "winrm"), None);
    assert!(arm.get(&vault).is_none());
}

#[test]
fn a_put_sent_again_polls_it_as_the_rust_clients_do() {
    let (arm, c) = logged_in();
    let ip = format!("{RG}/providers/Microsoft.Network/publicIPAddresses/ip1");
    let body = json!({"location": "eastus", "properties": {"publicIPAllocationMethod": "Static"}});
    let a = c.arm("PUT", &ip, "2024-03-01", Some(body.clone()));
    assert_eq!(a.code, 201);
    let again = c.arm("PUT", &ip, "2024-03-01", Some(body.clone()));
    assert_eq!(again.code, 201, "{}", again.body);
    assert_eq!(again.body["properties"]["provisioningState"], "Creating");
    let done = c.arm("PUT", &ip, "2024-03-01", Some(body));
    assert_eq!(done.code, 200);
    assert_eq!(done.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(done.body["properties"]["ipAddress"], "127.0.0.1");
    // Latency is added to every answer.
    arm.set_latency(Duration::from_millis(300));
    let t = std::time::Instant::now();
    c.arm("GET", &ip, "2024-03-01", None);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    arm.set_latency(Duration::ZERO);
    // A running deployment can be canceled.
    arm.set_polls(5);
    let dep = format!("{RG}/providers/Microsoft.Resources/deployments/slow");
    let d = c.arm("PUT", &dep, "2021-04-01", Some(deployment("Standard_B1s")));
    assert_eq!(
        c.arm("POST", &format!("{dep}/cancel"), "2021-04-01", None)
            .code,
        204
    );
    assert_eq!(c.wait(&d), ["Canceled"]);
    let g = c.arm("GET", &dep, "2021-04-01", None);
    assert_eq!(g.body["properties"]["provisioningState"], "Canceled");
    assert!(arm
        .get(&format!(
            "{RG}/providers/Microsoft.Compute/virtualMachines/pkrvm"
        ))
        .is_none());
    // An injected failure of an action.
    arm.set_polls(0);
    arm.fail_operation(
        "Microsoft.Network/publicIPAddresses",
        "DELETE",
        "InUseByAnotherResource",
        "held",
        1,
    );
    let del = c.arm("DELETE", &ip, "2024-03-01", None);
    assert_eq!(c.wait(&del), ["Failed"]);
}

#[test]
fn marketplace_images_are_listed_and_unknown_ones_refused() {
    let (arm, c) = logged_in();
    let base = "/subscriptions/f0e6e000-0000-4000-8000-00000000f0e6/providers/Microsoft.Compute/locations/eastus/publishers/Debian/artifacttypes/vmimage/offers/debian-12/skus/12/versions";
    let l = c.arm("GET", base, "2024-07-01", None);
    assert_eq!(l.body[0]["name"], "0.20241004.1889", "{}", l.body);
    let one = c.arm(
        "GET",
        &format!("{base}/0.20241004.1889"),
        "2024-07-01",
        None,
    );
    assert_eq!(
        one.body["properties"]["osDiskImage"]["operatingSystem"],
        "Linux"
    );
    assert_eq!(
        c.arm("GET", &format!("{base}/9.9.9"), "2024-07-01", None)
            .code,
        404
    );
    arm.add_platform_image("Debian", "debian-12", "12", "9.9.9");
    assert_eq!(
        c.arm("GET", &format!("{base}/9.9.9"), "2024-07-01", None)
            .code,
        200
    );
    // A deployment of a VM from an image nobody offers fails, naming it.
    let mut d = deployment("Standard_B1s");
    d["properties"]["template"]["resources"][0]["properties"]["storageProfile"]["imageReference"]
        ["sku"] = json!("no-such-sku");
    let a = c.arm(
        "PUT",
        &format!("{RG}/providers/Microsoft.Resources/deployments/noimg"),
        "2021-04-01",
        Some(d),
    );
    assert_eq!(c.wait(&a), ["InProgress", "Failed"]);
    let g = c.get_in_rg("Microsoft.Resources/deployments/noimg", "2021-04-01");
    let inner = &g.body["properties"]["error"]["details"][0]["details"][0];
    assert_eq!(inner["code"], "PlatformImageNotFound", "{}", g.body);
    assert!(inner["message"].as_str().unwrap().contains("no-such-sku"));
}

#[test]
fn federated_tokens_managed_identity_and_cloud_metadata() {
    let arm = FakeArm::start();
    let c = Client::new(&arm);
    let form = |a: &str| {
        format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={a}&scope=https%3A%2F%2Fmanagement.azure.com%2F.default")
    };
    let token_url = format!("/{TENANT}/oauth2/v2.0/token");
    let ok = c.call(
        "POST",
        &token_url,
        Some(&form(&arm.federated_token())),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(ok.code, 200, "{}", ok.body);
    // A federated token with its signature broken is refused.
    let t = arm.federated_token();
    let forged = format!("{}AAAA", &t[..t.len() - 4]);
    let no = c.call(
        "POST",
        &token_url,
        Some(&form(&forged)),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(no.code, 401, "{}", no.body);
    // IMDS wants its header.
    let imds = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F";
    assert_eq!(
        c.call("GET", imds, None, "").body["error"],
        "invalid_request"
    );
    let mut t = c.clone_with_header("Metadata", "true");
    let got = t.call("GET", imds, None, "");
    assert_eq!(got.code, 200, "{}", got.body);
    t.token = got.body["access_token"].as_str().map(str::to_string);
    assert_eq!(t.locations().code, 200);
    // The cloud metadata a metadata_host answers.
    let m = c.call(
        "GET",
        "/metadata/endpoints?api-version=2022-09-01",
        None,
        "",
    );
    assert_eq!(m.body[0]["resourceManager"], format!("{}/", arm.endpoint()));
}
