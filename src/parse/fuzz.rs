//! Property tests ("fuzzing" on stable Rust): arbitrary lines, and real compiler lines
//! mutated, never make the parser panic, and what it makes of them keeps its
//! invariants. `cargo test` runs proptest's default number of cases;
//! `bench/fuzz.sh` runs many more (`PROPTEST_CASES`).

use super::*;
use proptest::prelude::*;

/// Every line of every captured compiler output (`tests/fixtures/go-output/m*.txt`, read
/// from the directory so that a new Go release's capture is fuzzed without a list to
/// keep).
fn fixture_lines() -> Vec<&'static str> {
    static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LINES
        .get_or_init(|| {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/go-output");
            let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
                .expect("the captured compiler output")
                .map(|e| e.expect("a directory entry").path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('m') && n.ends_with(".txt"))
                })
                .collect();
            files.sort();
            assert!(files.len() >= 14, "captured outputs in {}", dir.display());
            files
                .iter()
                .flat_map(|f| {
                    let text = std::fs::read_to_string(f).expect("a captured output");
                    text.lines().map(str::to_string).collect::<Vec<_>>()
                })
                .collect()
        })
        .iter()
        .map(String::as_str)
        .collect()
}

/// One edit of a line: what a new Go release, a hostile file name or a damaged
/// stream could do to it.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, String),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
    /// Replaces a run of digits (a line or column) with another number.
    Renumber(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let text = prop_oneof![
        "[:# \t\r←=~*&{}()\\[\\]0-9a-z.\"'\\\\/-]{1,6}",
        Just(": ".to_string()),
        Just(" escapes to heap".to_string()),
        Just("moved to heap: ".to_string()),
        Just(" in F:".to_string()),
        Just("  flow: ".to_string()),
        Just("    from x (assign) at a.go:1:2".to_string()),
        Just(":4294967296:".to_string()),
        Just("\u{0}\u{feff}é😀".to_string()),
    ];
    prop_oneof![
        (any::<usize>(), text).prop_map(|(at, s)| Mutation::Insert(at, s)),
        (any::<usize>(), 0usize..12).prop_map(|(at, n)| Mutation::Delete(at, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..12).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        (any::<usize>(), "[0-9]{0,12}").prop_map(|(at, n)| Mutation::Renumber(at, n)),
    ]
}

/// The nearest character boundary at or before `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    let mut at = at % (s.len() + 1);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(line: &str, m: &Mutation) -> String {
    let mut s = line.to_string();
    match m {
        Mutation::Insert(at, text) => s.insert_str(boundary(&s, *at), text),
        Mutation::Delete(at, n) => {
            let from = boundary(&s, *at);
            let to = boundary(&s, (from + n).min(s.len()));
            if to > from {
                s.replace_range(from..to, "");
            }
        }
        Mutation::Truncate(at) => s.truncate(boundary(&s, *at)),
        Mutation::Duplicate(at, n) => {
            let from = boundary(&s, *at);
            let to = boundary(&s, (from + n).min(s.len()));
            let piece = s[from.min(to)..to].to_string();
            s.insert_str(to, &piece);
        }
        Mutation::Renumber(at, digits) => {
            let bytes = s.as_bytes();
            let start = boundary(&s, *at);
            if let Some(d) = bytes[start..].iter().position(u8::is_ascii_digit) {
                let from = start + d;
                let len = bytes[from..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                s.replace_range(from..from + len, digits);
            }
        }
    }
    s
}

/// The parser's invariants for `lines` fed one at a time.
fn check(lines: &[String]) -> Result<(), TestCaseError> {
    let mut parser = Parser::default();
    for line in lines {
        parser.line(line);
    }
    let out = parser.finish();
    // The same text parsed whole gives the same result as streamed; lines with a
    // `\n` inside are several lines to `parse`, so only compare when there are none.
    if lines.iter().all(|l| !l.contains('\n')) {
        prop_assert_eq!(&parse(&lines.join("\n")), &out);
    }
    let content: Vec<&str> = lines
        .iter()
        .map(|l| l.strip_suffix('\n').unwrap_or(l))
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .collect();
    // Each line in at most one place.
    prop_assert!(out.findings.len() + out.unrecognised.len() + out.informational <= content.len());
    for finding in &out.findings {
        prop_assert!(matches!(finding.kind, Kind::Moved | Kind::Escapes));
        prop_assert!(!finding.expr.is_empty() && !finding.file.is_empty());
        // The finding is the message of an input line that starts with its file.
        let file = format!("{}:", finding.file);
        prop_assert!(
            content
                .iter()
                .any(|l| l.starts_with(&file) && l.ends_with(&finding.message)),
            "{:?} is in no input line",
            finding
        );
        prop_assert_eq!(
            classify(&finding.message).and_then(|(m, _)| m.heap()),
            Some(finding.kind)
        );
    }
    for line in &out.unrecognised {
        prop_assert!(
            content.contains(&line.as_str()),
            "{} is no input line",
            line
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic(lines in proptest::collection::vec(any::<String>(), 0..20)) {
        check(&lines)?;
    }

    #[test]
    fn arbitrary_diagnostic_shaped_lines_never_panic(
        lines in proptest::collection::vec(
            "(# |[a-z./]{0,8}:[0-9]{0,11}(:[0-9]{0,11})?: ){0,2}( {0,4}(flow: |from |moved to heap: |warning: )?[a-z&*(){}\\[\\]~ .:←=\"]{0,12}( escapes to heap| does not escape| with derefs=0)?( in [A-Za-z.]{1,5})?:?)",
            0..30,
        )
    ) {
        check(&lines)?;
    }

    #[test]
    fn mutated_compiler_lines_never_panic(
        picks in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::collection::vec(mutation(), 0..4)), 1..40)
    ) {
        let all = fixture_lines();
        let lines: Vec<String> = picks
            .iter()
            .map(|(index, mutations)| {
                let line = all[index.index(all.len())];
                mutations.iter().fold(line.to_string(), |l, m| apply(&l, m))
            })
            .collect();
        check(&lines)?;
    }

    #[test]
    fn cut_lines_are_unrecognised_never_findings(
        start in any::<String>(),
        len in any::<u64>(),
        before in proptest::collection::vec(any::<proptest::sample::Index>(), 0..5),
    ) {
        let all = fixture_lines();
        let mut parser = Parser::default();
        for index in &before {
            parser.line(all[index.index(all.len())]);
        }
        let findings = parser.out.findings.len();
        let unrecognised = parser.out.unrecognised.len();
        parser.cut_line(&start, len);
        let out = parser.finish();
        prop_assert_eq!(out.findings.len(), findings);
        prop_assert_eq!(out.unrecognised.len(), unrecognised + 1);
        let last = out.unrecognised.last().map(String::as_str).unwrap_or("");
        let expected_suffix = format!("… (a line of {len} bytes, too long to read; cut here)");
        prop_assert!(last.ends_with(&expected_suffix));
    }
}
