//! The SOAP layer of vim25: requests written as XML ([`Request`]), answers read into a small
//! owned tree ([`Node`]), and SOAP faults turned into [`Fault`]s.
//!
//! Only what the client needs: element names are compared without their namespace prefix,
//! `xsi:type` is kept (the concrete type of polymorphic values and faults), and a managed object
//! reference is an element with a `type` attribute ([`Moref`]).

use std::fmt;

/// A managed object reference (`ManagedObjectReference`): its type and id, such as
/// `VirtualMachine:vm-42`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Moref {
    /// The managed object type (`VirtualMachine`, `Folder`, ...).
    pub kind: String,
    /// The server's id for it (`vm-42`, `group-d1`, ...).
    pub value: String,
}

impl Moref {
    /// A reference to `value` of type `kind`.
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> Moref {
        Moref {
            kind: kind.into(),
            value: value.into(),
        }
    }
}

impl fmt::Display for Moref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

const ENVELOPE_START: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/""#,
    r#" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#,
    r#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
    "<soapenv:Body>"
);
const ENVELOPE_END: &str = "</soapenv:Body></soapenv:Envelope>";

/// One vim25 method call being written: `Request::new("FindChild", &search_index)` opens
/// `<FindChild xmlns="urn:vim25"><_this type="SearchIndex">SearchIndex</_this>`; the builder
/// methods append its parameters in the order the WSDL lists them.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    xml: String,
}

