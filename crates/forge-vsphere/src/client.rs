//! A vim25 session: the HTTPS connection to `https://host[:port]/sdk`, the service content, the
//! login (its session cookie is sent with every later call) and the count of round trips.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use forge_core::{Error, Result};

use crate::soap::{parse_answer, Answer, Moref, Node, Request};

/// How to reach and log in to a vCenter or ESXi host.
#[derive(Clone)]
pub struct Config {
    /// `vcenter_server`: a host name with an optional port (`vc.example.com`,
    /// `127.0.0.1:8989`), or a whole `https://` URL; the SDK path `/sdk` is added when missing.
    pub server: String,
    /// The user to log in as.
    pub username: String,
    /// Its password (never shown in an error).
    pub password: String,
    /// `insecure_connection`: accept a certificate nobody trusts (self-signed).
    pub insecure: bool,
    /// How long one call may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<sensitive>")
            .field("insecure", &self.insecure)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Config {
    /// A configuration with the default timeout (5 minutes).
    pub fn new(server: &str, username: &str, password: &str, insecure: bool) -> Config {
        Config {
            server: server.to_string(),
            username: username.to_string(),
            password: password.to_string(),
            insecure,
            timeout: Duration::from_secs(300),
        }
    }

    /// The SDK endpoint: `https://<server>/sdk`.
    pub fn url(&self) -> String {
        let s = self.server.trim_end_matches('/');
        if s.contains("://") {
            let path_start = s.find("://").map(|i| i + 3).unwrap_or(0);
            if s[path_start..].contains('/') {
                s.to_string()
            } else {
                format!("{s}/sdk")
            }
        } else {
            format!("https://{s}/sdk")
        }
    }
}

/// The parts of `ServiceContent` the client uses.
#[derive(Clone, Debug)]
pub struct ServiceContent {
    /// The inventory's root folder.
    pub root_folder: Moref,
    /// The property collector (reads properties of managed objects).
    pub property_collector: Moref,
    /// The view manager (container views for searches below a folder).
    pub view_manager: Option<Moref>,
    /// The search index (inventory paths, children by name).
    pub search_index: Moref,
    /// The session manager (login, logout).
    pub session_manager: Moref,
    /// The file manager (datastore files), when the server has one.
    pub file_manager: Option<Moref>,
    /// The OVF manager (export descriptors), when the server has one.
    pub ovf_manager: Option<Moref>,
    /// The task manager (recent tasks), when the server has one.
    pub task_manager: Option<Moref>,
    /// The storage resource manager (Storage DRS), on a vCenter.
    pub storage_resource_manager: Option<Moref>,
    /// `about.fullName`, such as `VMware vCenter Server 7.0.0 build-...`.
    pub full_name: String,
    /// `about.apiVersion`, such as `7.0`.
    pub api_version: String,
    /// `about.apiType`: `VirtualCenter` or `HostAgent` (a standalone ESXi host).
    pub api_type: String,
}

impl ServiceContent {
    fn from_node(n: &Node) -> Result<ServiceContent> {
        let need = |name: &str| {
            n.moref_of(name).ok_or_else(|| {
                Error::msg(format!(
                    "the server's ServiceContent has no {name}: is this a vSphere SDK endpoint?"
                ))
            })
        };
        let about = n.child("about");
        let about_text = |name: &str| {
            about
                .and_then(|a| a.text_of(name))
                .unwrap_or_default()
                .to_string()
        };
        Ok(ServiceContent {
            root_folder: need("rootFolder")?,
            property_collector: need("propertyCollector")?,
            view_manager: n.moref_of("viewManager"),
            search_index: need("searchIndex")?,
            session_manager: need("sessionManager")?,
            file_manager: n.moref_of("fileManager"),
            ovf_manager: n.moref_of("ovfManager"),
            task_manager: n.moref_of("taskManager"),
            storage_resource_manager: n.moref_of("storageResourceManager"),
            full_name: about_text("fullName"),
            api_version: about_text("apiVersion"),
            api_type: about_text("apiType"),
        })
    }
}

/// A logged-in vim25 session. Calls may run concurrently; each is one HTTP round trip, counted
/// by [`Client::round_trips`].
pub struct Client {
    http: reqwest::Client,
    url: String,
    cookie: Mutex<Option<String>>,
    soap_action: String,
    round_trips: AtomicU64,
    content: ServiceContent,
    username: String,
    /// Kept to log in again when the server ends the session (an idle timeout during a long
    /// build); never shown.
    password: String,
    /// Set once the first login succeeded; only then is an expired session renewed.
    logged_in: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `cfg`'s server, reads its service content and logs in.
    pub async fn connect(cfg: &Config) -> Result<Client> {
        let url = cfg.url();
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(cfg.insecure)
            .connect_timeout(Duration::from_secs(30))
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Error::msg(format!("vSphere client for {url}: {}", chain(&e))))?;
        let mut client = Client {
            http,
            url,
            cookie: Mutex::new(None),
            // Before the API version is known, the unversioned namespace.
            soap_action: "urn:vim25".to_string(),
            round_trips: AtomicU64::new(0),
            content: ServiceContent {
                root_folder: Moref::new("Folder", ""),
                property_collector: Moref::new("PropertyCollector", ""),
                view_manager: None,
                search_index: Moref::new("SearchIndex", ""),
                session_manager: Moref::new("SessionManager", ""),
                file_manager: None,
                ovf_manager: None,
                task_manager: None,
                storage_resource_manager: None,
                full_name: String::new(),
                api_version: String::new(),
                api_type: String::new(),
            },
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            logged_in: std::sync::atomic::AtomicBool::new(false),
        };
        let si = Moref::new("ServiceInstance", "ServiceInstance");
        let answer = client
            .call(Request::new("RetrieveServiceContent", &si))
            .await
            .map_err(|e| e.context(format!("connecting to {}", client.url)))?;
        let content = answer.child("returnval").ok_or_else(|| {
            Error::msg(format!(
                "connecting to {}: RetrieveServiceContent returned nothing",
                client.url
            ))
        })?;
        client.content = ServiceContent::from_node(content)
            .map_err(|e| e.context(format!("connecting to {}", client.url)))?;
        if !client.content.api_version.is_empty() {
            client.soap_action = format!("urn:vim25/{}", client.content.api_version);
        }
        client.login().await?;
        client.logged_in.store(true, Ordering::Relaxed);
        Ok(client)
    }

