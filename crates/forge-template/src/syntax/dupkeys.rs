//! Finds the keys that an object constructor repeats, in one pass over the tokens.
//!
//! HCL accepts `{a = 1, a = 2}` (the later value wins) while hcl-edit's parser rejects the
//! second `a`. Callers respell each repeated key so that hcl-edit sees distinct keys, then parse
//! once: finding them all at once keeps parsing linear in the text's size, where re-parsing
//! after each rejected key took time proportional to size × repeats.

use std::collections::HashMap;

use crate::format::lexer::{lex, Kind, Token};

/// One repeated key: its byte range (the identifier, or the whole quoted string with its
/// quotes), whether it is quoted, and how many times the same object used it before (1 for the
/// first repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepeatedKey {
    pub start: usize,
    pub end: usize,
    pub quoted: bool,
    pub nth: usize,
}

/// What an open bracket of the text is.
enum Frame {
    /// A body (the file, or a block's `{ }`): no object keys here.
    Body,
    /// An object constructor: the keys seen, and the tokens of the current item's key while it
    /// is being read (`None` once the item's `=` or `:` was read).
    Object {
        keys: HashMap<String, usize>,
        key: Option<Vec<usize>>,
    },
    /// Anything else that nests: parentheses, brackets, `for` objects, template sequences,
    /// heredocs.
    Other,
}

/// The repeated keys of every object constructor in `src`, in text order. Keys written as
/// expressions (`(k)`, `"${k}"`, `k.x`) are not compared; hcl-edit does not reject those.
pub(crate) fn repeated_object_keys(src: &str) -> Vec<RepeatedKey> {
    let tokens = lex(src);
    let mut out = Vec::new();
    let mut stack = vec![Frame::Body];
    let mut prev: Option<&Token> = None;
    for (i, t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::OBrace => {
                // A block's body follows its type or a label; an object follows anything else
                // (`=`, `(`, `[`, `,`, `:`, `=>`, `?`, an operator, `in`, `if`, a newline).
                let after_name = prev.is_some_and(|p| match p.kind {
                    Kind::CQuote => true,
                    Kind::Ident => !matches!(&src[p.start..p.end], "in" | "if"),
                    _ => false,
                });
                let frame = if after_name {
                    Frame::Body
                } else if next_is_for(&tokens, i, src) {
                    Frame::Other
                } else {
                    Frame::Object {
                        keys: HashMap::new(),
                        key: Some(Vec::new()),
                    }
                };
                note_nested(&mut stack);
                stack.push(frame);
            }
            Kind::OParen
            | Kind::OBrack
            | Kind::TemplateInterp
            | Kind::TemplateControl
            | Kind::OHeredoc => {
                note_nested(&mut stack);
                stack.push(Frame::Other);
            }
            Kind::CBrace | Kind::CParen | Kind::CBrack | Kind::TemplateSeqEnd | Kind::CHeredoc => {
                if stack.len() > 1 {
                    stack.pop();
                }
            }
            Kind::Comment => continue,
            _ => {
                if let Some(Frame::Object { keys, key }) = stack.last_mut() {
                    match (t.kind, key.as_mut()) {
                        (Kind::Equal | Kind::Colon, Some(toks)) => {
                            if let Some((name, quoted)) = simple_key(&tokens, toks, src) {
                                let seen = keys.entry(name).or_insert(0);
                                if *seen > 0 {
                                    let (first, last) = (toks[0], toks[toks.len() - 1]);
                                    out.push(RepeatedKey {
                                        start: tokens[first].start,
                                        end: tokens[last].end,
                                        quoted,
                                        nth: *seen,
                                    });
                                }
                                *seen += 1;
                            }
                            *key = None;
                        }
                        (Kind::Comma | Kind::Newline, None) => *key = Some(Vec::new()),
                        (Kind::Newline, Some(_)) => {}
                        (_, Some(toks)) => toks.push(i),
                        (_, None) => {}
                    }
                }
            }
        }
        prev = Some(t);
    }
    out
}

/// Marks the current object item's key as an expression when a bracket opens inside it.
fn note_nested(stack: &mut [Frame]) {
    if let Some(Frame::Object {
        key: Some(toks), ..
    }) = stack.last_mut()
    {
        toks.push(usize::MAX);
    }
}

/// Whether the token after the `{` at `i` is the keyword `for`.
fn next_is_for(tokens: &[Token], i: usize, src: &str) -> bool {
    tokens[i + 1..]
        .iter()
        .find(|t| !matches!(t.kind, Kind::Newline | Kind::Comment))
        .is_some_and(|t| t.kind == Kind::Ident && &src[t.start..t.end] == "for")
}

