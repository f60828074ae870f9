//! escape-gate keeps Go code from quietly gaining heap allocations.
//!
//! It compares the Go compiler's escape analysis of two revisions of a repository and
//! fails when the newer one has heap escapes the older one did not. Plain data flows
//! through the stages; only `git` and `go` touch the outside world:
//!
//! 1. [`git`]: resolve revisions, materialise each into a temporary tree.
//! 2. [`go`]: build each tree with `-gcflags=-m`, capturing the compiler's output.
//! 3. [`parse`]: compiler output to raw findings.
//! 4. [`function`]: name the function enclosing each finding, from the Go source
//!    ([`go_syntax`] parses it, for [`select`] and [`rename`] too).
//! 5. [`matching`]: pair base and head findings; new, fixed, moved, unchanged;
//!    [`rename`]: the same place in the code under new names is the same allocation;
//!    [`profile`]: weigh each finding by its function's share of a CPU profile.
//! 6. [`allowlist`]: drop new escapes the allowlist accepts; report stale entries;
//!    [`config_change`]: what the head changes in the allowlist, for every report.
//! 7. [`report`]: text, JSON, GitHub annotations and job summary, SARIF, Markdown,
//!    HTML (with [`excerpt`]s of the head's source).
//!
//! [`gate`] runs the stages in order; [`hook`] turns a git push into comparisons;
//! [`explain`] turns the compiler's `-m=2` escape flows into readable steps, on
//! request; [`commands`] is the command line.

// The crate's documentation is for its developers: it is built with
// --document-private-items (see .ci/run), where links to the stages' modules resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod allowlist;
pub(crate) mod cache;
pub(crate) mod checks;
pub mod commands;
pub(crate) mod config_change;
pub(crate) mod excerpt;
pub mod exit;
pub(crate) mod explain;
pub(crate) mod finding;
pub(crate) mod function;
pub(crate) mod gate;
pub(crate) mod gcassert;
pub(crate) mod git;
pub(crate) mod go;
pub(crate) mod go_syntax;
pub mod home;
pub(crate) mod hook;
pub mod inert;
pub mod interrupt;
pub(crate) mod lines;
pub(crate) mod matching;
pub(crate) mod modules;
pub mod parse;
pub(crate) mod platform;
pub(crate) mod profile;
pub(crate) mod progress;
pub(crate) mod rename;
pub(crate) mod report;
pub(crate) mod safe_write;
#[cfg(test)]
mod schema;
pub(crate) mod select;
pub(crate) mod tree;

/// `main` prints errors through it, so that no line of one (a failed build's compiler
/// errors) reads as a Go error to a CI problem matcher.
pub use report::problem_matcher;
