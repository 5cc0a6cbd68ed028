//! Expected outputs below are what Packer 1.6.6's `packer fmt` writes for each input.

use super::{format_hcl, FormatError};

#[track_caller]
fn check(input: &str, expected: &str) {
    let got = format_hcl(input).unwrap_or_else(|e| panic!("format failed: {e}"));
    assert_eq!(
        got, expected,
        "\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
    // Formatting is idempotent.
    assert_eq!(
        format_hcl(&got).unwrap(),
        got,
        "formatting the output again changed it"
    );
}

#[track_caller]
fn check_error(input: &str, line: usize, column: usize) -> FormatError {
    let err = format_hcl(input).expect_err("expected a syntax error");
    assert_eq!((err.line, err.column), (line, column), "{err}");
    assert!(err.to_string().starts_with(&format!("{line}:{column}: ")));
    err
}

#[test]
fn empty_and_blank_input() {
    check("", "");
    check("\n\n", "\n\n");
    check("# only a comment", "# only a comment");
}

#[test]
fn byte_order_mark_is_dropped() {
    check("\u{feff}a=1\n", "a = 1\n");
}

#[test]
fn syntax_errors_have_a_position() {
    check_error("a = {\n", 1, 1);
    check_error("a = 1\nb = \"unterminated\n", 2, 1);
    check_error("a = 1 b = 2\n", 1, 7);
}

#[test]
fn repeated_attribute_is_an_error() {
    let err = check_error("a = 1\na = 2\n", 2, 1);
    assert!(err.message.contains("redefined"), "{err}");
}

#[test]
fn namespaced_functions_are_an_error() {
    check_error("a = provider::x::y()\n", 1, 14);
}

#[test]
fn aligns_equals_of_consecutive_attributes() {
    check(
        r#"a=1
bbb=2
cc    =    3
"#,
        r#"a   = 1
bbb = 2
cc  = 3
"#,
    );
}

#[test]
fn blank_line_breaks_alignment() {
    check(
        r#"a = 1
bbbbbb = 2

cc = 3
d = 4
"#,
        r#"a      = 1
bbbbbb = 2

cc = 3
d  = 4
"#,
    );
}

#[test]
fn comment_line_breaks_alignment() {
    check(
        r#"a = 1
# note
bbbbbb = 2
// other
cc = 3
"#,
        r#"a = 1
# note
bbbbbb = 2
// other
cc = 3
"#,
    );
}

#[test]
fn nested_block_breaks_alignment() {
    check(
        r#"a = 1
block {
x = 1
longer = 2
}
bbbbbb = 2
"#,
        r#"a = 1
block {
  x      = 1
  longer = 2
}
bbbbbb = 2
"#,
    );
}

#[test]
fn multi_line_value_breaks_alignment() {
    check(
        r#"a = [
1,
2,
]
bbbbbb = 2
cc = {
k = "v"
}
d = 4
"#,
        r#"a = [
  1,
  2,
]
bbbbbb = 2
cc = {
  k = "v"
}
d = 4
"#,
    );
}

#[test]
fn nested_objects_and_tuples() {
    check(
        r#"x = {
a = [
{
b = 1
},
{ c = [1,2] },
]
d = {
  e = {
      f = true
  }
}
}
"#,
        r#"x = {
  a = [
    {
      b = 1
    },
    { c = [1, 2] },
  ]
  d = {
    e = {
      f = true
    }
  }
}
"#,
    );
}

#[test]
fn heredoc_content_untouched() {
    check(
        "a = <<EOF\n  keep   this    spacing  \n\tand tabs\n   ${ var.x }   and ${var.y}\nEOF\nbb = 1\n",
        "a  = <<EOF\n  keep   this    spacing  \n\tand tabs\n   ${var.x}   and ${var.y}\nEOF\nbb = 1\n",
    );
}

#[test]
fn indented_heredoc() {
    check(
        r#"locals {
script = <<-EOT
      echo   hi
        echo there
      EOT
other = 1
}
"#,
        r#"locals {
  script = <<-EOT
      echo   hi
        echo there
      EOT
  other  = 1
}
"#,
    );
}

#[test]
fn heredoc_in_call() {
    check(
        r#"a = f(<<EOF
x
EOF
)
"#,
        r#"a = f(<<EOF
x
EOF
)
"#,
    );
}

#[test]
fn aligns_trailing_comments() {
    check(
        r#"a = 1 # one
bbbbb = "two" # two
cc = [1, 2] // three

d = 4     # alone
"#,
        r#"a     = 1      # one
bbbbb = "two"  # two
cc    = [1, 2] // three

d = 4 # alone
"#,
    );
}

