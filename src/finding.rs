//! The plain data that flows between the stages: what the compiler said about one
//! position ([`RawFinding`], from `parse`) and the same finding placed in the repository
//! and its enclosing function ([`Finding`], after attribution).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Escapes,
    Inlining,
    Bounds,
    VariableMake,
    ConcatConvert,
    Gcassert,
}

impl Check {
    /// Every check a list can name, in the order they are documented.
    pub const ALL: [Check; 6] = [
        Check::Escapes,
        Check::VariableMake,
        Check::ConcatConvert,
        Check::Inlining,
        Check::Bounds,
        Check::Gcassert,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Escapes => "escapes",
            Check::Inlining => "inlining",
            Check::Bounds => "bounds",
            Check::VariableMake => "variable-make",
            Check::ConcatConvert => "concat-convert",
            Check::Gcassert => "gcassert",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of finding this is: a heap allocation (the two original kinds), or what
/// another check (`checks:` in the allowlist, `--checks`) looks at. (The parser's finer
/// classification of every message the compiler prints is [`crate::parse::Message`].)
///
/// The JSON names (`serde(rename)`) are part of the report's schema
/// (`schema/report.schema.json`): they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// `moved to heap: NAME`: a named variable or parameter lives on the heap.
    #[serde(rename = "moved_to_heap")]
    Moved,
    /// `EXPR escapes to heap`: an allocating expression is heap-allocated.
    #[serde(rename = "escapes_to_heap")]
    Escapes,
    /// `cannot inline F: REASON` (`-m=2`): a function the compiler will not inline. Only
    /// compared for functions inlinable on the other side (see [`crate::checks`]).
    #[serde(rename = "not_inlinable")]
    NotInlinable,
    /// A call the base inlined (`inlining call to F`) that the head does not.
    #[serde(rename = "not_inlined")]
    NotInlined,
    /// `Found IsInBounds` / `Found IsSliceInBounds` (`-d=ssa/check_bce/debug=1`): a bounds
    /// check the compiler kept.
    #[serde(rename = "bounds_check")]
    BoundsCheck,
    /// `make([]T, n) does not escape` with a size that is not a constant (Go 1.25+): the
    /// backing store is on the stack only up to 32 bytes, on the heap above.
    #[serde(rename = "variable_make")]
    VariableMake,
    /// `a + b does not escape`, `string(b) does not escape`, `([]byte)(s) does not
    /// escape`, `([]rune)(s) does not escape`: a string concatenation or conversion with
    /// a 32-byte buffer on the stack, heap-allocated when the result is larger.
    #[serde(rename = "concat_convert")]
    ConcatConvert,
    /// A `//gcassert:` directive of the head that the compiler's decisions violate.
    #[serde(rename = "gcassert")]
    Gcassert,
    /// `can inline F`: what the inlining check compares against; never reported.
    #[serde(rename = "inlinable")]
    Inlinable,
    /// `inlining call to F`: what the call-site check compares; never reported.
    #[serde(rename = "inlined_call")]
    InlinedCall,
}

impl Kind {
    /// Every kind, in declaration order. [`Kind::position`] matches on each, so a new
    /// kind does not compile until it is listed here too.
    pub const ALL: [Kind; 10] = [
        Kind::Moved,
        Kind::Escapes,
        Kind::NotInlinable,
        Kind::NotInlined,
        Kind::BoundsCheck,
        Kind::VariableMake,
        Kind::ConcatConvert,
        Kind::Gcassert,
        Kind::Inlinable,
        Kind::InlinedCall,
    ];

    /// The kind's index in [`Kind::ALL`].
    pub fn position(self) -> usize {
        match self {
            Kind::Moved => 0,
            Kind::Escapes => 1,
            Kind::NotInlinable => 2,
            Kind::NotInlined => 3,
            Kind::BoundsCheck => 4,
            Kind::VariableMake => 5,
            Kind::ConcatConvert => 6,
            Kind::Gcassert => 7,
            Kind::Inlinable => 8,
            Kind::InlinedCall => 9,
        }
    }

