//! Finding things in the inventory as packer-plugin-vsphere (govmomi's finder) does.
//!
//! The datacenter is the one named, or the only one there is. Below it, a name is looked up in
//! the datacenter's folder for that kind of object (`host` for clusters, hosts and resource
//! pools, `vm` for VMs and folders, `datastore`, `network`):
//! - a name holding `/` is an inventory path, relative to that folder (or absolute when it
//!   starts with `/`), resolved with `SearchIndex.FindByInventoryPath`;
//! - a plain name is searched for at any depth below that folder (a host inside a cluster, a
//!   VM inside a sub-folder); two objects with that name are an error.
//!
//! Every miss is an error naming what was looked for and where.

use forge_core::{Error, Result};

use crate::client::Client;
use crate::soap::{Moref, Request};

/// A datacenter and its four top folders.
#[derive(Clone, Debug)]
pub struct Datacenter {
    /// The datacenter itself.
    pub moref: Moref,
    /// Its name.
    pub name: String,
    /// Its inventory path (`/DC0`, `/Europe/DC1`).
    pub path: String,
    /// The `vm` folder (VMs, templates, their folders).
    pub vm_folder: Moref,
    /// The `host` folder (clusters, standalone hosts).
    pub host_folder: Moref,
    /// The `datastore` folder.
    pub datastore_folder: Moref,
    /// The `network` folder.
    pub network_folder: Moref,
}

/// Something found by name: its reference, name and inventory path (as looked up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The object.
    pub moref: Moref,
    /// Its name.
    pub name: String,
    /// Where it was looked up: the inventory path, or the folder it was searched below.
    pub path: String,
}

/// Which of the datacenter's folders a kind of object lives in.
#[derive(Clone, Copy, Debug)]
enum Top {
    Vm,
    Host,
    Datastore,
    Network,
}

impl Top {
    fn dir(self) -> &'static str {
        match self {
            Top::Vm => "vm",
            Top::Host => "host",
            Top::Datastore => "datastore",
            Top::Network => "network",
        }
    }
}

/// What one kind of lookup searches for.
struct Kind {
    /// The word used in errors (`cluster`, `host`, ...).
    what: &'static str,
    top: Top,
    /// The managed object types that count as a match.
    types: &'static [&'static str],
}

const CLUSTER: Kind = Kind {
    what: "cluster",
    top: Top::Host,
    types: &["ClusterComputeResource"],
};
const HOST: Kind = Kind {
    what: "host",
    top: Top::Host,
    types: &["HostSystem"],
};
const DATASTORE: Kind = Kind {
    what: "datastore",
    top: Top::Datastore,
    types: &["Datastore"],
};
const DATASTORE_CLUSTER: Kind = Kind {
    what: "datastore cluster",
    top: Top::Datastore,
    types: &["StoragePod"],
};
const NETWORK: Kind = Kind {
    what: "network",
    top: Top::Network,
    // Network covers its subtypes (distributed port groups, opaque networks) in a view.
    types: &["Network", "DistributedVirtualPortgroup", "OpaqueNetwork"],
};
const VM: Kind = Kind {
    what: "VM",
    top: Top::Vm,
    types: &["VirtualMachine"],
};

impl Client {
    /// The inventory path `path`'s object, if there is one.
    pub async fn find_by_inventory_path(&self, path: &str) -> Result<Option<Moref>> {
        let req = Request::new("FindByInventoryPath", &self.content().search_index)
            .text("inventoryPath", path);
        Ok(self.call(req).await?.moref_of("returnval"))
    }

    /// The child of `parent` (a folder, datacenter, compute resource or resource pool) named
    /// `name`, if there is one.
    pub async fn find_child(&self, parent: &Moref, name: &str) -> Result<Option<Moref>> {
        let req = Request::new("FindChild", &self.content().search_index)
            .moref("entity", parent)
            .text("name", name);
        Ok(self.call(req).await?.moref_of("returnval"))
    }

