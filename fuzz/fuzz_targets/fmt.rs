//! Format arbitrary HCL text as `forge fmt` and `forge hcl2_upgrade` do: never a panic, never a
//! hang (run with `-timeout=2`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = forge_template::format::format_hcl(text);
    let _ = forge_template::format::format_hcl_unchecked(text);
});
