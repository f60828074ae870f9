//! The captured compiler output of each Go version (`tests/fixtures/go-output/`, Go
//! 1.22 to 1.27, `-m` and `-m=2`, local and `-trimpath` builds, test builds), parsed
//! whole: the counts per fixture, specific findings, how `-m=2` explanations pair with
//! their findings, and what the checks read. A new Go release adds its fixtures here.

use super::*;

/// The heap finding at this position with this subject; the test fails without one.
fn find<'a>(out: &'a ParsedOutput, file: &str, line: u32, col: u32, expr: &str) -> &'a RawFinding {
    out.findings
        .iter()
        .find(|f| f.file == file && f.line == line && f.column == Some(col) && f.expr == expr)
        .unwrap_or_else(|| panic!("no finding {file}:{line}:{col} {expr:?}"))
}

/// Per fixture: heap findings, of which moved, informational count, unrecognised count,
/// and the blocks in order of first appearance.
#[test]
fn fixture_counts() {
    /// name, text, heap, moved, informational, unrecognised, blocks
    type Case = (
        &'static str,
        &'static str,
        usize,
        usize,
        usize,
        usize,
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        (
            "m1-go1.22.txt",
            fixture!("m1-go1.22.txt"),
            25,
            5,
            86,
            0,
            &["example.com/m/sub", "example.com/m"],
        ),
        (
            "m1-go1.23.txt",
            fixture!("m1-go1.23.txt"),
            25,
            5,
            86,
            0,
            &["example.com/m/sub", "example.com/m"],
        ),
        (
            "m1-go1.24.txt",
            fixture!("m1-go1.24.txt"),
            26,
            6,
            86,
            0,
            &["example.com/m/sub", "example.com/m"],
        ),
        (
            "m1-go1.25.txt",
            fixture!("m1-go1.25.txt"),
            26,
            6,
            88,
            0,
            &["example.com/m/sub", "example.com/m"],
        ),
        (
            "m1-go1.26.txt",
            fixture!("m1-go1.26.txt"),
            26,
            6,
            88,
            0,
            &["example.com/m/sub", "example.com/m"],
        ),
        (
            "m1-go1.27.txt",
            fixture!("m1-go1.27.txt"),
            26,
            6,
            88,
            0,
            &["example.com/m/sub", "example.com/m"],
        ),
        (
            "m1-trimpath-local.txt",
            fixture!("m1-trimpath-local.txt"),
            31,
            7,
            100,
            0,
            &["example.com/m/sub", "example.com/m", "example.com/m/cg"],
        ),
        (
            "m1-test-local.txt",
            fixture!("m1-test-local.txt"),
            5,
            0,
            32,
            0,
            &[
                "example.com/msg [example.com/msg.test]",
                "example.com/msg.test",
            ],
        ),
        (
            "m2-small-go1.24.txt",
            fixture!("m2-small-go1.24.txt"),
            2,
            1,
            4,
            0,
            &["example.com/m2"],
        ),
        (
            "m2-small-go1.26.txt",
            fixture!("m2-small-go1.26.txt"),
            2,
            1,
            4,
            0,
            &["example.com/m2"],
        ),
        (
            "m2-trimpath-go1.26.txt",
            fixture!("m2-trimpath-go1.26.txt"),
            22,
            5,
            90,
            0,
            &["example.com/m"],
        ),
        (
            "m2-trimpath-local.txt",
            fixture!("m2-trimpath-local.txt"),
            31,
            7,
            119,
            0,
            &["example.com/m/sub", "example.com/m", "example.com/m/cg"],
        ),
        (
            "m2-test-local.txt",
            fixture!("m2-test-local.txt"),
            5,
            0,
            37,
            0,
            &[
                "example.com/msg [example.com/msg.test]",
                "example.com/msg.test",
            ],
        ),
        (
            "m1-error-local.txt",
            fixture!("m1-error-local.txt"),
            1,
            1,
            1,
            2,
            &["example.com/bad/ok"],
        ),
    ];
    for &(name, text, heap, moved, informational, unrecognised, blocks) in cases {
        let out = parse(text);
        assert_eq!(out.findings.len(), heap, "{name}: heap findings");
        assert_eq!(count(&out, Kind::Moved), moved, "{name}: moved");
        assert_eq!(count(&out, Kind::Escapes), heap - moved, "{name}: escapes");
        assert_eq!(out.informational, informational, "{name}: informational");
        assert_eq!(
            out.unrecognised.len(),
            unrecognised,
            "{name}: {:?}",
            out.unrecognised
        );
        let mut seen: Vec<&str> = Vec::new();
        for f in &out.findings {
            if !seen.contains(&f.block.as_str()) {
                seen.push(&f.block);
            }
        }
        assert_eq!(seen, blocks, "{name}: blocks");
        let m2 = name.starts_with("m2-");
        for f in &out.findings {
            assert_eq!(
                f.message.ends_with("escapes to heap"),
                f.kind == Kind::Escapes,
                "{name}: {f:?}"
            );
            // Every heap line of these -m=2 outputs has its explanation.
            assert_eq!(!f.flow.is_empty(), m2, "{name}: flow of {f:?}");
        }
    }
}