    /// The name in SARIF fingerprints (`moved`, `escapes`, …): part of the fingerprint's
    /// recipe, so it never changes with the JSON names.
    pub fn fingerprint_name(self) -> &'static str {
        match self {
            Kind::Moved => "moved",
            Kind::Escapes => "escapes",
            Kind::NotInlinable => "not-inlinable",
            Kind::NotInlined => "not-inlined",
            Kind::BoundsCheck => "bounds",
            Kind::VariableMake => "variable-make",
            Kind::ConcatConvert => "concat-convert",
            Kind::Gcassert => "gcassert",
            Kind::Inlinable => "inlinable",
            Kind::InlinedCall => "inlined-call",
        }
    }

    /// The check that reports this kind; `None` for the kinds that are only compared
    /// against ([`Kind::Inlinable`], [`Kind::InlinedCall`]).
    pub fn check(self) -> Option<Check> {
        match self {
            Kind::Moved | Kind::Escapes => Some(Check::Escapes),
            Kind::NotInlinable | Kind::NotInlined => Some(Check::Inlining),
            Kind::BoundsCheck => Some(Check::Bounds),
            Kind::VariableMake => Some(Check::VariableMake),
            Kind::ConcatConvert => Some(Check::ConcatConvert),
            Kind::Gcassert => Some(Check::Gcassert),
            Kind::Inlinable | Kind::InlinedCall => None,
        }
    }

    /// Whether the finding is a heap allocation the compiler is sure of (the original
    /// two kinds).
    pub fn is_heap(self) -> bool {
        matches!(self, Kind::Moved | Kind::Escapes)
    }

    /// What a new finding of this kind is, in a few words for reports:
    /// `new heap escape`, `no longer inlinable`, …
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Moved | Kind::Escapes => "new heap escape",
            Kind::NotInlinable => "no longer inlinable",
            Kind::NotInlined => "call no longer inlined",
            Kind::BoundsCheck => "new bounds check",
            Kind::VariableMake => "new variable-size make, heap-allocated above 32 bytes",
            Kind::ConcatConvert => {
                "new string concatenation or conversion, heap-allocated above 32 bytes"
            }
            Kind::Gcassert => "gcassert directive violated",
            Kind::Inlinable => "inlinable",
            Kind::InlinedCall => "inlined call",
        }
    }

    /// The finding as one line of the per-function listing, from its (normalised)
    /// subject: the compiler's words for the heap kinds, a fixed phrase for the others.
    pub fn describe(self, expr: &str) -> String {
        match self {
            Kind::Moved => format!("moved to heap: {expr}"),
            Kind::Escapes => format!("{expr} escapes to heap"),
            Kind::NotInlinable => format!("cannot inline {expr}"),
            Kind::NotInlined => format!("call to {expr} not inlined"),
            Kind::BoundsCheck => format!("bounds check: Found {expr}"),
            Kind::VariableMake | Kind::ConcatConvert => format!("{expr} may allocate on the heap"),
            Kind::Gcassert => format!("gcassert: {expr}"),
            Kind::Inlinable => format!("can inline {expr}"),
            Kind::InlinedCall => format!("inlining call to {expr}"),
        }
    }
}

/// One heap diagnostic exactly as the compiler printed it, before it is placed in a
/// repository. `file` is the compiler's path, made tree-relative by the build stage
/// (absolute or `<autogenerated>` for files outside the tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFinding {
    /// The `# pkg` header of the block the line appeared in (the compiling package).
    pub block: String,
    pub file: String,
    pub line: u32,
    /// 1-based byte column; `None` on `<autogenerated>:1:` and `//line`-remapped positions.
    pub column: Option<u32>,
    pub kind: Kind,
    /// The subject: the variable name for `moved to heap: NAME`, EXPR for `EXPR escapes to heap`.
    pub expr: String,
    /// The whole message after `FILE:LINE:COL: `.
    pub message: String,
    /// `-m=2` explanation lines for this position, without their position prefix, in order.
    pub flow: Vec<String>,
}

