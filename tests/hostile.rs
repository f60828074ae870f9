//! Hostile input: repositories, commits, working trees and allowlists written by someone
//! other than the user. Every case is built from real git objects and real links, and
//! every case checks the exit code, the message, and that the user's repository and a
//! sentinel directory outside it are byte-identical afterwards.

mod allowlist_effect;
mod cache;
mod cgo_inputs;
mod config;
mod flags;
mod limits;
mod shards;
mod text;
mod time_limits;
mod trees;
mod writes;
