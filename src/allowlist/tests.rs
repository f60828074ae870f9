use super::*;
use crate::finding::Kind;

const ORIGIN: &str = ".escape-gate.yml";

fn err(text: &str) -> String {
    match Config::parse(text, ORIGIN) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn parse(text: &str) -> Config {
    match Config::parse(text, ORIGIN) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn date(s: &str) -> Date {
    Date::parse(s).expect("test date")
}

fn finding(file: &str, function: &str, message: &str) -> Finding {
    Finding {
        package: "example.com/m/internal/codec".to_string(),
        message: message.to_string(),
        ..Finding::example(file, 10, function, Kind::Escapes, "")
    }
}

#[test]
fn parses_the_full_example() {
    let text = r#"version: 1
build:                        # optional
  packages: ["./..."]
  exclude: ["internal/gen/..."]
  tags: ["integration"]
  flags: ["-pgo=off"]
allow:
  - path: "internal/codec/*.go"          # glob on the repository-relative path
    function: "(*Encoder).Encode"         # optional glob
    message: "make([]byte, *) escapes to heap"   # optional glob on the compiler message
    count: 2                              # optional: at most this many new ones
    reason: "the buffer is handed to the caller"  # required
    expires: 2027-06-30                   # optional; after it the entry stops allowing
"#;
    let c = parse(text);
    assert_eq!(
        c.build,
        BuildConfig {
            packages: vec!["./...".into()],
            exclude: vec!["internal/gen/...".into()],
            tags: vec!["integration".into()],
            flags: vec!["-pgo=off".into()],
            timeout: None,
            platforms: Vec::new(),
        }
    );
    assert_eq!(c.allow.len(), 1);
    let e = &c.allow[0];
    assert_eq!(e.path, "internal/codec/*.go");
    assert_eq!(e.function.as_deref(), Some("(*Encoder).Encode"));
    assert_eq!(
        e.message.as_deref(),
        Some("make([]byte, *) escapes to heap")
    );
    assert_eq!(e.count, Some(2));
    assert_eq!(e.reason, "the buffer is handed to the caller");
    assert_eq!(
        e.expires,
        Some(Date {
            year: 2027,
            month: 6,
            day: 30
        })
    );
    assert_eq!(e.line, Some(8));
}

#[test]
fn empty_documents_are_an_empty_config() {
    for text in [
        "",
        "\n\n",
        "# just a comment\n\n# another\n",
        "---\n",
        "~\n",
    ] {
        assert_eq!(
            Config::parse(text, ORIGIN).ok(),
            Some(Config::default()),
            "{text:?}"
        );
    }
}

#[test]
fn null_sections_are_empty() {
    let c = parse("version: 1\nbuild:\n  tags:\nallow:\n");
    assert_eq!(c, Config::default());
}

#[test]
fn quoted_and_unquoted_dates_are_the_same() {
    let base = "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: ";
    for v in ["2027-06-30", "\"2027-06-30\"", "'2027-06-30'"] {
        let c = parse(&format!("{base}{v}\n"));
        assert_eq!(c.allow[0].expires, Some(date("2027-06-30")), "{v}");
    }
}

#[test]
fn errors_name_file_line_column_and_field() {
    let cases: &[(&str, &str, &str)] = &[
            (
                "unknown top-level key",
                "version: 1\nallw: []\n",
                ".escape-gate.yml:2:1: unknown field `allw`, expected one of `version`, `build`, `allow`, `checks`, `hot`, `profile`, `platforms`",
            ),
            (
                "unknown key in build",
                "version: 1\nbuild:\n  tag: [x]\n",
                ".escape-gate.yml:3:3: build: unknown field `tag`, expected one of `packages`, `exclude`, `tags`, `flags`, `timeout`",
            ),
            (
                "unknown key inside an entry",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    owner: me\n",
                ".escape-gate.yml:5:5: allow[0]: unknown field `owner`, expected one of `path`, `function`, `message`, `count`, `reason`, `expires`, `check`, `platforms`, `stale`",
            ),
            (
                "misspelt reason",
                "version: 1\nallow:\n  - path: a\n    reason: r\n\n  - path: b\n    reson: r\n",
                ".escape-gate.yml:7:5: allow[1]: unknown field `reson`, expected one of `path`, `function`, `message`, `count`, `reason`, `expires`, `check`, `platforms`, `stale`",
            ),
            (
                "missing reason: located at the entry",
                "version: 1\nallow:\n  - path: a\n    count: 1\n",
                ".escape-gate.yml:3:5: allow[0]: missing field `reason`",
            ),
            (
                "missing path",
                "version: 1\nallow:\n  - reason: r\n",
                ".escape-gate.yml:3:5: allow[0]: missing field `path`",
            ),
            (
                "empty reason",
                "version: 1\nallow:\n  - path: a\n    reason: \"\"\n",
                ".escape-gate.yml:4:13: allow[0].reason: must say why the allocation is acceptable; it is empty",
            ),
            (
                "blank reason",
                "version: 1\nallow:\n  - path: a\n    reason: '   '\n",
                ".escape-gate.yml:4:13: allow[0].reason: must say why the allocation is acceptable; it is empty",
            ),
            (
                "null reason",
                "version: 1\nallow:\n  - path: a\n    reason:\n",
                ".escape-gate.yml:4:12: allow[0].reason: must say why the allocation is acceptable; it is empty",
            ),
            (
                "bad path glob",
                "version: 1\nallow:\n  - path: a/[b\n    reason: r\n",
                ".escape-gate.yml:3:11: allow[0].path: \"a/[b\" is not a valid glob: unclosed character class; missing ']'",
            ),
            (
                "empty path",
                "version: 1\nallow:\n  - path: ''\n    reason: r\n",
                ".escape-gate.yml:3:11: allow[0].path: must not be empty (use \"**\" for every file)",
            ),
            (
                "empty function",
                "version: 1\nallow:\n  - path: a\n    function: ''\n    reason: r\n",
                ".escape-gate.yml:4:15: allow[0].function: must not be empty (leave the key out to match any)",
            ),
            (
                "bad date, second entry, comments between",
                "version: 1\nallow:\n  - path: a\n    reason: r\n\n  # next\n  - path: b\n    reason: r\n    expires: 2027-02-30\n",
                ".escape-gate.yml:9:14: allow[1].expires: \"2027-02-30\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "Feb 29 in a non-leap year",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: 2027-02-29\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"2027-02-29\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "Feb 29 in a century non-leap year",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: '2100-02-29'\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"2100-02-29\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "date in another format",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: 30/06/2027\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"30/06/2027\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "date as a number (a plain scalar reaches visit_str as text)",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: 20270630\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"20270630\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "version 2",
                "version: 2\n",
                ".escape-gate.yml:1:10: version: unsupported version 2; this escape-gate understands only version 1",
            ),
            (
                "version 0",
                "version: 0\n",
                ".escape-gate.yml:1:10: version: unsupported version 0; this escape-gate understands only version 1",
            ),
            (
                "version as text",
                "version: one\n",
                ".escape-gate.yml:1:10: version: invalid type: string \"one\", expected the number 1",
            ),
            (
                "missing version",
                "allow: []\n",
                ".escape-gate.yml:1:1: missing field `version` (the file must start with `version: 1`)",
            ),
            (
                "count 0",
                "version: 1\nallow:\n  - path: a\n    count: 0\n    reason: r\n",
                ".escape-gate.yml:4:12: allow[0].count: must be at least 1 (leave it out for no limit, or remove the entry)",
            ),
            (
                "count negative",
                "version: 1\nallow:\n  - path: a\n    count: -3\n    reason: r\n",
                ".escape-gate.yml:4:12: allow[0].count: -3 is negative; it must be at least 1",
            ),
            (
                "count too large",
                "version: 1\nallow:\n  - path: a\n    count: 4294967296\n    reason: r\n",
                ".escape-gate.yml:4:12: allow[0].count: 4294967296 is too large",
            ),
            (
                "duplicate key",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    reason: s\n",
                ".escape-gate.yml:3:5: allow[0]: duplicate field `reason`",
            ),
            (
                "flow style is located too",
                "version: 1\nallow: [{path: a, reason: r, expires: 2027-13-01}]\n",
                ".escape-gate.yml:2:39: allow[0].expires: \"2027-13-01\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "YAML syntax error",
                "version: 1\nallow: [\n",
                ".escape-gate.yml:3:1: did not find expected node content, while parsing a flow node",
            ),
        ];
    let failures: Vec<String> = cases
        .iter()
        .filter(|(_, text, want)| err(text) != *want)
        .map(|(name, text, want)| format!("{name}:\n   got {}\n  want {want}", err(text)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_fields_are_structured() {
    let e = Config::parse(
        "version: 1\nallow:\n  - path: a\n    reson: r\n",
        "cfg in head 1a2b3c4",
    )
    .expect_err("misspelt key");
    assert_eq!(e.origin, "cfg in head 1a2b3c4");
    assert_eq!((e.line, e.column), (Some(4), Some(5)));
    assert!(
        e.message.starts_with("allow[0]: unknown field `reson`"),
        "{}",
        e.message
    );
}

#[test]
fn dates_parse_only_real_calendar_days() {
    type Ymd = (i32, u32, u32);
    let cases: &[(&str, Option<Ymd>)] = &[
        ("2027-06-30", Some((2027, 6, 30))),
        ("2024-02-29", Some((2024, 2, 29))), // leap year
        ("2000-02-29", Some((2000, 2, 29))), // divisible by 400
        ("2023-02-29", None),
        ("1900-02-29", None), // divisible by 100, not 400
        ("2027-04-31", None),
        ("2027-12-31", Some((2027, 12, 31))),
        ("2027-00-10", None),
        ("2027-13-01", None),
        ("2027-01-00", None),
        ("2027-6-30", None),
        ("2027-06-30 ", None),
        ("2027/06/30", None),
        ("+027-06-30", None),
        ("２０２７-06-30", None),
        ("", None),
    ];
    for (s, want) in cases {
        let got = Date::parse(s).map(|d| (d.year, d.month, d.day));
        assert_eq!(got, *want, "{s:?}");
    }
    assert_eq!(date("0042-01-05").to_string(), "0042-01-05");
    assert!(date("2027-06-30") < date("2027-07-01"));
    assert!(date("2026-12-31") < date("2027-01-01"));
}

#[test]
fn civil_from_days() {
    let cases = [
        (0, "1970-01-01"),
        (-1, "1969-12-31"),
        (11_017, "2000-03-01"),
        (19_723, "2024-01-01"),
        (19_782, "2024-02-29"),
        (19_783, "2024-03-01"),
    ];
    for (days, want) in cases {
        assert_eq!(
            Date::from_days_since_epoch(days).to_string(),
            want,
            "{days}"
        );
    }
    // Only a sanity check: the clock says some date this century.
    let today = Date::today_utc();
    assert!(
        today > date("2024-01-01") && today < date("2100-01-01"),
        "{today}"
    );
}

#[test]
fn entry_lines_skip_comments_and_blank_lines() {
    let text = "\
# escape-gate allowlist
version: 1

allow:
  # codec
  - path: a.go
    reason: |
      multi-line
      reason

    # an inner comment
    function: F

# a top-level comment between items
  - path: b.go   # trailing
    reason: r
  -
    path: c.go
    reason: r
build:
  tags: [x]
";
    let c = parse(text);
    let lines: Vec<_> = c.allow.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(6), Some(15), Some(17)]);
    assert_eq!(c.build.tags, ["x"]);
}

#[test]
fn entry_lines_layouts() {
    let cases: &[(&str, &str, &[Option<usize>])] = &[
        (
            "items at column 0",
            "version: 1\nallow:\n- path: a\n  reason: r\n- path: b\n  reason: r\n",
            &[Some(3), Some(5)],
        ),
        (
            "allow before version, comment on the key",
            "allow:   # entries\n    - path: a\n      reason: r\nversion: 1\n",
            &[Some(2)],
        ),
        (
            "flow style",
            "version: 1\nallow: [{path: a, reason: r}]\n",
            &[None],
        ),
        (
            "flow mappings in a block sequence",
            "version: 1\nallow:\n  - {path: a, reason: r}\n  - {path: b, reason: r}\n",
            &[Some(3), Some(4)],
        ),
        (
            "quoted key",
            "version: 1\n\"allow\":\n  - path: a\n    reason: r\n",
            &[Some(3)],
        ),
        (
            "a nested `allow:` is not the top-level one",
            "version: 1\nbuild:\n  tags: []\nallow:\n  - path: a\n    reason: \"allow:\"\n",
            &[Some(5)],
        ),
    ];
    for (name, text, want) in cases {
        let got: Vec<_> = parse(text).allow.iter().map(|e| e.line).collect();
        assert_eq!(got, *want, "case: {name}");
    }
}

#[test]
fn wildcards() {
    let cases = [
        ("(*Encoder).Encode", "(*Encoder).Encode", true),
        ("(*Encoder).Encode", "(*Decoder).Encode", false),
        ("(*Encoder).*", "(*Encoder).Flush", true),
        (
            "make([]byte, *) escapes to heap",
            "make([]byte, 64) escapes to heap",
            true,
        ),
        (
            "make([]byte, *) escapes to heap",
            "make([]byte, n) escapes to heap",
            true,
        ),
        (
            "make([]byte, *) escapes to heap",
            "make([]int, 64) escapes to heap",
            false,
        ),
        (
            "&gen.Boxed[go.shape.*]{...} escapes to heap",
            "&gen.Boxed[go.shape.int]{...} escapes to heap",
            true,
        ),
        ("moved to heap: ?", "moved to heap: b", true),
        ("moved to heap: ?", "moved to heap: buf", false),
        ("moved to heap: *", "moved to heap: ", true),
        ("*", "", true),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
        ("*escapes*", "x escapes to heap", true),
        ("F", "F.func1", false), // whole string
        ("F*", "F.func1", true),
        ("?é", "aé", true), // characters, not bytes
    ];
    for (pat, text, want) in cases {
        assert_eq!(
            Wildcard::new(pat).is_match(text),
            want,
            "{pat:?} vs {text:?}"
        );
    }
}

#[test]
fn path_globs_do_not_cross_directories_with_single_star() {
    let c = parse(
            "version: 1\nallow:\n  - path: 'internal/*.go'\n    reason: r\n  - path: 'cmd/**/*.go'\n    reason: r\n",
        );
    let cases = [
        ("internal/a.go", Some(0)),
        ("internal/codec/a.go", None),
        ("cmd/x/main.go", Some(1)),
        ("cmd/main.go", Some(1)),
        ("cmd/a/b/main.go", Some(1)),
        ("other/a.go", None),
    ];
    for (file, want) in cases {
        let got = c
            .allow
            .iter()
            .position(|e| e.matches(&finding(file, "F", "m")));
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn apply_counts_order_and_staleness() {
    let c = parse(
        r#"version: 1
allow:
  - path: "internal/codec/*.go"
    function: "(*Encoder).Encode"
    message: "make([]byte, *) escapes to heap"
    count: 2
    reason: first, limited
  - path: "internal/codec/*.go"
    reason: catch-all for the codec
  - path: "never/**"
    reason: stale
  - path: "**"
    message: "moved to heap: *"
    count: 1
    reason: one moved variable
"#,
    );
    let enc = |n: u32| {
        let mut f = finding(
            "internal/codec/enc.go",
            "(*Encoder).Encode",
            &format!("make([]byte, {n}) escapes to heap"),
        );
        f.line = n;
        f
    };
    let moved_a = finding("a/a.go", "F", "moved to heap: a");
    let moved_b = finding("b/b.go", "G", "moved to heap: b");
    let other = finding("x/y.go", "H", "&T{} escapes to heap");
    let new = vec![
        enc(1),
        moved_a.clone(),
        enc(2),
        enc(3), // count of entry 0 used up: falls through to entry 1
        moved_b.clone(),
        other.clone(),
    ];
    let out = apply(&c, new, date("2026-01-01"));
    assert_eq!(
        out,
        AllowOutcome {
            remaining: vec![moved_b, other],
            allowed: vec![
                Allowed {
                    finding: enc(1),
                    entry: 0
                },
                Allowed {
                    finding: moved_a,
                    entry: 3
                },
                Allowed {
                    finding: enc(2),
                    entry: 0
                },
                Allowed {
                    finding: enc(3),
                    entry: 1
                },
            ],
            stale: vec![2],
            expired: vec![],
        }
    );
}

#[test]
fn apply_with_nothing_new_makes_every_live_entry_stale() {
    let c = parse("version: 1\nallow:\n  - path: a\n    reason: r\n  - path: b\n    reason: r\n    expires: 2020-01-01\n");
    let out = apply(&c, Vec::new(), date("2026-01-01"));
    assert_eq!((out.stale, out.expired), (vec![0], vec![1]));
}

#[test]
fn apply_expiry_is_inclusive_of_the_day() {
    let c = parse(
            "version: 1\nallow:\n  - path: '**'\n    reason: temporary\n    expires: 2027-06-30\n  - path: never\n    reason: old\n    expires: 2020-01-01\n",
        );
    let f = finding("a.go", "F", "moved to heap: x");
    let cases = [
        ("2027-06-29", true),
        ("2027-06-30", true), // the last day still allows
        ("2027-07-01", false),
    ];
    for (today, allowed) in cases {
        let out = apply(&c, vec![f.clone()], date(today));
        if allowed {
            assert_eq!(
                out.allowed,
                [Allowed {
                    finding: f.clone(),
                    entry: 0
                }],
                "{today}"
            );
            assert_eq!(out.remaining, [], "{today}");
            assert_eq!(out.expired, [1], "{today}");
            assert_eq!(out.stale, [] as [usize; 0], "{today}");
        } else {
            assert_eq!(out.allowed, [], "{today}");
            assert_eq!(out.remaining, std::slice::from_ref(&f), "{today}");
            // Both expired; an expired entry is never also reported stale.
            assert_eq!(out.expired, [0, 1], "{today}");
            assert_eq!(out.stale, [] as [usize; 0], "{today}");
        }
    }
}

#[test]
fn apply_function_and_message_wildcards_with_brackets() {
    let c = parse(
        r#"version: 1
allow:
  - path: "**"
    function: "(*Pool[go.shape.*]).Get"
    reason: generic pool
  - path: "**"
    message: "&gen.Boxed[*]{...} escapes to heap"
    reason: boxed
"#,
    );
    let pool = finding(
        "p.go",
        "(*Pool[go.shape.int]).Get",
        "new(T) escapes to heap",
    );
    let boxed = finding(
        "b.go",
        "F",
        "&gen.Boxed[go.shape.*uint8]{...} escapes to heap",
    );
    let neither = finding("b.go", "(*Pool[int]).Put", "&gen.Boxed{} escapes to heap");
    let out = apply(
        &c,
        vec![pool.clone(), boxed.clone(), neither.clone()],
        date("2026-01-01"),
    );
    assert_eq!(
        out.allowed,
        [
            Allowed {
                finding: pool,
                entry: 0
            },
            Allowed {
                finding: boxed,
                entry: 1
            },
        ]
    );
    assert_eq!(out.remaining, [neither]);
    assert_eq!(out.stale, [] as [usize; 0]);
}