/// A heap finding placed in one revision of the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Import path of the package whose source holds the finding (not the compiling
    /// package: generic code is reported in every package that instantiates it).
    pub package: String,
    /// Repository-relative path, `/`-separated.
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Enclosing function as the compiler names it: `F`, `(*T).M`, `T.M`, `F.func1`, `init`.
    pub function: String,
    pub kind: Kind,
    pub message: String,
    /// The message subject (variable or expression) as printed.
    pub expr: String,
    /// The source line the finding points at, trimmed; empty when the file could not be read.
    pub source: String,
    /// The compiler's escape flow (`-m=2`), when an explanation was asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow: Vec<FlowStep>,
    /// The package whose compilation printed this copy, when it is not `package`: the
    /// body was inlined into an importer, or a generic function was instantiated there.
    /// Every copy is an allocation of its own, so copies are counted per compiling
    /// package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiled_in: Option<String>,
    /// Where this copy was inlined, when the compiler's output shows a call of the
    /// finding's function on a line the change touched (set on new findings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inlined_into: Option<InlineSite>,
    /// The compiler's position could not be placed in the checkout (a `//line` file, a
    /// name that is not in the tree): `file` and `line` are as printed, `function` is
    /// empty, and `package` is the compiling package. Such findings are still compared.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unplaced: bool,
    /// The enclosing function is a hot path (`//escape-gate:hot` above it, or a `hot`
    /// entry of the allowlist): an escape that moves into it is new, not moved.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hot: bool,
    /// The enclosing function's share of the profile's samples, when a profile was read
    /// (`--profile`, `profile.files`, a main package's `default.pgo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::profile::Share>,
    /// The platforms (`GOOS/GOARCH`) whose builds have this finding, when the run
    /// analysed named platforms (`--platforms`, `platforms:`); empty for a run of the
    /// default platform alone. The same finding on several platforms is one finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<crate::platform::Platform>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A call the compiler inlined: where a copy of a function's allocation came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineSite {
    /// The function that holds the call.
    pub function: String,
    /// Repository-relative path of the call.
    pub file: String,
    pub line: u32,
}

/// One step of an escape flow, as escape-gate shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStep {
    /// `flow: DST ← SRC`, or, indented, `from WHAT (WHY) at file:line` with a
    /// repository-relative position.
    pub text: String,
    /// Whether the step's position is on a line the change touched: how a user finds
    /// the edit that made a declaration they did not touch escape.
    pub changed: bool,
}

impl FlowStep {
    /// A step with no change to speak of.
    pub fn plain(text: impl Into<String>) -> FlowStep {
        FlowStep {
            text: text.into(),
            changed: false,
        }
    }

    /// Where a `from … at FILE:LINE` step may be, leftmost ` at ` first: the
    /// description before the position may itself hold ` at ` (`from a at b (call
    /// parameter) at …`), and so may a file name, so each split is a candidate for the
    /// caller to check against the files it knows. Empty for other lines.
    pub fn places(&self) -> Vec<(&str, u32)> {
        let text = self.text.trim_start();
        if !text.starts_with("from ") {
            return Vec::new();
        }
        let Some((head, line)) = text.rsplit_once(':') else {
            return Vec::new();
        };
        let Ok(line) = line.parse::<u32>() else {
            return Vec::new();
        };
        head.match_indices(" at ")
            .map(|(i, sep)| (&head[i + sep.len()..], line))
            .collect()
    }

    /// The step on one line for plain-text formats: `… at a.go:3  [changed]`.
    pub fn display(&self) -> String {
        if self.changed {
            format!("{}  {}", self.text, CHANGED)
        } else {
            self.text.clone()
        }
    }
}

/// How plain-text formats mark a [`FlowStep`] on a touched line.
pub const CHANGED: &str = "[changed]";

