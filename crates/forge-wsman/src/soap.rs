//! SOAP envelopes of WS-Management / WinRS: parsing requests, writing responses and faults.

use std::time::Duration;

/// SOAP 1.2 envelope namespace.
pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (2004/08) namespace.
pub const NS_ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// WS-Management namespace.
pub const NS_WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// WinRS shell namespace.
pub const NS_SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// The cmd shell resource URI.
pub const RESOURCE_CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";

/// WS-Transfer Create.
pub const ACTION_CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
/// WS-Transfer Delete.
pub const ACTION_DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
/// WinRS Command.
pub const ACTION_COMMAND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
/// WinRS Send.
pub const ACTION_SEND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send";
/// WinRS Receive.
pub const ACTION_RECEIVE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive";
/// WinRS Signal.
pub const ACTION_SIGNAL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal";

/// Signal code: terminate.
pub const SIGNAL_TERMINATE: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate";
/// Signal code: Ctrl-C.
pub const SIGNAL_CTRL_C: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c";

/// One stream chunk of a Send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendStream {
    /// Stream name (`stdin`).
    pub name: String,
    /// Target command.
    pub command_id: Option<String>,
    /// `End="true"`: the last chunk.
    pub end: bool,
    /// Decoded bytes.
    pub data: Vec<u8>,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Create a shell.
    Create {
        /// Environment variables of the shell.
        env: Vec<(String, String)>,
        /// Working directory.
        working_dir: Option<String>,
    },
    /// Run a command in a shell.
    Command {
        /// Client-chosen command id (`CommandId` attribute), if any.
        command_id: Option<String>,
        /// The program.
        command: String,
        /// Its arguments.
        arguments: Vec<String>,
    },
    /// Send stdin.
    Send(Vec<SendStream>),
    /// Receive output.
    Receive {
        /// The command whose output is wanted.
        command_id: Option<String>,
    },
    /// Signal a command.
    Signal {
        /// The command.
        command_id: Option<String>,
        /// Signal code URI.
        code: String,
    },
    /// Delete the shell.
    Delete,
    /// Any other action.
    Other,
}

/// A parsed request envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// wsa:Action.
    pub action: String,
    /// wsa:MessageID.
    pub message_id: String,
    /// wsman:ResourceURI.
    pub resource_uri: String,
    /// The `ShellId` selector.
    pub shell_id: Option<String>,
    /// wsman:OperationTimeout.
    pub operation_timeout: Option<Duration>,
    /// wsman:MaxEnvelopeSize.
    pub max_envelope_size: Option<usize>,
    /// The body.
    pub body: Body,
}

/// Why a request could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn child<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

fn text_of(n: Option<roxmltree::Node<'_, '_>>) -> Option<String> {
    n.map(|n| n.text().unwrap_or_default().trim().to_string())
}

/// Parses an xs:duration of the form `PT60S` / `PT60.000S` / `PT1M30S`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let rest = s.strip_prefix("PT")?;
    let mut total = 0f64;
    let mut num = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'H' | 'M' | 'S' => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                total += v * match c {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
            }
            _ => return None,
        }
    }
    if !num.is_empty() || !total.is_finite() || total < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// Parses a WS-Management request envelope.