#[test]
fn templates() {
    check(
        r#"a = "${ var.a }-${var.b}"
b = "%{ if var.x }yes%{ else }no%{ endif }"
c = "$${literal} %%{literal}"
d = "${~ var.x ~}"
e = "${ {a=1} }"
"#,
        r#"a = "${var.a}-${var.b}"
b = "%{if var.x}yes%{else}no%{endif}"
c = "$${literal} %%{literal}"
d = "${~var.x~}"
e = "${ { a = 1 } }"
"#,
    );
}

#[test]
fn heredoc_directives() {
    check(
        r#"a = <<EOF
%{ for x in var.list ~}
  item ${ x }
%{ endfor ~}
EOF
"#,
        r#"a = <<EOF
%{for x in var.list~}
  item ${x}
%{endfor~}
EOF
"#,
    );
}

#[test]
fn crlf_input() {
    check(
        "a=1\r\nbbb = 2 # c\r\nblock {\r\nx = 1\r\n}\r\n",
        "a   = 1\r\nbbb = 2 # c\r\nblock {\r\n  x = 1\r\n}\r\n",
    );
}

#[test]
fn tabs() {
    check(
        "a\t=\t1\n\tbb = 2\nblock {\n\tc = \"\tx\"\n}\n",
        "a  = 1\nbb = 2\nblock {\n  c = \"\tx\"\n}\n",
    );
}

#[test]
fn unary_and_binary_operators() {
    check(
        r#"a = -1
b = 1 - -2
c = x-1
d = !var.x
e = [-1, -2]
f = (-x)
g = a&&b||c
h = a==b
i = 1+2*3/4%5
j = x ? -1 : -2
k = a>=b
l = a<b
"#,
        r#"a = -1
b = 1 - -2
c = x-1
d = ! var.x
e = [-1, -2]
f = (-x)
g = a && b || c
h = a == b
i = 1 + 2 * 3 / 4 % 5
j = x ? -1 : -2
k = a >= b
l = a < b
"#,
    );
}

#[test]
fn for_expressions() {
    check(
        r#"a = [for x in var.l: upper(x) if x != ""]
b = {for k,v in var.m: k=>v...}
c = [for x in[1, 2]: x]
d = f(args...)
"#,
        r#"a = [for x in var.l : upper(x) if x != ""]
b = { for k, v in var.m : k => v... }
c = [for x in [1, 2] : x]
d = f(args...)
"#,
    );
}

#[test]
fn splats_and_indexes() {
    check(
        r#"a = var.list[*].id
b = var.obj.*.name
c = var.x[ 0 ]["k"]
d = f(x)[0]
e = var.a . b
"#,
        r#"a = var.list[*].id
b = var.obj.*.name
c = var.x[0]["k"]
d = f(x)[0]
e = var.a.b
"#,
    );
}

#[test]
fn no_trailing_newline() {
    check(
        r#"a=1
b   =   2"#,
        r#"a = 1
b = 2"#,
    );
}

#[test]
fn one_line_blocks() {
    check(
        r#"a { b = 1 }
c {}
d = {}
e = { x = 1, y = 2 }
f "l" {   }
"#,
        r#"a { b = 1 }
c {}
d = {}
e = { x = 1, y = 2 }
f "l" {}
"#,
    );
}

#[test]
fn trailing_whitespace_and_eof_spaces() {
    check("a = 1   \n   \nb = 2\n  ", "a = 1\n\nb = 2\n  ");
}

#[test]
fn spacing_in_brackets_and_calls() {
    check(
        r#"a = [ "a","b" , "c" ]
b = f ( 1 ,2 )
c = ( 1 + 2 )
d = [ ]
e = { }
"#,
        r#"a = ["a", "b", "c"]
b = f(1, 2)
c = (1 + 2)
d = []
e = {}
"#,
    );
}

#[test]
fn block_labels_and_comments() {
    check(
        r#"source   "amazon-ebs"    "x"   {
  /* block */ ami = "a"
  region = "r" /* inline */
   # indented comment
}
"#,
        r#"source "amazon-ebs" "x" {
  /* block */ ami = "a"
  region          = "r" /* inline */
  # indented comment
}
"#,
    );
}

#[test]
fn degenerate_brackets() {
    check(
        r#"a = [[
1,
2],
[3]]
b = {
c = [{
d = 1
}]}
"#,
        r#"a = [[
  1,
  2],
[3]]
b = {
  c = [{
    d = 1
}] }
"#,
    );
}

#[test]
fn unicode_alignment() {
    check(
        r#"ü = 1 # a
bb = "日本" # b
c = "👍🏽" # c
"#,
        r#"ü  = 1    # a
bb = "日本" # b
c  = "👍🏽"  # c
"#,
    );
}

#[test]
fn duplicate_object_keys() {
    check(
        r#"a = {
b = 1
b = 2
}
"#,
        r#"a = {
  b = 1
  b = 2
}
"#,
    );
}
