//! Uploads a local file to a datastore with forge's uploader and prints how long it took; run by
//! `scripts/bench-vsphere-upload.sh`.
//!
//! `upload SERVER USER PASSWORD DATASTORE REMOTE_PATH LOCAL_FILE` (insecure TLS, the only
//! datacenter).
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use forge_vsphere::{Client, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        eprintln!("usage: upload SERVER USER PASSWORD DATASTORE REMOTE_PATH LOCAL_FILE");
        std::process::exit(2);
    }
    let c = Client::connect(&Config::new(&a[1], &a[2], &a[3], true))
        .await
        .unwrap();
    let dc = c.datacenter(None).await.unwrap();
    let start = Instant::now();
    let n = c
        .upload_datastore_file(&dc, &a[4], &a[5], std::path::Path::new(&a[6]))
        .await
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "forge: {n} bytes in {secs:.3} s = {:.1} MiB/s",
        n as f64 / secs / 1048576.0
    );
    let _ = c.logout().await;
}
