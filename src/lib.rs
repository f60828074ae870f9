//! escape-gate keeps Go code from quietly gaining heap allocations.
//!
//! It compares the Go compiler's escape analysis of two revisions of a repository and
//! fails when the newer one has heap escapes the older one did not. Plain data flows
//! through the stages; only `git` and `go` touch the outside world:
//!
//! 1. [`git`]: resolve revisions, materialise each into a temporary tree.
//! 2. [`go`]: build each tree with `-gcflags=-m`, capturing the compiler's output.
//! 3. [`parse`]: compiler output to raw findings.
//! 4. [`function`]: name the function enclosing each finding, from the Go source.
//! 5. [`matching`]: pair base and head findings; new, fixed, moved, unchanged.
//! 6. [`allowlist`]: drop new escapes the allowlist accepts; report stale entries;
//!    [`config_change`]: what the head changes in the allowlist, for every report.
//! 7. [`report`]: text, JSON, GitHub annotations and job summary, SARIF, Markdown.
//!
//! [`gate`] runs the stages in order; [`hook`] turns a git push into comparisons;
//! [`explain`] turns the compiler's `-m=2` escape flows into readable steps, on
//! request; [`commands`] is the command line.

pub mod allowlist;
pub mod cache;
pub mod commands;
pub mod config_change;
pub mod exit;
pub mod explain;
pub mod finding;
pub mod function;
pub mod gate;
pub mod git;
pub mod go;
pub mod hook;
pub mod interrupt;
pub mod matching;
pub mod modules;
pub mod parse;
pub mod report;
pub mod schema;
pub mod select;
pub mod tree_path;
