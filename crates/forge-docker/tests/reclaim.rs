//! The container reclaimer: by journal entry, and by the run-id label.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

mod support;

use forge_core::journal::Resource;
use forge_core::registry::Reclaimer;
use forge_docker::builder::parse_run_command;
use forge_docker::driver::{Driver, Engine, RUN_LABEL};
use forge_docker::reclaim::{ContainerReclaimer, KIND};
use support::*;

async fn start(e: &Engine, run_id: &str, name: &str) -> String {
    let argv: Vec<String> = forge_docker::builder::DEFAULT_RUN_COMMAND
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut spec = parse_run_command(&argv, base_image()).unwrap();
    spec.name = name.into();
    spec.labels.push((RUN_LABEL.into(), run_id.into()));
    e.run(&spec).await.unwrap()
}

#[tokio::test]
async fn sweep_removes_the_containers_of_a_run_and_reclaim_removes_by_name() {
    let e = Engine::connect().await.unwrap();
    let run = format!("t{}", uuid::Uuid::new_v4().simple());
    start(&e, &run, &format!("forge-{run}-0")).await;
    start(&e, &run, &format!("forge-{run}-1")).await;
    let r = ContainerReclaimer;
    let listed = r.sweep(&run, true).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(leftovers(&run).await.len(), 2, "a dry run removes nothing");
    r.sweep(&run, false).await.unwrap();
    assert!(leftovers(&run).await.is_empty());

    // A journal entry written before the container existed names it.
    let name = format!("forge-{run}-2");
    start(&e, &run, &name).await;
    let res = Resource {
        seq: 1,
        build: "docker".into(),
        kind: KIND.into(),
        id: name.clone(),
        data: serde_json::json!({ "name": name }),
    };
    r.reclaim(&res, &Default::default()).await.unwrap();
    assert!(leftovers(&run).await.is_empty());
    // Already gone is fine.
    r.reclaim(&res, &Default::default()).await.unwrap();
}
