//! Which of the compiler's decisions the gate compares, besides heap escapes: the
//! checks (`--checks`, `checks:` in the allowlist), the compiler flags they need, and
//! the step between attribution and matching that turns both sides' findings into the
//! findings the chosen checks compare ([`prepare`]).
//!
//! - `escapes` (on by default): `moved to heap`, `escapes to heap`.
//! - `variable-make` (on by default): `make([]T, n) does not escape` with a size that
//!   is not a constant. Since Go 1.25 such a slice gets a 32-byte buffer on the stack
//!   and is heap-allocated when it needs more, yet the compiler calls it
//!   `does not escape`: turning `make([]byte, 16)` into `make([]byte, n)` adds a heap
//!   allocation that `escapes` alone cannot see.
//! - `concat-convert` (off by default): `a + b`, `string(b)`, `([]byte)(s)`,
//!   `([]rune)(s)` that "do not escape". The compiler gives each a 32-byte buffer on
//!   the stack (`tmpstringbufsize` in cmd/compile/internal/walk) and the runtime
//!   allocates on the heap when the result needs more, so a new one is a possible new
//!   allocation that `escapes` cannot see.
//! - `inlining`: a function inlinable in the base (`can inline F`) that is not in the
//!   head (`cannot inline F: REASON` at `-m=2`), and a call the base inlined, on a line
//!   the change did not touch, that the head does not.
//! - `bounds`: the bounds checks the compiler keeps (`-d=ssa/check_bce/debug=1`),
//!   counted per function like escapes.
//! - `gcassert`: `//gcassert:` directives of the head ([`crate::gcassert`]); always
//!   enforced, whatever the list says.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

// `Check` is data and lives with the finding; named here too for the allowlist.
pub use crate::finding::Check;
use crate::finding::{normalise_expr, Finding, Kind};
use crate::lines::LineMap;

/// The checks a run compares. `gcassert` is always in: directives are enforced
/// whenever the head has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks(BTreeSet<Check>);

impl Default for Checks {
    /// `escapes` and `variable-make` (and `gcassert`, always).
    fn default() -> Checks {
        Checks::of(&[Check::Escapes, Check::VariableMake])
    }
}

impl Checks {
    /// The given checks, and `gcassert`.
    pub fn of(checks: &[Check]) -> Checks {
        let mut set: BTreeSet<Check> = checks.iter().copied().collect();
        set.insert(Check::Gcassert);
        Checks(set)
    }

    /// Parses `escapes,inlining,bounds` (the command line's form).
    pub fn parse_list(text: &str) -> Result<Checks, String> {
        let mut list = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Check::parse(name) {
                Some(check) => list.push(check),
                None => {
                    return Err(format!(
                        "unknown check {name:?}; the checks are {}",
                        Check::ALL.map(Check::name).join(", ")
                    ))
                }
            }
        }
        if list.is_empty() {
            return Err(
                "no check named; the checks are escapes, variable-make, concat-convert, inlining, bounds"
                    .into(),
            );
        }
        Ok(Checks::of(&list))
    }

    pub fn contains(&self, check: Check) -> bool {
        self.0.contains(&check)
    }

    pub fn iter(&self) -> impl Iterator<Item = Check> + '_ {
        self.0.iter().copied()
    }

    /// `escapes, variable-make, gcassert`
    pub fn display(&self) -> String {
        self.iter().map(Check::name).collect::<Vec<_>>().join(", ")
    }

    /// Checks of `self` that `other` does not have.
    pub fn missing_from(&self, other: &Checks) -> Vec<Check> {
        self.iter().filter(|c| !other.contains(*c)).collect()
    }

    /// What the compiler must print for these checks.
    pub fn needs(&self) -> Needs {
        Needs {
            inlining: self.contains(Check::Inlining),
            bounds: self.contains(Check::Bounds),
        }
    }
}

/// What the compiler is asked to print beyond `-m`, for the checks and the head's
/// `//gcassert:` directives. Part of the build settings (and so of the cache keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Needs {
    /// `-m=2`, for `cannot inline F: REASON`; and the inlining lines are kept.
    pub inlining: bool,
    /// `-d=ssa/check_bce/debug=1`, for `Found IsInBounds`.
    pub bounds: bool,
}

impl Needs {
    /// Both sets of needs.
    pub fn union(self, other: Needs) -> Needs {
        Needs {
            inlining: self.inlining || other.inlining,
            bounds: self.bounds || other.bounds,
        }
    }