/// In -m output every line is a header, a heap finding or an informational one.
#[test]
fn m1_lines_all_accounted_for() {
    for text in [
        fixture!("m1-go1.22.txt"),
        fixture!("m1-go1.24.txt"),
        fixture!("m1-go1.27.txt"),
        fixture!("m1-trimpath-local.txt"),
        fixture!("m1-test-local.txt"),
    ] {
        let out = parse(text);
        let lines = text.lines().count();
        let headers = text.lines().filter(|l| l.starts_with("# ")).count();
        assert_eq!(out.findings.len() + out.informational + headers, lines);
    }
}

#[test]
fn specific_findings() {
    let go126 = parse(fixture!("m1-go1.26.txt"));
    let append = find(&go126, "./a.go", 61, 51, "append");
    assert_eq!(
        brief(append),
        (
            "example.com/m",
            "./a.go",
            61,
            Some(51),
            Kind::Escapes,
            "append"
        )
    );
    assert_eq!(append.message, "append escapes to heap");
    assert!(append.flow.is_empty());
    let moved = find(&go126, "sub/sub.go", 14, 6, "a");
    assert_eq!(
        brief(moved),
        (
            "example.com/m/sub",
            "sub/sub.go",
            14,
            Some(6),
            Kind::Moved,
            "a"
        )
    );
    assert_eq!(moved.message, "moved to heap: a");
    assert_eq!(
        brief(&go126.findings[0]),
        (
            "example.com/m/sub",
            "sub/sub.go",
            6,
            Some(15),
            Kind::Escapes,
            "&S{}"
        )
    );
    let last = go126.findings.last().expect("fixture has findings");
    assert_eq!(
        brief(last),
        (
            "example.com/m",
            "./gen/gen.go",
            5,
            Some(6),
            Kind::Escapes,
            "&gen.Boxed[go.shape.int]{...}"
        )
    );
    // The same generic allocation is reported once per shape.
    let shapes = go126
        .findings
        .iter()
        .filter(|f| f.file == "./gen/gen.go" && f.line == 6)
        .count();
    assert_eq!(shapes, 3);

    // Before 1.25 there is no `append` message and no constant propagation.
    let go124 = parse(fixture!("m1-go1.24.txt"));
    assert!(go124.findings.iter().all(|f| f.expr != "append"));
    find(&go124, "./a.go", 69, 8, "make([]int, n)");
    // Before 1.24, `a` in sub.Big was small enough for the stack.
    let go122 = parse(fixture!("m1-go1.22.txt"));
    assert!(go122
        .findings
        .iter()
        .all(|f| !(f.file == "sub/sub.go" && f.line == 14)));

    // -trimpath names, //line positions without a column, cgo.
    let local = parse(fixture!("m1-trimpath-local.txt"));
    let yacc = local
        .findings
        .iter()
        .find(|f| f.file == "gen.y")
        .expect("gen.y finding");
    assert_eq!(
        brief(yacc),
        ("example.com/m", "gen.y", 101, None, Kind::Moved, "x")
    );
    let cgo = find(&local, "_cgo_gotypes.go", 60, 9, "\"string too large\"");
    assert_eq!(cgo.block, "example.com/m/cg");
    find(&local, "example.com/m/cg/cg.go", 14, 7, "&R{...}");
    find(&local, "example.com/m/a.go", 64, 11, "t");

    // Test builds: `[p.test]` blocks and `<autogenerated>` positions.
    let test = parse(fixture!("m1-test-local.txt"));
    assert_eq!(
        brief(&test.findings[0]),
        (
            "example.com/msg [example.com/msg.test]",
            "example.com/msg/msg.go",
            36,
            Some(26),
            Kind::Escapes,
            "n"
        )
    );
    let auto: Vec<_> = test
        .findings
        .iter()
        .filter(|f| f.file == "<autogenerated>")
        .map(brief)
        .collect();
    assert_eq!(
        auto,
        vec![
            (
                "example.com/msg.test",
                "<autogenerated>",
                1,
                None,
                Kind::Escapes,
                "&reflect.ValueError{...}"
            );
            2
        ]
    );
}