    async fn login(&self) -> Result<()> {
        let password = self.password.as_str();
        let req = Request::new("Login", &self.content.session_manager)
            .text("userName", &self.username)
            .text("password", password);
        self.send(&req).await.map_err(|e| {
            let e = Error::from(e)
                .context(format!("logging in to {} as {:?}", self.url, self.username));
            match e {
                // Never echo the password, whatever the server put in its message.
                Error::Msg(m) if !password.is_empty() => {
                    Error::Msg(m.replace(password, "<sensitive>"))
                }
                e => e,
            }
        })?;
        Ok(())
    }

    /// Ends the session.
    pub async fn logout(&self) -> Result<()> {
        self.logged_in.store(false, Ordering::Relaxed);
        self.call(Request::new("Logout", &self.content.session_manager))
            .await
            .map_err(|e| e.context(format!("logging out of {}", self.url)))?;
        if let Ok(mut c) = self.cookie.lock() {
            *c = None;
        }
        Ok(())
    }

    /// The service content read at connection.
    pub fn content(&self) -> &ServiceContent {
        &self.content
    }

    /// The SDK URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP client (its TLS settings), for transfers beside the SOAP calls (NFC, vAPI).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The SOAP session's cookie (`vmware_soap_session=...`), which NFC transfers send too.
    pub(crate) fn session_cookie(&self) -> Option<String> {
        self.cookie.lock().ok().and_then(|c| c.clone())
    }

    /// Counts one HTTP round trip made beside the SOAP calls.
    pub(crate) fn count_round_trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    /// The HTTP client (for datastore file transfers) and the session cookie, if logged in.
    pub(crate) fn http_session(&self) -> (&reqwest::Client, Option<String>) {
        (self.http(), self.session_cookie())
    }

