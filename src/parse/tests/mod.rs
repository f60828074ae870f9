//! Unit tests of the parser: how each message is classified, how a line is cut at its
//! position, what becomes of build errors, stray explanation lines and cut lines, the
//! shapes the checks read (concatenations, conversions, variable-size `make`), and a
//! large synthetic input. The captured output of each Go version is in
//! [`per_version`]; the property tests are in `super::fuzz`.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/go-output/",
            $name
        ))
    };
}

mod per_version;

/// A finding without its message and flow, for compact expectations.
fn brief(f: &RawFinding) -> (&str, &str, u32, Option<u32>, Kind, &str) {
    (
        f.block.as_str(),
        f.file.as_str(),
        f.line,
        f.column,
        f.kind,
        f.expr.as_str(),
    )
}

fn count(out: &ParsedOutput, kind: Kind) -> usize {
    out.findings.iter().filter(|f| f.kind == kind).count()
}

#[test]
fn classify_messages() {
    use Message::*;
    let cases: &[(&str, Option<(Message, &str)>)] = &[
        // Heap allocations, in every rendering the fixtures show.
        ("moved to heap: t", Some((Moved, "t"))),
        ("moved to heap: a", Some((Moved, "a"))),
        ("&S{} escapes to heap", Some((Escapes, "&S{}"))),
        ("&T{...} escapes to heap", Some((Escapes, "&T{...}"))),
        ("make([]byte, 0, 16) escapes to heap", Some((Escapes, "make([]byte, 0, 16)"))),
        ("make([]int, n) escapes to heap", Some((Escapes, "make([]int, n)"))),
        ("func literal escapes to heap", Some((Escapes, "func literal"))),
        ("a + b escapes to heap", Some((Escapes, "a + b"))),
        ("string(b) escapes to heap", Some((Escapes, "string(b)"))),
        ("x escapes to heap", Some((Escapes, "x"))),
        ("1 escapes to heap", Some((Escapes, "1"))),
        ("~r0 escapes to heap", Some((Escapes, "~r0"))),
        ("append escapes to heap", Some((Escapes, "append"))),
        ("... argument escapes to heap", Some((Escapes, "... argument"))),
        ("\"string too large\" escapes to heap", Some((Escapes, "\"string too large\""))),
        ("\"x\" + s escapes to heap", Some((Escapes, "\"x\" + s"))),
        (
            "&gen.Boxed[go.shape.*uint8]{...} escapes to heap",
            Some((Escapes, "&gen.Boxed[go.shape.*uint8]{...}")),
        ),
        ("testdeps.TestDeps{} escapes to heap", Some((Escapes, "testdeps.TestDeps{}"))),
        // -m=2 headers explain a finding; they are not one.
        ("t escapes to heap in newT:", Some((Info, "t"))),
        ("t escapes to heap:", Some((Info, "t"))),
        ("append(s, v) escapes to heap in appendy:", Some((Info, "append(s, v)"))),
        (
            "&gen.Boxed[go.shape.*uint8]{...} escapes to heap in Box[*main.T]:",
            Some((Info, "&gen.Boxed[go.shape.*uint8]{...}")),
        ),
        (
            "&reflect.ValueError{...} escapes to heap in struct { reflect.typ_ *internal/abi.Type; reflect.ptr unsafe.Pointer; reflect.flag }.reflect.mustBe:",
            Some((Info, "&reflect.ValueError{...}")),
        ),
        ("parameter p leaks to {heap} with derefs=0:", Some((Info, "p"))),
        ("parameter p leaks to {heap} for g with derefs=0:", Some((Info, "p"))),
        (
            "parameter ~p0 leaks to {heap} for interface { Get() *int }.Get with derefs=0:",
            Some((Info, "~p0")),
        ),
        ("  flow: ~r0 = &t:", Some((Info, "flow: ~r0 = &t:"))),
        ("  flow: {heap} ← *pp:", Some((Info, "flow: {heap} ← *pp:"))),
        (
            "    from &t (address-of) at ./x.go:10:9",
            Some((Info, "from &t (address-of) at ./x.go:10:9")),
        ),
        (
            "  warning: truncated explanation due to assignment cycle; see golang.org/issue/35518",
            Some((Info, "warning: truncated explanation due to assignment cycle; see golang.org/issue/35518")),
        ),
        // Informational.
        ("p does not escape", Some((DoesNotEscape, "p"))),
        ("make([]int, 10) does not escape", Some((DoesNotEscape, "make([]int, 10)"))),
        ("... argument does not escape", Some((DoesNotEscape, "... argument"))),
        ("append does not escape", Some((DoesNotEscape, "append"))),
        ("42 does not escape", Some((DoesNotEscape, "42"))),
        ("([]byte)(\"x\") does not escape", Some((DoesNotEscape, "([]byte)(\"x\")"))),
        ("p does not escape, mutate, or call", Some((DoesNotEscape, "p"))),
        ("leaking param: p", Some((LeakingParam, "p"))),
        ("leaking param content: pp", Some((LeakingParam, "pp"))),
        ("leaking param: p to result ~r0 level=0", Some((LeakingParam, "p"))),
        ("leaking param: i to result ~r0 level=1", Some((LeakingParam, "i"))),
        ("mutates param: p derefs=0", Some((LeakingParam, "p"))),
        ("calls param: f derefs=1", Some((LeakingParam, "f"))),
        ("can inline helper", Some((Inlining, "helper"))),
        ("can inline (*Inner).Get", Some((Inlining, "(*Inner).Get"))),
        ("can inline gen.Box[go.shape.*uint8]", Some((Inlining, "gen.Box[go.shape.*uint8]"))),
        (
            "can inline f with cost 10 as: func(int) *T { t := T{...}; return &t }",
            Some((Inlining, "f")),
        ),
        ("cannot inline main: unhandled op GO", Some((Inlining, "main"))),
        (
            "cannot inline BenchmarkArea: function too complex: cost 146 exceeds budget 80",
            Some((Inlining, "BenchmarkArea")),
        ),
        ("cannot inline F into G: repeated recursive cycle", Some((Inlining, "F"))),
        ("inlining call to fmt.Println", Some((Inlining, "fmt.Println"))),
        ("inlining call to F with score 12", Some((Inlining, "F"))),
        ("function main considered 'big'; reducing max cost of inlinees", Some((Inlining, "main"))),
        ("devirtualizing s.Area to Sq", Some((Info, "s.Area"))),
        ("partially devirtualizing s.Area to Sq", Some((Info, "s.Area"))),
        ("PGO devirtualizing interface call s.Area to Sq.Area", Some((Info, "interface call s.Area"))),
        ("cannot devirtualize s.M(): shaped receiver go.shape.int", Some((Info, "s.M()"))),
        ("index bounds check elided", Some((Info, "index bounds check elided"))),
        ("zero-copy string->[]byte conversion", Some((Info, "zero-copy string->[]byte conversion"))),
        ("closure capturing by ref: x (addr=false assign=true width=8)", Some((Info, "x"))),
        ("main capturing by value: t (addr=false assign=false width=8)", Some((Info, "t"))),
        ("(*Buf).Trim ignoring self-assignment in b.b = b.b[1:]", Some((Info, "b.b = b.b[1:]"))),
        ("assuming ~p1 is unsafe uintptr", Some((Info, "~p1"))),
        ("marking p as escaping uintptr", Some((Info, "p"))),
        ("marking ps as escaping ...uintptr", Some((Info, "ps"))),
        ("function result will be kept alive", Some((Info, "function result"))),
        ("expr is unknown to bloop pass", Some((Info, "expr is unknown to bloop pass"))),
        ("stack object x [8]int", Some((Info, "x [8]int"))),
        // Not escape analysis: errors, and what a future release may add.
        ("undefined: y", None),
        ("declared and not used: x", None),
        ("x escapes to heap, not allowed in runtime", None),
        ("moved to heap: ", None),
        (" escapes to heap", None),
        ("escapes to heap", None),
        ("  something new: x", None),
        ("marking p as special", None),
        ("assuming p is fine", None),
        ("parameter p is unused:", None),
        ("", None),
    ];
    for &(message, want) in cases {
        assert_eq!(classify(message), want, "message {message:?}");
    }
}