#[test]
fn m2_flow_before_go_1_25() {
    let out = parse(fixture!("m2-small-go1.24.txt"));
    assert_eq!(out.informational, 4);
    let t = &out.findings[0];
    assert_eq!(
        brief(t),
        ("example.com/m2", "./x.go", 9, Some(2), Kind::Moved, "t")
    );
    assert_eq!(
        t.flow,
        [
            "flow: ~r0 = &t:",
            "  from &t (address-of) at ./x.go:10:9",
            "  from return &t (return) at ./x.go:10:2"
        ]
    );
    let lit = &out.findings[1];
    assert_eq!(
        brief(lit),
        (
            "example.com/m2",
            "./x.go",
            18,
            Some(7),
            Kind::Escapes,
            "&T{...}"
        )
    );
    assert_eq!(lit.flow.len(), 6);
    assert_eq!(lit.flow[3], "flow: {heap} = x:");
}

#[test]
fn m2_flow_from_go_1_25() {
    let out = parse(fixture!("m2-small-go1.26.txt"));
    assert_eq!(out.findings.len(), 2);
    assert_eq!(
        out.findings[0].flow,
        [
            "flow: ~r0 ← &t:",
            "  from &t (address-of) at ./x.go:10:9",
            "  from return &t (return) at ./x.go:10:2"
        ]
    );
    assert_eq!(
        out.findings[1].flow,
        [
            "flow: x ← &{storage for &T{...}}:",
            "  from &T{...} (spill) at ./x.go:18:7",
            "  from x := &T{...} (assign) at ./x.go:18:4",
            "flow: {heap} ← x:",
            "  from x (interface-converted) at ./x.go:19:9",
            "  from sink = x (assign) at ./x.go:19:7"
        ]
    );
    // Same source, older compiler: identical findings apart from the arrow.
    let old = parse(fixture!("m2-small-go1.24.txt"));
    for (new, old) in out.findings.iter().zip(&old.findings) {
        assert_eq!(brief(new), brief(old));
        let arrow: Vec<String> = old
            .flow
            .iter()
            .map(|l| {
                if l.starts_with("flow: ") {
                    l.replacen(" = ", " ← ", 1)
                } else {
                    l.clone()
                }
            })
            .collect();
        assert_eq!(new.flow, arrow);
    }
}