    /// How many HTTP round trips (SOAP calls) this client made, the login included.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Calls a method; the `<MethodResponse>` element, or an error naming the method and the
    /// server's fault. When the server answers `NotAuthenticated` after a successful login (its
    /// session timed out while a long build waited), the client logs in again, once, and
    /// repeats the call, as govmomi's keep-alive handler does.
    pub async fn call(&self, req: Request) -> Result<Node> {
        match self.send(&req).await {
            Err(CallError::Fault { fault, .. })
                if fault.kind.as_deref() == Some("NotAuthenticated") && self.renewable() =>
            {
                tracing::debug!(
                    method = req.method(),
                    "vSphere session expired; logging in again"
                );
                if let Ok(mut c) = self.cookie.lock() {
                    *c = None;
                }
                self.login()
                    .await
                    .map_err(|e| e.context("renewing the expired vSphere session"))?;
                self.send(&req).await.map_err(Into::into)
            }
            r => r.map_err(Into::into),
        }
    }

    fn renewable(&self) -> bool {
        self.logged_in.load(Ordering::Relaxed)
    }

    /// One round trip, without renewing the session.
    async fn send(&self, req: &Request) -> std::result::Result<Node, CallError> {
        let method = req.method().to_string();
        let mut http = self
            .http
            .post(&self.url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", &self.soap_action)
            .body(req.envelope());
        if let Some(c) = self.cookie.lock().ok().and_then(|c| c.clone()) {
            http = http.header("Cookie", c);
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let resp = http
            .send()
            .await
            .map_err(|e| CallError::Other(self.http_error(&method, &e)))?;
        let status = resp.status();
        if let Some(set) = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("vmware_soap_session="))
        {
            let pair = set.split(';').next().unwrap_or(set).trim().to_string();
            if let Ok(mut c) = self.cookie.lock() {
                *c = Some(pair);
            }
        }
        let body = resp
            .text()
            .await
            .map_err(|e| CallError::Other(self.http_error(&method, &e)))?;
        match parse_answer(&body) {
            Ok(Answer::Response(n)) if status.is_success() => Ok(n),
            Ok(Answer::Fault(fault)) => Err(CallError::Fault { method, fault }),
            Ok(Answer::Response(_)) | Err(_) if !status.is_success() => {
                let snippet: String = body.chars().take(200).collect();
                Err(CallError::Other(Error::msg(format!(
                    "{method}: HTTP {status} from {}: {}",
                    self.url,
                    snippet.trim()
                ))))
            }
            Ok(Answer::Response(n)) => Ok(n),
            Err(e) => Err(CallError::Other(Error::msg(format!("{method}: {e}")))),
        }
    }

    /// Calls a method that starts a task (`*_Task`); the task's reference.
    pub async fn call_task(&self, req: Request) -> Result<Moref> {
        let method = req.method().to_string();
        self.call(req)
            .await?
            .moref_of("returnval")
            .ok_or_else(|| Error::msg(format!("{method}: the server returned no task")))
    }

    fn http_error(&self, method: &str, e: &reqwest::Error) -> Error {
        let text = chain(e);
        let lower = text.to_lowercase();
        if lower.contains("certificate") || lower.contains("unknownissuer") {
            Error::msg(format!(
                "TLS: {} presented a certificate that is not trusted ({text}); \
                 set insecure_connection = true to accept it (a self-signed vCenter)",
                self.url
            ))
        } else if e.is_timeout() {
            Error::msg(format!(
                "{method}: {} did not answer in time ({text})",
                self.url
            ))
        } else {
            Error::msg(format!("{method}: cannot reach {}: {text}", self.url))
        }
    }
}

/// Why one round trip failed: the server's fault (which the caller may answer, as an expired
/// session is), or anything else.
enum CallError {
    Fault {
        method: String,
        fault: crate::soap::Fault,
    },
    Other(Error),
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Error {
        match e {
            CallError::Fault { method, fault } => Error::msg(format!("{method}: {fault}")),
            CallError::Other(e) => e,
        }
    }
}

/// An error and its sources, joined by `: `.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_url_from_server() {
        let url = |s: &str| Config::new(s, "u", "p", false).url();
        assert_eq!(url("vc.example.com"), "https://vc.example.com/sdk");
        assert_eq!(url("127.0.0.1:8989"), "https://127.0.0.1:8989/sdk");
        assert_eq!(url("https://vc:443"), "https://vc:443/sdk");
        assert_eq!(url("https://vc/sdk"), "https://vc/sdk");
    }

    #[test]
    fn debug_hides_the_password() {
        let c = Config::new("vc", "admin", "s3cret!", true);
        assert!(!format!("{c:?}").contains("s3cret!"));
    }
}
