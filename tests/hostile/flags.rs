//! Hostile input: flags.
