//! Stage "Attribute": Go source in, function spans out. Given the text of one Go file,
//! [`FunctionIndex`] answers which function encloses a compiler position, named the way
//! `go build -gcflags=-m` names it (`F`, `(*T).M`, `T.M`, `F.func1`, `F.func1.2`, `init`),
//! so that findings can be keyed by function across revisions. Pure: no I/O, no Go
//! toolchain; tree-sitter does the parsing and recovers from syntax errors.
//!
//! Names that the compiler derives from the whole package rather than the file are made
//! file-local and stable instead (the caller keys `init…` findings by file as well):
//! - every `func init()` is `init` (the compiler says `init.0`, `init.1`, … counting
//!   across the package's files), and so is every package-level initialiser;
//! - closures in package-level initialisers are `init.func1`, `init.func2`, … counted in
//!   this file only (Go 1.26 counts them across the package in file order);
//! - closures in the k-th (0-based, in this file) `func init()` are `init.k.func1`, …;
//! - generic code is named once for all its instantiations: `F` for `func F[T any]`,
//!   `(*Box[...]).M` and `Box[...].M` for methods of generic types (the compiler prints
//!   one name per shape and wrapper: `(*Box[go.shape.int]).M`, `(*Box[int]).M`).

use tree_sitter::Node;

use crate::go_syntax::{self, field_text, Step, Walk, MAX_SOURCE};

/// The functions of one Go source file, for looking up which one encloses a position.
#[derive(Debug, Clone)]
pub struct FunctionIndex {
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
    source_len: usize,
    /// Breakpoints, sorted by offset: from `offset` up to the next breakpoint the innermost
    /// enclosing function is `names[name]`, or none (`init`). Flattening the nested spans
    /// this way makes every lookup a single binary search, however deep the nesting.
    breakpoints: Vec<Breakpoint>,
    names: Vec<String>,
    /// Functions and methods whose doc comment holds [`HOT_DIRECTIVE`].
    hot: Vec<String>,
}

/// The comment line that marks a function as a hot path: an escape that moves into it
/// (or into its closures) from elsewhere in the package is new, not moved.
pub const HOT_DIRECTIVE: &str = "//escape-gate:hot";

#[derive(Debug, Clone, Copy)]
struct Breakpoint {
    offset: usize,
    name: Option<usize>,
}

/// One function's byte range `[start, end)` in the source.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    name: usize,
}

/// A function being walked, for naming the closures directly inside it.
struct Scope {
    /// The tree node that opened this scope; `None` for the package level.
    node_id: Option<usize>,
    /// Closure `n` directly inside this scope is called `{closure_prefix}{n}`.
    closure_prefix: String,
    closures: u32,
}

/// The function of every finding in a file over [`MAX_SOURCE`].
pub const TOO_LARGE: &str = "(file over 16 MiB: not attributed)";

/// What package-level positions and unattributable positions are called.
const PACKAGE_INIT: &str = "init";

impl FunctionIndex {
    /// Parses Go source. Never fails on syntax errors: tree-sitter recovers, and partial results are fine.
    ///
    /// A file larger than [`MAX_SOURCE`] is not parsed: every position in it is
    /// [`TOO_LARGE`], on both sides alike, so its findings are still compared (by
    /// expression) and reported, under a name that says why they have no function.
    pub fn new(source: &[u8]) -> FunctionIndex {
        if source.len() > MAX_SOURCE {
            return FunctionIndex {
                line_starts: Vec::new(),
                source_len: source.len(),
                breakpoints: vec![Breakpoint {
                    offset: 0,
                    name: Some(0),
                }],
                names: vec![TOO_LARGE.to_string()],
                hot: Vec::new(),
            };
        }
        let line_starts = go_syntax::line_starts(source);
        let mut names = Vec::new();
        let mut hot = Vec::new();
        let spans = collect_spans(source, &mut names, &mut hot);
        FunctionIndex {
            line_starts,
            source_len: source.len(),
            breakpoints: flatten(&spans),
            names,
            hot,
        }
    }