#[test]
fn m2_pairing_by_position_and_text() {
    let out = parse(fixture!("m2-trimpath-go1.26.txt"));
    // x's explanation (49:2) follows the func literal's (50:9); the summaries come
    // later, in the other order.
    let x = find(&out, "example.com/m/a.go", 49, 2, "x");
    assert_eq!(x.kind, Kind::Moved);
    assert_eq!(
        x.flow,
        [
            "flow: {storage for func literal} ← &x:",
            "  from x (captured by a closure) at example.com/m/a.go:50:22",
            "  from x (reference) at example.com/m/a.go:50:22"
        ]
    );
    let lit = find(&out, "example.com/m/a.go", 50, 9, "func literal");
    assert_eq!(lit.flow[0], "flow: ~r0 ← &{storage for func literal}:");
    assert_eq!(lit.flow.len(), 3);
    // Header `append(s, v)`, summary `append`: paired by position; the parameter-leak
    // explanation in between is not attached.
    let append = find(&out, "example.com/m/a.go", 61, 51, "append");
    assert_eq!(append.flow.len(), 3);
    assert_eq!(append.flow[0], "flow: ~r0 ← &{storage for append(s, v)}:");
    // Explanation far from its summary, with three flows.
    let t = find(&out, "example.com/m/a.go", 64, 11, "t");
    assert_eq!(t.flow.len(), 7);
    assert_eq!(
        t.flow[6],
        "  from ch <- t (send) at example.com/m/a.go:87:5"
    );
    // Several instantiations at one position each get their own explanation.
    let boxes: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.file == "example.com/m/gen/gen.go" && f.line == 5)
        .map(|f| (f.expr.as_str(), f.flow.len()))
        .collect();
    assert_eq!(
        boxes,
        [
            ("&gen.Boxed[go.shape.*uint8]{...}", 5),
            ("&gen.Boxed[go.shape.string]{...}", 5),
            ("&gen.Boxed[go.shape.int]{...}", 5)
        ]
    );
    // //line position without a column.
    let yacc = out
        .findings
        .iter()
        .find(|f| f.file == "gen.y")
        .expect("gen.y finding");
    assert_eq!((yacc.line, yacc.column, yacc.flow.len()), (101, None, 3));

    // A constant propagated into the summary (`7`) keeps the header's text (`n`).
    let test = parse(fixture!("m2-test-local.txt"));
    let seven = find(&test, "example.com/msg/msg_test.go", 13, 5, "7");
    assert_eq!(
        seven.flow,
        [
            "flow: {heap} ← &{storage for n}:",
            "  from n (spill) at example.com/msg/msg_test.go:13:5",
            "  from sink = n (assign) at example.com/msg/msg_test.go:13:5"
        ]
    );
}

#[test]
fn m1_and_m2_agree_on_findings() {
    let m1 = parse(fixture!("m1-trimpath-local.txt"));
    let m2 = parse(fixture!("m2-trimpath-local.txt"));
    let mut a: Vec<_> = m1.findings.iter().map(brief).collect();
    let mut b: Vec<_> = m2.findings.iter().map(brief).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

/// `go build -gcflags='-m=2 -d=ssa/check_bce/debug=1'` of
/// tests/fixtures/go-output/checks-source.go.txt with Go 1.24 and 1.26.
fn checked(name: &str, text: &str) -> Vec<(u32, Kind, String)> {
    let out = parse(text);
    assert!(
        out.unrecognised.is_empty(),
        "{name}: {:?}",
        out.unrecognised
    );
    out.checked
        .iter()
        .map(|f| (f.line, f.kind, f.expr.clone()))
        .collect()
}

#[test]
fn inlining_bounds_and_variable_make_from_two_go_versions() {
    let go124 = fixture!("checks-m2-bce-go1.24.txt");
    let go126 = fixture!("checks-m2-bce-go1.26.txt");
    for (name, text) in [("go1.24", go124), ("go1.26", go126)] {
        let got = checked(name, text);
        let has = |line: u32, kind: Kind, expr: &str| {
            got.iter()
                .any(|(l, k, e)| *l == line && *k == kind && e == expr)
        };
        assert!(has(7, Kind::Inlinable, "Sum"), "{name}: {got:?}");
        assert!(has(20, Kind::Inlinable, "Idx"), "{name}");
        assert!(has(21, Kind::BoundsCheck, "IsInBounds"), "{name}");
        assert!(has(25, Kind::BoundsCheck, "IsSliceInBounds"), "{name}");
        let makes: Vec<&str> = got
            .iter()
            .filter(|(_, k, _)| *k == Kind::VariableMake)
            .map(|(_, _, e)| e.as_str())
            .collect();
        if name == "go1.24" {
            // Before 1.25 a variable-size make is on the heap and says so.
            assert!(makes.is_empty(), "{makes:?}");
            let heap = parse(text).findings;
            assert!(heap.iter().any(|f| f.expr == "make([]byte, n)"));
        } else {
            assert_eq!(
                makes,
                vec!["make([]byte, n)", "make([]int, 0, n)", "make([]big, n)"],
                "constant sizes, folded (N*2) or capped (n, 16), are not variable"
            );
        }
    }
}
