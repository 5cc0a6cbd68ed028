//! `forge init`: resolves a template's `required_plugins` against the plugins forge has built
//! in (`forge_template::plugins`), with `packer init`'s texts where they apply. forge never
//! downloads anything: a requirement is met when forge's built-in plugin for that source is of
//! a version the constraint allows.

use std::path::Path;

use clap::{ArgAction, Args};
use forge_template::diag::Diagnostic;
use forge_template::load;
use forge_template::plugins::{builtin, BUILTIN_PLUGINS};
use forge_template::version::satisfies;

use crate::cli::TemplateArgs;
use crate::commands::fmt::go_bool;

/// `forge init [-upgrade] [-force] PATH`
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Accepted for Packer compatibility: the built-in plugins are always the newest forge has.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub upgrade: bool,
    /// Accepted for Packer compatibility: nothing is ever installed, so nothing is reinstalled.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub force: bool,
    #[command(flatten)]
    pub template: TemplateArgs,
    /// The template: a .pkr.hcl or .pkr.json file, or a directory.
    #[arg(value_name = "TEMPLATE", allow_hyphen_values = true)]
    pub paths: Vec<String>,
}

const HELP: &str = r#"Usage: forge init [options] TEMPLATE

  Check that every plugin required in a Packer config is built into forge,
  at a version its constraint allows. forge never downloads plugins.

  This is the first command that should be executed when working with a new
  or existing template.

  This command is always safe to run multiple times; it never writes anything.

Options:
  -upgrade                     Accepted for compatibility with Packer; forge's
                               built-in plugins are used whatever it is.
  -force                       Accepted for compatibility with Packer."#;

/// Where `Installed plugin …` says the plugin is: forge has them all inside.
const BUILT_IN: &str = "<built in>";

/// Runs the command; returns the exit code.
pub fn run(a: &InitArgs) -> i32 {
    if a.paths.len() != 1 {
        println!("{HELP}");
        return 1;
    }
    let plugins = crate::plugins::all();
    let mut opts = match crate::commands::validate::load_options(&a.template, &plugins) {
        Ok(o) => o,
        Err(e) => {
            println!("{e}");
            return 1;
        }
    };
    // Like `packer init`, only the template's structure matters: variables it needs may be
    // given later, to build.
    opts.unset_as_unknown = true;
    let loaded = load(Path::new(&a.paths[0]), &opts);
    let Some(plan) = loaded.plan else {
        println!("{}", loaded.diags.render(&loaded.files));
        return 1;
    };
    if plan.legacy_json {
        let d = Diagnostic::error(
            "Packer plugins currently only works with HCL2 configuration templates",
            "Please manually install plugins with the plugins command or use a HCL2 configuration that will do that for you.",
        );
        println!("{}", d.render(&loaded.files));
        return 1;
    }
    if plan.required_plugins.is_empty() {
        println!(
            "\nNo plugins requirement found, make sure you reference a Packer config\n\
             containing a packer.required_plugins block. See\n\
             https://www.packer.io/docs/templates/hcl_templates/blocks/packer\n\
             for more info."
        );
        return 0;
    }
    let mut code = 0;
    for req in &plan.required_plugins {
        match resolve(&req.source, &req.version) {
            Ok(version) => println!(
                "Installed plugin {} v{version} in {BUILT_IN:?}",
                req.source.to_ascii_lowercase()
            ),
            Err(why) => {
                println!("Failed getting the {:?} plugin:", req.source);
                println!("{why}");
                code = 1;
            }
        }
    }
    code
}

/// The version of forge's built-in plugin for a source when the constraint allows it, else
/// why not.
fn resolve(source: &str, constraint: &str) -> Result<&'static str, String> {
    let Some(plugin) = builtin(source) else {
        let mut s = format!(
            "forge has no built-in plugin {source:?} and never downloads plugins. Its built-in plugins are:\n"
        );
        for p in BUILTIN_PLUGINS {
            s.push_str(&format!(
                "  {} v{} ({})\n",
                p.source,
                p.version,
                p.components.join(", ")
            ));
        }
        return Err(s.trim_end().to_string());
    };
    match satisfies(plugin.version, constraint) {
        Ok(true) => Ok(plugin.version),
        Ok(false) => {
            let shown: Vec<&str> = constraint.split(',').map(str::trim).collect();
            Err(format!(
                "no release version found for constraints: {:?}\nforge has {} v{} built in, which does not satisfy them.",
                shown.join(", "),
                plugin.source,
                plugin.version
            ))
        }
        Err(e) => Err(format!("invalid version constraint {constraint:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn constraints_are_checked_against_the_built_in_version() {
        assert_eq!(
            resolve("github.com/hashicorp/amazon", ">= 1.0.0"),
            Ok("1.3.9")
        );
        assert_eq!(resolve("github.com/hashicorp/amazon", "~> 1"), Ok("1.3.9"));
        let e = resolve("github.com/hashicorp/amazon", ">= 9.0, < 10").unwrap_err();
        assert!(e.contains("\">= 9.0, < 10\""), "{e}");
        let e = resolve("github.com/example/nothing", ">= 1").unwrap_err();
        assert!(e.contains("github.com/hashicorp/qemu v"), "{e}");
    }
}
