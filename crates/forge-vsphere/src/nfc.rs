//! OVF export over an NFC lease: `ExportVm` hands out an `HttpNfcLease`; once it is ready its
//! `info.deviceUrl` lists the VM's files, each fetched over HTTPS with the SOAP session's
//! cookie while `HttpNfcLeaseProgress` keeps the lease alive; then the lease is completed (or
//! aborted on failure) and the `OvfManager` writes the descriptor for the files fetched.

use std::time::{Duration, Instant};

use forge_core::{Error, Result};

use crate::client::{chain, Client};
use crate::soap::{Moref, Node, Request};

/// How long a lease may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// How often the transfer reports its progress (which also keeps the lease alive).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// One file the lease offers (an `HttpNfcLeaseDeviceUrl`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceUrl {
    /// `key`: the device's id, which the descriptor's `OvfFile.deviceId` repeats.
    pub key: String,
    /// `targetId`: the file's name in the export (`disk-0.vmdk`).
    pub target_id: String,
    /// `url`, with the server's host in place of `*`.
    pub url: String,
    /// `disk`: whether it is a disk (the rest are image files: nvram, ISOs, floppies).
    pub disk: bool,
    /// `fileSize`, when the server knows it.
    pub size: Option<u64>,
    /// `importKey`: on an import lease, the `OvfFileItem.deviceId` this URL takes.
    pub import_key: String,
}

/// A ready lease: its reference and the files it offers.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The `HttpNfcLease`.
    pub moref: Moref,
    /// `info.deviceUrl`.
    pub devices: Vec<DeviceUrl>,
    /// `info.totalDiskCapacityInKB`, for the progress percentage.
    pub total_kb: u64,
    /// `info.entity`: the VM exported, or the one an import makes.
    pub entity: Option<Moref>,
}

/// A file fetched, as the descriptor names it (`OvfFile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OvfFile {
    /// The device's key.
    pub device_id: String,
    /// The file's name in the export.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What `CreateDescriptor` is asked for (`OvfCreateDescriptorParams`).
#[derive(Clone, Debug, Default)]
pub struct DescriptorParams {
    /// The files fetched.
    pub files: Vec<OvfFile>,
    /// The package's name.
    pub name: String,
    /// Advanced export options (`mac`, `uuid`, `extraconfig`, `nodevicesubtypes`).
    pub options: Vec<String>,
}

/// Replaces the `*` host vCenter puts in device URLs with the host of `sdk_url`.
pub fn device_url(raw: &str, sdk_url: &str) -> String {
    let host = sdk_url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or_default();
    match raw.split_once("://*") {
        Some((scheme, rest)) => format!("{scheme}://{host}{rest}"),
        None => raw.to_string(),
    }
}

/// Reads a lease's `info` (`HttpNfcLeaseInfo`).
pub fn parse_lease_info(lease: &Moref, info: &Node, sdk_url: &str) -> Lease {
    let devices = info
        .children_named("deviceUrl")
        .map(|d| DeviceUrl {
            key: d.text_of("key").unwrap_or_default().to_string(),
            target_id: d.text_of("targetId").unwrap_or_default().to_string(),
            url: device_url(d.text_of("url").unwrap_or_default(), sdk_url),
            disk: d.text_of("disk") == Some("true"),
            size: d.text_of("fileSize").and_then(|s| s.parse().ok()),
            import_key: d.text_of("importKey").unwrap_or_default().to_string(),
        })
        .collect();
    Lease {
        moref: lease.clone(),
        devices,
        total_kb: info
            .text_of("totalDiskCapacityInKB")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        entity: info.moref_of("entity"),
    }
}

impl Client {
    /// `ExportVm`: a lease on `vm`'s files (the VM must be powered off).
    pub async fn export_vm(&self, vm: &Moref) -> Result<Moref> {
        self.call(Request::new("ExportVm", vm))
            .await?
            .moref_of("returnval")
            .ok_or_else(|| Error::msg("ExportVm: the server returned no lease"))
    }