#[test]
fn split_positions() {
    /// file, line, column, position, message
    type Split = (&'static str, u32, Option<u32>, &'static str, &'static str);
    let cases: &[(&str, Option<Split>)] = &[
        (
            "./a.go:13:6: can inline x",
            Some(("./a.go", 13, Some(6), "./a.go:13:6", "can inline x")),
        ),
        (
            "sub/sub.go:9:6: m",
            Some(("sub/sub.go", 9, Some(6), "sub/sub.go:9:6", "m")),
        ),
        (
            "<autogenerated>:1: m",
            Some(("<autogenerated>", 1, None, "<autogenerated>:1", "m")),
        ),
        (
            "gen.y:101: x escapes to heap",
            Some(("gen.y", 101, None, "gen.y:101", "x escapes to heap")),
        ),
        (
            r"C:\x\a.go:3:4: msg",
            Some((r"C:\x\a.go", 3, Some(4), r"C:\x\a.go:3:4", "msg")),
        ),
        (
            "my dir/a b.go:3:4: m",
            Some(("my dir/a b.go", 3, Some(4), "my dir/a b.go:3:4", "m")),
        ),
        (
            "dir:1/a.go:3:4: m",
            Some(("dir:1/a.go", 3, Some(4), "dir:1/a.go:3:4", "m")),
        ),
        (
            "x:12:a.go:3:4: m",
            Some(("x:12:a.go", 3, Some(4), "x:12:a.go:3:4", "m")),
        ),
        // The explanation lines keep their indent in the message.
        (
            "a.go:9:2:   flow: x ← y:",
            Some(("a.go", 9, Some(2), "a.go:9:2", "  flow: x ← y:")),
        ),
        // A position inside the message is not the line's position.
        (
            "a.go:9:2:     from &t at b.go:1:1",
            Some(("a.go", 9, Some(2), "a.go:9:2", "    from &t at b.go:1:1")),
        ),
        ("a.go:3:4: ", Some(("a.go", 3, Some(4), "a.go:3:4", ""))),
        // An absurd line number is not one: the colon then counts as part of the file name.
        (
            "a.go:99999999999:4: m",
            Some(("a.go:99999999999", 4, None, "a.go:99999999999:4", "m")),
        ),
        ("a.go:3:4:m", None),
        ("a.go:3:x: m", None),
        ("go: downloading example.com/x v1.0.0", None),
        ("note: module requires Go 1.30 (running go 1.26.8)", None),
        ("too many errors", None),
    ];
    for &(text, want) in cases {
        let got = split_position(text).map(|d| (d.file, d.line, d.column, d.position, d.message));
        assert_eq!(got, want, "line {text:?}");
    }
}

#[test]
fn build_errors_are_unrecognised() {
    let out = parse(fixture!("m1-error-local.txt"));
    assert_eq!(
        out.unrecognised,
        [
            "./bad.go:4:2: declared and not used: x",
            "./bad.go:5:10: undefined: y"
        ]
    );
    assert_eq!(out.informational, 1);
    assert_eq!(
        out.findings.iter().map(brief).collect::<Vec<_>>(),
        [(
            "example.com/bad/ok",
            "ok/ok.go",
            3,
            Some(17),
            Kind::Moved,
            "x"
        )]
    );

    let text = "go: downloading example.com/x v1.0.0\r\n\
                note: module requires Go 1.30 (running go 1.26.8)\r\n\
                C:\\w\\a.go:3:4: moved to heap: v\r\n\
                \r\n\
                # example.com/p\r\n\
                C:\\w\\a.go:5:1: new(T) escapes to heap\r\n\
                C:\\w\\a.go:5:1: something the next release says\r\n\
                #\r\n";
    let out = parse(text);
    assert_eq!(
        out.unrecognised,
        [
            "go: downloading example.com/x v1.0.0",
            "note: module requires Go 1.30 (running go 1.26.8)",
            "C:\\w\\a.go:5:1: something the next release says",
            "#"
        ]
    );
    assert_eq!(
        out.findings.iter().map(brief).collect::<Vec<_>>(),
        [
            ("", "C:\\w\\a.go", 3, Some(4), Kind::Moved, "v"),
            (
                "example.com/p",
                "C:\\w\\a.go",
                5,
                Some(1),
                Kind::Escapes,
                "new(T)"
            )
        ]
    );
    assert_eq!(out.informational, 0);
}

#[test]
fn explanation_edge_cases() {
    let text = "# p\n\
        a.go:1:5: x escapes to heap in F:\n\
        a.go:1:5:   flow: {heap} ← &x:\n\
        a.go:1:5: &T{} escapes to heap in F:\n\
        a.go:1:5:   flow: y ← &{storage for &T{}}:\n\
        a.go:1:5:   warning: truncated explanation due to assignment cycle; see golang.org/issue/35518\n\
        a.go:2:1:   flow: stray ← line:\n\
        a.go:3:1: unexpected text\n\
        a.go:3:1:   flow: after ← unrecognised:\n\
        a.go:1:5: &T{} escapes to heap\n\
        a.go:1:5: moved to heap: x\n\
        a.go:9:9: z escapes to heap\n\
        a.go:1:5: w escapes to heap in G:\n\
        a.go:1:5:   flow: {heap} ← &w:\n\
        # q\n\
        a.go:1:5: moved to heap: x\n";
    let out = parse(text);
    assert_eq!(out.unrecognised, ["a.go:3:1: unexpected text"]);
    assert_eq!(out.informational, 0);
    let got: Vec<_> = out
        .findings
        .iter()
        .map(|f| (f.block.as_str(), f.expr.as_str(), f.flow.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "p",
                "&T{}",
                vec![
                    "flow: y ← &{storage for &T{}}:".to_string(),
                    "warning: truncated explanation due to assignment cycle; see golang.org/issue/35518"
                        .to_string()
                ]
            ),
            ("p", "x", vec!["flow: {heap} ← &x:".to_string()]),
            ("p", "z", vec![]),
            // An explanation left without a summary does not leak into the next block.
            ("q", "x", vec![]),
        ]
    );
}

