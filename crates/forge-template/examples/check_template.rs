//! Loads a template and prints its diagnostics (a development aid until `forge validate` lands).
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check_template PATH");
        std::process::exit(2);
    };
    let opts = forge_template::LoadOptions {
        unset_as_unknown: true,
        ..Default::default()
    };
    let l = forge_template::load(std::path::Path::new(&path), &opts);
    print!("{}", l.diags.render(&l.files));
    match &l.plan {
        Some(p) => println!("ok: {} builds", p.builds.len()),
        None => std::process::exit(1),
    }
}