/// The name of a key written as one identifier or one plain quoted string, and whether it is
/// quoted.
fn simple_key(tokens: &[Token], toks: &[usize], src: &str) -> Option<(String, bool)> {
    let kinds: Vec<Kind> = toks
        .iter()
        .map(|&k| tokens.get(k).map_or(Kind::Invalid, |t| t.kind))
        .collect();
    let text = |k: usize| &src[tokens[k].start..tokens[k].end];
    match kinds.as_slice() {
        [Kind::Ident] => Some((text(toks[0]).to_string(), false)),
        [Kind::OQuote, Kind::QuotedLit, Kind::CQuote] => Some((text(toks[1]).to_string(), true)),
        [Kind::OQuote, Kind::CQuote] => Some((String::new(), true)),
        _ => None,
    }
}

/// How many times a text of `len` bytes may be parsed again after a repeated key the scan did
/// not find: about 16 MiB of parsing in all, at most 1000 times.
pub(crate) fn reparse_budget(len: usize) -> usize {
    ((16 << 20) / len.max(1)).min(1000)
}

/// `src` with every repeated key made distinct for hcl-edit without changing what it
/// evaluates to: the `n`th repeat of `k` (or of `"k"`) becomes `"k"` wrapped in `n`
/// parentheses (`("k")`, `(("k"))` …), unlike the first, bare or merely quoted.
pub(crate) fn respell_repeated_keys(src: &str, keys: &[RepeatedKey]) -> String {
    let mut out = String::with_capacity(src.len() + keys.len() * 4);
    let mut at = 0;
    for k in keys {
        let quoted = if k.quoted {
            src[k.start..k.end].to_string()
        } else {
            format!("\"{}\"", &src[k.start..k.end])
        };
        let parens = k.nth;
        out.push_str(&src[at..k.start]);
        out.push_str(&"(".repeat(parens));
        out.push_str(&quoted);
        out.push_str(&")".repeat(parens));
        at = k.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The byte offset in the original text of `offset` in the text [`respell_repeated_keys`] made
/// from it with `keys`: for reporting errors where the user wrote them.
pub(crate) fn original_offset(keys: &[RepeatedKey], offset: usize) -> usize {
    let mut added = 0;
    for k in keys {
        let grown = 2 * k.nth + if k.quoted { 0 } else { 2 };
        let (start, end) = (k.start + added, k.end + added + grown);
        if offset < start {
            break;
        }
        if offset < end {
            return k.start;
        }
        added += grown;
    }
    offset - added
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respelt(src: &str) -> String {
        respell_repeated_keys(src, &repeated_object_keys(src))
    }

    #[test]
    fn repeats_in_one_object_are_respelt_in_order() {
        assert_eq!(
            respelt("x = {a = 1, a = 2, \"a\" = 3, a: 4}\n"),
            "x = {a = 1, (\"a\") = 2, ((\"a\")) = 3, (((\"a\"))): 4}\n"
        );
    }

    #[test]
    fn objects_blocks_and_expressions_keep_their_own_keys() {
        let src = "b \"l\" {\n  a = {k = 1}\n  c = {k = 2\n    m = {k = 3, k = 4}\n  }\n}\n";
        assert_eq!(
            respelt(src),
            "b \"l\" {\n  a = {k = 1}\n  c = {k = 2\n    m = {k = 3, (\"k\") = 4}\n  }\n}\n"
        );
        // Block attributes, for-object expressions, expression keys and values are left alone.
        for src in [
            "a = 1\nb {\n  a = 1\n}\n",
            "x = {for k, v in m : k => v}\n",
            "x = {(k) = 1, (k) = 2, k.y = 3}\n",
            "x = {a = {a = 1}, b = [a, a]}\n",
            "x = \"${ {a = 1}.a }\"\n",
        ] {
            assert_eq!(respelt(src), src, "{src}");
        }
    }

    #[test]
    fn offsets_map_back_to_the_original_text() {
        let src = "x = {a = 1, a = 2} + {b = 1, \"b\" = 2} !";
        let keys = repeated_object_keys(src);
        let new = respell_repeated_keys(src, &keys);
        assert_eq!(new, "x = {a = 1, (\"a\") = 2} + {b = 1, (\"b\") = 2} !");
        let bang = |t: &str| t.find('!').unwrap_or(0);
        assert_eq!(original_offset(&keys, bang(&new)), bang(src));
        assert_eq!(original_offset(&keys, 5), 5);
        assert_eq!(
            original_offset(&keys, new.find("(\"a").unwrap_or(0) + 2),
            12
        );
    }

    #[test]
    fn a_key_after_a_value_spanning_lines_is_compared() {
        assert_eq!(
            respelt("x = {\n  a = [\n    1,\n  ]\n  a = 2\n}\n"),
            "x = {\n  a = [\n    1,\n  ]\n  (\"a\") = 2\n}\n"
        );
    }
}
