//! One lexer and parser for Go's `text/template` actions (`{{ }}`), shared by the two engines
//! that read them: the legacy JSON templates' interpolation ([`crate::legacy::interp`]) and
//! `hcl2_upgrade`'s translation of them into HCL2 expressions (`upgrade::gotmpl`).
//!
//! [`parse`] gives a tree of [`Node`]s: text, actions with pipelines of commands of operands
//! (function names, fields, variables, literals, parenthesised pipelines, chained fields), and
//! the control actions `if`/`else`/`end`, `range`, `with`, `template`, `break`, `continue`.
//! The grammar is the union of what the two engines read; a [`Dialect`] names the differences,
//! and errors come as [`ParseError`]s that each engine words as Packer 1.6.6 does for it.
//! Literal escapes and number texts are read with [`crate::gocompat`].

mod lex;
mod parse;
#[cfg(test)]
mod tests;

pub use lex::{
    lex, number_value, Action, Keyword, LexError, LexErrorKind, Lexed, NumLit, Piece, Tok, Token,
};
pub use parse::{
    parse, parse_lexed, Branch, Command, Ctx, ErrorKind, Node, Operand, ParseError, Pipeline, Term,
};

/// How deeply parentheses and blocks may nest: parsing and evaluation recurse once per level,
/// so the limit keeps a hostile template from overflowing the stack (Go's text/template words
/// the error "max expression depth exceeded"). Real templates nest a handful of levels.
pub const MAX_DEPTH: usize = 200;

/// Which engine's grammar to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Go's own lexer and parser, as `hcl2_upgrade` runs them: Unicode names that must end at a
    /// terminator, `$variables` and their declarations, character constants, punctuation
    /// tokens, fields chained to any operand, every control action but `define`/`block`, and
    /// escapes read by the parser.
    Go,
    /// The legacy engine's subset: ASCII names, `.A.B` paths, no variables, only
    /// `if`/`else`/`end`, literals checked while lexing (and everything lexed before parsing),
    /// operands that need no space between them, a command after every `|`, one `{{else}}`
    /// per block, and parentheses counted together with the `if`s around them.
    Legacy,
}

impl Dialect {
    /// Whether the dialect has the keyword as an action.
    pub fn has_keyword(self, k: Keyword) -> bool {
        match self {
            Dialect::Go => !matches!(k, Keyword::Define | Keyword::Block),
            Dialect::Legacy => matches!(k, Keyword::If | Keyword::Else | Keyword::End),
        }
    }
}

/// The line (1-based) of a byte offset.
pub fn line_of(src: &str, offset: usize) -> usize {
    1 + src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}
