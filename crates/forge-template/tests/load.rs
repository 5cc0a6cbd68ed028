//! Loading HCL2 templates into build plans: variables and their precedence, the locals/data
//! graph, build expansion and filtering, and the errors for bad input.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use forge_testkit::tempdir;

use std::collections::HashMap;

use forge_template::{load, LoadOptions, Loaded};

use tempdir::dir;

fn opts() -> LoadOptions {
    LoadOptions {
        env: Some(HashMap::new()),
        ..LoadOptions::default()
    }
}

fn errors(l: &Loaded) -> String {
    l.diags.render(&l.files)
}

fn var(l: &Loaded, name: &str) -> String {
    let plan = l.plan.as_ref().unwrap_or_else(|| panic!("{}", errors(l)));
    plan.variables
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_console_string())
        .unwrap()
}

const BASIC: &str = r#"
variable "fruit" {
  type    = string
  default = "apple"
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
"#;

#[test]
fn var_beats_var_file_whatever_the_order() {
    let d = dir(&[
        ("t.pkr.hcl", BASIC),
        ("x.pkrvars.hcl", "fruit = \"banana\"\n"),
    ]);
    let mut o = opts();
    o.vars.push(("fruit".into(), "cherry".into()));
    o.var_files.push(d.join("x.pkrvars.hcl"));
    assert_eq!(var(&load(&d, &o), "fruit"), "cherry");
    o.vars.clear();
    assert_eq!(var(&load(&d, &o), "fruit"), "banana");
}

#[test]
fn auto_var_files_and_env_precedence() {
    let d = dir(&[
        ("t.pkr.hcl", BASIC),
        ("a.auto.pkrvars.hcl", "fruit = \"auto\"\n"),
    ]);
    let mut o = opts();
    o.env = Some(HashMap::from([("PKR_VAR_fruit".into(), "env".into())]));
    // Auto files beat the environment; both beat the default.
    assert_eq!(var(&load(&d, &o), "fruit"), "auto");
    // Auto files load only when the path is a directory.
    assert_eq!(var(&load(&d.join("t.pkr.hcl"), &o), "fruit"), "env");
}

#[test]
fn complex_var_values_parse_as_hcl() {
    let d = dir(&[(
        "t.pkr.hcl",
        "variable \"l\" {\n  type = list(number)\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"null.a\"]\n}\n",
    )]);
    let mut o = opts();
    o.vars.push(("l".into(), "[1, \"2\"]".into()));
    assert_eq!(var(&load(&d, &o), "l"), "[\n  1,\n  2,\n]");
    o.vars[0].1 = "[\"x\"]".into();
    let l = load(&d, &o);
    assert!(
        errors(&l).contains("Invalid argument value for -var variable"),
        "{}",
        errors(&l)
    );
}

#[test]
fn undeclared_and_unset_variables_are_errors() {
    let d = dir(&[("t.pkr.hcl", BASIC)]);
    let mut o = opts();
    o.vars.push(("nope".into(), "1".into()));
    assert!(errors(&load(&d, &o)).contains("Undefined -var variable"));
    let d = dir(&[(
        "t.pkr.hcl",
        "variable \"a\" {\n  type = number\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"null.a\"]\n}\n",
    )]);
    let l = load(&d, &opts());
    assert!(errors(&l).contains("Error: Unset variable \"a\""));
    assert!(errors(&l).contains("t.pkr.hcl line 1"), "{}", errors(&l));
}

#[test]
fn validation_blocks_use_the_error_message() {
    let d = dir(&[(
        "t.pkr.hcl",
        "variable \"size\" {\n  type = number\n  default = 5\n  validation {\n    condition = var.size > 10\n    error_message = \"The size must be above 10.\"\n  }\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"null.a\"]\n}\n",
    )]);
    let e = errors(&load(&d, &opts()));
    assert!(e.contains("Invalid value for default variable"), "{e}");
    assert!(e.contains("The size must be above 10."), "{e}");
    assert!(
        e.contains("This was checked by the validation rule at ")
            && e.contains("t.pkr.hcl:5,17-30."),
        "{e}"
    );
}

#[test]
fn locals_and_data_form_one_graph() {
    let d = dir(&[(
        "t.pkr.hcl",
        r#"
locals {
  b = "${local.a}-b"
  a = data.null.d.output
  c = upper(local.b)
}
data "null" "d" {
  input = "x${local.seed}"
}
locals {
  seed = "1"
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["null.a"]
}
"#,
    )]);
    let l = load(&d, &opts());
    let plan = l.plan.as_ref().unwrap_or_else(|| panic!("{}", errors(&l)));
    let c = plan.locals.iter().find(|(k, _)| k == "c").unwrap();
    assert_eq!(c.1.to_console_string(), "X1-B");
}

#[test]
fn cycles_are_reported_with_their_path() {
    let d = dir(&[(
        "t.pkr.hcl",
        "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"null.a\"]\n}\n",
    )]);
    let e = errors(&load(&d, &opts()));
    assert!(
        e.contains("local.a -> local.b -> local.c -> local.a"),
        "{e}"
    );
}

const BUILDS: &str = r#"
source "null" "one" {
  communicator = "none"
}
source "null" "two" {
  communicator = "none"
}
build {
  name    = "b1"
  sources = ["source.null.one"]
  source "null.two" {
    name = "renamed"
  }
  provisioner "shell-local" {
    only   = ["null.renamed"]
    inline = ["echo ${source.name}"]
  }
  provisioner "shell-local" {
    inline   = ["echo default"]
    override = {
      one = { inline = ["echo overridden"] }
    }
  }
  post-processor "manifest" {
    except = ["null.one"]
  }
}
build {
  sources = ["null.one"]
}
"#;

#[test]
fn builds_expand_per_source_with_names_filters_and_overrides() {
    let d = dir(&[("t.pkr.hcl", BUILDS)]);
    let l = load(&d, &opts());
    let plan = l.plan.as_ref().unwrap_or_else(|| panic!("{}", errors(&l)));
    let names: Vec<&str> = plan.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["b1.null.one", "b1.null.renamed", "null.one"]);
    let one = &plan.builds[0];
    assert_eq!(one.provisioners.len(), 1);
    assert!(one.provisioners[0]
        .config
        .config
        .to_console_string()
        .contains("echo overridden"));
    assert!(one.post_processors.is_empty());
    let renamed = &plan.builds[1];
    assert_eq!(renamed.source_name, "two");
    assert_eq!(renamed.provisioners.len(), 2);
    assert!(renamed.provisioners[0]
        .config
        .config
        .to_console_string()
        .contains("echo renamed"));
    assert_eq!(renamed.post_processors.len(), 1);
}

