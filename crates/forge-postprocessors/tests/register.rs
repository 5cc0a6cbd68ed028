//! `register` adds the four post-processors under Packer's names.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

#[test]
fn registers_the_four_types() {
    let mut r = forge_core::Registry::new();
    forge_postprocessors::register(&mut r);
    let names: Vec<&str> = r.post_processors.keys().copied().collect();
    assert_eq!(names, ["artifice", "checksum", "compress", "manifest"]);
}
