//! Without the simulator, a vSphere test fails and says how to get it; it is never skipped.
//! (Alone in its test binary: it changes FORGE_VCSIM for the whole process.)
#![allow(clippy::unwrap_used)]

#[test]
fn a_missing_simulator_fails_the_test_naming_the_setup() {
    std::env::set_var("FORGE_VCSIM", "/nonexistent/forge-vcsim");
    let panic = std::panic::catch_unwind(|| {
        forge_testkit::vcsim::Vcsim::start(Default::default());
    })
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("/nonexistent/forge-vcsim"), "{msg}");
    assert!(msg.contains("scripts/test.sh --setup-only"), "{msg}");
    assert!(msg.contains("golang-github-vmware-govmomi-dev"), "{msg}");
}