    /// The datacenter named `name` (a name or inventory path); without a name, the only
    /// datacenter there is. Several datacenters and no name, or an unknown name, are errors.
    pub async fn datacenter(&self, name: Option<&str>) -> Result<Datacenter> {
        let name = name.filter(|n| !n.is_empty());
        let (moref, path) = match name {
            Some(n) if n.contains('/') => {
                let path = absolute("", n);
                match self.find_by_inventory_path(&path).await? {
                    Some(m) if m.kind == "Datacenter" => (m, path),
                    _ => return Err(no_datacenter(n, &path)),
                }
            }
            Some(n) => {
                let path = format!("/{n}");
                match self.find_by_inventory_path(&path).await? {
                    Some(m) if m.kind == "Datacenter" => (m, path),
                    // Inside a folder: searched for at any depth.
                    _ => {
                        let mut all = self.all_datacenters().await?;
                        all.retain(|(_, dc_name, _)| dc_name == n);
                        match all.len() {
                            0 => return Err(no_datacenter(n, &path)),
                            1 => {
                                let (m, _, p) = all.remove(0);
                                let path = self.datacenter_path(&m, p).await?;
                                (m, path)
                            }
                            k => {
                                return Err(Error::msg(format!(
                                "datacenter {n:?} is ambiguous: {k} datacenters have that name; \
                                     give its inventory path instead"
                            )))
                            }
                        }
                    }
                }
            }
            None => {
                let mut all = self.all_datacenters().await?;
                match all.len() {
                    0 => return Err(Error::msg(format!("{} has no datacenter", self.url()))),
                    1 => {
                        let (m, _, p) = all.remove(0);
                        let path = self.datacenter_path(&m, p).await?;
                        (m, path)
                    }
                    _ => {
                        let mut names: Vec<String> = all.into_iter().map(|(_, n, _)| n).collect();
                        names.sort();
                        return Err(Error::msg(format!(
                            "no datacenter given, and {} has several ({}): set datacenter",
                            self.url(),
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        let o = self
            .retrieve_one(
                &moref,
                &[
                    "name",
                    "vmFolder",
                    "hostFolder",
                    "datastoreFolder",
                    "networkFolder",
                ],
            )
            .await?;
        let folder = |p: &str| {
            o.moref(p)
                .ok_or_else(|| Error::msg(format!("datacenter {path} has no {p}")))
        };
        Ok(Datacenter {
            name: o.text("name").unwrap_or_default().to_string(),
            vm_folder: folder("vmFolder")?,
            host_folder: folder("hostFolder")?,
            datastore_folder: folder("datastoreFolder")?,
            network_folder: folder("networkFolder")?,
            moref,
            path,
        })
    }

    /// `(datacenter, name, inventory path when it sits in the root folder)` of every datacenter.
    async fn all_datacenters(&self) -> Result<Vec<(Moref, String, Option<String>)>> {
        let root = self.content().root_folder.clone();
        Ok(self
            .list_below(&root, &["Datacenter"], true, &["name", "parent"])
            .await?
            .into_iter()
            .map(|o| {
                let name = o.text("name").unwrap_or_default().to_string();
                let path = (o.moref("parent").as_ref() == Some(&root)).then(|| format!("/{name}"));
                (o.obj, name, path)
            })
            .collect())
    }

    /// The inventory path of a datacenter listed by `all_datacenters`.
    async fn datacenter_path(&self, moref: &Moref, path: Option<String>) -> Result<String> {
        match path {
            Some(p) => Ok(p),
            None => self.inventory_path(moref).await,
        }
    }

    /// The inventory path of `obj`, from its parents' names.
    pub async fn inventory_path(&self, obj: &Moref) -> Result<String> {
        let root = &self.content().root_folder;
        let mut names = Vec::new();
        let mut at = obj.clone();
        while &at != root {
            let o = self.retrieve_one(&at, &["name", "parent"]).await?;
            names.push(o.text("name").unwrap_or_default().to_string());
            match o.moref("parent") {
                Some(p) => at = p,
                None => break,
            }
            if names.len() > 64 {
                return Err(Error::msg(format!(
                    "{obj}: the inventory is deeper than 64 levels"
                )));
            }
        }
        names.reverse();
        Ok(format!("/{}", names.join("/")))
    }

    /// The VM folder `name` (an inventory path relative to the datacenter's `vm` folder, or
    /// absolute); empty: the `vm` folder itself.
    pub async fn folder(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        let base = format!("{}/vm", dc.path);
        let trimmed = name.trim_matches('/');
        if trimmed.is_empty() && !name.starts_with('/') {
            return Ok(Found {
                moref: dc.vm_folder.clone(),
                name: "vm".to_string(),
                path: base,
            });
        }
        let path = absolute(&base, name);
        match self.find_by_inventory_path(&path).await? {
            Some(m) if m.kind == "Folder" => Ok(Found {
                moref: m,
                name: last(&path),
                path,
            }),
            Some(m) => Err(Error::msg(format!(
                "folder {name:?}: {path} is not a folder but a {}",
                m.kind
            ))),
            None => Err(Error::msg(format!("folder {name:?} not found: no {path}"))),
        }
    }

    /// The cluster `name`.
    pub async fn cluster(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        self.find_kind(dc, &CLUSTER, name).await
    }

    /// The host `name` (standalone, or in a cluster).
    pub async fn host(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        self.find_kind(dc, &HOST, name).await
    }

    /// The datastore `name`.
    pub async fn datastore(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        self.find_kind(dc, &DATASTORE, name).await
    }

    /// The datastore cluster (storage pod) `name`.
    pub async fn datastore_cluster(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        self.find_kind(dc, &DATASTORE_CLUSTER, name).await
    }

    /// The network `name` (a standard port group, distributed port group or opaque network).
    pub async fn network(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        self.find_kind(dc, &NETWORK, name).await
    }

    /// The VM (or template) `name`: a name searched for below the `vm` folder, or an inventory
    /// path.
    pub async fn vm(&self, dc: &Datacenter, name: &str) -> Result<Found> {
        self.find_kind(dc, &VM, name).await
    }

    /// The resource pool `name` of a cluster or host (`owner`, found by [`Client::cluster`] or
    /// [`Client::host`]): a path below the owner's root pool (`Resources`), as Packer's
    /// `resource_pool`; empty, or `Resources`, is the root pool itself.
    pub async fn resource_pool(&self, owner: &Found, name: &str) -> Result<Found> {
        // A host's pool belongs to its compute resource (for a standalone host, a
        // ComputeResource of the same name).
        let compute = if owner.moref.kind == "HostSystem" {
            self.retrieve_one(&owner.moref, &["parent"])
                .await?
                .moref("parent")
                .ok_or_else(|| Error::msg(format!("host {} has no parent", owner.path)))?
        } else {
            owner.moref.clone()
        };
        let root = self
            .retrieve_one(&compute, &["resourcePool"])
            .await?
            .moref("resourcePool")
            .ok_or_else(|| {
                Error::msg(format!(
                    "{} {} has no resource pool",
                    owner.moref.kind, owner.path
                ))
            })?;
        let compute_path = if owner.moref.kind == "HostSystem" {
            owner
                .path
                .rsplit_once('/')
                .map_or(owner.path.as_str(), |(p, _)| p)
        } else {
            owner.path.as_str()
        };
        let mut path = format!("{compute_path}/Resources");
        let mut at = root;
        let rel = name.trim_matches('/');
        let rel = rel
            .strip_prefix("Resources")
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .unwrap_or(rel);
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(part);
            at = match self.find_child(&at, part).await? {
                Some(m) if m.kind == "ResourcePool" || m.kind == "VirtualApp" => m,
                _ => {
                    return Err(Error::msg(format!(
                        "resource pool {name:?} not found: no {path}"
                    )))
                }
            };
        }
        Ok(Found {
            moref: at,
            name: last(&path),
            path,
        })
    }

    async fn find_kind(&self, dc: &Datacenter, kind: &Kind, name: &str) -> Result<Found> {
        let base = format!("{}/{}", dc.path, kind.top.dir());
        if name.trim().is_empty() {
            return Err(Error::msg(format!(
                "no {} name given (looked under {base})",
                kind.what
            )));
        }
        if name.contains('/') {
            let path = absolute(&base, name);
            return match self.find_by_inventory_path(&path).await? {
                Some(m) if kind.types.contains(&m.kind.as_str()) => Ok(Found {
                    moref: m,
                    name: last(&path),
                    path,
                }),
                Some(m) => Err(Error::msg(format!(
                    "{} {name:?}: {path} is a {}, not a {}",
                    kind.what, m.kind, kind.what
                ))),
                None => Err(Error::msg(format!(
                    "{} {name:?} not found: no {path}",
                    kind.what
                ))),
            };
        }
        // A direct child first (one call), then anywhere below the folder.
        let direct = format!("{base}/{name}");
        if let Some(m) = self.find_by_inventory_path(&direct).await? {
            if kind.types.contains(&m.kind.as_str()) {
                return Ok(Found {
                    moref: m,
                    name: name.to_string(),
                    path: direct,
                });
            }
        }
        let folder = match kind.top {
            Top::Vm => &dc.vm_folder,
            Top::Host => &dc.host_folder,
            Top::Datastore => &dc.datastore_folder,
            Top::Network => &dc.network_folder,
        };
        let mut hits: Vec<Moref> = self
            .list_below(folder, kind.types, true, &["name"])
            .await?
            .into_iter()
            .filter(|o| o.text("name") == Some(name))
            .map(|o| o.obj)
            .collect();
        hits.dedup();
        match hits.len() {
            0 => Err(Error::msg(format!(
                "{} {name:?} not found under {base}",
                kind.what
            ))),
            1 => {
                let moref = hits.remove(0);
                let path = self.inventory_path(&moref).await?;
                Ok(Found {
                    moref,
                    name: name.to_string(),
                    path,
                })
            }
            k => Err(Error::msg(format!(
                "{} {name:?} is ambiguous: {k} objects have that name under {base}; \
                 give an inventory path instead",
                kind.what
            ))),
        }
    }
}

fn no_datacenter(name: &str, path: &str) -> Error {
    Error::msg(format!("datacenter {name:?} not found: no {path}"))
}

/// `name` as an absolute inventory path: itself when it starts with `/`, else below `base`.
fn absolute(base: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.trim_end_matches('/').to_string()
    } else {
        format!("{base}/{}", name.trim_end_matches('/'))
    }
}

/// The last element of an inventory path.
fn last(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_paths() {
        assert_eq!(absolute("/DC0/vm", "a/b"), "/DC0/vm/a/b");
        assert_eq!(absolute("/DC0/vm", "/DC1/vm/x/"), "/DC1/vm/x");
        assert_eq!(absolute("", "Europe/DC1"), "/Europe/DC1");
        assert_eq!(last("/DC0/host/DC0_C0"), "DC0_C0");
    }
}