    /// The `-gcflags` value: `-m` or `-m=2` (`flow`: the escape flows are wanted),
    /// plus the debug flags the checks need. One flag, so one build gives every check
    /// its lines.
    pub fn gcflags(self, flow: bool) -> String {
        let mut flags = if flow || self.inlining {
            "-gcflags=-m=2".to_string()
        } else {
            "-gcflags=-m".to_string()
        };
        if self.bounds {
            flags.push_str(" -d=ssa/check_bce/debug=1");
        }
        flags
    }

    /// Whether findings of `kind` are kept after the build (the inlining lines are
    /// many and only wanted when something reads them).
    pub fn keeps(self, kind: Kind) -> bool {
        match kind {
            Kind::Inlinable | Kind::InlinedCall | Kind::NotInlinable => self.inlining,
            _ => true,
        }
    }

    /// For cache keys.
    pub fn cache_key(self) -> String {
        format!("inlining={} bounds={}", self.inlining, self.bounds)
    }
}

/// The findings each side compares under `checks`: only the kinds of the chosen checks
/// (gcassert violations always), with the inlining check's rules applied.
///
/// - `cannot inline F` counts only for a function inlinable on the other side: a new
///   or deleted function that was never inlinable is not a regression or a fix.
/// - A call is *no longer inlined* when the base printed `inlining call to F` on a
///   line the change left alone (the line map carries it to the head) and the head
///   prints no such call there; calls to a function that itself stopped being
///   inlinable are left out (that function's finding says it). Lines the change
///   touched, and code moved to another file, are not compared: nothing says whether
///   the call is still there.
pub fn prepare(
    base: &[Finding],
    head: &[Finding],
    lines: &LineMap,
    checks: &Checks,
) -> (Vec<Finding>, Vec<Finding>) {
    let keep = |f: &Finding| f.kind.check().is_some_and(|c| checks.contains(c));
    let mut base_out: Vec<Finding> = Vec::new();
    let mut head_out: Vec<Finding> = Vec::new();
    if !checks.contains(Check::Inlining) {
        base_out.extend(base.iter().filter(|f| keep(f)).cloned());
        head_out.extend(head.iter().filter(|f| keep(f)).cloned());
        return (base_out, head_out);
    }
    let inlinable = |side: &[Finding]| -> BTreeSet<(String, String)> {
        side.iter()
            .filter(|f| f.kind == Kind::Inlinable)
            .map(|f| (f.package.clone(), normalise_expr(&f.expr)))
            .collect()
    };
    let (base_inlinable, head_inlinable) = (inlinable(base), inlinable(head));
    let other_side_inlinable = |f: &Finding, other: &BTreeSet<(String, String)>| {
        other.contains(&(f.package.clone(), normalise_expr(&f.expr)))
    };
    base_out.extend(
        base.iter()
            .filter(|f| {
                keep(f)
                    && (f.kind != Kind::NotInlinable || other_side_inlinable(f, &head_inlinable))
            })
            .cloned(),
    );
    head_out.extend(
        head.iter()
            .filter(|f| {
                keep(f)
                    && (f.kind != Kind::NotInlinable || other_side_inlinable(f, &base_inlinable))
            })
            .cloned(),
    );
    let lost: Vec<String> = head_out
        .iter()
        .filter(|f| f.kind == Kind::NotInlinable)
        .map(|f| f.expr.clone())
        .collect();
    // Head inlined calls by position and callee, counted.
    let mut head_calls: HashMap<(&str, u32, String), usize> = HashMap::new();
    for f in head.iter().filter(|f| f.kind == Kind::InlinedCall) {
        *head_calls
            .entry((f.file.as_str(), f.line, normalise_expr(&f.expr)))
            .or_default() += 1;
    }
    for f in base.iter().filter(|f| f.kind == Kind::InlinedCall) {
        let Some((head_file, head_line)) = lines.map(&f.file, f.line) else {
            continue;
        };
        let key = (head_file, head_line, normalise_expr(&f.expr));
        match head_calls.get_mut(&key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => {
                if lost.iter().any(|name| same_function(name, &f.expr)) {
                    continue;
                }
                head_out.push(Finding {
                    file: head_file.to_string(),
                    line: head_line,
                    kind: Kind::NotInlined,
                    message: format!(
                        "call to {} no longer inlined (the base printed `inlining call to {}` here)",
                        f.expr, f.expr
                    ),
                    flow: Vec::new(),
                    ..f.clone()
                });
            }
        }
    }
    (base_out, head_out)
}