#[test]
fn empty_input() {
    assert_eq!(parse(""), ParsedOutput::default());
    assert_eq!(parse("\n\n"), ParsedOutput::default());
}

/// A large input, to catch accidental quadratic behaviour; counts must be exact.
#[test]
fn large_synthetic_input() {
    let text = synthetic(200_000);
    assert_eq!(text.lines().count(), 200_000);
    let out = parse(&text);
    // Per 20-line package: 1 header, 4 heap, 5 informational, 9 explanation lines, 1 error.
    let packages = 200_000 / 20;
    assert_eq!(out.findings.len(), packages * 4);
    assert_eq!(count(&out, Kind::Moved), packages);
    assert_eq!(out.informational, packages * 5);
    assert_eq!(out.unrecognised.len(), packages);
    let flows: Vec<usize> = out.findings[..4].iter().map(|f| f.flow.len()).collect();
    assert_eq!(flows, [3, 2, 0, 0]);
    assert_eq!(
        out.findings.iter().filter(|f| f.flow.len() == 3).count(),
        packages
    );
    assert_eq!(
        out.findings.iter().filter(|f| f.flow.len() == 2).count(),
        packages
    );
    let f = &out.findings[out.findings.len() - 1];
    assert_eq!(
        brief(f),
        (
            "example.com/p9999",
            "example.com/p9999/a.go",
            12,
            Some(3),
            Kind::Escapes,
            "func literal"
        )
    );
}