pub fn parse_request(xml: &str) -> Result<Request, ParseError> {
    use base64::Engine as _;
    let doc = roxmltree::Document::parse(xml).map_err(|e| ParseError(format!("not XML: {e}")))?;
    let env = doc.root_element();
    if env.tag_name().name() != "Envelope" || env.tag_name().namespace() != Some(NS_SOAP) {
        return Err(ParseError("not a SOAP 1.2 Envelope".into()));
    }
    let header = child(env, NS_SOAP, "Header").ok_or_else(|| ParseError("no Header".into()))?;
    let body = child(env, NS_SOAP, "Body").ok_or_else(|| ParseError("no Body".into()))?;
    let action = text_of(child(header, NS_ADDRESSING, "Action"))
        .ok_or_else(|| ParseError("no Action".into()))?;
    let message_id = text_of(child(header, NS_ADDRESSING, "MessageID"))
        .ok_or_else(|| ParseError("no MessageID".into()))?;
    let resource_uri = text_of(child(header, NS_WSMAN, "ResourceURI")).unwrap_or_default();
    let shell_id = child(header, NS_WSMAN, "SelectorSet").and_then(|set| {
        set.children()
            .find(|c| {
                c.is_element()
                    && c.tag_name().name() == "Selector"
                    && c.attribute("Name") == Some("ShellId")
            })
            .map(|c| c.text().unwrap_or_default().trim().to_string())
    });
    let operation_timeout = match text_of(child(header, NS_WSMAN, "OperationTimeout")) {
        Some(t) => Some(
            parse_duration(&t).ok_or_else(|| ParseError(format!("bad OperationTimeout {t:?}")))?,
        ),
        None => None,
    };
    let max_envelope_size = match text_of(child(header, NS_WSMAN, "MaxEnvelopeSize")) {
        Some(t) => Some(
            t.parse()
                .map_err(|_| ParseError(format!("bad MaxEnvelopeSize {t:?}")))?,
        ),
        None => None,
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let parsed_body = match action.as_str() {
        ACTION_CREATE => {
            let shell = child(body, NS_SHELL, "Shell");
            let mut env_vars = Vec::new();
            let mut working_dir = None;
            if let Some(shell) = shell {
                if let Some(e) = child(shell, NS_SHELL, "Environment") {
                    for v in e
                        .children()
                        .filter(|c| c.is_element() && c.tag_name().name() == "Variable")
                    {
                        if let Some(name) = v.attribute("Name") {
                            env_vars
                                .push((name.to_string(), v.text().unwrap_or_default().to_string()));
                        }
                    }
                }
                working_dir = text_of(child(shell, NS_SHELL, "WorkingDirectory"));
            }
            Body::Create {
                env: env_vars,
                working_dir,
            }
        }
        ACTION_DELETE => Body::Delete,
        ACTION_COMMAND => {
            let cl = child(body, NS_SHELL, "CommandLine")
                .ok_or_else(|| ParseError("no CommandLine".into()))?;
            let command = child(cl, NS_SHELL, "Command")
                .map(|c| c.text().unwrap_or_default().to_string())
                .ok_or_else(|| ParseError("no Command".into()))?;
            let arguments = cl
                .children()
                .filter(|c| c.is_element() && c.tag_name().name() == "Arguments")
                .map(|c| c.text().unwrap_or_default().to_string())
                .collect();
            Body::Command {
                command_id: cl.attribute("CommandId").map(str::to_string),
                command: command.trim().to_string(),
                arguments,
            }
        }
        ACTION_SEND => {
            let send = child(body, NS_SHELL, "Send").ok_or_else(|| ParseError("no Send".into()))?;
            let mut streams = Vec::new();
            for s in send
                .children()
                .filter(|c| c.is_element() && c.tag_name().name() == "Stream")
            {
                let text: String = s
                    .text()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let data = b64
                    .decode(text.as_bytes())
                    .map_err(|e| ParseError(format!("Stream is not base64: {e}")))?;
                streams.push(SendStream {
                    name: s.attribute("Name").unwrap_or("stdin").to_string(),
                    command_id: s.attribute("CommandId").map(str::to_string),
                    end: matches!(
                        s.attribute("End"),
                        Some("true") | Some("TRUE") | Some("True")
                    ),
                    data,
                });
            }
            Body::Send(streams)
        }
        ACTION_RECEIVE => {
            let r =
                child(body, NS_SHELL, "Receive").ok_or_else(|| ParseError("no Receive".into()))?;
            let ds = child(r, NS_SHELL, "DesiredStream");
            Body::Receive {
                command_id: ds
                    .and_then(|d| d.attribute("CommandId"))
                    .map(str::to_string),
            }
        }
        ACTION_SIGNAL => {
            let s =
                child(body, NS_SHELL, "Signal").ok_or_else(|| ParseError("no Signal".into()))?;
            Body::Signal {
                command_id: s.attribute("CommandId").map(str::to_string),
                code: text_of(child(s, NS_SHELL, "Code")).unwrap_or_default(),
            }
        }
        _ => Body::Other,
    };
    Ok(Request {
        action,
        message_id,
        resource_uri,
        shell_id,
        operation_timeout,
        max_envelope_size,
        body: parsed_body,
    })
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A response envelope with the given action, relating to `relates_to`, and body XML.
pub fn envelope(action: &str, relates_to: &str, body: &str) -> String {
    format!(
        concat!(
            r#"<s:Envelope xml:lang="en-US" xmlns:s="{soap}" xmlns:a="{addr}" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" "#,
            r#"xmlns:w="{wsman}" xmlns:rsp="{shell}" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">"#,
            r#"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{id}</a:MessageID>"#,
            r#"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"#,
            r#"<a:RelatesTo>{rel}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        ),
        soap = NS_SOAP,
        addr = NS_ADDRESSING,
        wsman = NS_WSMAN,
        shell = NS_SHELL,
        action = escape(action),
        id = uuid::Uuid::new_v4().to_string().to_uppercase(),
        rel = escape(relates_to),
        body = body,
    )
}

/// A WS-Management fault the server answers (with HTTP 500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `s:Sender` or `s:Receiver`.
    pub code: &'static str,
    /// WS-Man subcode, e.g. `w:TimedOut`.
    pub subcode: &'static str,
    /// The wsmanfault Code (a Windows error number).
    pub wsman_code: u32,
    /// Message text.
    pub message: String,
    /// Optional w:FaultDetail URI.
    pub detail: Option<&'static str>,
}

impl Fault {
    /// OperationTimeout expired (clients re-poll).
    pub fn timed_out() -> Fault {
        Fault {
            code: "s:Receiver",
            subcode: "w:TimedOut",
            wsman_code: 2150858793,
            message: "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ".into(),
            detail: None,
        }
    }
    /// The shell does not exist.
    pub fn unknown_shell(id: &str) -> Fault {
        Fault {
            code: "s:Sender",
            subcode: "w:InvalidSelectors",
            wsman_code: 2150858843,
            message: format!("The request for the Windows Remote Shell with ShellId {id} failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "),
            detail: Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnknownShell"),
        }
    }
    /// The envelope is larger than MaxEnvelopeSize.
    pub fn max_envelope_size(limit: usize) -> Fault {
        Fault {
            code: "s:Sender",
            subcode: "w:EncodingLimit",
            wsman_code: 2150859025,
            message: format!("The WS-Management service cannot process the request because the request size exceeded the configured MaxEnvelopeSize quota ({limit} bytes). "),
            detail: Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MaxEnvelopeSize"),
        }
    }
    /// Too many commands in one shell.
    pub fn max_operations(limit: usize) -> Fault {
        Fault {
            code: "s:Receiver",
            subcode: "w:QuotaLimit",
            wsman_code: 2150859173,
            message: format!("The WS-Management service cannot process the request. This shell is allowed a maximum number of {limit} operations, which has been exceeded. Close the shell and create a new one. "),
            detail: None,
        }
    }
    /// Too many shells for the user.
    pub fn max_shells(limit: usize) -> Fault {
        Fault {
            code: "s:Receiver",
            subcode: "w:QuotaLimit",
            wsman_code: 2150859174,
            message: format!("The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. "),
            detail: None,
        }
    }
    /// A malformed request.
    pub fn malformed(why: &str) -> Fault {
        Fault {
            code: "s:Sender",
            subcode: "w:SchemaValidationError",
            wsman_code: 2150858817,
            message: format!("The WS-Management service cannot process the request because the XML is invalid: {why} "),
            detail: None,
        }
    }
    /// An action or resource the service does not support.
    pub fn unsupported(what: &str) -> Fault {
        Fault {
            code: "s:Sender",
            subcode: "w:ActionNotSupported",
            wsman_code: 2150858771,
            message: format!("The WS-Management service cannot process the request. The {what} is not supported. "),
            detail: None,
        }
    }
    /// A command id that the shell does not have.
    pub fn unknown_command(id: &str) -> Fault {
        Fault {
            code: "s:Sender",
            subcode: "w:InvalidParameter",
            wsman_code: 2150858850,
            message: format!("The Windows Remote Shell received a request to perform an operation on a command identifier {id} that does not exist. "),
            detail: None,
        }
    }
    /// The "always answer 500" error mode.
    pub fn internal() -> Fault {
        Fault {
            code: "s:Receiver",
            subcode: "w:InternalError",
            wsman_code: 2150858752,
            message: "The WS-Management service cannot process the request: internal error (forge-wsman fail_with_500 mode). ".into(),
            detail: None,
        }
    }

    /// The fault envelope.
    pub fn to_xml(&self, relates_to: &str, machine: &str) -> String {
        let detail = self
            .detail
            .map(|d| format!("<w:FaultDetail>{d}</w:FaultDetail>"))
            .unwrap_or_default();
        let body = format!(
            concat!(
                r#"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{sub}</s:Value></s:Subcode></s:Code>"#,
                r#"<s:Reason><s:Text xml:lang="en-US">{msg}</s:Text></s:Reason><s:Detail>"#,
                r#"<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{wcode}" Machine="{machine}">"#,
                r#"<f:Message>{msg}</f:Message></f:WSManFault>{detail}</s:Detail></s:Fault>"#
            ),
            code = self.code,
            sub = self.subcode,
            msg = escape(&self.message),
            wcode = self.wsman_code,
            machine = escape(machine),
            detail = detail,
        );
        envelope(
            "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault",
            relates_to,
            &body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMAND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">
<env:Header><a:Action mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command</a:Action>
<a:MessageID>uuid:1234</a:MessageID><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>
<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize><w:OperationTimeout>PT60.000S</w:OperationTimeout>
<w:SelectorSet><w:Selector Name="ShellId">ABC</w:Selector></w:SelectorSet></env:Header>
<env:Body><rsp:CommandLine><rsp:Command>echo</rsp:Command><rsp:Arguments>a &amp; b</rsp:Arguments><rsp:Arguments>c</rsp:Arguments></rsp:CommandLine></env:Body></env:Envelope>"#;

    #[test]
    fn parses_command() {
        let r = parse_request(COMMAND).unwrap();
        assert_eq!(r.action, ACTION_COMMAND);
        assert_eq!(r.message_id, "uuid:1234");
        assert_eq!(r.shell_id.as_deref(), Some("ABC"));
        assert_eq!(r.operation_timeout, Some(Duration::from_secs(60)));
        assert_eq!(r.max_envelope_size, Some(153600));
        assert_eq!(
            r.body,
            Body::Command {
                command_id: None,
                command: "echo".into(),
                arguments: vec!["a & b".into(), "c".into()]
            }
        );
    }

    #[test]
    fn parses_send_and_signal() {
        let send = COMMAND.replace(ACTION_COMMAND, ACTION_SEND).replace(
            r#"<rsp:CommandLine><rsp:Command>echo</rsp:Command><rsp:Arguments>a &amp; b</rsp:Arguments><rsp:Arguments>c</rsp:Arguments></rsp:CommandLine>"#,
            r#"<rsp:Send><rsp:Stream Name="stdin" CommandId="C1" End="true">aGVs
bG8=</rsp:Stream></rsp:Send>"#,
        );
        let r = parse_request(&send).unwrap();
        assert_eq!(
            r.body,
            Body::Send(vec![SendStream {
                name: "stdin".into(),
                command_id: Some("C1".into()),
                end: true,
                data: b"hello".to_vec()
            }])
        );
        let sig = COMMAND.replace(ACTION_COMMAND, ACTION_SIGNAL).replace(
            r#"<rsp:CommandLine><rsp:Command>echo</rsp:Command><rsp:Arguments>a &amp; b</rsp:Arguments><rsp:Arguments>c</rsp:Arguments></rsp:CommandLine>"#,
            &format!(r#"<rsp:Signal CommandId="C1"><rsp:Code>{SIGNAL_CTRL_C}</rsp:Code></rsp:Signal>"#),
        );
        let r = parse_request(&sig).unwrap();
        assert_eq!(
            r.body,
            Body::Signal {
                command_id: Some("C1".into()),
                code: SIGNAL_CTRL_C.into()
            }
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse_request("<not-xml").is_err());
        assert!(parse_request("<a/>").is_err());
        assert!(
            parse_request(&COMMAND.replace("<a:MessageID>uuid:1234</a:MessageID>", "")).is_err()
        );
        assert!(parse_request(&COMMAND.replace("PT60.000S", "sixty")).is_err());
        assert!(parse_request(&COMMAND.replace("<rsp:Command>echo</rsp:Command>", "")).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT20S"), Some(Duration::from_secs(20)));
        assert_eq!(
            parse_duration("PT1M30.5S"),
            Some(Duration::from_secs_f64(90.5))
        );
        assert_eq!(parse_duration("20"), None);
    }

    #[test]
    fn fault_is_xml_with_code() {
        let x = Fault::timed_out().to_xml("uuid:1", "HOST");
        let doc = roxmltree::Document::parse(&x).unwrap();
        assert!(doc
            .descendants()
            .any(|n| n.attribute("Code") == Some("2150858793")));
        assert!(x.contains("w:TimedOut"));
    }
}