    /// Whether `function` (as [`FunctionIndex::function_at`] names it) is a hot path:
    /// a function or method marked with [`HOT_DIRECTIVE`], or a closure inside one.
    pub fn is_hot(&self, function: &str) -> bool {
        self.hot.iter().any(|h| {
            function == h
                || function
                    .strip_prefix(h.as_str())
                    .is_some_and(|rest| rest.starts_with(".func"))
        })
    }

    /// Name of the innermost function enclosing 1-based `line` and 1-based byte `column`
    /// (column 0 = unknown: use the start of the line). Positions outside any function
    /// (package-level var/const initialisers) give "init".
    pub fn function_at(&self, line: u32, column: u32) -> String {
        let Some(offset) = self.offset(line, column) else {
            return PACKAGE_INIT.to_string();
        };
        let after = self.breakpoints.partition_point(|b| b.offset <= offset);
        after
            .checked_sub(1)
            .and_then(|i| self.breakpoints[i].name)
            .map_or_else(|| PACKAGE_INIT.to_string(), |n| self.names[n].clone())
    }

    /// Byte offset of a 1-based position, clamped to its line; `None` if the line is not
    /// in the file (line 0 is what `//line`-remapped or synthetic positions may carry).
    fn offset(&self, line: u32, column: u32) -> Option<usize> {
        if self.line_starts.is_empty() {
            // Not parsed (too large): one name for the whole file.
            return Some(0);
        }
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(index)?;
        // The newline ending the line; a column past it (stale positions from an edited
        // file) stays on this line rather than leaking into the next function.
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(self.source_len, |next| next - 1);
        let column = usize::try_from(column).unwrap_or(usize::MAX);
        Some(start.saturating_add(column.saturating_sub(1)).min(end))
    }
}

/// Walks the syntax tree and returns every function's span in pre-order (sorted by start,
/// enclosing before enclosed), with its name pushed onto `names`.
fn collect_spans(source: &[u8], names: &mut Vec<String>, hot: &mut Vec<String>) -> Vec<Span> {
    // An empty index (everything `init`) is a safe answer if the parser gives up,
    // which it does not unless cancelled or timed out.
    let Ok(tree) = go_syntax::parse(source) else {
        return Vec::new();
    };

    let mut spans = Vec::new();
    let mut scopes = vec![Scope {
        node_id: None,
        closure_prefix: format!("{PACKAGE_INIT}.func"),
        closures: 0,
    }];
    let mut init_funcs = 0u32;
    for step in Walk::new(tree.root_node()) {
        let node = match step {
            Step::Enter(node) => node,
            Step::Leave(node) => {
                if scopes.last().and_then(|s| s.node_id) == Some(node.id()) {
                    scopes.pop();
                }
                continue;
            }
        };
        if let Some((start, name, closure_prefix)) =
            function_entry(node, source, &mut scopes, &mut init_funcs)
        {
            if matches!(node.kind(), "function_declaration" | "method_declaration")
                && has_hot_directive(source, node.start_byte())
            {
                hot.push(name.clone());
            }
            names.push(name);
            spans.push(Span {
                start,
                end: node.end_byte(),
                name: names.len() - 1,
            });
            scopes.push(Scope {
                node_id: Some(node.id()),
                closure_prefix,
                closures: 0,
            });
        }
    }
    spans
}

