//! Parse and evaluate arbitrary HCL2 text: whatever the input, loading returns a plan or
//! diagnostics, and rendering the diagnostics works; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // bcrypt() is slow on purpose (2^cost rounds, 0.1 s at the default cost, seconds under the
    // fuzzer's instrumentation): a unit calling it is not a parser hang.
    if text.contains("bcrypt") {
        return;
    }
    let opts = forge_template::LoadOptions {
        unset_as_unknown: true,
        env: Some(Default::default()),
        ..Default::default()
    };
    let root = std::env::temp_dir();
    for name in ["fuzz.pkr.hcl", "fuzz.pkr.json"] {
        let l = forge_template::load_hcl_text(name, text, &root, &opts);
        let _ = l.diags.render(&l.files);
        if let Some(plan) = l.plan {
            for b in &plan.builds {
                let _ = b.builder.config.to_console_string();
            }
        }
    }
    // One expression, as the console evaluates it.
    if let Ok(v) = forge_template::console::eval_line(text, &[], root) {
        let _ = v.to_console_string();
    }
});
