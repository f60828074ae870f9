//! End-to-end tests: real git repositories in temporary directories, the real `go`,
//! the real binary. One test binary, one module per area.

mod support;

mod action;
mod allow;
mod allow_command;
mod allowlist_life;
mod browser;
mod checks;
mod completions;
mod diff;
mod docs;
mod errors;
mod essentials;
mod explain;
mod gocacheprog;
mod golden;
mod hook;
mod hostile;
mod html_report;
mod init;
mod install;
mod layers;
mod leftovers;
mod list_demo;
mod platforms;
mod problem_matcher;
mod profile;
mod renames;
mod report_formats;
mod schemas;
mod scope;
mod shards;
mod verdicts;
mod work_directory;
