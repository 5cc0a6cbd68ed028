//! Parse arbitrary legacy JSON templates and render `{{ }}` strings: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = forge_template::legacy::template::parse_legacy(text);
    let vars = Default::default();
    let ctx = forge_template::legacy::interp::InterpContext::new(&vars);
    let _ = forge_template::legacy::interp::render(text, &ctx);
});