    /// Waits until `lease` is ready and reads its files; a lease in error is an error.
    pub async fn wait_lease(&self, lease: &Moref) -> Result<Lease> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut pause = Duration::from_millis(50);
        loop {
            let o = self
                .retrieve_one(lease, &["state", "error", "info"])
                .await?;
            match o.text("state").unwrap_or_default() {
                "ready" => {
                    let info = o.get("info").ok_or_else(|| {
                        Error::msg(format!("lease {}: ready but without info", lease.value))
                    })?;
                    return Ok(parse_lease_info(lease, info, self.url()));
                }
                "error" => {
                    let why = o
                        .get("error")
                        .map(crate::soap::localized_fault)
                        .unwrap_or_else(|| "no error given".into());
                    return Err(Error::msg(format!("lease {}: {why}", lease.value)));
                }
                "done" => {
                    return Err(Error::msg(format!(
                        "lease {} ended before the transfer",
                        lease.value
                    )))
                }
                state => {
                    if Instant::now() >= deadline {
                        return Err(Error::msg(format!(
                            "lease {} was not ready within {} s (it is {state:?})",
                            lease.value,
                            READY_TIMEOUT.as_secs()
                        )));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// `HttpNfcLeaseProgress`.
    pub async fn lease_progress(&self, lease: &Moref, percent: u8) -> Result<()> {
        let r = Request::new("HttpNfcLeaseProgress", lease).text("percent", &percent.to_string());
        self.call(r).await.map(|_| ())
    }

    /// `HttpNfcLeaseComplete`.
    pub async fn lease_complete(&self, lease: &Moref) -> Result<()> {
        self.call(Request::new("HttpNfcLeaseComplete", lease))
            .await
            .map(|_| ())
    }

    /// `HttpNfcLeaseAbort`.
    pub async fn lease_abort(&self, lease: &Moref) -> Result<()> {
        self.call(Request::new("HttpNfcLeaseAbort", lease))
            .await
            .map(|_| ())
    }

    /// Streams `device` into `out`, feeding each chunk to `sink` too (a hash), and reports
    /// `progress` to the lease every few seconds (which keeps it alive). The number of bytes.
    pub async fn download_device(
        &self,
        device: &DeviceUrl,
        out: &mut tokio::fs::File,
        sink: &mut (dyn FnMut(&[u8]) + Send),
        progress: &Progress,
    ) -> Result<u64> {
        use tokio::io::AsyncWriteExt;
        let mut req = self
            .http()
            .get(&device.url)
            // A disk may take hours; the client's timeout is for SOAP calls.
            .timeout(Duration::from_secs(24 * 3600));
        if let Some(c) = self.session_cookie() {
            req = req.header("Cookie", c);
        }
        self.count_round_trip();
        let what = |e: &dyn std::error::Error| {
            Error::msg(format!("downloading {}: {}", device.target_id, chain(e)))
        };
        let mut resp = req.send().await.map_err(|e| what(&e))?;
        if !resp.status().is_success() {
            return Err(Error::msg(format!(
                "downloading {} from {}: HTTP {}",
                device.target_id,
                device.url,
                resp.status()
            )));
        }
        let mut n: u64 = 0;
        let mut last = Instant::now();
        while let Some(chunk) = resp.chunk().await.map_err(|e| what(&e))? {
            sink(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::msg(format!("writing {}: {e}", device.target_id)))?;
            n += chunk.len() as u64;
            if last.elapsed() >= PROGRESS_EVERY {
                last = Instant::now();
                let p = percent(progress.done + n, progress.total_kb);
                // A failed report is not fatal: the lease's own timeout is minutes long.
                let _ = self.lease_progress(&progress.lease, p).await;
            }
        }
        out.flush()
            .await
            .map_err(|e| Error::msg(format!("writing {}: {e}", device.target_id)))?;
        Ok(n)
    }

    /// The export options the server knows (`OvfManager.ovfExportOption[].option`).
    pub async fn ovf_export_options(&self) -> Result<Vec<String>> {
        let m = self.ovf_manager()?;
        let o = self.retrieve_one(&m, &["ovfExportOption"]).await?;
        Ok(o.get("ovfExportOption")
            .map(|n| {
                n.children
                    .iter()
                    .filter_map(|c| c.text_of("option").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `CreateDescriptor`: the OVF descriptor of `vm` for the files fetched.
    pub async fn create_descriptor(&self, vm: &Moref, p: &DescriptorParams) -> Result<String> {
        let m = self.ovf_manager()?;
        let mut r = Request::new("CreateDescriptor", &m)
            .moref("obj", vm)
            .open("cdp", None);
        // OvfCreateDescriptorParams: ovfFiles, name, description, includeImageFiles,
        // exportOption; OvfFile: deviceId, path, compressionMethod, chunkSize, size.
        for f in &p.files {
            r = r
                .open("ovfFiles", None)
                .text("deviceId", &f.device_id)
                .text("path", &f.path)
                .text("size", &f.size.to_string())
                .close("ovfFiles");
        }
        r = r.text("name", &p.name);
        for o in &p.options {
            r = r.text("exportOption", o);
        }
        let answer = self.call(r.close("cdp")).await?;
        descriptor_of(&answer)
    }

    pub(crate) fn ovf_manager(&self) -> Result<Moref> {
        self.content().ovf_manager.clone().ok_or_else(|| {
            Error::msg("the server has no OvfManager: OVF export needs a vCenter or ESXi host")
        })
    }
}

/// Where a transfer stands, for the lease's progress reports.
#[derive(Clone, Debug)]
pub struct Progress {
    /// The lease.
    pub lease: Moref,
    /// Bytes of earlier files already transferred.
    pub done: u64,
    /// `info.totalDiskCapacityInKB`.
    pub total_kb: u64,
}

/// The `returnval` of an `OvfManager` answer (`method`'s); the `error` entries it lists, if
/// any, are an error starting with `what`.
pub fn ovf_result<'a>(answer: &'a Node, method: &str, what: &str) -> Result<&'a Node> {
    let rv = answer
        .child("returnval")
        .ok_or_else(|| Error::msg(format!("{method} returned nothing")))?;
    let errors: Vec<String> = rv
        .children_named("error")
        .map(crate::soap::localized_fault)
        .collect();
    if errors.is_empty() {
        Ok(rv)
    } else {
        Err(Error::msg(format!("{what}: {}", errors.join("; "))))
    }
}

/// The descriptor in a `CreateDescriptorResponse`; its errors, if any, are an error.
pub fn descriptor_of(answer: &Node) -> Result<String> {
    let rv = ovf_result(answer, "CreateDescriptor", "CreateDescriptor")?;
    rv.text_of("ovfDescriptor")
        .map(str::to_string)
        .ok_or_else(|| Error::msg("CreateDescriptor returned no ovfDescriptor"))
}

/// The percentage of `total_kb` that `bytes` is (0..=100).
pub fn percent(bytes: u64, total_kb: u64) -> u8 {
    if total_kb == 0 {
        return 0;
    }
    ((bytes / 1024).saturating_mul(100) / total_kb).min(100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{parse_answer, Answer};

    fn answer(xml: &str) -> Node {
        match parse_answer(xml).unwrap() {
            Answer::Response(n) => n,
            Answer::Fault(f) => panic!("fault {f}"),
        }
    }

    #[test]
    fn star_host_becomes_the_servers() {
        assert_eq!(
            device_url(
                "https://*/nfc/52a1/disk-0.vmdk",
                "https://vc.example.com:443/sdk"
            ),
            "https://vc.example.com:443/nfc/52a1/disk-0.vmdk"
        );
        assert_eq!(
            device_url("https://esx1/nfc/1/disk-0.vmdk", "https://vc/sdk"),
            "https://esx1/nfc/1/disk-0.vmdk"
        );
    }

    #[test]
    fn lease_info_lists_the_devices() {
        let xml = include_str!("../testdata/lease_info.xml");
        let n = answer(xml);
        let info = n
            .child("returnval")
            .and_then(|r| r.child("objects"))
            .and_then(|r| {
                r.children_named("propSet")
                    .find(|p| p.text_of("name") == Some("info"))
            })
            .and_then(|p| p.child("val"))
            .unwrap();
        let l = parse_lease_info(
            &Moref::new("HttpNfcLease", "session[1]lease"),
            info,
            "https://127.0.0.1:8989/sdk",
        );
        assert_eq!(l.total_kb, 4);
        assert_eq!(l.devices.len(), 2);
        assert_eq!(l.devices[0].target_id, "disk-0.vmdk");
        assert_eq!(l.devices[0].key, "/vm-42/VirtualLsiLogicController0:0");
        assert!(l.devices[0].disk);
        assert_eq!(
            l.devices[0].url,
            "https://127.0.0.1:8989/nfc/52-lease/disk-0.vmdk"
        );
        assert!(!l.devices[1].disk);
        assert_eq!(l.devices[1].size, Some(8684));
    }

    #[test]
    fn descriptor_errors_are_errors() {
        let ok = answer(include_str!("../testdata/create_descriptor.xml"));
        assert!(descriptor_of(&ok).unwrap().starts_with("<?xml"));
        let bad = answer(
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><CreateDescriptorResponse xmlns="urn:vim25"><returnval><ovfDescriptor></ovfDescriptor><error><fault xsi:type="FileNotFound" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><file>disk-0.vmdk</file></fault><localizedMessage>File disk-0.vmdk was not found</localizedMessage></error></returnval></CreateDescriptorResponse></soapenv:Body></soapenv:Envelope>"#,
        );
        let e = descriptor_of(&bad).unwrap_err().to_string();
        assert!(e.contains("disk-0.vmdk was not found"), "{e}");
    }

    #[test]
    fn progress_percentage() {
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(512 * 1024, 1024), 50);
        assert_eq!(percent(10 << 20, 1024), 100);
    }
}
