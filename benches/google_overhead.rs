//! googlecompute's overhead over its floor: a build (communicator `none`, so nothing but API
//! calls) against forge-testkit's fake Compute Engine with 0 and 50 ms of latency injected per
//! call. The floor is the time the fake spent answering (latency and operation waits; forge's
//! calls are serial); the overhead is the build's wall time above it. Also reports the API calls
//! and the operation polls (forge waits with the API's `wait`, at most one call a second).
//! `cargo bench --profile dev --bench google_overhead` (the release profile rebuilds everything
//! with LTO); the issue's target is an overhead of at most 10 % at 50 ms.
#![allow(clippy::unwrap_used)]

use forge_testkit::build::Sandbox;
use forge_testkit::gce::{FakeGce, PROJECT};

const FORGE: &str = env!("CARGO_BIN_EXE_forge");

fn main() {
    for latency in [0u64, 50] {
        let g = FakeGce::start();
        g.set_latency(std::time::Duration::from_millis(latency));
        let t = format!(
            r#"
source "googlecompute" "fake" {{
  project_id              = "{PROJECT}"
  zone                    = "us-central1-a"
  source_image_family     = "debian-12"
  source_image_project_id = ["debian-cloud"]
  account_file            = "{}"
  custom_endpoints        = {{ compute = "{}" }}
  communicator            = "none"
  image_name              = "bench-{latency}"
}}
build {{
  sources = ["source.googlecompute.fake"]
}}
"#,
            g.account_file().display(),
            g.endpoint()
        );
        let sb = Sandbox::new(FORGE, &[("t.pkr.hcl", &t)]);
        let start = std::time::Instant::now();
        let out = sb.run(&["build", "-color=false", "t.pkr.hcl"], None, &[]);
        let wall = start.elapsed();
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let floor = g.busy();
        let over = wall.saturating_sub(floor);
        println!(
            "latency {latency} ms: wall {wall:.3?}, floor {floor:.3?}, overhead {over:.3?} ({:.1} %), {} API calls, {} operation polls",
            over.as_secs_f64() * 100.0 / floor.as_secs_f64(),
            g.calls().len(),
            g.operation_polls()
        );
    }
}
