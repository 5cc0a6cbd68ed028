//! Formats HCL read from standard input the way `packer fmt` does and writes it to standard
//! output. On a syntax error it prints the error to standard error and exits with status 1.

use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    if let Err(err) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("error: reading standard input: {err}");
        std::process::exit(1);
    }
    let Ok(text) = String::from_utf8(input) else {
        eprintln!("error: the input is not valid UTF-8");
        std::process::exit(1);
    };
    match forge_template::format::format_hcl(&text) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                std::process::exit(1);
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
    }
}