#[test]
fn only_and_except_use_globs() {
    let d = dir(&[("t.pkr.hcl", BUILDS)]);
    let mut o = opts();
    o.only.push("b1.*".into());
    let l = load(&d, &o);
    let names: Vec<String> = l.plan.unwrap().builds.into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["b1.null.one", "b1.null.renamed"]);
    let mut o = opts();
    o.except.push("*.renamed".into());
    o.except.push("manifest".into());
    let l = load(&d, &o);
    let plan = l.plan.unwrap();
    assert_eq!(plan.builds.len(), 2);
    assert!(plan.builds.iter().all(|b| b.post_processors.is_empty()));
}

#[test]
fn bad_input_gets_file_line_col() {
    let d = dir(&[("t.pkr.hcl", "source \"null\" \"a\" {\n  x = [1,\n")]);
    let e = errors(&load(&d, &opts()));
    assert!(e.contains("t.pkr.hcl line"), "{e}");
    let d = dir(&[("t.pkr.hcl", "foo {}\n")]);
    let e = errors(&load(&d, &opts()));
    assert!(
        e.contains("Blocks of type \"foo\" are not expected here."),
        "{e}"
    );
    let d = dir(&[("t.pkr.hcl", "locals {\n  a = nofunc(1)\n}\n")]);
    let e = errors(&load(&d, &opts()));
    assert!(e.contains("There is no function named \"nofunc\"."), "{e}");
    assert!(e.contains("line 2 (column 7)"), "{e}");
    let e = errors(&load(
        std::path::Path::new("/nonexistent/x.pkr.hcl"),
        &opts(),
    ));
    assert!(e.contains("no such file or directory"), "{e}");
}

const LEGACY: &str = r#"{
  "variables": {"fruit": "apple", "secret": "s3cr3t-value"},
  "sensitive-variables": ["secret"],
  "builders": [
    {"type": "null", "name": "zeta", "communicator": "none"},
    {"type": "null", "name": "alpha", "communicator": "none"}
  ],
  "provisioners": [
    {"type": "shell-local", "inline": ["echo {{user `fruit`}} {{build_name}} {{ .HTTPIP }}"],
     "override": {"zeta": {"inline": ["echo zeta"]}}},
    {"type": "shell-local", "only": ["alpha"], "inline": ["echo token={{user `secret`}}"]}
  ],
  "post-processors": [[{"type": "manifest"}, {"type": "checksum", "name": "sums"}]]
}"#;

