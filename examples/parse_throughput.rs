//! Parser throughput on about a million lines of real compiler output (case 4 of
//! `bench/run.sh`, see BENCHMARKS.md).
//!
//!     cargo run --release --example parse_throughput [-- --runs N --lines N FIXTURE...]
//!
//! Builds each input by repeating a fixture from `tests/fixtures/go-output/` (read at run
//! time from CARGO_MANIFEST_DIR) until it has at least `--lines` lines (default
//! 1,000,000), then times `escape_gate::parse::parse` on it `--runs` times (default 5).
//! Default fixtures: `m1-trimpath-local.txt` (`-gcflags=-m`, what escape-gate runs) and
//! `m2-trimpath-local.txt` (`-m=2`, with escape explanations).
//!
//! Memory: a counting global allocator records the peak of live heap bytes while
//! `parse` runs, over what was live before it (the input text), so the figure is the
//! parser's own memory: its result plus its temporary allocations.
//!
//! Prints a human summary and one tab-separated `RESULT` line per input for scripts:
//! `RESULT name lines bytes runs median_s min_s max_s lines_per_s findings informational
//! unrecognised peak_parse_bytes`.

// The counting allocator needs `unsafe impl GlobalAlloc`; nothing else here is unsafe.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Args {
    runs: usize,
    lines: usize,
    fixtures: Vec<String>,
}

fn args() -> Args {
    let mut out = Args {
        runs: 5,
        lines: 1_000_000,
        fixtures: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => out.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(5).max(1),
            "--lines" => {
                out.lines = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1_000_000)
                    .max(1)
            }
            "-h" | "--help" => {
                eprintln!("usage: parse_throughput [--runs N] [--lines N] [FIXTURE...]");
                std::process::exit(0);
            }
            _ => out.fixtures.push(a),
        }
    }
    if out.fixtures.is_empty() {
        out.fixtures = vec![
            "m1-trimpath-local.txt".to_string(),
            "m2-trimpath-local.txt".to_string(),
        ];
    }
    out
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn main() {
    let args = args();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/go-output");
    for name in &args.fixtures {
        let path = if name.contains('/') {
            PathBuf::from(name)
        } else {
            dir.join(name)
        };
        let fixture = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("parse_throughput: reading {}: {err}", path.display());
                std::process::exit(2);
            }
        };
        let fixture_lines = fixture.lines().count().max(1);
        let copies = args.lines.div_ceil(fixture_lines);
        let mut input = String::with_capacity(fixture.len() * copies + copies);
        for _ in 0..copies {
            input.push_str(&fixture);
            if !fixture.ends_with('\n') {
                input.push('\n');
            }
        }
        let lines = input.lines().count();

        let mut times = Vec::with_capacity(args.runs);
        let mut peak_parse = 0usize;
        let mut counts = (0usize, 0usize, 0usize);
        for _ in 0..args.runs {
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let start = Instant::now();
            let parsed = escape_gate::parse::parse(&input);
            let elapsed = start.elapsed().as_secs_f64();
            peak_parse = peak_parse.max(PEAK.load(Ordering::Relaxed).saturating_sub(before));
            counts = (
                parsed.findings.len(),
                parsed.informational,
                parsed.unrecognised.len(),
            );
            drop(parsed);
            times.push(elapsed);
        }
        times.sort_by(f64::total_cmp);
        let n = times.len();
        let median = if n % 2 == 1 {
            times[n / 2]
        } else {
            (times[n / 2 - 1] + times[n / 2]) / 2.0
        };
        let rate = lines as f64 / median;
        let (findings, informational, unrecognised) = counts;
        println!(
            "{name} x{copies}: {lines} lines, {:.1} MB; {findings} heap findings, {informational} informational, {unrecognised} unrecognised",
            mb(input.len())
        );
        println!(
            "  parse: median {median:.3} s (min {:.3}, max {:.3}, {n} runs) = {:.2} M lines/s, {:.0} MB/s",
            times[0],
            times[n - 1],
            rate / 1e6,
            mb(input.len()) / median
        );
        println!(
            "  peak heap while parsing, over the input: {:.1} MB ({:.2} x the input, {:.0} bytes per heap finding)",
            mb(peak_parse),
            peak_parse as f64 / input.len() as f64,
            peak_parse as f64 / findings.max(1) as f64
        );
        println!(
            "RESULT\t{name}\t{lines}\t{}\t{n}\t{median:.4}\t{:.4}\t{:.4}\t{rate:.0}\t{findings}\t{informational}\t{unrecognised}\t{peak_parse}",
            input.len(),
            times[0],
            times[n - 1]
        );
    }
    if let Some(kb) = peak_rss_kb() {
        println!(
            "process peak RSS (inputs included): {:.1} MB",
            kb as f64 / 1e3
        );
    }
}