/// Whether the callee of `inlining call to CALLEE` is the function `cannot inline NAME`
/// names: the call names it with its package (`pkg.F`, `(*pkg.T).M`), the declaration
/// without.
fn same_function(name: &str, callee: &str) -> bool {
    let unqualified = |s: &str| -> String {
        // Drop `pkg.` before the name or inside `(*pkg.T)`.
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("(*") {
            let (recv, method) = rest.split_once(')').unwrap_or((rest, ""));
            let recv = recv.rsplit('.').next().unwrap_or(recv);
            return format!("(*{recv}){method}");
        }
        if let Some(rest) = s.strip_prefix('(') {
            let (recv, method) = rest.split_once(')').unwrap_or((rest, ""));
            let recv = recv.rsplit('.').next().unwrap_or(recv);
            return format!("({recv}){method}");
        }
        // `pkg.F` or `T.M` or `pkg.T.M`: keep the last two parts when the first is lowercase.
        match s.split_once('.') {
            Some((first, rest)) if first.chars().next().is_some_and(char::is_lowercase) => {
                rest.to_string()
            }
            _ => s.to_string(),
        }
    };
    unqualified(name) == unqualified(callee)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(file: &str, line: u32, function: &str, kind: Kind, expr: &str) -> Finding {
        Finding::example(file, line, function, kind, expr)
    }

    #[test]
    fn parse_lists() {
        let got = Checks::parse_list("escapes, inlining,bounds").expect("valid");
        assert_eq!(got.display(), "escapes, inlining, bounds, gcassert");
        assert!(Checks::parse_list("escapes,speed").is_err());
        assert!(Checks::parse_list(" , ").is_err());
        assert_eq!(
            Checks::default().display(),
            "escapes, variable-make, gcassert"
        );
    }

    #[test]
    fn gcflags_for_needs() {
        assert_eq!(Needs::default().gcflags(false), "-gcflags=-m");
        assert_eq!(Needs::default().gcflags(true), "-gcflags=-m=2");
        let all = Needs {
            inlining: true,
            bounds: true,
        };
        assert_eq!(all.gcflags(false), "-gcflags=-m=2 -d=ssa/check_bce/debug=1");
    }

    #[test]
    fn not_inlinable_counts_only_when_the_other_side_inlined_it() {
        let base = vec![
            f("a.go", 3, "Grows", Kind::Inlinable, "Grows"),
            f("a.go", 9, "Big", Kind::NotInlinable, "Big"),
        ];
        let head = vec![
            f("a.go", 3, "Grows", Kind::NotInlinable, "Grows"),
            f("a.go", 9, "Big", Kind::NotInlinable, "Big"),
            f("a.go", 20, "Added", Kind::NotInlinable, "Added"),
        ];
        let checks = Checks::of(&[Check::Inlining]);
        let (b, h) = prepare(&base, &head, &LineMap::new(), &checks);
        assert!(b.is_empty(), "{b:?}");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].expr, "Grows");
        // Without the check, none of it is compared.
        let (b, h) = prepare(&base, &head, &LineMap::new(), &Checks::default());
        assert!(b.is_empty() && h.is_empty());
    }

    #[test]
    fn lost_call_sites_on_unchanged_lines() {
        let text = "package m\nfunc G() {\n\tF()\n\tH()\n}\n";
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", text, text);
        let base = vec![
            f("a.go", 3, "G", Kind::InlinedCall, "F"),
            f("a.go", 4, "G", Kind::InlinedCall, "H"),
        ];
        let head = vec![f("a.go", 4, "G", Kind::InlinedCall, "H")];
        let (_, h) = prepare(&base, &head, &lines, &Checks::of(&[Check::Inlining]));
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].kind, h[0].line, h[0].expr.as_str()),
            (Kind::NotInlined, 3, "F")
        );
        // Not on a line the map does not carry (deleted or edited code).
        let (_, h) = prepare(
            &base,
            &head,
            &LineMap::new(),
            &Checks::of(&[Check::Inlining]),
        );
        assert!(h.is_empty());
    }

    #[test]
    fn call_names_and_declaration_names() {
        assert!(same_function("F", "m.F"));
        assert!(same_function("(*T).M", "(*m.T).M"));
        assert!(same_function("T.M", "m.T.M"));
        assert!(!same_function("F", "m.G"));
    }
}
