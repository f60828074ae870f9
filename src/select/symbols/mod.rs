//! Symbol-level package selection: Go source of the packages in, the packages whose
//! escape analysis a change can affect out. Pure: the caller reads the files.
//!
//! [`crate::select`] selects every package that imports a changed package. Yet an
//! importer's compilation only sees a dependency through what it uses by name: the
//! escape tags and inline bodies of the functions it calls, the methods it calls (also
//! through interfaces the compiler devirtualises after inlining), the types it embeds.
//! So, per package:
//!
//! 1. **Changed declarations.** The top-level declarations of the changed files are
//!    compared, base against head, by key (`func F`, `method T.M`, `type T`, `const a`,
//!    …) and text (directives before it such as `//go:noinline` included, doc comments
//!    not).
//!    Added, removed and edited functions and methods are *changed names*; so are added
//!    types, constants and variables (nothing could refer to them before).
//! 2. **Closure.** A declaration of any package that refers to a changed name is changed
//!    too: its own escape tags or inline body may change. A name counts as referred to
//!    when it appears as an identifier in the same package, as `x.Name` (a selector or
//!    a qualified type) when its package is imported directly, as any identifier when a
//!    package is dot-imported; a changed method `M` of any type counts for every `x.M`
//!    (interface calls can be devirtualised once inlined, anywhere); a type embedding a
//!    type whose methods changed has changed methods itself.
//! 3. **Affected.** A package is analysed when its files changed, or when one of its
//!    declarations refers to a changed name of a package it depends on (a changed
//!    method counts when the method's package is among its dependencies, direct or
//!    not). A package that refers to none is not analysed, on either side, and passes
//!    nothing on to its importers but the names that refer to changed methods.
//!
//! Whatever these rules cannot bound falls back to the package level (the package and
//! every package that imports it, directly or not, as [`crate::select`] does): an
//! edited or removed type, constant or variable (its size, value or initialiser can
//! change any user's code), an `init` function, a changed package clause, an import
//! that now names another package or a dot import, cgo, `//go:linkname`, generated code,
//! source that does not parse, any other changed file of the package's directory
//! (assembly, embedded files), and a package that was deleted.

//!
//! [`file`](mod@file) reads one Go file's declarations, [`change`] compares them
//! across the change, [`propagate`](mod@propagate) carries the changed names to the
//! packages that refer to them.

mod change;
mod file;
mod propagate;
#[cfg(test)]
mod tests;

pub use change::{changed_decls, Change};
pub use file::{parse_file, FileSymbols};
pub use propagate::{propagate, PackageSymbols};
