//! Reading properties of managed objects with the PropertyCollector
//! (`RetrievePropertiesEx`, continued while the server hands back a token), and listing the
//! objects of some types below a container through a `ContainerView`.

use forge_core::{Error, Result};

use crate::client::Client;
use crate::soap::{localized_fault, Moref, Node, Request};

/// One object's properties as the server returned them.
#[derive(Clone, Debug)]
pub struct ObjectContent {
    /// The object.
    pub obj: Moref,
    /// `(property path, value)` pairs; a property that is unset is absent.
    pub props: Vec<(String, Node)>,
}

impl ObjectContent {
    /// The value of property `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.props.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    /// Property `path` as text (`name`, `info.state`, ...).
    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).map(|v| v.text.as_str())
    }

    /// Property `path` as a managed object reference (`parent`, `resourcePool`, ...).
    pub fn moref(&self, path: &str) -> Option<Moref> {
        self.get(path).and_then(Node::as_moref)
    }
}

impl Client {
    /// The properties `paths` of each object in `objs` (one `propSet` per object type).
    pub async fn retrieve(&self, objs: &[Moref], paths: &[&str]) -> Result<Vec<ObjectContent>> {
        let mut kinds: Vec<&str> = Vec::new();
        for o in objs {
            if !kinds.contains(&o.kind.as_str()) {
                kinds.push(&o.kind);
            }
        }
        let mut req = Request::new("RetrievePropertiesEx", &self.content().property_collector)
            .open("specSet", None);
        for kind in kinds {
            req = prop_spec(req, kind, paths);
        }
        for o in objs {
            req = req
                .open("objectSet", None)
                .moref("obj", o)
                .boolean("skip", false)
                .close("objectSet");
        }
        let req = req.close("specSet").open("options", None).close("options");
        self.collect(req).await
    }

    /// The properties `paths` of one object.
    pub async fn retrieve_one(&self, obj: &Moref, paths: &[&str]) -> Result<ObjectContent> {
        self.retrieve(std::slice::from_ref(obj), paths)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::msg(format!("{obj} no longer exists")))
    }

    /// Every object of the types `kinds` below `container` (a folder, datacenter, compute
    /// resource, resource pool or host; `recursive`: at any depth), with the properties `paths`.
    pub async fn list_below(
        &self,
        container: &Moref,
        kinds: &[&str],
        recursive: bool,
        paths: &[&str],
    ) -> Result<Vec<ObjectContent>> {
        let view_manager = self.content().view_manager.clone().ok_or_else(|| {
            Error::msg("this server has no ViewManager: searching the inventory needs one")
        })?;
        let mut create =
            Request::new("CreateContainerView", &view_manager).moref("container", container);
        for k in kinds {
            create = create.text("type", k);
        }
        let view = self
            .call(create.boolean("recursive", recursive))
            .await?
            .moref_of("returnval")
            .ok_or_else(|| Error::msg("CreateContainerView returned no view"))?;
        let mut req = Request::new("RetrievePropertiesEx", &self.content().property_collector)
            .open("specSet", None);
        for kind in kinds {
            req = prop_spec(req, kind, paths);
        }
        let req = req
            .open("objectSet", None)
            .moref("obj", &view)
            .boolean("skip", true)
            .open("selectSet", Some("TraversalSpec"))
            .text("name", "view")
            .text("type", "ContainerView")
            .text("path", "view")
            .boolean("skip", false)
            .close("selectSet")
            .close("objectSet")
            .close("specSet")
            .open("options", None)
            .close("options");
        let found = self.collect(req).await;
        let destroyed = self.call(Request::new("DestroyView", &view)).await;
        let found = found?;
        destroyed?;
        Ok(found)
    }

    /// Runs a `RetrievePropertiesEx` and its `ContinueRetrievePropertiesEx` pages.
    async fn collect(&self, req: Request) -> Result<Vec<ObjectContent>> {
        let mut out = Vec::new();
        let mut answer = self.call(req).await?;
        loop {
            let Some(ret) = answer.child("returnval") else {
                return Ok(out);
            };
            for o in ret.children_named("objects") {
                out.push(object_content(o)?);
            }
            let Some(token) = ret.text_of("token").filter(|t| !t.is_empty()) else {
                return Ok(out);
            };
            let next = Request::new(
                "ContinueRetrievePropertiesEx",
                &self.content().property_collector,
            )
            .text("token", token);
            answer = self.call(next).await?;
        }
    }
}

fn prop_spec(req: Request, kind: &str, paths: &[&str]) -> Request {
    let mut req = req.open("propSet", None).text("type", kind);
    for p in paths {
        req = req.text("pathSet", p);
    }
    req.close("propSet")
}

fn object_content(o: &Node) -> Result<ObjectContent> {
    let obj = o
        .moref_of("obj")
        .ok_or_else(|| Error::msg("RetrievePropertiesEx: an object without a reference"))?;
    if let Some(missing) = o.children_named("missingSet").next() {
        let path = missing.text_of("path").unwrap_or_default();
        let why = missing
            .child("fault")
            .map(localized_fault)
            .unwrap_or_default();
        return Err(Error::msg(format!(
            "cannot read property {path:?} of {obj}: {why}"
        )));
    }
    let props = o
        .children_named("propSet")
        .filter_map(|p| {
            let name = p.text_of("name")?.to_string();
            Some((name, p.child("val")?.clone()))
        })
        .collect();
    Ok(ObjectContent { obj, props })
}