impl Request {
    /// A call of `method` on the managed object `this`.
    pub fn new(method: &str, this: &Moref) -> Request {
        let mut r = Request {
            method: method.to_string(),
            xml: format!(r#"<{method} xmlns="urn:vim25">"#),
        };
        r.xml.push_str(&moref_xml("_this", this));
        r
    }

    /// The method's name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// `<tag>text</tag>`, escaped.
    pub fn text(mut self, tag: &str, text: &str) -> Request {
        self.xml
            .push_str(&format!("<{tag}>{}</{tag}>", escape(text)));
        self
    }

    /// `<tag xsi:type="type">text</tag>`, escaped (a value of a polymorphic type, such as an
    /// `OptionValue`'s).
    pub fn typed_text(mut self, tag: &str, xsi_type: &str, text: &str) -> Request {
        self.xml.push_str(&format!(
            r#"<{tag} xsi:type="{}">{}</{tag}>"#,
            escape(xsi_type),
            escape(text)
        ));
        self
    }

    /// `<tag>true|false</tag>`.
    pub fn boolean(self, tag: &str, value: bool) -> Request {
        self.text(tag, if value { "true" } else { "false" })
    }

    /// A managed object reference parameter: `<tag type="Kind">value</tag>`.
    pub fn moref(mut self, tag: &str, r: &Moref) -> Request {
        self.xml.push_str(&moref_xml(tag, r));
        self
    }

    /// Opens `<tag>`, with `xsi:type` when the parameter's declared type is a base type.
    pub fn open(mut self, tag: &str, xsi_type: Option<&str>) -> Request {
        match xsi_type {
            Some(t) => self
                .xml
                .push_str(&format!(r#"<{tag} xsi:type="{}">"#, escape(t))),
            None => self.xml.push_str(&format!("<{tag}>")),
        }
        self
    }

    /// Closes `</tag>`.
    pub fn close(mut self, tag: &str) -> Request {
        self.xml.push_str(&format!("</{tag}>"));
        self
    }

    /// `<tag>` holding the answer element `n` written back: its `xsi:type`, its `type`
    /// attribute, its text and its children, in their order (a device read from
    /// `config.hardware.device`, changed, and sent back in a `deviceChange`).
    pub fn node(mut self, tag: &str, n: &Node) -> Request {
        write_node(&mut self.xml, tag, n);
        self
    }

    /// A list of strings: `<tag>item</tag>` for each.
    pub fn texts(mut self, tag: &str, items: &[String]) -> Request {
        for i in items {
            self = self.text(tag, i);
        }
        self
    }

    /// The whole SOAP envelope to post.
    pub fn envelope(&self) -> String {
        format!(
            "{ENVELOPE_START}{}</{}>{ENVELOPE_END}",
            self.xml, self.method
        )
    }
}

fn moref_xml(tag: &str, r: &Moref) -> String {
    format!(
        r#"<{tag} type="{}">{}</{tag}>"#,
        escape(&r.kind),
        escape(&r.value)
    )
}

/// The XML Schema types vim25 answers name without a prefix (`xsd:string` comes back as
/// `string`); written back, they need theirs.
const XSD_TYPES: &[&str] = &[
    "string",
    "boolean",
    "int",
    "long",
    "short",
    "byte",
    "float",
    "double",
    "dateTime",
    "base64Binary",
    "anyURI",
];

fn write_node(out: &mut String, tag: &str, n: &Node) {
    out.push('<');
    out.push_str(tag);
    if let Some(t) = &n.xsi_type {
        let t = if XSD_TYPES.contains(&t.as_str()) {
            format!("xsd:{t}")
        } else {
            t.clone()
        };
        out.push_str(&format!(r#" xsi:type="{}""#, escape(&t)));
    }
    if let Some(r) = &n.ref_type {
        out.push_str(&format!(r#" type="{}""#, escape(r)));
    }
    out.push('>');
    if n.children.is_empty() {
        out.push_str(&escape(&n.text));
    } else {
        for c in &n.children {
            write_node(out, &c.name, c);
        }
    }
    out.push_str(&format!("</{tag}>"));
}

/// `s` with XML's special characters escaped, for text and attribute values.
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

/// An element of an answer: its local name, `xsi:type` (without prefix), `type` attribute
/// (set on managed object references), text and child elements.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Node {
    /// The local name (`returnval`, `propSet`, ...).
    pub name: String,
    /// `xsi:type`, without its namespace prefix (`ManagedObjectReference`, `InvalidLogin`).
    pub xsi_type: Option<String>,
    /// The `type` attribute: the kind of a managed object reference.
    pub ref_type: Option<String>,
    /// The element's own text (trimmed; empty for structures).
    pub text: String,
    /// Child elements, in document order.
    pub children: Vec<Node>,
}

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// An element holding only `text`.
    pub fn leaf(name: &str, text: &str) -> Node {
        Node {
            name: name.to_string(),
            text: text.to_string(),
            ..Node::default()
        }
    }

    /// The first child named `name`, to change.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// Sets the text of child `name`, adding it at the end when it is absent (so a caller that
    /// adds must mind the WSDL order of the type's fields).
    pub fn set(&mut self, name: &str, text: &str) {
        match self.child_mut(name) {
            Some(c) => {
                c.text = text.to_string();
                c.children.clear();
            }
            None => self.children.push(Node::leaf(name, text)),
        }
    }

    /// This element read as a managed object reference (it has a `type` attribute).
    pub fn as_moref(&self) -> Option<Moref> {
        let kind = self.ref_type.as_ref()?;
        Some(Moref::new(kind.clone(), self.text.clone()))
    }

    /// The first child named `name`, read as a managed object reference.
    pub fn moref_of(&self, name: &str) -> Option<Moref> {
        self.child(name).and_then(Node::as_moref)
    }

    fn from_xml(n: roxmltree::Node<'_, '_>) -> Node {
        let xsi_type = n
            .attributes()
            .find(|a| a.name() == "type" && a.namespace() == Some(XSI))
            .map(|a| local(a.value()).to_string());
        let ref_type = n
            .attributes()
            .find(|a| a.name() == "type" && a.namespace().is_none())
            .map(|a| a.value().to_string());
        let children: Vec<Node> = n
            .children()
            .filter(|c| c.is_element())
            .map(Node::from_xml)
            .collect();
        let text = if children.is_empty() {
            n.children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect::<String>()
                .trim()
                .to_string()
        } else {
            String::new()
        };
        Node {
            name: n.tag_name().name().to_string(),
            xsi_type,
            ref_type,
            text,
            children,
        }
    }
}

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// `xsd:string` -> `string`.
fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// A SOAP fault: the server refused the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `faultcode` (`ServerFaultCode`, `ClientFaultCode`, ...), without prefix.
    pub code: String,
    /// `faultstring`: the server's localized message.
    pub message: String,
    /// The vim25 fault type from `detail` (`InvalidLogin`, `InvalidPowerState`, ...), when given.
    pub kind: Option<String>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = if self.message.is_empty() {
            "the server gave no message"
        } else {
            self.message.as_str()
        };
        match &self.kind {
            Some(k) => write!(f, "{message} ({k}, {})", self.code),
            None => write!(f, "{message} ({})", self.code),
        }
    }
}

/// What an answer held.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The `<MethodResponse>` element.
    Response(Node),
    /// A SOAP fault.
    Fault(Fault),
}

/// Reads a SOAP answer: the first element of its body, or its fault. An error names what is
/// wrong with a document that is not a SOAP envelope.
pub fn parse_answer(xml: &str) -> Result<Answer, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("the answer is not XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" {
        return Err(format!(
            "the answer is not a SOAP envelope (it is <{}>)",
            root.tag_name().name()
        ));
    }
    let body = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "Body")
        .ok_or("the SOAP answer has no Body")?;
    let first = body
        .children()
        .find(|c| c.is_element())
        .ok_or("the SOAP answer's Body is empty")?;
    if first.tag_name().name() == "Fault" {
        return Ok(Answer::Fault(fault(&Node::from_xml(first))));
    }
    Ok(Answer::Response(Node::from_xml(first)))
}

/// A `<Fault>` element read into a [`Fault`].
fn fault(n: &Node) -> Fault {
    // vim25 puts the fault object in detail: <InvalidLoginFault xsi:type="InvalidLogin">.
    let kind = n.child("detail").and_then(|d| d.children.first()).map(|d| {
        d.xsi_type
            .clone()
            .unwrap_or_else(|| d.name.trim_end_matches("Fault").to_string())
    });
    Fault {
        code: local(n.text_of("faultcode").unwrap_or_default()).to_string(),
        message: n.text_of("faultstring").unwrap_or_default().to_string(),
        kind,
    }
}

/// The message and fault type of a `LocalizedMethodFault` (a task's `info.error`, a property's
/// `missingSet` fault), as `message (Kind)`. Where the server gives no readable message (vcsim
/// answers `*types.Kind`), the fault's own simple fields say what happened.
pub fn localized_fault(n: &Node) -> String {
    let fault = n.child("fault");
    let kind = fault.and_then(|f| f.xsi_type.clone());
    let message = n
        .text_of("localizedMessage")
        .filter(|m| !m.is_empty() && !m.starts_with("*types."))
        .map(str::to_string);
    match (message, kind) {
        (Some(m), Some(k)) => format!("{m} ({k})"),
        (Some(m), None) => m,
        (None, Some(k)) => {
            let fields: Vec<String> = fault
                .map(|f| {
                    f.children
                        .iter()
                        .filter(|c| c.children.is_empty() && !c.text.is_empty())
                        .map(|c| format!("{} {}", c.name, c.text))
                        .collect()
                })
                .unwrap_or_default();
            if fields.is_empty() {
                k
            } else {
                format!("{k} ({})", fields.join(", "))
            }
        }
        (None, None) => "the server gave no reason".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(xml: &str) -> Node {
        match parse_answer(xml).unwrap() {
            Answer::Response(n) => n,
            Answer::Fault(f) => panic!("unexpected fault {f}"),
        }
    }

    #[test]
    fn request_envelope_escapes_and_orders_parameters() {
        let req = Request::new(
            "FindByInventoryPath",
            &Moref::new("SearchIndex", "SearchIndex"),
        )
        .text("inventoryPath", "/DC0/vm/a<b>&\"c\"");
        assert_eq!(req.method(), "FindByInventoryPath");
        let xml = req.envelope();
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope"#));
        assert!(xml.contains(
            r#"<soapenv:Body><FindByInventoryPath xmlns="urn:vim25"><_this type="SearchIndex">SearchIndex</_this><inventoryPath>/DC0/vm/a&lt;b&gt;&amp;&quot;c&quot;</inventoryPath></FindByInventoryPath></soapenv:Body></soapenv:Envelope>"#
        ), "{xml}");
        // What we write, we read back.
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let path = doc
            .descendants()
            .find(|n| n.has_tag_name("inventoryPath"))
            .unwrap();
        assert_eq!(path.text(), Some("/DC0/vm/a<b>&\"c\""));
        assert_eq!(path.tag_name().namespace(), Some("urn:vim25"));
    }

    #[test]
    fn nested_parameters_carry_xsi_type() {
        let pc = Moref::new("PropertyCollector", "propertyCollector");
        let xml = Request::new("RetrievePropertiesEx", &pc)
            .open("specSet", None)
            .open("selectSet", Some("TraversalSpec"))
            .text("name", "view")
            .boolean("skip", false)
            .close("selectSet")
            .moref("obj", &Moref::new("ContainerView", "session[1]view-1"))
            .close("specSet")
            .envelope();
        assert!(xml.contains(
            r#"<specSet><selectSet xsi:type="TraversalSpec"><name>view</name><skip>false</skip></selectSet><obj type="ContainerView">session[1]view-1</obj></specSet>"#
        ), "{xml}");
        roxmltree::Document::parse(&xml).unwrap();
    }

    #[test]
    fn a_node_read_is_written_back_with_its_types() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soapenv:Body><R xmlns="urn:vim25"><returnval xsi:type="VirtualDisk"><key>2000</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds] a&amp;b.vmdk</fileName><datastore type="Datastore">datastore-1</datastore></backing><v xsi:type="xsd:string">x</v></returnval></R></soapenv:Body></soapenv:Envelope>"#;
        let mut disk = response(xml).child("returnval").unwrap().clone();
        disk.set("capacityInKB", "2048");
        let out = Request::new("X", &Moref::new("VirtualMachine", "vm-1"))
            .node("device", &disk)
            .envelope();
        assert!(out.contains(r#"<device xsi:type="VirtualDisk"><key>2000</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds] a&amp;b.vmdk</fileName><datastore type="Datastore">datastore-1</datastore></backing><v xsi:type="xsd:string">x</v><capacityInKB>2048</capacityInKB></device>"#), "{out}");
        roxmltree::Document::parse(&out).unwrap();
    }

    #[test]
    fn service_content_answer() {
        let n = response(include_str!("../testdata/service_content.xml"));
        assert_eq!(n.name, "RetrieveServiceContentResponse");
        let ret = n.child("returnval").unwrap();
        assert_eq!(
            ret.moref_of("rootFolder"),
            Some(Moref::new("Folder", "group-d1"))
        );
        assert_eq!(
            ret.moref_of("searchIndex").unwrap().to_string(),
            "SearchIndex:SearchIndex"
        );
        let about = ret.child("about").unwrap();
        assert_eq!(about.text_of("apiType"), Some("VirtualCenter"));
        assert_eq!(about.text_of("apiVersion"), Some("6.5"));
    }

    #[test]
    fn login_fault() {
        let Answer::Fault(f) = parse_answer(include_str!("../testdata/login_fault.xml")).unwrap()
        else {
            panic!("expected a fault");
        };
        assert_eq!(f.code, "ServerFaultCode");
        assert_eq!(f.message, "Login failure");
        assert_eq!(f.kind.as_deref(), Some("InvalidLogin"));
        assert_eq!(
            f.to_string(),
            "Login failure (InvalidLogin, ServerFaultCode)"
        );
    }

    #[test]
    fn fault_without_detail_or_message() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring></faultstring></s:Fault></s:Body></s:Envelope>"#;
        let Answer::Fault(f) = parse_answer(xml).unwrap() else {
            panic!("expected a fault");
        };
        assert_eq!(f.kind, None);
        assert_eq!(f.to_string(), "the server gave no message (Client)");
    }

    #[test]
    fn task_error_from_recorded_info() {
        let n = response(include_str!("../testdata/task_error.xml"));
        let info = n
            .child("returnval")
            .and_then(|r| r.child("objects"))
            .and_then(|o| o.child("propSet"))
            .and_then(|p| p.child("val"))
            .unwrap();
        // The xsi:type of vcsim's "XMLSchema-instance:type" is found by its namespace.
        assert_eq!(info.xsi_type.as_deref(), Some("TaskInfo"));
        assert_eq!(info.text_of("state"), Some("error"));
        assert_eq!(
            localized_fault(info.child("error").unwrap()),
            "InvalidPowerState (requestedState poweredOff, existingState poweredOff)"
        );
    }

    #[test]
    fn localized_message_is_preferred() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><R xmlns="urn:vim25"><error><fault xsi:type="DuplicateName"><name>x</name></fault><localizedMessage>The name 'x' already exists.</localizedMessage></error></R></soapenv:Body></soapenv:Envelope>"#;
        let n = response(xml);
        assert_eq!(
            localized_fault(n.child("error").unwrap()),
            "The name 'x' already exists. (DuplicateName)"
        );
    }

    #[test]
    fn not_soap() {
        assert!(parse_answer("<html><body>502</body></html>")
            .unwrap_err()
            .contains("not a SOAP envelope"));
        assert!(parse_answer("garbage").unwrap_err().contains("not XML"));
    }
}
