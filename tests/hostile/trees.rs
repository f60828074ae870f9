//! Hostile input: trees.
