//! Hostile input: cache.