fn synthetic(lines: usize) -> String {
    let mut text = String::with_capacity(lines * 60);
    for p in 0..lines / 20 {
        let f = format!("example.com/p{p}/a.go");
        text.push_str(&format!("# example.com/p{p}\n"));
        text.push_str(&format!(
            "{f}:3:6: can inline newT with cost 12 as: func() *T {{ t := T{{...}}; return &t }}\n"
        ));
        text.push_str(&format!("{f}:4:2: t escapes to heap in newT:\n"));
        text.push_str(&format!("{f}:4:2:   flow: ~r0 ← &t:\n"));
        text.push_str(&format!("{f}:4:2:     from &t (address-of) at {f}:5:9\n"));
        text.push_str(&format!(
            "{f}:4:2:     from return &t (return) at {f}:5:2\n"
        ));
        text.push_str(&format!(
            "{f}:7:12: parameter p leaks to {{heap}} for store with derefs=0:\n"
        ));
        text.push_str(&format!("{f}:7:12:   flow: {{heap}} ← p:\n"));
        text.push_str(&format!("{f}:8:9: make([]int, n) escapes to heap in mk:\n"));
        text.push_str(&format!(
            "{f}:8:9:   flow: ~r0 ← &{{storage for make([]int, n)}}:\n"
        ));
        text.push_str(&format!("{f}:8:9:     from return s (return) at {f}:8:2\n"));
        text.push_str(&format!("{f}:4:2: moved to heap: t\n"));
        text.push_str(&format!("{f}:7:12: leaking param: p\n"));
        text.push_str(&format!("{f}:8:9: make([]int, n) escapes to heap\n"));
        text.push_str(&format!("{f}:10:2: p does not escape\n"));
        text.push_str(&format!("{f}:11:2: ... argument does not escape\n"));
        text.push_str(&format!("{f}:11:3: x escapes to heap\n"));
        text.push_str(&format!("{f}:12:3: func literal escapes to heap\n"));
        text.push_str(&format!("{f}:13:3: undefined: q\n"));
        text.push_str(&format!("{f}:14:3: index bounds check elided\n"));
    }
    text
}