impl Finding {
    /// The matching key (docs/architecture.md, "How it works"): package, function, kind and
    /// normalised expression.
    /// Package-level initialisers are all called `init`, so they also keep their file.
    pub fn key(&self) -> Key {
        Key {
            compiled_in: self.compiling_package().to_string(),
            package: self.package.clone(),
            function: self.function.clone(),
            file: if self.unplaced || self.function == "init" || self.function.starts_with("init.")
            {
                self.file.clone()
            } else {
                String::new()
            },
            kind: self.kind,
            expr: normalise_expr(&self.expr),
        }
    }

    /// `file:line:col`, or `file:line` for a position the compiler printed without a
    /// column.
    pub fn position(&self) -> String {
        if self.column == 0 {
            format!("{}:{}", self.file, self.line)
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        }
    }

    /// The package whose compilation printed this copy.
    pub fn compiling_package(&self) -> &str {
        self.compiled_in.as_deref().unwrap_or(&self.package)
    }

    /// ` [linux/arm64, darwin/arm64]`: the platforms for plain-text formats, with a
    /// leading space; empty when the finding names none.
    pub fn platforms_suffix(&self) -> String {
        if self.platforms.is_empty() {
            return String::new();
        }
        let names: Vec<String> = self.platforms.iter().map(ToString::to_string).collect();
        format!(" [{}]", names.join(", "))
    }

    /// The function for display: its name, or where it is when the position could not
    /// be placed in a Go file.
    pub fn function_display(&self) -> String {
        if self.function.is_empty() {
            format!("(in {})", self.file)
        } else {
            self.function.clone()
        }
    }
}

#[cfg(test)]
impl Finding {
    /// A finding of `example.com/m` for unit tests: column 2, the message the kind
    /// prints for `expr`, no source line, flow or provenance.
    pub(crate) fn example(
        file: &str,
        line: u32,
        function: &str,
        kind: Kind,
        expr: &str,
    ) -> Finding {
        Finding {
            package: "example.com/m".to_string(),
            file: file.to_string(),
            line,
            column: 2,
            function: function.to_string(),
            kind,
            message: kind.describe(expr),
            expr: expr.to_string(),
            source: String::new(),
            flow: Vec::new(),
            compiled_in: None,
            inlined_into: None,
            unplaced: false,
            hot: false,
            profile: None,
            platforms: Vec::new(),
        }
    }
}

/// Identity of a finding across revisions; see [`Finding::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The compiling package: a copy compiled into an importer is counted there.
    pub compiled_in: String,
    pub package: String,
    pub function: String,
    pub file: String,
    pub kind: Kind,
    pub expr: String,
}

/// Removes what varies between compilations of the same source: the shape a generic
/// function was instantiated with (`go.shape.int`, `go.shape.*uint8`, …) and the
/// numbering of compiler temporaries (`.autotmp_12`).
pub fn normalise_expr(expr: &str) -> String {
    if !expr.contains("go.shape.") && !expr.contains("autotmp_") {
        return expr.to_string();
    }
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("go.shape.") {
            out.push_str("go.shape");
            // Skip the shape's type text up to the `,` or `]` that closes it at depth 0.
            let mut depth = 0i32;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '[' | '(' | '{' => depth += 1,
                    ']' | ')' | '}' if depth > 0 => depth -= 1,
                    ',' | ']' | ')' | '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("autotmp_") {
            out.push_str("autotmp");
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
        } else {
            let c = rest.chars().next().expect("rest is not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_at_its_position() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind.position(), i, "{kind:?}");
        }
    }

    #[test]
    fn normalise_removes_shapes_and_temporaries() {
        let cases = [
            ("&T{...}", "&T{...}"),
            ("&gen.Boxed[go.shape.int]{...}", "&gen.Boxed[go.shape]{...}"),
            (
                "&gen.Boxed[go.shape.*uint8]{...}",
                "&gen.Boxed[go.shape]{...}",
            ),
            (
                "&gen.Pair[go.shape.struct { A int },go.shape.[]string]{...}",
                "&gen.Pair[go.shape,go.shape]{...}",
            ),
            (".autotmp_12 escapes", ".autotmp escapes"),
            ("make([]byte, n)", "make([]byte, n)"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_expr(input), want, "input {input:?}");
        }
    }
}
