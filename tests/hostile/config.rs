//! Hostile input: config.
