//! Hostile input: limits.