/// Found by `arbitrary_lines_never_panic`: a line whose first character is more
/// than one byte (a file named `é.go`) made the position search slice inside it.
#[test]
fn a_file_name_starting_with_a_wide_character_is_read() {
    let out = parse("é.go:3:2: moved to heap: x\n←\n𝚨:1: y\n");
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].file, "é.go");
    assert_eq!(out.unrecognised, vec!["←", "𝚨:1: y"]);
}

#[test]
fn a_cut_heap_line_is_a_warning_not_a_finding() {
    let mut parser = Parser::default();
    parser.cut_line("a.go:1:2: moved to heap: xxxxxxxx", 1 << 30);
    let out = parser.finish();
    assert!(out.findings.is_empty());
    assert_eq!(
        out.unrecognised,
        vec!["a.go:1:2: moved to heap: xxxxxxxx… (a line of 1073741824 bytes, too long to read; cut here)"]
    );
}

#[test]
fn concat_convert_shapes_and_zero_copy() {
    for (expr, want) in [
        ("a + b", true),
        ("a + b + c", true),
        ("\"prefix-\" + a", true),
        ("string(b)", true),
        ("string(b[:n])", true),
        ("([]byte)(s)", true),
        ("([]rune)(s)", true),
        ("string(r)", true),
        ("([]byte)(\"x\")", false),
        ("string(\"x\")", false),
        ("f(a + b)", false),
        ("\"a + b\"", false),
        ("make([]byte, n + 1)", false),
        ("&T{...}", false),
    ] {
        assert_eq!(is_concat_convert(expr), want, "{expr}");
    }
    let text = "# example.com/m\n./a.go:4:13: a + b + c does not escape\n./a.go:10:14: ([]byte)(s) does not escape\n./a.go:10:14: zero-copy string->[]byte conversion\n./a.go:11:14: ([]rune)(s) does not escape\n./a.go:13:14: ([]byte)(\"constant\") does not escape\n";
    let got: Vec<(u32, String)> = parse(text)
        .checked
        .iter()
        .filter(|f| f.kind == Kind::ConcatConvert)
        .map(|f| (f.line, f.expr.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "a + b + c".to_string()),
            (11, "([]rune)(s)".to_string())
        ],
        "the zero-copy conversion and the constant one allocate nothing"
    );
}

#[test]
fn variable_make_shapes() {
    for (expr, want) in [
        ("make([]byte, n)", true),
        ("make([]int, 0, n)", true),
        ("make([]byte, len(s) + 1)", true),
        ("make([]func(a, b int), n)", true),
        ("make([]byte, 16)", false),
        ("make([]byte, n, 16)", false),
        ("make([]func(a, b int), 4)", false),
        ("make(map[string]int, n)", false),
        ("make(chan int, n)", false),
        ("new(T)", false),
    ] {
        assert_eq!(is_variable_make(expr), want, "{expr}");
    }
    assert_eq!(
        classify("Found IsInBounds"),
        Some((Message::Info, "IsInBounds"))
    );
}
