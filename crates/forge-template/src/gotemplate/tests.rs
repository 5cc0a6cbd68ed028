use super::*;

fn any(_: &str) -> bool {
    true
}

fn go(src: &str) -> Vec<Node> {
    parse(src, Dialect::Go, &any).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn legacy(src: &str) -> Vec<Node> {
    parse(src, Dialect::Legacy, &any).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn go_err(src: &str) -> ParseError {
    parse(src, Dialect::Go, &any).unwrap_err()
}

fn legacy_err(src: &str) -> ParseError {
    parse(src, Dialect::Legacy, &any).unwrap_err()
}

/// The only action's pipeline.
fn pipe(nodes: &[Node]) -> &Pipeline {
    match nodes {
        [Node::Action(p, ..)] => p,
        other => panic!("not one action: {other:?}"),
    }
}

#[test]
fn text_actions_and_trim_markers_have_positions() {
    let src = "ab {{- up `x` -}} \n cd{{/* c */}}e";
    let nodes = go(src);
    assert_eq!(nodes.len(), 4);
    assert_eq!(nodes[0], Node::Text(0, 2));
    let Node::Action(p, s, e) = &nodes[1] else {
        panic!("{nodes:?}")
    };
    assert_eq!(&src[*s..*e], "{{- up `x` -}}");
    let args = &p.cmds[0].args;
    assert_eq!(args[0].term, Term::Ident);
    assert_eq!(args[0].text(src), "up");
    assert_eq!((args[1].start, args[1].end), (10, 13));
    assert_eq!(args[1].term, Term::Str("x".into()));
    assert_eq!(nodes[2], Node::Text(20, 22));
    assert_eq!(nodes[3], Node::Text(33, 34));
}

#[test]
fn pipelines_commands_and_literals() {
    let src = r#"{{ f "a\tb" 0x1F -2 1.5 true nil . .A.B | g (h 'x') }}"#;
    for dialect in [Dialect::Go, Dialect::Legacy] {
        if dialect == Dialect::Legacy {
            // No character constants in the legacy dialect.
            let e = parse(src, dialect, &any).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Lex(e_lex(src, '\''), true));
            continue;
        }
        let nodes = parse(src, dialect, &any).unwrap();
        let p = pipe(&nodes);
        assert_eq!(p.cmds.len(), 2);
        let terms: Vec<&Term> = p.cmds[0].args.iter().map(|a| &a.term).collect();
        assert_eq!(terms[1], &Term::Str("a\tb".into()));
        assert_eq!(
            terms[2],
            &Term::Number(NumLit {
                int: Some(31),
                float: Some(31.0)
            })
        );
        assert_eq!(
            terms[3],
            &Term::Number(NumLit {
                int: Some(-2),
                float: Some(-2.0)
            })
        );
        assert_eq!(
            terms[4],
            &Term::Number(NumLit {
                int: None,
                float: Some(1.5)
            })
        );
        assert_eq!(terms[5], &Term::Bool(true));
        assert_eq!(terms[6], &Term::Nil);
        assert_eq!(terms[7], &Term::Dot);
        assert_eq!(terms[8], &Term::Field);
        assert_eq!(p.cmds[0].args[8].text(src), ".A.B");
        let Term::Pipe(inner) = &p.cmds[1].args[1].term else {
            panic!("{p:?}")
        };
        assert_eq!(p.cmds[1].args[1].text(src), "(h 'x')");
        assert_eq!(
            inner.cmds[0].args[1].term,
            Term::Number(NumLit {
                int: Some(120),
                float: Some(120.0)
            })
        );
    }
}

/// The lexing error of an unrecognized character at its first occurrence.
fn e_lex(src: &str, c: char) -> LexError {
    let at = src.find(c).unwrap();
    LexError {
        kind: LexErrorKind::Unrecognized(c),
        offset: at,
        line_pos: at,
    }
}

#[test]
fn legacy_numbers_are_int_or_float_by_syntax() {
    let p = legacy("{{ f 1.0 1e3 7 }}");
    let nums: Vec<&Term> = pipe(&p).cmds[0].args[1..].iter().map(|a| &a.term).collect();
    assert_eq!(
        nums,
        [
            &Term::Number(NumLit {
                int: None,
                float: Some(1.0)
            }),
            &Term::Number(NumLit {
                int: None,
                float: Some(1000.0)
            }),
            &Term::Number(NumLit {
                int: Some(7),
                float: None
            }),
        ]
    );
}

#[test]
fn variables_declarations_and_chained_fields() {
    let src = "{{ $x := f }}{{ $x.A (f).B.C }}";
    let nodes = go(src);
    let p = pipe(&nodes[..1]);
    assert_eq!(p.decl, vec![(3, 5)]);
    let Node::Action(p2, ..) = &nodes[1] else {
        panic!()
    };
    let args = &p2.cmds[0].args;
    assert_eq!(args[0].term, Term::Var);
    assert_eq!(args[0].text(src), "$x.A");
    let Term::Chain(base, s, e) = &args[1].term else {
        panic!("{args:?}")
    };
    assert_eq!(base.text(src), "(f)");
    assert_eq!(&src[*s..*e], ".B.C");
    assert_eq!(
        go_err("{{ $y }}").kind,
        ErrorKind::UndefinedVariable,
        "undeclared"
    );
    // The legacy dialect has no variables and does not chain.
    assert_eq!(
        legacy_err("{{ $x }}").kind,
        ErrorKind::Lex(
            LexError {
                kind: LexErrorKind::Variable,
                offset: 3,
                line_pos: 3
            },
            true
        )
    );
    let p = legacy("{{ (f).B }}");
    assert_eq!(pipe(&p).cmds[0].args.len(), 2);
}

#[test]
fn if_else_if_chains_nest() {
    let src = "{{if a}}x{{else if b}}y{{else}}z{{end}}!";
    for nodes in [go(src), legacy(src)] {
        assert_eq!(nodes.len(), 2);
        let Node::If(b) = &nodes[0] else {
            panic!("{nodes:?}")
        };
        assert_eq!((b.start, b.end), (0, src.len() - 1));
        assert_eq!(b.list, vec![Node::Text(8, 9)]);
        let els = b.else_list.as_ref().unwrap();
        let [Node::If(inner)] = &els[..] else {
            panic!("{els:?}")
        };
        assert_eq!(inner.start, 9);
        assert_eq!(inner.list, vec![Node::Text(22, 23)]);
        assert_eq!(inner.else_list, Some(vec![Node::Text(31, 32)]));
    }
    let nested = go("{{range .}}{{with .}}{{break}}{{end}}{{end}}");
    let [Node::Range(r)] = &nested[..] else {
        panic!("{nested:?}")
    };
    let [Node::With(w)] = &r.list[..] else {
        panic!("{r:?}")
    };
    assert_eq!(w.list, vec![Node::Break]);
    assert!(matches!(
        &go("{{template `x` .}}")[..],
        [Node::Template(_, Some(_))]
    ));
}

#[test]
fn control_errors_per_dialect() {
    assert_eq!(go_err("{{end}}").kind, ErrorKind::Stray(Keyword::End));
    assert_eq!(
        legacy_err("x{{else}}").kind,
        ErrorKind::Stray(Keyword::Else)
    );
    assert_eq!(legacy_err("x{{else}}").open, 1);
    assert_eq!(go_err("{{if a}}").kind, ErrorKind::UnexpectedEof);
    assert_eq!(
        go_err("{{break}}").kind,
        ErrorKind::OutsideRange(Keyword::Break)
    );
    assert_eq!(
        go_err("{{define `x`}}").kind,
        ErrorKind::NotAllowed(Keyword::Define)
    );
    assert_eq!(
        legacy_err("{{range .}}{{end}}").kind,
        ErrorKind::NotAllowed(Keyword::Range)
    );
    // A second else: Go's dialect here lets it pass, the legacy one does not.
    let two = "{{if a}}{{else}}{{else}}{{end}}";
    go(two);
    assert_eq!(legacy_err(two).kind, ErrorKind::ElseAfterElse);
    // What follows end: an error in Go's dialect, ignored by the legacy one.
    let trailing = "{{if a}}{{end x}}";
    assert_eq!(
        go_err(trailing).kind,
        ErrorKind::Unexpected(Ctx::After(Keyword::End))
    );
    legacy(trailing);
}

#[test]
fn pipeline_errors_per_dialect() {
    let e = go_err("x\n{{ }}");
    assert_eq!(e.kind, ErrorKind::NoCommand(Ctx::Command, true));
    assert_eq!((e.open, e.at.start), (2, 5));
    assert_eq!(go_err("{{ if }}").kind, ErrorKind::NoCommand(Ctx::If, true));
    // A trailing `|`: accepted by Go's dialect, not the legacy one.
    go("{{ f | }}");
    assert_eq!(
        legacy_err("{{ f | }}").kind,
        ErrorKind::NoCommand(Ctx::Command, false)
    );
    // Operands without spaces between them.
    let e = go_err("{{ f(g) }}");
    assert_eq!(
        (e.kind, e.at.start),
        (ErrorKind::Unexpected(Ctx::Operand), 4)
    );
    assert_eq!(
        go_err("{{ f\"g\" }}").kind,
        ErrorKind::Lex(
            LexError {
                kind: LexErrorKind::BadChar('"'),
                offset: 4,
                line_pos: 3
            },
            false
        )
    );
    assert_eq!(pipe(&legacy("{{ f(g)`x` }}")).cmds[0].args.len(), 3);
    assert_eq!(go_err("{{ f | \"x\" }}").kind, ErrorKind::NonExecutable(2));
    let e = parse("{{ nope }}", Dialect::Go, &|n| n == "f").unwrap_err();
    assert_eq!(
        (e.kind, e.at.start, e.at.end),
        (ErrorKind::FunctionNotDefined, 3, 7)
    );
    assert_eq!(legacy_err("{{ (f }}").kind, ErrorKind::UnclosedParen(3));
    assert_eq!(
        go_err("{{ (f }}").kind,
        ErrorKind::Lex(
            LexError {
                kind: LexErrorKind::UnclosedLeftParen,
                offset: 6,
                line_pos: 6
            },
            true
        )
    );
    assert_eq!(go_err("{{ \"\\q\" }}").kind, ErrorKind::InvalidString);
    assert_eq!(go_err("{{ 1x }}").kind, ErrorKind::IllegalNumber);
}

#[test]
fn lexing_errors_are_met_in_order() {
    // Go's dialect reports a lexing error where the parser reaches it: an earlier parse error
    // wins. The legacy dialect lexes everything first.
    let src = "{{ nope }}{{ \"x }}";
    let only_f = |n: &str| n == "f";
    let e = parse(src, Dialect::Go, &only_f).unwrap_err();
    assert_eq!(e.kind, ErrorKind::FunctionNotDefined);
    let e = parse(src, Dialect::Legacy, &only_f).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::Lex(
            LexError {
                kind: LexErrorKind::UnterminatedQuoted,
                offset: 13,
                ..
            },
            true
        )
    ));
    let e = go_err("a\n{{/* x");
    assert!(matches!(
        e.kind,
        ErrorKind::Lex(
            LexError {
                kind: LexErrorKind::UnclosedComment,
                offset: 2,
                line_pos: 4
            },
            true
        )
    ));
    let e = go_err("{{ f\n");
    assert!(matches!(
        e.kind,
        ErrorKind::Lex(
            LexError {
                kind: LexErrorKind::UnclosedAction,
                offset: 0,
                line_pos: 5
            },
            _
        )
    ));
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "{{{{{}f{}}}}}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(go_err(&deep).kind, ErrorKind::TooDeep(false));
    let ok = format!(
        "{{{{{}f{}}}}}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    go(&ok);
    legacy(&ok);
    // The legacy dialect counts the `if`s around a parenthesis too.
    let in_if = format!("{{{{if a}}}}{ok}{{{{end}}}}");
    go(&in_if);
    assert_eq!(legacy_err(&in_if).kind, ErrorKind::TooDeep(false));
    let ifs = format!(
        "{}{}",
        "{{if a}}".repeat(MAX_DEPTH + 1),
        "{{end}}".repeat(MAX_DEPTH + 1)
    );
    for d in [Dialect::Go, Dialect::Legacy] {
        assert_eq!(
            parse(&ifs, d, &any).unwrap_err().kind,
            ErrorKind::TooDeep(true)
        );
    }
}

#[test]
fn garbage_never_panics() {
    // Every pair of awkward pieces, inside and across actions, in both dialects.
    let pieces = [
        "{{", "}}", "{{- ", " -}}", "(", ")", "|", "\"", "\"\\", "`", "'", "'é", "$", ":", ":=",
        ".", "..", ".a.", "1e", "0x", "1é", "é", "/*", "*/", "if", "else", "end", "range",
        "template", "break", "x", "\n", "\r",
    ];
    for a in pieces {
        for b in pieces {
            for src in [
                format!("{{{{ {a} {b} }}}}"),
                format!("{a}{{{{{b}"),
                format!("{{{{{a}{b}"),
            ] {
                for d in [Dialect::Go, Dialect::Legacy] {
                    let _ = parse(&src, d, &any);
                }
            }
        }
    }
}

#[test]
fn raw_strings_lose_carriage_returns_only_in_go() {
    assert_eq!(
        pipe(&go("{{ `a\rb` }}")).cmds[0].args[0].term,
        Term::Str("ab".into())
    );
    assert_eq!(
        pipe(&legacy("{{ `a\rb` }}")).cmds[0].args[0].term,
        Term::Str("a\rb".into())
    );
}