/// Whether the comment lines right above the declaration starting at `start` hold
/// [`HOT_DIRECTIVE`] (alone on its line, like Go's own `//go:` directives).
fn has_hot_directive(source: &[u8], start: usize) -> bool {
    // Only the lines of the doc comment are looked at, walking back from the
    // declaration: each declaration costs its comment, never the whole file before it.
    let before = &source[..start.min(source.len())];
    // The declaration's own line up to `start` is indentation; the lines above it are
    // the doc comment, which ends at the first line that is not a `//` comment.
    let mut end = match before.iter().rposition(|&b| b == b'\n') {
        Some(newline) => newline,
        None => return false,
    };
    loop {
        let begin = before[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before[begin..end].trim_ascii();
        if !line.starts_with(b"//") {
            return false;
        }
        if line == HOT_DIRECTIVE.as_bytes() {
            return true;
        }
        if begin == 0 {
            return false;
        }
        end = begin - 1;
    }
}

/// If `node` is a function, its span start, its name and the prefix for its closures.
fn function_entry(
    node: Node,
    source: &[u8],
    scopes: &mut [Scope],
    init_funcs: &mut u32,
) -> Option<(usize, String, String)> {
    match node.kind() {
        "function_declaration" => {
            let name = field_text(node, "name", source).unwrap_or_default();
            if name == "init" {
                let k = *init_funcs;
                *init_funcs += 1;
                Some((
                    node.start_byte(),
                    PACKAGE_INIT.to_string(),
                    format!("init.{k}.func"),
                ))
            } else {
                let prefix = format!("{name}.func");
                Some((node.start_byte(), name, prefix))
            }
        }
        "method_declaration" => {
            let method = field_text(node, "name", source).unwrap_or_default();
            let name = match go_syntax::receiver(node, source) {
                Some(recv) => format!("{}.{method}", printed_receiver(&recv)),
                None => method,
            };
            let prefix = format!("{name}.func");
            Some((node.start_byte(), name, prefix))
        }
        "func_literal" => {
            let scope = scopes
                .last_mut()
                .expect("the package scope is never popped");
            scope.closures += 1;
            let name = format!("{}{}", scope.closure_prefix, scope.closures);
            let prefix = format!("{name}.");
            // The closure object is allocated by the enclosing function, and the compiler
            // reports that (`func literal escapes to heap`) at the `func` keyword: the
            // literal's own span starts one byte later.
            Some((node.start_byte() + 1, name, prefix))
        }
        _ => None,
    }
}

/// The receiver type as the compiler prints it in a method name: `T`, `(*T)`, `Box[...]`,
/// `(*Box[...])`.
fn printed_receiver(recv: &go_syntax::Receiver) -> String {
    let name = if recv.generic {
        format!("{}[...]", recv.name)
    } else {
        recv.name.clone()
    };
    if recv.pointers == 0 {
        name
    } else {
        format!("({}{name})", "*".repeat(recv.pointers))
    }
}

/// Turns nested spans (pre-order) into breakpoints: each span opens at its start and, at
/// its end, hands the range back to whatever encloses it.
fn flatten(spans: &[Span]) -> Vec<Breakpoint> {
    let mut breakpoints: Vec<Breakpoint> = Vec::with_capacity(spans.len() * 2);
    let mut push = |offset: usize, name: Option<usize>| {
        // At equal offsets only the last one pushed can ever be found.
        match breakpoints.last_mut() {
            Some(last) if last.offset == offset => last.name = name,
            _ => breakpoints.push(Breakpoint { offset, name }),
        }
    };
    let mut open: Vec<Span> = Vec::new();
    for span in spans {
        while let Some(top) = open.last().copied() {
            if top.end > span.start {
                break;
            }
            open.pop();
            push(top.end, open.last().map(|s| s.name));
        }
        push(span.start, Some(span.name));
        open.push(*span);
    }
    while let Some(top) = open.pop() {
        push(top.end, open.last().map(|s| s.name));
    }
    breakpoints
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Go file compiled with go1.26 (`go build -gcflags=-m=2`, package alone in its
    /// module); [`COMPILER_NAMES`] lists the positions of its `... escapes to heap in FUNC:`
    /// and `parameter p leaks to ... for FUNC with derefs=` headers.
    const COMPILED_GO: &str = r#"package eg

type T struct{ p *int }

var sink any

var G = func() *int { x := 1; return &x }()

var H = []func() any{func() any { y := 2; return &y }, func() any { z := 3; return &z }}

func F(p *int) *int {
	x := 0
	f := func() { x++; sink = p }
	f()
	g := func() {
		h := func() { sink = &x }
		h()
		k := func() { sink = &x }
		k()
	}
	g()
	return p
}

func (t *T) M(q *int) {
	a := 5
	fn := func() { sink = &a; t.p = q }
	fn()
}

func (t T) V() any { b := 6; return &b }

func (*T) N() any { c := 7; return &c }

func (t (*T)) P() any { d := 8; return &d }

type Box[E any] struct{ v *E }

func (b *Box[E]) Get() any { e := 9; return &e }

func (b Box[E]) Val() any { f := func() any { return b.v }; sink = f; return b }

func Gen[E any](v E) any { w := v; return &w }

func init() { i := 10; sink = &i }

func init() { j := 11; sink = func() any { return &j } }

var Ünï = func() any { /* héllo */ u := 12; return &u }

var K = func() any { k := func() any { m := 1; return &m }; return k() }

func init() { n := func() any { o := 2; return &o }; sink = n }

func (t *T) Q() {
	defer func() { p := 3; sink = &p }()
	go func() {
		func() { q := 4; sink = &q }()
	}()
}

type Pair[K comparable, V any] struct {
	k K
	v V
}

func (p *Pair[K, V]) Swap() any { s := "日本"; r := len(s); return &r }

func Use() {
	sink = Gen[int](1)
	sink = (&Box[int]{}).Get()
	sink = Box[string]{}.Val()
	sink = (&Pair[int, string]{}).Swap()
}
"#;

    /// `(line, column, name)`: the name this module gives, and in the comment the name the
    /// compiler printed, where they differ only as the module doc describes (`init.N`,
    /// package-wide numbering, and generic instantiations).
    const COMPILER_NAMES: &[(u32, u32, &str)] = &[
        (7, 23, "init.func1"),         // init.func1
        (7, 42, "init"),               // init
        (9, 35, "init.func2"),         // init.func2
        (9, 69, "init.func3"),         // init.func3
        (11, 8, "F"),                  // F
        (12, 2, "F"),                  // F
        (25, 15, "(*T).M"),            // (*T).M
        (26, 2, "(*T).M"),             // (*T).M
        (31, 22, "T.V"),               // T.V
        (33, 21, "(*T).N"),            // (*T).N
        (35, 25, "(*T).P"),            // (*T).P
        (39, 6, "(*Box[...]).Get"),    // (*Box[string]).Get
        (39, 30, "(*Box[...]).Get"),   // (*Box[go.shape.string]).Get
        (41, 6, "Box[...].Val"),       // Box[go.shape.string].Val
        (41, 7, "Box[...].Val"),       // Box[go.shape.string].Val
        (41, 34, "Box[...].Val"),      // Box[go.shape.string].Val
        (43, 6, "Gen"),                // Gen[int]
        (43, 28, "Gen"),               // Gen[go.shape.int]
        (45, 15, "init"),              // init.0
        (47, 15, "init"),              // init.1
        (47, 31, "init"),              // init.1
        (49, 39, "init.func4"),        // init.func4
        (51, 40, "init.func5.1"),      // init.func5.1
        (51, 69, "init.func5"),        // init.func5
        (53, 20, "init"),              // init.2
        (53, 33, "init.2.func1"),      // init.2.func1
        (56, 17, "(*T).Q.func1"),      // (*T).Q.func1
        (57, 5, "(*T).Q"),             // (*T).Q
        (58, 12, "(*T).Q.func2.1"),    // (*T).Q.func2.1
        (58, 31, "(*T).Q.func2"),      // (*T).Q.func2
        (67, 6, "(*Pair[...]).Swap"),  // (*Pair[int,string]).Swap
        (67, 50, "(*Pair[...]).Swap"), // (*Pair[go.shape.int,go.shape.string]).Swap
        (70, 17, "Use"),               // Use
        (71, 26, "Use"),               // Use
        (72, 26, "Use"),               // Use
        (73, 36, "Use"),               // Use
    ];

    #[test]
    fn hot_directive_marks_the_function_and_its_closures() {
        let src = "package p\n\n// Encode is fast.\n//\n//escape-gate:hot\nfunc Encode() {\n\tf := func() {}\n\t_ = f\n}\n\n//escape-gate:hot\nfunc (t *T) M() {}\n\n//escape-gate:hot is not alone\nfunc NotHot() {}\n\n//escape-gate:hot\n\nfunc Detached() {}\n\nfunc Plain() {} //escape-gate:hot\n";
        let index = FunctionIndex::new(src.as_bytes());
        for (name, want) in [
            ("Encode", true),
            ("Encode.func1", true),
            ("(*T).M", true),
            ("EncodeX", false),
            ("NotHot", false),
            ("Detached", false),
            ("Plain", false),
        ] {
            assert_eq!(index.is_hot(name), want, "{name}");
        }
        // At the very top of a file (a fragment, as tree-sitter still parses it), and
        // with CRLF line ends.
        let top = FunctionIndex::new(b"//escape-gate:hot\r\nfunc A() {}\r\n");
        assert!(top.is_hot("A"));
        assert!(!FunctionIndex::new(b"func A() {}\n").is_hot("A"));
    }

    #[test]
    fn names_match_the_go_compiler() {
        let index = FunctionIndex::new(COMPILED_GO.as_bytes());
        for &(line, column, want) in COMPILER_NAMES {
            assert_eq!(index.function_at(line, column), want, "at {line}:{column}");
        }
    }

    /// Finds `(line, column)` of the `nth` (0-based) occurrence of `needle`, 1-based with
    /// byte columns, so that cases do not hard-code counted columns.
    fn pos(src: &str, needle: &str, nth: usize) -> (u32, u32) {
        let (offset, _) = src
            .match_indices(needle)
            .nth(nth)
            .unwrap_or_else(|| panic!("{needle:?} #{nth} not in source"));
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        let small = "test sources are small";
        (
            u32::try_from(line).expect(small),
            u32::try_from(column).expect(small),
        )
    }

    /// Each case: a source and `(needle, occurrence, expected function)`.
    fn check(src: &str, cases: &[(&str, usize, &str)]) {
        let index = FunctionIndex::new(src.as_bytes());
        for &(needle, nth, want) in cases {
            let (line, column) = pos(src, needle, nth);
            assert_eq!(
                index.function_at(line, column),
                want,
                "{needle:?} #{nth} at {line}:{column}"
            );
        }
    }

    #[test]
    fn declarations_and_receivers() {
        let src = "package p

type T struct{}
type Box[E any] struct{}
type Pair[K comparable, V any] struct{}

func F(a int) (r int) { return a }
func G[E any](g E) {}
func (t *T) Ptr() { _ = 1 }
func (t T) Val() { _ = 2 }
func (*T) Anon() { _ = 3 }
func (T) AnonVal() { _ = 4 }
func (t (*T)) Paren() { _ = 5 }
func (t (T)) ParenVal() { _ = 6 }
func (b *Box[E]) BoxPtr() { _ = 7 }
func (b Box[E]) BoxVal() { _ = 8 }
func (p *Pair[K, V]) PairPtr() { _ = 9 }
func (b *Box[_]) Blank() { _ = 10 }
func Asm(x int)
";
        check(
            src,
            &[
                ("func F", 0, "F"),
                ("F(a", 0, "F"),
                ("a int", 0, "F"),
                ("r int", 0, "F"),
                ("return a", 0, "F"),
                ("}\nfunc G", 0, "F"),
                ("G[E", 0, "G"),
                ("g E", 0, "G"),
                ("_ = 1", 0, "(*T).Ptr"),
                ("t *T", 0, "(*T).Ptr"),
                ("_ = 2", 0, "T.Val"),
                ("_ = 3", 0, "(*T).Anon"),
                ("_ = 4", 0, "T.AnonVal"),
                ("_ = 5", 0, "(*T).Paren"),
                ("_ = 6", 0, "T.ParenVal"),
                ("_ = 7", 0, "(*Box[...]).BoxPtr"),
                ("BoxPtr", 0, "(*Box[...]).BoxPtr"),
                ("_ = 8", 0, "Box[...].BoxVal"),
                ("_ = 9", 0, "(*Pair[...]).PairPtr"),
                ("_ = 10", 0, "(*Box[...]).Blank"),
                ("x int", 0, "Asm"),
                ("type T", 0, "init"),
            ],
        );
    }

    #[test]
    fn closures_are_numbered_in_source_order_per_enclosing_function() {
        let src = "package p

var sink any

func F() {
	a := func() { _ = 1 }
	b := func() {
		_ = 2
		c := func() { _ = 3 }
		d := func() {
			_ = 4
			e := func() { _ = 5 }
		}
	}
	_ = 6
	f := func() { _ = 7 }
}

func (t *T) M() { defer func() { _ = 8 }() }

func (b Box[E]) V() { go func() { _ = 9 }() }
";
        check(
            src,
            &[
                ("_ = 1", 0, "F.func1"),
                ("_ = 2", 0, "F.func2"),
                ("_ = 3", 0, "F.func2.1"),
                ("_ = 4", 0, "F.func2.2"),
                ("_ = 5", 0, "F.func2.2.1"),
                ("_ = 6", 0, "F"),
                ("_ = 7", 0, "F.func3"),
                ("_ = 8", 0, "(*T).M.func1"),
                ("_ = 9", 0, "Box[...].V.func1"),
            ],
        );
    }

    #[test]
    fn a_func_literal_keyword_belongs_to_the_enclosing_function() {
        let src = "package p

func F(x int) {
	f := func(y *int) { _ = x }
	_ = f
}
";
        check(
            src,
            &[
                // `func literal escapes to heap` and `moved to heap: x` are the outer
                // function's allocations.
                ("func(y", 0, "F"),
                ("x int", 0, "F"),
                ("unc(y", 0, "F.func1"),
                ("y *int", 0, "F.func1"),
                ("_ = x", 0, "F.func1"),
                ("_ = f", 0, "F"),
            ],
        );
    }

    #[test]
    fn package_level_code_and_init_functions() {
        let src = "package p

var a = func() int { return 1 }()

const c = 1

var (
	b, d = []func(){func() { _ = 1 }, func() { _ = 2 }}, 3
)

func init() { _ = 3; _ = func() { _ = 4 } }

var e = func() func() { return func() { _ = 5 } }

func init() { _ = 6; _ = func() { _ = 7 } }
";
        check(
            src,
            &[
                ("var a", 0, "init"),
                ("func() int", 0, "init"),
                ("return 1", 0, "init.func1"),
                ("const c", 0, "init"),
                ("b, d", 0, "init"),
                ("_ = 1", 0, "init.func2"),
                ("_ = 2", 0, "init.func3"),
                ("_ = 3", 0, "init"),
                ("_ = 4", 0, "init.0.func1"),
                ("return func", 0, "init.func4"),
                ("_ = 5", 0, "init.func4.1"),
                ("_ = 6", 0, "init"),
                ("_ = 7", 0, "init.1.func1"),
            ],
        );
    }

    #[test]
    fn columns_are_bytes() {
        // "é" and "日本" are 2 and 6 bytes; a tab is one byte.
        let src =
            "package p\n\nvar s = \"é\"; func F() {}\n\tfunc G() { _ = \"日本\"; _ = func() {} }\n";
        let index = FunctionIndex::new(src.as_bytes());
        let cases: &[(u32, u32, &str)] = &[
            (3, 13, "init"), // ';' after "é": byte 13, char 12
            (3, 15, "F"),    // `func` of F: byte 15, char 14
            (3, 14, "init"),
            (4, 2, "G"),
            (4, 1, "init"), // the tab
            (4, 31, "G"),   // `func` of the literal after "日本": byte 31, char 27
            (4, 32, "G.func1"),
            (4, 27, "G"),
        ];
        for &(line, column, want) in cases {
            assert_eq!(index.function_at(line, column), want, "at {line}:{column}");
        }
    }

    #[test]
    fn column_zero_and_out_of_range_positions() {
        let src = "package p\n\nfunc F() {\n\t_ = 1\n}\n\nvar x = 1\n";
        let index = FunctionIndex::new(src.as_bytes());
        let cases: &[(u32, u32, &str)] = &[
            (4, 0, "F"),
            (3, 0, "F"),
            (7, 0, "init"),
            (4, 500, "F"), // clamped to the line
            (5, 1, "F"),   // closing brace
            (5, 2, "init"),
            (0, 0, "init"),
            (0, 5, "init"),
            (99, 1, "init"),
            (u32::MAX, u32::MAX, "init"),
        ];
        for &(line, column, want) in cases {
            assert_eq!(index.function_at(line, column), want, "at {line}:{column}");
        }
    }

    #[test]
    fn syntax_errors_and_odd_input_do_not_fail() {
        for src in [
            "",
            "package",
            "\n\n\n",
            "func",
            "package p\nfunc F( {\n\tx := \n}\nfunc G() { _ = 1 }\n",
            "package p\nfunc F() { g := func() { \n",
            "\u{feff}package p\r\nfunc F() {\r\n\t_ = 1\r\n}\r\n",
        ] {
            let index = FunctionIndex::new(src.as_bytes());
            for line in 0..8 {
                for column in 0..30 {
                    let _ = index.function_at(line, column);
                }
            }
        }
        let broken = "package p\nfunc F( {\n\tx := \n}\nfunc G() { _ = 1 }\n";
        check(broken, &[("_ = 1", 0, "G")]);
        let crlf = "package p\r\nfunc F() {\r\n\t_ = 1\r\n}\r\n";
        check(crlf, &[("_ = 1", 0, "F")]);
        assert_eq!(FunctionIndex::new(b"\xff\xfe").function_at(1, 1), "init");
    }

    #[test]
    fn large_generated_file() {
        let count = 20_000;
        let mut src = String::from("package p\n\n");
        for i in 0..count {
            src.push_str(&format!(
                "func F{i}() {{\n\tx := func() {{\n\t\t_ = {i}\n\t}}\n\t_ = x\n}}\n\nvar V{i} = {i}\n\n"
            ));
        }
        let index = FunctionIndex::new(src.as_bytes());
        // Each block is 9 lines, starting at line 3.
        for i in (0..count).step_by(997) {
            let first = 3 + 9 * u32::try_from(i).expect("fits: i < count");
            assert_eq!(index.function_at(first, 6), format!("F{i}"));
            assert_eq!(index.function_at(first + 2, 3), format!("F{i}.func1"));
            assert_eq!(index.function_at(first + 4, 2), format!("F{i}"));
            assert_eq!(index.function_at(first + 7, 1), "init");
        }
    }

    #[test]
    fn a_file_too_large_to_parse_gets_one_name_that_says_so() {
        let mut src = b"package m\n\nfunc F() {\n".to_vec();
        src.resize(MAX_SOURCE + 1, b'\n');
        let index = FunctionIndex::new(&src);
        for (line, column) in [(1, 1), (3, 6), (0, 0), (u32::MAX, u32::MAX)] {
            assert_eq!(index.function_at(line, column), TOO_LARGE);
        }
        // At the limit, the file is parsed.
        src.truncate(MAX_SOURCE - 2);
        src.extend_from_slice(b"}\n");
        assert_eq!(FunctionIndex::new(&src).function_at(4, 1), "F");
    }
}