#[test]
fn legacy_json_maps_onto_the_plan() {
    let d = dir(&[("t.json", LEGACY), ("v.json", "{\"fruit\": \"banana\"}")]);
    let mut o = opts();
    o.var_files.push(d.join("v.json"));
    o.vars.push(("fruit".into(), "cherry".into()));
    let l = load(&d.join("t.json"), &o);
    let plan = l.plan.as_ref().unwrap_or_else(|| panic!("{}", errors(&l)));
    assert!(plan.legacy_json);
    let names: Vec<&str> = plan.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    let alpha = &plan.builds[0];
    let first = alpha.provisioners[0].config.config.to_console_string();
    assert!(first.contains("echo cherry alpha {{ .HTTPIP }}"), "{first}");
    assert_eq!(alpha.provisioners.len(), 2);
    assert!(alpha.provisioners[1]
        .config
        .config
        .to_console_string()
        .contains("<sensitive>"));
    let zeta = &plan.builds[1];
    assert_eq!(zeta.provisioners.len(), 1);
    assert!(zeta.provisioners[0]
        .config
        .config
        .to_console_string()
        .contains("echo zeta"));
    assert_eq!(zeta.post_processors[0].len(), 2);

    let mut o = opts();
    o.only.push("zeta".into());
    o.except.push("sums".into());
    let plan = load(&d.join("t.json"), &o).plan.unwrap();
    assert_eq!(plan.builds.len(), 1);
    assert_eq!(plan.builds[0].post_processors[0].len(), 1);
}

#[test]
fn legacy_json_errors_have_positions() {
    let d = dir(&[("t.json", "{\"builders\": [{\"name\": \"x\"}]}")]);
    let e = errors(&load(&d.join("t.json"), &opts()));
    assert!(e.contains("t.json line 1"), "{e}");
    let d = dir(&[(
        "t.json",
        "{\"variables\": {\"need\": null}, \"builders\": [{\"type\": \"null\"}]}",
    )]);
    let e = errors(&load(&d.join("t.json"), &opts()));
    assert!(e.contains("required variable not set: need"), "{e}");
}

#[test]
fn hcl_json_files_load_like_native_syntax() {
    let d = dir(&[
        (
            "t.pkr.json",
            r#"{
  "//": "a comment",
  "variable": {"fruit": {"type": "string", "default": "apple"}},
  "locals": {"upper_fruit": "${upper(var.fruit)}"},
  "source": {"null": {"one": {"communicator": "none"}}},
  "build": [{
    "name": "b",
    "sources": ["source.null.one"],
    "provisioner": [{"shell-local": {"inline": ["echo ${local.upper_fruit} ${source.name}"]}}],
    "post-processor": {"manifest": {"output": "m.json"}}
  }]
}"#,
        ),
        ("v.auto.pkrvars.json", "{\"fruit\": \"kiwi\"}"),
    ]);
    let l = load(&d, &opts());
    let plan = l.plan.as_ref().unwrap_or_else(|| panic!("{}", errors(&l)));
    assert_eq!(plan.builds.len(), 1);
    assert_eq!(plan.builds[0].name, "b.null.one");
    let p = plan.builds[0].provisioners[0]
        .config
        .config
        .to_console_string();
    assert!(p.contains("echo KIWI one"), "{p}");
    assert_eq!(plan.builds[0].post_processors.len(), 1);

    let d = dir(&[("t.pkr.json", "{\"locals\": {\"a\": \"${nofunc()}\"}}")]);
    let e = errors(&load(&d, &opts()));
    assert!(e.contains("t.pkr.json line 1 (column 21)"), "{e}");
}

#[test]
fn dynamic_blocks_expand_in_plugin_bodies_and_builds() {
    let d = dir(&[(
        "t.pkr.hcl",
        r#"
variable "scripts" {
  default = ["a.sh", "b.sh"]
}
source "null" "one" {
  communicator = "none"
}
build {
  sources = ["null.one"]
  dynamic "provisioner" {
    for_each = var.scripts
    labels   = ["shell-local"]
    iterator = s
    content {
      inline = ["echo ${s.key}:${s.value}"]
    }
  }
}
"#,
    )]);
    let l = load(&d, &opts());
    let plan = l.plan.as_ref().unwrap_or_else(|| panic!("{}", errors(&l)));
    let p = &plan.builds[0].provisioners;
    assert_eq!(p.len(), 2);
    assert!(p[1]
        .config
        .config
        .to_console_string()
        .contains("echo 1:b.sh"));
}

#[test]
fn parse_errors_inside_multibyte_characters_do_not_panic() {
    // Found by the parse_eval fuzz target: an error offset inside a two-byte character.
    let text = String::from_utf8_lossy(b"ng for a re  \xde\x8c").to_string();
    let l = forge_template::load_hcl_text("f.pkr.hcl", &text, std::path::Path::new("."), &opts());
    assert!(l.plan.is_none());
    assert!(errors(&l).contains("f.pkr.hcl line 1"), "{}", errors(&l));
}

#[test]
fn var_flags_split_at_the_first_equals_sign() {
    assert_eq!(
        forge_template::parse_var_flag("a=b=c"),
        Ok(("a".to_string(), "b=c".to_string()))
    );
    assert_eq!(
        forge_template::parse_var_flag("foo"),
        Err("invalid value \"foo\" for flag -var: No '=' value in arg: foo".to_string())
    );
}
