//! Reclaims the VMs a dead run imported: powered off, unregistered and deleted.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::registry::{Origin, ReclaimError, Reclaimer};

use crate::driver::{Driver, VBoxManage};

/// The journal kind of a VM a build registered.
pub const KIND: &str = "virtualbox-vm";

/// Removes build VMs.
pub struct VmReclaimer;

/// Removes `vm` through `driver`; a VM VirtualBox does not know is already gone.
pub async fn remove(driver: &dyn Driver, vm: &str) -> Result<(), String> {
    if driver.is_running(vm).await.unwrap_or(false) {
        driver.stop(vm).await.map_err(|e| e.to_string())?;
    }
    match driver.delete(vm).await {
        Ok(()) => Ok(()),
        Err(e)
            if e.to_string()
                .contains("Could not find a registered machine") =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[async_trait]
impl Reclaimer for VmReclaimer {
    fn kinds(&self) -> &'static [&'static str] {
        &[KIND]
    }
    async fn reclaim(&self, r: &Resource, _: &Origin) -> Result<(), ReclaimError> {
        let d = VBoxManage::find().map_err(|e| e.to_string())?;
        let name = r.data["name"].as_str().unwrap_or(r.id.as_str());
        Ok(remove(&d, name).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::v;
    use crate::fake::FakeDriver;

    #[tokio::test]
    async fn stops_deletes_and_accepts_a_vm_already_gone() {
        let f = FakeDriver::new();
        f.register("vm");
        f.run(&v(&["startvm", "vm"])).await.unwrap();
        remove(&f, "vm").await.unwrap();
        assert!(f.registered().is_empty());
        assert_eq!(f.calls_of("controlvm").len(), 1);
        remove(&f, "vm").await.unwrap();
        f.register("vm");
        f.fail_on("unregistervm", "VBoxManage: error: locked", 1);
        assert!(remove(&f, "vm").await.unwrap_err().contains("locked"));
    }
}
